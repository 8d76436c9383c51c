/**
 * Planned Sentinel failovers, redis-effect beside ioredis and node-redis: how
 * many acknowledged writes each client loses across `SENTINEL FAILOVER`.
 *
 * Run (about a minute per client; see docs/SCALE.md for figures):
 *
 *   node bench/sentinel-failover.ts
 *   node bench/sentinel-failover.ts --clients redis-effect,ioredis --failovers 5 --writers 10
 *   node bench/sentinel-failover.ts --json /tmp/sentinel-failover.json
 *
 * `redis-effect-nohold` is redis-effect with `failoverHold: 0`, the client
 * before it held writes during a planned failover (not in the default set).
 *
 * For each client (`--clients`, default the first three, in that order) it starts a
 * fresh Sentinel group with `@redis-effect/testing` (one primary, two
 * replicas, three sentinels, quorum 2), so the clients never share data. It
 * connects the client through its own Sentinel support, as its users would:
 *
 * - redis-effect: `NodeSentinel.layerMaster({ sentinels, masterName })`;
 * - ioredis: `new Redis({ sentinels, name })` (defaults: no
 *   `failoverDetector`, offline queue and resend on reconnect on);
 * - node-redis 6: `createSentinel({ name, sentinelRootNodes })`.
 *
 * Then `--writers` (default 10) writers run the W1 unique-append workload of
 * docs/GUARANTEES.md: `RPUSH log:{k} <writer>:<seq>` over 16 keys, one write
 * in flight per writer, 5 ms pause after an error. Meanwhile the script runs
 * `--failovers` (default 5) `SENTINEL FAILOVER`s in a row, each followed by
 * the fixture's `awaitReplicasInSync` (the old primary converted and synced)
 * and 300 ms of load. At the end it waits for the replicas, `WAIT`s, reads
 * every list from the primary with `redis-cli` (the same reader for every
 * client) and reports per client:
 *
 * - acknowledged writes, and lost acknowledged writes (an acknowledged value
 *   missing from the lists) per failover and in total; a write is charged to
 *   the failover in whose window it was acknowledged (from that failover's
 *   start to the next one's);
 * - duplicates (a value present twice: always a client resend);
 * - caller errors by kind, and writes still unsettled when the load stopped;
 * - per failover, the longest stretch without an acknowledged write between
 *   `SENTINEL FAILOVER` and the replicas being in sync again.
 *
 * A planned failover is lossless on the server's side only if no client
 * writes to the old primary once its replica may have stopped following it;
 * so every lost write here is the client's (docs/GUARANTEES.md, attribution).
 *
 * Every process is started in an Effect scope and stopped when the client's
 * run ends, whether it succeeded or not.
 */
import * as NodeSentinel from "@redis-effect/node/NodeSentinel"
import * as Redis from "@redis-effect/redis/Redis"
import * as RedisError from "@redis-effect/redis/RedisError"
import * as Sentinel from "@redis-effect/redis/Sentinel"
import * as RedisSentinel from "@redis-effect/testing/RedisSentinel"
import * as Context from "effect/Context"
import type * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"
import * as Layer from "effect/Layer"
import { Redis as IORedis } from "ioredis"
import * as Fs from "node:fs"
import * as Os from "node:os"
import { createSentinel } from "redis"
import { parseArgs } from "./common.ts"

const CLIENTS = ["redis-effect", "ioredis", "node-redis", "redis-effect-nohold"] as const
type ClientName = (typeof CLIENTS)[number]

const args = parseArgs(process.argv.slice(2))
const clients: ReadonlyArray<ClientName> = args.has("clients")
  ? args.get("clients")!.split(",").map((c) => {
    if (!(CLIENTS as ReadonlyArray<string>).includes(c)) throw new Error(`unknown client ${c}; one of ${CLIENTS.join(", ")}`)
    return c as ClientName
  })
  : CLIENTS.slice(0, 3)
const FAILOVERS = Number(args.get("failovers") ?? 5)
const WRITERS = Number(args.get("writers") ?? 10)
const KEYS = 16
const keys: ReadonlyArray<string> = Array.from({ length: KEYS }, (_, k) => `log:{${k}}`)
/** How long the writers get to settle their last write once told to stop. */
const DRAIN_MILLIS = 30_000

const now = (): number => performance.timeOrigin + performance.now()

