/**
 * What the sentinels say, as data: the channels a client watches, one
 * published message (`SentinelEvent`), the parsers of `+switch-master` and
 * `+promoted-slave` payloads, which events concern a service, and the
 * reading of `SENTINEL MASTER` / `SENTINEL REPLICAS` records.
 *
 * Everything here is pure: it opens no connection, reads no clock and keeps
 * no state. Who listens, and what a client does with an event, live in
 * `SentinelDiscovery` and `SentinelMaster`.
 *
 * @since 0.1.0
 */
import * as Address from "../Address.ts"
import * as Cmd from "../Command.ts"
import * as RedisConfig from "../RedisConfig.ts"
import type { RespValue } from "../Resp.ts"

/**
 * One message a sentinel published.
 *
 * @category models
 * @since 0.1.0
 */
export interface SentinelEvent {
  /** `+switch-master`, `+sdown`, ... (`reconnect` when a watcher reconnected: events may have been missed). */
  readonly channel: string
  readonly payload: string
  /** The sentinel it came from. */
  readonly sentinel: string
  /** When it was received: epoch milliseconds with sub-millisecond precision (`preciseNow`). */
  readonly receivedAt: number
}

/**
 * A change of primary a sentinel announced.
 *
 * @category models
 * @since 0.1.0
 */
export interface Announcement {
  readonly name: string
  readonly from: RedisConfig.Endpoint
  readonly to: RedisConfig.Endpoint
}

/**
 * The channels watched on every sentinel.
 *
 * @category constants
 * @since 0.1.0
 */
export const EVENT_CHANNELS = [
  "+switch-master",
  "+sdown",
  "-sdown",
  "+odown",
  "-odown",
  "+slave",
  "+sentinel",
  "+slave-reconf-done",
  "+reboot",
  // A stale primary turned into a replica, and a node whose reported role
  // changed: the replica set changed.
  "+convert-to-slave",
  "+role-change",
  // Published when the chosen replica answers as a master, about a second
  // before +switch-master: from then on the old primary's writes are lost.
  "+promoted-slave"
] as const

/**
 * The key of a data node or a sentinel: `host:port` (`Address.format`), the
 * form the node registry and `State.switches` use.
 *
 * @category formatting
 * @since 0.1.0
 */
export const keyOf = (endpoint: RedisConfig.Endpoint): string =>
  endpoint._tag === "Tcp" ? Address.format(endpoint) : endpoint.path

/**
 * The payload of `+switch-master`: `<name> <old-ip> <old-port> <new-ip> <new-port>`.
 *
 * @category parsing
 * @since 0.1.0
 */
export const parseSwitchMaster = (payload: string): Announcement | undefined => {
  const parts = payload.trim().split(/\s+/)
  if (parts.length !== 5) return undefined
  const oldPort = Number(parts[2])
  const newPort = Number(parts[4])
  if (!Number.isInteger(oldPort) || !Number.isInteger(newPort)) return undefined
  return { name: parts[0], from: RedisConfig.tcp(parts[1], oldPort), to: RedisConfig.tcp(parts[3], newPort) }
}

/**
 * The payload of `+promoted-slave`: `slave <ip>:<port> <ip> <port> @ <name> <master-ip> <master-port>`,
 * read as a switch from the master to the promoted replica.
 *
 * @category parsing
 * @since 0.1.0
 */
export const parsePromoted = (payload: string): Announcement | undefined => {
  const parts = payload.trim().split(/\s+/)
  if (parts.length !== 8 || parts[4] !== "@") return undefined
  const port = Number(parts[3])
  const masterPort = Number(parts[7])
  if (!Number.isInteger(port) || !Number.isInteger(masterPort)) return undefined
  return { name: parts[5], from: RedisConfig.tcp(parts[6], masterPort), to: RedisConfig.tcp(parts[2], port) }
}

/**
 * The change of primary an event announces, if it is `+switch-master` or
 * `+promoted-slave` with a well-formed payload.
 *
 * @category parsing
 * @since 0.1.0
 */
