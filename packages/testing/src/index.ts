/**
 * `@redis-effect/testing`: real `redis-server` processes on free loopback
 * ports as scoped Effects and layers, a test PKI, a fault-injecting TCP proxy
 * and a scripted mock server for hostile replies.
 *
 * Node-only test infrastructure; it does not depend on the redis-effect
 * client, so it keeps working while the client is broken.
 *
 * @since 0.1.0
 */

/** @since 0.1.0 */
export * as FaultProxy from "./FaultProxy.ts"
/** @since 0.1.0 */
export * as MockServer from "./MockServer.ts"
/** @since 0.1.0 */
export * as Ports from "./Ports.ts"
/** @since 0.1.0 */
export * as RedisSentinel from "./RedisSentinel.ts"
/** @since 0.1.0 */
export * as RedisCluster from "./RedisCluster.ts"
/** @since 0.1.0 */
export * as RedisServer from "./RedisServer.ts"
/** @since 0.1.0 */
export { ServerError } from "./ServerError.ts"
/** @since 0.1.0 */
export * as Tls from "./Tls.ts"
