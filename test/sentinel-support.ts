/**
 * Shared pieces of the Sentinel integration tests: client options for a
 * fixture group, the W1 append workload (docs/GUARANTEES.md), a pipeline variant
 * of it, the final read, and the attribution of lost acknowledged writes to
 * the client or the server (docs/GUARANTEES.md, attribution).
 */
import * as Commands from "@redis-effect/redis/Commands"
import type * as Redis from "@redis-effect/redis/Redis"
import * as RedisError from "@redis-effect/redis/RedisError"
import * as Sentinel from "@redis-effect/redis/Sentinel"
import type * as RedisServer from "@redis-effect/testing/RedisServer"
import type * as RedisSentinel from "@redis-effect/testing/RedisSentinel"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Layer from "effect/Layer"

export const SENTINEL_PW = "sentinel-secret"
export const DATA_PW = "data-secret"

export const optionsFor = (
  group: RedisSentinel.RedisSentinelHandle,
  extra: Partial<Sentinel.Options> = {}
): Sentinel.Options => ({
  sentinels: group.sentinelAddresses,
  masterName: group.masterName,
  ...(group.password === undefined ? {} : { password: group.password }),
  ...(group.sentinelPassword === undefined ? {} : { sentinelPassword: group.sentinelPassword }),
  ...extra
})

export const build = <A, E>(layer: Layer.Layer<A, E>) => Effect.flatMap(Layer.build(layer), (ctx) => Effect.succeed(ctx))

export const errorOf = (exit: Exit.Exit<unknown, unknown>): RedisError.RedisError | undefined => {
  const error = RedisError.failureOf(exit)
  return RedisError.isRedisError(error) ? error : undefined
}

// -----------------------------------------------------------------------------
// W1: unique appends, with a history of invokes and completions
// -----------------------------------------------------------------------------

export interface Op {
  readonly value: string
  readonly key: string
  readonly start: number
  end: number
  outcome: "ok" | "NotSent" | "Rejected" | "Unknown"
  error?: string
  /** The pipeline it was part of, if any. */
  pipeline?: number
}

export const KEYS = 16

export const w1 = (redis: Redis.RedisShape, writers: number, history: Array<Op>, stop: { done: boolean }) =>
  Effect.forEach(
    Array.from({ length: writers }, (_, w) => w),
    (w) =>
      Effect.gen(function*() {
        let seq = 0
        while (!stop.done) {
          const value = `${w}:${seq++}`
          const key = `log:{${seq % KEYS}}`
          const op: Op = { value, key, start: Sentinel.preciseNow(), end: 0, outcome: "ok" }
          history.push(op)
          const exit = yield* Effect.exit(redis.rpush(key, value))
          op.end = Sentinel.preciseNow()
          const error = errorOf(exit)
          if (error !== undefined) {
            op.outcome = error.outcome
            op.error = `${error.reason._tag}/${error.outcome}`
            yield* Effect.sleep("5 millis")
          }
        }
      }),
    { concurrency: "unbounded", discard: true }
  )

/** What the pipeline workers saw. */
export interface PipelineStats {
  pipelines: number
  /** Every command acknowledged. */
  wholeOk: number
  /** Some acknowledged, some not. */
  partial: number
  /** None acknowledged. */
  noneOk: number
  /** Not settled within the bound: a hang. */
  hung: number
  /** Started before `evidenceAt` and acknowledged wholly after the switch: moved to the new primary. */
  spans: Array<{ readonly start: number; readonly end: number; readonly ok: boolean }>
}

/**
 * W1 through pipelines: each worker sends `size` `RPUSH pl:{k} <unique>` in
 * one `pipelineExits`, bounded by `boundMillis` (a pipeline still unsettled
 * then counts as hung).
 */
