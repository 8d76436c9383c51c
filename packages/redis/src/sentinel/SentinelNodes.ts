/**
 * The data-node side the master and replica backends share: the data
 * nodes' connection options (the caller's options without the sentinel
 * fields), a `NodeRegistry` whose entry for a node is its `Pool` with a
 * `PubSub` beside it in the same scope, the `Node` handle a backend sends
 * through, a PubSub that follows the backend's current node from node to
 * node, and the MONITOR connection.
 *
 * It does not choose nodes, and does not decide when one is retired: the
 * backends do (`SentinelMaster`, `SentinelReplica`).
 *
 * @since 0.1.0
 */
import * as Cause from "effect/Cause"
import * as Deferred from "effect/Deferred"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Queue from "effect/Queue"
import type * as Scope from "effect/Scope"
import * as Stream from "effect/Stream"
import * as Address from "../Address.ts"
import * as ClientCache from "../ClientCache.ts"
import * as Connection from "../Connection.ts"
import * as NodeRegistry from "../NodeRegistry.ts"
import * as Pool from "../Pool.ts"
import * as PubSub from "../PubSub.ts"
import * as RedisConfig from "../RedisConfig.ts"
import * as RedisError from "../RedisError.ts"
import { Transport } from "../Transport.ts"
import type { Options } from "./Sentinel.ts"
import { keyOf } from "./SentinelEvents.ts"

/**
 * Connection options of the data nodes: the caller's options without the
 * sentinel-only, pool and retry fields (the endpoint is set per node).
 *
 * @category constructors
 * @since 0.1.0
 */
export const dataOptionsOf = (options: Options): Effect.Effect<RedisConfig.ConnectionOptions, RedisError.RedisError> => {
  const {
    sentinels: _s,
    masterName: _m,
    sentinelUsername: _su,
    sentinelPassword: _sp,
    sentinelTls: _st,
    sentinelTimeout: _sto,
    minOtherSentinels: _mo,
    discoveryRetry: _dr,
    refreshInterval: _ri,
    addressRemap: _ar,
    replicaSelection: _rs,
    replicaCheckInterval: _rc,
    switchTimeout: _sw,
    failoverHold: _fh,
    retry: _r,
    maxDedicated: _md,
    dedicatedIdleTime: _di,
    middleware: _mw,
    cache: _cc,
    ...rest
  } = options
  return RedisConfig.resolve({ ...rest, endpoint: RedisConfig.tcp("127.0.0.1", 6379) })
}

/**
 * One data node as a backend uses it.
 *
 * @category models
 * @since 0.1.0
 */
export interface Node {
  /** `host:port`: its key in the registry. */
  readonly address: string
  readonly endpoint: RedisConfig.Endpoint
  readonly shared: Connection.Connection
  readonly withDedicated: Pool.Pool["withDedicated"]
  readonly pubsub: PubSub.PubSub
  /** Completed once, when the backend stops using the node: subscriptions on it move on. */
  readonly retired: Deferred.Deferred<void>
}

/**
 * The data nodes of one backend.
 *
 * @category models
 * @since 0.1.0
 */
export interface Nodes {
  readonly registry: NodeRegistry.NodeRegistry
  /** A fresh handle on the node at `endpoint`, its pool opened if it is not open yet. */
  readonly open: (endpoint: RedisConfig.Endpoint) => Effect.Effect<Node>
}

/**
 * A registry of data-node pools in the current scope. Each pool is built
 * with `poolOptions` (dedicated-connection limits and the wire-level
 * middleware) and the registry's hooks, plus `onDisconnect` (a cue for the
 * backend to look again).
 *
 * @category constructors
 * @since 0.1.0
 */
export const makeNodes = (
  data: RedisConfig.ConnectionOptions,
  poolOptions: Pool.PoolOptions & { readonly subscriptionBuffer?: PubSub.BufferOptions | undefined },
  onDisconnect: () => void
): Effect.Effect<Nodes, never, Scope.Scope | Transport> =>
  Effect.gen(function*() {
    const transport = yield* Transport
    // One cache for every node of the backend: a switch or a replica change
    // moves reads to another node's session, whose entries are its own.
    const pooled = { ...poolOptions, cache: ClientCache.resolve(poolOptions.cache) }
    // The PubSub of a node lives in its pool's scope: closing the entry closes both.
    const pubsubs = new WeakMap<Pool.Pool, PubSub.PubSub>()
    const registry = yield* NodeRegistry.make((node, hooks) =>
      Effect.gen(function*() {
        const address = Address.parse(node)!
        const options = { ...data, endpoint: RedisConfig.tcp(address.host, address.port) }
        const pool = yield* Pool.make(options, pooled, Connection.mergeHooks(hooks, { onDisconnect }))
        pubsubs.set(pool, yield* PubSub.make({ ...options, subscriptionBuffer: poolOptions.subscriptionBuffer }))
        return pool
      }).pipe(Effect.provideService(Transport, transport))
    )
    return {
      registry,
      open: (endpoint) => {
        const address = keyOf(endpoint)
        return Effect.map(registry.get(address), (pool): Node => ({
          address,
          endpoint,
          shared: pool.shared,
          withDedicated: pool.withDedicated,
          pubsub: pubsubs.get(pool)!,
          retired: Deferred.makeUnsafe<void>()
        }))
      }
    }
  })

