/**
 * Server-assisted client-side caching (`ClientCache`) against real servers:
 * what it serves and when it stops serving it, then a stale-read checker on
 * a standalone server whose connections are killed, on a 3x1 cluster
 * during a live migration of the keys' slots, and on a Sentinel group
 * during `SENTINEL FAILOVER`.
 *
 * The checker: every key starts at "0" and a writer on another client (no
 * cache) sets each to "1" exactly once, in random order, while readers read
 * random keys through the cache (three GET one key at a time, one MGETs
 * three: the cache serves MGET key by key). A read that returned "0" is
 * **stale** when it began after the write of "1" was acknowledged (plus
 * `GRACE`) and after that write's invalidation could have reached the
 * reader: an invalidation of the key (or a flush) arrived after the write
 * was sent, or the reader's connection had dropped before the read (the
 * server then forgot what it tracked, so no invalidation will ever come for
 * what was cached before: the cache must have forgotten it too). Each key
 * changes once, so no earlier write's late invalidation can be mistaken for
 * this one's. `GRACE` (20 ms) only keeps a reader that has not yet
 * processed the push from counting; a cache that misses an invalidation or
 * a dropped session serves the old value for seconds (until `ttl`).
 */
import { assert, describe, it } from "@effect/vitest"
import * as NodeClient from "@redis-effect/node/NodeClient"
import * as NodeCluster from "@redis-effect/node/NodeCluster"
import * as NodeSentinel from "@redis-effect/node/NodeSentinel"
import * as ClientCache from "@redis-effect/redis/ClientCache"
import * as ClusterSlot from "@redis-effect/redis/ClusterSlot"
import * as Commands from "@redis-effect/redis/Commands"
import * as Metrics from "@redis-effect/redis/Metrics"
import * as Redis from "@redis-effect/redis/Redis"
import * as RedisCluster from "@redis-effect/testing/RedisCluster"
import * as RedisSentinel from "@redis-effect/testing/RedisSentinel"
import * as RedisServer from "@redis-effect/testing/RedisServer"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"
import * as Layer from "effect/Layer"
import * as PrometheusMetrics from "effect/observability/PrometheusMetrics"
import * as Option from "effect/Option"
import * as Stream from "effect/Stream"
import { optionsFor } from "./sentinel-support.ts"

const GRACE = 20

const build = <E>(layer: Layer.Layer<Redis.Redis, E>) =>
  Effect.map(Layer.build(layer), (ctx) => ctx.mapUnsafe.get(Redis.Redis.key) as Redis.RedisShape)

const getCalls = (info: Record<string, string>) => Number(/calls=(\d+)/.exec(info.cmdstat_get ?? "")?.[1] ?? 0)

/** Waits (bounded) until `check` holds. */
const eventually = (what: string, check: () => boolean) =>
  Effect.gen(function*() {
    for (let i = 0; i < 200 && !check(); i++) yield* Effect.sleep("10 millis")
    assert.isTrue(check(), what)
  })

