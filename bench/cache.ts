/**
 * `node bench/cache.ts [--rounds 3] [--ops 400000] [--command get|mget]`:
 * client-side caching, side by side in one run.
 *
 * On one embedded redis-server (with `@redis-effect/testing`), a hot set of
 * 1,000 keys of 32 B. Each round runs, each in its own process and in a
 * rotating order, 100 GETs in flight over the hot set (with `--command
 * mget`, 100 MGETs of 10 consecutive hot keys: redis-effect caches them key
 * by key, node-redis each MGET as a whole) for:
 *
 * - `redis-effect`: no cache (`concurrent-get` of `npm run bench`);
 * - `redis-effect-cached`: `cache: {}` (RESP3 CLIENT TRACKING);
 * - `node-redis`: RESP3, no cache;
 * - `node-redis-cached`: node-redis 6's `clientSideCache`.
 *
 * It prints ops/s and client CPU per operation for each (median of the
 * rounds, and every sample), and the ratios. Then, once, the memory bound:
 * redis-effect with `maxBytes: 16 MiB` reads 1,000,000 distinct keys
 * (`DEBUG POPULATE`), and the cache's bytes and the process heap are
 * reported against the bound.
 */
import { NodeClient } from "@redis-effect/node"
import * as ClientCache from "@redis-effect/redis/ClientCache"
import * as Redis from "@redis-effect/redis/Redis"
import { RedisServer } from "@redis-effect/testing"
import * as ChildProcess from "node:child_process"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import { createClient } from "redis"

const HOT = 1000
const IN_FLIGHT = 100
const VARIANTS = ["redis-effect", "redis-effect-cached", "node-redis", "node-redis-cached"] as const
type Variant = (typeof VARIANTS)[number]

const arg = (name: string, fallback: string) => {
  const i = process.argv.indexOf(`--${name}`)
  return i >= 0 ? process.argv[i + 1]! : fallback
}

const hotKey = (i: number) => `hot:${i % HOT}`
const MGET_KEYS = 10
const hotKeys = (i: number) => Array.from({ length: MGET_KEYS }, (_, j) => hotKey(i + j))
const command = arg("command", "get")
if (command !== "get" && command !== "mget") throw new Error(`--command must be get or mget, not ${command}`)

interface Sample {
  readonly opsPerSec: number
  readonly cpuUsPerOp: number
}

// -----------------------------------------------------------------------------
// one measurement, in a child process
// -----------------------------------------------------------------------------

const measure = async (variant: Variant, port: number, ops: number): Promise<Sample> => {
  const timed = async (run: (n: number) => Promise<void>) => {
    await run(Math.min(ops, 50_000))
    const cpu0 = process.cpuUsage()
    const t0 = performance.now()
    await run(ops)
    const seconds = (performance.now() - t0) / 1000
    const cpu = process.cpuUsage(cpu0)
    return { opsPerSec: ops / seconds, cpuUsPerOp: (cpu.user + cpu.system) / ops }
  }
  if (variant === "redis-effect" || variant === "redis-effect-cached") {
    const layer = NodeClient.layer({ port, ...(variant === "redis-effect-cached" ? { cache: { maxEntries: 10_000 } } : {}) })
    return Effect.runPromise(Effect.scoped(Effect.gen(function*() {
      const redis = (yield* Layer.build(layer)).mapUnsafe.get(Redis.Redis.key) as Redis.RedisShape
      const indices = (n: number) => Array.from({ length: n }, (_, i) => i)
      const options = { concurrency: IN_FLIGHT, discard: true } as const
      // One loop per command, so that the GET loop is the same as before MGET was added.
      const run = command === "get"
        ? (n: number) => Effect.runPromise(Effect.forEach(indices(n), (i) => redis.get(hotKey(i)), options))
        : (n: number) => Effect.runPromise(Effect.forEach(indices(n), (i) => redis.mget(hotKeys(i)), options))
      return yield* Effect.promise(() => timed(run))
    })))
  }
  const client = createClient({
    socket: { port, host: "127.0.0.1" },
    RESP: 3,
    ...(variant === "node-redis-cached" ? { clientSideCache: { ttl: 0, maxEntries: 10_000, evictPolicy: "LRU" as const } } : {})
  })
  await client.connect()
  // 100 in flight: each of 100 lanes awaits its previous GET.
  const run = async (n: number) => {
    let next = 0
    await Promise.all(Array.from({ length: IN_FLIGHT }, async () => {
      while (next < n) await (command === "get" ? client.get(hotKey(next++)) : client.mGet(hotKeys(next++)))
    }))
  }
  const sample = await timed(run)
  await client.close()
  return sample
}

