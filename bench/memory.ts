/**
 * Memory per in-flight command and GC time per 100k commands, redis-effect
 * beside ioredis and node-redis:
 *
 *     node bench/memory.ts
 *     node bench/memory.ts --clients redis-effect,ioredis --inflight 1000,10000 --ops 20000 --json /tmp/memory.json
 *
 * Options: `--clients a,b`, `--inflight 10000,100000`, `--ops 100000`,
 * `--warmup 20000`, `--pause-ms 4000`, `--settle-ms 200`, `--quiet-ms 6000`,
 * `--json path` (every figure, as JSON). About 70 s with the defaults.
 *
 * Starts a loopback redis-server with `@redis-effect/testing` (stopped when
 * the run ends, whether it succeeded or not), loads the 10,000 keys of 32 B
 * of `common.ts`, then runs each client (`--clients`, default all three)
 * in a fresh `node --expose-gc` process of its own (`--child`), which prints
 * one JSON line. Each client is built as its users would, with its
 * defaults: `NodeClient.layer({ host, port })`, `new IORedis({ host, port })`,
 * `createClient({ socket: { host, port } })`.
 *
 * In the child, first the GC window: `--warmup` (default 20,000) GETs, then
 * `gc()`, then `--ops` (default 100,000) GETs with 100 in flight (the
 * `concurrent-get` shape of `worker.ts`) under a `PerformanceObserver` on
 * `gc` entries. It reports the GC pauses that started inside the window (total
 * ms and count, scaled to 100k commands) and the window's ops/s.
 *
 * Then, for each N of `--inflight` (default 10,000 and 100,000), the memory
 * held by N commands in flight:
 *
 * 1. `--quiet-ms` (default 6000) with nothing sent, so what earlier commands
 *    left behind for a time has expired (see Gotchas);
 * 2. `CLIENT PAUSE <--pause-ms> ALL` on a separate raw connection: the
 *    server keeps reading the client's socket but answers nothing;
 * 3. `gc()` and a baseline `process.memoryUsage()`;
 * 4. N GETs of 32 B issued at once (redis-effect: `Effect.forEach(range,
 *    get, { concurrency: "unbounded", discard: true })` run with the
 *    program's services; the peers: N promises), each reply going to one
 *    shared callback that counts and checks it (one `Effect.map` per
 *    command for redis-effect, one `.then` per promise for the peers);
 * 5. at least `--settle-ms` (default 200), then until the process is idle
 *    (every command written: the server answers nothing, so an idle client
 *    has nothing left to do), then `gc()` and a second reading;
 * 6. the pause ends by itself; every one of the N replies must arrive and be
 *    the 32 B value, none may have arrived before the second reading, and
 *    the server's `cmdstat_get` must have grown by exactly N (nothing was
 *    resent). Anything else fails the client's run.
 *
 * The `heapUsed` growth over N is the bytes each in-flight command holds:
 * the client's per-command state plus the caller's (a fiber, or a promise
 * and its reaction). The index array is built before the baseline. The
 * table adds the `external` (off-heap) growth per command where it is more
 * than noise (over 1 MB), and the RSS growth; the latter includes the young
 * generation the burst filled and V8 keeps, so it can exceed the heap growth.
 *
 * **Gotchas**
 *
 * - `CLIENT UNPAUSE` cannot end a `CLIENT PAUSE ... ALL` on redis 7.0: it is
 *   a command, and is held like every other. So the pause has a fixed length
 *   (`--pause-ms`, default 4000): long enough for steps 3–5 (1.1–3.3 s for
 *   100k on a loaded 2-core VM), and short enough for the clients' defaults, which give up on
 *   a silent server after 5 s (redis-effect's `stallTimeout` probes the
 *   server and would replace the connection; node-redis' `commandTimeout`
 *   of 5 s fails the command). Step 6 catches both a pause too short and a
 *   command failed or resent.
 * - node-redis 6 arms `AbortSignal.timeout(5000)` for every command (its
 *   default `commandTimeout`): a timer and a weak reference, about 360 B,
 *   that live 5 s whether or not the reply came. In flight they are part of
 *   the command's cost; left over from earlier commands they would be freed
 *   after the baseline and subtracted, hence the quiet period of step 1. In
 *   the GC window they are live for the whole window.
 * - While paused the server still reads (the sockets' send and receive
 *   queues stay empty): the commands wait in the server's query buffer, so
 *   no pending socket write of the client is counted.
 */
