/**
 * A TCP address of a Redis node (`host` and `port`), its one parser and its
 * one text form. Cluster nodes, sentinels, redirect targets and the nodes of
 * `@redis-effect/cluster-admin` all use these; nothing here opens a socket.
 *
 * The text form is `host:port`, with IPv6 hosts in brackets (`[::1]:7000`):
 * the form `CLUSTER NODES`, `MOVED` and `redis-cli` use, so it is also the
 * key under which a client keeps per-node state.
 *
 * @since 0.1.0
 */

/**
 * @category models
 * @since 0.1.0
 */
export interface Address {
  readonly host: string
  readonly port: number
}

/**
 * Parses `"host:port"` (IPv6 as `[::1]:7000`). An object is returned as it
 * is. `defaultPort` is used when the text has no port (sentinels: 26379);
 * without it a missing or invalid port gives `undefined`.
 *
 * @category parsing
 * @since 0.1.0
 */
export const parse = (input: string | Address, defaultPort?: number): Address | undefined => {
  if (typeof input !== "string") return input
  const text = input.trim()
  // "[::1]" without a port: a bracketed IPv6 host.
  if (text.startsWith("[") && text.endsWith("]")) {
    const host = text.slice(1, -1)
    return defaultPort !== undefined && host !== "" ? { host, port: defaultPort } : undefined
  }
  const colon = text.lastIndexOf(":")
  // "::1" without brackets or port: a bare IPv6 host.
  const bareHost = colon < 0 || (text.indexOf(":") !== colon && !text.startsWith("["))
  if (bareHost) return defaultPort !== undefined && text !== "" ? { host: text, port: defaultPort } : undefined
  let host = text.slice(0, colon)
  if (host.startsWith("[") && host.endsWith("]")) host = host.slice(1, -1)
  const port = parsePort(text.slice(colon + 1))
  if (host === "" || port === undefined) return undefined
  return { host, port }
}

/**
 * A TCP port written in decimal digits, 1 to 65535 (`Number` alone would
 * also take "0x1F90", "1e3", "+7000" and " 7000").
 *
 * @category parsing
 * @since 0.1.0
 */
export const parsePort = (text: string): number | undefined => {
  if (!/^\d{1,5}$/.test(text)) return undefined
  const port = Number(text)
  return port > 0 && port < 65536 ? port : undefined
}

/**
 * `host:port`, `[v6]:port` for IPv6 hosts.
 *
 * @category formatting
 * @since 0.1.0
 */
export const format = (address: Address): string =>
  address.host.includes(":") && !address.host.startsWith("[")
    ? `[${address.host}]:${address.port}`
    : `${address.host}:${address.port}`

/**
 * Whether two addresses name the same node.
 *
 * @category predicates
 * @since 0.1.0
 */
export const equals = (a: Address, b: Address): boolean => a.port === b.port && a.host === b.host
