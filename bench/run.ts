/**
 * The side-by-side benchmark (issue 5): `npm run bench` or `npm run bench -- --quick`.
 *
 * Starts a loopback redis-server with `@redis-effect/testing` and, for the
 * cluster scenarios, a 3-primary cluster and a 3-primary + 3-replica cluster
 * (`RedisCluster.make`), loads the key space, then for each round, scenario and client (in an order that rotates
 * every round) runs `bench/worker.ts` in a fresh process (three times per
 * round for `sequential-get` in the full run, see `Scenario.passesPerRound`), and runs
 * `redis-benchmark` with the same shapes as the server's reference. Prints a
 * table of medians [min–max] and writes `bench/results/latest.json` (the
 * issue's shape) and `bench/results/latest-detail.json` (every sample, with
 * the client's and the server's CPU per operation).
 *
 * For the one-at-a-time scenarios it also runs `node-net` (a raw socket
 * awaiting each reply with a promise: the floor of a promise-based Node
 * client, see `common.ts`).
 *
 * Options: `--quick` (2 rounds, fewer operations), `--rounds N`,
 * `--scenarios a,b`, `--clients a,b`, `--no-redis-benchmark`, `--no-node-net`.
 */
import * as RedisCluster from "@redis-effect/testing/RedisCluster"
import * as RedisServer from "@redis-effect/testing/RedisServer"
import * as Effect from "effect/Effect"
import * as ChildProcess from "node:child_process"
import * as Fs from "node:fs"
import * as Os from "node:os"
import * as Path from "node:path"
import {
  type ClientName,
  clients as allClients,
  median,
  parseArgs,
  preload,
  preloadCluster,
  type Scenario,
  scenarios as allScenarios,
  SMALL_VALUE,
  type WorkerResult
} from "./common.ts"

const args = parseArgs(process.argv.slice(2))
const quick = args.has("quick")
const rounds = Number(args.get("rounds") ?? (quick ? 2 : 5))
const selectedScenarios = args.has("scenarios")
  ? allScenarios.filter((s) => args.get("scenarios")!.split(",").includes(s.name))
  : allScenarios
const selectedClients: ReadonlyArray<ClientName> = args.has("clients")
  ? allClients.filter((c) => args.get("clients")!.split(",").includes(c))
  : allClients
const withRedisBenchmark = !args.has("no-redis-benchmark")
const withNodeNet = !args.has("no-node-net")

const benchDir = import.meta.dirname
const resultsDir = Path.join(benchDir, "results")
const opsOf = (s: Scenario) => (quick ? s.quickOps : s.ops)
const warmupOf = (s: Scenario) => (quick ? Math.min(s.warmup, Math.max(1000, Math.round(s.quickOps / 3 / 1000) * 1000)) : s.warmup)

// -----------------------------------------------------------------------------
// processes
// -----------------------------------------------------------------------------

interface Run {
  readonly code: number | null
  readonly stdout: string
  readonly stderr: string
}

const run = (command: string, argv: ReadonlyArray<string>, timeoutMs: number): Promise<Run> =>
  new Promise((resolve) => {
    const child = ChildProcess.spawn(command, argv, { stdio: ["ignore", "pipe", "pipe"] })
    let stdout = ""
    let stderr = ""
    child.stdout.on("data", (d) => (stdout += d))
    child.stderr.on("data", (d) => (stderr += d))
    const timer = setTimeout(() => {
      stderr += `\n(killed after ${timeoutMs} ms)`
      child.kill("SIGKILL")
    }, timeoutMs)
    child.on("close", (code) => {
      clearTimeout(timer)
      resolve({ code, stdout, stderr })
    })
  })

/** Where a scenario runs: the standalone server's port, or every node's port of a cluster. */
interface Target {
  /** The port `redis-benchmark` connects to (the seed node for `--cluster`). */
  readonly port: number
  /** Cluster scenarios: every node's port. */
  readonly nodes?: ReadonlyArray<number>
}