import { NodeClient } from "@redis-effect/node"
import * as Redis from "@redis-effect/redis/Redis"
import * as RedisServer from "@redis-effect/testing/RedisServer"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import { Redis as IORedis } from "ioredis"
import * as ChildProcess from "node:child_process"
import * as Fs from "node:fs"
import * as Os from "node:os"
import { constants as PerfConstants, type PerformanceEntry, PerformanceObserver } from "node:perf_hooks"
import { createClient } from "redis"
import { parseArgs, rawCommands, SMALL_KEYS, SMALL_VALUE, smallKeys } from "./common.ts"

const CLIENTS = ["redis-effect", "ioredis", "node-redis"] as const
type ClientName = (typeof CLIENTS)[number]

const args = parseArgs(process.argv.slice(2))
const clients: ReadonlyArray<ClientName> = (args.get("clients") ?? CLIENTS.join(",")).split(",").map((c) => {
  if (!(CLIENTS as ReadonlyArray<string>).includes(c)) throw new Error(`unknown client ${c}; one of ${CLIENTS.join(", ")}`)
  return c as ClientName
})
const inFlightSizes: ReadonlyArray<number> = (args.get("inflight") ?? "10000,100000").split(",").map(Number)
const OPS = Number(args.get("ops") ?? 100_000)
const WARMUP = Number(args.get("warmup") ?? 20_000)
const PAUSE_MS = Number(args.get("pause-ms") ?? 4000)
const SETTLE_MS = Number(args.get("settle-ms") ?? 200)
const QUIET_MS = Number(args.get("quiet-ms") ?? 6000)
/** Commands in flight during the GC window, as in `concurrent-get`. */
const CONCURRENCY = 100
const host = "127.0.0.1"

// -----------------------------------------------------------------------------
// what a child reports
// -----------------------------------------------------------------------------

interface GcWindow {
  readonly ops: number
  readonly elapsedMs: number
  readonly opsPerSec: number
  /** Total duration of the GC pauses that started in the window, and their count. */
  readonly gcMs: number
  readonly gcCount: number
  /** The count per kind (`minor`, `major`, `incremental`, `weakcb`). */
  readonly gcKinds: Record<string, number>
}

interface InFlight {
  readonly n: number
  /** `heapUsed` growth over N, in bytes. */
  readonly heapBytesPerCommand: number
  /** `external` growth over N (off-heap: buffers, external strings), in bytes. */
  readonly externalBytesPerCommand: number
  /** Growth of each `process.memoryUsage()` field, in bytes. */
  readonly heapUsed: number
  readonly rss: number
  readonly external: number
  readonly arrayBuffers: number
  /** How long the N calls took to return (the synchronous part of issuing). */
  readonly issueMs: number
  /** From the N calls' return to the process being idle (every command written). */
  readonly settleMs: number
  /** From the pause to the second reading, ms: must be below `--pause-ms`. */
  readonly readAtMs: number
}

interface ChildResult {
  readonly client: ClientName
  readonly gc: GcWindow
  readonly inFlight: ReadonlyArray<InFlight>
}

// -----------------------------------------------------------------------------
// the clients, behind one shape
// -----------------------------------------------------------------------------

interface Driver {
  /**
   * Issues one GET per element `i` of `range` (key `i % SMALL_KEYS`), all at
   * once, without waiting for replies: each value goes to `onReply`, a
   * failure to `onError`.
   */
  readonly issue: (range: ReadonlyArray<number>, onReply: (value: unknown) => void, onError: (e: unknown) => void) => void
  /** One GET per element of `range`, `CONCURRENCY` in flight; resolves when all are answered. */
  readonly concurrent: (range: ReadonlyArray<number>) => Promise<void>
}