export const announcement = (event: { readonly channel: string; readonly payload: string }): Announcement | undefined =>
  event.channel === "+switch-master"
    ? parseSwitchMaster(event.payload)
    : event.channel === "+promoted-slave"
    ? parsePromoted(event.payload)
    : undefined

/**
 * Whether an event concerns the service `name`. Instance events read
 * `<type> <name> <ip> <port> [@ <master> <ip> <port>]`; `+switch-master`
 * starts with the master name.
 *
 * @category parsing
 * @since 0.1.0
 */
export const concerns = (event: { readonly channel: string; readonly payload: string }, name: string): boolean => {
  const parts = event.payload.trim().split(/\s+/)
  if (event.channel === "+switch-master") return parts[0] === name
  const at = parts.indexOf("@")
  if (at >= 0) return parts[at + 1] === name
  return parts[0] === "master" && parts[1] === name
}

/**
 * A record from a RESP2 flat array or a RESP3 map of strings.
 *
 * @category parsing
 * @since 0.1.0
 */
export const toRecord = (reply: RespValue): Record<string, string> => {
  const flat = Cmd.Reply.flatPairs(reply)
  const out: Record<string, string> = {}
  for (let i = 0; i + 1 < flat.length; i += 2) out[Cmd.Reply.string(flat[i])] = String(Cmd.Reply.string(flat[i + 1]))
  return out
}

/**
 * Whether a replica entry of `SENTINEL REPLICAS` may serve reads.
 *
 * @category parsing
 * @since 0.1.0
 */
export const isHealthyReplica = (entry: Record<string, string>): boolean => {
  const flags = (entry.flags ?? "").split(",")
  if (flags.includes("s_down") || flags.includes("o_down") || flags.includes("disconnected")) return false
  // A restarted stale primary is listed as a replica while it still reports
  // itself master: it is not a replica of anything yet.
  return entry["role-reported"] === undefined || entry["role-reported"] === "slave"
}

/**
 * Why a `SENTINEL MASTER` record of the primary at `address` does not count,
 * if it does not: the sentinel sees it down, or sees fewer than `minOther`
 * other sentinels (like redis-py).
 *
 * @category parsing
 * @since 0.1.0
 */
export const masterRejection = (
  entry: Record<string, string>,
  address: string,
  minOther: number
): string | undefined => {
  const flags = (entry.flags ?? "").split(",")
  if (flags.includes("s_down") || flags.includes("o_down")) return `reports ${address} down (${entry.flags})`
  if (Number(entry["num-other-sentinels"] ?? 0) < minOther) {
    return `sees ${entry["num-other-sentinels"]} other sentinels, fewer than ${minOther}`
  }
  return undefined
}

/**
 * The event with the addresses of its announcement (`+switch-master`,
 * `+promoted-slave`) passed through `remap` (the client's `addressRemap`:
 * the addresses sentinels report are not always the ones a client can
 * dial). Other events, and announcements `remap` leaves alone, are returned
 * as they are.
 *
 * @category parsing
 * @since 0.1.0
 */
export const remapAnnouncement = (
  event: SentinelEvent,
  remap: (address: Address.Address) => Address.Address
): SentinelEvent => {
  const parts = event.payload.trim().split(/\s+/)
  // The (ip, port) pairs of each payload: +switch-master <name> <old-ip> <old-port> <new-ip> <new-port>;
  // +promoted-slave slave <ip>:<port> <ip> <port> @ <name> <master-ip> <master-port>.
  const pairs = event.channel === "+switch-master" && parts.length === 5
    ? [1, 3]
    : event.channel === "+promoted-slave" && parts.length === 8 && parts[4] === "@"
    ? [2, 6]
    : undefined
  if (pairs === undefined) return event
  let changed = false
  for (const i of pairs) {
    const port = Number(parts[i + 1])
    if (!Number.isInteger(port)) return event
    const to = remap({ host: parts[i], port })
    if (to.host !== parts[i] || to.port !== port) {
      parts[i] = to.host
      parts[i + 1] = String(to.port)
      changed = true
    }
  }
  if (event.channel === "+promoted-slave") parts[1] = Address.format({ host: parts[2], port: Number(parts[3]) })
  return changed ? { ...event, payload: parts.join(" ") } : event
}
