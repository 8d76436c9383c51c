/**
 * @redis-effect/redis — the platform-agnostic core of redis-effect.
 *
 * @since 0.1.0
 */
export * as Command from "./Command.ts"
export * as Commands from "./Commands.ts"
export * as Connection from "./Connection.ts"
export * as Pool from "./Pool.ts"
export * as PubSub from "./PubSub.ts"
export * as Redis from "./Redis.ts"
export * as RedisConfig from "./RedisConfig.ts"
export * as RedisError from "./RedisError.ts"
export * as Resp from "./Resp.ts"
export * as Script from "./Script.ts"
export * as Transport from "./Transport.ts"
export * as CustomCommand from "./CustomCommand.ts"
export * as Cluster from "./cluster/Cluster.ts"
export * as ClusterRouter from "./cluster/ClusterRouter.ts"
export * as ClusterSlot from "./cluster/ClusterSlot.ts"
export * as ClusterTopology from "./cluster/ClusterTopology.ts"
export * as Sentinel from "./sentinel/Sentinel.ts"