const runWorker = async (client: ClientName, scenario: Scenario, target: Target): Promise<WorkerResult | string> => {
  const r = await run(process.execPath, [
    Path.join(benchDir, "worker.ts"),
    "--client", client,
    "--scenario", scenario.name,
    "--ops", String(opsOf(scenario)),
    "--warmup", String(warmupOf(scenario)),
    ...(target.nodes === undefined ? ["--port", String(target.port)] : ["--nodes", target.nodes.join(",")])
  ], 180_000)
  const last = r.stdout.trim().split("\n").at(-1) ?? ""
  if (r.code === 0 && last.startsWith("{")) return JSON.parse(last) as WorkerResult
  // The head of the error (message and first frames) and its tail.
  const lines = (r.stderr.trim() || r.stdout.trim()).split("\n")
  const shown = lines.length <= 16 ? lines : [...lines.slice(0, 12), "...", ...lines.slice(-3)]
  return `exit ${r.code}: ${shown.join(" | ")}`
}

// -----------------------------------------------------------------------------
// redis-benchmark, same shapes
// -----------------------------------------------------------------------------

interface ReferenceShape {
  readonly scenario: string
  /** The arguments after `-h -p`; the row named `test` of the CSV is the result. */
  readonly argv: ReadonlyArray<string>
  readonly test: string
  /** Whether a `redis-cli SUBSCRIBE` runs meanwhile. */
  readonly subscriber?: boolean
}

const referenceShapes = (): Array<ReferenceShape> => {
  const n = (name: string) => String(opsOf(allScenarios.find((s) => s.name === name)!))
  const d = (name: string) => String(allScenarios.find((s) => s.name === name)!.valueBytes)
  return [
    // One connection, one command at a time: the same as the client's loop.
    { scenario: "sequential-get", argv: ["-c", "1", "-n", n("sequential-get"), "-t", "set,get", "-d", "32"], test: "GET" },
    { scenario: "sequential-get-promise", argv: ["-c", "1", "-n", n("sequential-get-promise"), "-t", "set,get", "-d", "32"], test: "GET" },
    // One connection with 100 commands outstanding (redis-benchmark sends them
    // in batches of 100 and waits for all 100 replies).
    { scenario: "concurrent-set", argv: ["-c", "1", "-P", "100", "-n", n("concurrent-set"), "-t", "set", "-d", "32"], test: "SET" },
    { scenario: "concurrent-get", argv: ["-c", "1", "-P", "100", "-n", n("concurrent-get"), "-t", "set,get", "-d", "32"], test: "GET" },
    { scenario: "pipeline-set", argv: ["-c", "1", "-P", "1000", "-n", n("pipeline-set"), "-t", "set", "-d", "32"], test: "SET" },
    // The large values, 100 outstanding on one connection like the clients
    // (`-d` is the value's size; redis-benchmark's key is a fixed one).
    ...["large-get", "large-get-1mb"].map((scenario) => ({
      scenario,
      argv: ["-c", "1", "-P", "100", "-n", n(scenario), "-t", "set,get", "-d", d(scenario)],
      test: "GET"
    })),
    ...["large-set", "large-set-1mb"].map((scenario) => ({
      scenario,
      argv: ["-c", "1", "-P", "100", "-n", n(scenario), "-t", "set", "-d", d(scenario)],
      test: "SET"
    })),
    // PUBLISH with one `redis-cli SUBSCRIBE` attached: what the server accepts
    // and fans out (it does not wait for the subscriber to read).
    {
      scenario: "pubsub",
      argv: ["-c", "1", "-P", "100", "-n", n("pubsub"), "publish", "bench:rb", SMALL_VALUE],
      test: `publish bench:rb ${SMALL_VALUE}`,
      subscriber: true
    },
    // Cluster mode: one connection per primary, 33 outstanding on each (~100
    // in flight in total, as for the clients); keys over all slots.
    ...(["cluster", "cluster6"] as const).flatMap((prefix) => [
      {
        scenario: `${prefix}-concurrent-set`,
        argv: ["--cluster", "-c", "3", "-P", "33", "-n", n(`${prefix}-concurrent-set`), "-t", "set", "-d", "32"],
        test: "SET"
      },
      {
        scenario: `${prefix}-concurrent-get`,
        argv: ["--cluster", "-c", "3", "-P", "33", "-n", n(`${prefix}-concurrent-get`), "-t", "set,get", "-d", "32"],
        test: "GET"
      }
    ])
  ]
}

