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
  "+promoted-slave",
  // The failover leader chose the replica it will promote, one sentinel tick
  // (50-100 ms) before it sends it REPLICAOF NO ONE: the master backend
  // holds writes from here (see `failoverStep`).
  "+selected-slave",
  "+failover-state-send-slaveof-noone",
  // A failover that ended without a switch: held writes go back to the primary.
  "-failover-abort-not-elected",
  "-failover-abort-no-good-slave",
  "-failover-abort-slave-timeout"
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
 * A step of a failover in progress, before any switch is announced:
 *
 * - `Selected`: the leader chose `replica` to replace `master` and is about
 *   to promote it (`+selected-slave`, `+failover-state-send-slaveof-noone`).
 * - `Ended`: the failover of `master` was aborted before a switch
 *   (`-failover-abort-*`; `-failover-abort-slave-timeout` may come after the
 *   replica answered REPLICAOF NO ONE, but the sentinels then turn it back).
 *
 * @category models
 * @since 0.1.0
 */
export type FailoverStep =
  | {
    readonly _tag: "Selected"
    readonly name: string
    readonly master: RedisConfig.Endpoint
    readonly replica: RedisConfig.Endpoint
  }
  | { readonly _tag: "Ended"; readonly name: string; readonly master: RedisConfig.Endpoint }

const SELECTED = new Set(["+selected-slave", "+failover-state-send-slaveof-noone"])
const ENDED = new Set([
  "-failover-abort-not-elected",
  "-failover-abort-no-good-slave",
  "-failover-abort-slave-timeout"
])

/**
 * The failover step an event reports, if it is one with a well-formed
 * payload: `slave <ip>:<port> <ip> <port> @ <name> <master-ip> <master-port>`
 * for a selection, `master <name> <ip> <port>` for an end.
 *
 * @category parsing
 * @since 0.1.0
 */
export const failoverStep = (event: { readonly channel: string; readonly payload: string }): FailoverStep | undefined => {
  if (SELECTED.has(event.channel)) {
    const chosen = parsePromoted(event.payload)
    return chosen === undefined ? undefined : { _tag: "Selected", name: chosen.name, master: chosen.from, replica: chosen.to }
  }
  if (!ENDED.has(event.channel)) return undefined
  const parts = event.payload.trim().split(/\s+/)
  const port = Number(parts[3])
  if (parts.length !== 4 || parts[0] !== "master" || !Number.isInteger(port)) return undefined
  return { _tag: "Ended", name: parts[1], master: RedisConfig.tcp(parts[2], port) }
}

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
 * `+promoted-slave`) or failover step (`failoverStep`) passed through `remap` (the client's `addressRemap`:
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
  // +promoted-slave (and the selection events) slave <ip>:<port> <ip> <port> @ <name> <master-ip> <master-port>;
  // the end of a failover master <name> <ip> <port>.
  const instance = event.channel === "+promoted-slave" || SELECTED.has(event.channel)
  const pairs = event.channel === "+switch-master" && parts.length === 5
    ? [1, 3]
    : instance && parts.length === 8 && parts[4] === "@"
    ? [2, 6]
    : ENDED.has(event.channel) && parts.length === 4
    ? [2]
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
  if (instance) parts[1] = Address.format({ host: parts[2], port: Number(parts[3]) })
  return changed ? { ...event, payload: parts.join(" ") } : event
}
