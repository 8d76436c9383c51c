/**
 * Cluster topology as plain data: parsing `CLUSTER SHARDS` and `CLUSTER
 * SLOTS` replies into a `View`, comparing views, choosing between the views
 * several nodes report, and turning a view into a slot → shard table. Also
 * the parser of `CLUSTER NODES` text, for what only that reply shows (the
 * slots a node is migrating or importing).
 *
 * The types here are public: `Cluster.nodes`, `primaries`, `nodeFor` and a
 * `ReadFrom` function see `NodeInfo` and `Shard`.
 *
 * Every function is pure: a reply in, data out. Nothing here sends a
 * command, keeps state or knows when to refresh; that is `ClusterTopology`'s
 * job. Malformed replies throw `Command.UnexpectedReply`, like any decoder.
 *
 * @since 0.1.0
 */
import * as Address from "../Address.ts"
import { Reply, UnexpectedReply } from "../Command.ts"
import type { RespValue } from "../Resp.ts"
import { SLOTS } from "./ClusterSlot.ts"

// -----------------------------------------------------------------------------
// model
// -----------------------------------------------------------------------------

/**
 * One node as a topology reply describes it.
 *
 * `health` is what the answering node believes: `failed` (the cluster agreed
 * the node is down), `loading` (a replica that has not synced yet; not
 * eligible for reads now, maybe soon), `online` otherwise. `CLUSTER SLOTS`
 * does not report health and lists only non-failed nodes, so its nodes are
 * all `online`.
 *
 * @category models
 * @since 0.1.0
 */
export interface NodeInfo {
  readonly id: string
  readonly host: string
  readonly port: number
  readonly role: "primary" | "replica"
  readonly health: "online" | "failed" | "loading"
}

/**
 * A primary, its replicas and the slot ranges they serve. `ranges` are
 * inclusive `[start, end]` pairs, sorted and with adjacent ranges merged, so
 * that the same ownership always reads the same.
 *
 * @category models
 * @since 0.1.0
 */
export interface Shard {
  readonly ranges: ReadonlyArray<readonly [number, number]>
  readonly primary: NodeInfo
  readonly replicas: ReadonlyArray<NodeInfo>
}

/**
 * The cluster as one node sees it: the shards that serve slots, sorted by
 * their first slot. Shards without a primary or without slots are left out:
 * nothing can be routed to them, and `CLUSTER SLOTS` never lists them, so
 * leaving them out keeps views from both commands comparable.
 *
 * @category models
 * @since 0.1.0
 */
export interface View {
  readonly shards: ReadonlyArray<Shard>
}

/**
 * `owner[slot]` is the index in `shards` of the shard serving `slot`, or -1
 * when no shard serves it.
 *
 * @category models
 * @since 0.1.0
 */
export interface SlotTable {
  readonly owner: Int16Array
  readonly shards: ReadonlyArray<Shard>
}

// -----------------------------------------------------------------------------
// helpers
// -----------------------------------------------------------------------------

const fail = (message: string): never => {
  throw new UnexpectedReply(message)
}

const slotNumber = (value: RespValue, what: string): number => {
  const n = Reply.integer(value)
  if (!Number.isInteger(n) || n < 0 || n >= SLOTS) fail(`${what}: slot ${n} out of range`)
  return n
}

const portNumber = (value: RespValue, what: string): number => {
  const n = Reply.integer(value)
  if (!Number.isInteger(n) || n <= 0 || n > 65535) fail(`${what}: port ${n} out of range`)
  return n
}

/**
 * A host the client can dial, or `undefined` for the values that mean "not
 * known": null, empty (a node that has not learnt its own address yet, e.g.
 * alone in its cluster) and `?` (`cluster-preferred-endpoint-type
 * unknown-endpoint`: use the address you reached the cluster on).
 */
