/**
 * List commands against a real redis-server, over RESP2 and RESP3: pushes,
 * pops, ranges, moves, the multi-key pops, and the blocking pops (timeouts
 * as `None`, wake-up by a concurrent push, and ordinary commands that keep
 * flowing while a pop blocks).
 */
import { assert, describe, it } from "@effect/vitest"
import { Effect, Fiber, Option } from "effect"
import * as Commands from "@redis-effect/redis/Commands"
import * as Redis from "@redis-effect/redis/Redis"
import * as RedisServer from "@redis-effect/testing/RedisServer"
import { ALL_BYTES, ALL_BYTES_REVERSED, clientLayer, expectRefused, keys, protocols } from "./commands-support.ts"

/**
 * Waits until the server reports at least `n` clients blocked in a command.
 * No sleep between polls: tests run under the `TestClock`, and each poll
 * spawns a `redis-cli`, which paces the loop by itself.
 */
const awaitBlocked = (n: number) =>
  Effect.gen(function*() {
    const server = yield* RedisServer.RedisServer
    const info = yield* server.info("clients")
    if (Number(info.blocked_clients) < n) return yield* Effect.fail("not blocked yet" as const)
  }).pipe(Effect.retry({ times: 2000 }))

/** Waits until the server reports no client blocked in a command. */
const awaitNoneBlocked = Effect.gen(function*() {
  const server = yield* RedisServer.RedisServer
  const info = yield* server.info("clients")
  if (Number(info.blocked_clients) > 0) return yield* Effect.fail("still blocked" as const)
}).pipe(Effect.retry({ times: 500 }))

