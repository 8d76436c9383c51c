/**
 * What tracing and metrics cost per command, A/B in one process:
 *
 *     node bench/middleware.ts            # 5 rounds
 *     node bench/middleware.ts --quick    # 3 rounds, fewer operations
 *     node bench/middleware.ts --rounds 7
 *
 * One loopback redis-server (`@redis-effect/testing`), five standalone
 * clients on it that differ only in their middleware: `none`, `tracing`
 * (`Tracing.middleware()`, spans to Effect's default in-memory tracer),
 * `metrics` (`Metrics.middleware()`), `both`, and `both+otlp` (both, with
 * spans exported by `effect/observability`'s OTLP tracer to a sink in a
 * child process, so the receiving end's CPU is not this process's). Each
 * round runs every scenario once per client, the clients in a rotated
 * order, so drift on a shared machine spreads over all of them.
 *
 * Per client and scenario it prints the median throughput [min–max] and the
 * median CPU time of this process per command (`process.cpuUsage`: the
 * client's own work, the server's excluded), and the difference from
 * `none`: the cost of the middleware per command, in microseconds.
 *
 * Before that, without any I/O: each middleware's hooks around a command
 * whose wire write is an `Effect.succeed` (execute around send, as a client
 * runs them), best of 10 runs of 100,000: the hooks' own cost per command,
 * which the noise of a shared machine hides less than the loopback runs.
 *
 * `bench/run.ts` compares clients and cannot install a middleware, hence
 * this script.
 */
import * as NodeTransport from "@redis-effect/node/NodeTransport"
import * as Commands from "@redis-effect/redis/Commands"
import * as Middleware from "@redis-effect/redis/Middleware"
import * as Metrics from "@redis-effect/redis/Metrics"
import type * as Redis from "@redis-effect/redis/Redis"
import * as Standalone from "@redis-effect/redis/Standalone"
import * as Tracing from "@redis-effect/redis/Tracing"
import * as RedisServer from "@redis-effect/testing/RedisServer"
import * as Effect from "effect/Effect"
import * as FetchHttpClient from "effect/http/FetchHttpClient"
import * as Layer from "effect/Layer"
import * as Metric from "effect/Metric"
import * as OtlpExporter from "effect/observability/OtlpExporter"
import * as OtlpSerialization from "effect/observability/OtlpSerialization"
import * as OtlpTracer from "effect/observability/OtlpTracer"
import * as Option from "effect/Option"
import type * as Tracer from "effect/Tracer"
import * as ChildProcess from "node:child_process"
import * as Os from "node:os"

const argv = process.argv.slice(2)
const quick = argv.includes("--quick")
const roundsArg = argv.indexOf("--rounds")
const rounds = roundsArg >= 0 ? Number(argv[roundsArg + 1]) : quick ? 3 : 5

const KEYS = 10_000
const keys = Array.from({ length: KEYS }, (_, i) => `bench:mw:${i}`)
const VALUE = "x".repeat(32)
const BATCH = 1000

interface Scenario {
  readonly name: string
  readonly ops: number
  readonly body: (redis: Redis.RedisShape, ops: number) => Effect.Effect<void, unknown>
}

const range = (n: number) => Array.from({ length: n }, (_, i) => i)

const scenarios: ReadonlyArray<Scenario> = [
  {
    name: "sequential-get",
    ops: quick ? 5_000 : 10_000,
    body: (redis, ops) => Effect.forEach(range(ops), (i) => redis.get(keys[i % KEYS]), { discard: true })
  },
  {
    name: "concurrent-get",
    ops: quick ? 60_000 : 150_000,
    body: (redis, ops) => Effect.forEach(range(ops), (i) => redis.get(keys[i % KEYS]), { concurrency: 100, discard: true })
  },
  {
    name: "pipeline-set",
    ops: quick ? 60_000 : 150_000,
    body: (redis, ops) =>
      Effect.forEach(range(ops / BATCH), (b) =>
        redis.pipeline(Array.from({ length: BATCH }, (_, j) => Commands.set(keys[(b * BATCH + j) % KEYS], VALUE))), {
        discard: true
      })
  }
]

interface Variant {
  readonly name: string
  readonly middleware: ReadonlyArray<Middleware.Middleware>
  /** Set for the variant whose spans are exported. */
  tracer?: Tracer.Tracer
}

const variants: Array<Variant> = [
  { name: "none", middleware: [] },
  { name: "tracing", middleware: [Tracing.middleware()] },
  { name: "metrics", middleware: [Metrics.middleware()] },
  { name: "both", middleware: [Tracing.middleware(), Metrics.middleware()] },
  { name: "both+otlp", middleware: [Tracing.middleware(), Metrics.middleware()] }
]

/** An OTLP sink in a child process: answers every POST with `{}`; resolves its port. */
const sink = Effect.acquireRelease(
  Effect.callback<{ readonly child: ChildProcess.ChildProcess; readonly port: number }>((resume) => {
    const code = "const s=require('node:http').createServer((q,r)=>{q.resume();q.on('end',()=>r.end('{}'))});" +
      "s.listen(0,'127.0.0.1',()=>console.log(s.address().port))"
    const child = ChildProcess.spawn(process.execPath, ["-e", code], { stdio: ["ignore", "pipe", "inherit"] })
    child.stdout!.once("data", (data: Buffer) => resume(Effect.succeed({ child, port: Number(String(data).trim()) })))
  }),
  ({ child }) => Effect.sync(() => child.kill())
)

