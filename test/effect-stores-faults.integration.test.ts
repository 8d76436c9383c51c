/**
 * Effect's `PersistedQueue` and `RateLimiter` on redis-effect through the
 * faults of docs/GUARANTEES.md: a planned Sentinel failover, a coordinated
 * `CLUSTER FAILOVER`, a live migration of the stores' slot and a killed
 * primary (cluster), each while producers offer, consumers take and
 * limiter callers consume.
 *
 * What is checked, per fault:
 *
 * - **Queue**: every offer that was acknowledged is delivered (taken and
 *   handled) once the fault is over. Effect's queue is at-least-once, so
 *   deliveries of one job beyond the first are counted, not refused; the
 *   report says why they happened (`attempts` > 1: the job came back after
 *   its lock expired, because the first delivery's acknowledgement did not
 *   reach the server). An acknowledged offer that is nowhere is lost; one
 *   still in the pending hash is reported as stuck.
 * - **RateLimiter** (fixed window, limit `LIMIT` over an hour, so the window
 *   never resets during a run): callers are admitted at most `LIMIT` times,
 *   plus what the server lost (an admission acknowledged by a primary that
 *   died before replicating it). Each admission reports the count it left
 *   behind; a count reported twice is an admission the server lost.
 *
 * The planned failovers and the migration are lossless transitions: nothing
 * acknowledged may be lost and the limiter may not over-admit. A killed
 * primary may lose what it acknowledged before it died (asynchronous
 * replication): reported, and only what was acknowledged after the kill
 * must be delivered.
 */
import { assert, describe, it } from "@effect/vitest"
import * as NodeCluster from "@redis-effect/node/NodeCluster"
import * as NodeSentinel from "@redis-effect/node/NodeSentinel"
import * as EffectRedis from "@redis-effect/redis/EffectRedis"
import * as Redis from "@redis-effect/redis/Redis"
import * as RedisError from "@redis-effect/redis/RedisError"
import * as RedisCluster from "@redis-effect/testing/RedisCluster"
import * as RedisSentinel from "@redis-effect/testing/RedisSentinel"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"
import * as Layer from "effect/Layer"
import { PersistedQueue, RateLimiter } from "effect/persistence"
import * as Schema from "effect/Schema"
import { optionsFor } from "./sentinel-support.ts"

const QUEUE_PREFIX = "{faultq}:"
const LIMIT_PREFIX = "{faultrl}:"
const QUEUE = "jobs"
const LIMIT = 1500
const Job = Schema.Struct({ n: Schema.Number })

// Short locks, so a job whose acknowledgement was lost comes back within
// the run instead of after Effect's default 90 s.
const Stores = Layer.mergeAll(
  PersistedQueue.layer.pipe(Layer.provide(PersistedQueue.layerStoreRedis({
    prefix: QUEUE_PREFIX,
    pollInterval: "20 millis",
    lockRefreshInterval: "500 millis",
    lockExpiration: "3 seconds"
  }))),
  RateLimiter.layer.pipe(Layer.provide(RateLimiter.layerStoreRedis({ prefix: LIMIT_PREFIX })))
)

/** This client's error inside a store's error (`cause`, or `reason.cause`). */
const reasonOf = (error: unknown): string => {
  let e: unknown = error
  for (let i = 0; i < 5 && e !== undefined && !RedisError.isRedisError(e); i++) {
    const x = e as { readonly cause?: unknown; readonly reason?: { readonly cause?: unknown; readonly _tag?: string } }
    e = x.cause ?? x.reason?.cause
  }
  return RedisError.isRedisError(e) ? `${e.reason._tag}/${e.outcome}` : String((error as { _tag?: string })?._tag ?? error)
}

/** The error of a failed exit, or the defect or interruption. */
const failureOf = (exit: Exit.Exit<unknown, unknown>): unknown => {
  if (Exit.isSuccess(exit)) return undefined
  const reason = exit.cause.reasons[0]
  return reason?._tag === "Fail" ? reason.error : reason?._tag === "Die" ? reason.defect : reason?._tag
}

const count = (m: Map<string, number>, k: string) => m.set(k, (m.get(k) ?? 0) + 1)

interface Report {
  readonly offered: number
  readonly acked: number
  readonly offerErrors: Record<string, number>
  readonly delivered: number
  readonly lost: number
  readonly lostAckedBeforeFault: number
  readonly stuckPending: number
  readonly duplicates: number
  readonly redeliveredAfterLockExpiry: number
  readonly drainMillis: number
  readonly admitted: number
  /** Admissions that reported a count another admission had already reported: the server lost the first. */
  readonly limiterLost: number
  readonly limiterErrors: Record<string, number>
}

