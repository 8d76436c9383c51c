/**
 * The Sentinel client against real redis-sentinel processes (FAULTS.md
 * section C): discovery, master and replica layers, sentinel outages, and
 * failovers under a W1 append load (FAULTS.md 0.3) with lost acknowledged
 * writes attributed to the client or the server (FAULTS.md 0.4).
 */
import { assert, describe, it } from "@effect/vitest"
import * as NodeSentinel from "@redis-effect/node/NodeSentinel"
import * as NodeTransport from "@redis-effect/node/NodeTransport"
import * as Redis from "@redis-effect/redis/Redis"
import * as RedisError from "@redis-effect/redis/RedisError"
import * as Sentinel from "@redis-effect/redis/Sentinel"
import * as RedisSentinel from "@redis-effect/testing/RedisSentinel"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as Schedule from "effect/Schedule"
import * as Stream from "effect/Stream"

const SENTINEL_PW = "sentinel-secret"
const DATA_PW = "data-secret"

const optionsFor = (group: RedisSentinel.RedisSentinelHandle, extra: Partial<Sentinel.Options> = {}): Sentinel.Options => ({
  sentinels: group.sentinelAddresses,
  masterName: group.masterName,
  ...(group.password === undefined ? {} : { password: group.password }),
  ...(group.sentinelPassword === undefined ? {} : { sentinelPassword: group.sentinelPassword }),
  ...extra
})

const build = <A, E>(layer: Layer.Layer<A, E>) =>
  Effect.flatMap(Layer.build(layer), (ctx) => Effect.succeed(ctx))

const errorOf = (exit: Exit.Exit<unknown, unknown>): RedisError.RedisError | undefined => {
  if (Exit.isSuccess(exit)) return undefined
  const f = exit.cause.reasons.find((r) => r._tag === "Fail") as { readonly error?: unknown } | undefined
  return RedisError.isRedisError(f?.error) ? f.error : undefined
}

// -----------------------------------------------------------------------------
// W1: unique appends, with a history of invokes and completions
// -----------------------------------------------------------------------------

interface Op {
  readonly value: string
  readonly key: string
  readonly start: number
  end: number
  outcome: "ok" | "NotSent" | "Rejected" | "Unknown"
  error?: string
}

const KEYS = 16