const knownHost = (value: RespValue | undefined): string | undefined => {
  if (value === undefined || value === null) return undefined
  const host = Reply.string(value)
  return host === "" || host === "?" ? undefined : host
}

/** Sorts ranges by start and merges the overlapping and adjacent ones. */
const normalizeRanges = (
  ranges: Array<readonly [number, number]>
): ReadonlyArray<readonly [number, number]> => {
  if (ranges.length < 2) return ranges
  ranges.sort((a, b) => a[0] - b[0] || a[1] - b[1])
  const out: Array<readonly [number, number]> = [ranges[0]]
  for (let i = 1; i < ranges.length; i++) {
    const last = out[out.length - 1]
    const next = ranges[i]
    if (next[0] <= last[1] + 1) {
      if (next[1] > last[1]) out[out.length - 1] = [last[0], next[1]]
    } else {
      out.push(next)
    }
  }
  return out
}

const byFirstSlot = (a: Shard, b: Shard): number => firstSlot(a) - firstSlot(b)

const firstSlot = (shard: Shard): number => shard.ranges.length === 0 ? -1 : shard.ranges[0][0]

// -----------------------------------------------------------------------------
// CLUSTER SHARDS
// -----------------------------------------------------------------------------

const parseRole = (value: RespValue): NodeInfo["role"] => {
  const role = Reply.string(value)
  switch (role) {
    case "master":
    case "primary":
      return "primary"
    case "replica":
    case "slave":
      return "replica"
    default:
      return fail(`CLUSTER SHARDS: unknown role ${JSON.stringify(role)}`)
  }
}

const parseHealth = (value: RespValue): NodeInfo["health"] => {
  switch (Reply.string(value)) {
    case "online":
      return "online"
    case "loading":
      return "loading"
    // The documentation says "failed"; Redis 7.0 sends "fail".
    case "failed":
    case "fail":
      return "failed"
    // A state this client does not know: do not send traffic there.
    default:
      return "failed"
  }
}

const parseShardNode = (value: RespValue, origin: { readonly host: string }): NodeInfo => {
  const flat = Reply.flatPairs(value)
  if (flat.length % 2 !== 0) fail("CLUSTER SHARDS: a node has an odd number of fields")
  let id: string | undefined
  let port: number | undefined
  let tlsPort: number | undefined
  let ip: RespValue | undefined
  let endpoint: RespValue | undefined
  let role: NodeInfo["role"] | undefined
  let health: NodeInfo["health"] = "online"
  for (let i = 0; i < flat.length; i += 2) {
    const field = Reply.string(flat[i])
    const v = flat[i + 1]
    switch (field) {
      case "id":
        id = Reply.string(v)
        break
      case "port":
        port = portNumber(v, "CLUSTER SHARDS")
        break
      case "tls-port":
        tlsPort = portNumber(v, "CLUSTER SHARDS")
        break
      case "ip":
        ip = v
        break
      case "endpoint":
        endpoint = v
        break
      case "role":
        role = parseRole(v)
        break
      case "health":
        health = parseHealth(v)
        break
      // hostname (already the endpoint when preferred), replication-offset,
      // and whatever later versions add.
    }
  }
  if (id === undefined) return fail("CLUSTER SHARDS: a node has no id")
  if (role === undefined) return fail(`CLUSTER SHARDS: node ${id} has no role`)
  // `port` is absent when the node listens on TLS only.
  const p = port ?? tlsPort
  if (p === undefined) return fail(`CLUSTER SHARDS: node ${id} has no port`)
  // `?` as endpoint is an explicit "dial what you dialled"; an empty one
  // only means unknown, so the ip is tried before falling back to the origin.
  const endpointHost = knownHost(endpoint)
  const isUnknownEndpoint = endpoint !== undefined && endpoint !== null && Reply.string(endpoint) === "?"
  const host = endpointHost ?? (isUnknownEndpoint ? undefined : knownHost(ip)) ?? origin.host
  return { id, host, port: p, role, health }
}