describe("ClientCache on a standalone server", () => {
  it.live("hits stay in the process; another client's write, FLUSHALL and a killed connection drop what they must", () =>
    Effect.gen(function*() {
      const server = yield* RedisServer.make()
      const invalidated: Array<ReadonlyArray<string> | null> = []
      const cache = ClientCache.make({ onInvalidate: (keys) => invalidated.push(keys) })
      const reader = yield* build(NodeClient.layer({ url: server.url, cache, clientName: "cc-reader" }))
      const writer = yield* build(NodeClient.layer({ url: server.url }))
      yield* writer.set("user:1", "ada")
      yield* server.cli("CONFIG", "RESETSTAT")
      for (let i = 0; i < 100; i++) assert.deepStrictEqual(yield* reader.get("user:1"), Option.some("ada"))
      assert.strictEqual(getCalls(yield* server.info("commandstats")), 1, "one GET reached the server")
      const afterReads = yield* cache.stats
      assert.strictEqual(afterReads.hits, 99)
      assert.strictEqual(afterReads.entries, 1)
      // The same counters as metrics.
      yield* Metrics.trackCache(cache, { interval: "20 millis", attributes: { client: "cc-reader" } })
      yield* Effect.sleep("100 millis")
      const text = yield* PrometheusMetrics.format()
      assert.match(text, /redis_cache_hits_total\{[^}]*client="cc-reader"[^}]*\} 99\b/)
      assert.match(text, /redis_cache_misses_total\{[^}]*client="cc-reader"[^}]*\} 1\b/)
      assert.match(text, /redis_cache_entries\{[^}]*client="cc-reader"[^}]*\} 1\b/)

      // Another client's write: the server pushes the invalidation.
      yield* writer.set("user:1", "grace")
      yield* eventually("the invalidation arrived", () => invalidated.some((k) => k?.includes("user:1") === true))
      assert.deepStrictEqual(yield* reader.get("user:1"), Option.some("grace"))

      // FLUSHALL: a null invalidation, everything goes.
      yield* reader.get("user:1")
      yield* writer.execute(Commands.flushall())
      yield* eventually("the flush arrived", () => invalidated.includes(null))
      assert.strictEqual((yield* cache.stats).entries, 0)
      assert.deepStrictEqual(yield* reader.get("user:1"), Option.none())

      // A killed connection: its entries go; a write made while it was down is seen.
      yield* writer.set("user:2", "before")
      assert.deepStrictEqual(yield* reader.get("user:2"), Option.some("before"))
      assert.strictEqual((yield* cache.stats).entries, 2)
      yield* server.clientKill("SKIPME", "yes", "TYPE", "normal")
      yield* eventually("the killed session's entries were dropped", () => Effect.runSync(cache.stats).entries === 0)
      yield* writer.set("user:2", "after")
      assert.deepStrictEqual(yield* reader.get("user:2"), Option.some("after"))
      // Opting out per call reaches the server every time.
      yield* server.cli("CONFIG", "RESETSTAT")
      yield* reader.execute(ClientCache.uncached(Commands.get("user:2")))
      yield* reader.execute(ClientCache.uncached(Commands.get("user:2")))
      assert.strictEqual(getCalls(yield* server.info("commandstats")), 2)
    }).pipe(Effect.scoped), 60_000)

  it.live("RESP2 or refused tracking: a typed error, never a silent uncached client", () =>
    Effect.gen(function*() {
      const server = yield* RedisServer.make()
      const exit = yield* Effect.exit(Effect.flatMap(
        build(NodeClient.layer({ url: server.url, protocol: 2, cache: {}, connectTimeout: "2 seconds" })),
        (redis) => redis.get("k")
      ))
      assert.isTrue(Exit.isFailure(exit))
      const error = Exit.isFailure(exit) ? exit.cause.reasons[0] : undefined
      const message = String(error?._tag === "Fail" ? (error.error as { message?: string }).message : error)
      assert.include(message, "RESP3")
      const bad = yield* Effect.exit(build(NodeClient.layer({ url: server.url, cache: { maxEntries: -1 } })))
      assert.isTrue(Exit.isFailure(bad))
    }).pipe(Effect.scoped), 30_000)
})

// -----------------------------------------------------------------------------
// the stale-read checker
// -----------------------------------------------------------------------------

interface CheckResult {
  readonly reads: number
  readonly stale: number
  readonly writes: number
  /** Writes acknowledged while the fault was under way. */
  readonly writesDuringFault: number
  readonly hits: number
  readonly misses: number
  readonly invalidations: number
  readonly readErrors: number
}

/**
 * Runs the checker over `keys` with `fault` one second in; `events` is the
 * reader's `redis.events` (its dropped connections count as lost tracking).
 */