/** `n` calls of `f`, `concurrency` at a time: a pool of async loops (as in `worker.ts`). */
const pool = async (n: number, concurrency: number, f: (i: number) => Promise<unknown>): Promise<void> => {
  let next = 0
  const loop = async () => {
    for (let i = next++; i < n; i = next++) await f(i)
  }
  await Promise.all(Array.from({ length: Math.min(concurrency, n) }, loop))
}

/** A promise client's driver: N promises for `issue`, a pool of 100 loops for `concurrent`. */
const promiseDriver = (get: (key: string) => Promise<unknown>): Driver => ({
  issue: (range, onReply, onError) => {
    for (let j = 0; j < range.length; j++) get(smallKeys[range[j] % SMALL_KEYS]).then(onReply, onError)
  },
  concurrent: (range) => pool(range.length, CONCURRENCY, (j) => get(smallKeys[range[j] % SMALL_KEYS]))
})

/** redis-effect, driven as an Effect user would: fibers run with the program's services. */
const runRedisEffect = (port: number, measure: (driver: Driver) => Promise<ChildResult>): Promise<ChildResult> =>
  Effect.runPromise(
    Effect.gen(function*() {
      const redis = yield* Redis.Redis
      const run = Effect.runPromiseWith(yield* Effect.context<never>())
      const driver: Driver = {
        issue: (range, onReply, onError) => {
          // One shared continuation: nothing per command beyond the `map`.
          const onValue = (value: Option.Option<string>) => onReply(Option.getOrNull(value))
          run(Effect.forEach(range, (i) => Effect.map(redis.get(smallKeys[i % SMALL_KEYS]), onValue), {
            concurrency: "unbounded",
            discard: true
          })).then(undefined, onError)
        },
        concurrent: (range) =>
          run(Effect.forEach(range, (i) => redis.get(smallKeys[i % SMALL_KEYS]), {
            concurrency: CONCURRENCY,
            discard: true
          }))
      }
      return yield* Effect.promise(() => measure(driver))
    }).pipe(Effect.scoped, Effect.provide(NodeClient.layer({ host, port })))
  )

const runIoredis = async (port: number, measure: (driver: Driver) => Promise<ChildResult>): Promise<ChildResult> => {
  const client = new IORedis({ host, port })
  await client.ping()
  try {
    return await measure(promiseDriver((key) => client.get(key)))
  } finally {
    client.disconnect()
  }
}

const runNodeRedis = async (port: number, measure: (driver: Driver) => Promise<ChildResult>): Promise<ChildResult> => {
  const client = createClient({ socket: { host, port } })
  client.on("error", (e) => console.error("node-redis:", e))
  await client.connect()
  try {
    return await measure(promiseDriver((key) => client.get(key)))
  } finally {
    client.destroy()
  }
}

// -----------------------------------------------------------------------------
// the measurements (in the child)
// -----------------------------------------------------------------------------

const indices = (n: number): Array<number> => Array.from({ length: n }, (_, i) => i)
const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms))

const gcKindNames = new Map<number, string>([
  [PerfConstants.NODE_PERFORMANCE_GC_MINOR, "minor"],
  [PerfConstants.NODE_PERFORMANCE_GC_MAJOR, "major"],
  [PerfConstants.NODE_PERFORMANCE_GC_INCREMENTAL, "incremental"],
  [PerfConstants.NODE_PERFORMANCE_GC_WEAKCB, "weakcb"]
])