export const pipelineLoad = (
  redis: Redis.RedisShape,
  workers: number,
  size: number,
  history: Array<Op>,
  stats: PipelineStats,
  stop: { done: boolean },
  boundMillis: number
) =>
  Effect.forEach(
    Array.from({ length: workers }, (_, w) => w),
    (w) =>
      Effect.gen(function*() {
        let seq = 0
        while (!stop.done) {
          const id = stats.pipelines++
          const start = Sentinel.preciseNow()
          const ops: Array<Op> = []
          for (let i = 0; i < size; i++) {
            const value = `p${w}:${seq++}`
            ops.push({ value, key: `pl:{${seq % KEYS}}`, start, end: 0, outcome: "ok", pipeline: id })
          }
          history.push(...ops)
          const result = yield* Effect.timeoutOption(
            redis.pipelineExits(ops.map((o) => Commands.rpush(o.key, o.value))),
            boundMillis
          )
          const end = Sentinel.preciseNow()
          if (result._tag === "None") {
            stats.hung++
            for (const o of ops) {
              o.end = end
              o.outcome = "Unknown"
              o.error = "hung"
            }
            continue
          }
          let ok = 0
          result.value.forEach((exit, i) => {
            const o = ops[i]
            o.end = end
            const error = errorOf(exit)
            if (error === undefined && Exit.isSuccess(exit)) ok++
            else {
              o.outcome = error?.outcome ?? "Unknown"
              o.error = error === undefined ? "defect" : `${error.reason._tag}/${error.outcome}`
            }
          })
          if (ok === size) stats.wholeOk++
          else if (ok === 0) stats.noneOk++
          else stats.partial++
          stats.spans.push({ start, end, ok: ok === size })
          if (ok < size) yield* Effect.sleep("5 millis")
        }
      }),
    { concurrency: "unbounded", discard: true }
  )

export const emptyPipelineStats = (): PipelineStats => ({
  pipelines: 0,
  wholeOk: 0,
  partial: 0,
  noneOk: 0,
  hung: 0,
  spans: []
})

export const analyse = (
  label: string,
  history: ReadonlyArray<Op>,
  lists: ReadonlyMap<string, ReadonlyArray<string>>,
  evidenceAt: number,
  switchedAt: number
) => {
  const present = new Map<string, number>()
  for (const values of lists.values()) for (const v of values) present.set(v, (present.get(v) ?? 0) + 1)
  const invoked = new Set(history.map((o) => o.value))
  const duplicates = [...present.values()].filter((n) => n > 1).length
  const phantoms = [...present.keys()].filter((v) => !invoked.has(v)).length
  const acked = history.filter((o) => o.outcome === "ok")
  const lost = acked.filter((o) => !present.has(o.value))
  const lostClient = lost.filter((o) => o.end >= evidenceAt)
  const lostServer = lost.filter((o) => o.end < evidenceAt)
  const misclassified = history.filter((o) => (o.outcome === "NotSent" || o.outcome === "Rejected") && present.has(o.value))
  const errors = new Map<string, number>()
  for (const o of history) if (o.error !== undefined) errors.set(o.error, (errors.get(o.error) ?? 0) + 1)
  const firstOkAfter = acked.filter((o) => o.end >= evidenceAt).reduce((m, o) => Math.min(m, o.end), Infinity)
  const report = {
    ops: history.length,
    acked: acked.length,
    errors: Object.fromEntries(errors),
    duplicates,
    phantoms,
    misclassified: misclassified.length,
    lost_ack_client: lostClient.length,
    lost_ack_server: lostServer.length,
    recovery_ms_first_ok_after_evidence: firstOkAfter - evidenceAt,
    switch_ms_evidence_to_verified: switchedAt - evidenceAt
  }
  console.log(`[sentinel ${label}] ${JSON.stringify(report)}`)
  return report
}

/** `WAIT`, then every W1 list (`log:{k}`, and `pl:{k}` with `pipelines`) from the primary. */
export const finalRead = (redis: Redis.RedisShape, prefixes: ReadonlyArray<string> = ["log"]) =>
  Effect.gen(function*() {
    yield* Effect.ignore(redis.wait(2, 2000))
    const lists = new Map<string, ReadonlyArray<string>>()
    for (const prefix of prefixes) {
      for (let k = 0; k < KEYS; k++) {
        const key = `${prefix}:{${k}}`
        lists.set(key, yield* redis.lrange(key, 0, -1))
      }
    }
    return lists
  })

/** How many connections named `name` a node holds (`CLIENT LIST`). */
export const connectionsNamed = (node: RedisServer.RedisServerHandle, name: string) =>
  Effect.map(node.cli("CLIENT", "LIST"), (list) => list.split("\n").filter((l) => l.includes(` name=${name} `)).length)

/** `calls=` of `cmdstat_<command>` in `INFO commandstats` (0 when absent). */
export const callsOf = (info: Record<string, string>, command: string): number =>
  Number(/calls=(\d+)/.exec(info[`cmdstat_${command}`] ?? "")?.[1] ?? 0)

/** `ROLE` of a node: `master`, `slave`, or `down` when it does not answer. */
export const roleOf = (node: RedisServer.RedisServerHandle) =>
  node.cli("ROLE").pipe(Effect.map((r) => r.split("\n")[0]), Effect.orElseSucceed(() => "down"))
