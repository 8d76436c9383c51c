/**
 * The replica backend: `Redis` over the replicas of a Sentinel-managed
 * service. Each command goes to a ready replica chosen by the
 * `replicaSelection` policy (round robin by default; at random; the lowest
 * measured PING round trip; or a function); with no replica up, to the
 * primary. Meant for reads: a write fails `READONLY`.
 *
 * It reads only from replicas that the sentinels list as healthy, that
 * report the role `slave`, and that answer `ROLE` as a replica linked to its
 * primary when first used: a restarted stale primary, listed as a replica
 * while it is still a master with an empty dataset, is skipped. The set is
 * read again on every sentinel event about the service, on a watcher's
 * reconnect, when a replica's connection drops, and every
 * `refreshInterval`; every `replicaCheckInterval` the replicas in use are
 * asked `ROLE` again too, and one that no longer answers as a replica linked
 * to its primary leaves the set until it does. Each change is a
 * `NodeAdded`/`NodeRemoved` event.
 *
 * It does not hold commands during a failover (the master backend does),
 * and does not ask the sentinels itself (`SentinelDiscovery` does).
 *
 * @since 0.1.0
 */
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as EffectPubSub from "effect/PubSub"
import type * as Scope from "effect/Scope"
import * as Stream from "effect/Stream"
import type * as Address from "../Address.ts"
import type { Command } from "../Command.ts"
import * as Commands from "../Commands.ts"
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
import { makeFollower, makeNodes, monitorOn, protocolOf } from "./SentinelNodes.ts"

/**
 * Which ready replica a command goes to:
 *
 * - `roundRobin` (default): each in turn;
 * - `random`: one at random;
 * - `lowestLatency`: the lowest PING round trip, measured every 2 s (round
 *   robin until the first measure);
 * - a function: given the addresses of the replicas in use, returns one of
 *   them (a replica that is not ready, or `undefined`: round robin).
 *
 * @category models
 * @since 0.1.0
 */
export type ReplicaSelection =
  | "roundRobin"
  | "random"
  | "lowestLatency"
  | ((replicas: ReadonlyArray<Address.Address>) => Address.Address | undefined)

/**
 * The policies by name.
 *
 * @category models
 * @since 0.1.0
 */
export const REPLICA_SELECTIONS: ReadonlyArray<ReplicaSelection & string> = ["roundRobin", "random", "lowestLatency"]

/**
 * What a chooser picks from: a node's `host:port` and endpoint.
 *
 * @category models
 * @since 0.1.0
 */
export interface Candidate {
  readonly address: string
  readonly endpoint: RedisConfig.Endpoint
}

/**
 * A chooser by `selection` over the node lists it is given (pure but for its
 * round-robin counter): a ready node when there is one, else the next one.
 * Nothing is allocated per pick (the function policy's address list is
 * built once per node list).
 *
 * @category selection
 * @since 0.1.0
 */
export const chooser = <N extends Candidate>(
  selection: ReplicaSelection,
  ready: (node: N) => boolean,
  latency: (address: string) => number
) => {
  let next = 0
  const roundRobin = (list: ReadonlyArray<N>): N => {
    const n = list.length
    for (let i = 0; i < n; i++) {
      const candidate = list[(next + i) % n]
      if (ready(candidate)) {
        next = (next + i + 1) % n
        return candidate
      }
    }
    next = (next + 1) % n
    return list[next % n]
  }
  let listed: ReadonlyArray<N> | undefined
  let addresses: ReadonlyArray<Address.Address> = []
  const byFunction = (list: ReadonlyArray<N>, f: (replicas: ReadonlyArray<Address.Address>) => Address.Address | undefined) => {
    if (list !== listed) {
      listed = list
      addresses = list.map((n) => n.endpoint as unknown as Address.Address)
    }
    const chosen = f(addresses)
    if (chosen !== undefined) {
      for (const n of list) {
        const e = n.endpoint
        if (e._tag === "Tcp" && e.host === chosen.host && e.port === chosen.port && ready(n)) return n
      }
    }
    return roundRobin(list)
  }
  const random = (list: ReadonlyArray<N>): N => {
    let readyCount = 0
    for (const n of list) if (ready(n)) readyCount++
    if (readyCount === 0) return roundRobin(list)
    let k = Math.floor(Math.random() * readyCount)
    for (const n of list) if (ready(n) && k-- === 0) return n
    return roundRobin(list)
  }
  const lowest = (list: ReadonlyArray<N>): N => {
    let best: N | undefined
    let bestRtt = Infinity
    for (const n of list) {
      const rtt = latency(n.address)
      if (ready(n) && rtt < bestRtt) {
        best = n
        bestRtt = rtt
      }
    }
    return best ?? roundRobin(list)
  }
  return (list: ReadonlyArray<N>): N | undefined => {
    if (list.length === 0) return undefined
    if (typeof selection === "function") return byFunction(list, selection)
    switch (selection) {
      case "random":
        return random(list)
      case "lowestLatency":
        return lowest(list)
      default:
        return roundRobin(list)
    }
  }
}

