/**
 * The SSRF guard: keeps HTTP requests away from loopback, private, link-local, unique-local and other
 * non-public addresses unless allowed. The check runs where the socket is opened: the host name is
 * resolved first, **every** answer is checked, the socket is then opened to that checked address (so a
 * second DNS answer cannot swap it), and the address the socket actually connected to is checked again.
 * IPv4-mapped, IPv4-compatible, NAT64 and 6to4 IPv6 forms are judged by the IPv4 address they carry.
 *
 * @module SsrfGuard
 */
import { lookup } from "node:dns/promises"
import { BlockList, isIP } from "node:net"
import { buildConnector } from "undici"

/** Why an address is not public. */
export type AddressClass =
  | "public"
  | "unspecified"
  | "loopback"
  | "private"
  | "shared"
  | "link-local"
  | "unique-local"
  | "multicast"
  | "reserved"
  | "documentation"

const ipv4Bytes = (address: string): ReadonlyArray<number> => address.split(".").map(Number)

const classifyIpv4 = (address: string): AddressClass => {
  const [a = 0, b = 0, c = 0] = ipv4Bytes(address)
  if (a === 0) return "unspecified"
  if (a === 127) return "loopback"
  if (a === 10 || (a === 172 && b >= 16 && b <= 31) || (a === 192 && b === 168)) return "private"
  if (a === 100 && b >= 64 && b <= 127) return "shared" // carrier-grade NAT, RFC 6598
  if (a === 169 && b === 254) return "link-local" // includes cloud metadata 169.254.169.254
  if (a === 192 && b === 0 && c === 0) return "reserved" // IETF protocol assignments
  if ((a === 192 && b === 0 && c === 2) || (a === 198 && b === 51 && c === 100) || (a === 203 && b === 0 && c === 113))
    return "documentation"
  if (a === 198 && (b === 18 || b === 19)) return "reserved" // benchmarking
  if (a >= 224 && a <= 239) return "multicast"
  if (a >= 240) return "reserved"
  return "public"
}

/** The eight 16-bit groups of an IPv6 address (zone index dropped, embedded IPv4 expanded). */
const ipv6Groups = (address: string): ReadonlyArray<number> => {
  let text = address.split("%")[0]!.toLowerCase()
  const v4 = /(\d+\.\d+\.\d+\.\d+)$/.exec(text)
  if (v4) {
    const [a = 0, b = 0, c = 0, d = 0] = ipv4Bytes(v4[1]!)
    text = `${text.slice(0, v4.index)}${((a << 8) | b).toString(16)}:${((c << 8) | d).toString(16)}`
  }
  const [head, tail] = text.split("::") as [string, string | undefined]
  const parse = (part: string) => (part === "" ? [] : part.split(":").map((g) => Number.parseInt(g, 16)))
  const left = parse(head)
  if (tail === undefined) return left
  const right = parse(tail)
  return [...left, ...Array<number>(8 - left.length - right.length).fill(0), ...right]
}

const groupsToIpv4 = (high: number, low: number) => `${high >> 8}.${high & 0xff}.${low >> 8}.${low & 0xff}`

const classifyIpv6 = (address: string): AddressClass => {
  const g = ipv6Groups(address)
  const at = (i: number) => g[i] ?? 0
  const zeroUntil = (n: number) => g.slice(0, n).every((x) => x === 0)
  if (zeroUntil(8)) return "unspecified"
  if (zeroUntil(7) && at(7) === 1) return "loopback"
  if (zeroUntil(5) && at(5) === 0xffff) return classifyIpv4(groupsToIpv4(at(6), at(7))) // ::ffff:a.b.c.d
  if (zeroUntil(6)) return classifyIpv4(groupsToIpv4(at(6), at(7))) // ::a.b.c.d (deprecated IPv4-compatible)
  if (at(0) === 0x64 && at(1) === 0xff9b && at(2) === 0 && at(3) === 0 && at(4) === 0 && at(5) === 0)
    return classifyIpv4(groupsToIpv4(at(6), at(7))) // NAT64 64:ff9b::/96
  if (at(0) === 0x2002) return classifyIpv4(groupsToIpv4(at(1), at(2))) // 6to4
  if ((at(0) & 0xfe00) === 0xfc00) return "unique-local"
  if ((at(0) & 0xffc0) === 0xfe80) return "link-local"
  if ((at(0) & 0xff00) === 0xff00) return "multicast"
  if (at(0) === 0x2001 && at(1) === 0x0db8) return "documentation"
  if (at(0) === 0x0100 && zeroUntil(4)) return "reserved" // discard-only 100::/64
  return "public"
}

/**
 * Classifies an IP address literal (IPv4 or IPv6); anything that is not an IP address is `reserved`.
 *
 * @example
 * ```ts
 * import { classifyAddress } from "@jsonflow/connectors/http"
 * classifyAddress("169.254.169.254") // "link-local"
 * classifyAddress("::ffff:127.0.0.1") // "loopback"
 * classifyAddress("93.184.215.14") // "public"
 * ```
 */