// -----------------------------------------------------------------------------
// clients: one write, acknowledged (undefined) or failed (a label)
// -----------------------------------------------------------------------------

interface Client {
  /** Resolves with undefined when acknowledged, or with a label of the failure. */
  readonly rpush: (key: string, value: string) => Effect.Effect<string | undefined>
  /** Something the client knows about its switches, printed after the run. */
  readonly notes: Effect.Effect<string>
}

/** A peer's failure as a label: class and message with numbers and addresses blanked. */
const labelOf = (e: unknown): string => {
  const error = e instanceof Error ? e : new Error(String(e))
  const message = error.message.replace(/\d+(\.\d+)*(:\d+)?/g, "N").slice(0, 70)
  return `${error.constructor.name}: ${message}`
}

const redisEffect = (group: RedisSentinel.RedisSentinelHandle, failoverHold?: Duration.Input) =>
  Effect.gen(function*() {
    const context = yield* Layer.build(
      NodeSentinel.layerMaster({ sentinels: group.sentinelAddresses, masterName: group.masterName, failoverHold })
    )
    const redis = Context.get(context, Redis.Redis)
    const sentinel = Context.get(context, Sentinel.Sentinel)
    return {
      rpush: (key, value) =>
        Effect.map(Effect.exit(redis.rpush(key, value)), (exit) => {
          if (exit._tag === "Success") return undefined
          const error = RedisError.failureOf(exit)
          return RedisError.isRedisError(error) ? `${error.reason._tag}/${error.outcome}` : "defect"
        }),
      notes: Effect.map(sentinel.state, (state) =>
        `switches: ${state.switches.map((s) => `${s.evidence} (+${Math.round(s.switchedAt - s.evidenceAt)} ms to verified)`).join("; ")}`)
    } satisfies Client
  })

const ioredis = (group: RedisSentinel.RedisSentinelHandle) =>
  Effect.gen(function*() {
    let events = 0
    const client = yield* Effect.acquireRelease(
      Effect.sync(() => {
        const c = new IORedis({ sentinels: [...group.sentinelAddresses], name: group.masterName })
        c.on("error", () => events++)
        return c
      }),
      (c) => Effect.sync(() => c.disconnect())
    )
    yield* Effect.promise(() => client.ping())
    return {
      rpush: (key, value) => Effect.promise(() => client.rpush(key, value).then(() => undefined, labelOf)),
      notes: Effect.sync(() => `"error" events: ${events}`)
    } satisfies Client
  })

const nodeRedis = (group: RedisSentinel.RedisSentinelHandle) =>
  Effect.gen(function*() {
    let events = 0
    const client = yield* Effect.acquireRelease(
      Effect.sync(() => {
        const c = createSentinel({
          name: group.masterName,
          sentinelRootNodes: group.sentinelAddresses.map((a) => ({ host: a.host, port: a.port }))
        })
        c.on("error", () => events++)
        return c
      }),
      (c) => Effect.promise(() => c.destroy().catch(() => undefined))
    )
    yield* Effect.promise(() => client.connect())
    return {
      rpush: (key, value) => Effect.promise(() => client.rPush(key, value).then(() => undefined, labelOf)),
      notes: Effect.sync(() => `"error" events: ${events}`)
    } satisfies Client
  })

const connect = (name: ClientName, group: RedisSentinel.RedisSentinelHandle) =>
  name === "redis-effect"
    ? redisEffect(group)
    : name === "redis-effect-nohold"
    ? redisEffect(group, 0)
    : name === "ioredis"
    ? ioredis(group)
    : nodeRedis(group)

// -----------------------------------------------------------------------------
// W1 and the failovers
// -----------------------------------------------------------------------------

interface Op {
  readonly value: string
  readonly key: string
  end: number
  /** undefined while in flight; "ok"; or the failure's label. */
  outcome: string | undefined
}

/** `sent[w]`: how many values writer `w` has produced (its values are `w:0` .. `w:sent[w]-1`). */
const w1 = (client: Client, history: Array<Op>, sent: Array<number>, stop: { done: boolean }) =>
  Effect.forEach(
    Array.from({ length: WRITERS }, (_, w) => w),
    (w) =>
      Effect.gen(function*() {
        let seq = 0
        while (!stop.done) {
          const value = `${w}:${seq++}`
          sent[w] = seq
          const op: Op = { value, key: keys[seq % KEYS], end: 0, outcome: undefined }
          history.push(op)
          const failure = yield* client.rpush(op.key, value)
          op.end = now()
          op.outcome = failure ?? "ok"
          if (failure !== undefined) yield* Effect.sleep("5 millis")
        }
      }),
    { concurrency: "unbounded", discard: true }
  )

