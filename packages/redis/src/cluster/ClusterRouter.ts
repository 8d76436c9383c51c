/**
 * Where a command goes in a cluster: from its keys to a slot (CRC16 with
 * hash tags), from the slot to its shard, and from the shard to one node by
 * the read-from policy (writes always go to the primary).
 *
 * Pure functions over a topology snapshot; the only state is a round-robin
 * counter, the read-from policy, the default node and measured round trips.
 * The default node (where keyless commands go, redis-py's `default_node`)
 * is checked against each new snapshot: one the client chose (`chooseDefaultNode`)
 * is chosen again when it stops being a healthy primary, one the user set
 * when it leaves the cluster.
 * Redirects and retries are handled by `ClusterExecutor`, which calls this
 * again with the patched or refreshed topology. Also here: the two errors a
 * route can end in (no node serves the slot, keys in different slots).
 *
 * @since 0.1.0
 */
import * as Address from "../Address.ts"
import type { Command } from "../Command.ts"
import { Flags } from "../Command.ts"
import * as RedisError from "../RedisError.ts"
import * as ClusterSlot from "./ClusterSlot.ts"
import type * as ClusterTopology from "./ClusterTopology.ts"
import type { NodeInfo, Shard, View } from "./ClusterView.ts"
import { nodes as nodesOf } from "./ClusterView.ts"

/**
 * Where reads go. Writes always go to the shard's primary.
 *
 * - `primary` (default): every read on the primary.
 * - `primaryPreferred`: the primary unless it is marked failed, then a replica.
 * - `replica`: a replica (round robin); the primary when the shard has none.
 * - `replicaPreferred`: the same as `replica` (kept for familiarity: redis-py's
 *   `read_from_replicas`, Lettuce's `REPLICA_PREFERRED`).
 * - `roundRobin`: primary and replicas in turn.
 * - `randomReplica`: a replica at random (the primary when there is none).
 * - `lowestLatency`: the node of the shard (primary or replica) with the
 *   lowest measured PING round trip; the cluster measures every few seconds.
 * - a function: your pick among the shard's nodes.
 *
 * @category models
 * @since 0.1.0
 */
export type ReadFrom =
  | "primary"
  | "primaryPreferred"
  | "replica"
  | "replicaPreferred"
  | "roundRobin"
  | "randomReplica"
  | "lowestLatency"
  | ((shard: Shard, slot: number) => NodeInfo)

/**
 * The slot of a command: `-1` when it has no keys, `-2` when its keys hash to
 * different slots.
 *
 * @category routing
 * @since 0.1.0
 */
export const slotOf = (command: Command<unknown>): number => {
  const keys = command.keys
  // Hot path: most commands have one key.
  if (keys.length === 1) return ClusterSlot.keyslot(keys[0])
  return ClusterSlot.slotOfKeys(keys)
}

/**
 * No node serves `slot` (`-1`: no node at all): `ClusterDown`, not sent.
 *
 * @category errors
 * @since 0.1.0
 */
export const uncovered = (slot: number): RedisError.RedisError =>
  RedisError.make(new RedisError.ClusterDown({ message: `no node serves slot ${slot}` }), "NotSent")

/**
 * The keys of `command` hash to different slots: `CrossSlot`, not sent.
 *
 * @category errors
 * @since 0.1.0
 */
export const crossSlot = (command: Command<unknown>): RedisError.RedisError =>
  RedisError.make(
    new RedisError.CrossSlot({ message: `the keys of ${command.name} hash to different slots` }),
    "NotSent",
    command.name
  )

/**
 * Whether the read-from policy may send a read to a replica at all.
 *
 * @category routing
 * @since 0.1.0
 */
export const usesReplicas = (readFrom: ReadFrom): boolean => readFrom !== "primary"

/**
 * Picks nodes. Holds a round-robin counter per router.
 *
 * @category constructors
 * @since 0.1.0
 */
