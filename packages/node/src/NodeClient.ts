/**
 * Ready-made Node.js layers: the `Redis` service over Node sockets.
 *
 * (`@effect/platform-node` already exports a `NodeRedis` — its wrapper of
 * the node-redis library — so this module is `NodeClient` to keep the two
 * apart.)
 *
 * @since 0.1.0
 */
import type * as Redis from "@redis-effect/redis/Redis"
import * as RedisConfig from "@redis-effect/redis/RedisConfig"
import type * as RedisError from "@redis-effect/redis/RedisError"
import * as Standalone from "@redis-effect/redis/Standalone"
import * as Config from "effect/Config"
import type * as ConfigError from "effect/Config"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as NodeTransport from "./NodeTransport.ts"

/**
 * `Redis` for one standalone server, from options or a URL:
 * `Standalone.layer` over Node sockets. Building it checks the options,
 * those only Node can judge included (`NodeTransport.validate`: keepalive
 * probes, readable TLS files).
 *
 * @category layers
 * @since 0.1.0
 */
export const layer = (options: Standalone.Options): Layer.Layer<Redis.Redis, RedisError.RedisError> =>
  Layer.unwrap(
    Effect.as(Effect.flatMap(RedisConfig.resolve(options), NodeTransport.validate), Standalone.layer(options))
  ).pipe(Layer.provide(NodeTransport.layer))

/**
 * `Redis` for one standalone server, with options read from `Config`
 * (e.g. `NodeClient.layerConfig({ url: Config.String("REDIS_URL") })`).
 *
 * @category layers
 * @since 0.1.0
 */
export const layerConfig = (
  options: Config.Wrap<Standalone.Options>
): Layer.Layer<Redis.Redis, RedisError.RedisError | ConfigError.ConfigError> =>
  Layer.unwrap(Effect.map(Config.unwrap(options), layer))

/**
 * `Redis` configured from the environment: `REDIS_URL` or `REDIS_HOST` /
 * `REDIS_PORT`, `REDIS_USERNAME`, `REDIS_PASSWORD`, `REDIS_DB`,
 * `REDIS_CLIENT_NAME`.
 *
 * @category layers
 * @since 0.1.0
 */
export const layerFromEnv = (prefix = "REDIS"): Layer.Layer<Redis.Redis, RedisError.RedisError | ConfigError.ConfigError> =>
  Layer.unwrap(Effect.map(RedisConfig.fromEnv(prefix), layer))