interface CsvRow {
  readonly rps: number
  readonly p50us: number
  readonly p99us: number
}

const parseCsv = (text: string): Map<string, CsvRow> => {
  const rows = new Map<string, CsvRow>()
  for (const line of text.trim().split("\n").slice(1)) {
    const cells = line.split("\",\"").map((c) => c.replaceAll("\"", ""))
    if (cells.length < 7) continue
    rows.set(cells[0], { rps: Number(cells[1]), p50us: Number(cells[4]) * 1000, p99us: Number(cells[6]) * 1000 })
  }
  return rows
}

const runReference = async (shape: ReferenceShape, port: number): Promise<CsvRow | string> => {
  let subscriber: ChildProcess.ChildProcess | undefined
  if (shape.subscriber === true) {
    subscriber = ChildProcess.spawn("redis-cli", ["-h", "127.0.0.1", "-p", String(port), "subscribe", "bench:rb"], {
      stdio: ["ignore", "ignore", "ignore"]
    })
    await new Promise((r) => setTimeout(r, 300))
  }
  try {
    const r = await run("redis-benchmark", ["-h", "127.0.0.1", "-p", String(port), "--csv", ...shape.argv], 180_000)
    const row = parseCsv(r.stdout).get(shape.test)
    return r.code === 0 && row !== undefined ? row : `exit ${r.code}: ${r.stderr.trim() || r.stdout.trim()}`
  } finally {
    subscriber?.kill("SIGKILL")
  }
}

// -----------------------------------------------------------------------------
// the run
// -----------------------------------------------------------------------------

type Sample = WorkerResult
const samples = new Map<string, Array<Sample>>() // `${scenario} ${client}`
const failures: Array<string> = []
const add = (scenario: string, client: string, sample: Sample) => {
  const k = `${scenario} ${client}`
  if (!samples.has(k)) samples.set(k, [])
  samples.get(k)!.push(sample)
}

const SMALL_KEYS_LOADED = (perPrimary: Map<number, number>): string =>
  `keys per primary: ${[...perPrimary].map(([p, n]) => `${p}: ${n}`).join(", ")}`

const fmt = (n: number | undefined): string =>
  n === undefined || Number.isNaN(n) ? "" : n >= 10_000 ? `${Math.round(n / 1000)}k` : n >= 1000 ? `${(n / 1000).toFixed(1)}k` : String(Math.round(n))