const gcWindow = async (driver: Driver, gc: () => void, ops: number, warmup: number): Promise<GcWindow> => {
  await driver.concurrent(indices(warmup))
  const range = indices(ops) // built before the window
  const entries: Array<PerformanceEntry> = []
  const observer = new PerformanceObserver((list) => {
    for (const e of list.getEntries()) entries.push(e)
  })
  observer.observe({ entryTypes: ["gc"] })
  gc()
  // The forced collection's entry arrives asynchronously: start after it.
  await sleep(50)
  const t0 = performance.now()
  await driver.concurrent(range)
  const t1 = performance.now()
  await sleep(50)
  for (const e of observer.takeRecords()) entries.push(e)
  observer.disconnect()
  const inWindow = entries.filter((e) => e.startTime >= t0 && e.startTime < t1)
  const gcKinds: Record<string, number> = {}
  for (const e of inWindow) {
    // Node's gc entries carry `detail.kind`; the type of `PerformanceEntry` does not say so.
    const kind = (e as PerformanceEntry & { readonly detail?: { readonly kind?: number } | null }).detail?.kind
    const name = (kind === undefined ? undefined : gcKindNames.get(kind)) ?? `kind ${kind}`
    gcKinds[name] = (gcKinds[name] ?? 0) + 1
  }
  return {
    ops,
    elapsedMs: round1(t1 - t0),
    opsPerSec: Math.round(ops / ((t1 - t0) / 1000)),
    gcMs: round1(inWindow.reduce((sum, e) => sum + e.duration, 0)),
    gcCount: inWindow.length,
    gcKinds
  }
}

/**
 * Waits at least `SETTLE_MS`, then until the process has been idle (under
 * 10 ms of CPU) for 100 ms: with the server answering nothing, a client that
 * is idle has written every command (a forked fiber or a write scheduled for
 * the next tick may still be at work when the N calls return). Gives up
 * 300 ms before the pause ends; the reading then fails the early-reply check
 * if it was too late. Returns the time waited.
 */
const settle = async (pausedAt: number): Promise<number> => {
  const t0 = performance.now()
  await sleep(SETTLE_MS)
  while (performance.now() - pausedAt < PAUSE_MS - 300) {
    const cpu0 = process.cpuUsage()
    await sleep(100)
    const cpu = process.cpuUsage(cpu0)
    if (cpu.user + cpu.system < 10_000) break
  }
  return performance.now() - t0
}

/** The server's `cmdstat_get` calls, read on a raw connection. */
const getCalls = async (port: number): Promise<number> => {
  const [reply] = await rawCommands(port, [["INFO", "commandstats"]])
  return Number(/cmdstat_get:calls=(\d+)/.exec(reply.toString())?.[1] ?? 0)
}

const inFlight = async (driver: Driver, gc: () => void, port: number, n: number): Promise<InFlight> => {
  // Everything but the commands themselves is allocated before the baseline.
  const range = indices(n)
  let replied = 0
  let wrong = 0
  let failure: unknown = undefined
  let allIn: () => void = () => {}
  const done = new Promise<void>((resolve) => (allIn = resolve))
  const onReply = (value: unknown) => {
    if (value !== SMALL_VALUE) wrong++
    if (++replied === n) allIn()
  }
  const onError = (e: unknown) => {
    failure ??= e
    allIn()
  }
  // Let what earlier commands left behind for a while expire first
  // (node-redis: a 5 s `AbortSignal.timeout` per command, a timer and a weak
  // reference that outlive the reply): freed after the baseline, it would be
  // subtracted from the commands measured.
  await sleep(QUIET_MS)
  const calls0 = await getCalls(port)

  await rawCommands(port, [["CLIENT", "PAUSE", String(PAUSE_MS), "ALL"]])
  const pausedAt = performance.now()
  gc()
  const before = process.memoryUsage()
  const t0 = performance.now()
  driver.issue(range, onReply, onError)
  const issueMs = performance.now() - t0
  const settleMs = await settle(pausedAt)
  gc()
  const during = process.memoryUsage()
  const readAtMs = performance.now() - pausedAt
  const early = replied

  const timeout = setTimeout(() => onError(new Error(`not all replies within ${PAUSE_MS + 30_000} ms`)), PAUSE_MS + 30_000)
  await done
  clearTimeout(timeout)
  if (failure !== undefined) throw failure
  if (early > 0) {
    throw new Error(`${early} of ${n} replies arrived before the reading at ${Math.round(readAtMs)} ms; raise --pause-ms`)
  }
  if (wrong > 0) throw new Error(`${wrong} of ${n} GETs did not read the 32 B value; is the key space loaded?`)
  const calls = (await getCalls(port)) - calls0
  if (calls !== n) throw new Error(`the server ran ${calls} GETs for ${n} issued: commands were resent`)

  return {
    n,
    heapBytesPerCommand: Math.round((during.heapUsed - before.heapUsed) / n),
    externalBytesPerCommand: Math.round((during.external - before.external) / n),
    heapUsed: during.heapUsed - before.heapUsed,
    rss: during.rss - before.rss,
    external: during.external - before.external,
    arrayBuffers: during.arrayBuffers - before.arrayBuffers,
    issueMs: round1(issueMs),
    settleMs: Math.round(settleMs),
    readAtMs: Math.round(readAtMs)
  }
}

