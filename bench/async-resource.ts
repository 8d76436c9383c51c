/**
 * What effect's per-suspension `AsyncResource` costs redis-effect, measured:
 *
 *     node bench/async-resource.ts [--rounds 5] [--scenarios concurrent-get,concurrent-set,sequential-get,pubsub]
 *                                  [--variants plain,none] [--ops N] [--warmup N] [--no-verify]
 *                                  [--no-micro | --micro-only] [--suspensions 100000] [--reps 10]
 *
 * effect 4.1 creates a Node `AsyncResource("effect/Fiber")` every time a
 * fiber suspends, resumes the fiber inside its `runInAsyncScope` and calls
 * its `emitDestroy` (`effect/src/internal/effect.ts`, `captureAsyncContext`
 * and `FiberImpl.evaluate`). This script starts a loopback redis-server
 * (`@redis-effect/testing`), loads the key space (`common.ts`), and runs
 * `bench/worker.ts --client redis-effect` for each scenario and variant in a
 * fresh process each time, for `--rounds` rounds, the variants' order
 * rotating every round (with two variants: alternating). The variants:
 *
 * - `plain`: `node bench/worker.ts ...`, effect as shipped;
 * - `none`: `node --import ./bench/no-async-resource.mjs bench/worker.ts ...`:
 *   effect sees no `AsyncResource`, so it never captures an async context;
 * - `lazy`, `per-fiber` (only with `--variants`): the same preload with
 *   `BENCH_ASYNC_RESOURCE=lazy` / `per-fiber`, models of two upstream fixes,
 *   and `wrapped`, the instrumentation of the `per-fiber` model alone (its
 *   baseline) (see `bench/no-async-resource.mjs` and
 *   `docs/UPSTREAM-async-resource.md`).
 *
 * It prints, per scenario and variant, the medians [min–max] of the
 * operations per second and of the worker's CPU (user + sys) per operation
 * in the timed window, and each variant against `plain`: the ratio of the
 * medians and the median of the per-round ratios (a round runs every variant
 * back to back, so its ratio is the least exposed to a busy machine).
 *
 * Before timing (unless `--no-verify`) it checks that the preload takes
 * effect: a short `concurrent-get` worker per variant with
 * `BENCH_ASYNC_RESOURCE_AUDIT=1` (an `async_hooks` init hook counting
 * `"effect/Fiber"` resources: `plain` is audited as the preload's `keep`
 * mode, which changes nothing), and a small program per variant that tells
 * whether an `AsyncLocalStorage` store survives a suspension resumed from
 * outside the caller's context, which is what the capture is for.
 *
 * Then (unless `--no-micro`), without Redis or sockets, the cost per
 * suspension itself: a small effect program per variant and round that
 * suspends fibers with `Effect.callback` and resumes them in batches from a
 * pump scheduled with `queueMicrotask` (no event-loop turn, so what is left
 * is effect's suspend/resume path), in two shapes: `one-fiber` (one fiber
 * suspending `--suspensions` times in a row, default 100k) and
 * `fiber-per-op` (as many fibers, 100 at a time, each suspending once: the
 * shape of `Effect.forEach` with `concurrency`, one fiber per command). Each
 * process warms up with one untimed repetition, times `--reps` (default 10)
 * and reports the best one; the table gives the CPU nanoseconds per
 * suspension.
 *
 * The preload only ever runs in the worker processes this script starts:
 * redis-effect does not ship it. Every process started here (the server, the
 * workers) is tied to the Effect scope and stopped when the run ends, fails
 * or is interrupted (Ctrl-C).
 */
import * as RedisServer from "@redis-effect/testing/RedisServer"
import * as Cause from "effect/Cause"
import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"
import * as ChildProcess from "node:child_process"
import * as Fs from "node:fs"
import * as Os from "node:os"
import * as Path from "node:path"
import { median, parseArgs, preload, type WorkerResult } from "./common.ts"

const benchDir = import.meta.dirname
const root = Path.resolve(benchDir, "..")
const preloadFile = Path.join(benchDir, "no-async-resource.mjs")

