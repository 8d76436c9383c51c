/**
 * Effect's own persistence stores (`effect/persistence`), unchanged, on this
 * client through `EffectRedis.layer`, against real servers: a standalone
 * server, a 3x1 cluster and a Sentinel group. Per topology:
 *
 * - `RateLimiter`: fixed window and token bucket, failing and delaying;
 * - `PersistedQueue`: offer, take and ack, retry, fail (dead letter),
 *   delayed offers, de-duplication, cleanup (SCAN);
 * - `Persistence` and `PersistedCache`: get, set, setMany, getMany, remove,
 *   clear, TTL; a cache served from Redis by a second instance;
 * - `CircuitBreaker` with its Redis store: open, reject, probe, close;
 * - `RedisKeyValueStore` (with `toSchemaStore`);
 * - `reserve` (BLPOP, EVALSHA on the reserved connection), `send`'s RESP2
 *   shapes, `subscribe` across a disruption (subscriber connections killed;
 *   on Sentinel, a failover).
 *
 * Cluster only: raw EVALSHA sends no `COMMAND GETKEYS` (commandstats of
 * every node, against the client's own raw command as a baseline); unsafe
 * prefixes fail with the typed error before anything is sent; multi-key
 * reads and deletes of an untagged Persistence store split by slot; SCAN
 * walks every primary; a reserved handle holds connections on two nodes.
 * Standalone only: the key-spec table against `COMMAND GETKEYS`.
 */
import { assert, describe, it } from "@effect/vitest"
import * as Cluster from "@redis-effect/redis/Cluster"
import * as ClusterSlot from "@redis-effect/redis/ClusterSlot"
import * as Commands from "@redis-effect/redis/Commands"
import * as EffectRedis from "@redis-effect/redis/EffectRedis"
import * as Redis from "@redis-effect/redis/Redis"
import * as RedisError from "@redis-effect/redis/RedisError"
import * as RedisKeyValueStore from "@redis-effect/redis/RedisKeyValueStore"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import { CircuitBreaker, KeyValueStore, Persistable, PersistedCache, PersistedQueue, Persistence, RateLimiter } from "effect/persistence"
import * as EffectRedisService from "effect/persistence/Redis"
import * as Queue from "effect/Queue"
import * as Schedule from "effect/Schedule"
import * as Schema from "effect/Schema"
import { readFileSync } from "node:fs"
import { callsOf, cluster, type Env, sentinel, spread, standalone, Topology, type TopologyName } from "./effect-stores-support.ts"

const KEY_SPEC_CASES: ReadonlyArray<{ readonly args: string; readonly keys: ReadonlyArray<string> | null; readonly getkeys?: false }> =
  JSON.parse(readFileSync(new URL("../packages/redis/test/fixtures/keySpecCases.json", import.meta.url), "utf8"))

class Item extends Persistable.Class<{ payload: { readonly id: string } }>()("Item", {
  primaryKey: (p) => p.id,
  success: Schema.String
}) {}

const Job = Schema.Struct({ n: Schema.Number })

// This client's typed error inside a store's error: Effect's RedisError
// carries it as `cause`; store errors carry that (or it) as `cause`, or in
// their `reason` (RateLimiterError).
const causeOf = (error: unknown): RedisError.RedisError => {
  let e: unknown = error
  for (let i = 0; i < 4 && e !== undefined && !RedisError.isRedisError(e); i++) {
    const x = e as { readonly cause?: unknown; readonly reason?: { readonly cause?: unknown } }
    e = x.cause ?? x.reason?.cause
  }
  assert.isTrue(RedisError.isRedisError(e), `no RedisError in ${String(error)}`)
  return e as RedisError.RedisError
}

const effectRedis = Effect.service(EffectRedisService.Redis)
// In the cluster suite only (the layer provides it with the cluster client).
const clusterService = Effect.map(Effect.serviceOption(Cluster.Cluster), Option.getOrThrow)