/**
 * Runs producers, consumers and limiter callers; `fault` happens one second
 * in; the load stops one second after it returned; then the queue drains.
 */
const underFault = (label: string, fault: Effect.Effect<unknown, unknown>) =>
  Effect.gen(function*() {
    const redis = yield* Redis.Redis
    const queue = yield* PersistedQueue.make({ name: QUEUE, schema: Job })
    const limiter = yield* RateLimiter.RateLimiter
    const acked = new Map<number, number>()
    const offerErrors = new Map<string, number>()
    const deliveries = new Map<number, number>()
    let redelivered = 0
    const limiterErrors = new Map<string, number>()
    let admitted = 0
    // The count each admission left behind (limit - remaining): a count seen
    // twice means the server lost the first admission's increment.
    const counts = new Set<number>()
    let next = 0
    const stop = { load: false }

    const producer = Effect.gen(function*() {
      while (!stop.load) {
        const n = next++
        const exit = yield* Effect.exit(queue.offer({ n }))
        if (Exit.isSuccess(exit)) acked.set(n, performance.now())
        else count(offerErrors, reasonOf(failureOf(exit)))
        yield* Effect.sleep("2 millis")
      }
    })
    // A consumer survives what a fault does to it: a take that fails, or an
    // acknowledgement Effect gives up on (it dies after `lockExpiration`).
    const consumer = Effect.forever(Effect.exit(queue.take((job, meta) =>
      Effect.sync(() => {
        deliveries.set(job.n, (deliveries.get(job.n) ?? 0) + 1)
        if (meta.attempts > 0 && deliveries.get(job.n)! > 1) redelivered++
      }))))
    // Callers go on past the load until the limit has refused someone (so
    // that it was reached, however slow the machine), for at most 30 s.
    let exceeded = false
    const callersUntil = performance.now() + 30_000
    const caller = Effect.gen(function*() {
      while (!(stop.load && exceeded) && performance.now() < callersUntil) {
        const exit = yield* Effect.exit(
          limiter.consume({ key: "api", limit: LIMIT, window: "1 hour", algorithm: "fixed-window", onExceeded: "fail" })
        )
        if (Exit.isSuccess(exit)) {
          admitted++
          counts.add(exit.value.limit - exit.value.remaining)
        }
        else {
          const error = failureOf(exit)
          if ((error as { reason?: { _tag?: string } })?.reason?._tag === "RateLimitExceeded") exceeded = true
          else count(limiterErrors, reasonOf(error))
        }
        yield* Effect.sleep("5 millis")
      }
    })

    const producers = yield* Effect.forkChild(Effect.all(Array.from({ length: 4 }, () => producer), { concurrency: "unbounded" }))
    const consumers = yield* Effect.forkChild(Effect.all(Array.from({ length: 8 }, () => consumer), { concurrency: "unbounded" }))
    const callers = yield* Effect.forkChild(Effect.all(Array.from({ length: 5 }, () => caller), { concurrency: "unbounded" }))
    yield* Effect.sleep("1 second")
    const faultAt = performance.now()
    yield* Effect.orDie(fault)
    const faultDone = performance.now()
    yield* Effect.sleep("1 second")
    stop.load = true
    yield* Fiber.join(producers)
    yield* Fiber.join(callers)

    // Drain: every acknowledged offer delivered, within the lock expiry and then some.
    const drainStart = performance.now()
    const undelivered = () => [...acked.keys()].filter((n) => !deliveries.has(n))
    while (undelivered().length > 0 && performance.now() - drainStart < 20_000) yield* Effect.sleep("100 millis")
    const drainMillis = Math.round(performance.now() - drainStart)
    yield* Fiber.interrupt(consumers)

    const missing = undelivered()
    const pending = yield* redis.hgetall(`${QUEUE_PREFIX}${QUEUE}:pending`)
    const pendingIds = new Set(Object.values(pending).map((payload) => String(JSON.parse(payload).element?.n)))
    const stuck = missing.filter((n) => pendingIds.has(String(n)))
    const lost = missing.filter((n) => !pendingIds.has(String(n)))
    const report: Report = {
      offered: next,
      acked: acked.size,
      offerErrors: Object.fromEntries(offerErrors),
      delivered: deliveries.size,
      lost: lost.length,
      lostAckedBeforeFault: lost.filter((n) => acked.get(n)! < faultAt).length,
      stuckPending: stuck.length,
      duplicates: [...deliveries.values()].filter((c) => c > 1).length,
      redeliveredAfterLockExpiry: redelivered,
      drainMillis,
      admitted,
      limiterLost: admitted - counts.size,
      limiterErrors: Object.fromEntries(limiterErrors)
    }
    console.log(`[effect stores, ${label}] fault took ${Math.round(faultDone - faultAt)} ms; ${JSON.stringify(report)}`)
    // The next scenario starts from an empty queue and a fresh limiter key.
    yield* redis.del([`${QUEUE_PREFIX}${QUEUE}`, `${QUEUE_PREFIX}${QUEUE}:pending`, `${QUEUE_PREFIX}${QUEUE}:attempts`])
    yield* redis.del([`${QUEUE_PREFIX}${QUEUE}:owners`])
    yield* redis.del([`${LIMIT_PREFIX}api`])
    return report
  }).pipe(Effect.scoped)

