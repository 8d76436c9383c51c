/**
 * The connections of one node: one shared, multiplexed connection for
 * ordinary commands, and a bounded pool of dedicated connections for what
 * would stall it — blocking commands (BLPOP, XREAD BLOCK, WAIT, ...) and
 * MULTI/WATCH transactions, whose connection state must not leak into other
 * callers' commands.
 *
 * Borrowers beyond `maxDedicated` queue; `acquireTimeout` bounds that wait
 * with a `Timeout` (outcome `NotSent`), as redis-py's
 * `BlockingConnectionPool` does. `validate` checks these options when a
 * layer is built.
 *
 * It does not pick nodes; a cluster holds one `Pool` per node.
 *
 * **Gotchas**
 *
 * A dedicated connection whose borrower failed or was interrupted is thrown
 * away, not returned: an interrupted BLPOP is still blocking on the server,
 * and a failed transaction body may have left a WATCH or MULTI open.
 *
 * @since 0.1.0
 */
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as EffectPool from "effect/Pool"
import * as Scope from "effect/Scope"
import * as ClientCache from "./ClientCache.ts"
import * as Connection from "./Connection.ts"
import * as Middleware from "./Middleware.ts"
import * as RedisConfig from "./RedisConfig.ts"
import * as RedisError from "./RedisError.ts"
import type { Transport } from "./Transport.ts"

/**
 * @category models
 * @since 0.1.0
 */
export interface Pool {
  /** The multiplexed connection every ordinary command shares. */
  readonly shared: Connection.Connection
  /**
   * Borrows a dedicated connection for the duration of `f`. It is returned to
   * the pool when `f` succeeds and closed when `f` fails or is interrupted.
   */
  readonly withDedicated: <A, E, R>(
    f: (connection: Connection.Connection) => Effect.Effect<A, E, R>
  ) => Effect.Effect<A, E | RedisError.RedisError, R>
}

/**
 * @category models
 * @since 0.1.0
 */
export interface PoolOptions {
  /** Most dedicated connections open at once (default 16); more borrowers wait. */
  readonly maxDedicated?: number | undefined
  /** Idle dedicated connections are closed after this long (default 30 s). */
  readonly dedicatedIdleTime?: Duration.Input | undefined
  /**
   * How long a borrower waits for a dedicated connection (a free one, or a
   * new one while fewer than `maxDedicated` are open) before failing with
   * `Timeout` and outcome `NotSent` (redis-py `BlockingConnectionPool`'s
   * `timeout`). No bound by default: borrowers queue.
   */
  readonly acquireTimeout?: Duration.Input | undefined
  /**
   * Middlewares every command of this client passes (see `Middleware`);
   * those of the layer's `Middleware.Middlewares` follow them.
   */
  readonly middleware?: Middleware.Middleware | ReadonlyArray<Middleware.Middleware> | undefined
  /**
   * Server-assisted client-side caching of reads on the shared connection
   * (`ClientCache`): a cache to use, or the options of one to make. Needs
   * RESP3. Off by default.
   */
  readonly cache?: ClientCache.Options | ClientCache.ClientCache | undefined
}

/**
 * Opens the shared connection (in the background) and prepares the pool.
 *
 * @category constructors
 * @since 0.1.0
 */
export const make = (
  options: RedisConfig.ConnectionOptions,
  poolOptions?: PoolOptions,
  /** Hooks of the shared connection (e.g. `onDisconnect` for failover detection). */
  hooks?: Connection.Hooks
): Effect.Effect<Pool, never, Scope.Scope | Transport> =>
  Effect.gen(function*() {
    // Resolved once here: with no middleware the connections are used as
    // they are, and the per-command path is unchanged.
    const middleware = yield* Middleware.resolve(poolOptions?.middleware)
    const shared = Middleware.wrapConnection(yield* sharedConnection(options, poolOptions, hooks), middleware)
    const dedicatedOptions: RedisConfig.ConnectionOptions = {
      ...options,
      // A dedicated connection serves one borrower: if it cannot connect,
      // that borrower should hear it now rather than wait in a queue.
      offline: { _tag: "fail" },
      maxResends: 0
    }
    const pool = yield* EffectPool.makeWithTTL({
      acquire: Effect.map(
        Effect.tap(Connection.make(dedicatedOptions), (c) => c.awaitReady),
        (c) => Middleware.wrapConnection(c, middleware)
      ),
      min: 0,
      max: poolOptions?.maxDedicated ?? 16,
      timeToLive: poolOptions?.dedicatedIdleTime ?? Duration.seconds(30),
      timeToLiveStrategy: "usage"
    })
    const borrow = poolOptions?.acquireTimeout === undefined
      ? EffectPool.get(pool)
      : boundedGet(EffectPool.get(pool), poolOptions.acquireTimeout, options, poolOptions.maxDedicated ?? 16)
    const withDedicated = <A, E, R>(
      f: (connection: Connection.Connection) => Effect.Effect<A, E, R>
    ): Effect.Effect<A, E | RedisError.RedisError, R> =>
      Effect.scoped(
        Effect.flatMap(borrow, (connection) =>
          // An idle connection may have been dropped by the server (idle
          // timeout, CLIENT KILL) and be reconnecting: wait for it, so the
          // borrower never sees a connection that refuses commands.
          Effect.onExit(Effect.andThen(connection.awaitReady, f(connection)), (exit) =>
            Exit.isSuccess(exit) ? Effect.void : EffectPool.invalidate(pool, connection)))
      )
    return { shared, withDedicated }
  })