const benchmark = Effect.gen(function*() {
  const server = yield* RedisServer.make({
    // No disconnection of a subscriber that falls behind during `pubsub`.
    extraArgs: ["--client-output-buffer-limit", "pubsub 0 0 0"]
  })
  const redisVersion = (yield* server.info("server"))["redis_version"]
  const port = server.port
  const started = performance.now()
  const loadAverageStart = Os.loadavg()
  console.log(
    `redis-effect benchmark${quick ? " (quick)" : ""}: ${rounds} rounds, node ${process.version}, ` +
      `${Os.availableParallelism()} cpus, redis-server ${redisVersion} on 127.0.0.1:${port}, ` +
      `load average ${Os.loadavg().map((l) => l.toFixed(2)).join(" ")}`
  )
  yield* Effect.promise(() => preload(port))

  // The clusters, only when a cluster scenario is selected. `replicasPerPrimary`
  // is given explicitly: the harness' default is 1.
  const targets = new Map<number | undefined, Target>([[undefined, { port }]])
  for (const size of [3, 6] as const) {
    if (!selectedScenarios.some((s) => s.cluster === size)) continue
    const cluster = yield* RedisCluster.make({ primaries: 3, replicasPerPrimary: size === 6 ? 1 : 0 })
    const nodes = cluster.nodes.map((n) => n.port)
    const perPrimary = yield* Effect.promise(() => preloadCluster(nodes[0]))
    targets.set(size, { port: nodes[0], nodes })
    console.log(
      `cluster of ${size} nodes on ${nodes.join(",")}; ${SMALL_KEYS_LOADED(perPrimary)}`
    )
  }

  for (let round = 0; round < rounds; round++) {
    for (const scenario of selectedScenarios) {
      // --quick keeps to one pass: it must stay within three minutes.
      const passes = quick ? 1 : scenario.passesPerRound ?? 1
      for (let pass = 0; pass < passes; pass++) {
        // Rotate the order every pass so no client always runs first or last.
        const turn = round * passes + pass
        const order = selectedClients.map((_, i) => selectedClients[(i + turn) % selectedClients.length])
        const line: Array<string> = []
        for (const client of order) {
          const r = yield* Effect.promise(() => runWorker(client, scenario, targets.get(scenario.cluster)!))
          if (typeof r === "string") {
            failures.push(`round ${round + 1} ${scenario.name} ${client}: ${r}`)
            line.push(`${client} FAILED`)
          } else {
            add(scenario.name, client, r)
            line.push(`${client} ${fmt(r.opsPerSec)}`)
          }
        }
        // The floor of a promise-based Node client, beside the one-at-a-time scenarios.
        if (withNodeNet && scenario.inFlight === 1 && scenario.cluster === undefined) {
          const r = yield* Effect.promise(() => runWorker("node-net", scenario, targets.get(undefined)!))
          if (typeof r === "string") failures.push(`round ${round + 1} ${scenario.name} node-net: ${r}`)
          else {
            add(scenario.name, "node-net", r)
            line.push(`node-net ${fmt(r.opsPerSec)}`)
          }
        }
        if (withRedisBenchmark) {
          const shape = referenceShapes().find((s) => s.scenario === scenario.name)!
          const r = yield* Effect.promise(() => runReference(shape, targets.get(scenario.cluster)!.port))
          if (typeof r === "string") {
            failures.push(`round ${round + 1} ${scenario.name} redis-benchmark: ${r}`)
          } else {
            add(scenario.name, "redis-benchmark", {
              client: "redis-benchmark",
              scenario: scenario.name,
              ops: 0,
              elapsedMs: 0,
              opsPerSec: Math.round(r.rps),
              ...(scenario.name.startsWith("sequential-get") ? { p50us: r.p50us, p99us: r.p99us } : {}),
              clientCpuUs: NaN,
              serverCpuUs: NaN
            })
            line.push(`redis-benchmark ${fmt(r.rps)}`)
          }
        }
        const label = passes === 1 ? "" : ` (${pass + 1}/${passes})`
        console.log(`  round ${round + 1}/${rounds} ${(scenario.name + label).padEnd(23)} ${line.join(", ")}`)
      }
    }
  }

  // The server's pipelined ceiling: many connections, -P 16.
  let ceiling: Map<string, CsvRow> | undefined
  if (withRedisBenchmark) {
    const n = quick ? "500000" : "2000000"
    const r = yield* Effect.promise(() =>
      run("redis-benchmark", ["-h", "127.0.0.1", "-p", String(port), "--csv", "-c", "50", "-P", "16", "-n", n, "-t", "set,get", "-d", "32"], 180_000)
    )
    ceiling = parseCsv(r.stdout)
  }
  return { redisVersion, ceiling, loadAverageStart, seconds: (performance.now() - started) / 1000 }
})

const { ceiling, loadAverageStart, redisVersion, seconds } = await Effect.runPromise(Effect.scoped(benchmark))

// -----------------------------------------------------------------------------
// report
// -----------------------------------------------------------------------------

interface Row {
  readonly scenario: string
  readonly client: string
  readonly opsPerSec: number
  /** Only measured for `sequential-get`; `null` elsewhere. */
  readonly p50us: number | null
  readonly p99us: number | null
  readonly min: number
  readonly max: number
}

const rows: Array<Row> = []
const detail: Array<Row & { clientCpuUsPerOp: number; serverCpuUsPerOp: number; samples: Array<Sample> }> = []
const peers = ["ioredis", "ioredis-autopipelining", "node-redis"]
const table: Array<Record<string, string>> = []