const inChild = (variant: Variant, port: number, ops: number): Promise<Sample> =>
  new Promise((resolve, reject) => {
    ChildProcess.execFile(
      process.execPath,
      [import.meta.filename, "--worker", variant, "--port", String(port), "--ops", String(ops), "--command", command],
      { maxBuffer: 1 << 20 },
      (error, stdout) => (error === null ? resolve(JSON.parse(stdout.trim().split("\n").pop()!)) : reject(error))
    )
  })

// -----------------------------------------------------------------------------
// the memory bound
// -----------------------------------------------------------------------------

const memoryBound = (port: number) =>
  Effect.gen(function*() {
    const maxBytes = 16 * 1024 * 1024
    const cache = ClientCache.make({ maxBytes, maxEntries: 10_000_000 })
    const redis = (yield* Layer.build(NodeClient.layer({ port, cache }))).mapUnsafe.get(Redis.Redis.key) as Redis.RedisShape
    globalThis.gc?.()
    const heap0 = process.memoryUsage().heapUsed
    let peakCache = 0
    const total = 1_000_000
    for (let start = 0; start < total; start += 10_000) {
      yield* Effect.forEach(Array.from({ length: 10_000 }, (_, i) => start + i), (i) => redis.get(`key:${i}`), {
        concurrency: IN_FLIGHT,
        discard: true
      })
      peakCache = Math.max(peakCache, (yield* cache.stats).bytes)
    }
    globalThis.gc?.()
    const heap1 = process.memoryUsage().heapUsed
    const stats = yield* cache.stats
    return { maxBytes, peakCache, heapGrowth: heap1 - heap0, stats }
  })

// -----------------------------------------------------------------------------
// the run
// -----------------------------------------------------------------------------

const median = (xs: ReadonlyArray<number>) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!

const main = Effect.gen(function*() {
  const rounds = Number(arg("rounds", "3"))
  const ops = Number(arg("ops", "400000"))
  const server = yield* RedisServer.make()
  yield* server.cli("DEBUG", "POPULATE", String(Math.max(HOT, 1_000_000)), "key", "32")
  for (let i = 0; i < HOT; i++) yield* server.cli("SET", hotKey(i), "x".repeat(32))
  const what = command === "get" ? "GETs" : `MGETs of ${MGET_KEYS} keys`
  console.log(`redis-server on ${server.port}; ${rounds} rounds of ${ops} ${what}, ${IN_FLIGHT} in flight over ${HOT} hot keys`)
  const samples = new Map<Variant, Array<Sample>>(VARIANTS.map((v) => [v, []]))
  for (let round = 0; round < rounds; round++) {
    const order = VARIANTS.map((_, i) => VARIANTS[(i + round) % VARIANTS.length]!)
    for (const variant of order) {
      const sample = yield* Effect.promise(() => inChild(variant, server.port, ops))
      samples.get(variant)!.push(sample)
      console.log(`  round ${round + 1} ${variant.padEnd(20)} ${Math.round(sample.opsPerSec / 1000)}k ops/s, ${sample.cpuUsPerOp.toFixed(2)} us CPU/op`)
    }
  }
  const med = (v: Variant) => median(samples.get(v)!.map((s) => s.opsPerSec))
  console.log("\nmedian ops/s [samples]; client CPU us/op (median)")
  for (const v of VARIANTS) {
    const s = samples.get(v)!
    console.log(
      `  ${v.padEnd(20)} ${Math.round(med(v) / 1000)}k [${s.map((x) => Math.round(x.opsPerSec / 1000)).join(", ")}]; ${
        median(s.map((x) => x.cpuUsPerOp)).toFixed(2)
      }`
    )
  }
  console.log(`\ncached / uncached (redis-effect): ${(med("redis-effect-cached") / med("redis-effect")).toFixed(2)}x`)
  console.log(`redis-effect cached / node-redis cached: ${(med("redis-effect-cached") / med("node-redis-cached")).toFixed(2)}x`)
  if (command === "mget") return
  const memory = yield* Effect.scoped(memoryBound(server.port))
  console.log(
    `\nmemory: 1,000,000 distinct keys read with maxBytes ${memory.maxBytes}: cache peak ${memory.peakCache} bytes, ` +
      `${memory.stats.entries} entries, ${memory.stats.evictions} evictions; heap growth ${Math.round(memory.heapGrowth / 1024 / 1024)} MiB`
  )
})

if (process.argv.includes("--worker")) {
  measure(arg("worker", "redis-effect") as Variant, Number(arg("port", "6379")), Number(arg("ops", "400000"))).then(
    (sample) => {
      console.log(JSON.stringify(sample))
      process.exit(0)
    },
    (error) => {
      console.error(error)
      process.exit(1)
    }
  )
} else {
  Effect.runPromise(Effect.scoped(main)).then(() => process.exit(0), (error) => {
    console.error(error)
    process.exit(1)
  })
}
