/**
 * The wake-up of a backend's re-discovery loop (`makeCues`), with a loop
 * shaped like the backends' (`next`, then a round raced against `urgent`)
 * and rounds that take 10 ms of `TestClock` time.
 */
import { assert, describe, it } from "@effect/vitest"
import * as RedisConfig from "@redis-effect/redis/RedisConfig"
import * as SentinelDiscovery from "@redis-effect/redis/sentinel/SentinelDiscovery"
import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"
import { TestClock } from "effect/testing"

const loopOf = (cues: SentinelDiscovery.Cues, rounds: Array<string>) =>
  Effect.forever(Effect.gen(function*() {
    const { hint, reason } = yield* cues.next
    const outcome = yield* Effect.raceFirst(
      Effect.as(Effect.sleep("10 millis"), "done"),
      Effect.as(cues.urgent, "interrupted")
    )
    rounds.push(`${reason} ${hint?._tag === "Tcp" ? hint.port : "-"} ${outcome}`)
  }))

describe("SentinelDiscovery.makeCues", () => {
  it.effect("an urgent cue that wakes an idle loop does not interrupt the round it starts, and gives it the hint", () =>
    Effect.gen(function*() {
      const cues = SentinelDiscovery.makeCues()
      const rounds: Array<string> = []
      const fiber = yield* Effect.forkChild(loopOf(cues, rounds))
      yield* Effect.yieldNow
      cues.cue(true, RedisConfig.tcp("10.0.0.2", 6380), "+switch-master")
      yield* TestClock.adjust("10 millis")
      assert.deepStrictEqual(rounds, ["+switch-master 6380 done"])
      assert.isFalse(cues.isPending())
      yield* Fiber.interrupt(fiber)
    }))

  it.effect("an urgent cue during a round interrupts it; the next round carries the urgent cue's hint and reason", () =>
    Effect.gen(function*() {
      const cues = SentinelDiscovery.makeCues()
      const rounds: Array<string> = []
      const fiber = yield* Effect.forkChild(loopOf(cues, rounds))
      yield* Effect.yieldNow
      cues.cue(false, undefined, "interval")
      yield* Effect.yieldNow
      cues.cue(true, RedisConfig.tcp("10.0.0.3", 6381), "READONLY")
      yield* TestClock.adjust("10 millis")
      assert.deepStrictEqual(rounds, ["interval - interrupted", "READONLY 6381 done"])
      yield* Fiber.interrupt(fiber)
    }))

  it.effect("cues while a round runs make one more round (with the first reason), not one each", () =>
    Effect.gen(function*() {
      const cues = SentinelDiscovery.makeCues()
      const rounds: Array<string> = []
      const fiber = yield* Effect.forkChild(loopOf(cues, rounds))
      yield* Effect.yieldNow
      cues.cue(false, undefined, "interval")
      yield* Effect.yieldNow
      cues.cue(false, undefined, "+sdown")
      cues.cue(false, undefined, "+odown")
      assert.isTrue(cues.isPending())
      yield* TestClock.adjust("10 millis")
      yield* TestClock.adjust("10 millis")
      assert.deepStrictEqual(rounds, ["interval - done", "+sdown - done"])
      yield* Fiber.interrupt(fiber)
    }))
})
