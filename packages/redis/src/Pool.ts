/**
 * The connections of one node: one shared, multiplexed connection for
 * ordinary commands, and a bounded pool of dedicated connections for what
 * would stall it — blocking commands (BLPOP, XREAD BLOCK, WAIT, ...) and
 * MULTI/WATCH transactions, whose connection state must not leak into other
 * callers' commands.
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
import * as Connection from "./Connection.ts"
import type * as RedisConfig from "./RedisConfig.ts"
import * as Middleware from "./Middleware.ts"
import type * as RedisError from "./RedisError.ts"
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
   * Middlewares every command of this client passes (see `Middleware`);
   * those of the layer's `Middleware.Middlewares` follow them.
   */
  readonly middleware?: Middleware.Middleware | ReadonlyArray<Middleware.Middleware> | undefined
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
    const shared = Middleware.wrapConnection(yield* Connection.make(options, hooks), middleware)
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
    const withDedicated = <A, E, R>(
      f: (connection: Connection.Connection) => Effect.Effect<A, E, R>
    ): Effect.Effect<A, E | RedisError.RedisError, R> =>
      Effect.scoped(
        Effect.flatMap(EffectPool.get(pool), (connection) =>
          // An idle connection may have been dropped by the server (idle
          // timeout, CLIENT KILL) and be reconnecting: wait for it, so the
          // borrower never sees a connection that refuses commands.
          Effect.onExit(Effect.andThen(connection.awaitReady, f(connection)), (exit) =>
            Exit.isSuccess(exit) ? Effect.void : EffectPool.invalidate(pool, connection)))
      )
    return { shared, withDedicated }
  })
