/**
 * A planned Sentinel failover (`SENTINEL FAILOVER`, fault C1 of
 * docs/GUARANTEES.md) loses no acknowledged write: five failovers in a row
 * under ten unique-append writers (W1), then every acknowledged value must
 * be in the lists exactly once.
 *
 * The sentinels announce the switch before they promote the replica
 * (`+selected-slave`, `+failover-state-send-slaveof-noone`); the master
 * backend holds writes from then on, so nothing goes to the old primary
 * once the replica may have stopped following it. The test prints, per
 * failover, how long writes paused (the longest stretch without an
 * acknowledged write) and where the client switched.
 */
import { assert, describe, it } from "@effect/vitest"
import * as NodeSentinel from "@redis-effect/node/NodeSentinel"
import * as Redis from "@redis-effect/redis/Redis"
import * as Sentinel from "@redis-effect/redis/Sentinel"
import * as RedisSentinel from "@redis-effect/testing/RedisSentinel"
import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"
import { build, DATA_PW, finalRead, type Op, optionsFor, w1 } from "./sentinel-support.ts"

const FAILOVERS = 5
const WRITERS = 10

/** The longest stretch in [from, to] with no acknowledged write, in ms. */
const longestPause = (acks: ReadonlyArray<number>, from: number, to: number) => {
  let last = from
  let longest = 0
  for (const t of acks) {
    if (t < from) continue
    if (t > to) break
    longest = Math.max(longest, t - last)
    last = t
  }
  return Math.round(longest)
}

describe("Sentinel: planned failovers", () => {
  it.live(`${FAILOVERS} SENTINEL FAILOVERs under ${WRITERS} W1 writers: no acknowledged write lost, none twice`, () =>
    Effect.gen(function*() {
      const group = yield* RedisSentinel.make({ password: DATA_PW })
      // A discovery round every 50 ms lands one inside every hold: a round
      // that reopened the held primary's pool, or installed it after the
      // promotion, once switched the client back to the old primary.
      const ctx = yield* build(NodeSentinel.layerMaster(optionsFor(group, { refreshInterval: "50 millis" })))
      const redis = ctx.mapUnsafe.get(Redis.Redis.key) as Redis.RedisShape
      const sentinel = ctx.mapUnsafe.get(Sentinel.Sentinel.key) as Sentinel.SentinelShape
      const history: Array<Op> = []
      const stop = { done: false }
      const load = yield* Effect.forkChild(w1(redis, WRITERS, history, stop))
      yield* Effect.sleep("500 millis")
      const faults: Array<{ at: number; done: number; from: number; to: number }> = []
      for (let i = 0; i < FAILOVERS; i++) {
        const at = Sentinel.preciseNow()
        const { from, to } = yield* group.failover
        // Writes keep going while the old primary is reconfigured and resyncs.
        yield* group.awaitReplicasInSync
        yield* Effect.sleep("300 millis")
        faults.push({ at, done: Sentinel.preciseNow(), from: from.port, to: to.port })
      }
      stop.done = true
      yield* Fiber.join(load)
      const state = yield* sentinel.state
      const lists = yield* finalRead(redis)

      const present = new Map<string, number>()
      for (const values of lists.values()) for (const v of values) present.set(v, (present.get(v) ?? 0) + 1)
      const acked = history.filter((o) => o.outcome === "ok")
      const lost = acked.filter((o) => !present.has(o.value))
      const duplicates = [...present.values()].filter((n) => n > 1).length
      const misclassified = history.filter((o) => (o.outcome === "NotSent" || o.outcome === "Rejected") && present.has(o.value))
      const errors = new Map<string, number>()
      for (const o of history) if (o.error !== undefined) errors.set(o.error, (errors.get(o.error) ?? 0) + 1)
      const ackTimes = acked.map((o) => o.end).sort((a, b) => a - b)
      faults.forEach((f, i) => {
        const next = faults[i + 1]?.at ?? Infinity
        const lostHere = lost.filter((o) => o.end >= f.at && o.end < next).length
        const sw = state.switches.find((s) => s.switchedAt >= f.at && s.switchedAt < next)
        console.log(
          `[planned failover ${i + 1}] ${f.from} -> ${f.to}: longest write pause ${longestPause(ackTimes, f.at, f.done)} ms; ` +
            `client switched on ${sw?.evidence ?? "?"} at +${sw === undefined ? "?" : Math.round(sw.switchedAt - f.at)} ms; lost ${lostHere}`
        )
      })
      for (const sw of state.switches) {
        console.log(`[planned failover] switch ${sw.from} -> ${sw.to} on ${sw.evidence}`)
      }
      console.log(
        `[planned failover] ${FAILOVERS} failovers: ops ${history.length}, acked ${acked.length}, lost ${lost.length}, duplicates ${duplicates}, ` +
          `misclassified ${misclassified.length}, errors ${JSON.stringify(Object.fromEntries(errors))}`
      )
      assert.strictEqual(state.switches.length, FAILOVERS, "the client followed every failover")
      assert.strictEqual(lost.length, 0, "no acknowledged write lost")
      assert.strictEqual(duplicates, 0, "no write applied twice")
      assert.strictEqual(misclassified.length, 0, "NotSent/Rejected writes were not applied")
      assert.isAbove(acked.length, 1000)
    }).pipe(Effect.scoped), 240_000)
})