const args = parseArgs(process.argv.slice(2))
const rounds = Number(args.get("rounds") ?? 5)

/** Operations and warm-up per scenario (smaller than `run.ts`: a default run stays within ~3 minutes). */
const defaults: Record<string, { readonly ops: number; readonly warmup: number }> = {
  "concurrent-get": { ops: 100_000, warmup: 20_000 },
  "concurrent-set": { ops: 100_000, warmup: 20_000 },
  "sequential-get": { ops: 10_000, warmup: 3_000 },
  pubsub: { ops: 100_000, warmup: 20_000 }
}
/** `--micro-only`: the verification and the suspension cost, no worker rounds. */
const microOnly = args.has("micro-only")
const scenarios = microOnly ? [] : (args.get("scenarios") ?? "concurrent-get,concurrent-set,sequential-get,pubsub").split(",")
for (const s of scenarios) {
  if (!(s in defaults)) throw new Error(`--scenarios: one of ${Object.keys(defaults).join(", ")}, not ${s}`)
}
const opsOf = (s: string) => Number(args.get("ops") ?? defaults[s].ops)
const warmupOf = (s: string) => Number(args.get("warmup") ?? defaults[s].warmup)

type Variant = "plain" | "none" | "lazy" | "per-fiber" | "wrapped"
const allVariants: ReadonlyArray<Variant> = ["plain", "none", "lazy", "per-fiber", "wrapped"]
const variants = (args.get("variants") ?? "plain,none").split(",") as Array<Variant>
for (const v of variants) {
  if (!allVariants.includes(v)) throw new Error(`--variants: some of ${allVariants.join(", ")}, not ${v}`)
}
if (variants[0] !== "plain") throw new Error("--variants must start with plain (the baseline)")
const verify = !args.has("no-verify")
const micro = microOnly || !args.has("no-micro")
const microSuspensions = Number(args.get("suspensions") ?? 100_000)
const microReps = Number(args.get("reps") ?? 10)

/** `node` arguments and environment of a variant; `audit` adds the preload's counting hook. */
const nodeArgs = (variant: Variant, audit: boolean): { argv: Array<string>; env: NodeJS.ProcessEnv } => {
  const env: NodeJS.ProcessEnv = { ...process.env }
  delete env.BENCH_ASYNC_RESOURCE
  delete env.BENCH_ASYNC_RESOURCE_AUDIT
  if (variant === "plain" && !audit) return { argv: [], env }
  env.BENCH_ASYNC_RESOURCE = variant === "plain" ? "keep" : variant
  if (audit) env.BENCH_ASYNC_RESOURCE_AUDIT = "1"
  return { argv: ["--import", preloadFile], env }
}

// -----------------------------------------------------------------------------
// processes
// -----------------------------------------------------------------------------

interface Run {
  readonly code: number | null
  readonly stdout: string
  readonly stderr: string
}

/**
 * Runs `node argv` to completion. The child is acquired in the scope and
 * SIGKILLed on release if it is still running (interruption, timeout).
 */
const runNode = (argv: ReadonlyArray<string>, env: NodeJS.ProcessEnv, timeoutMs = 180_000): Effect.Effect<Run> =>
  Effect.scoped(Effect.gen(function*() {
    const child = yield* Effect.acquireRelease(
      Effect.sync(() => ChildProcess.spawn(process.execPath, argv, { cwd: root, env, stdio: ["ignore", "pipe", "pipe"] })),
      (child) =>
        Effect.sync(() => {
          if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL")
        })
    )
    let stdout = ""
    let stderr = ""
    child.stdout.on("data", (d) => (stdout += d))
    child.stderr.on("data", (d) => (stderr += d))
    const code = yield* Effect.callback<number | null>((resume) => {
      child.on("error", (e) => {
        stderr += String(e)
        resume(Effect.succeed(null))
      })
      child.on("close", (code) => resume(Effect.succeed(code)))
    }).pipe(
      Effect.timeoutOrElse({
        duration: timeoutMs,
        orElse: () => Effect.sync(() => ((stderr += `\n(killed after ${timeoutMs} ms)`), null))
      })
    )
    return { code, stdout, stderr }
  }))

