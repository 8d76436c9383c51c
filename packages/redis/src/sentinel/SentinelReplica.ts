/**
 * The replica backend: `Redis` over the replicas of a Sentinel-managed
 * service. Each command goes to the next ready replica (round robin); with
 * no replica up, to the primary. Meant for reads: a write fails `READONLY`.
 *
 * It reads only from replicas that the sentinels list as healthy, that
 * report the role `slave`, and that answer `ROLE` as a replica linked to its
 * primary when first used: a restarted stale primary, listed as a replica
 * while it is still a master with an empty dataset, is skipped. The set is
 * read again on every sentinel event about the service, on a watcher's
 * reconnect, when a replica's connection drops, and every
 * `refreshInterval`; each change is a `NodeAdded`/`NodeRemoved` event.
 *
 * It does not hold commands during a failover (the master backend does),
 * and does not ask the sentinels itself (`SentinelDiscovery` does).
 *
 * @since 0.1.0
 */
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as EffectPubSub from "effect/PubSub"
import type * as Scope from "effect/Scope"
import * as Stream from "effect/Stream"
import type { Command } from "../Command.ts"
import * as Delivery from "../Delivery.ts"
import type * as Redis from "../Redis.ts"
import type * as RedisConfig from "../RedisConfig.ts"
import type * as RedisError from "../RedisError.ts"
import * as TopologyEvent from "../TopologyEvent.ts"
import { Transport } from "../Transport.ts"
import type { Options } from "./Sentinel.ts"
import type { Discovery } from "./SentinelDiscovery.ts"
import { makeCues, masterNotFound, refreshPeriodically } from "./SentinelDiscovery.ts"
import { concerns, keyOf } from "./SentinelEvents.ts"
import type { Follower, Node, Nodes } from "./SentinelNodes.ts"
import { makeFollower, makeNodes, monitorOn } from "./SentinelNodes.ts"

// The nodes in use, and where the round robin stands. Only `refresh`
// replaces `nodes`; a node leaves it when it is retired.
interface ReplicaSet {
  nodes: ReadonlyArray<Node>
  next: number
}

// Reads the replica set again and moves to it. A replica new to the set is
// asked ROLE first: a node the sentinels list as a replica may still be a
// restarted stale primary.
const refresh = (
  set: ReplicaSet,
  discovery: Discovery,
  data: RedisConfig.ConnectionOptions,
  nodes: Nodes,
  follower: Follower,
  topology: EffectPubSub.PubSub<TopologyEvent.TopologyEvent>
) =>
(trigger: string): Effect.Effect<void, RedisError.RedisError> =>
  Effect.gen(function*() {
    const listed = yield* discovery.service.discoverReplicas()
    const current = set.nodes
    const replicas: Array<RedisConfig.Endpoint> = []
    for (const r of listed) {
      if (current.some((n) => n.address === keyOf(r))) replicas.push(r)
      else if (Exit.isSuccess(yield* Effect.exit(discovery.verifyReplica(data, r)))) replicas.push(r)
    }
    const role = replicas.length > 0 ? "replica" : "primary"
    const targets = replicas.length > 0 ? replicas : [yield* discovery.findMaster(data)]
    const wanted = new Set(targets.map(keyOf))
    const kept = current.filter((n) => wanted.has(n.address))
    const added: Array<Node> = []
    for (const t of targets) {
      const address = keyOf(t)
      if (kept.some((n) => n.address === address) || added.some((n) => n.address === address)) continue
      added.push(yield* nodes.open(t))
    }
    const dropped = current.filter((n) => !wanted.has(n.address))
    set.nodes = [...kept, ...added]
    // Subscriptions follow the first node: its rounds count in the generation.
    for (const n of dropped) follower.retire(n, n === current[0])
    yield* nodes.registry.retain(wanted)
    yield* Effect.sync(() => {
      for (const n of dropped) EffectPubSub.publishUnsafe(topology, { _tag: "NodeRemoved", node: n.address })
      for (const n of added) EffectPubSub.publishUnsafe(topology, { _tag: "NodeAdded", node: n.address, role })
      EffectPubSub.publishUnsafe(topology, { _tag: "RefreshDone", trigger, changed: dropped.length + added.length > 0 })
    })
  })