/**
 * Parses a Redis 7 `CLUSTER SHARDS` reply, RESP3 (maps) or RESP2 (flat
 * arrays).
 *
 * **Details**
 *
 * - A node's host is its `endpoint`; an empty endpoint falls back to its
 *   `ip`; `?`, or nothing usable, means `origin.host` (the node that was
 *   asked), with the node's own port.
 * - `port` is used, or `tls-port` when the node listens on TLS only.
 * - Shards without a primary or without slots are left out (see `View`).
 *   When a shard lists two primaries (a failover in flight), an online one
 *   is taken; the other is dropped.
 * - Health `fail`/`failed` → `failed`; an unknown health also counts as
 *   `failed`.
 *
 * @category parsing
 * @since 0.1.0
 */
export const parseClusterShards = (reply: RespValue, origin: { host: string; port: number }): View => {
  const items = Reply.items(reply)
  const shards: Array<Shard> = []
  for (const item of items) {
    const flat = Reply.flatPairs(item)
    if (flat.length % 2 !== 0) fail("CLUSTER SHARDS: a shard has an odd number of fields")
    const ranges: Array<readonly [number, number]> = []
    let nodes: ReadonlyArray<RespValue> = []
    for (let i = 0; i < flat.length; i += 2) {
      const field = Reply.string(flat[i])
      if (field === "slots") {
        const bounds = Reply.items(flat[i + 1])
        if (bounds.length % 2 !== 0) fail("CLUSTER SHARDS: slots must come in start/end pairs")
        for (let j = 0; j < bounds.length; j += 2) {
          const start = slotNumber(bounds[j], "CLUSTER SHARDS")
          const end = slotNumber(bounds[j + 1], "CLUSTER SHARDS")
          if (start > end) fail(`CLUSTER SHARDS: slot range ${start}-${end} is reversed`)
          ranges.push([start, end])
        }
      } else if (field === "nodes") {
        nodes = Reply.items(flat[i + 1])
      }
    }
    let primary: NodeInfo | undefined
    const replicas: Array<NodeInfo> = []
    for (const value of nodes) {
      const node = parseShardNode(value, origin)
      if (node.role === "replica") replicas.push(node)
      else if (primary === undefined || (primary.health !== "online" && node.health === "online")) primary = node
    }
    if (primary === undefined || ranges.length === 0) continue
    shards.push({ ranges: normalizeRanges(ranges), primary, replicas })
  }
  shards.sort(byFirstSlot)
  return { shards }
}

// -----------------------------------------------------------------------------
// CLUSTER SLOTS
// -----------------------------------------------------------------------------

const parseSlotsNode = (
  value: RespValue,
  origin: { readonly host: string },
  role: NodeInfo["role"]
): NodeInfo => {
  const fields = Reply.items(value)
  if (fields.length < 2) fail("CLUSTER SLOTS: a node needs at least a host and a port")
  const host = knownHost(fields[0]) ?? origin.host
  const port = portNumber(fields[1], "CLUSTER SLOTS")
  // Servers before 3.2 sent no id.
  const id = fields.length > 2 && fields[2] !== null ? Reply.string(fields[2]) : ""
  return { id, host, port, role, health: "online" }
}

/**
 * Parses a `CLUSTER SLOTS` reply: `[start, end, primary, ...replicas]` per
 * range, a node being `[host, port, id, metadata?]`.
 *
 * **Details**
 *
 * - The ranges of one primary (same id, or same address when there is no
 *   id) are merged into one shard; its replicas are the union of the
 *   replicas listed with each range.
 * - A null, empty or `?` host means `origin.host`, with the node's own port.
 * - Every node is `online`: this command does not list failed replicas.
 *
 * @category parsing
 * @since 0.1.0
 */
