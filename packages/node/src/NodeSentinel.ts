/**
 * Ready-made Node.js layers for a Sentinel-managed service: `Redis` for its
 * primary or its replicas, and the `Sentinel` service, over Node sockets.
 *
 * It only wires `NodeTransport` into the core's `Sentinel` layers; discovery
 * and failover following live in `@redis-effect/redis/Sentinel`.
 *
 * @since 0.1.0
 */
import type * as Redis from "@redis-effect/redis/Redis"
import type * as RedisError from "@redis-effect/redis/RedisError"
import * as Sentinel from "@redis-effect/redis/Sentinel"
import type * as Config from "effect/Config"
import * as Layer from "effect/Layer"
import * as NodeTransport from "./NodeTransport.ts"

/**
 * `Redis` for the primary of `masterName`, following failovers, plus the
 * `Sentinel` service (redis-py's `master_for`).
 *
 * @category layers
 * @since 0.1.0
 */
export const layerMaster = (
  options: Sentinel.Options
): Layer.Layer<Redis.Redis | Sentinel.Sentinel, RedisError.RedisError> =>
  Sentinel.layerMaster(options).pipe(Layer.provide(NodeTransport.layer))

/**
 * `Redis` over the replicas of `masterName`, round robin, falling back to the
 * primary (redis-py's `slave_for`).
 *
 * @category layers
 * @since 0.1.0
 */
export const layerReplica = (
  options: Sentinel.Options
): Layer.Layer<Redis.Redis | Sentinel.Sentinel, RedisError.RedisError> =>
  Sentinel.layerReplica(options).pipe(Layer.provide(NodeTransport.layer))

/**
 * The `Sentinel` service alone: `discoverMaster`, `discoverReplicas`, state and events.
 *
 * @category layers
 * @since 0.1.0
 */
export const layer = (options: Sentinel.Options): Layer.Layer<Sentinel.Sentinel, RedisError.RedisError> =>
  Sentinel.layer(options).pipe(Layer.provide(NodeTransport.layer))

/**
 * `layerMaster` with options read from `Config` (passwords as `Redacted`), e.g.
 * `NodeSentinel.layerMasterConfig({ sentinels: Config.succeed(["127.0.0.1:26379"]),
 * masterName: Config.String("SENTINEL_MASTER"), password: Config.Redacted("REDIS_PASSWORD") })`.
 *
 * @category layers
 * @since 0.1.0
 */
export const layerMasterConfig = (
  options: Config.Wrap<Sentinel.Options>
): Layer.Layer<Redis.Redis | Sentinel.Sentinel, RedisError.RedisError | Config.ConfigError> =>
  Sentinel.layerMasterConfig(options).pipe(Layer.provide(NodeTransport.layer))

/**
 * `layerReplica` with options read from `Config`.
 *
 * @category layers
 * @since 0.1.0
 */
export const layerReplicaConfig = (
  options: Config.Wrap<Sentinel.Options>
): Layer.Layer<Redis.Redis | Sentinel.Sentinel, RedisError.RedisError | Config.ConfigError> =>
  Sentinel.layerReplicaConfig(options).pipe(Layer.provide(NodeTransport.layer))

/**
 * `layer` (the `Sentinel` service alone) with options read from `Config`.
 *
 * @category layers
 * @since 0.1.0
 */
export const layerConfig = (
  options: Config.Wrap<Sentinel.Options>
): Layer.Layer<Sentinel.Sentinel, RedisError.RedisError | Config.ConfigError> =>
  Sentinel.layerConfig(options).pipe(Layer.provide(NodeTransport.layer))