/**
 * The backend over the replicas of `options.masterName`: it reads the
 * replica set now (failing with `MasterNotFound` if there is neither a
 * replica nor a primary), and keeps it current for as long as the current
 * scope lives. `data` are the data nodes' connection options.
 *
 * @category constructors
 * @since 0.1.0
 */
export const make = (
  options: Options,
  discovery: Discovery,
  data: RedisConfig.ConnectionOptions
): Effect.Effect<Redis.Backend, RedisError.RedisError, Scope.Scope | Transport> =>
  Effect.gen(function*() {
    const transport = yield* Transport
    const masterName = options.masterName
    const retry = options.retry ?? Delivery.defaultRetry
    const cues = makeCues()
    const nodes = yield* makeNodes(data, options, () => cues.cue(false, undefined, "a replica's connection dropped"))
    const topology = yield* EffectPubSub.unbounded<TopologyEvent.TopologyEvent>()
    const set: ReplicaSet = { nodes: [], next: 0 }

    // Round robin over ready nodes; any node when none is ready.
    const pick: Effect.Effect<Node, RedisError.RedisError> = Effect.suspend(() => {
      const list = set.nodes
      const n = list.length
      if (n === 0) return Effect.fail(masterNotFound(masterName, `no replica or primary known for '${masterName}'`))
      for (let i = 0; i < n; i++) {
        const candidate = list[(set.next + i) % n]
        if (candidate.shared.status() === "ready") {
          set.next = (set.next + i + 1) % n
          return Effect.succeed(candidate)
        }
      }
      set.next = (set.next + 1) % n
      return Effect.succeed(list[set.next % n])
    })
    const first: Effect.Effect<Node, RedisError.RedisError> = Effect.suspend(() =>
      set.nodes.length > 0 ? Effect.succeed(set.nodes[0]) : pick
    )
    const follower = makeFollower(first, () => set.nodes[0])

    const refreshSet = refresh(set, discovery, data, nodes, follower, topology)
    yield* refreshSet("startup")
    discovery.onEvent((event) => {
      if (event.channel === "reconnect" || concerns(event, masterName)) cues.cue(false, undefined, event.channel)
    })
    yield* Effect.forkScoped(Effect.forever(Effect.flatMap(cues.next, ({ reason }) => Effect.ignore(refreshSet(reason)))))
    yield* refreshPeriodically(options, cues)

    const attempt = <A>(command: Command<A>) => Effect.flatMap(pick, (n) => n.shared.send(command))
    const isSafe = (command: Command<unknown>, error: RedisError.RedisError) => Delivery.isRetry(command, error, "nodes")
    return {
      // A replica's READONLY is its answer to a write, not a demotion: not resent.
      execute: <A>(command: Command<A>): Effect.Effect<A, RedisError.RedisError> =>
        Effect.catch(attempt(command), (error) =>
          isSafe(command, error) && error.reason._tag !== "ReadOnly"
            ? Effect.retry(attempt(command), { schedule: retry, while: (e) => isSafe(command, e) })
            : Effect.fail(error)),
      executeAll: (commands) =>
        Effect.matchEffect(pick, {
          onFailure: (e) => Effect.succeed(commands.map(() => Exit.fail(e) as Exit.Exit<unknown, RedisError.RedisError>)),
          onSuccess: (n) => n.shared.sendAll(commands)
        }),
      withDedicated: (_keys, f) => Effect.flatMap(pick, (n) => n.withDedicated(f)),
      pubsub: follower.pubsub,
      monitorConnection: monitorOn(pick, data, transport),
      events: Stream.merge(Stream.map(nodes.registry.events, TopologyEvent.connection), Stream.fromPubSub(topology))
    }
  })