const failure = (r: Run): string => {
  const lines = (r.stderr.trim() || r.stdout.trim()).split("\n")
  return `exit ${r.code}: ${(lines.length <= 12 ? lines : [...lines.slice(0, 9), "...", ...lines.slice(-2)]).join(" | ")}`
}

const runWorker = (variant: Variant, scenario: string, port: number, audit = false, ops = opsOf(scenario), warmup = warmupOf(scenario)) =>
  Effect.gen(function*() {
    const { argv, env } = nodeArgs(variant, audit)
    const r = yield* runNode([
      ...argv,
      Path.join(benchDir, "worker.ts"),
      "--client", "redis-effect",
      "--scenario", scenario,
      "--ops", String(ops),
      "--warmup", String(warmup),
      "--port", String(port)
    ], env)
    const last = r.stdout.trim().split("\n").at(-1) ?? ""
    if (r.code !== 0 || !last.startsWith("{")) return yield* Effect.fail(`${variant} ${scenario}: ${failure(r)}`)
    return { result: JSON.parse(last) as WorkerResult, stderr: r.stderr }
  })

// -----------------------------------------------------------------------------
// verification: the preload takes effect, and what it changes
// -----------------------------------------------------------------------------

interface Audit {
  readonly mode: string
  readonly intercepted: ReadonlyArray<string>
  readonly effectFiberInits: number
  readonly storagesCreated?: number
  readonly perFiberResources?: number
}

const auditOf = (stderr: string): Audit | undefined => {
  const line = stderr.split("\n").find((l) => l.startsWith("async-resource-audit "))
  return line === undefined ? undefined : JSON.parse(line.slice("async-resource-audit ".length)) as Audit
}

/**
 * An `AsyncLocalStorage` store set around `Effect.runPromise`, read after a
 * suspension that is resumed from a timer started outside the store (as a
 * socket's `data` handler resumes a caller waiting for its reply).
 */
const contextProgram = `
import * as Effect from "effect/Effect"
import { AsyncLocalStorage } from "node:async_hooks"
const pending = []
const timer = setInterval(() => { for (const resume of pending.splice(0)) resume(Effect.void) }, 1)
const storage = new AsyncLocalStorage()
const store = await storage.run("caller", () => Effect.runPromise(Effect.gen(function*() {
  yield* Effect.callback((resume) => { pending.push(resume) })
  return storage.getStore()
})))
clearInterval(timer)
console.log(JSON.stringify(store ?? null))
`

/** `file:///.../effect.js:329:50` (possibly inside a stack frame's parentheses) → `node_modules/effect/...:329`. */
const callerFile = (frame: string): string => {
  const m = /(file:\/\/[^\s()]+?):(\d+):\d+/.exec(frame)
  return m === null ? frame : `${Path.relative(root, new URL(m[1]).pathname)}:${m[2]}`
}

const verification = (port: number) =>
  Effect.gen(function*() {
    const ops = 2000
    const warmup = 500
    console.log(`verification: ${ops + warmup} GETs (concurrent-get) per variant, with the audit hook; and the context check`)
    for (const variant of variants) {
      const { stderr } = yield* runWorker(variant, "concurrent-get", port, true, ops, warmup)
      const audit = auditOf(stderr)
      if (audit === undefined) return yield* Effect.fail(`${variant}: no audit line from the preload`)
      if (audit.intercepted.length === 0) {
        return yield* Effect.fail(`${variant}: effect never asked the patched getBuiltinModule for node:async_hooks`)
      }
      if (variant === "none" && audit.effectFiberInits !== 0) {
        return yield* Effect.fail(`none: effect still created ${audit.effectFiberInits} AsyncResources`)
      }
      if (variant === "plain" && audit.effectFiberInits < ops) {
        return yield* Effect.fail(`plain: only ${audit.effectFiberInits} AsyncResources for ${ops + warmup} GETs`)
      }
      const { argv, env } = nodeArgs(variant, false)
      const context = yield* runNode([...argv, "--input-type=module", "--eval", contextProgram], env, 30_000)
      if (context.code !== 0) return yield* Effect.fail(`${variant} context check: ${failure(context)}`)
      const extra = [
        audit.storagesCreated === undefined ? "" : `, AsyncLocalStorages created ${audit.storagesCreated}`,
        audit.perFiberResources === undefined ? "" : `, per-fiber resources ${audit.perFiberResources}`
      ].join("")
      console.log(
        `  ${variant.padEnd(9)} effect/Fiber AsyncResources created: ${audit.effectFiberInits} ` +
          `(${(audit.effectFiberInits / (ops + warmup)).toFixed(2)} per GET${extra}); ` +
          `patched for ${audit.intercepted.map(callerFile).join(", ")}; ` +
          `store after an outside resume: ${context.stdout.trim()}`
      )
    }
  })