interface Failover {
  readonly from: number
  readonly to: number
  /** `SENTINEL FAILOVER` sent. */
  readonly at: number
  /** The sentinels agree on the new primary and it answers ROLE master. */
  readonly switched: number
  /** Replicas in sync with it (the old primary converted), plus 300 ms. */
  readonly done: number
}

/** The longest stretch in [from, to] without an acknowledged write, in ms. */
const longestPause = (acks: ReadonlyArray<number>, from: number, to: number) => {
  let last = from
  let longest = 0
  for (const t of acks) {
    if (t < from) continue
    if (t > to) break
    longest = Math.max(longest, t - last)
    last = t
  }
  return Math.max(longest, to - last)
}

interface Report {
  readonly client: ClientName
  readonly seconds: number
  /** How long the writers ran. */
  readonly loadSeconds: number
  readonly ops: number
  readonly acked: number
  readonly lost: number
  readonly lostBeforeFirstFailover: number
  readonly duplicates: number
  readonly phantoms: number
  readonly errors: Record<string, number>
  readonly unsettled: number
  readonly failovers: ReadonlyArray<{
    readonly from: number
    readonly to: number
    readonly switchMs: number
    readonly syncedMs: number
    readonly lost: number
    /** Of `lost`, acknowledged before the sentinels agreed on the new primary. */
    readonly lostBeforeSwitch: number
    /** When the first and the last lost write of the window were acknowledged, ms after `SENTINEL FAILOVER`. */
    readonly lostSpanMs: readonly [number, number] | undefined
    readonly longestPauseMs: number
    readonly errors: number
  }>
  readonly notes: string
}

const runClient = (name: ClientName) =>
  Effect.gen(function*() {
    const started = now()
    const group = yield* RedisSentinel.make()
    const client = yield* connect(name, group)
    const history: Array<Op> = []
    const sent: Array<number> = Array.from({ length: WRITERS }, () => 0)
    const stop = { done: false }
    const loadStarted = now()
    const load = yield* Effect.forkChild(w1(client, history, sent, stop))
    yield* Effect.sleep("500 millis")

    const failovers: Array<Failover> = []
    for (let i = 0; i < FAILOVERS; i++) {
      const at = now()
      const { from, to } = yield* group.failover
      const switched = now()
      yield* group.awaitReplicasInSync
      yield* Effect.sleep("300 millis")
      failovers.push({ from: from.port, to: to.port, at, switched, done: now() })
      console.log(`  [${name}] failover ${i + 1}: ${from.port} -> ${to.port}, switched after ${Math.round(switched - at)} ms`)
    }
    stop.done = true
    const loadSeconds = Math.round((now() - loadStarted) / 100) / 10
    const drained = yield* Effect.timeoutOption(Fiber.join(load), DRAIN_MILLIS)
    if (drained._tag === "None") yield* Fiber.interrupt(load)

    // The same reader for every client: redis-cli on the primary the sentinels report.
    yield* group.awaitReplicasInSync
    const primary = yield* group.currentPrimary
    yield* Effect.ignore(primary.cli("WAIT", "2", "2000"))
    const present = new Map<string, number>()
    for (let k = 0; k < KEYS; k++) {
      const reply = yield* primary.cli("LRANGE", `log:{${k}}`, "0", "-1")
      for (const v of reply.split("\n")) if (v.length > 0) present.set(v, (present.get(v) ?? 0) + 1)
    }

    // A value no writer produced (no Set of millions of strings: values are `w:seq`).
    const isPhantom = (v: string) => {
      const m = /^(\d+):(\d+)$/.exec(v)
      return m === null || !(Number(m[1]) < WRITERS && Number(m[2]) < sent[Number(m[1])])
    }
    const acked = history.filter((o) => o.outcome === "ok")
    const lost = acked.filter((o) => !present.has(o.value))
    const errors: Record<string, number> = {}
    for (const o of history) if (o.outcome !== undefined && o.outcome !== "ok") errors[o.outcome] = (errors[o.outcome] ?? 0) + 1
    const ackTimes = acked.map((o) => o.end).sort((a, b) => a - b)
    const windowOf = (i: number) => [failovers[i].at, failovers[i + 1]?.at ?? Infinity] as const
    const inWindow = (o: Op, i: number) => o.end >= windowOf(i)[0] && o.end < windowOf(i)[1]
    const report: Report = {
      client: name,
      seconds: Math.round((now() - started) / 100) / 10,
      loadSeconds,
      ops: history.length,
      acked: acked.length,
      lost: lost.length,
      lostBeforeFirstFailover: lost.filter((o) => o.end < failovers[0].at).length,
      duplicates: [...present.values()].filter((n) => n > 1).length,
      phantoms: [...present.keys()].filter(isPhantom).length,
      errors,
      unsettled: history.filter((o) => o.outcome === undefined).length,
      failovers: failovers.map((f, i) => {
        const here = lost.filter((o) => inWindow(o, i))
        const ends = here.map((o) => o.end - f.at)
        return {
          from: f.from,
          to: f.to,
          switchMs: Math.round(f.switched - f.at),
          syncedMs: Math.round(f.done - f.at),
          lost: here.length,
          lostBeforeSwitch: here.filter((o) => o.end < f.switched).length,
          lostSpanMs: ends.length === 0
            ? undefined
            : [Math.round(ends.reduce((a, b) => Math.min(a, b))), Math.round(ends.reduce((a, b) => Math.max(a, b)))],
          longestPauseMs: Math.round(longestPause(ackTimes, f.at, f.done)),
          errors: history.filter((o) => o.outcome !== undefined && o.outcome !== "ok" && inWindow(o, i)).length
        }
      }),
      notes: yield* client.notes
    }
    return report
  }).pipe(Effect.scoped)