// Publishes until the queue hears it (pub/sub is at-most-once; the
// subscription may not be confirmed yet, or may be resubscribing).
const hear = (queue: Queue.Dequeue<EffectRedisService.RedisMessage, EffectRedisService.RedisError>, channel: string, message: string) =>
  Effect.gen(function*() {
    const redis = yield* effectRedis
    for (let i = 0; i < 150; i++) {
      // During a Sentinel failover a PUBLISH may fail or reach the old primary.
      yield* Effect.ignore(redis.send("PUBLISH", channel, message))
      const got = yield* Queue.take(queue).pipe(Effect.timeoutOption("100 millis"))
      if (Option.isSome(got) && got.value.message === message) return got.value
    }
    return yield* Effect.die(`never heard ${message} on ${channel}`)
  })

const storeTests = (name: TopologyName, layer: Layer.Layer<Env, unknown>) =>
  it.layer(layer, { excludeTestServices: true, timeout: 120_000 })(name, (it) => {
    const p = (store: string) => `{${store}-${name}}:`

    it.effect("RateLimiter: fixed window fails past the limit, or returns the delay", () =>
      Effect.gen(function*() {
        const limiter = yield* RateLimiter.RateLimiter
        const options = { key: "api", limit: 3, window: "10 seconds" } as const
        for (let i = 0; i < 3; i++) assert.strictEqual((yield* limiter.consume(options)).remaining, 2 - i)
        const error = yield* Effect.flip(limiter.consume(options))
        assert.strictEqual(error.reason._tag, "RateLimitExceeded")
        const delayed = yield* limiter.consume({ ...options, onExceeded: "delay" })
        assert.isTrue(Duration.toMillis(delayed.delay) > 0)
      }).pipe(Effect.provide(RateLimiter.layer.pipe(Layer.provide(RateLimiter.layerStoreRedis({ prefix: p("rl") }))))))

    it.effect("RateLimiter: token bucket (two keys per script) fails past the limit, or returns the delay", () =>
      Effect.gen(function*() {
        const limiter = yield* RateLimiter.RateLimiter
        const options = { key: "bucket", limit: 2, window: "10 seconds", algorithm: "token-bucket" } as const
        assert.strictEqual((yield* limiter.consume(options)).remaining, 1)
        assert.strictEqual((yield* limiter.consume(options)).remaining, 0)
        const error = yield* Effect.flip(limiter.consume(options))
        assert.strictEqual(error.reason._tag, "RateLimitExceeded")
        const delayed = yield* limiter.consume({ ...options, onExceeded: "delay" })
        assert.isTrue(Duration.toMillis(delayed.delay) > 1000)
      }).pipe(Effect.provide(RateLimiter.layer.pipe(Layer.provide(RateLimiter.layerStoreRedis({ prefix: p("rl") }))))))

    it.effect("PersistedQueue: offer, take and ack, retry, fail, delayed, de-duplication, cleanup", () =>
      Effect.gen(function*() {
        const redis = yield* effectRedis
        const prefix = p("q")
        const queue = yield* PersistedQueue.make({
          name: "jobs",
          schema: Job,
          maxAttempts: 2,
          retrySchedule: Schedule.spaced("10 millis")
        })
        // offer, take, ack
        yield* queue.offer({ n: 1 }, { id: "a" })
        yield* queue.offer({ n: 1 }, { id: "a" })
        const first = yield* queue.take((job, meta) => Effect.succeed([job.n, meta.id, meta.attempts] as const))
        assert.deepStrictEqual(first, [1, "a", 1])
        assert.strictEqual(yield* redis.send<number>("HLEN", `${prefix}jobs:pending`), 0)
        assert.strictEqual(yield* redis.send<number>("LLEN", `${prefix}jobs`), 0, "the duplicate offer was dropped")
        // retry: a failed attempt comes back with attempts + 1
        yield* queue.offer({ n: 2 }, { id: "b" })
        assert.strictEqual(yield* Effect.flip(queue.take(() => Effect.fail("boom"))), "boom")
        assert.strictEqual(yield* queue.take((_, meta) => Effect.succeed(meta.attempts)), 2)
        // fail: maxAttempts reached -> the failed list
        yield* queue.offer({ n: 3 }, { id: "c" })
        yield* Effect.flip(queue.take(() => Effect.fail("one")))
        yield* Effect.flip(queue.take(() => Effect.fail("two")))
        const failed = yield* redis.send<Array<string>>("LRANGE", `${prefix}jobs:failed`, "0", "-1")
        assert.strictEqual(failed.length, 1)
        assert.strictEqual(JSON.parse(failed[0]).id, "c")
        // delayed
        const started = Date.now()
        yield* queue.offer({ n: 4 }, { delay: "300 millis" })
        assert.strictEqual(yield* queue.take((job) => Effect.succeed(job.n)), 4)
        assert.isAtLeast(Date.now() - started, 280)
        // cleanup walks `${prefix}*:ids` with SCAN and trims completed ids
        const store = yield* PersistedQueue.PersistedQueueStore
        assert.isAtLeast(yield* redis.send<number>("ZCARD", `${prefix}jobs:ids`), 3)
        yield* store.cleanup({ timeToLive: Duration.zero, failedTimeToLive: Duration.zero })
        assert.strictEqual(yield* redis.send<number>("ZCARD", `${prefix}jobs:ids`), 0)
        assert.strictEqual(yield* redis.send<number>("LLEN", `${prefix}jobs:failed`), 0)
      }).pipe(Effect.provide(
        PersistedQueue.layer.pipe(Layer.provideMerge(PersistedQueue.layerStoreRedis({ prefix: p("q"), pollInterval: "20 millis" })))
      )))

    it.effect("Persistence: get, set, setMany, getMany, remove, clear, TTL", () =>
      Effect.gen(function*() {
        const redis = yield* effectRedis
        const persistence = yield* Persistence.Persistence
        const storeId = `{users-${name}}`
        const store = yield* persistence.make({
          storeId,
          timeToLive: (_, key) => (key as Item).id.startsWith("ttl") ? "300 millis" : Duration.infinity
        })
        const item = (id: string) => new Item({ id })
        const value = (exit: Exit.Exit<string, never> | undefined) =>
          exit === undefined ? undefined : Exit.isSuccess(exit) ? exit.value : "failure"
        yield* store.set(item("a"), Exit.succeed("A"))
        assert.strictEqual(value(yield* store.get(item("a"))), "A")
        yield* store.setMany([[item("b"), Exit.succeed("B")], [item("c"), Exit.succeed("C")], [item("ttl1"), Exit.succeed("T")]])
        const many = yield* store.getMany([item("a"), item("b"), item("c"), item("missing"), item("ttl1")])
        assert.deepStrictEqual(many.map(value), ["A", "B", "C", undefined, "T"])
        const pttl = yield* redis.send<number>("PTTL", `${storeId}:ttl1`)
        assert.isTrue(pttl > 0 && pttl <= 300, `PTTL ${pttl}`)
        yield* store.set(item("ttl2"), Exit.succeed("T2"))
        yield* Effect.sleep("400 millis")
        assert.strictEqual(yield* store.get(item("ttl1")), undefined)
        assert.strictEqual(yield* store.get(item("ttl2")), undefined)
        yield* store.remove(item("a"))
        assert.strictEqual(yield* store.get(item("a")), undefined)
        yield* store.clear
        assert.deepStrictEqual((yield* store.getMany([item("b"), item("c")])).map(value), [undefined, undefined])
      }).pipe(Effect.scoped, Effect.provide(Persistence.layerRedis)))

    it.effect("PersistedCache: a second instance is served from Redis; invalidate looks up again", () =>
      Effect.gen(function*() {
        let lookups = 0
        const make = PersistedCache.make((key: Item) => Effect.sync(() => `value of ${key.id} #${++lookups}`), {
          storeId: `{cache-${name}}`,
          timeToLive: () => "1 minute"
        })
        const one = yield* make
        const two = yield* make
        assert.strictEqual(yield* one.get(new Item({ id: "k" })), "value of k #1")
        assert.strictEqual(yield* two.get(new Item({ id: "k" })), "value of k #1")
        assert.strictEqual(lookups, 1)
        yield* one.invalidate(new Item({ id: "k" }))
        const three = yield* make
        assert.strictEqual(yield* three.get(new Item({ id: "k" })), "value of k #2")
      }).pipe(Effect.scoped, Effect.provide(Persistence.layerRedis)))

    it.effect("CircuitBreaker's Redis store: opens, rejects, probes after the open time, closes", () =>
      Effect.gen(function*() {
        const breaker = yield* CircuitBreaker.make({ tripPolicy: CircuitBreaker.consecutive(2), openDuration: "300 millis" })
        const failing = Effect.fail("down").pipe(breaker.execute({ key: "payments" }))
        assert.strictEqual(yield* Effect.flip(failing), "down")
        assert.strictEqual(yield* Effect.flip(failing), "down")
        const rejected = yield* Effect.flip(failing)
        assert.instanceOf(rejected, CircuitBreaker.CircuitBreakerError)
        assert.strictEqual((rejected as CircuitBreaker.CircuitBreakerError).reason._tag, "CircuitOpen")
        assert.strictEqual((yield* breaker.state("payments"))._tag, "Open")
        yield* Effect.sleep("350 millis")
        assert.strictEqual(yield* Effect.succeed(42).pipe(breaker.execute({ key: "payments" })), 42)
        assert.strictEqual((yield* breaker.state("payments"))._tag, "Closed")
      }).pipe(Effect.scoped, Effect.provide(CircuitBreaker.layerStoreRedis({ prefix: `cb-${name}:` }))))

    it.effect("RedisKeyValueStore: get, set, bytes, has, size, keys, modify, remove, clearPrefix, clear; toSchemaStore", () =>
      Effect.gen(function*() {
        const kv = yield* KeyValueStore.KeyValueStore
        yield* kv.clear
        for (let i = 0; i < 20; i++) yield* kv.set(`user:${i}`, String(i))
        yield* kv.set("blob", new Uint8Array([0, 1, 254, 255]))
        assert.strictEqual(yield* kv.get("user:3"), "3")
        assert.strictEqual(yield* kv.get("missing"), undefined)
        assert.deepStrictEqual(yield* kv.getUint8Array("blob"), new Uint8Array([0, 1, 254, 255]))
        assert.isTrue(yield* kv.has("user:0"))
        assert.isFalse(yield* kv.has("missing"))
        assert.strictEqual(yield* kv.size, 21)
        assert.strictEqual((yield* kv.keys).filter((k) => k.startsWith("user:")).length, 20)
        assert.strictEqual(yield* kv.modify("user:1", (v) => `${v}!`), "1!")
        assert.strictEqual(yield* kv.get("user:1"), "1!")
        assert.strictEqual(yield* kv.modify("missing", (v) => v), undefined)
        // modify is atomic: concurrent increments are not lost
        yield* kv.set("counter", "0")
        yield* Effect.forEach(Array.from({ length: 8 }), () => kv.modify("counter", (v) => String(Number(v) + 1)), {
          concurrency: 4,
          discard: true
        })
        assert.strictEqual(yield* kv.get("counter"), "8")
        yield* kv.remove("user:0")
        assert.isFalse(yield* kv.has("user:0"))
        yield* kv.clearPrefix("user:1")
        assert.strictEqual((yield* kv.keys).filter((k) => k.startsWith("user:1")).length, 0)
        const schema = KeyValueStore.toSchemaStore(kv, Job)
        yield* schema.set("job", { n: 7 })
        assert.deepStrictEqual(yield* schema.get("job"), Option.some({ n: 7 }))
        assert.deepStrictEqual(yield* schema.modify("job", (j) => ({ n: j.n + 1 })), Option.some({ n: 8 }))
        yield* kv.clear
        assert.strictEqual(yield* kv.size, 0)
        assert.isTrue(yield* kv.isEmpty)
      }).pipe(Effect.provide(RedisKeyValueStore.layer({ prefix: `kv-${name}:` }))))

    it.effect("send returns RESP2 shapes over RESP3 (maps, sets, scores)", () =>
      Effect.gen(function*() {
        const redis = yield* effectRedis
        const k = `{shapes-${name}}`
        yield* redis.send("HSET", `${k}:h`, "f", "v")
        assert.deepStrictEqual(yield* redis.send("HGETALL", `${k}:h`), ["f", "v"])
        yield* redis.send("SADD", `${k}:s`, "x")
        assert.deepStrictEqual(yield* redis.send("SMEMBERS", `${k}:s`), ["x"])
        yield* redis.send("ZADD", `${k}:z`, "1.5", "a", "2", "b")
        assert.strictEqual(yield* redis.send("ZSCORE", `${k}:z`, "a"), "1.5")
        assert.deepStrictEqual(yield* redis.send("ZRANGE", `${k}:z`, "0", "-1", "WITHSCORES"), ["a", "1.5", "b", "2"])
        assert.deepStrictEqual(yield* redis.send("mget", `${k}:h`, `${k}:none`), [null, null])
      }))

    it.effect("reserve: BLPOP and a script on a dedicated connection, released with the scope", () =>
      Effect.gen(function*() {
        const redis = yield* effectRedis
        const key = `reserve-${name}`
        const bump = EffectRedisService.script((k: string) => [k], { numberOfKeys: 1, lua: "return redis.call('INCR', KEYS[1])" })
          .withReturnType<number>()
        yield* Effect.scoped(Effect.gen(function*() {
          const connection = yield* redis.reserve
          const waiting = yield* Effect.forkChild(connection.send<[string, string]>("BLPOP", key, "5"))
          yield* Effect.sleep("100 millis")
          yield* redis.send("RPUSH", key, "job-1")
          assert.deepStrictEqual(yield* Fiber.join(waiting), [key, "job-1"])
          assert.strictEqual(yield* connection.eval(bump)(`${key}:n`), 1)
          assert.strictEqual(yield* connection.eval(bump)(`${key}:n`), 2)
        }))
      }))

    if (name === "standalone") {
      it.effect("the key specs agree with the server's COMMAND GETKEYS", () =>
        Effect.gen(function*() {
          const redis = yield* Redis.Redis
          let checked = 0
          for (const c of KEY_SPEC_CASES) {
            if (c.getkeys === false || c.keys === null) continue
            const args = c.args.split(" ")
            const server = yield* redis.execute(Commands.raw(["COMMAND", "GETKEYS", ...args])).pipe(
              Effect.map((r) => (r as Array<string>).map(String)),
              Effect.catch((e) => Effect.succeed(e.message.includes("no key arguments") ? [] : [`error: ${e.message}`]))
            )
            assert.deepStrictEqual(EffectRedis.keysOf(args), server, c.args)
            checked++
          }
          console.log(`key specs checked against COMMAND GETKEYS: ${checked} commands`)
          assert.isAtLeast(checked, 70)
        }))
    }

    if (name === "cluster") {
      // -----------------------------------------------------------------------
      // cluster only
      // -----------------------------------------------------------------------

      it.effect("raw EVALSHA is routed by its declared keys: no COMMAND GETKEYS on any node", () =>
        Effect.gen(function*() {
          const redis = yield* effectRedis
          const client = yield* Redis.Redis
          const topology = yield* Topology
          const lua = "return redis.call('INCR', KEYS[1])"
          const sha = yield* redis.send<string>("SCRIPT", "LOAD", lua)
          const keyless = yield* redis.send<string>("SCRIPT", "LOAD", "return 7")
          const keys = spread("getkeys", 50)
          const before = callsOf(yield* topology.commandstats, "command|getkeys")
          for (const key of keys) assert.strictEqual(yield* redis.send("EVALSHA", sha, "1", key), 1)
          for (let i = 0; i < 5; i++) assert.strictEqual(yield* redis.send("EVALSHA", keyless, "0"), 7)
          const after = callsOf(yield* topology.commandstats, "command|getkeys")
          // Baseline: the client's own raw command, keys undeclared, asks the server.
          for (const key of keys.slice(0, 5)) yield* client.execute(Commands.raw(["EVALSHA", sha, "1", key]))
          const baseline = callsOf(yield* topology.commandstats, "command|getkeys")
          console.log(`COMMAND GETKEYS: ${after - before} for 55 EVALSHA (50 keyed, 5 numkeys 0) through EffectRedis; ${baseline - after} for 5 raw EVALSHA without declared keys`)
          assert.strictEqual(after - before, 0)
          assert.isAtLeast(baseline - after, 1)
        }))

      it.effect("unsafe prefixes fail with the typed error, naming the fix, before anything is sent", () =>
        Effect.gen(function*() {
          const topology = yield* Topology
          const scripts = (stats: ReadonlyArray<Record<string, string>>) => callsOf(stats, "evalsha") + callsOf(stats, "eval")
          const before = scripts(yield* topology.commandstats)
          const bucket = yield* RateLimiter.RateLimiter.pipe(
            Effect.flatMap((l) => Effect.flip(l.consume({ key: "u1", limit: 5, window: "1 minute", algorithm: "token-bucket" }))),
            Effect.provide(RateLimiter.layer.pipe(Layer.provide(RateLimiter.layerStoreRedis())))
          )
          const queued = yield* PersistedQueue.make({ name: "jobs", schema: Job }).pipe(
            Effect.flatMap((q) => Effect.flip(q.offer({ n: 1 }, { id: "x" }))),
            Effect.provide(PersistedQueue.layer.pipe(Layer.provide(PersistedQueue.layerStoreRedis())))
          )
          const many = yield* Persistence.Persistence.pipe(
            Effect.flatMap((p) => p.make({ storeId: "plain" })),
            Effect.flatMap((s) => Effect.flip(s.setMany([[new Item({ id: "a" }), Exit.succeed("A")], [new Item({ id: "b" }), Exit.succeed("B")]]))),
            Effect.scoped,
            Effect.provide(Persistence.layerRedis)
          )
          const after = scripts(yield* topology.commandstats)
          for (const [error, fix] of [[bucket, `prefix: "{ratelimiter}:"`], [queued, `prefix: "{effectq}:"`], [many, `storeId: "{users}"`]] as const) {
            const cause = causeOf(error)
            assert.strictEqual(cause.reason._tag, "InvalidArgument")
            assert.strictEqual(cause.outcome, "NotSent")
            assert.include(cause.message, fix)
            console.log(`unsafe prefix -> ${cause.message}`)
          }
          assert.strictEqual(after, before, "no script reached a node")
        }))

      it.effect("an untagged Persistence store: getMany and clear split by slot; KEYS fans out", () =>
        Effect.gen(function*() {
          const cluster = yield* clusterService
          const persistence = yield* Persistence.Persistence
          const store = yield* persistence.make({ storeId: "spread" })
          const items = Array.from({ length: 20 }, (_, i) => new Item({ id: `i${i}` }))
          const slots = new Set(items.map((i) => ClusterSlot.keyslot(`spread:${i.id}`)))
          assert.isAbove(slots.size, 10)
          yield* Effect.forEach(items, (item) => store.set(item, Exit.succeed(item.id)), { discard: true })
          const got = yield* store.getMany(items)
          assert.deepStrictEqual(got.map((e) => e !== undefined && Exit.isSuccess(e) ? e.value : undefined), items.map((i) => i.id))
          yield* store.clear
          assert.isTrue((yield* store.getMany(items)).every((e) => e === undefined))
          assert.strictEqual((yield* cluster.primaries).length, 3)
        }).pipe(Effect.scoped, Effect.provide(Persistence.layerRedis)))

      it.effect("SCAN through send walks every primary behind one cursor", () =>
        Effect.gen(function*() {
          const redis = yield* effectRedis
          const keys = spread("scanme", 60)
          yield* Effect.forEach(keys, (k) => redis.send("SET", k, "1"), { discard: true })
          const seen = new Set<string>()
          let cursor = "0"
          let pages = 0
          do {
            const [next, batch] = yield* redis.send<[string, Array<string>]>("SCAN", cursor, "MATCH", "scanme:*", "COUNT", "10")
            for (const k of batch) seen.add(k)
            cursor = next
            pages++
          } while (cursor !== "0" && pages < 1000)
          assert.strictEqual(seen.size, 60)
          assert.deepStrictEqual([...seen].sort(), [...keys].sort())
          // KEYS without a tag fans out to every primary
          assert.strictEqual((yield* redis.send<Array<string>>("KEYS", "scanme:*")).length, 60)
        }))

      it.effect("reserve holds a connection per node: BLPOP on keys of two primaries", () =>
        Effect.gen(function*() {
          const redis = yield* effectRedis
          const cluster = yield* clusterService
          const first = "reserve-a"
          const owner = yield* cluster.nodeFor(first)
          let second = "reserve-b"
          for (let i = 0; (yield* cluster.nodeFor(second)).port === owner.port; i++) second = `reserve-b${i}`
          yield* Effect.scoped(Effect.gen(function*() {
            const connection = yield* redis.reserve
            for (const key of [first, second]) {
              const waiting = yield* Effect.forkChild(connection.send<[string, string]>("BLPOP", key, "5"))
              yield* Effect.sleep("100 millis")
              yield* redis.send("RPUSH", key, "v")
              assert.deepStrictEqual(yield* Fiber.join(waiting), [key, "v"])
            }
            // keys of two slots in one command: refused, nothing sent
            const cross = yield* Effect.flip(connection.send("BLPOP", first, second, "1"))
            assert.strictEqual(causeOf(cross).reason._tag, "CrossSlot")
          }))
        }))

      it.effect("reserve follows a slot that moved: MOVED, refresh, the new owner's connection", () =>
        Effect.gen(function*() {
          const redis = yield* effectRedis
          const cluster = yield* clusterService
          const topology = yield* Topology
          const key = "reserve-moving"
          yield* redis.send("RPUSH", key, "a", "b")
          yield* Effect.scoped(Effect.gen(function*() {
            const connection = yield* redis.reserve
            assert.strictEqual(yield* connection.send("LPOP", key), "a")
            const before = yield* cluster.nodeFor(key)
            yield* topology.moveSlotOf(key)
            // The client has not seen the move: the held connection answers MOVED first.
            assert.strictEqual(yield* connection.send("LPOP", key), "b")
            const after = yield* cluster.nodeFor(key)
            assert.notStrictEqual(after.port, before.port)
          }))
        }))
    }

    it.effect("subscribe: the queue keeps receiving across a disruption", () =>
      Effect.gen(function*() {
        const redis = yield* effectRedis
        const topology = yield* Topology
        yield* Effect.scoped(Effect.gen(function*() {
          const queue = yield* redis.subscribe(`news-${name}`)
          assert.deepStrictEqual(yield* hear(queue, `news-${name}`, "before"), { channel: `news-${name}`, message: "before" })
          yield* topology.disrupt
          assert.deepStrictEqual(yield* hear(queue, `news-${name}`, "after"), { channel: `news-${name}`, message: "after" })
        }))
        // The stores still work afterwards (on Sentinel: on the new primary).
        const set = redis.send("SET", `after-${name}`, "1").pipe(Effect.retry({ schedule: Schedule.spaced("200 millis"), times: 25 }))
        assert.strictEqual(yield* set, "OK")
      }))
  })

describe("Effect's persistence stores on redis-effect", () => {
  storeTests("standalone", standalone)
  storeTests("cluster", cluster)
  storeTests("sentinel", sentinel)
})
