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
 * **Draining**: with `drainTimeout`, a node the topology drops is taken out
 * of the registry at once (new commands open a fresh pool or go elsewhere)
 * but its pool is closed only once its shared connection has no command
 * left awaiting a reply, or has lost its session, or the bound has passed.
 * A node leaves a cluster's view while it may still be answering: the old
 * primary of a coordinated failover holds our writes (the server pauses
 * writes during the switch) and then refuses them with MOVED. Closing it at
 * once would fail those writes `Closed`/`Unknown`, and a write that may have
 * run is never resent; drained, they are refused, redirected and succeed.
 *
 * It does not decide which nodes exist: the topology tells it with `retain`
 * or `remove`.
 *
 * @since 0.1.0
 */
import * as Clock from "effect/Clock"
import * as Deferred from "effect/Deferred"
import * as Duration from "effect/Duration"
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
  /**
   * Closes the pool of a node (nothing if it is not open). With
   * `drainTimeout`, the node leaves the registry at once and its pool is
   * closed in the background once drained (see the module comment).
   */
  readonly remove: (node: string) => Effect.Effect<void>
  /** Closes the pools of every node not in `live` (as `remove` does). */
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

/**
 * @category models
 * @since 0.1.0
 */
export interface Options {
  /**
   * How long a removed node's shared connection may keep commands that
   * await a reply before its pool is closed anyway (what is still in flight
   * then fails `Closed`/`Unknown`). Default: no drain, the pool closes at
   * once.
   */
  readonly drainTimeout?: Duration.Input | undefined
}

interface Entry {
  readonly pool: Pool.Pool
  readonly scope: Scope.Closeable
}

// How often a draining connection is looked at. Polled rather than
// signalled: a node leaves rarely, and a signal from the connection would
// cost a check per reply batch on every connection's hot path.
const DRAIN_POLL = Duration.millis(10)

// Nothing more can arrive on the shared connection: every written command
// was answered, or the session that carried them ended (the connection has
// already failed them, or queued the resendable ones, which closing fails
// NotSent so the caller's retry goes elsewhere).
const drained = (pool: Pool.Pool): boolean => {
  const shared = pool.shared
  if (shared.status() !== "ready") return true
  const stats = shared.stats()
  return stats.inFlight === 0 && stats.queued === 0
}

// Waits until `drained`, at most `millis` (Effect clock, so a TestClock
// drives it).
const awaitDrained = (pool: Pool.Pool, millis: number): Effect.Effect<void> =>
  Effect.flatMap(Clock.currentTimeMillis, (start) => {
    const loop: Effect.Effect<void> = Effect.suspend(() =>
      drained(pool)
        ? Effect.void
        : Effect.flatMap(Clock.currentTimeMillis, (now) =>
          now - start >= millis ? Effect.void : Effect.andThen(Effect.sleep(DRAIN_POLL), loop))
    )
    return loop
  })

/**
 * Builds a registry whose pools live in the current scope.
 *
 * @category constructors
 * @since 0.1.0
 */
export const make = (open: Open, options?: Options): Effect.Effect<NodeRegistry, never, Scope.Scope> =>
  Effect.gen(function*() {
    const scope = yield* Effect.scope
    const drainMillis = options?.drainTimeout === undefined
      ? 0
      : Duration.toMillis(Duration.fromInputUnsafe(options.drainTimeout))
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
        const close = Effect.andThen(Scope.close(entry.scope, Exit.void), Effect.sync(() => emit({ _tag: "Closed", node })))
        if (drainMillis === 0 || drained(entry.pool)) return close
        // On a fiber of the registry's scope, so the caller (the topology
        // follower) is not held up; if the registry closes first, the
        // node's scope, a child of the registry's, closes with it.
        return Effect.asVoid(Effect.forkIn(Effect.andThen(awaitDrained(entry.pool, drainMillis), close), scope))
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