// -----------------------------------------------------------------------------
// the cost per suspension, without Redis
// -----------------------------------------------------------------------------

type MicroShape = "one-fiber" | "fiber-per-op"
const microShapes: ReadonlyArray<MicroShape> = ["one-fiber", "fiber-per-op"]

/**
 * Suspends fibers with `Effect.callback` and resumes every pending one from
 * one microtask per batch; one untimed repetition to warm the JIT, then
 * `BENCH_REPS` timed ones of `BENCH_SUSPENSIONS` suspensions. Prints the best
 * repetition (the one least disturbed by other processes):
 * `{"cpuNs": per suspension, "wallNs": per suspension}`.
 */
const microProgram = `
import * as Effect from "effect/Effect"
const n = Number(process.env.BENCH_SUSPENSIONS)
const reps = Number(process.env.BENCH_REPS)
const shape = process.env.BENCH_SHAPE
let pending = []
let scheduled = false
const pump = () => {
  scheduled = false
  const batch = pending
  pending = []
  for (let i = 0; i < batch.length; i++) batch[i](Effect.void)
}
const suspend = Effect.callback((resume) => {
  pending.push(resume)
  if (!scheduled) {
    scheduled = true
    queueMicrotask(pump)
  }
})
const body = (count) => shape === "one-fiber"
  ? Effect.forEach(Array.from({ length: count }), () => suspend, { discard: true })
  : Effect.forEach(Array.from({ length: count }), () => suspend, { concurrency: 100, discard: true })
await Effect.runPromise(body(n))
const cpuNs = []
const wallNs = []
for (let rep = 0; rep < reps; rep++) {
  const timed = body(n)
  const cpu0 = process.cpuUsage()
  const t0 = performance.now()
  await Effect.runPromise(timed)
  const wall = performance.now() - t0
  const cpu = process.cpuUsage(cpu0)
  cpuNs.push((cpu.user + cpu.system) * 1000 / n)
  wallNs.push(wall * 1e6 / n)
}
console.log(JSON.stringify({ cpuNs: Math.min(...cpuNs), wallNs: Math.min(...wallNs) }))
`

interface MicroResult {
  readonly cpuNs: number
  readonly wallNs: number
}

const runMicro = (variant: Variant, shape: MicroShape) =>
  Effect.gen(function*() {
    const { argv, env } = nodeArgs(variant, false)
    env.BENCH_SUSPENSIONS = String(microSuspensions)
    env.BENCH_SHAPE = shape
    env.BENCH_REPS = String(microReps)
    const r = yield* runNode([...argv, "--input-type=module", "--eval", microProgram], env, 60_000)
    const last = r.stdout.trim().split("\n").at(-1) ?? ""
    if (r.code !== 0 || !last.startsWith("{")) return yield* Effect.fail(`micro ${variant} ${shape}: ${failure(r)}`)
    return JSON.parse(last) as MicroResult
  })

const microSamples = new Map<string, Array<MicroResult>>() // `${shape} ${variant}`