export const make = (initial: ReadFrom) => {
  let readFrom: ReadFrom = initial
  let rr = 0
  // Round trips measured by the cluster, by node address ("host:port").
  let latencies = new Map<string, number>()
  let defaultNode: NodeInfo | undefined
  // Who set the default node: the client replaces its own choice when that
  // node stops being a healthy primary; the user's only when it leaves.
  let chosenByUser = false
  // The snapshot the default node was last checked against: a new one
  // (after a refresh) is checked once, not per command.
  let checkedAgainst: ClusterTopology.Snapshot | undefined

  // Only failed nodes are skipped. Redis 7.0 reports a replica as "loading"
  // until its replication offset moves (a fresh cluster with no writes yet),
  // and a node that really is loading answers LOADING, which is retried.
  const healthy = (nodes: ReadonlyArray<NodeInfo>) => nodes.filter((n) => n.health !== "failed")

  const pickRead = (shard: Shard, slot: number): NodeInfo => {
    const policy = readFrom
    if (typeof policy === "function") return policy(shard, slot)
    switch (policy) {
      case "primary":
        return shard.primary
      case "primaryPreferred": {
        if (shard.primary.health !== "failed") return shard.primary
        const replicas = healthy(shard.replicas)
        return replicas.length === 0 ? shard.primary : replicas[rr++ % replicas.length]
      }
      case "replica":
      case "replicaPreferred": {
        const replicas = healthy(shard.replicas)
        return replicas.length === 0 ? shard.primary : replicas[rr++ % replicas.length]
      }
      case "roundRobin": {
        const all = [shard.primary, ...healthy(shard.replicas)]
        return all[rr++ % all.length]
      }
      case "randomReplica": {
        const replicas = healthy(shard.replicas)
        return replicas.length === 0 ? shard.primary : replicas[Math.floor(Math.random() * replicas.length)]
      }
      case "lowestLatency": {
        let best = shard.primary
        let bestRtt = latencies.get(Address.format(shard.primary)) ?? Infinity
        for (const replica of healthy(shard.replicas)) {
          const rtt = latencies.get(Address.format(replica)) ?? Infinity
          if (rtt < bestRtt) {
            best = replica
            bestRtt = rtt
          }
        }
        return best
      }
    }
  }

  // The default node as of `snapshot`: the same node's entry in the new
  // view, or a new choice when it no longer qualifies.
  const defaultAt = (snapshot: ClusterTopology.Snapshot): NodeInfo | undefined => {
    if (defaultNode === undefined || snapshot === checkedAgainst) return defaultNode
    checkedAgainst = snapshot
    const now = nodesOf(snapshot.view).find((n) => Address.equals(n, defaultNode!))
    const keep = now !== undefined && (chosenByUser || (now.role === "primary" && now.health !== "failed"))
    if (keep) defaultNode = now
    else {
      chosenByUser = false
      defaultNode = randomPrimary(snapshot.view, undefined)
    }
    return defaultNode
  }

  // A replica of the shard serving `slot`: the policy's pick when it is a
  // replica, else the healthy replicas in turn.
  const replicaAt = (snapshot: ClusterTopology.Snapshot, slot: number): NodeInfo | undefined => {
    const index = snapshot.table.owner[slot]
    if (index < 0) return undefined
    const shard = snapshot.table.shards[index]
    if (readFrom !== "primary") {
      const picked = pickRead(shard, slot)
      if (picked.role === "replica" && picked.health !== "failed") return picked
    }
    const replicas = healthy(shard.replicas)
    return replicas.length === 0 ? undefined : replicas[rr++ % replicas.length]
  }

  return {
    /** The node for `command` on `slot` (a slot of -1: the default node, else the primaries in turn). */
    route: (snapshot: ClusterTopology.Snapshot, command: Command<unknown>, slot: number): NodeInfo | undefined => {
      const table = snapshot.table
      if (slot < 0) {
        if (defaultNode !== undefined) return defaultAt(snapshot)
        const shards = table.shards
        return shards.length === 0 ? undefined : shards[rr++ % shards.length].primary
      }
      const index = table.owner[slot]
      if (index < 0) return undefined
      const shard = table.shards[index]
      if ((command.flags & Flags.READONLY) !== 0 && readFrom !== "primary") return pickRead(shard, slot)
      return shard.primary
    },
    readFrom: () => readFrom,
    setReadFrom: (next: ReadFrom) => {
      readFrom = next
    },
    /** A replica serving `slot` whatever the policy (redis-py's `get_node_from_key(key, replica=True)`). */
    replicaFor: replicaAt,
    /** Where keyless commands go as of `snapshot` (undefined: spread over the primaries). */
    defaultNode: (snapshot: ClusterTopology.Snapshot) => defaultAt(snapshot),
    /** The user's default node (undefined: spread keyless commands over the primaries). */
    setDefaultNode: (node: NodeInfo | undefined) => {
      defaultNode = node
      chosenByUser = node !== undefined
      checkedAgainst = undefined
    },
    /**
     * The client's own default node: a primary of `snapshot` at random
     * (other than `avoid`, when there is another), chosen again whenever it
     * stops being a healthy primary. Nothing if the user set one.
     */
    chooseDefaultNode: (snapshot: ClusterTopology.Snapshot, avoid?: Address.Address) => {
      if (chosenByUser) return
      defaultNode = randomPrimary(snapshot.view, avoid)
      checkedAgainst = snapshot
    },
    /** Whether the user set the default node. */
    defaultIsUsers: () => chosenByUser,
    /** Replaces the measured round trips (ms by "host:port"). */
    setLatencies: (next: Map<string, number>) => {
      latencies = next
    }
  }
}

/**
 * A healthy primary of `view` at random, other than `avoid` when there is
 * another; any primary when none is healthy.
 *
 * @category routing
 * @since 0.1.0
 */
export const randomPrimary = (view: View, avoid: Address.Address | undefined): NodeInfo | undefined => {
  const primaries = view.shards.map((s) => s.primary)
  const healthy = primaries.filter((p) => p.health !== "failed")
  const pool = healthy.length > 0 ? healthy : primaries
  const others = avoid === undefined ? pool : pool.filter((p) => !Address.equals(p, avoid))
  const from = others.length > 0 ? others : pool
  return from.length === 0 ? undefined : from[Math.floor(Math.random() * from.length)]
}

/**
 * @category models
 * @since 0.1.0
 */
export type Router = ReturnType<typeof make>
