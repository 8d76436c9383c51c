/**
 * The pure half of `ClusterAdmin`: parsing `CLUSTER NODES`, slot-range
 * arithmetic, how `create` splits the slots and places replicas, the
 * rebalance plan and the reshard table (both after `redis-cli --cluster`),
 * and the problems `check` finds in the views that several nodes report.
 *
 * Every function is pure: text or plain data in, plain data out. Nothing here
 * sends a command, reads the clock or waits; `ClusterAdmin` does that.
 * Malformed `CLUSTER NODES` text throws `Command.UnexpectedReply`, like any
 * reply decoder, so it surfaces as a `ProtocolError`.
 *
 * @internal
 */
import * as Address from "@redis-effect/redis/Address"
import * as ClusterSlot from "@redis-effect/redis/ClusterSlot"
import * as ClusterView from "@redis-effect/redis/ClusterView"

// CLUSTER NODES parsing and the slot count are the client core's: one
// parser for the client's SCAN and for the admin tool.
export const SLOTS = ClusterSlot.SLOTS
export type NodeEntry = ClusterView.NodeEntry
export const parseClusterNodes = ClusterView.parseClusterNodes

/**
 * `host:port` of a node (IPv6 hosts in brackets).
 *
 * @internal
 */
export const formatAddress = (host: string, port: number): string => Address.format({ host, port })

/**
 * Flags that mean the answering node does not consider the node healthy and
 * settled.
 *
 * @internal
 */
export const failureFlag = (entry: NodeEntry): "fail" | "fail?" | undefined =>
  entry.flags.includes("fail") ? "fail" : entry.flags.includes("fail?") ? "fail?" : undefined

/**
 * Whether the entry is a node whose handshake is still going on or whose
 * address is unknown: not a member yet, as far as the answering node goes.
 *
 * @internal
 */
export const isUnsettled = (entry: NodeEntry): boolean =>
  entry.flags.includes("handshake") || entry.flags.includes("noaddr")

// -----------------------------------------------------------------------------
// slot ranges
// -----------------------------------------------------------------------------

/** @internal */
export const countSlots = (ranges: ReadonlyArray<readonly [number, number]>): number => {
  let n = 0
  for (const [a, b] of ranges) n += b - a + 1
  return n
}

/** Sorted slot numbers of inclusive ranges. @internal */
export const expandRanges = (ranges: ReadonlyArray<readonly [number, number]>): Array<number> => {
  const out: Array<number> = []
  for (const [a, b] of [...ranges].sort((x, y) => x[0] - y[0])) for (let s = a; s <= b; s++) out.push(s)
  return out
}

/** Inclusive ranges of (unsorted, possibly repeated) slot numbers. @internal */
export const toRanges = (slots: Iterable<number>): Array<readonly [number, number]> => {
  const sorted = [...new Set(slots)].sort((a, b) => a - b)
  const out: Array<readonly [number, number]> = []
  for (const s of sorted) {
    const last = out[out.length - 1]
    if (last !== undefined && last[1] === s - 1) out[out.length - 1] = [last[0], s]
    else out.push([s, s])
  }
  return out
}

/** `0-99,200,300-301`; long lists are cut with an ellipsis. @internal */
export const formatRanges = (ranges: ReadonlyArray<readonly [number, number]>, max = 8): string => {
  const parts = ranges.slice(0, max).map(([a, b]) => (a === b ? `${a}` : `${a}-${b}`))
  return ranges.length > max ? `${parts.join(",")},...` : parts.join(",")
}

// -----------------------------------------------------------------------------
// create
// -----------------------------------------------------------------------------

/**
 * The slot ranges of `primaries` new primaries, as `redis-cli --cluster
 * create` splits them: a float step of 16384 / n, rounded, the last range
 * running to 16383 (3 primaries: 0-5460, 5461-10922, 10923-16383).
 *
 * @internal
 */
export const splitSlots = (primaries: number): Array<readonly [number, number]> => {
  const step = SLOTS / primaries
  const out: Array<readonly [number, number]> = []
  let first = 0
  let cursor = 0
  for (let i = 0; i < primaries; i++) {
    let last = Math.round(cursor + step - 1)
    if (last > SLOTS - 1 || i === primaries - 1) last = SLOTS - 1
    if (last < first) last = first
    out.push([first, last])
    first = last + 1
    cursor += step
  }
  return out
}

/**
 * Which primary each replica follows: the primary with the fewest replicas
 * so far, preferring one on another host than the replica (redis-cli's
 * anti-affinity, simplified). With every node on one host this is
 * round-robin in the given order.
 *
 * @internal
 */