const staleCheck = (
  label: string,
  options: {
    readonly reader: Redis.RedisShape
    readonly writer: Redis.RedisShape
    readonly cache: ClientCache.ClientCache
    readonly invalidations: { listener: (keys: ReadonlyArray<string> | null) => void }
    readonly keys: ReadonlyArray<string>
    readonly fault: Effect.Effect<unknown, unknown>
    /** A cluster: the keys of one MGET share a slot. */
    readonly cluster?: boolean
  }
) =>
  Effect.gen(function*() {
    const { cache, keys, reader, writer } = options
    yield* Effect.forEach(keys, (k) => writer.set(k, "0"), { concurrency: 50, discard: true })
    const sentAt = new Map<string, number>()
    const ackAt = new Map<string, number>()
    const invalidatedAt = new Map<string, number>()
    let droppedAt = -Infinity
    options.invalidations.listener = (names) => {
      const now = performance.now()
      for (const k of names ?? [...sentAt.keys()]) if (sentAt.has(k) && !invalidatedAt.has(k)) invalidatedAt.set(k, now)
    }
    yield* Effect.forkScoped(Stream.runForEach(reader.events, (e) =>
      Effect.sync(() => {
        if (e._tag === "Connection" && (e.event._tag === "Disconnected" || e.event._tag === "Closed")) droppedAt = performance.now()
      })))
    const before = yield* cache.stats
    const stop = { done: false }
    let reads = 0
    let stale = 0
    let readErrors = 0
    const staleExamples: Array<string> = []
    // A read of `k` that returned `value` and began at `start`: stale?
    const check = (k: string, value: string | undefined, start: number) => {
      if (value !== "0") return
      const acked = ackAt.get(k)
      const sent = sentAt.get(k)
      if (acked === undefined || sent === undefined || acked + GRACE >= start) return
      const inval = invalidatedAt.get(k)
      if ((inval !== undefined && inval < start) || droppedAt < start) {
        stale++
        if (staleExamples.length < 5) staleExamples.push(`${k}: read at +${Math.round(start - acked)} ms after the ack`)
      }
    }
    const pick = () => keys[Math.floor(Math.random() * keys.length)]!
    const bySlot = Map.groupBy(keys, (k) => ClusterSlot.keyslot(k))
    const pickMget = (): Array<string> => {
      if (options.cluster !== true) return [pick(), pick(), pick()]
      const group = bySlot.get(ClusterSlot.keyslot(pick()))!
      return [0, 1, 2].map(() => group[Math.floor(Math.random() * group.length)]!)
    }
    // Three readers GET one key, one MGETs three (served key by key).
    const readerFiber = (mget: boolean) =>
      Effect.gen(function*() {
        while (!stop.done) {
          // A hit completes without waiting: let the writer and the fault run.
          if (reads % 16 === 0) yield* Effect.yieldNow
          const start = performance.now()
          if (mget) {
            const ks = pickMget()
            const exit = yield* Effect.exit(reader.mget(ks))
            reads += ks.length
            if (Exit.isFailure(exit)) {
              readErrors++
              yield* Effect.sleep("5 millis")
              continue
            }
            ks.forEach((k, i) => check(k, Option.getOrUndefined(exit.value[i]!), start))
          } else {
            const k = pick()
            const exit = yield* Effect.exit(reader.get(k))
            reads++
            if (Exit.isFailure(exit)) {
              readErrors++
              yield* Effect.sleep("5 millis")
              continue
            }
            check(k, Option.getOrUndefined(exit.value), start)
          }
        }
      })
    const readers = yield* Effect.forkChild(
      Effect.all([false, false, false, true].map(readerFiber), { concurrency: "unbounded" })
    )
    const order = [...keys].sort(() => Math.random() - 0.5)
    const writes = yield* Effect.forkChild(Effect.forEach(order, (k) =>
      Effect.gen(function*() {
        sentAt.set(k, performance.now())
        // SET is idempotent: resent across a failover when its reply was lost.
        yield* writer.set(k, "1")
        ackAt.set(k, performance.now())
        // Paced so that the writes span the fault (a few seconds).
        yield* Effect.sleep("8 millis")
      }), { concurrency: 2, discard: true }))
    yield* Effect.sleep("1 second")
    const faultAt = performance.now()
    yield* Effect.orDie(options.fault)
    const faultMillis = Math.round(performance.now() - faultAt)
    yield* Fiber.join(writes)
    yield* Effect.sleep("500 millis")
    stop.done = true
    yield* Fiber.join(readers)
    const after = yield* cache.stats
    const result: CheckResult = {
      reads,
      stale,
      writes: ackAt.size,
      writesDuringFault: [...ackAt.values()].filter((t) => t >= faultAt && t <= faultAt + faultMillis).length,
      hits: after.hits - before.hits,
      misses: after.misses - before.misses,
      invalidations: after.invalidations - before.invalidations,
      readErrors
    }
    console.log(`[client cache, ${label}] fault took ${faultMillis} ms; ${JSON.stringify(result)}${stale > 0 ? ` e.g. ${staleExamples.join("; ")}` : ""}`)
    // Every key now reads "1" through the cache, by GET and by MGET.
    for (const k of keys) assert.deepStrictEqual(yield* reader.get(k), Option.some("1"), k)
    for (const ks of bySlot.values()) assert.deepStrictEqual(yield* reader.mget(ks), ks.map(() => Option.some("1")))
    return result
  })

