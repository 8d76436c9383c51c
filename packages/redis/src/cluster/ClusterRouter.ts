/**
 * Where a command goes in a cluster: from its keys to a slot (CRC16 with
 * hash tags), from the slot to its shard, and from the shard to one node by
 * the read-from policy (writes always go to the primary).
 *
 * Pure functions over a topology snapshot; the only state is a round-robin
 * counter, the read-from policy, the default node and measured round trips.
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
import type { NodeInfo, Shard } from "./ClusterView.ts"

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

  return {
    /** The node for `command` on `slot` (a slot of -1 means any primary). */
    route: (snapshot: ClusterTopology.Snapshot, command: Command<unknown>, slot: number): NodeInfo | undefined => {
      const table = snapshot.table
      if (slot < 0) {
        if (defaultNode !== undefined) return defaultNode
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
    /** Where keyless commands go (undefined: spread over the primaries). */
    defaultNode: () => defaultNode,
    setDefaultNode: (node: NodeInfo | undefined) => {
      defaultNode = node
    },
    /** Replaces the measured round trips (ms by "host:port"). */
    setLatencies: (next: Map<string, number>) => {
      latencies = next
    }
  }
}

/**
 * @category models
 * @since 0.1.0
 */
export type Router = ReturnType<typeof make>
