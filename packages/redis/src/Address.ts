/**
 * A TCP address of a Redis node (`host` and `port`), its one parser and its
 * one text form. Cluster nodes, sentinels, redirect targets and the nodes of
 * `@redis-effect/cluster-admin` all use these; nothing here opens a socket.
 *
 * The text form is `host:port`, with IPv6 hosts in brackets (`[::1]:7000`):
 * the form `CLUSTER NODES`, `MOVED` and `redis-cli` use, so it is also the
 * key under which a client keeps per-node state. Also here: the
 * `addressRemap` rewrite (a function or a table) that the cluster and
 * sentinel clients apply to the addresses the servers announce.
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

/**
 * The address rewrite of the `addressRemap` option (NAT, port forwarding, containers):
 * a function, or a table from announced `host:port` to the address to dial.
 *
 * @category options
 * @since 0.1.0
 */
export type Remap =
  | ((address: Address) => Address)
  | Readonly<Record<string, string | Address>>

/**
 * The rewrite as a function (the identity when there is none).
 *
 * @category options
 * @since 0.1.0
 */
export const remapper = (remap: Remap | undefined): (address: Address) => Address => {
  if (remap === undefined) return (a) => a
  if (typeof remap === "function") return remap
  return (a) => {
    const hit = remap[format(a)]
    if (hit === undefined) return a
    return typeof hit === "string" ? parse(hit) ?? a : hit
  }
}

/**
 * What is wrong with an `addressRemap` option, or undefined: a table's keys
 * and string values must be `host:port`, its object values valid addresses.
 *
 * @category options
 * @since 0.1.0
 */
export const remapProblem = (remap: unknown): string | undefined => {
  if (remap === undefined || typeof remap === "function") return undefined
  if (typeof remap !== "object" || remap === null || Array.isArray(remap)) {
    return "addressRemap must be a function or a table from \"host:port\" to an address"
  }
  for (const [from, to] of Object.entries(remap)) {
    if (parse(from) === undefined) return `addressRemap: the key '${from}' is not "host:port"`
    const target = typeof to === "string" ? parse(to) : to as Address | undefined
    const valid = target !== undefined && target !== null && typeof target.host === "string" && target.host !== "" &&
      Number.isInteger(target.port) && target.port > 0 && target.port < 65536
    if (!valid) return `addressRemap: the address for '${from}' is not "host:port" or { host, port }`
  }
  return undefined
}