export const parseClusterSlots = (reply: RespValue, origin: { host: string; port: number }): View => {
  const items = Reply.items(reply)
  const byPrimary = new Map<string, {
    primary: NodeInfo
    ranges: Array<readonly [number, number]>
    replicas: Map<string, NodeInfo>
  }>()
  for (const item of items) {
    const entry = Reply.items(item)
    if (entry.length < 3) fail("CLUSTER SLOTS: an entry needs a start, an end and a primary")
    const start = slotNumber(entry[0], "CLUSTER SLOTS")
    const end = slotNumber(entry[1], "CLUSTER SLOTS")
    if (start > end) fail(`CLUSTER SLOTS: slot range ${start}-${end} is reversed`)
    const primary = parseSlotsNode(entry[2], origin, "primary")
    const key = primary.id !== "" ? primary.id : address(primary)
    let group = byPrimary.get(key)
    if (group === undefined) {
      group = { primary, ranges: [], replicas: new Map() }
      byPrimary.set(key, group)
    }
    group.ranges.push([start, end])
    for (let i = 3; i < entry.length; i++) {
      const replica = parseSlotsNode(entry[i], origin, "replica")
      const replicaKey = replica.id !== "" ? replica.id : address(replica)
      if (!group.replicas.has(replicaKey)) group.replicas.set(replicaKey, replica)
    }
  }
  const shards: Array<Shard> = []
  for (const group of byPrimary.values()) {
    shards.push({
      ranges: normalizeRanges(group.ranges),
      primary: group.primary,
      replicas: Array.from(group.replicas.values())
    })
  }
  shards.sort(byFirstSlot)
  return { shards }
}

// -----------------------------------------------------------------------------
// comparing and choosing views
// -----------------------------------------------------------------------------

/**
 * `host:port`, with the host in brackets when it is an IPv6 address
 * (`[::1]:6379`): `Address.format`. This is the key under which a node's
 * connection is kept.
 *
 * @category formatting
 * @since 0.1.0
 */
export const address: (node: Address.Address) => string = Address.format

const nodeText = (node: NodeInfo): string => `${node.id}@${address(node)}/${node.health}`

/**
 * A canonical text of a view: equal for two views exactly when they give the
 * same slots to the same primaries (id and address) with the same replicas
 * and health, whatever order the shards and replicas were listed in.
 *
 * **Gotchas**
 *
 * - Replicas and health are part of it, so a replica that joins or fails
 *   changes the signature even though no slot moved: a reader from replicas
 *   must learn about it too.
 *
 * @category comparing
 * @since 0.1.0
 */
export const signature = (view: View): string => {
  const lines = view.shards.map((shard) => {
    const ranges = normalizeRanges(shard.ranges.slice())
    const replicas = shard.replicas.map(nodeText).sort().join(",")
    return {
      first: ranges.length === 0 ? -1 : ranges[0][0],
      text: `${ranges.map(([a, b]) => `${a}-${b}`).join(",")} ${nodeText(shard.primary)} [${replicas}]`
    }
  })
  // By first slot, which reads naturally; the text breaks ties (only
  // hand-built views can have two shards starting on the same slot).
  lines.sort((a, b) => a.first - b.first || (a.text < b.text ? -1 : a.text > b.text ? 1 : 0))
  return lines.map((line) => line.text).join("\n")
}

/**
 * The number of distinct slots the view assigns to some shard.
 *
 * @category comparing
 * @since 0.1.0
 */
export const coverage = (view: View): number => {
  const seen = new Uint8Array(SLOTS)
  let count = 0
  for (const shard of view.shards) {
    for (const [start, end] of shard.ranges) {
      for (let slot = start; slot <= end; slot++) {
        if (seen[slot] === 0) {
          seen[slot] = 1
          count++
        }
      }
    }
  }
  return count
}