const microBenchmark = Effect.gen(function*() {
  console.log(
    `suspension cost without Redis: best of ${microReps} repetitions of ${microSuspensions} suspensions per process ` +
      `(after one untimed), resumed from a microtask`
  )
  for (let round = 0; round < rounds; round++) {
    const order = variants.map((_, i) => variants[(i + round) % variants.length])
    for (const shape of microShapes) {
      const line: Array<string> = []
      for (const variant of order) {
        const r = yield* runMicro(variant, shape)
        const k = `${shape} ${variant}`
        if (!microSamples.has(k)) microSamples.set(k, [])
        microSamples.get(k)!.push(r)
        line.push(`${variant} ${Math.round(r.cpuNs)} ns`)
      }
      console.log(`  round ${round + 1}/${rounds} ${shape.padEnd(15)} CPU per suspension: ${line.join(", ")}`)
    }
  }
})

// -----------------------------------------------------------------------------
// the run
// -----------------------------------------------------------------------------

const samples = new Map<string, Array<WorkerResult>>() // `${scenario} ${variant}`
const byRound = new Map<string, WorkerResult>() // `${round} ${scenario} ${variant}`
const failures: Array<string> = []

const fmtOps = (n: number) => (n >= 10_000 ? `${Math.round(n / 1000)}k` : `${(n / 1000).toFixed(1)}k`)
const cpuPerOp = (r: WorkerResult) => r.clientCpuUs / r.ops

const benchmark = Effect.gen(function*() {
  const server = yield* RedisServer.make({ extraArgs: ["--client-output-buffer-limit", "pubsub 0 0 0"] })
  const redisVersion = (yield* server.info("server"))["redis_version"]
  const effectVersion = (JSON.parse(Fs.readFileSync(Path.join(root, "node_modules/effect/package.json"), "utf8")) as {
    version: string
  }).version
  console.log(
    `async-resource: ${rounds} rounds, variants ${variants.join(", ")}; node ${process.version}, effect ${effectVersion}, ` +
      `${Os.availableParallelism()} cpus, redis-server ${redisVersion} on 127.0.0.1:${server.port}, ` +
      `load average ${Os.loadavg().map((l) => l.toFixed(2)).join(" ")}`
  )
  if (scenarios.length > 0) console.log(`ops per worker: ${scenarios.map((s) => `${s} ${opsOf(s)} (+${warmupOf(s)} warm-up)`).join(", ")}`)
  yield* Effect.promise(() => preload(server.port))
  if (verify) yield* verification(server.port)

  const started = performance.now()
  for (let round = 0; round < rounds; round++) {
    const order = variants.map((_, i) => variants[(i + round) % variants.length])
    for (const scenario of scenarios) {
      const line: Array<string> = []
      for (const variant of order) {
        const r = yield* runWorker(variant, scenario, server.port).pipe(
          Effect.map(({ result }) => result),
          Effect.catch((e: string) => Effect.sync(() => (failures.push(`round ${round + 1} ${e}`), undefined)))
        )
        if (r === undefined) {
          line.push(`${variant} FAILED`)
          continue
        }
        const k = `${scenario} ${variant}`
        if (!samples.has(k)) samples.set(k, [])
        samples.get(k)!.push(r)
        byRound.set(`${round} ${k}`, r)
        line.push(`${variant} ${fmtOps(r.opsPerSec)} ops/s ${cpuPerOp(r).toFixed(2)} µs/op`)
      }
      console.log(`  round ${round + 1}/${rounds} ${scenario.padEnd(15)} ${line.join(", ")}`)
    }
  }
  if (micro) yield* microBenchmark
  return { seconds: (performance.now() - started) / 1000 }
})

// Ctrl-C interrupts the run, so the scope stops the server and any worker.
const fiber = Effect.runFork(Effect.scoped(benchmark))
const onSignal = () => Effect.runFork(Fiber.interrupt(fiber))
process.once("SIGINT", onSignal)
process.once("SIGTERM", onSignal)
const outcome = await Effect.runPromise(Effect.exit(Fiber.join(fiber)))
process.off("SIGINT", onSignal)
process.off("SIGTERM", onSignal)
if (outcome._tag === "Failure") {
  console.error(
    Cause.hasInterruptsOnly(outcome.cause)
      ? "interrupted: the server and the running worker were stopped"
      : Cause.pretty(outcome.cause)
  )
  process.exit(Cause.hasInterruptsOnly(outcome.cause) ? 130 : 1)
}
const { seconds } = outcome.value