it.layer(RedisServer.layer())("data commands: lists", (it) => {
  for (const protocol of protocols) {
    it.layer(clientLayer(protocol))(`RESP${protocol}`, (it) => {
      describe("lists", () => {
        it.effect("LPUSH, RPUSH, LPUSHX, RPUSHX, LRANGE, LLEN and LINDEX", () =>
          Effect.gen(function*() {
            const redis = yield* Redis.Redis
            const k = keys(protocol)
            assert.strictEqual(yield* redis.rpush(k("l"), "b"), 1)
            assert.strictEqual(yield* redis.rpush(k("l"), ["c", "d"]), 3)
            assert.strictEqual(yield* redis.lpush(k("l"), ["a2", "a1"]), 5)
            assert.deepStrictEqual(yield* redis.lrange(k("l"), 0, -1), ["a1", "a2", "b", "c", "d"])
            assert.deepStrictEqual(yield* redis.lrange(k("l"), -2, 100), ["c", "d"])
            assert.deepStrictEqual(yield* redis.lrange(k("missing"), 0, -1), [])
            assert.strictEqual(yield* redis.llen(k("l")), 5)
            assert.strictEqual(yield* redis.llen(k("missing")), 0)
            assert.deepStrictEqual(yield* redis.lindex(k("l"), -1), Option.some("d"))
            assert.deepStrictEqual(yield* redis.lindex(k("l"), 99), Option.none())
            assert.strictEqual(yield* redis.lpushx(k("missing"), "x"), 0)
            assert.strictEqual(yield* redis.rpushx(k("missing"), ["x", "y"]), 0)
            assert.strictEqual(yield* redis.exists(k("missing")), 0)
            assert.strictEqual(yield* redis.lpushx(k("l"), "a0"), 6)
            assert.strictEqual(yield* redis.rpushx(k("l"), ["e"]), 7)
          }))

        it.effect("LPOP and RPOP, with and without COUNT; None for a missing list", () =>
          Effect.gen(function*() {
            const redis = yield* Redis.Redis
            const k = keys(protocol)
            yield* redis.rpush(k("l"), ["1", "2", "3", "4", "5"])
            assert.deepStrictEqual(yield* redis.lpop(k("l")), Option.some("1"))
            assert.deepStrictEqual(yield* redis.rpop(k("l")), Option.some("5"))
            assert.deepStrictEqual(yield* redis.lpopCount(k("l"), 2), Option.some(["2", "3"]))
            assert.deepStrictEqual(yield* redis.rpopCount(k("l"), 10), Option.some(["4"]))
            assert.deepStrictEqual(yield* redis.lpop(k("l")), Option.none())
            assert.deepStrictEqual(yield* redis.rpop(k("l")), Option.none())
            assert.deepStrictEqual(yield* redis.lpopCount(k("l"), 2), Option.none())
            assert.deepStrictEqual(yield* redis.rpopCount(k("l"), 2), Option.none())
          }))

        it.effect("LSET, LINSERT, LREM and LTRIM", () =>
          Effect.gen(function*() {
            const redis = yield* Redis.Redis
            const k = keys(protocol)
            yield* redis.rpush(k("l"), ["a", "x", "b", "x", "c", "x"])
            yield* redis.lset(k("l"), 0, "A")
            const error = yield* Effect.flip(redis.lset(k("l"), 99, "Z"))
            assert.strictEqual(error.reason._tag, "ReplyError")
            assert.strictEqual(yield* redis.linsert(k("l"), "BEFORE", "b", "b0"), 7)
            assert.strictEqual(yield* redis.linsert(k("l"), "AFTER", "b", "b1"), 8)
            assert.strictEqual(yield* redis.linsert(k("l"), "AFTER", "nope", "z"), -1)
            assert.strictEqual(yield* redis.linsert(k("missing"), "AFTER", "a", "z"), 0)
            assert.strictEqual(yield* redis.lrem(k("l"), -1, "x"), 1)
            assert.deepStrictEqual(yield* redis.lrange(k("l"), 0, -1), ["A", "x", "b0", "b", "b1", "x", "c"])
            assert.strictEqual(yield* redis.lrem(k("l"), 0, "x"), 2)
            yield* redis.ltrim(k("l"), 1, -2)
            assert.deepStrictEqual(yield* redis.lrange(k("l"), 0, -1), ["b0", "b", "b1"])
          }))

        it.effect("LPOS with RANK, COUNT and MAXLEN", () =>
          Effect.gen(function*() {
            const redis = yield* Redis.Redis
            const k = keys(protocol)
            yield* redis.rpush(k("l"), ["a", "b", "c", "1", "2", "3", "c", "c"])
            assert.deepStrictEqual(yield* redis.lpos(k("l"), "c"), Option.some(2))
            assert.deepStrictEqual(yield* redis.lpos(k("l"), "c", { rank: 2 }), Option.some(6))
            assert.deepStrictEqual(yield* redis.lpos(k("l"), "c", { rank: -1 }), Option.some(7))
            assert.deepStrictEqual(yield* redis.lpos(k("l"), "z"), Option.none())
            assert.deepStrictEqual(yield* redis.lpos(k("l"), "c", { maxlen: 2 }), Option.none())
            assert.deepStrictEqual(yield* redis.lposCount(k("l"), "c", 2), [2, 6])
            assert.deepStrictEqual(yield* redis.lposCount(k("l"), "c", 0), [2, 6, 7])
            assert.deepStrictEqual(yield* redis.lposCount(k("l"), "c", 0, { rank: -1 }), [7, 6, 2])
            assert.deepStrictEqual(yield* redis.lposCount(k("l"), "z", 0), [])
          }))

        it.effect("LMOVE, RPOPLPUSH and LMPOP", () =>
          Effect.gen(function*() {
            const redis = yield* Redis.Redis
            const k = keys(protocol)
            yield* redis.rpush(k("src"), ["1", "2", "3"])
            assert.deepStrictEqual(yield* redis.lmove(k("src"), k("dst"), "LEFT", "RIGHT"), Option.some("1"))
            assert.deepStrictEqual(yield* redis.rpoplpush(k("src"), k("dst")), Option.some("3"))
            assert.deepStrictEqual(yield* redis.lrange(k("dst"), 0, -1), ["3", "1"])
            assert.deepStrictEqual(yield* redis.lmove(k("missing"), k("dst"), "LEFT", "LEFT"), Option.none())
            assert.deepStrictEqual(yield* redis.rpoplpush(k("missing"), k("dst")), Option.none())
            assert.deepStrictEqual(
              yield* redis.lmpop([k("missing"), k("dst")], "LEFT", { count: 5 }),
              Option.some({ key: k("dst"), value: ["3", "1"] })
            )
            assert.deepStrictEqual(yield* redis.lmpop(k("src"), "RIGHT"), Option.some({ key: k("src"), value: ["2"] }))
            assert.deepStrictEqual(yield* redis.lmpop([k("src"), k("dst")], "LEFT"), Option.none())
          }))

        it.effect("…Bytes variants return every byte value 0..255 unchanged", () =>
          Effect.gen(function*() {
            const redis = yield* Redis.Redis
            const k = keys(protocol)
            yield* redis.rpush(k("l"), [ALL_BYTES, ALL_BYTES_REVERSED, ALL_BYTES, ALL_BYTES_REVERSED, ALL_BYTES])
            assert.deepStrictEqual(yield* redis.lrangeBytes(k("l"), 0, 1), [ALL_BYTES, ALL_BYTES_REVERSED])
            assert.deepStrictEqual(yield* redis.lindexBytes(k("l"), 1), Option.some(ALL_BYTES_REVERSED))
            assert.deepStrictEqual(yield* redis.lindexBytes(k("l"), 10), Option.none())
            assert.deepStrictEqual(yield* redis.lpos(k("l"), ALL_BYTES_REVERSED), Option.some(1))
            assert.deepStrictEqual(yield* redis.lpopBytes(k("l")), Option.some(ALL_BYTES))
            assert.deepStrictEqual(yield* redis.rpopBytes(k("l")), Option.some(ALL_BYTES))
            assert.deepStrictEqual(yield* redis.lpopCountBytes(k("l"), 1), Option.some([ALL_BYTES_REVERSED]))
            assert.deepStrictEqual(yield* redis.lmoveBytes(k("l"), k("m"), "RIGHT", "LEFT"), Option.some(ALL_BYTES_REVERSED))
            assert.deepStrictEqual(
              yield* redis.lmpopBytes([k("l"), k("m")], "LEFT", { count: 2 }),
              Option.some({ key: k("l"), value: [ALL_BYTES] })
            )
            assert.deepStrictEqual(yield* redis.rpopCountBytes(k("m"), 3), Option.some([ALL_BYTES_REVERSED]))
            assert.deepStrictEqual(yield* redis.rpopBytes(k("m")), Option.none())
            assert.deepStrictEqual(yield* redis.lpopCountBytes(k("m"), 3), Option.none())
          }))

        it.effect("refused list commands fail with InvalidArgument/NotSent before anything is sent", () =>
          Effect.gen(function*() {
            const redis = yield* Redis.Redis
            const k = keys(protocol)
            yield* expectRefused("rpush", [redis.rpush(k("l"), [])])
            yield* expectRefused("lpop", [redis.lpopCount(k("l"), -1), redis.lpopCount(k("l"), 1.5)])
            yield* expectRefused("lrange", [redis.lrange(k("l"), 0, NaN)])
            yield* expectRefused("lpos", [redis.lpos(k("l"), "x", { rank: 0 }), redis.lposCount(k("l"), "x", -1)])
            yield* expectRefused("lmpop", [redis.lmpop([], "LEFT"), redis.lmpop(k("l"), "LEFT", { count: 0 })])
            yield* expectRefused("blpop", [redis.blpop([], 1), redis.blpop(k("l"), -1), redis.blpop(k("l"), NaN)])
            yield* expectRefused("brpop", [redis.brpopBytes(k("l"), Infinity)])
            yield* expectRefused("blmove", [redis.blmove(k("a"), k("b"), "LEFT", "LEFT", -0.5)])
            yield* expectRefused("blmpop", [redis.blmpop(-1, k("l"), "LEFT"), redis.blmpop(1, [], "LEFT")])
          }))
      })

      describe("blocking pops", () => {
        it.effect("BLPOP, BRPOP, BLMOVE, BLMPOP and BRPOPLPUSH answer at once when data is there", () =>
          Effect.gen(function*() {
            const redis = yield* Redis.Redis
            const k = keys(protocol)
            yield* redis.rpush(k("l"), ["1", "2", "3", "4", "5"])
            assert.deepStrictEqual(yield* redis.blpop([k("missing"), k("l")], 1), Option.some({ key: k("l"), value: "1" }))
            assert.deepStrictEqual(yield* redis.brpop(k("l"), 1), Option.some({ key: k("l"), value: "5" }))
            assert.deepStrictEqual(yield* redis.blmove(k("l"), k("m"), "LEFT", "RIGHT", 1), Option.some("2"))
            assert.deepStrictEqual(yield* redis.brpoplpush(k("l"), k("m"), 1), Option.some("4"))
            assert.deepStrictEqual(
              yield* redis.blmpop(1, [k("l"), k("m")], "RIGHT", { count: 10 }),
              Option.some({ key: k("l"), value: ["3"] })
            )
            assert.deepStrictEqual(yield* redis.lrange(k("m"), 0, -1), ["4", "2"])
          }))

        it.effect("a blocking pop that times out is None, not an error", () =>
          Effect.gen(function*() {
            const redis = yield* Redis.Redis
            const k = keys(protocol)
            assert.deepStrictEqual(yield* redis.blpop(k("empty"), 0.05), Option.none())
            assert.deepStrictEqual(yield* redis.brpop([k("empty"), k("empty2")], 0.05), Option.none())
            assert.deepStrictEqual(yield* redis.blmove(k("empty"), k("d"), "LEFT", "LEFT", 0.05), Option.none())
            assert.deepStrictEqual(yield* redis.blmpop(0.05, k("empty"), "LEFT"), Option.none())
            assert.deepStrictEqual(yield* redis.blpopBytes(k("empty"), 0.05), Option.none())
            assert.deepStrictEqual(yield* redis.bzpopmin(k("empty"), 0.05), Option.none())
            assert.strictEqual(yield* redis.exists(k("d")), 0)
          }))

        it.effect("BLPOP, BLMOVE and BLMPOP wake up on a concurrent push", () =>
          Effect.gen(function*() {
            const redis = yield* Redis.Redis
            const k = keys(protocol)
            const blpop = yield* Effect.forkChild(redis.blpop([k("a"), k("b")], 10))
            yield* awaitBlocked(1)
            yield* redis.rpush(k("b"), "woken")
            assert.deepStrictEqual(yield* Fiber.join(blpop), Option.some({ key: k("b"), value: "woken" }))

            const blmove = yield* Effect.forkChild(redis.blmoveBytes(k("src"), k("dst"), "RIGHT", "LEFT", 10))
            yield* awaitBlocked(1)
            yield* redis.lpush(k("src"), ALL_BYTES)
            assert.deepStrictEqual(yield* Fiber.join(blmove), Option.some(ALL_BYTES))
            assert.deepStrictEqual(yield* redis.lrangeBytes(k("dst"), 0, -1), [ALL_BYTES])

            const blmpop = yield* Effect.forkChild(redis.blmpop(10, [k("x"), k("y")], "LEFT", { count: 3 }))
            yield* awaitBlocked(1)
            yield* redis.rpush(k("y"), ["1", "2"])
            assert.deepStrictEqual(yield* Fiber.join(blmpop), Option.some({ key: k("y"), value: ["1", "2"] }))
          }))

        it.effect("two blocked pops on one key are served in order, each on its own connection", () =>
          Effect.gen(function*() {
            const redis = yield* Redis.Redis
            const k = keys(protocol)
            const first = yield* Effect.forkChild(redis.brpop(k("q"), 10))
            yield* awaitBlocked(1)
            const second = yield* Effect.forkChild(redis.brpopBytes(k("q"), 10))
            yield* awaitBlocked(2)
            yield* redis.rpush(k("q"), ["one", "two"])
            const a = yield* Fiber.join(first)
            const b = yield* Fiber.join(second)
            // Both were served, each with a different element of the push.
            assert.isTrue(Option.isSome(a) && Option.isSome(b))
            const values = [Option.getOrThrow(a).value, new TextDecoder().decode(Option.getOrThrow(b).value)].sort()
            assert.deepStrictEqual(values, ["one", "two"])
          }))

        it.effect("an interrupted BLPOP leaves the server: a later push stays in the list", () =>
          Effect.gen(function*() {
            const redis = yield* Redis.Redis
            const k = keys(protocol)
            const blpop = yield* Effect.forkChild(redis.blpop(k("q"), 0))
            yield* awaitBlocked(1)
            yield* Fiber.interrupt(blpop)
            // The connection that carried the BLPOP is closed, not reused: the
            // server stops blocking on it, and nobody steals the next element.
            yield* awaitNoneBlocked
            yield* redis.rpush(k("q"), "kept")
            assert.deepStrictEqual(yield* redis.lrange(k("q"), 0, -1), ["kept"])
            // The client still serves blocking commands afterwards.
            assert.deepStrictEqual(yield* redis.blpop(k("q"), 1), Option.some({ key: k("q"), value: "kept" }))
          }))

        it.effect("a BLPOP of 2 s does not stall ordinary commands on the same client", () =>
          Effect.gen(function*() {
            const redis = yield* Redis.Redis
            const k = keys(protocol)
            const blpop = yield* Effect.forkChild(redis.blpop(k("never"), 2))
            yield* awaitBlocked(1)
            for (let i = 0; i < 20; i++) {
              assert.strictEqual(yield* redis.incr(k("n")), i + 1)
            }
            const [set, got, missing] = yield* redis.pipeline([
              Commands.set(k("s"), ALL_BYTES),
              Commands.getBytes(k("s")),
              Commands.lpop(k("never"))
            ])
            assert.isTrue(set)
            assert.deepStrictEqual(got, Option.some(ALL_BYTES))
            assert.deepStrictEqual(missing, Option.none())
            assert.strictEqual(yield* redis.llen(k("never")), 0)
            // Every ordinary command finished while the BLPOP still waits.
            assert.isUndefined(blpop.pollUnsafe())
            assert.deepStrictEqual(yield* Fiber.join(blpop), Option.none())
          }))
      })
    })
  }
})
