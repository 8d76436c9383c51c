/**
 * The topology events of a cluster client (`redis.events`): what changed
 * between two successive topology snapshots, as `TopologyEvent`s, plus one
 * `RefreshDone` per refresh and each node's connection events.
 *
 * `diff` is pure: two views in, events out. `stream` only joins the
 * topology's `refreshes` and the node registry's `events`; nothing here
 * refreshes, opens a connection or keeps state.
 *
 * @since 0.1.0
 */
import * as Stream from "effect/Stream"
import * as Address from "../Address.ts"
import type * as NodeRegistry from "../NodeRegistry.ts"
import * as TopologyEvent from "../TopologyEvent.ts"
import { SLOTS } from "./ClusterSlot.ts"
import type * as ClusterTopology from "./ClusterTopology.ts"
import * as View from "./ClusterView.ts"

const nodesByAddress = (view: View.View): Map<string, View.NodeInfo> => {
  const out = new Map<string, View.NodeInfo>()
  for (const node of View.nodes(view)) out.set(Address.format(node), node)
  return out
}

/** The primary's address of every slot (`undefined` where no shard serves it). */
const ownerAddresses = (view: View.View): Array<string | undefined> => {
  const owners = new Array<string | undefined>(SLOTS).fill(undefined)
  for (const shard of view.shards) {
    const primary = Address.format(shard.primary)
    for (const [start, end] of shard.ranges) owners.fill(primary, start, end + 1)
  }
  return owners
}

/**
 * The events that lead from `before` to `after`, in this order:
 *
 * - `NodeAdded` for each node of `after` that `before` did not have;
 * - `FailoverObserved` for each shard whose primary is now a node that was a
 *   replica of another primary in `before` (a failover, manual or not);
 * - `SlotsMoved` for each (from, to) pair of primaries, with the slot ranges
 *   that went from one to the other, in slot order; `from` is `undefined`
 *   for slots nobody served, `to` for slots nobody serves now. Slots that
 *   changed owner only because of an observed failover are not reported
 *   again as moved: the shard is the same;
 * - `NodeRemoved` for each node of `before` that `after` does not have.
 *
 * Nodes are compared by address (`host:port`), the key the client keeps
 * their connections under.
 *
 * @category diff
 * @since 0.1.0
 */
export const diff = (before: View.View, after: View.View): Array<TopologyEvent.TopologyEvent> => {
  const events: Array<TopologyEvent.TopologyEvent> = []
  const old = nodesByAddress(before)
  const now = nodesByAddress(after)
  for (const [node, info] of now) {
    if (!old.has(node)) events.push({ _tag: "NodeAdded", node, role: info.role })
  }

  const primaryOfReplica = new Map<string, string>()
  for (const shard of before.shards) {
    const primary = Address.format(shard.primary)
    for (const replica of shard.replicas) primaryOfReplica.set(Address.format(replica), primary)
  }
  const failovers = new Set<string>()
  for (const shard of after.shards) {
    const to = Address.format(shard.primary)
    const from = primaryOfReplica.get(to)
    if (from !== undefined && from !== to) {
      events.push({ _tag: "FailoverObserved", from, to })
      failovers.add(`${from} ${to}`)
    }
  }

  const was = ownerAddresses(before)
  const is = ownerAddresses(after)
  const moves = new Map<string, { from: string | undefined; to: string | undefined; ranges: Array<TopologyEvent.SlotRange> }>()
  for (let slot = 0; slot < SLOTS; slot++) {
    const from = was[slot]
    const to = is[slot]
    if (from === to) continue
    const key = `${from ?? ""} ${to ?? ""}`
    if (failovers.has(key)) continue
    let move = moves.get(key)
    if (move === undefined) moves.set(key, move = { from, to, ranges: [] })
    const last = move.ranges[move.ranges.length - 1]
    if (last !== undefined && last[1] === slot - 1) move.ranges[move.ranges.length - 1] = [last[0], slot]
    else move.ranges.push([slot, slot])
  }
  for (const { from, ranges, to } of moves.values()) events.push({ _tag: "SlotsMoved", ranges, from, to })

  for (const node of old.keys()) {
    if (!now.has(node)) events.push({ _tag: "NodeRemoved", node })
  }
  return events
}

/**
 * The events of one finished refresh: the diff of its snapshots when the view
 * changed, then `RefreshDone`.
 *
 * @category diff
 * @since 0.1.0
 */
export const ofRefresh = (refresh: ClusterTopology.Refresh): Array<TopologyEvent.TopologyEvent> => {
  const done: TopologyEvent.TopologyEvent = { _tag: "RefreshDone", trigger: refresh.trigger, changed: refresh.changed }
  if (!refresh.changed) return [done]
  const events = diff(refresh.before.view, refresh.after.view)
  events.push(done)
  return events
}

/**
 * The `events` stream of a cluster client: each refresh's events merged with
 * the connection events of every node. Nothing is computed while nobody
 * subscribes.
 *
 * @category constructors
 * @since 0.1.0
 */
export const stream = (
  topology: ClusterTopology.Topology,
  registry: NodeRegistry.NodeRegistry
): Stream.Stream<TopologyEvent.TopologyEvent> =>
  Stream.merge(
    Stream.map(registry.events, TopologyEvent.connection),
    Stream.flattenIterable(Stream.map(topology.refreshes, ofRefresh))
  )