export const classifyAddress = (address: string): AddressClass => {
  const family = isIP(address.split("%")[0]!)
  return family === 4 ? classifyIpv4(address) : family === 6 ? classifyIpv6(address) : "reserved"
}

/** Guard settings: the guard is off unless `enabled`; `allow` lists host names and CIDR ranges let through. */
export interface SsrfOptions {
  readonly enabled: boolean
  /** Exact host names (case-insensitive) or CIDR ranges such as `10.1.0.0/16`, `127.0.0.1/32`, `::1/128`. */
  readonly allow?: ReadonlyArray<string>
}

/** A connection refused by the guard, before any byte was sent. */
export class SsrfBlocked extends Error {
  readonly host: string
  readonly address: string
  readonly addressClass: AddressClass
  constructor(host: string, address: string, addressClass: AddressClass) {
    super(`refusing to connect to ${host} (${address}): ${addressClass} address`)
    this.name = "SsrfBlocked"
    this.host = host
    this.address = address
    this.addressClass = addressClass
  }
}

/** A compiled guard: `check` resolves a host and returns the address to connect to, or fails with {@link SsrfBlocked}. */
export interface Guard {
  readonly check: (host: string) => Promise<{ readonly address: string; readonly family: 4 | 6 }>
  readonly isAllowedAddress: (address: string) => boolean
}

/**
 * Builds a guard from its options.
 *
 * @example
 * ```ts
 * import { makeGuard } from "@jsonflow/connectors/http"
 * const guard = makeGuard({ enabled: true, allow: ["10.20.0.0/16"] })
 * await guard.check("10.20.1.2") // allowed by the CIDR
 * ```
 */
export const makeGuard = (options: SsrfOptions): Guard => {
  const hosts = new Set<string>()
  const ranges = new BlockList()
  for (const entry of options.allow ?? []) {
    const slash = entry.indexOf("/")
    if (slash < 0) {
      hosts.add(entry.toLowerCase())
      continue
    }
    const network = entry.slice(0, slash)
    const family = isIP(network)
    const prefix = Number(entry.slice(slash + 1))
    if (family === 0 || !Number.isInteger(prefix)) throw new Error(`SSRF allow list: "${entry}" is not a CIDR range`)
    ranges.addSubnet(network, prefix, family === 4 ? "ipv4" : "ipv6")
  }
  const isAllowedAddress = (address: string): boolean => {
    const plain = address.split("%")[0]!
    const family = isIP(plain)
    if (family === 0) return false
    if (ranges.check(plain, family === 4 ? "ipv4" : "ipv6")) return true
    return classifyAddress(plain) === "public"
  }
  const check = async (host: string) => {
    const plainHost = host.replace(/^\[|\]$/g, "")
    const literal = isIP(plainHost)
    if (literal !== 0) {
      if (!isAllowedAddress(plainHost) && !hosts.has(plainHost.toLowerCase())) {
        throw new SsrfBlocked(host, plainHost, classifyAddress(plainHost))
      }
      return { address: plainHost, family: literal as 4 | 6 }
    }
    const answers = await lookup(plainHost, { all: true, verbatim: true })
    const trusted = hosts.has(plainHost.toLowerCase())
    for (const answer of answers) {
      if (!trusted && !isAllowedAddress(answer.address)) {
        throw new SsrfBlocked(host, answer.address, classifyAddress(answer.address))
      }
    }
    const first = answers[0]
    if (first === undefined) throw Object.assign(new Error(`no address for ${host}`), { code: "ENOTFOUND" })
    return { address: first.address, family: first.family as 4 | 6 }
  }
  return { check, isAllowedAddress }
}

/**
 * An undici connector that asks the guard before opening a socket, connects to the checked address (keeping
 * the host name for TLS SNI and certificate checks), and re-checks the connected peer address.
 */
export const guardedConnector = (
  guard: Guard,
  connectOptions: buildConnector.BuildOptions,
  allowedHosts: ReadonlyArray<string>
): buildConnector.connector => {
  const base = buildConnector(connectOptions)
  const trusted = new Set(allowedHosts.map((h) => h.toLowerCase()))
  return (options, callback) => {
    guard.check(options.hostname).then(
      ({ address }) => {
        const servername = options.servername ?? (isIP(options.hostname) === 0 ? options.hostname : undefined)
        base({ ...options, hostname: address, ...(servername === undefined ? {} : { servername }) }, (...args) => {
          const [error, socket] = args
          if (error !== null) return callback(error, null)
          const remote = socket.remoteAddress
          if (remote !== undefined && !trusted.has(options.hostname.toLowerCase()) && !guard.isAllowedAddress(remote)) {
            socket.destroy()
            return callback(new SsrfBlocked(options.hostname, remote, classifyAddress(remote)), null)
          }
          callback(null, socket)
        })
      },
      (error: Error) => callback(error, null)
    )
  }
}
