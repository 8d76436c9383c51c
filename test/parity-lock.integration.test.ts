/**
 * redis-py `Lock` parity of `redis.lock`, against a real redis-server:
 * `blocking: false`, `blockingTimeout` and `pollInterval`; `locked` and
 * `owned`; `extend` adding to or replacing the time to live; `reacquire`;
 * a lock without a time to live only when asked (`ttl: "Infinity"`); the
 * typed `LockNotOwned` from `releaseOrFail` / `extendOrFail` / `reacquire`
 * once the lock expired; and options that contradict each other refused
 * with `InvalidArgument`.
 *
 * Waits are printed, and asserted only as "did not give up early" and "did
 * not wait for the whole default".
 */
import { assert, describe, it } from "@effect/vitest"
import * as Lock from "@redis-effect/redis/Lock"
import * as Redis from "@redis-effect/redis/Redis"
import type * as RedisError from "@redis-effect/redis/RedisError"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"
import * as Schedule from "effect/Schedule"
import { eventually, key, serverWithClient } from "./redis-helpers.ts"

const elapsedOf = <A, E, R>(effect: Effect.Effect<A, E, R>) =>
  Effect.gen(function*() {
    const started = Date.now()
    const exit = yield* Effect.exit(effect)
    return { exit, ms: Date.now() - started }
  })

const lockedCode = (e: RedisError.RedisError) => e.reason._tag === "ReplyError" ? e.reason.code : e.reason._tag

