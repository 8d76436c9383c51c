/**
 * The Sentinel client against real redis-sentinel processes (the C faults of
 * docs/GUARANTEES.md): discovery, master and replica layers, sentinel outages, and
 * failovers under a W1 append load and pipelines (docs/GUARANTEES.md) with lost acknowledged
 * writes attributed to the client or the server (its attribution table).
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

import {
  analyse,
  build,
  DATA_PW,
  emptyPipelineStats,
  finalRead,
  type Op,
  optionsFor,
  pipelineLoad,
  SENTINEL_PW,
  w1
} from "./sentinel-support.ts"

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
    const pstats = emptyPipelineStats()
    const load = yield* Effect.forkChild(w1(redis, 8, history, stop))
    const pipes = yield* Effect.forkChild(pipelineLoad(redis, 2, 5, history, pstats, stop, 15_000))
    const publisher = yield* Effect.forkChild(Effect.forever(Effect.andThen(Effect.ignore(redis.publish("w4", "x")), Effect.sleep("50 millis"))))
    yield* Effect.sleep("1 second")
    const faultAt = Date.now()
    yield* fault(group)
    // Keep writing well past the switch (the demoted primary keeps acking ~10 s on its own).
    yield* Effect.sleep("4 seconds")
    stop.done = true
    yield* Fiber.join(load)
    yield* Fiber.join(pipes)
    yield* Fiber.interrupt(publisher)
    const state = yield* sentinel.state
    const sw = state.switches[0]
    assert.isDefined(sw, "the client switched primaries")
    const evidenceAt = Math.min(sw.evidenceAt, switchMasterAt)
    console.log(`[sentinel ${label}] fault at +0, evidence (${sw.evidence}) at +${sw.evidenceAt - faultAt} ms, +switch-master received at +${switchMasterAt - faultAt} ms, verified ${sw.to} at +${sw.switchedAt - faultAt} ms`)
    const primary = yield* group.currentPrimary
    // The client may pass through an interim view; it must end on the true primary.
    assert.strictEqual(state.switches[state.switches.length - 1].to, `127.0.0.1:${primary.port}`)
    const lists = yield* finalRead(redis, ["log", "pl"])
    const report = analyse(label, history, lists, evidenceAt, sw.switchedAt)
    const moved = pstats.spans.filter((p) => p.ok && p.start < evidenceAt && p.end >= sw.switchedAt).length
    const { spans: _spans, ...pipelines } = pstats
    console.log(`[sentinel ${label}] pipelines ${JSON.stringify({ ...pipelines, movedWholly: moved })}`)
    assert.strictEqual(pstats.hung, 0, "no pipeline hung")
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
