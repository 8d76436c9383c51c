/**
 * `node examples/effect-stores.ts`: Effect's own persistence stores
 * (`effect/persistence`: RateLimiter, PersistedQueue, PersistedCache,
 * CircuitBreaker, and a KeyValueStore) on redis-effect, through
 * `EffectRedis.layer`, on an embedded standalone server, a 3x1 cluster and a
 * Sentinel group (started with `@redis-effect/testing`, stopped at the end).
 *
 * The program is the same on every topology; only the client layer changes.
 * Its prefixes carry hash tags (`{ratelimiter}:`, `{effectq}:`, store id
 * `{users}`), which is what makes Effect's multi-key scripts slot-safe on a
 * cluster; the last step shows the typed error an untagged prefix gets there.
 */
import { NodeClient, NodeCluster, NodeSentinel } from "@redis-effect/node"
import { Redis, RedisError } from "@redis-effect/redis"
import * as EffectRedis from "@redis-effect/redis/EffectRedis"
import * as EffectStores from "@redis-effect/redis/EffectStores"
import * as RedisKeyValueStore from "@redis-effect/redis/RedisKeyValueStore"
import { RedisCluster, RedisSentinel, RedisServer } from "@redis-effect/testing"
import { Console, Duration, Effect, Layer, Option, Schedule, Schema } from "effect"
import { CircuitBreaker, KeyValueStore, Persistable, PersistedCache, PersistedQueue, Persistence, RateLimiter } from "effect/persistence"

const step = (title: string) => Console.log(`\n— ${title}`)

class Price extends Persistable.Class<{ payload: { readonly sku: string } }>()("Price", {
  primaryKey: (p) => p.sku,
  success: Schema.Number
}) {}

// Every Effect store over Effect's `Redis`, which `EffectRedis.layer` provides.
const Stores = Layer.mergeAll(
  RateLimiter.layer.pipe(Layer.provide(RateLimiter.layerStoreRedis({ prefix: "{ratelimiter}:" }))),
  PersistedQueue.layer.pipe(Layer.provide(PersistedQueue.layerStoreRedis({ prefix: "{effectq}:", pollInterval: "50 millis" }))),
  Persistence.layerRedis,
  CircuitBreaker.layerStoreRedis({ prefix: "circuitbreaker:" }),
  RedisKeyValueStore.layer({ prefix: "kv:" })
)

const program = Effect.gen(function*() {
  yield* step("RateLimiter (token bucket): 3 calls per second, the 4th waits")
  const limiter = yield* RateLimiter.RateLimiter
  for (let i = 1; i <= 4; i++) {
    const r = yield* limiter.consume({ key: "api", limit: 3, window: "1 second", algorithm: "token-bucket", onExceeded: "delay" })
    yield* Console.log(`call ${i}: remaining ${r.remaining}, delay ${Math.round(Duration.toMillis(r.delay))} ms`)
  }

  yield* step("PersistedQueue: a job that fails once is retried")
  const queue = yield* PersistedQueue.make({ name: "emails", schema: Schema.Struct({ to: Schema.String }), retrySchedule: Schedule.spaced("50 millis") })
  yield* queue.offer({ to: "ada@example.com" })
  const first = yield* Effect.flip(queue.take((job, meta) => Effect.fail(`smtp down (attempt ${meta.attempts} for ${job.to})`)))
  const second = yield* queue.take((job, meta) => Effect.succeed(`sent to ${job.to} on attempt ${meta.attempts}`))
  yield* Console.log(`${first}; then ${second}`)

  yield* step("PersistedCache: the lookup runs once, later reads come from Redis")
  let lookups = 0
  const makeCache = PersistedCache.make((key: Price) => Effect.sync(() => (++lookups, key.sku.length * 10)), {
    storeId: "{users}",
    timeToLive: () => "1 minute"
  })
  const tea = new Price({ sku: "tea" })
  yield* (yield* makeCache).get(tea)
  // A second cache (another process, say) has an empty memory: Redis serves it.
  const other = yield* makeCache
  yield* Console.log(`price of tea from a second cache: ${yield* other.get(tea)}; lookups: ${lookups}`)
  yield* other.invalidate(tea)

  yield* step("CircuitBreaker: two failures open the circuit")
  const breaker = yield* CircuitBreaker.make({ tripPolicy: CircuitBreaker.consecutive(2), openDuration: "1 second" })
  const payments = Effect.fail("timeout").pipe(breaker.execute({ key: "payments" }))
  yield* Effect.flip(payments)
  yield* Effect.flip(payments)
  const rejected = yield* Effect.flip(payments)
  yield* Console.log(`third call: ${typeof rejected === "string" ? rejected : rejected.reason._tag}`)

  yield* step("KeyValueStore on Redis, with a schema")
  const kv = KeyValueStore.toSchemaStore(yield* KeyValueStore.KeyValueStore, Schema.Struct({ theme: Schema.String }))
  yield* kv.set("settings:ada", { theme: "dark" })
  const settings = yield* kv.modify("settings:ada", (s) => ({ ...s, theme: "light" }))
  yield* Console.log(`settings:ada -> ${Option.match(settings, { onNone: () => "none", onSome: (s) => s.theme })}; ${yield* kv.size} entries`)
}).pipe(Effect.scoped, Effect.provide(Stores))

// On a cluster, an untagged prefix is refused before anything is sent.
const unsafePrefix = Effect.gen(function*() {
  yield* step("cluster: Effect's default RateLimiter prefix has no hash tag")
  yield* Console.log(`is "ratelimiter:" slot-safe? ${EffectStores.isSlotSafe("RateLimiter", "ratelimiter:")}`)
  const limiter = yield* RateLimiter.RateLimiter
  const error = yield* Effect.flip(limiter.consume({ key: "api", limit: 3, window: "1 second", algorithm: "token-bucket" }))
  const cause = error.reason._tag === "RateLimitStoreError" ? (error.reason.cause as { readonly cause?: unknown }).cause : undefined
  yield* Console.log(RedisError.isRedisError(cause) ? cause.message : String(error))
}).pipe(Effect.provide(RateLimiter.layer.pipe(Layer.provide(RateLimiter.layerStoreRedis()))))

const on = <E>(client: Layer.Layer<Redis.Redis, E>) => Layer.provideMerge(EffectRedis.layer, client)

const main = Effect.gen(function*() {
  yield* Console.log("Effect's persistence stores on redis-effect: starting a local redis-server…")
  yield* Effect.scoped(Effect.gen(function*() {
    const server = yield* RedisServer.make()
    yield* program.pipe(Effect.provide(on(NodeClient.layer({ url: server.url }))))
  }))

  yield* Console.log("\n=== the same program on a local 3x1 Redis Cluster ===")
  yield* Effect.scoped(Effect.gen(function*() {
    const cluster = yield* RedisCluster.make()
    const client = on(NodeCluster.layer({ nodes: [`127.0.0.1:${cluster.startupNodes[0].port}`] }))
    yield* Effect.andThen(program, unsafePrefix).pipe(Effect.provide(client))
  }))

  yield* Console.log("\n=== and on the primary of a local Sentinel group ===")
  yield* Effect.scoped(Effect.gen(function*() {
    const group = yield* RedisSentinel.make()
    yield* program.pipe(Effect.provide(on(NodeSentinel.layerMaster({ sentinels: group.sentinelAddresses, masterName: group.masterName }))))
  }))
  yield* Console.log("\ndone; every server stopped.")
})

Effect.runPromise(main).then(
  () => process.exit(0),
  (error) => {
    console.error(error)
    process.exit(1)
  }
)
