/**
 * The legacy side: a SOAP customer service (`customers.wsdl`) served by the `soap` package on a loopback
 * port, standing in for the CRM a company cannot change. It answers SOAP faults for bad ids, unknown
 * customers, and while in maintenance.
 *
 * @module crm-service
 */
import { readFileSync } from "node:fs"
import { createServer } from "node:http"
import type { AddressInfo } from "node:net"
import { fileURLToPath } from "node:url"
import * as soap from "soap"

/** The running CRM. */
export interface Crm {
  /** The SOAP endpoint; its WSDL is `${endpoint}?wsdl`. */
  readonly endpoint: string
  /** GetCustomer calls received so far. */
  readonly calls: () => number
  /** While on, every call answers a `soap:Server` fault. */
  readonly setMaintenance: (on: boolean) => void
  readonly close: () => Promise<void>
}

const customers: Readonly<Record<string, Record<string, unknown>>> = {
  "C-1": { fullName: "Ada Lovelace", email: "ada@example.com", tier: "GOLD", balance: 1250.5 },
  "C-2": { fullName: "Grace Hopper", email: "grace@example.com", tier: "SILVER", balance: 0 }
}

// soap.listen turns a thrown { Fault } into a fault envelope; SOAP 1.1 sends faults with HTTP 500.
const fault = (faultcode: string, faultstring: string, code: string) => ({
  Fault: { faultcode, faultstring, detail: { CustomerFault: { code } }, statusCode: 500 }
})

/**
 * Starts the CRM on a free loopback port.
 *
 * @example
 * ```ts
 * const crm = await startCrm()
 * console.log(`${crm.endpoint}?wsdl`)
 * await crm.close()
 * ```
 */
export const startCrm = (): Promise<Crm> => {
  let calls = 0
  let maintenance = false
  const services = {
    CustomerService: {
      CustomerPort: {
        GetCustomer: (args: { readonly customerId: string }) => {
          calls++
          if (maintenance) throw fault("soap:Server", "CRM database unavailable", "MAINTENANCE")
          const id = args.customerId
          if (!/^C-\d+$/.test(id))
            throw fault("soap:Client", `customerId must look like C-123, got "${id}"`, "INVALID_ID")
          const customer = customers[id]
          if (customer === undefined) throw fault("soap:Client", `no customer ${id}`, "NOT_FOUND")
          return { customer: { customerId: id, ...customer } }
        }
      }
    }
  }
  const server = createServer((_req, res) => {
    res.writeHead(404)
    res.end()
  })
  const xml = readFileSync(fileURLToPath(new URL("./customers.wsdl", import.meta.url)), "utf8")
  return new Promise((resolve) => {
    soap.listen(server, {
      path: "/crm",
      services,
      xml,
      callback: () =>
        server.listen(0, "127.0.0.1", () => {
          resolve({
            endpoint: `http://127.0.0.1:${(server.address() as AddressInfo).port}/crm`,
            calls: () => calls,
            setMaintenance: (on) => {
              maintenance = on
            },
            close: () =>
              new Promise<void>((done) => {
                server.close(() => done())
                server.closeAllConnections()
              })
          })
        })
    })
  })
}