const expectNoStale = (result: CheckResult, keys: number) => {
  assert.strictEqual(result.stale, 0, "no stale read")
  assert.isAbove(result.hits, 1000, "the cache served reads")
  assert.isAbove(result.invalidations, 100, "the server invalidated what was written")
  assert.strictEqual(result.writes, keys, "every key was written")
  // Paced at about 250 writes/s: a fault of a few hundred ms sees dozens.
  assert.isAbove(result.writesDuringFault, 20, "writes went on during the fault")
}

/** A cache whose invalidation listener the checker installs. */
const observed = () => {
  const invalidations = { listener: (_keys: ReadonlyArray<string> | null) => {} }
  const cache = ClientCache.make({ onInvalidate: (keys) => invalidations.listener(keys) })
  return { cache, invalidations }
}

describe("stale-read checker", () => {
  it.live("standalone, the reader's connection killed twice mid-run: no stale read", () =>
    Effect.gen(function*() {
      const server = yield* RedisServer.make()
      const { cache, invalidations } = observed()
      const reader = yield* build(NodeClient.layer({ url: server.url, cache, clientName: "cc-reader" }))
      const writer = yield* build(NodeClient.layer({ url: server.url, clientName: "cc-writer" }))
      const keys = Array.from({ length: 1000 }, (_, i) => `stale:${i}`)
      const kill = Effect.gen(function*() {
        for (let i = 0; i < 2; i++) {
          yield* server.cli("CLIENT", "KILL", "SKIPME", "yes", "TYPE", "normal", "USER", "default")
          yield* Effect.sleep("300 millis")
        }
      })
      const result = yield* staleCheck("standalone, CLIENT KILL", { reader, writer, cache, invalidations, keys, fault: kill })
      expectNoStale(result, keys.length)
    }).pipe(Effect.scoped), 90_000)

  it.live("3x1 cluster, the keys' slots migrated live: no stale read", () =>
    Effect.gen(function*() {
      const cluster = yield* RedisCluster.make()
      const nodes = [`127.0.0.1:${cluster.startupNodes[0].port}`]
      const { cache, invalidations } = observed()
      const reader = yield* build(NodeCluster.layer({ nodes, cache }))
      const writer = yield* build(NodeCluster.layer({ nodes }))
      // 1,000 keys in 20 slots, every one of which moves.
      const keys = Array.from({ length: 1000 }, (_, i) => `{s${i % 20}}:${i}`)
      const slots = [...new Set(keys.map((k) => ClusterSlot.keyslot(k)))]
      const migrate = Effect.gen(function*() {
        const [a, b] = yield* cluster.primaries
        for (const slot of slots) {
          const from = yield* cluster.slotOwner(slot)
          yield* cluster.migrateSlots({ from, to: from.port === a!.port ? b! : a!, slots: [slot], pipeline: 5 })
        }
      })
      const result = yield* staleCheck("cluster, live migration of 20 slots", {
        reader,
        writer,
        cache,
        invalidations,
        keys,
        fault: migrate,
        cluster: true
      })
      expectNoStale(result, keys.length)
    }).pipe(Effect.scoped), 180_000)

  it.live("Sentinel group, SENTINEL FAILOVER mid-run: no stale read", () =>
    Effect.gen(function*() {
      const group = yield* RedisSentinel.make()
      const { cache, invalidations } = observed()
      const reader = yield* build(NodeSentinel.layerMaster({ ...optionsFor(group), cache }))
      const writer = yield* build(NodeSentinel.layerMaster(optionsFor(group)))
      const keys = Array.from({ length: 1000 }, (_, i) => `stale:${i}`)
      const result = yield* staleCheck("sentinel, SENTINEL FAILOVER", { reader, writer, cache, invalidations, keys, fault: group.failover })
      expectNoStale(result, keys.length)
    }).pipe(Effect.scoped), 120_000)
})