/**
 * The view most nodes agree on, for a refresh that asked several nodes.
 *
 * **Details**
 *
 * - Views are grouped by `signature`; the largest group wins.
 * - Equal groups: the one whose view covers more slots wins (a node that
 *   has not caught up with a new assignment covers fewer); still equal, the
 *   group seen first in `views`.
 * - The view returned is the first of the winning group, as it was passed.
 * - `undefined` for an empty list.
 *
 * @category comparing
 * @since 0.1.0
 */
export const consensus = (views: ReadonlyArray<View>): View | undefined => {
  const groups = new Map<string, { view: View; count: number; coverage: number; first: number }>()
  for (let i = 0; i < views.length; i++) {
    const key = signature(views[i])
    const group = groups.get(key)
    if (group === undefined) groups.set(key, { view: views[i], count: 1, coverage: -1, first: i })
    else group.count++
  }
  let best: { view: View; count: number; coverage: number; first: number } | undefined
  for (const group of groups.values()) {
    if (best === undefined || group.count > best.count) {
      best = group
      continue
    }
    if (group.count < best.count) continue
    // A tie on votes: only now is coverage worth computing.
    if (best.coverage < 0) best.coverage = coverage(best.view)
    group.coverage = coverage(group.view)
    if (group.coverage > best.coverage || (group.coverage === best.coverage && group.first < best.first)) {
      best = group
    }
  }
  return best?.view
}

/**
 * The slot → shard table the router reads on every keyed command. A slot
 * that two shards claim (only in a malformed, hand-built view) goes to the
 * later one.
 *
 * @category tables
 * @since 0.1.0
 */
export const slotTable = (view: View): SlotTable => {
  const owner = new Int16Array(SLOTS).fill(-1)
  const shards = view.shards
  for (let i = 0; i < shards.length; i++) {
    for (const [start, end] of shards[i].ranges) owner.fill(i, start, end + 1)
  }
  return { owner, shards }
}

/**
 * Every node of the view: each shard's primary, then its replicas, shard by
 * shard.
 *
 * @category tables
 * @since 0.1.0
 */
export const nodes = (view: View): Array<NodeInfo> => view.shards.flatMap((s) => [s.primary, ...s.replicas])

/**
 * The view with every node's address passed through `f` (NAT, port
 * forwarding: the addresses a cluster announces are not always the ones a
 * client can dial). Nodes whose address `f` keeps are kept as they are.
 *
 * @category tables
 * @since 0.1.0
 */
export const mapAddresses = (view: View, f: (address: Address.Address) => Address.Address): View => {
  const node = (n: NodeInfo): NodeInfo => {
    const m = f(n)
    return m.host === n.host && m.port === n.port ? n : { ...n, host: m.host, port: m.port }
  }
  return { shards: view.shards.map((s) => ({ ...s, primary: node(s.primary), replicas: s.replicas.map(node) })) }
}

// -----------------------------------------------------------------------------
// CLUSTER NODES
// -----------------------------------------------------------------------------

/**
 * One line of `CLUSTER NODES`: one node as the answering node sees it.
 *
 * @category models
 * @since 0.1.0
 */
export interface NodeEntry {
  readonly id: string
  /** "" while the node has not learnt its own address (alone, before any MEET). */
  readonly host: string
  readonly port: number
  readonly busPort: number
  readonly hostname: string | undefined
  /** `myself`, `master`, `slave`, `fail?`, `fail`, `handshake`, `noaddr`, `nofailover`, ... */
  readonly flags: ReadonlyArray<string>
  readonly myself: boolean
  /** `unknown` for a node in handshake, whose role nobody knows yet. */
  readonly role: "primary" | "replica" | "unknown"
  /** The primary's id for a replica. */
  readonly primaryId: string | undefined
  readonly configEpoch: number
  readonly linkState: string
  /** Owned slot ranges, inclusive, in the order the node printed them. */
  readonly slots: ReadonlyArray<readonly [number, number]>
  /** Slots this node migrates away (only a node's own line shows them). */
  readonly migrating: ReadonlyArray<{ readonly slot: number; readonly to: string }>
  /** Slots this node imports (only a node's own line shows them). */
  readonly importing: ReadonlyArray<{ readonly slot: number; readonly from: string }>
}