export const placeReplicas = (
  primaryHosts: ReadonlyArray<string>,
  replicaHosts: ReadonlyArray<string>
): Array<number> => {
  const counts = primaryHosts.map(() => 0)
  return replicaHosts.map((host) => {
    const fewest = Math.min(...counts)
    const tied = counts.flatMap((c, i) => (c === fewest ? [i] : []))
    const chosen = tied.find((i) => primaryHosts[i] !== host) ?? tied[0]!
    counts[chosen]!++
    return chosen
  })
}

// -----------------------------------------------------------------------------
// rebalance and reshard
// -----------------------------------------------------------------------------

/**
 * A primary taking part in a rebalance: its slot count now and its weight.
 *
 * @internal
 */
export interface BalanceNode {
  readonly id: string
  readonly slots: number
  readonly weight: number
}

/**
 * `count` slots to move from one primary to another.
 *
 * @internal
 */
export interface Transfer {
  readonly from: string
  readonly to: string
  readonly count: number
}

/**
 * The rebalance plan of `redis-cli --cluster rebalance`: each node's target
 * is `floor(16384 / totalWeight * weight)`; its balance is what it holds
 * minus its target. Nothing moves unless some node is off its target by more
 * than `threshold` percent (or holds nothing and should hold more than one
 * slot). The rounding surplus is given to receivers, nodes are sorted by
 * balance, and the most over-full gives to the most under-full until both
 * ends meet.
 *
 * @internal
 */
export const planRebalance = (
  nodes: ReadonlyArray<BalanceNode>,
  threshold: number
): { readonly needed: boolean; readonly expected: ReadonlyMap<string, number>; readonly transfers: Array<Transfer> } => {
  const totalWeight = nodes.reduce((w, n) => w + n.weight, 0)
  const expected = new Map<string, number>()
  if (totalWeight <= 0 || nodes.length === 0) return { needed: false, expected, transfers: [] }
  const perWeight = SLOTS / totalWeight
  let needed = false
  const balance = nodes.map((n) => {
    const target = Math.floor(perWeight * n.weight)
    expected.set(n.id, target)
    if (threshold > 0) {
      if (n.slots > 0) {
        if (Math.abs(100 - (100 * target) / n.slots) > threshold) needed = true
      } else if (target > 1) {
        needed = true
      }
    }
    return { id: n.id, balance: n.slots - target }
  })
  if (!needed) return { needed, expected, transfers: [] }
  // Flooring leaves a positive total: hand the surplus to receivers so that
  // what is given always has somewhere to go.
  let total = balance.reduce((t, b) => t + b.balance, 0)
  while (total > 0) {
    let took = false
    for (const b of balance) {
      if (b.balance <= 0 && total > 0) {
        b.balance--
        total--
        took = true
      }
    }
    if (!took) break
  }
  balance.sort((a, b) => a.balance - b.balance || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0))
  const transfers: Array<Transfer> = []
  let dst = 0
  let src = balance.length - 1
  while (dst < src) {
    const d = balance[dst]!
    const s = balance[src]!
    const count = Math.min(Math.abs(d.balance), Math.abs(s.balance))
    if (count > 0) transfers.push({ from: s.id, to: d.id, count })
    d.balance += count
    s.balance -= count
    if (d.balance === 0) dst++
    if (s.balance === 0) src--
    // Both nonzero cannot happen after a transfer of their minimum, but a
    // zero-count step must still advance.
    if (count === 0 && d.balance !== 0 && s.balance !== 0) break
  }
  return { needed, expected, transfers }
}

/**
 * Which slots `count` slots taken from `sources` are, after redis-cli: each
 * source gives in proportion to what it holds (the largest rounded up, the
 * others down), lowest slot numbers first; what rounding leaves short is
 * topped up from the sources in turn, so exactly `count` slots come back
 * (fewer only when the sources hold fewer).
 *
 * @internal
 */
export const reshardTable = (
  sources: ReadonlyArray<{ readonly id: string; readonly slots: ReadonlyArray<number> }>,
  count: number
): Array<{ readonly slot: number; readonly from: string }> => {
  const ordered = [...sources].sort((a, b) => b.slots.length - a.slots.length)
  const total = ordered.reduce((n, s) => n + s.slots.length, 0)
  if (total === 0 || count <= 0) return []
  const taken = ordered.map(() => 0)
  ordered.forEach((source, i) => {
    const share = (count / total) * source.slots.length
    taken[i] = Math.min(source.slots.length, i === 0 ? Math.ceil(share) : Math.floor(share))
  })
  let sum = taken.reduce((a, b) => a + b, 0)
  // Rounding up the first may overshoot by one; rounding down may fall short.
  for (let i = ordered.length - 1; sum > count && i >= 0; i--) {
    const cut = Math.min(taken[i]!, sum - count)
    taken[i]! -= cut
    sum -= cut
  }
  for (let progress = true; sum < count && progress;) {
    progress = false
    for (let i = 0; i < ordered.length && sum < count; i++) {
      if (taken[i]! < ordered[i]!.slots.length) {
        taken[i]!++
        sum++
        progress = true
      }
    }
  }
  const out: Array<{ slot: number; from: string }> = []
  ordered.forEach((source, i) => {
    const slots = [...source.slots].sort((a, b) => a - b)
    for (let j = 0; j < taken[i]!; j++) out.push({ slot: slots[j]!, from: source.id })
  })
  return out
}

