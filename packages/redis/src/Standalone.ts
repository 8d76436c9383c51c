/**
 * The single-server client: the `Redis` service over one redis-server (or
 * one replica, or anything else that speaks to one address).
 *
 * It wires, it does not implement: the node's `Pool` (one shared
 * multiplexed connection, dedicated ones on demand) lives in a
 * `NodeRegistry` of one node, so `redis.events` carries its connection
 * lifecycle; single commands go through `Delivery.withRetry(…, "server")`;
 * pub/sub has a connection of its own (`PubSub`); MONITOR opens a feed
 * connection per stream; `Redis.fromBackend` builds the service, with the
 * caller-level hooks of the client's middleware. Its options are checked
 * (`RedisConfig.resolve`, `Pool.validate`, `PubSub.validate`) before
 * anything is opened.
 *
 * It does not follow a failover or a topology change: that is `Sentinel`
 * and `Cluster`.
 *
 * @since 0.1.0
 */
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import type * as Schedule from "effect/Schedule"
import type * as Scope from "effect/Scope"
import * as Stream from "effect/Stream"
import * as Connection from "./Connection.ts"
import * as Delivery from "./Delivery.ts"
import * as Middleware from "./Middleware.ts"
import * as NodeRegistry from "./NodeRegistry.ts"
import * as Pool from "./Pool.ts"
import * as PubSub from "./PubSub.ts"
import * as Redis from "./Redis.ts"
import * as RedisConfig from "./RedisConfig.ts"
import type * as RedisError from "./RedisError.ts"
import * as TopologyEvent from "./TopologyEvent.ts"
import { Transport } from "./Transport.ts"

/**
 * Options of a standalone client.
 *
 * @category models
 * @since 0.1.0
 */
export type Options = RedisConfig.ClientOptions & Pool.PoolOptions & {
  /**
   * How to resend a command that failed in a way `Delivery.decide` calls
   * `Retry` (`LOADING`, `BUSY`, `MASTERDOWN`, lost connections, ...: only
   * when the command did not run, or may run twice). Default:
   * `Delivery.defaultRetry`.
   */
  readonly retry?: Schedule.Schedule<unknown, RedisError.RedisError> | undefined
  /**
   * The buffer of every subscription (a subscribe call may give its own):
   * how many messages may wait for a slow consumer (`bufferSize`, default
   * `PubSub.defaultBufferSize`) and which are dropped past that
   * (`strategy`: `dropping`, the newest, by default; or `sliding`, the
   * oldest). Drops are counted in `redis.pubsubDropped` and reported as
   * `overflow` gaps on the `…WithGaps` streams.
   */
  readonly subscriptionBuffer?: PubSub.BufferOptions | undefined
}

/**
 * A standalone client: one shared connection, dedicated connections on
 * demand, pub/sub on its own connection. Everything it opens closes with
 * the scope.
 *
 * @category constructors
 * @since 0.1.0
 */
export const make = (options: Options): Effect.Effect<Redis.RedisShape, RedisError.RedisError, Scope.Scope | Transport> =>
  Effect.gen(function*() {
    const resolved = yield* RedisConfig.resolve(options)
    yield* Pool.validate(options)
    yield* PubSub.validate(options)
    const transport = yield* Transport
    const middleware = yield* Middleware.resolve(options.middleware)
    const registry = yield* NodeRegistry.make((_node, hooks) =>
      Pool.make(resolved, options, hooks).pipe(Effect.provideService(Transport, transport))
    )
    const pool = yield* registry.get(RedisConfig.formatEndpoint(resolved.endpoint))
    const pubsub = yield* PubSub.make({ ...resolved, subscriptionBuffer: options.subscriptionBuffer }).pipe(
      Effect.provideService(Transport, transport)
    )
    return Redis.fromBackend({
      execute: Delivery.withRetry(pool.shared.send, options.retry ?? Delivery.defaultRetry, "server"),
      executeAll: pool.shared.sendAll,
      // One node: the keys do not choose. The pool waits until a borrowed
      // connection is ready (one dropped while idle may be reconnecting).
      withDedicated: (_keys, f) => pool.withDedicated(f),
      pubsub,
      events: registry.events.pipe(Stream.map(TopologyEvent.connection)),
      protocol: Effect.andThen(pool.shared.awaitReady, Effect.sync(() => pool.shared.protocol())),
      monitorConnection: (onPush) => Connection.makeFeed(resolved, onPush).pipe(Effect.provideService(Transport, transport))
    }, middleware)
  })

/**
 * A layer providing `Redis` for one standalone server. Needs a `Transport`
 * (`@redis-effect/node` provides one; `NodeClient.layer` is this layer with
 * it).
 *
 * @category layers
 * @since 0.1.0
 */
export const layer = (options: Options): Layer.Layer<Redis.Redis, RedisError.RedisError, Transport> =>
  Layer.effect(Redis.Redis)(Effect.map(make(options), Redis.Redis.of))