/**
 * A PubSub that follows a backend's current node, and the way to tell it a
 * node was retired.
 *
 * @category models
 * @since 0.1.0
 */
export interface Follower {
  readonly pubsub: PubSub.PubSub
  /**
   * Stops using `node`: every subscription on it moves to the next node.
   * When `counted` (the node whose rounds `generation` counts), its rounds
   * plus one are kept in the generation, so it only grows.
   */
  readonly retire: (node: Node, counted: boolean) => void
}

/**
 * Every live subscription is made on the node `awaitNode` gives, and made
 * again on the next one when that node is retired (a gap event on the
 * `...WithGaps` streams). The generation is that of `current()` plus the
 * rounds of the nodes retired before it.
 *
 * @category constructors
 * @since 0.1.0
 */
export const makeFollower = (
  awaitNode: Effect.Effect<Node, RedisError.RedisError>,
  current: () => Node | undefined
): Follower => {
  let base = 0
  let droppedBase = 0
  // The relay queue is small and `offer` waits on it, so a slow consumer
  // pushes back to the node's own bounded subscription buffer, where
  // overflow is dropped and counted (an unbounded relay would undo that bound).
  // `on(node)` is the subscription on one node; `gap` (for streams with gap
  // events) is announced each time the subscription moves to the next node.
  const relay = <A>(on: (n: Node) => Stream.Stream<A, RedisError.RedisError>, gap: A | undefined) =>
    Stream.callback<A, RedisError.RedisError>((queue) =>
      Effect.forkScoped(
        Effect.gen(function*() {
          let moved = false
          while (true) {
            const n = yield* awaitNode
            // Messages published while the subscription moved are gone.
            if (moved && gap !== undefined) yield* Queue.offer(queue, gap)
            const exit = yield* Effect.exit(Effect.raceFirst(
              Stream.runForEachArray(on(n), (chunk) => Queue.offerAll(queue, chunk)),
              Deferred.await(n.retired)
            ))
            if (Deferred.isDoneUnsafe(n.retired)) {
              moved = true
              continue
            }
            if (Exit.isFailure(exit)) return yield* (exit as Exit.Exit<never, RedisError.RedisError>)
            Queue.endUnsafe(queue)
            return
          }
        }).pipe(Effect.catch((e) => Effect.sync(() => Queue.failCauseUnsafe(queue, Cause.fail(e)))))
      ), { bufferSize: 16 })
  const follow = (kind: PubSub.Kind, names: ReadonlyArray<string>, gaps: boolean, buffer: PubSub.BufferOptions | undefined) =>
    relay<PubSub.Event>(
      (n) =>
        gaps && n.pubsub.subscribeEvents !== undefined
          ? n.pubsub.subscribeEvents(kind, names, buffer)
          : n.pubsub.subscribe(kind, names, buffer),
      gaps ? { kind: "gap", reason: "moved", subscription: kind, names } : undefined
    )
  const notSupported = Stream.fail(RedisError.notSupported("binary subscriptions are not supported by this node's PubSub"))
  return {
    pubsub: {
      subscribe: (kind, names, buffer) =>
        follow(kind, names, false, buffer) as Stream.Stream<PubSub.Message, RedisError.RedisError>,
      subscribeEvents: (kind, names, buffer) => follow(kind, names, true, buffer),
      subscribeBytes: (kind, names, buffer) =>
        relay((n) => n.pubsub.subscribeBytes?.(kind, names, buffer) ?? notSupported, undefined),
      generation: () => base + (current()?.pubsub.generation() ?? 0),
      dropped: () => droppedBase + (current()?.pubsub.dropped?.() ?? 0)
    },
    retire: (node, counted) => {
      if (Deferred.isDoneUnsafe(node.retired)) return
      if (counted) {
        base += node.pubsub.generation() + 1
        droppedBase += node.pubsub.dropped?.() ?? 0
      }
      Deferred.doneUnsafe(node.retired, Effect.void)
    }
  }
}

/**
 * The protocol a node's shared connection negotiated, once it is ready.
 *
 * @category accessors
 * @since 0.1.0
 */
export const protocolOf = (n: Node): Effect.Effect<2 | 3, RedisError.RedisError> =>
  Effect.andThen(n.shared.awaitReady, Effect.sync(() => n.shared.protocol()))

/**
 * A MONITOR connection of its own to the node `pick` gives.
 *
 * @category constructors
 * @since 0.1.0
 */
export const monitorOn = (
  pick: Effect.Effect<Node, RedisError.RedisError>,
  data: RedisConfig.ConnectionOptions,
  transport: typeof Transport.Service
) =>
(onPush: Parameters<typeof Connection.makeFeed>[1]) =>
  Effect.flatMap(pick, (n) =>
    Connection.makeFeed({ ...data, endpoint: n.endpoint }, onPush).pipe(Effect.provideService(Transport, transport)))