// -----------------------------------------------------------------------------
// check
// -----------------------------------------------------------------------------

/**
 * One thing `check` found wrong. Every problem carries a sentence for people.
 *
 * @internal
 */
export type Problem =
  | { readonly _tag: "Unreachable"; readonly address: string; readonly message: string }
  | { readonly _tag: "UncoveredSlots"; readonly count: number; readonly ranges: ReadonlyArray<readonly [number, number]>; readonly message: string }
  | { readonly _tag: "Disagreement"; readonly address: string; readonly reference: string; readonly message: string }
  | {
    readonly _tag: "OpenSlot"
    readonly address: string
    readonly slot: number
    readonly state: "migrating" | "importing"
    readonly peer: string
    readonly message: string
  }
  | {
    readonly _tag: "FailedNode"
    readonly id: string
    readonly address: string
    readonly flag: "fail" | "fail?"
    readonly reportedBy: string
    readonly message: string
  }
  | { readonly _tag: "ClusterStateNotOk"; readonly address: string; readonly state: string; readonly message: string }

/**
 * What one node said: its `CLUSTER NODES` and its `cluster_state`, or why it
 * could not be asked.
 *
 * @internal
 */
export type NodeView =
  | {
    readonly _tag: "Answered"
    readonly address: string
    readonly nodes: ReadonlyArray<NodeEntry>
    readonly clusterState: string
  }
  | { readonly _tag: "Unreachable"; readonly address: string; readonly message: string }

/**
 * A primary in a check report.
 *
 * @internal
 */
export interface PrimaryReport {
  readonly id: string
  readonly address: string
  readonly slots: number
  readonly ranges: ReadonlyArray<readonly [number, number]>
  readonly replicas: ReadonlyArray<{ readonly id: string; readonly address: string }>
}

/**
 * The result of `check`: the nodes as the seed node sees them, the primaries
 * with their slot counts and replicas, and every problem found.
 *
 * @internal
 */
export interface CheckReport {
  /** The node the check started from. */
  readonly seed: string
  /** The seed node's `CLUSTER NODES`, with each node's own open slots merged in. */
  readonly nodes: ReadonlyArray<NodeEntry>
  readonly primaries: ReadonlyArray<PrimaryReport>
  /** How many slots some primary serves, in the seed node's view. */
  readonly coveredSlots: number
  readonly problems: ReadonlyArray<Problem>
  /** No problems. */
  readonly ok: boolean
}

const ownerTable = (nodes: ReadonlyArray<NodeEntry>): Array<string | undefined> => {
  const owner = new Array<string | undefined>(SLOTS).fill(undefined)
  for (const n of nodes) {
    if (n.role !== "primary") continue
    for (const [a, b] of n.slots) for (let s = a; s <= b; s++) owner[s] = n.id
  }
  return owner
}

const entryAddress = (e: NodeEntry, fallback: string): string => (e.host === "" ? fallback : formatAddress(e.host, e.port))

/**
 * Builds the check report from the seed's view and the views of every node
 * it lists. The seed's view is the reference; every other answering node
 * must agree with it on who owns each slot and on which nodes exist. A slot
 * is covered when a primary claims it in its own view (or, for a primary
 * that did not answer, when the reference names it).
 *
 * @internal
 */