// The shared connection; with a cache, tracked: its handshake turns
// CLIENT TRACKING on (before the user's own `onConnect`, so what that
// reads is tracked too), and cacheable reads are looked up before they go
// out. Dedicated connections are never tracked.
const sharedConnection = (
  options: RedisConfig.ConnectionOptions,
  poolOptions: PoolOptions | undefined,
  hooks: Connection.Hooks | undefined
): Effect.Effect<Connection.Connection, never, Scope.Scope | Transport> => {
  const cache = ClientCache.resolve(poolOptions?.cache)
  if (cache === undefined) return Connection.make(options, hooks)
  const tracked = ClientCache.track(cache)
  const user = options.onConnect
  const tracking: RedisConfig.ConnectionOptions = {
    ...options,
    onConnect: user === undefined ? tracked.onConnect : (session) => Effect.andThen(tracked.onConnect(session), user(session))
  }
  return Effect.gen(function*() {
    const connection = yield* Connection.make(tracking, Connection.mergeHooks(hooks, tracked.hooks))
    yield* Effect.addFinalizer(() => tracked.close)
    return tracked.wrap(connection)
  })
}

// The borrow, bounded: no connection within `timeout` fails it NotSent
// (nothing was written), naming the node and the bound.
const boundedGet = (
  get: Effect.Effect<Connection.Connection, RedisError.RedisError, Scope.Scope>,
  timeout: Duration.Input,
  options: RedisConfig.ConnectionOptions,
  max: number
): Effect.Effect<Connection.Connection, RedisError.RedisError, Scope.Scope> => {
  const millis = Duration.toMillis(Duration.fromInputUnsafe(timeout))
  return Effect.timeoutOrElse(get, {
    duration: timeout,
    orElse: () =>
      Effect.fail(RedisError.make(
        new RedisError.Timeout({
          message: `no dedicated connection to ${
            RedisConfig.formatEndpoint(options.endpoint)
          } within ${millis} ms (acquireTimeout; maxDedicated is ${max})`,
          millis
        }),
        "NotSent"
      ))
  })
}

/**
 * What is wrong with pool options, as "`name` must ...", or undefined. Pure.
 *
 * @category validation
 * @since 0.1.0
 */
export const problemOf = (poolOptions: PoolOptions): string | undefined => {
  const max = poolOptions.maxDedicated
  if (max !== undefined && (!Number.isInteger(max) || max < 1)) return "maxDedicated must be a positive integer"
  if (poolOptions.acquireTimeout !== undefined) {
    let d: Duration.Duration | undefined
    try {
      d = Duration.fromInputUnsafe(poolOptions.acquireTimeout)
    } catch {
      d = undefined
    }
    if (d === undefined || !Duration.isFinite(d) || Duration.toMillis(d) <= 0) {
      return "acquireTimeout must be a positive, finite duration"
    }
  }
  return poolOptions.cache === undefined ? undefined : ClientCache.problemOf(poolOptions.cache)
}

/**
 * Checks pool options (`problemOf`); fails with `InvalidArgument` naming the
 * option. Topologies run it when their layer is built.
 *
 * @category validation
 * @since 0.1.0
 */
export const validate = (poolOptions: PoolOptions): Effect.Effect<void, RedisError.RedisError> => {
  const problem = problemOf(poolOptions)
  return problem === undefined ? Effect.void : Effect.fail(RedisError.invalidArgument(problem))
}
