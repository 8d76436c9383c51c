/**
 * The per-node registry of a client: one `Pool` (a shared multiplexed
 * connection plus dedicated ones) per node address, opened on first use,
 * closed when the topology drops the node or the client's scope closes.
 * Standalone, cluster and sentinel clients each keep theirs here.
 *
 * It also carries two seams (docs/ARCHITECTURE.md):
 *
 * - `events`: the connection lifecycle of every node — opened, ready
 *   (handshake done), disconnected, closed, replaced — for metrics, cache
 *   tracking, and tests that wait for a reconnect.
 * - `pushes`: RESP3 pushes that are not pub/sub messages (`invalidate` from
 *   CLIENT TRACKING, for one) from the shared connection of every node, with
 *   the node they came from. Without this a normal connection would drop them.
 *
 * **Concurrency**: opening is single-flight per address: two fibers that ask
 * for the same new node get the same pool, and only one is ever opened.
 * `lookup` is synchronous for the hot path (a cluster finds its node's pool
 * without an Effect per command).
 *
 * It does not decide which nodes exist: the topology tells it with `retain`
 * or `remove`.
 *
 * @since 0.1.0
 */
import * as Deferred from "effect/Deferred"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as PubSub from "effect/PubSub"
import * as Scope from "effect/Scope"
import * as Stream from "effect/Stream"
import type * as Connection from "./Connection.ts"
import type * as Pool from "./Pool.ts"
import type * as RedisError from "./RedisError.ts"
import type { RespPush } from "./Resp.ts"

/**
 * A change in the connections of one node (`node` is `host:port` or a
 * socket path).
 *
 * - `Opened`: the registry opened a pool for the node (its shared
 *   connection starts connecting in the background).
 * - `Ready`: the shared connection finished its handshake (AUTH, HELLO,
 *   SELECT, …); again after every reconnect.
 * - `Disconnected`: the shared connection lost its session.
 * - `Closed`: the registry closed the node's pool (the topology dropped the
 *   node, or the client closed).
 * - `Replaced`: the node's pool was closed and a new one opened in its place
 *   (a sentinel switch back to a known address, for one).
 *
 * @category models
 * @since 0.1.0
 */
export type NodeEvent =
  | { readonly _tag: "Opened"; readonly node: string }
  | { readonly _tag: "Ready"; readonly node: string; readonly protocol: 2 | 3 }
  | { readonly _tag: "Disconnected"; readonly node: string; readonly error: RedisError.RedisError }
  | { readonly _tag: "Closed"; readonly node: string }
  | { readonly _tag: "Replaced"; readonly node: string }

/**
 * A RESP3 push that is not a pub/sub message, with the node it came from.
 *
 * @category models
 * @since 0.1.0
 */
export interface NodePush {
  readonly node: string
  readonly value: RespPush
}

/**
 * @category models
 * @since 0.1.0
 */
export interface NodeRegistry {
  /** The pool of a node, opened on first use (single-flight). */
  readonly get: (node: string) => Effect.Effect<Pool.Pool>
  /** The pool of a node if it is open: synchronous, for the hot path. */
  readonly lookup: (node: string) => Pool.Pool | undefined
  /** The open nodes. */
  readonly nodes: () => ReadonlyArray<string>
  /** Closes the pool of a node (nothing if it is not open). */
  readonly remove: (node: string) => Effect.Effect<void>
  /** Closes the pools of every node not in `live`. */
  readonly retain: (live: ReadonlySet<string>) => Effect.Effect<void>
  /** Closes the pool of a node and opens a new one in its place. */
  readonly replace: (node: string) => Effect.Effect<Pool.Pool>
  /** Connection lifecycle of every node, from the moment of subscription. */
  readonly events: Stream.Stream<NodeEvent>
  /** Non-pub/sub RESP3 pushes of every node's shared connection. */
  readonly pushes: Stream.Stream<NodePush>
}

/**
 * How the registry opens a node: builds its pool in the given scope with the
 * given hooks on the shared connection (the registry's own events and push
 * routing; the opener may chain its own).
 *
 * @category models
 * @since 0.1.0
 */
export type Open = (node: string, hooks: Connection.Hooks) => Effect.Effect<Pool.Pool, never, Scope.Scope>

interface Entry {
  readonly pool: Pool.Pool
  readonly scope: Scope.Closeable
}

/**
 * Builds a registry whose pools live in the current scope.
 *
 * @category constructors
 * @since 0.1.0
 */
export const make = (open: Open): Effect.Effect<NodeRegistry, never, Scope.Scope> =>
  Effect.gen(function*() {
    const scope = yield* Effect.scope
    const open_ = new Map<string, Entry>()
    const opening = new Map<string, Deferred.Deferred<Pool.Pool>>()
    const events = yield* PubSub.unbounded<NodeEvent>()
    const pushes = yield* PubSub.unbounded<NodePush>()
    // Publishing to a PubSub nobody subscribed to drops the value: the cost
    // when nothing listens is one call per connection event, none per command.
    const emit = (event: NodeEvent) => {
      PubSub.publishUnsafe(events, event)
    }

    const hooksFor = (node: string): Connection.Hooks => ({
      onConnect: (connection) =>
        Effect.sync(() => emit({ _tag: "Ready", node, protocol: connection.protocol() })),
      onDisconnect: (error) => emit({ _tag: "Disconnected", node, error }),
      onServerPush: (value) => {
        PubSub.publishUnsafe(pushes, { node, value })
      }
    })

    // Opening is uninterruptible: `open` only builds the pool (its shared
    // connection dials in the background), so it never waits on the network,
    // and a fiber interrupted half way must not leave waiters on `opening`.
    const openNew = (node: string): Effect.Effect<Pool.Pool> =>
      Effect.uninterruptible(
        Effect.gen(function*() {
          const deferred = yield* Deferred.make<Pool.Pool>()
          opening.set(node, deferred)
          const nodeScope = yield* Scope.fork(scope)
          const pool = yield* open(node, hooksFor(node)).pipe(Scope.provide(nodeScope))
          open_.set(node, { pool, scope: nodeScope })
          opening.delete(node)
          emit({ _tag: "Opened", node })
          yield* Deferred.succeed(deferred, pool)
          return pool
        })
      )

    const get = (node: string): Effect.Effect<Pool.Pool> =>
      Effect.suspend(() => {
        const entry = open_.get(node)
        if (entry !== undefined) return Effect.succeed(entry.pool)
        const pending = opening.get(node)
        if (pending !== undefined) return Deferred.await(pending)
        return openNew(node)
      })

    const remove = (node: string): Effect.Effect<void> =>
      Effect.suspend(() => {
        const entry = open_.get(node)
        if (entry === undefined) return Effect.void
        open_.delete(node)
        return Effect.andThen(Scope.close(entry.scope, Exit.void), Effect.sync(() => emit({ _tag: "Closed", node })))
      })

    return {
      get,
      lookup: (node) => open_.get(node)?.pool,
      nodes: () => [...open_.keys()],
      remove,
      retain: (live) =>
        Effect.suspend(() => {
          const gone = [...open_.keys()].filter((node) => !live.has(node))
          return Effect.forEach(gone, remove, { discard: true })
        }),
      replace: (node) =>
        Effect.andThen(
          remove(node),
          Effect.tap(get(node), () => Effect.sync(() => emit({ _tag: "Replaced", node })))
        ),
      events: Stream.fromPubSub(events),
      pushes: Stream.fromPubSub(pushes)
    }
  })
