/**
 * The client's address. By default it is the socket's peer address: `X-Forwarded-For` can be written by
 * anyone and is ignored. Only when the peer is a configured trusted proxy is the header read, right to
 * left, skipping further trusted proxies; the first untrusted hop is the client.
 *
 * @module clientIp
 */
import { BlockList, isIP } from "node:net"

/** Resolves the client address of a request. */
export type ClientIp = (socketAddress: string | undefined, forwardedFor: string | string[] | undefined) => string

const normalize = (address: string) => (address.startsWith("::ffff:") ? address.slice(7) : address)

/**
 * Builds the resolver from a list of trusted proxy addresses or CIDR ranges. Throws on an entry that is
 * neither (config validation reports it at start).
 *
 * @example
 * ```ts
 * const clientIp = make(["10.0.0.0/8"])
 * clientIp("10.1.2.3", "203.0.113.9, 10.0.0.5") // "203.0.113.9"
 * clientIp("198.51.100.4", "1.2.3.4") // "198.51.100.4": the peer is not a trusted proxy
 * ```
 */
export const make = (trusted: ReadonlyArray<string>): ClientIp => {
  if (trusted.length === 0) return (socketAddress) => normalize(socketAddress ?? "unknown")
  const list = new BlockList()
  for (const entry of trusted) {
    const [address = "", bits] = entry.split("/")
    const family = isIP(address)
    if (family === 0) throw new Error(`trusted proxy "${entry}" is not an IP address or CIDR range`)
    const type = family === 4 ? "ipv4" : "ipv6"
    if (bits === undefined) list.addAddress(address, type)
    else list.addSubnet(address, Number(bits), type)
  }
  const isTrusted = (address: string) => {
    const family = isIP(address)
    return family !== 0 && list.check(address, family === 4 ? "ipv4" : "ipv6")
  }
  return (socketAddress, forwardedFor) => {
    const peer = normalize(socketAddress ?? "unknown")
    if (!isTrusted(peer) || forwardedFor === undefined) return peer
    const hops = (Array.isArray(forwardedFor) ? forwardedFor.join(",") : forwardedFor)
      .split(",")
      .map((h) => normalize(h.trim()))
      .filter((h) => h !== "")
    for (let i = hops.length - 1; i >= 0; i--) {
      const hop = hops[i]!
      if (isIP(hop) === 0) return peer // garbage in the header: do not trust any of it
      if (!isTrusted(hop)) return hop
    }
    return hops[0] ?? peer
  }
}