// The nodes in use. Only `refresh` replaces `nodes`; a node leaves it when
// it is retired.
interface ReplicaSet {
  nodes: ReadonlyArray<Node>
}

// Reads the replica set again and moves to it. A replica new to the set is
// asked ROLE first: a node the sentinels list as a replica may still be a
// restarted stale primary. With `recheck`, so is every replica in use.
const refresh = (
  set: ReplicaSet,
  discovery: Discovery,
  data: RedisConfig.ConnectionOptions,
  nodes: Nodes,
  follower: Follower,
  topology: EffectPubSub.PubSub<TopologyEvent.TopologyEvent>
) =>
(trigger: string, recheck = false): Effect.Effect<void, RedisError.RedisError> =>
  Effect.gen(function*() {
    const listed = yield* discovery.service.discoverReplicas()
    const current = set.nodes
    const replicas: Array<RedisConfig.Endpoint> = []
    for (const r of listed) {
      if (!recheck && current.some((n) => n.address === keyOf(r))) replicas.push(r)
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
    const set: ReplicaSet = { nodes: [] }
    const latencies = new Map<string, number>()
    const choose = chooser<Node>(
      options.replicaSelection ?? "roundRobin",
      (n) => n.shared.status() === "ready",
      (a) => latencies.get(a) ?? Infinity
    )

    // A ready node by the policy; any node when none is ready.
    const pick: Effect.Effect<Node, RedisError.RedisError> = Effect.suspend(() => {
      const n = choose(set.nodes)
      return n === undefined
        ? Effect.fail(masterNotFound(masterName, `no replica or primary known for '${masterName}'`))
        : Effect.succeed(n)
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
    // The ROLE re-check rides the refresh loop (one refresh at a time).
    let recheck = false
    yield* Effect.forkScoped(Effect.forever(Effect.flatMap(cues.next, ({ reason }) => {
      const all = recheck
      recheck = false
      return Effect.ignore(refreshSet(all ? "role-check" : reason, all))
    })))
    yield* refreshPeriodically(options, cues)
    const every = Duration.fromInputUnsafe(options.replicaCheckInterval ?? Duration.seconds(10))
    yield* Effect.forkScoped(Effect.forever(Effect.andThen(
      Effect.sleep(every),
      Effect.sync(() => {
        recheck = true
        cues.cue(false, undefined, "role-check")
      })
    )))
    if (options.replicaSelection === "lowestLatency") yield* measureLatency(() => set.nodes, latencies)

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
      protocol: Effect.flatMap(pick, protocolOf),
      monitorConnection: monitorOn(pick, data, transport),
      events: Stream.merge(Stream.map(nodes.registry.events, TopologyEvent.connection), Stream.fromPubSub(topology))
    }
  })

const PING = Commands.ping()

// The `lowestLatency` policy's measure: every node in use PINGed now and
// then every 2 s, on a fiber of the scope (none per command); a node that
// does not answer within 1 s counts as infinitely far.
const measureLatency = (
  inUse: () => ReadonlyArray<Node>,
  latencies: Map<string, number>
): Effect.Effect<void, never, Scope.Scope> => {
  const measure = Effect.suspend(() =>
    Effect.forEach(inUse(), (n) =>
      Effect.suspend(() => {
        const started = performance.now()
        return Effect.map(Effect.exit(Effect.timeout(n.shared.send(PING), "1 second")), (exit) => {
          latencies.set(n.address, Exit.isSuccess(exit) ? performance.now() - started : Infinity)
        })
      }), { concurrency: "unbounded", discard: true })
  )
  return Effect.andThen(measure, Effect.asVoid(Effect.forkScoped(Effect.forever(Effect.andThen(Effect.sleep("2 seconds"), measure)))))
}