describe("lock parity", () => {
  it.layer(serverWithClient(), { excludeTestServices: true })((it) => {
    it.effect("blocking: false fails LOCKED at once when someone holds it", () =>
      Effect.gen(function*() {
        const redis = yield* Redis.Redis
        const name = key("nb")
        yield* redis.lock(name, { ttl: "10 seconds" })
        const { exit, ms } = yield* elapsedOf(Effect.scoped(redis.lock(name, { ttl: "1 second", blocking: false })))
        console.log(`blocking: false gave up after ${ms} ms`)
        assert.isTrue(exit._tag === "Failure")
        const error = yield* Effect.flip(Effect.scoped(redis.lock(name, { ttl: "1 second", blocking: false })))
        assert.strictEqual(lockedCode(error), "LOCKED")
        assert.isBelow(ms, 1000)
      }).pipe(Effect.scoped))

    it.effect("blockingTimeout: gives up with LOCKED after about that long, not before", () =>
      Effect.gen(function*() {
        const redis = yield* Redis.Redis
        const name = key("bt")
        yield* redis.lock(name, { ttl: "10 seconds" })
        const { exit, ms } = yield* elapsedOf(
          Effect.scoped(redis.lock(name, { ttl: "1 second", blockingTimeout: "300 millis", pollInterval: "20 millis" }))
        )
        console.log(`blockingTimeout 300 ms gave up after ${ms} ms`)
        assert.isTrue(exit._tag === "Failure")
        assert.isAtLeast(ms, 290)
        assert.isBelow(ms, 5000, "far less than the 10 s default")
      }).pipe(Effect.scoped))

    it.effect("pollInterval: a waiter takes the lock soon after the holder releases it", () =>
      Effect.gen(function*() {
        const redis = yield* Redis.Redis
        const name = key("poll")
        const first = yield* Effect.scoped(Effect.gen(function*() {
          const held = yield* redis.lock(name, { ttl: "10 seconds" })
          const waiter = yield* Effect.forkChild(Effect.scoped(Effect.gen(function*() {
            const l = yield* redis.lock(name, { ttl: "10 seconds", pollInterval: "25 millis", blockingTimeout: "5 seconds" })
            return l.token
          })))
          yield* Effect.sleep("100 millis")
          assert.isTrue(yield* held.owned)
          return { waiter, token: held.token }
        }))
        // The scope closed: the first holder released; the waiter gets it.
        const token = yield* Fiber.join(first.waiter)
        assert.notStrictEqual(token, first.token)
      }).pipe(Effect.scoped))

    it.effect("locked and owned", () =>
      Effect.gen(function*() {
        const redis = yield* Redis.Redis
        const name = key("lo")
        const lock = yield* redis.lock(name, { ttl: "10 seconds" })
        assert.isTrue(yield* lock.locked)
        assert.isTrue(yield* lock.owned)
        yield* redis.set(name, "someone-else")
        assert.isTrue(yield* lock.locked)
        assert.isFalse(yield* lock.owned)
        yield* redis.del([name])
        assert.isFalse(yield* lock.locked)
        assert.isFalse(yield* lock.owned)
      }).pipe(Effect.scoped))

    it.effect("extend replaces the ttl by default and adds to it with add: true; reacquire resets it", () =>
      Effect.gen(function*() {
        const redis = yield* Redis.Redis
        const name = key("ext")
        const lock = yield* redis.lock(name, { ttl: "10 seconds" })
        assert.isTrue(yield* lock.extend("3 seconds"))
        const replaced = yield* redis.pttl(name)
        assert.isTrue(replaced > 2000 && replaced <= 3000, `replaced: ${replaced}`)
        assert.isTrue(yield* lock.extend("20 seconds", { add: true }))
        const added = yield* redis.pttl(name)
        assert.isTrue(added > 21_000 && added <= 23_000, `added: ${added}`)
        yield* lock.extendOrFail("1 second")
        yield* lock.reacquire
        const reset = yield* redis.pttl(name)
        assert.isTrue(reset > 9000 && reset <= 10_000, `reset: ${reset}`)
        assert.strictEqual(Duration.toMillis(lock.ttl!), 10_000)
      }).pipe(Effect.scoped))

    it.effect("a lock without a ttl only when asked: ttl \"Infinity\" never expires, has nothing to extend, and releases", () =>
      Effect.gen(function*() {
        const redis = yield* Redis.Redis
        const name = key("forever")
        const lock = yield* redis.lock(name, { ttl: "Infinity" })
        assert.strictEqual(yield* redis.pttl(name), -1)
        assert.isUndefined(lock.ttl)
        assert.strictEqual((yield* Effect.flip(lock.extend("1 second"))).reason._tag, "InvalidArgument")
        const reacquired = yield* Effect.flip(lock.reacquire)
        assert.isTrue(reacquired._tag === "RedisError" && reacquired.reason._tag === "InvalidArgument")
        yield* lock.releaseOrFail
        assert.isFalse(yield* lock.locked)
      }).pipe(Effect.scoped))

    it.effect("a holder whose lock expired gets LockNotOwned from releaseOrFail, extendOrFail and reacquire", () =>
      Effect.gen(function*() {
        const redis = yield* Redis.Redis
        const name = key("gone")
        const lock = yield* redis.lock(name, { ttl: "150 millis" })
        yield* eventually("the lock expires", Effect.map(lock.locked, (held) => !held))
        // Someone else takes it meanwhile.
        const other = yield* redis.lock(name, { ttl: "10 seconds", blocking: false })
        for (const attempt of [lock.releaseOrFail, lock.extendOrFail("1 second"), lock.reacquire]) {
          const error = yield* Effect.flip(attempt)
          assert.strictEqual(error._tag, "LockNotOwned")
          if (error._tag === "LockNotOwned") {
            assert.strictEqual(error.name, name)
            assert.instanceOf(error, Lock.LockNotOwned)
          }
        }
        // The boolean forms answer false, and the other holder keeps the lock.
        assert.isFalse(yield* lock.release)
        assert.isFalse(yield* lock.extend("1 second"))
        assert.isTrue(yield* other.owned)
      }).pipe(Effect.scoped))

    it.effect("contradicting or bad options are refused with InvalidArgument naming them", () =>
      Effect.gen(function*() {
        const redis = yield* Redis.Redis
        const BAD: ReadonlyArray<readonly [Lock.LockOptions, string]> = [
          [{ ttl: 0 }, "ttl"],
          [{ ttl: -5 }, "ttl"],
          [{ ttl: "1 second", retry: Schedule.recurs(1), blocking: true }, "retry or blocking"],
          [{ ttl: "1 second", blocking: false, blockingTimeout: "1 second" }, "need blocking: true"],
          [{ ttl: "1 second", blocking: false, pollInterval: "10 millis" }, "need blocking: true"],
          [{ ttl: "1 second", pollInterval: 0 }, "pollInterval"],
          [{ ttl: "1 second", blockingTimeout: -1 }, "blockingTimeout"]
        ]
        for (const [options, why] of BAD) {
          const error = yield* Effect.flip(Effect.scoped(redis.lock(key("bad"), options)))
          assert.strictEqual(error.reason._tag, "InvalidArgument", why)
          assert.include(error.message, why)
        }
        const lock = yield* redis.lock(key("badext"), { ttl: "1 second" })
        assert.strictEqual((yield* Effect.flip(lock.extend(0))).reason._tag, "InvalidArgument")
      }).pipe(Effect.scoped))

    it.effect("blockingTimeout \"Infinity\" waits for as long as it takes", () =>
      Effect.gen(function*() {
        const redis = yield* Redis.Redis
        const name = key("inf")
        const held = yield* Effect.forkChild(Effect.scoped(Effect.gen(function*() {
          yield* redis.lock(name, { ttl: "10 seconds" })
          yield* Effect.sleep("300 millis")
        })))
        yield* Effect.sleep("50 millis")
        const { exit, ms } = yield* elapsedOf(
          Effect.scoped(redis.lock(name, { ttl: "1 second", blockingTimeout: "Infinity", pollInterval: "20 millis" }))
        )
        console.log(`blockingTimeout Infinity took the lock after ${ms} ms`)
        assert.strictEqual(exit._tag, "Success")
        yield* Fiber.join(held)
      }).pipe(Effect.scoped))
  })
})