const w1 = (redis: Redis.RedisShape, writers: number, history: Array<Op>, stop: { done: boolean }) =>
  Effect.forEach(
    Array.from({ length: writers }, (_, w) => w),
    (w) =>
      Effect.gen(function*() {
        let seq = 0
        while (!stop.done) {
          const value = `${w}:${seq++}`
          const key = `log:{${seq % KEYS}}`
          const op: Op = { value, key, start: Date.now(), end: 0, outcome: "ok" }
          history.push(op)
          const exit = yield* Effect.exit(redis.rpush(key, value))
          op.end = Date.now()
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

const analyse = (
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

const finalRead = (redis: Redis.RedisShape) =>
  Effect.gen(function*() {
    yield* Effect.ignore(redis.wait(2, 2000))
    const lists = new Map<string, ReadonlyArray<string>>()
    for (let k = 0; k < KEYS; k++) {
      const key = `log:{${k}}`
      lists.set(key, yield* redis.lrange(key, 0, -1))
    }
    return lists
  })

const failoverUnderLoad = (label: string, fault: (group: RedisSentinel.RedisSentinelHandle) => Effect.Effect<unknown, unknown>) =>
  Effect.gen(function*() {
    const group = yield* RedisSentinel.make({ password: DATA_PW, sentinelPassword: SENTINEL_PW })
    const ctx = yield* build(NodeSentinel.layerMaster(optionsFor(group)))
    const redis = ctx.mapUnsafe.get(Redis.Redis.key) as Redis.RedisShape
    const sentinel = ctx.mapUnsafe.get(Sentinel.Sentinel.key) as Sentinel.SentinelShape
    // Receipt time of the first +switch-master, as the client saw it.
    let switchMasterAt = Infinity
    yield* Effect.forkScoped(Stream.runForEach(sentinel.events, (e) =>
      Effect.sync(() => {
        if (e.channel === "+switch-master") switchMasterAt = Math.min(switchMasterAt, e.receivedAt)
      })))
    // W4-lite: a subscriber that must hear the publisher after the switch.
    const received: Array<number> = []
    yield* Effect.forkScoped(Stream.runForEach(redis.subscribe("w4"), () => Effect.sync(() => received.push(Date.now()))))
    const gen0 = yield* redis.pubsubGeneration
    yield* Effect.sleep("200 millis")
    const history: Array<Op> = []
    const stop = { done: false }
    const load = yield* Effect.forkChild(w1(redis, 10, history, stop))
    const publisher = yield* Effect.forkChild(Effect.forever(Effect.andThen(Effect.ignore(redis.publish("w4", "x")), Effect.sleep("50 millis"))))
    yield* Effect.sleep("1 second")
    const faultAt = Date.now()
    yield* fault(group)
    // Keep writing well past the switch (the demoted primary keeps acking ~10 s on its own).
    yield* Effect.sleep("4 seconds")
    stop.done = true
    yield* Fiber.join(load)
    yield* Fiber.interrupt(publisher)
    const state = yield* sentinel.state
    const sw = state.switches[0]
    assert.isDefined(sw, "the client switched primaries")
    const evidenceAt = Math.min(sw.evidenceAt, switchMasterAt)
    console.log(`[sentinel ${label}] fault at +0, evidence (${sw.evidence}) at +${sw.evidenceAt - faultAt} ms, +switch-master received at +${switchMasterAt - faultAt} ms, verified ${sw.to} at +${sw.switchedAt - faultAt} ms`)
    const primary = yield* group.currentPrimary
    assert.strictEqual(sw.to, `127.0.0.1:${primary.port}`)
    const lists = yield* finalRead(redis)
    const report = analyse(label, history, lists, evidenceAt, sw.switchedAt)
    assert.strictEqual(report.duplicates, 0, "no duplicates")
    assert.strictEqual(report.phantoms, 0, "no phantoms")
    assert.strictEqual(report.misclassified, 0, "NotSent/Rejected ops were not applied")
    assert.strictEqual(report.lost_ack_client, 0, "no acked write lost after the client had evidence")
    assert.isTrue(Number.isFinite(report.recovery_ms_first_ok_after_evidence), "writes succeed after the switch")
    // Pub/sub moved: messages after the switch, and the generation grew.
    const gen1 = yield* redis.pubsubGeneration
    console.log(`[sentinel ${label}] pubsub generation ${gen0} -> ${gen1}, messages after switch: ${received.filter((t) => t > sw.switchedAt).length}`)
    assert.isTrue(gen1 > gen0)
    assert.isTrue(received.some((t) => t > sw.switchedAt + 100), "subscription re-established on the new primary")
  }).pipe(Effect.scoped)

describe("Sentinel", () => {
  it.live("master and replica layers read and write; replicas really serve reads; separate sentinel password", () =>
    Effect.gen(function*() {
      const group = yield* RedisSentinel.make({ password: DATA_PW, sentinelPassword: SENTINEL_PW })
      const master = (yield* build(NodeSentinel.layerMaster(optionsFor(group)))).mapUnsafe.get(Redis.Redis.key) as Redis.RedisShape
      const replica = (yield* build(NodeSentinel.layerReplica(optionsFor(group)))).mapUnsafe.get(Redis.Redis.key) as Redis.RedisShape
      const replicas = yield* group.currentReplicas
      for (const r of replicas) yield* r.cli("CONFIG", "RESETSTAT")
      yield* master.set("greeting", "hello")
      assert.deepStrictEqual(yield* master.get("greeting"), Option.some("hello"))
      yield* Effect.ignore(master.wait(2, 1000))
      for (let i = 0; i < 20; i++) assert.deepStrictEqual(yield* replica.get("greeting"), Option.some("hello"))
      // Both replicas served some of the reads (round robin).
      for (const r of replicas) {
        const stats = yield* r.info("commandstats")
        const calls = Number(/calls=(\d+)/.exec(stats.cmdstat_get ?? "")?.[1] ?? 0)
        console.log(`[sentinel rw] replica ${r.port} served ${calls} GETs`)
        assert.isTrue(calls > 0)
      }
      // A write through the replica layer is refused by the replica.
      const error = yield* replica.set("x", "1").pipe(Effect.flip)
      assert.strictEqual(error.reason._tag, "ReadOnly")
      // The Sentinel service.
      const sentinel = yield* Sentinel.make(optionsFor(group)).pipe(Effect.provide(NodeTransport.layer))
      const m = yield* sentinel.discoverMaster()
      assert.deepStrictEqual(m, { _tag: "Tcp", host: "127.0.0.1", port: group.nodes[0].port })
      const rs = yield* sentinel.discoverReplicas()
      assert.strictEqual(rs.length, 2)
      const state = yield* sentinel.state
      assert.strictEqual(state.sentinels.length, 3)
    }).pipe(Effect.scoped), 90_000)

  it.live("wrong service name -> MasterNotFound at once; sentinel outages", () =>
    Effect.gen(function*() {
      const group = yield* RedisSentinel.make({ password: DATA_PW, sentinelPassword: SENTINEL_PW })
      let started = Date.now()
      const wrong = yield* Layer.build(NodeSentinel.layerMaster(optionsFor(group, { masterName: "nosuch" }))).pipe(Effect.flip)
      const tookWrong = Date.now() - started
      console.log(`[sentinel outage] wrong name -> ${wrong.reason._tag} in ${tookWrong} ms: ${wrong.message}`)
      assert.strictEqual(wrong.reason._tag, "MasterNotFound")
      assert.match(wrong.message, /no sentinel knows 'nosuch'/)
      assert.isBelow(tookWrong, 3000)

      // Wrong sentinel password: every sentinel refuses; the message says so.
      const badAuth = yield* Layer.build(NodeSentinel.layerMaster(optionsFor(group, {
        sentinelPassword: "wrong",
        discoveryRetry: Schedule.recurs(1)
      }))).pipe(Effect.flip)
      assert.strictEqual(badAuth.reason._tag, "MasterNotFound")
      assert.notInclude(badAuth.message, "wrong\"")

      // First sentinel dead: the others answer, quickly.
      yield* group.killSentinel(0)
      started = Date.now()
      const ctx = yield* build(NodeSentinel.layerMaster(optionsFor(group)))
      console.log(`[sentinel outage] first sentinel down: connected in ${Date.now() - started} ms`)
      const redis = ctx.mapUnsafe.get(Redis.Redis.key) as Redis.RedisShape
      yield* redis.set("k", "v")
      const sentinel = ctx.mapUnsafe.get(Sentinel.Sentinel.key) as Sentinel.SentinelShape
      const order = (yield* sentinel.state).sentinels
      assert.notStrictEqual((order[0] as { readonly port: number }).port, group.sentinels[0].port, "a live sentinel moved to the front")

      // All sentinels down: MasterNotFound after the schedule, listing each sentinel.
      yield* group.killSentinel(1)
      yield* group.killSentinel(2)
      started = Date.now()
      const none = yield* Layer.build(NodeSentinel.layerMaster(optionsFor(group, {
        discoveryRetry: Schedule.spaced("100 millis").pipe(Schedule.upTo({ times: 3 }))
      }))).pipe(Effect.flip)
      const tookNone = Date.now() - started
      console.log(`[sentinel outage] all down -> ${none.reason._tag} in ${tookNone} ms: ${none.message}`)
      assert.strictEqual(none.reason._tag, "MasterNotFound")
      for (const s of group.sentinels) assert.include(none.message, `127.0.0.1:${s.port}`)
      assert.isAtLeast(tookNone, 250)
      // The client built before still writes to the primary it knows.
      yield* redis.set("k", "v2")
    }).pipe(Effect.scoped), 90_000)

  it.live("SENTINEL FAILOVER under W1 load: follows the new primary, no acked write lost after +switch-master", () =>
    failoverUnderLoad("failover", (group) => group.failover), 120_000)

  it.live("primary killed under W1 load: follows the new primary through real failure detection", () =>
    failoverUnderLoad("kill", (group) => Effect.andThen(group.killPrimary, (old) => group.awaitSwitch(old))), 120_000)
})