const badLine = (why: string, line: string): never => {
  throw new UnexpectedReply(`CLUSTER NODES: ${why}: ${JSON.stringify(line.slice(0, 120))}`)
}

const slotText = (text: string, line: string): number => {
  const n = Number(text)
  return Number.isInteger(n) && n >= 0 && n < SLOTS ? n : badLine(`slot ${text} out of range`, line)
}

const OPEN_SLOT = /^\[(\d+)-([<>])-([0-9a-fA-F]+)\]$/

/**
 * Parses a `CLUSTER NODES` reply. Slot ranges are inclusive; the bracketed
 * `[slot->-id]` / `[slot-<-id]` fields go to `migrating` / `importing`.
 *
 * **Details**
 *
 * - The address is `ip:port@cport[,hostname]`; the ip may be IPv6, so the
 *   port is what follows the last colon before the `@`.
 * - Blank lines are skipped; a line with fewer than 8 fields, a bad port or
 *   a slot out of range throws `UnexpectedReply`.
 *
 * @category parsing
 * @since 0.1.0
 */
export const parseClusterNodes = (text: string): Array<NodeEntry> => {
  const out: Array<NodeEntry> = []
  for (const raw of text.split("\n")) {
    const line = raw.trim()
    if (line.length === 0) continue
    const fields = line.split(" ")
    if (fields.length < 8) badLine("fewer than 8 fields", line)
    const [id, addressText, flagText, primary, , , epoch, linkState] = fields as [
      string, string, string, string, string, string, string, string
    ]
    const comma = addressText.indexOf(",")
    const hostPort = comma < 0 ? addressText : addressText.slice(0, comma)
    const at = hostPort.lastIndexOf("@")
    const colon = hostPort.lastIndexOf(":", at < 0 ? undefined : at)
    if (colon < 0) badLine("no port in the address", line)
    let host = hostPort.slice(0, colon)
    if (host.startsWith("[") && host.endsWith("]")) host = host.slice(1, -1)
    const port = Number(hostPort.slice(colon + 1, at < 0 ? undefined : at))
    const busPort = at < 0 ? 0 : Number(hostPort.slice(at + 1))
    if (!Number.isInteger(port) || !Number.isInteger(busPort)) badLine("bad port", line)
    const flags = flagText.split(",")
    const slots: Array<readonly [number, number]> = []
    const migrating: Array<{ slot: number; to: string }> = []
    const importing: Array<{ slot: number; from: string }> = []
    for (let i = 8; i < fields.length; i++) {
      const field = fields[i]
      if (field.startsWith("[")) {
        const open = OPEN_SLOT.exec(field)
        if (open === null) return badLine(`bad open-slot field ${field}`, line)
        const slot = slotText(open[1], line)
        if (open[2] === ">") migrating.push({ slot, to: open[3] })
        else importing.push({ slot, from: open[3] })
        continue
      }
      const dash = field.indexOf("-")
      if (dash < 0) {
        const s = slotText(field, line)
        slots.push([s, s])
      } else {
        const a = slotText(field.slice(0, dash), line)
        const b = slotText(field.slice(dash + 1), line)
        if (b < a) badLine(`bad slot range ${field}`, line)
        slots.push([a, b])
      }
    }
    out.push({
      id,
      host,
      port,
      busPort,
      hostname: comma < 0 || addressText.length === comma + 1 ? undefined : addressText.slice(comma + 1),
      flags,
      myself: flags.includes("myself"),
      role: flags.includes("master") ? "primary" : flags.includes("slave") ? "replica" : "unknown",
      primaryId: primary === "-" ? undefined : primary,
      configEpoch: Number(epoch),
      linkState,
      slots,
      migrating,
      importing
    })
  }
  return out
}