export const buildReport = (seed: string, views: ReadonlyArray<NodeView>): CheckReport => {
  const problems: Array<Problem> = []
  const seedView = views.find((v) => v.address === seed)
  const reference = seedView !== undefined && seedView._tag === "Answered" ? seedView.nodes : []
  const answered = views.filter((v): v is Extract<NodeView, { _tag: "Answered" }> => v._tag === "Answered")

  for (const v of views) {
    if (v._tag === "Unreachable") {
      problems.push({ _tag: "Unreachable", address: v.address, message: `cannot reach ${v.address}: ${v.message}` })
    }
  }

  // Each node's own line is the only one that shows its open slots.
  const own = new Map<string, NodeEntry>()
  for (const v of answered) {
    const self = v.nodes.find((e) => e.myself)
    if (self !== undefined) own.set(self.id, self)
  }
  const nodes = reference.map((e) => {
    const self = own.get(e.id)
    return self === undefined || e.myself ? e : { ...e, migrating: self.migrating, importing: self.importing }
  })
  const addressOf = new Map(nodes.map((e) => [e.id, entryAddress(e, seed)] as const))
  const nameOf = (id: string) => addressOf.get(id) ?? id

  // Coverage as redis-cli counts it: by what each primary claims in its own
  // view (its `myself` line). A slot its owner dropped is uncovered even
  // while the other nodes (the seed among them) still name that owner; a
  // primary that did not answer counts by the reference view.
  const refOwner = ownerTable(reference)
  const claimed = ownerTable([...own.values()])
  const uncovered: Array<number> = []
  for (let s = 0; s < SLOTS; s++) {
    if (claimed[s] !== undefined) continue
    const named = refOwner[s]
    if (named === undefined || own.has(named)) uncovered.push(s)
  }
  if (uncovered.length > 0) {
    const ranges = toRanges(uncovered)
    problems.push({
      _tag: "UncoveredSlots",
      count: uncovered.length,
      ranges,
      message: `${uncovered.length} of ${SLOTS} slots are not covered by any primary (${formatRanges(ranges)})`
    })
  }

  // Agreement with the reference: slot owners and the set of members.
  const refIds = new Set(reference.filter((e) => !isUnsettled(e)).map((e) => e.id))
  for (const v of answered) {
    if (v.address === seed) continue
    const owner = ownerTable(v.nodes)
    const differing: Array<number> = []
    for (let s = 0; s < SLOTS; s++) if (owner[s] !== refOwner[s]) differing.push(s)
    if (differing.length > 0) {
      const s = differing[0]!
      problems.push({
        _tag: "Disagreement",
        address: v.address,
        reference: seed,
        message: `${v.address} and ${seed} disagree about the owner of ${differing.length} slots (${
          formatRanges(toRanges(differing), 4)
        }; slot ${s}: ${nameOf(owner[s] ?? "nobody")} vs ${nameOf(refOwner[s] ?? "nobody")})`
      })
    }
    const ids = new Set(v.nodes.filter((e) => !isUnsettled(e)).map((e) => e.id))
    const missing = [...refIds].filter((id) => !ids.has(id))
    const extra = [...ids].filter((id) => !refIds.has(id))
    if (missing.length > 0 || extra.length > 0) {
      const parts: Array<string> = []
      if (missing.length > 0) parts.push(`does not know ${missing.map(nameOf).join(", ")}`)
      if (extra.length > 0) parts.push(`knows ${extra.join(", ")}, which ${seed} does not`)
      problems.push({
        _tag: "Disagreement",
        address: v.address,
        reference: seed,
        message: `${v.address} ${parts.join(" and ")}`
      })
    }
  }

  // Open slots, from each node's own line.
  for (const self of own.values()) {
    const address = nameOf(self.id)
    for (const m of self.migrating) {
      problems.push({
        _tag: "OpenSlot",
        address,
        slot: m.slot,
        state: "migrating",
        peer: m.to,
        message: `${address} has slot ${m.slot} open: migrating to ${nameOf(m.to)}`
      })
    }
    for (const i of self.importing) {
      problems.push({
        _tag: "OpenSlot",
        address,
        slot: i.slot,
        state: "importing",
        peer: i.from,
        message: `${address} has slot ${i.slot} open: importing from ${nameOf(i.from)}`
      })
    }
  }

  // Failed or suspected nodes, in anyone's view; each node reported once.
  const reported = new Set<string>()
  for (const v of answered) {
    for (const e of v.nodes) {
      const flag = failureFlag(e)
      if (flag === undefined || reported.has(e.id)) continue
      reported.add(e.id)
      const address = entryAddress(e, v.address)
      problems.push({
        _tag: "FailedNode",
        id: e.id,
        address,
        flag,
        reportedBy: v.address,
        message: `${address} (${e.id}) is flagged ${flag === "fail" ? "failed" : "possibly failing (fail?)"} by ${v.address}`
      })
    }
    if (v.clusterState !== "ok") {
      problems.push({
        _tag: "ClusterStateNotOk",
        address: v.address,
        state: v.clusterState,
        message: `${v.address} reports cluster_state:${v.clusterState}`
      })
    }
  }

  const primaries: Array<PrimaryReport> = nodes
    .filter((e) => e.role === "primary")
    .map((p) => ({
      id: p.id,
      address: nameOf(p.id),
      slots: countSlots(p.slots),
      ranges: toRanges(expandRanges(p.slots)),
      replicas: nodes
        .filter((r) => r.role === "replica" && r.primaryId === p.id)
        .map((r) => ({ id: r.id, address: nameOf(r.id) }))
    }))
  return {
    seed,
    nodes,
    primaries,
    coveredSlots: SLOTS - uncovered.length,
    problems,
    ok: problems.length === 0
  }
}