// -----------------------------------------------------------------------------
// report
// -----------------------------------------------------------------------------

const range = (xs: ReadonlyArray<number>, f: (n: number) => string) =>
  `${f(median(xs))} [${f(Math.min(...xs))}–${f(Math.max(...xs))}]`
const ratio = (x: number) => `×${x.toFixed(3)}`

if (scenarios.length > 0) console.log("")
if (scenarios.length > 0) console.log(`| scenario | variant | ops/s median [min–max] | client CPU µs/op median [min–max] | ops/s vs plain (medians; paired) | CPU/op vs plain (medians; paired) |`)
if (scenarios.length > 0) console.log(`|---|---|---|---|---|---|`)
for (const scenario of scenarios) {
  const base = samples.get(`${scenario} plain`) ?? []
  for (const variant of variants) {
    const ss = samples.get(`${scenario} ${variant}`) ?? []
    if (ss.length === 0) {
      console.log(`| ${scenario} | ${variant} | no sample | | | |`)
      continue
    }
    const rates = ss.map((s) => s.opsPerSec)
    const cpus = ss.map(cpuPerOp)
    let vsOps = ""
    let vsCpu = ""
    if (variant !== "plain" && base.length > 0) {
      const pairedOps: Array<number> = []
      const pairedCpu: Array<number> = []
      for (let round = 0; round < rounds; round++) {
        const a = byRound.get(`${round} ${scenario} plain`)
        const b = byRound.get(`${round} ${scenario} ${variant}`)
        if (a === undefined || b === undefined) continue
        pairedOps.push(b.opsPerSec / a.opsPerSec)
        pairedCpu.push(cpuPerOp(b) / cpuPerOp(a))
      }
      const baseCpu = median(base.map(cpuPerOp))
      vsOps = `${ratio(median(rates) / median(base.map((s) => s.opsPerSec)))}; ${ratio(median(pairedOps))}`
      vsCpu = `${ratio(median(cpus) / baseCpu)} (${(median(cpus) - baseCpu).toFixed(2)} µs); ${ratio(median(pairedCpu))}`
    }
    console.log(
      `| ${scenario} | ${variant} | ${range(rates, (n) => String(Math.round(n)))} | ${range(cpus, (n) => n.toFixed(2))} | ${vsOps} | ${vsCpu} |`
    )
  }
}
if (micro) {
  console.log("")
  console.log(`| shape | variant | CPU ns per suspension, best repetition: median [min–max] | vs plain (medians; difference) | wall ns per suspension, best repetition: median |`)
  console.log(`|---|---|---|---|---|`)
  for (const shape of microShapes) {
    const base = median((microSamples.get(`${shape} plain`) ?? []).map((r) => r.cpuNs))
    for (const variant of variants) {
      const ss = microSamples.get(`${shape} ${variant}`) ?? []
      if (ss.length === 0) continue
      const cpu = ss.map((r) => r.cpuNs)
      const vs = variant === "plain" ? "" : `${ratio(median(cpu) / base)} (${Math.round(median(cpu) - base)} ns)`
      console.log(
        `| ${shape} | ${variant} | ${range(cpu, (n) => String(Math.round(n)))} | ${vs} | ${Math.round(median(ss.map((r) => r.wallNs)))} |`
      )
    }
  }
}
console.log("")
console.log(`${rounds} rounds in ${seconds.toFixed(0)} s; load average now ${Os.loadavg().map((l) => l.toFixed(2)).join(" ")}`)
if (failures.length > 0) {
  console.log(`failures:\n${failures.map((f) => `  ${f}`).join("\n")}`)
  process.exitCode = 1
}