const child = async (): Promise<ChildResult> => {
  const client = args.get("client") as ClientName
  const port = Number(args.get("port"))
  const gc = globalThis.gc
  if (gc === undefined) throw new Error("the child needs node --expose-gc")
  const measure = async (driver: Driver): Promise<ChildResult> => {
    const gcResult = await gcWindow(driver, gc, OPS, WARMUP)
    const sizes: Array<InFlight> = []
    for (const n of inFlightSizes) sizes.push(await inFlight(driver, gc, port, n))
    return { client, gc: gcResult, inFlight: sizes }
  }
  switch (client) {
    case "redis-effect":
      return runRedisEffect(port, measure)
    case "ioredis":
      return runIoredis(port, measure)
    case "node-redis":
      return runNodeRedis(port, measure)
    default:
      throw new Error(`unknown client ${client}; one of ${CLIENTS.join(", ")}`)
  }
}

// -----------------------------------------------------------------------------
// the run (in the parent)
// -----------------------------------------------------------------------------

const runChild = (client: ClientName, port: number): Promise<ChildResult> =>
  new Promise((resolve, reject) => {
    const argv = [
      "--expose-gc",
      import.meta.filename,
      "--child",
      "--client", client,
      "--port", String(port),
      "--inflight", inFlightSizes.join(","),
      "--ops", String(OPS),
      "--warmup", String(WARMUP),
      "--pause-ms", String(PAUSE_MS),
      "--settle-ms", String(SETTLE_MS),
      "--quiet-ms", String(QUIET_MS)
    ]
    ChildProcess.execFile(process.execPath, argv, { maxBuffer: 1 << 20, timeout: 180_000 }, (error, stdout, stderr) => {
      const last = stdout.trim().split("\n").at(-1) ?? ""
      if (error === null && last.startsWith("{")) return resolve(JSON.parse(last) as ChildResult)
      reject(new Error(`${client}: ${(stderr.trim() || stdout.trim() || String(error)).split("\n").slice(0, 12).join("\n  ")}`))
    })
  })

function round1(n: number) {
  return Math.round(n * 10) / 10
}

const mb = (bytes: number) => (bytes / 1024 / 1024).toFixed(1)
const k = (n: number) => (n >= 1000 && n % 1000 === 0 ? `${n / 1000}k` : String(n))
const per100k = (x: number, ops: number) => (x * 100_000) / ops

const printTable = (results: ReadonlyArray<ChildResult>) => {
  const sizes = inFlightSizes.map(k)
  const header = [
    "client",
    ...sizes.map((s) => `B/in-flight cmd @${s}`),
    ...sizes.map((s) => `RSS Δ @${s} MB`),
    "GC ms /100k",
    "GC count /100k",
    "ops/s (GC window)"
  ]
  console.log(`\n| ${header.join(" | ")} |`)
  console.log(`|${header.map(() => "---").join("|")}|`)
  for (const r of results) {
    const cells = [
      r.client,
      // Off-heap growth only where it is more than noise (which is about ±0.3 MB).
      ...r.inFlight.map((f) =>
        f.external >= 1024 * 1024 ? `${f.heapBytesPerCommand} (+${f.externalBytesPerCommand} ext)` : String(f.heapBytesPerCommand)
      ),
      ...r.inFlight.map((f) => mb(f.rss)),
      round1(per100k(r.gc.gcMs, r.gc.ops)).toFixed(1),
      String(Math.round(per100k(r.gc.gcCount, r.gc.ops))),
      `${Math.round(r.gc.opsPerSec / 1000)}k`
    ]
    console.log(`| ${cells.join(" | ")} |`)
  }
}