interface Sample {
  readonly opsPerSec: number
  readonly cpuUsPerOp: number
}

const median = (xs: ReadonlyArray<number>) => {
  const s = [...xs].sort((a, b) => a - b)
  return s.length % 2 === 1 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2
}

const measure = (redis: Redis.RedisShape, scenario: Scenario, tracer: Tracer.Tracer | undefined) =>
  Effect.gen(function*() {
    const run = scenario.body(redis, scenario.ops)
    const timed = tracer === undefined ? run : Effect.withTracer(run, tracer)
    const cpu0 = process.cpuUsage()
    const t0 = performance.now()
    yield* timed
    const seconds = (performance.now() - t0) / 1000
    const cpu = process.cpuUsage(cpu0)
    return { opsPerSec: scenario.ops / seconds, cpuUsPerOp: (cpu.user + cpu.system) / scenario.ops } satisfies Sample
  })

// The hooks alone: execute around send around an immediate reply.
const hooksOnly = Effect.gen(function*() {
  const get = Commands.get(keys[0])
  const reply = Effect.succeed(Option.some(VALUE))
  const run = (mw: Middleware.Middleware | undefined) =>
    mw === undefined
      ? reply
      : mw.execute!(get, mw.send === undefined ? reply : mw.send("127.0.0.1:6379", get, reply))
  const n = 100_000
  const best = new Map<string, number>()
  for (let round = 0; round < 12; round++) {
    for (const variant of variants.slice(0, 4)) {
      const mw = variant.middleware.length === 0 ? undefined : Middleware.combine(variant.middleware)
      const t0 = performance.now()
      for (let i = 0; i < n; i++) yield* run(mw)
      const us = ((performance.now() - t0) * 1000) / n
      // The first two rounds warm the JIT.
      if (round >= 2) best.set(variant.name, Math.min(best.get(variant.name) ?? Infinity, us))
    }
  }
  console.log("\nhooks alone (no I/O), us per command, best of 10:")
  for (const [name, us] of best) console.log(`  ${name.padEnd(10)} ${us.toFixed(2)}`)
})

const main = Effect.gen(function*() {
  yield* hooksOnly
  const server = yield* RedisServer.make()
  const { port: sinkPort } = yield* sink
  console.log(
    `middleware cost${quick ? " (quick)" : ""}: ${rounds} rounds, node ${process.version}, ${Os.availableParallelism()} cpus, ` +
      `load average ${Os.loadavg().map((l) => l.toFixed(2)).join(" ")}`
  )
  variants[4].tracer = yield* OtlpTracer.make({ url: `http://127.0.0.1:${sinkPort}/v1/traces`, resource: { serviceName: "bench" } }).pipe(
    Effect.provide(Layer.mergeAll(OtlpExporter.layerFlusher, OtlpSerialization.layerJson, FetchHttpClient.layer))
  )
  const clients = yield* Effect.forEach(variants, (v) => Standalone.make({ port: server.port, middleware: v.middleware }))
  yield* clients[0].pipeline(keys.map((k) => Commands.set(k, VALUE)))

  // Warm every client's path (JIT) before the first measured round.
  for (const [i, redis] of clients.entries()) {
    for (const s of scenarios) yield* measure(redis, { ...s, ops: Math.min(s.ops, 20_000) }, variants[i].tracer)
  }

  const samples = new Map<string, Array<Sample>>()
  for (let round = 0; round < rounds; round++) {
    for (const scenario of scenarios) {
      for (let k = 0; k < variants.length; k++) {
        const i = (round + k) % variants.length
        const sample = yield* measure(clients[i], scenario, variants[i].tracer)
        const key = `${scenario.name} ${variants[i].name}`
        samples.set(key, [...(samples.get(key) ?? []), sample])
      }
    }
    process.stdout.write(`round ${round + 1}/${rounds} done\n`)
  }

  console.log("\nscenario         client      ops/s median [min–max]        CPU us/op median [min–max]   cost vs none (us/op, median)")
  for (const scenario of scenarios) {
    const base = median(samples.get(`${scenario.name} none`)!.map((s) => s.cpuUsPerOp))
    for (const variant of variants) {
      const xs = samples.get(`${scenario.name} ${variant.name}`)!
      const ops = xs.map((s) => s.opsPerSec)
      const cpu = xs.map((s) => s.cpuUsPerOp)
      const cost = median(cpu) - base
      console.log(
        `${scenario.name.padEnd(16)} ${variant.name.padEnd(10)}  ` +
          `${Math.round(median(ops)).toString().padStart(7)} [${Math.round(Math.min(...ops))}–${Math.round(Math.max(...ops))}]`.padEnd(30) +
          `${median(cpu).toFixed(2).padStart(6)} [${Math.min(...cpu).toFixed(2)}–${Math.max(...cpu).toFixed(2)}]`.padEnd(28) +
          (variant.name === "none" ? "" : `${cost >= 0 ? "+" : ""}${cost.toFixed(2)}`)
      )
    }
  }
})

Effect.runPromise(main.pipe(
  Effect.scoped,
  Effect.provide(NodeTransport.layer),
  // The metrics land in a registry of their own (nobody reads them here).
  Effect.provideService(Metric.MetricRegistry, new Map())
)).then(
  () => process.exit(0),
  (error) => {
    console.error(error)
    process.exit(1)
  }
)
