/**
 * Ready-made Node.js layers for Redis Cluster: `Redis.Redis` routed across
 * the cluster plus `Cluster.Cluster`, over Node sockets.
 *
 * @since 0.1.0
 */
import * as Cluster from "@redis-effect/redis/Cluster"
import type * as Redis from "@redis-effect/redis/Redis"
import type * as RedisError from "@redis-effect/redis/RedisError"
import * as Config from "effect/Config"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as NodeTransport from "./NodeTransport.ts"

/**
 * `Redis` and `Cluster` for a cluster reached through its startup nodes
 * (`nodes: ["127.0.0.1:7000", ...]`, or `url`, or `host` + `port`).
 *
 * @category layers
 * @since 0.1.0
 */
export const layer = (options: Cluster.Options): Layer.Layer<Redis.Redis | Cluster.Cluster, RedisError.RedisError> =>
  Cluster.layer(options).pipe(Layer.provide(NodeTransport.layer))

/**
 * The same, with options read from `Config`.
 *
 * @category layers
 * @since 0.1.0
 */
export const layerConfig = (
  options: Config.Wrap<Cluster.Options>
): Layer.Layer<Redis.Redis | Cluster.Cluster, RedisError.RedisError | Config.ConfigError> =>
  Layer.unwrap(Effect.map(Config.unwrap(options), layer))