/** Megabytes with a sign: `+1.5`, `-0.2`. */
const signedMb = (bytes: number) => `${bytes < 0 ? "-" : "+"}${mb(Math.abs(bytes))}`

const printDetail = (r: ChildResult) => {
  const kinds = Object.entries(r.gc.gcKinds).map(([kind, n]) => `${n} ${kind}`).join(", ")
  console.log(
    `  ${r.client}: GC window ${r.gc.ops} GETs in ${r.gc.elapsedMs} ms (${r.gc.opsPerSec} ops/s), ` +
      `${r.gc.gcMs} ms in ${r.gc.gcCount} GCs${kinds === "" ? "" : ` (${kinds})`}`
  )
  for (const f of r.inFlight) {
    console.log(
      `    ${k(f.n)} in flight: heap ${signedMb(f.heapUsed)} MB (${f.heapBytesPerCommand} B/cmd), rss ${signedMb(f.rss)} MB, ` +
        `external ${signedMb(f.external)} MB (arrayBuffers ${signedMb(f.arrayBuffers)} MB); ` +
        `issued in ${f.issueMs} ms, idle ${f.settleMs} ms later, read ${f.readAtMs} ms into the pause`
    )
  }
}

const main = Effect.gen(function*() {
  const server = yield* RedisServer.make()
  const redisVersion = (yield* server.info("server"))["redis_version"]
  console.log(
    `memory: ${clients.join(", ")}; in flight ${inFlightSizes.map(k).join(", ")} (quiet ${QUIET_MS} ms, pause ${PAUSE_MS} ms), ` +
      `GC window ${k(OPS)} GETs with ${CONCURRENCY} in flight after ${k(WARMUP)}; node ${process.version}, ` +
      `${Os.availableParallelism()} cpus, redis-server ${redisVersion} on ${host}:${server.port}, ` +
      `load average ${Os.loadavg().map((l) => l.toFixed(2)).join(" ")}`
  )
  yield* Effect.promise(() => rawCommands(server.port, smallKeys.map((key) => ["SET", key, SMALL_VALUE])))
  const results: Array<ChildResult> = []
  const failures: Array<string> = []
  for (const client of clients) {
    const r = yield* Effect.promise(() => runChild(client, server.port).then((r) => r, (e: Error) => e.message))
    if (typeof r === "string") {
      console.log(`  ${client}: FAILED`)
      failures.push(r)
    } else {
      printDetail(r)
      results.push(r)
    }
  }
  return { redisVersion, results, failures }
})

if (args.has("child")) {
  child().then(
    (result) => {
      console.log(JSON.stringify(result))
      process.exit(0)
    },
    (e) => {
      console.error(e)
      process.exit(1)
    }
  )
} else {
  const started = performance.now()
  Effect.runPromise(Effect.scoped(main)).then(
    ({ failures, redisVersion, results }) => {
      if (results.length > 0) printTable(results)
      if (failures.length > 0) {
        console.log(`\n${failures.length} failed client(s):`)
        for (const f of failures) console.log(`  ${f}`)
      }
      console.log(`\n${Math.round((performance.now() - started) / 1000)} s; load average ${Os.loadavg().map((l) => l.toFixed(2)).join(" ")} at the end`)
      if (args.has("json")) {
        const file = args.get("json")!
        const meta = { date: new Date().toISOString(), node: process.version, cpus: Os.availableParallelism(), redisServer: redisVersion }
        const options = { inFlight: inFlightSizes, ops: OPS, warmup: WARMUP, pauseMs: PAUSE_MS, settleMs: SETTLE_MS, quietMs: QUIET_MS }
        Fs.writeFileSync(file, JSON.stringify({ ...meta, options, results, failures }, null, 2) + "\n")
        console.log(`wrote ${file}`)
      }
      process.exit(failures.length > 0 ? 1 : 0)
    },
    (e) => {
      console.error(e)
      process.exit(1)
    }
  )
}