// -----------------------------------------------------------------------------
// report
// -----------------------------------------------------------------------------

const printReport = (r: Report) => {
  console.log(`\n${r.client}: ${r.seconds} s, ${r.ops} writes, ${r.acked} acknowledged, ${r.lost} acknowledged lost, ` +
    `${r.duplicates} duplicates, ${r.phantoms} phantoms, ${r.unsettled} unsettled at the end`)
  console.log(`  ${Math.round(r.acked / r.loadSeconds)} acknowledged writes/s over the run; caller errors: ${JSON.stringify(r.errors)}`)
  console.log(`  ${r.notes}`)
  console.log("  | failover | primary | switch ms | in sync ms | lost | of which before the switch | lost acked from..to ms | caller errors | longest write pause ms |")
  console.log("  |---|---|---|---|---|---|---|---|---|")
  r.failovers.forEach((f, i) =>
    console.log(
      `  | ${i + 1} | ${f.from} -> ${f.to} | ${f.switchMs} | ${f.syncedMs} | ${f.lost} | ${f.lostBeforeSwitch} | ` +
        `${f.lostSpanMs === undefined ? "-" : `${f.lostSpanMs[0]}..${f.lostSpanMs[1]}`} | ${f.errors} | ${f.longestPauseMs} |`
    )
  )
}

const program = Effect.gen(function*() {
  console.log(`sentinel-failover: ${clients.join(", ")}; ${FAILOVERS} failovers, ${WRITERS} writers, ${KEYS} keys; ` +
    `${Os.cpus().length} CPUs, Node ${process.version}`)
  const reports: Array<Report> = []
  for (const name of clients) {
    console.log(`\n${name}: starting a fresh Sentinel group`)
    const report = yield* runClient(name)
    printReport(report)
    reports.push(report)
  }
  console.log("\n| client | acknowledged | lost (total) | lost per failover | duplicates | caller errors | longest pause per failover (ms) |")
  console.log("|---|---|---|---|---|---|---|")
  for (const r of reports) {
    const errors = Object.values(r.errors).reduce((a, b) => a + b, 0)
    console.log(`| ${r.client} | ${r.acked} | ${r.lost} | ${r.failovers.map((f) => f.lost).join(" / ")} | ${r.duplicates} | ${errors} | ` +
      `${r.failovers.map((f) => f.longestPauseMs).join(" / ")} |`)
  }
  if (args.has("json")) {
    const file = args.get("json")!
    yield* Effect.sync(() => Fs.writeFileSync(file, JSON.stringify({ date: new Date().toISOString(), reports }, null, 2)))
    console.log(`\nwrote ${file}`)
  }
})

Effect.runPromise(program).then(
  () => process.exit(0),
  (e) => {
    console.error(e)
    process.exit(1)
  }
)
