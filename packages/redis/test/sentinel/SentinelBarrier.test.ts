/**
 * `SentinelMaster.confirmedBy`, the hold's barrier, over a scripted old
 * primary: the writes it acknowledged during a planned failover count as
 * successes only when the replica being promoted confirmed them (`WAIT`
 * counting every replica, that replica still listed by `ROLE`), never on a
 * count that the replica staying behind could make up alone.
 */
import { assert, describe, it } from "@effect/vitest"
import type * as Cmd from "@redis-effect/redis/Command"
import * as RedisConfig from "@redis-effect/redis/RedisConfig"
import * as RedisError from "@redis-effect/redis/RedisError"
import type { RespValue } from "@redis-effect/redis/Resp"
import * as SentinelMaster from "@redis-effect/redis/sentinel/SentinelMaster"
import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"
import { TestClock } from "effect/testing"

const CHOSEN = RedisConfig.tcp("127.0.0.1", 7002)

/** `ROLE` of a primary with these replica ports (offsets do not matter). */
const primaryWith = (...ports: Array<number>): RespValue => ["master", 100, ports.map((p) => ["127.0.0.1", String(p), "100"])]

/**
 * An old primary answering from `replies` in order. Beyond them, a `WAIT`
 * blocks for its timeout and counts nobody (a replica that never catches
 * up), and `ROLE` answers as the first `ROLE` did.
 */
const oldPrimary = (replies: ReadonlyArray<RespValue | RedisError.RedisError>) => {
  const sent: Array<string> = []
  const send = <A>(command: Cmd.Command<A>): Effect.Effect<A, RedisError.RedisError> =>
    Effect.suspend(() => {
      sent.push(command.args.map(String).join(" "))
      const reply = replies[sent.length - 1]
      if (reply === undefined) {
        return command.name === "WAIT"
          ? Effect.as(Effect.sleep(Number(command.args[2])), command.decode(0))
          : Effect.sync(() => command.decode(replies[0] as RespValue))
      }
      return RedisError.isRedisError(reply) ? Effect.fail(reply) : Effect.sync(() => command.decode(reply))
    })
  return { send, sent }
}

describe("SentinelMaster.confirmedBy", () => {
  it.effect("every replica counted and the chosen one still listed: confirmed", () =>
    Effect.gen(function*() {
      const primary = oldPrimary([primaryWith(7002, 7003), 2, primaryWith(7002, 7003)])
      assert.isTrue(yield* SentinelMaster.confirmedBy(primary.send, CHOSEN))
      assert.deepStrictEqual(primary.sent, ["ROLE", "WAIT 2 100", "ROLE"])
    }))

  it.effect("a WAIT that counts fewer is asked again; the count then complete confirms", () =>
    Effect.gen(function*() {
      const primary = oldPrimary([primaryWith(7002, 7003), 1, primaryWith(7002, 7003), 2, primaryWith(7002, 7003)])
      assert.isTrue(yield* SentinelMaster.confirmedBy(primary.send, CHOSEN))
      assert.deepStrictEqual(primary.sent, ["ROLE", "WAIT 2 100", "ROLE", "WAIT 2 100", "ROLE"])
    }))

  it.effect("the chosen replica already gone from ROLE (promoted): not confirmed, whatever WAIT counted", () =>
    Effect.gen(function*() {
      const gone = oldPrimary([primaryWith(7003)])
      assert.isFalse(yield* SentinelMaster.confirmedBy(gone.send, CHOSEN))
      assert.deepStrictEqual(gone.sent, ["ROLE"])
      // Gone during the WAIT: the one replica it counted is the one that stays.
      const during = oldPrimary([primaryWith(7002, 7003), 1, primaryWith(7003)])
      assert.isFalse(yield* SentinelMaster.confirmedBy(during.send, CHOSEN))
      // Gone, and a count that reaches the number asked for anyway.
      const late = oldPrimary([primaryWith(7002, 7003), 2, primaryWith(7003, 7004)])
      assert.isFalse(yield* SentinelMaster.confirmedBy(late.send, CHOSEN))
    }))

  it.effect("the old primary is a replica already, or fails: not confirmed", () =>
    Effect.gen(function*() {
      const demoted = oldPrimary([["slave", "127.0.0.1", 7002, "connected", 100]])
      assert.isFalse(yield* SentinelMaster.confirmedBy(demoted.send, CHOSEN))
      const failing = oldPrimary([
        primaryWith(7002, 7003),
        RedisError.make(new RedisError.ConnectionError({ message: "connection lost" }), "Unknown", "WAIT")
      ])
      assert.isFalse(yield* SentinelMaster.confirmedBy(failing.send, CHOSEN))
      assert.isFalse(yield* SentinelMaster.confirmedBy(oldPrimary([]).send, RedisConfig.unix("/tmp/redis.sock")))
    }))

  it.effect("a count that never completes: not confirmed after 1 s, WAIT asked every 100 ms till then", () =>
    Effect.gen(function*() {
      const primary = oldPrimary([primaryWith(7002, 7003)])
      const fiber = yield* Effect.forkChild(SentinelMaster.confirmedBy(primary.send, CHOSEN))
      for (let ms = 0; ms < 999; ms += 111) yield* TestClock.adjust(111)
      assert.isUndefined(fiber.pollUnsafe())
      yield* TestClock.adjust(1)
      assert.isFalse(yield* Fiber.join(fiber))
      assert.strictEqual(primary.sent.filter((c) => c === "WAIT 2 100").length, 10)
    }))
})