for (const scenario of selectedScenarios) {
  const medians = new Map<string, number>()
  for (const client of [...selectedClients, "node-net", "redis-benchmark"]) {
    const ss = samples.get(`${scenario.name} ${client}`)
    if (ss === undefined || ss.length === 0) continue
    const rates = ss.map((s) => s.opsPerSec)
    const row: Row = {
      scenario: scenario.name,
      client,
      opsPerSec: Math.round(median(rates)),
      p50us: ss[0].p50us === undefined ? null : round1(median(ss.map((s) => s.p50us!))),
      p99us: ss[0].p99us === undefined ? null : round1(median(ss.map((s) => s.p99us!))),
      min: Math.min(...rates),
      max: Math.max(...rates)
    }
    rows.push(row)
    const clientCpuUsPerOp = round2(median(ss.map((s) => s.clientCpuUs / s.ops)))
    const serverCpuUsPerOp = round2(median(ss.map((s) => s.serverCpuUs / s.ops)))
    detail.push({ ...row, clientCpuUsPerOp, serverCpuUsPerOp, samples: ss })
    medians.set(client, row.opsPerSec)
    table.push({
      scenario: scenario.name,
      client,
      "ops/s median [min–max]": `${fmt(row.opsPerSec)} [${fmt(row.min)}–${fmt(row.max)}]`,
      "p50/p99 us": row.p50us === null ? "" : `${row.p50us} / ${row.p99us}`,
      "CPU us/op client | server": Number.isNaN(clientCpuUsPerOp) ? "" : `${clientCpuUsPerOp} | ${serverCpuUsPerOp}`,
      "vs best peer": ""
    })
  }
  const best = Math.max(...peers.map((p) => medians.get(p) ?? 0))
  const mine = medians.get("redis-effect")
  if (mine !== undefined && best > 0) {
    const bestPeer = peers.find((p) => medians.get(p) === best)!
    const r = table.find((t) => t.scenario === scenario.name && t.client === "redis-effect")!
    r["vs best peer"] = `${(mine / best).toFixed(2)}x ${bestPeer}`
  }
}

function round1(n: number) {
  return Math.round(n * 10) / 10
}
function round2(n: number) {
  return Math.round(n * 100) / 100
}

console.log()
console.table(table)
if (ceiling !== undefined) {
  const s = ceiling.get("SET")
  const g = ceiling.get("GET")
  console.log(`server ceiling (redis-benchmark -c 50 -P 16): SET ${fmt(s?.rps)}/s, GET ${fmt(g?.rps)}/s`)
}
if (failures.length > 0) {
  console.log(`\n${failures.length} failed measurement(s):`)
  for (const f of failures) console.log(`  ${f}`)
}

Fs.mkdirSync(resultsDir, { recursive: true })
const meta = { node: process.version, cpus: Os.availableParallelism() }
const git = (...argv: Array<string>) => {
  try {
    return ChildProcess.execFileSync("git", argv, { cwd: benchDir, encoding: "utf8" }).trim()
  } catch {
    return "unknown"
  }
}
Fs.writeFileSync(Path.join(resultsDir, "latest.json"), JSON.stringify({ ...meta, results: rows }, null, 2) + "\n")
Fs.writeFileSync(
  Path.join(resultsDir, "latest-detail.json"),
  JSON.stringify(
    {
      ...meta,
      redisServer: redisVersion,
      commit: git("rev-parse", "--short", "HEAD"),
      dirty: git("status", "--porcelain", "--", "packages").length > 0,
      loadAverageStart,
      loadAverage: Os.loadavg(),
      mode: quick ? "quick" : "full",
      rounds,
      ops: Object.fromEntries(selectedScenarios.map((s) => [s.name, { ops: opsOf(s), warmup: warmupOf(s) }])),
      ceiling: ceiling === undefined ? null : Object.fromEntries(ceiling),
      failures,
      results: detail
    },
    null,
    2
  ) + "\n"
)
console.log(
  `\nwrote bench/results/latest.json in ${seconds.toFixed(0)} s; load average ${
    Os.loadavg().map((l) => l.toFixed(2)).join(" ")
  } at the end`
)
process.exit(failures.length > 0 ? 1 : 0)
