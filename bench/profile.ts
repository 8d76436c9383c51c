/**
 * A CPU profile of one client measurement, summarised by self time:
 *
 *     node bench/profile.ts [--client redis-effect] [--scenario concurrent-get] [--ops 200000] [--top 15]
 *
 * Starts a loopback server (for the cluster scenarios a cluster of 3 or 3 + 3
 * nodes), loads the key space, runs `node --cpu-prof
 * --cpu-prof-interval 200 bench/worker.ts ...`, keeps only the samples taken
 * in the worker's timed window (connection setup and warm-up are left out),
 * then prints the top functions by self time and the self time per origin
 * (redis-effect, effect, Node internals, GC, ...). The raw profile (whole
 * process) is kept at `bench/results/<client>-<scenario>.cpuprofile` (open it
 * in Chrome DevTools).
 */
import * as RedisCluster from "@redis-effect/testing/RedisCluster"
import * as RedisServer from "@redis-effect/testing/RedisServer"
import * as Effect from "effect/Effect"
import * as ChildProcess from "node:child_process"
import * as Fs from "node:fs"
import * as Path from "node:path"
import { parseArgs, preload, preloadCluster, scenarioNamed, type WorkerResult } from "./common.ts"

const args = parseArgs(process.argv.slice(2))
const client = args.get("client") ?? "redis-effect"
const scenario = scenarioNamed(args.get("scenario") ?? "concurrent-get")
const ops = Number(args.get("ops") ?? scenario.ops)
const top = Number(args.get("top") ?? 15)
const benchDir = import.meta.dirname
const out = Path.join(benchDir, "results", `${client}-${scenario.name}.cpuprofile`)
Fs.mkdirSync(Path.dirname(out), { recursive: true })

interface CallFrame {
  readonly functionName: string
  readonly url: string
  readonly lineNumber: number
  readonly columnNumber: number
}
interface ProfileNode {
  readonly id: number
  readonly callFrame: CallFrame
}
interface Profile {
  readonly startTime: number
  readonly nodes: ReadonlyArray<ProfileNode>
  readonly samples: ReadonlyArray<number>
  readonly timeDeltas: ReadonlyArray<number>
}

const profileDir = Fs.mkdtempSync(Path.join(Path.dirname(out), ".cpu-prof-"))
const workerOutput = await Effect.runPromise(Effect.scoped(Effect.gen(function*() {
  let target: Array<string>
  if (scenario.cluster === undefined) {
    const server = yield* RedisServer.make({ extraArgs: ["--client-output-buffer-limit", "pubsub 0 0 0"] })
    yield* Effect.promise(() => preload(server.port))
    target = ["--port", String(server.port)]
  } else {
    const cluster = yield* RedisCluster.make({ primaries: 3, replicasPerPrimary: scenario.cluster === 6 ? 1 : 0 })
    const nodes = cluster.nodes.map((n) => n.port)
    yield* Effect.promise(() => preloadCluster(nodes[0]))
    target = ["--nodes", nodes.join(",")]
  }
  return ChildProcess.execFileSync(process.execPath, [
    "--cpu-prof",
    "--cpu-prof-dir", profileDir,
    "--cpu-prof-interval", "200",
    Path.join(benchDir, "worker.ts"),
    "--client", client,
    "--scenario", scenario.name,
    "--ops", String(ops),
    ...target
  ], { encoding: "utf8" })
})))
const last = workerOutput.trim().split("\n").at(-1)!
console.log(last)
const result = JSON.parse(last) as WorkerResult
const [from, to] = result.window!
const written = Fs.readdirSync(profileDir).find((f) => f.endsWith(".cpuprofile"))!
Fs.renameSync(Path.join(profileDir, written), out)
Fs.rmSync(profileDir, { recursive: true })

const profile = JSON.parse(Fs.readFileSync(out, "utf8")) as Profile
const byId = new Map(profile.nodes.map((n) => [n.id, n]))
const selfUs = new Map<number, number>()
let total = 0
let at = profile.startTime
for (let i = 0; i < profile.samples.length; i++) {
  const dt = profile.timeDeltas[i] ?? 0
  at += dt
  if (at < from || at > to) continue
  selfUs.set(profile.samples[i], (selfUs.get(profile.samples[i]) ?? 0) + dt)
  total += dt
}
if (total === 0) throw new Error(`no samples in the window ${from}..${to} (profile ${profile.startTime}..${at})`)

const root = Path.resolve(benchDir, "..")
const where = (f: CallFrame): string => {
  if (f.url === "") return ""
  const file = f.url.startsWith("file://") ? decodeURIComponent(new URL(f.url).pathname) : f.url
  const rel = file.startsWith(root) ? Path.relative(root, file) : file
  return `${rel.replace(/^node_modules\//, "")}:${f.lineNumber + 1}`
}
const origin = (f: CallFrame): string => {
  if (f.url === "") {
    return f.functionName === "(garbage collector)"
      ? "GC"
      : f.functionName === "(idle)"
      ? "idle (waiting for the server)"
      : f.functionName === "(program)"
      ? "V8/native (program)"
      : "native"
  }
  if (f.url.startsWith("node:")) return "Node internals"
  if (f.url.includes("/packages/redis/")) return "redis-effect (@redis-effect/redis)"
  if (f.url.includes("/packages/node/")) return "redis-effect (@redis-effect/node)"
  if (f.url.includes("/node_modules/effect/")) return "effect"
  if (f.url.includes("/bench/")) return "bench driver"
  return "other"
}

const byFunction = new Map<string, { name: string; at: string; origin: string; us: number }>()
const byOrigin = new Map<string, number>()
for (const [id, us] of selfUs) {
  const f = byId.get(id)!.callFrame
  const key = `${f.functionName}|${f.url}|${f.lineNumber}|${f.columnNumber}`
  const e = byFunction.get(key) ?? { name: f.functionName || "(anonymous)", at: where(f), origin: origin(f), us: 0 }
  e.us += us
  byFunction.set(key, e)
  byOrigin.set(origin(f), (byOrigin.get(origin(f)) ?? 0) + us)
}

const idle = [...byFunction.values()].filter((e) => e.name === "(idle)").reduce((a, e) => a + e.us, 0)
const busy = total - idle
const pct = (us: number) => `${((100 * us) / total).toFixed(1)}%`
const pctBusy = (us: number, name: string) => name.startsWith("idle") || name === "(idle)" ? "" : `${((100 * us) / busy).toFixed(1)}%`
console.log(`\n${client} ${scenario.name}: ${(total / 1000).toFixed(0)} ms sampled (timed window only), ${out}`)
console.log(`busy (not idle): ${(busy / 1000).toFixed(0)} ms = ${(busy / result.ops).toFixed(2)} us of main-thread CPU per operation`)
console.log(`idle (waiting for the server): ${pct(idle)} of the window`)
console.log(`\nTop ${top} functions by self time (idle left out):`)
console.log("| # | self (window) | self (busy) | function | where | origin |")
console.log("|---|---|---|---|---|---|")
;[...byFunction.values()].filter((e) => e.name !== "(idle)").sort((a, b) => b.us - a.us).slice(0, top).forEach((e, i) =>
  console.log(`| ${i + 1} | ${pct(e.us)} | ${pctBusy(e.us, e.name)} | \`${e.name}\` | ${e.at} | ${e.origin} |`)
)
console.log("\nSelf time by origin:")
console.log("| origin | self (window) | self (busy) |")
console.log("|---|---|---|")
for (const [o, us] of [...byOrigin].sort((a, b) => b[1] - a[1])) console.log(`| ${o} | ${pct(us)} | ${pctBusy(us, o)} |`)