/** The lossless faults' promise, and that the load really ran through the fault. */
const expectLossless = (report: Report) => {
  assert.isAbove(report.acked, 500, "the producers kept offering")
  assert.strictEqual(report.lost, 0, "no acknowledged offer lost")
  assert.strictEqual(report.stuckPending, 0, "no acknowledged offer left pending")
  assert.strictEqual(report.limiterLost, 0, "no admission counted twice")
  assert.isAtMost(report.admitted, LIMIT, "the limiter never admitted more than its limit")
  assert.strictEqual(report.admitted, LIMIT, "the limit was reached during the run")
}

const clientOn = <E>(layer: Layer.Layer<Redis.Redis, E>) =>
  Layer.provideMerge(Stores, Layer.provideMerge(EffectRedis.layer, layer))

describe("Effect's PersistedQueue and RateLimiter through faults", () => {
  it.live("Sentinel: a planned failover (SENTINEL FAILOVER)", () =>
    Effect.gen(function*() {
      const group = yield* RedisSentinel.make()
      const report = yield* underFault("SENTINEL FAILOVER", group.failover).pipe(
        Effect.provide(clientOn(NodeSentinel.layerMaster(optionsFor(group))))
      )
      expectLossless(report)
    }).pipe(Effect.scoped), 120_000)

  it.live("cluster: CLUSTER FAILOVER of the stores' primary, a live migration of their slots, then that primary killed", () =>
    Effect.gen(function*() {
      const cluster = yield* RedisCluster.make()
      const nodes = cluster.startupNodes.map((n) => `${n.host}:${n.port}`)
      const ownerOf = (prefix: string) => Effect.flatMap(cluster.keyslot(`${prefix}x`), cluster.slotOwner)
      const run = (label: string, fault: Effect.Effect<unknown, unknown>) =>
        underFault(label, fault).pipe(Effect.provide(clientOn(NodeCluster.layer({ nodes: [nodes[0]!] }))))

      const failover = yield* run("CLUSTER FAILOVER", Effect.gen(function*() {
        const owner = yield* ownerOf(QUEUE_PREFIX)
        const [replica] = yield* cluster.replicasOf(owner)
        yield* cluster.failover(replica)
      }))
      expectLossless(failover)

      const migration = yield* run("migration of the queue's and the limiter's slots", Effect.gen(function*() {
        for (const prefix of [QUEUE_PREFIX, LIMIT_PREFIX]) {
          const slot = yield* cluster.keyslot(`${prefix}x`)
          const from = yield* cluster.slotOwner(slot)
          const to = (yield* cluster.primaries).find((p) => p.port !== from.port)!
          // One key per MIGRATE: the slot stays split for as long as possible.
          yield* cluster.migrateSlots({ from, to, slots: [slot], pipeline: 1 })
        }
      }))
      expectLossless(migration)

      const killed = yield* run("the stores' primary killed", Effect.flatMap(ownerOf(QUEUE_PREFIX), cluster.killPrimary))
      // Acknowledged by the primary before it died and not replicated: the
      // server's loss. What was acknowledged after the kill must be there.
      assert.isAbove(killed.acked, 500)
      assert.strictEqual(killed.lost - killed.lostAckedBeforeFault, 0, "no offer acknowledged after the kill lost")
      assert.isAtMost(killed.admitted, LIMIT + killed.limiterLost, "no admission beyond the limit and what the server lost")
    }).pipe(Effect.scoped), 240_000)
})
