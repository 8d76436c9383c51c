/**
 * Sorted-set commands against a real redis-server, over RESP2 (scores as
 * bulk strings, flat pairs) and RESP3 (doubles, nested pairs): scoring,
 * ZRANGE by rank, score and lex with REV/LIMIT/WITHSCORES, pops (blocking
 * ones included), random members, algebra, ZSCAN pages, `…Bytes` variants
 * and refused input.
 */
import { assert, describe, it } from "@effect/vitest"
import { Effect, Fiber, Option } from "effect"
import * as Redis from "@redis-effect/redis/Redis"
import * as RedisServer from "@redis-effect/testing/RedisServer"
import { ALL_BYTES, ALL_BYTES_REVERSED, clientLayer, expectRefused, keys, protocols } from "./commands-support.ts"

/** Waits until the server reports at least `n` clients blocked in a command (no sleep: see commands-lists). */
const awaitBlocked = (n: number) =>
  Effect.gen(function*() {
    const server = yield* RedisServer.RedisServer
    const info = yield* server.info("clients")
    if (Number(info.blocked_clients) < n) return yield* Effect.fail("not blocked yet" as const)
  }).pipe(Effect.retry({ times: 2000 }))

const scored = (...pairs: ReadonlyArray<readonly [string, number]>) => pairs.map(([member, score]) => ({ member, score }))

it.layer(RedisServer.layer())("data commands: sorted sets", (it) => {
  for (const protocol of protocols) {
    it.layer(clientLayer(protocol))(`RESP${protocol}`, (it) => {
      /** A sorted set a=1 b=2 c=3 d=4 e=5 under a fresh key. */
      const fiveMembers = Effect.gen(function*() {
        const redis = yield* Redis.Redis
        const k = keys(protocol)
        yield* redis.zadd(k("z"), scored(["a", 1], ["b", 2], ["c", 3], ["d", 4], ["e", 5]))
        return { redis, k, z: k("z") }
      })

      describe("scoring", () => {
        it.effect("ZADD with NX, XX, GT, LT and CH; ZSCORE, ZMSCORE, ZCARD, ZREM", () =>
          Effect.gen(function*() {
            const redis = yield* Redis.Redis
            const k = keys(protocol)
            assert.strictEqual(yield* redis.zadd(k("z"), { member: "a", score: 1 }), 1)
            assert.strictEqual(yield* redis.zadd(k("z"), scored(["a", 10], ["b", 2.5], ["c", -3])), 2)
            assert.deepStrictEqual(yield* redis.zscore(k("z"), "a"), Option.some(10))
            assert.deepStrictEqual(yield* redis.zscore(k("z"), "b"), Option.some(2.5))
            assert.deepStrictEqual(yield* redis.zscore(k("z"), "missing"), Option.none())
            assert.strictEqual(yield* redis.zadd(k("z"), scored(["a", 99], ["d", 4]), { nx: true }), 1)
            assert.deepStrictEqual(yield* redis.zscore(k("z"), "a"), Option.some(10))
            assert.strictEqual(yield* redis.zadd(k("z"), scored(["a", 11], ["e", 5]), { xx: true, ch: true }), 1)
            assert.deepStrictEqual(yield* redis.zscore(k("z"), "e"), Option.none())
            assert.strictEqual(yield* redis.zadd(k("z"), scored(["a", 5]), { gt: true, ch: true }), 0)
            assert.strictEqual(yield* redis.zadd(k("z"), scored(["a", 12]), { gt: true, ch: true }), 1)
            assert.strictEqual(yield* redis.zadd(k("z"), scored(["a", 20]), { lt: true, ch: true }), 0)
            assert.strictEqual(yield* redis.zadd(k("z"), scored(["a", 1]), { lt: true, xx: true, ch: true }), 1)
            assert.deepStrictEqual(
              yield* redis.zmscore(k("z"), ["a", "missing", "c"]),
              [Option.some(1), Option.none(), Option.some(-3)]
            )
            assert.strictEqual(yield* redis.zcard(k("z")), 4)
            assert.strictEqual(yield* redis.zrem(k("z"), ["a", "missing"]), 1)
            assert.strictEqual(yield* redis.zcard(k("z")), 3)
            assert.strictEqual(yield* redis.zcard(k("missing")), 0)
          }))

        it.effect("scores of +inf, -inf and fractions survive the round trip", () =>
          Effect.gen(function*() {
            const redis = yield* Redis.Redis
            const k = keys(protocol)
            yield* redis.zadd(k("z"), scored(["top", Infinity], ["bottom", -Infinity], ["tiny", 1e-10], ["third", 1 / 3]))
            assert.deepStrictEqual(yield* redis.zscore(k("z"), "top"), Option.some(Infinity))
            assert.deepStrictEqual(yield* redis.zscore(k("z"), "bottom"), Option.some(-Infinity))
            assert.deepStrictEqual(yield* redis.zscore(k("z"), "tiny"), Option.some(1e-10))
            assert.deepStrictEqual(yield* redis.zscore(k("z"), "third"), Option.some(1 / 3))
            assert.deepStrictEqual(
              yield* redis.zrangeWithScores(k("z"), 0, -1),
              scored(["bottom", -Infinity], ["tiny", 1e-10], ["third", 1 / 3], ["top", Infinity])
            )
            assert.strictEqual(yield* redis.zcount(k("z"), -Infinity, Infinity), 4)
            assert.strictEqual(yield* redis.zcount(k("z"), "(-inf", "(+inf"), 2)
          }))

        it.effect("ZINCRBY and ZADD ... INCR (None when a condition stops it)", () =>
          Effect.gen(function*() {
            const redis = yield* Redis.Redis
            const k = keys(protocol)
            assert.strictEqual(yield* redis.zincrby(k("z"), 2.5, "a"), 2.5)
            assert.strictEqual(yield* redis.zincrby(k("z"), -1, "a"), 1.5)
            assert.deepStrictEqual(yield* redis.zaddIncr(k("z"), 10, "a"), Option.some(11.5))
            assert.deepStrictEqual(yield* redis.zaddIncr(k("z"), 10, "a", { nx: true }), Option.none())
            assert.deepStrictEqual(yield* redis.zaddIncr(k("z"), 10, "b", { xx: true }), Option.none())
            assert.deepStrictEqual(yield* redis.zaddIncr(k("z"), -1, "a", { gt: true }), Option.none())
            assert.deepStrictEqual(yield* redis.zscore(k("z"), "a"), Option.some(11.5))
          }))

        it.effect("ZCOUNT and ZLEXCOUNT with inclusive and exclusive bounds", () =>
          Effect.gen(function*() {
            const { redis, z } = yield* fiveMembers
            assert.strictEqual(yield* redis.zcount(z, 2, 4), 3)
            assert.strictEqual(yield* redis.zcount(z, "(2", 4), 2)
            assert.strictEqual(yield* redis.zcount(z, "-inf", "(3"), 2)
            assert.strictEqual(yield* redis.zlexcount(z, "-", "+"), 5)
            assert.strictEqual(yield* redis.zlexcount(z, "[b", "(d"), 2)
          }))
      })

      describe("ranges", () => {
        it.effect("ZRANGE by rank, with REV and WITHSCORES", () =>
          Effect.gen(function*() {
            const { redis, k, z } = yield* fiveMembers
            assert.deepStrictEqual(yield* redis.zrange(z, 0, -1), ["a", "b", "c", "d", "e"])
            assert.deepStrictEqual(yield* redis.zrange(z, 1, 2), ["b", "c"])
            assert.deepStrictEqual(yield* redis.zrange(z, 0, 1, { rev: true }), ["e", "d"])
            assert.deepStrictEqual(yield* redis.zrange(k("missing"), 0, -1), [])
            assert.deepStrictEqual(yield* redis.zrangeWithScores(z, -2, -1), scored(["d", 4], ["e", 5]))
            assert.deepStrictEqual(yield* redis.zrangeWithScores(z, 0, 0, { rev: true }), scored(["e", 5]))
            assert.deepStrictEqual(yield* redis.zrangeWithScores(k("missing"), 0, -1), [])
            assert.deepStrictEqual(yield* redis.zrevrange(z, 0, 2), ["e", "d", "c"])
          }))

        it.effect("ZRANGE BYSCORE with exclusive bounds, REV, LIMIT and WITHSCORES", () =>
          Effect.gen(function*() {
            const { redis, z } = yield* fiveMembers
            assert.deepStrictEqual(yield* redis.zrange(z, 2, 4, { by: "SCORE" }), ["b", "c", "d"])
            assert.deepStrictEqual(yield* redis.zrange(z, "(2", "+inf", { by: "SCORE" }), ["c", "d", "e"])
            assert.deepStrictEqual(yield* redis.zrange(z, -Infinity, Infinity, { by: "SCORE", limit: { offset: 1, count: 2 } }), ["b", "c"])
            assert.deepStrictEqual(yield* redis.zrange(z, 4, "(1", { by: "SCORE", rev: true }), ["d", "c", "b"])
            assert.deepStrictEqual(
              yield* redis.zrange(z, "+inf", "-inf", { by: "SCORE", rev: true, limit: { offset: 0, count: 2 } }),
              ["e", "d"]
            )
            assert.deepStrictEqual(
              yield* redis.zrangeWithScores(z, 3, 10, { by: "SCORE", limit: { offset: 1, count: -1 } }),
              scored(["d", 4], ["e", 5])
            )
            assert.deepStrictEqual(
              yield* redis.zrangeWithScores(z, 10, 3, { by: "SCORE", rev: true }),
              scored(["e", 5], ["d", 4], ["c", 3])
            )
            assert.deepStrictEqual(yield* redis.zrangebyscore(z, "(1", 3), ["b", "c"])
            assert.deepStrictEqual(yield* redis.zrangebyscore(z, 1, 5, { limit: { offset: 3, count: 5 } }), ["d", "e"])
            assert.deepStrictEqual(yield* redis.zrevrangebyscore(z, 5, "(3"), ["e", "d"])
            assert.deepStrictEqual(yield* redis.zrevrangebyscore(z, "+inf", "-inf", { limit: { offset: 1, count: 1 } }), ["d"])
          }))

        it.effect("ZRANGE BYLEX with REV and LIMIT; ZRANGEBYLEX and ZREVRANGEBYLEX", () =>
          Effect.gen(function*() {
            const redis = yield* Redis.Redis
            const k = keys(protocol)
            yield* redis.zadd(k("lex"), ["a", "b", "c", "d", "e", "f"].map((member) => ({ member, score: 0 })))
            assert.deepStrictEqual(yield* redis.zrange(k("lex"), "[b", "(e", { by: "LEX" }), ["b", "c", "d"])
            assert.deepStrictEqual(yield* redis.zrange(k("lex"), "-", "+", { by: "LEX", limit: { offset: 2, count: 2 } }), ["c", "d"])
            assert.deepStrictEqual(yield* redis.zrange(k("lex"), "+", "[d", { by: "LEX", rev: true }), ["f", "e", "d"])
            assert.deepStrictEqual(
              yield* redis.zrange(k("lex"), "(f", "-", { by: "LEX", rev: true, limit: { offset: 1, count: 2 } }),
              ["d", "c"]
            )
            assert.deepStrictEqual(yield* redis.zrangebylex(k("lex"), "(a", "[c"), ["b", "c"])
            assert.deepStrictEqual(yield* redis.zrangebylex(k("lex"), "-", "+", { limit: { offset: 4, count: 10 } }), ["e", "f"])
            assert.deepStrictEqual(yield* redis.zrevrangebylex(k("lex"), "[c", "-"), ["c", "b", "a"])
            assert.deepStrictEqual(yield* redis.zrevrangebylex(k("lex"), "+", "-", { limit: { offset: 0, count: 1 } }), ["f"])
          }))

        it.effect("ZRANGESTORE by rank, score and lex", () =>
          Effect.gen(function*() {
            const { redis, k, z } = yield* fiveMembers
            assert.strictEqual(yield* redis.zrangestore(k("d1"), z, 0, 1), 2)
            assert.deepStrictEqual(yield* redis.zrangeWithScores(k("d1"), 0, -1), scored(["a", 1], ["b", 2]))
            assert.strictEqual(yield* redis.zrangestore(k("d2"), z, 5, "(3", { by: "SCORE", rev: true }), 2)
            assert.deepStrictEqual(yield* redis.zrange(k("d2"), 0, -1), ["d", "e"])
            assert.strictEqual(yield* redis.zrangestore(k("d3"), z, "[c", "+", { by: "LEX", limit: { offset: 0, count: 1 } }), 1)
            assert.deepStrictEqual(yield* redis.zrange(k("d3"), 0, -1), ["c"])
          }))

        it.effect("ZRANK, ZREVRANK and ZREMRANGEBYRANK/SCORE/LEX", () =>
          Effect.gen(function*() {
            const { redis, k, z } = yield* fiveMembers
            assert.deepStrictEqual(yield* redis.zrank(z, "c"), Option.some(2))
            assert.deepStrictEqual(yield* redis.zrevrank(z, "c"), Option.some(2))
            assert.deepStrictEqual(yield* redis.zrevrank(z, "a"), Option.some(4))
            assert.deepStrictEqual(yield* redis.zrank(z, "missing"), Option.none())
            assert.deepStrictEqual(yield* redis.zrevrank(k("missing"), "a"), Option.none())
            assert.strictEqual(yield* redis.zremrangebyrank(z, 0, 0), 1)
            assert.strictEqual(yield* redis.zremrangebyscore(z, "(4", "+inf"), 1)
            assert.deepStrictEqual(yield* redis.zrange(z, 0, -1), ["b", "c", "d"])
            yield* redis.zadd(k("lex"), ["a", "b", "c"].map((member) => ({ member, score: 0 })))
            assert.strictEqual(yield* redis.zremrangebylex(k("lex"), "[a", "(c"), 2)
            assert.deepStrictEqual(yield* redis.zrange(k("lex"), 0, -1), ["c"])
          }))
      })

      describe("pops and random members", () => {
        it.effect("ZPOPMIN and ZPOPMAX with and without count; ZMPOP", () =>
          Effect.gen(function*() {
            const { redis, k, z } = yield* fiveMembers
            assert.deepStrictEqual(yield* redis.zpopmin(z), scored(["a", 1]))
            assert.deepStrictEqual(yield* redis.zpopmax(z), scored(["e", 5]))
            assert.deepStrictEqual(yield* redis.zpopmin(z, 2), scored(["b", 2], ["c", 3]))
            assert.deepStrictEqual(yield* redis.zpopmax(z, 1), scored(["d", 4]))
            assert.deepStrictEqual(yield* redis.zpopmin(z), [])
            assert.deepStrictEqual(yield* redis.zpopmax(z, 3), [])
            yield* redis.zadd(k("y"), scored(["p", 1], ["q", 2], ["r", 3]))
            assert.deepStrictEqual(
              yield* redis.zmpop([k("missing"), k("y")], "MAX", { count: 2 }),
              Option.some({ key: k("y"), value: scored(["r", 3], ["q", 2]) })
            )
            assert.deepStrictEqual(yield* redis.zmpop(k("y"), "MIN"), Option.some({ key: k("y"), value: scored(["p", 1]) }))
            assert.deepStrictEqual(yield* redis.zmpop([k("y"), k("missing")], "MIN"), Option.none())
          }))

        it.effect("BZPOPMIN, BZPOPMAX and BZMPOP answer at once, time out to None, and wake up on ZADD", () =>
          Effect.gen(function*() {
            const { redis, k, z } = yield* fiveMembers
            assert.deepStrictEqual(
              yield* redis.bzpopmin([k("missing"), z], 1),
              Option.some({ key: z, value: { member: "a", score: 1 } })
            )
            assert.deepStrictEqual(yield* redis.bzpopmax(z, 1), Option.some({ key: z, value: { member: "e", score: 5 } }))
            assert.deepStrictEqual(
              yield* redis.bzmpop(1, z, "MIN", { count: 2 }),
              Option.some({ key: z, value: scored(["b", 2], ["c", 3]) })
            )
            assert.deepStrictEqual(yield* redis.bzpopmax(k("empty"), 0.05), Option.none())
            assert.deepStrictEqual(yield* redis.bzmpop(0.05, k("empty"), "MAX"), Option.none())

            const waiting = yield* Effect.forkChild(redis.bzpopmin([k("w1"), k("w2")], 10))
            yield* awaitBlocked(1)
            yield* redis.zadd(k("w2"), scored(["late", 2.5], ["later", 7]))
            assert.deepStrictEqual(yield* Fiber.join(waiting), Option.some({ key: k("w2"), value: { member: "late", score: 2.5 } }))

            const waitingMany = yield* Effect.forkChild(redis.bzmpop(10, k("w3"), "MAX", { count: 5 }))
            yield* awaitBlocked(1)
            yield* redis.zadd(k("w3"), scored(["x", 1], ["y", 2]))
            assert.deepStrictEqual(
              yield* Fiber.join(waitingMany),
              Option.some({ key: k("w3"), value: scored(["y", 2], ["x", 1]) })
            )
          }))

        it.effect("ZRANDMEMBER with and without count and WITHSCORES", () =>
          Effect.gen(function*() {
            const { redis, k, z } = yield* fiveMembers
            const one = yield* redis.zrandmember(z)
            assert.isTrue(Option.isSome(one) && ["a", "b", "c", "d", "e"].includes(one.value))
            assert.deepStrictEqual(yield* redis.zrandmember(k("missing")), Option.none())
            assert.deepStrictEqual([...(yield* redis.zrandmemberCount(z, 10))].sort(), ["a", "b", "c", "d", "e"])
            assert.strictEqual((yield* redis.zrandmemberCount(z, -8)).length, 8)
            const withScores = yield* redis.zrandmemberWithScores(z, 5)
            assert.deepStrictEqual(
              [...withScores].sort((x, y) => x.score - y.score),
              scored(["a", 1], ["b", 2], ["c", 3], ["d", 4], ["e", 5])
            )
            yield* redis.zadd(k("one"), { member: "m", score: 1.25 })
            assert.deepStrictEqual(yield* redis.zrandmemberWithScores(k("one"), 1), scored(["m", 1.25]))
            assert.deepStrictEqual(yield* redis.zrandmemberWithScores(k("one"), -2), scored(["m", 1.25], ["m", 1.25]))
          }))
      })

      describe("algebra and scan", () => {
        it.effect("ZUNION, ZINTER and ZDIFF with WEIGHTS, AGGREGATE, WITHSCORES and STORE; ZINTERCARD", () =>
          Effect.gen(function*() {
            const redis = yield* Redis.Redis
            const k = keys(protocol)
            yield* redis.zadd(k("a"), scored(["x", 1], ["y", 2], ["z", 3]))
            yield* redis.zadd(k("b"), scored(["y", 10], ["z", 20], ["w", 30]))
            assert.deepStrictEqual(yield* redis.zunion([k("a"), k("b")]), ["x", "y", "z", "w"])
            assert.deepStrictEqual(
              yield* redis.zunionWithScores([k("a"), k("b")], { weights: [2, 1], aggregate: "MAX" }),
              scored(["x", 2], ["y", 10], ["z", 20], ["w", 30])
            )
            assert.deepStrictEqual(yield* redis.zinter([k("a"), k("b")]), ["y", "z"])
            assert.deepStrictEqual(yield* redis.zinterWithScores([k("a"), k("b")]), scored(["y", 12], ["z", 23]))
            assert.deepStrictEqual(
              yield* redis.zinterWithScores([k("a"), k("b")], { aggregate: "MIN" }),
              scored(["y", 2], ["z", 3])
            )
            assert.deepStrictEqual(yield* redis.zdiff([k("a"), k("b")]), ["x"])
            assert.deepStrictEqual(yield* redis.zdiffWithScores([k("b"), k("a")]), scored(["w", 30]))
            assert.strictEqual(yield* redis.zintercard([k("a"), k("b")]), 2)
            assert.strictEqual(yield* redis.zintercard([k("a"), k("b")], { limit: 1 }), 1)
            assert.strictEqual(yield* redis.zunionstore(k("u"), [k("a"), k("b")], { weights: [1, 0.5] }), 4)
            assert.deepStrictEqual(yield* redis.zscore(k("u"), "y"), Option.some(7))
            assert.strictEqual(yield* redis.zinterstore(k("i"), [k("a"), k("b")], { aggregate: "MAX" }), 2)
            assert.deepStrictEqual(yield* redis.zrangeWithScores(k("i"), 0, -1), scored(["y", 10], ["z", 20]))
            assert.strictEqual(yield* redis.zdiffstore(k("d"), [k("a"), k("b")]), 1)
            assert.deepStrictEqual(yield* redis.zrangeWithScores(k("d"), 0, -1), scored(["x", 1]))
          }))

        it.effect("ZSCAN pages with MATCH and COUNT over a listpack and a skiplist", () =>
          Effect.gen(function*() {
            const redis = yield* Redis.Redis
            const k = keys(protocol)
            yield* redis.zadd(k("small"), scored(["a1", 1.5], ["a2", -2], ["b1", 3]))
            const page = yield* redis.zscan(k("small"), "0", { match: "a*" })
            assert.strictEqual(page.cursor, "0")
            assert.deepStrictEqual([...page.items].sort((x, y) => x.score - y.score), scored(["a2", -2], ["a1", 1.5]))
            const members = Array.from({ length: 400 }, (_, i) => ({ member: `m${i}`, score: i / 4 }))
            yield* redis.zadd(k("big"), members)
            const seen = new Map<string, number>()
            let cursor = "0"
            do {
              const p = yield* redis.zscan(k("big"), cursor, { count: 30 })
              for (const m of p.items) seen.set(m.member, m.score)
              cursor = p.cursor
            } while (cursor !== "0")
            assert.deepStrictEqual(seen, new Map(members.map((m) => [m.member, m.score])))
          }))

        it.effect("…Bytes variants return every byte value 0..255 unchanged", () =>
          Effect.gen(function*() {
            const redis = yield* Redis.Redis
            const k = keys(protocol)
            yield* redis.zadd(k("z"), [{ member: ALL_BYTES, score: 2 }, { member: ALL_BYTES_REVERSED, score: 1 }])
            assert.deepStrictEqual(yield* redis.zscore(k("z"), ALL_BYTES), Option.some(2))
            assert.deepStrictEqual(yield* redis.zrangeBytes(k("z"), 0, -1), [ALL_BYTES_REVERSED, ALL_BYTES])
            assert.deepStrictEqual(yield* redis.zrangeBytes(k("z"), 1.5, "+inf", { by: "SCORE" }), [ALL_BYTES])
            assert.deepStrictEqual(
              yield* redis.zrangeWithScoresBytes(k("z"), 0, -1, { rev: true }),
              [{ member: ALL_BYTES, score: 2 }, { member: ALL_BYTES_REVERSED, score: 1 }]
            )
            assert.deepStrictEqual(
              yield* redis.zrangeWithScoresBytes(k("z"), 0, 0),
              [{ member: ALL_BYTES_REVERSED, score: 1 }]
            )
          }))

        it.effect("refused sorted-set commands fail with InvalidArgument/NotSent before anything is sent", () =>
          Effect.gen(function*() {
            const redis = yield* Redis.Redis
            const k = keys(protocol)
            yield* expectRefused("zadd", [
              redis.zadd(k("z"), []),
              redis.zadd(k("z"), { member: "a", score: NaN }),
              redis.zadd(k("z"), { member: "a", score: 1 }, { nx: true, xx: true }),
              redis.zadd(k("z"), { member: "a", score: 1 }, { gt: true, lt: true }),
              redis.zaddIncr(k("z"), Infinity, "a")
            ])
            yield* expectRefused("zincrby", [redis.zincrby(k("z"), NaN, "a")])
            yield* expectRefused("zcount", [redis.zcount(k("z"), NaN, 1)])
            yield* expectRefused("zrange", [
              redis.zrange(k("z"), 0.5, 1),
              redis.zrange(k("z"), 0, 1, { by: "SCORE", limit: { offset: -1, count: 1 } }),
              redis.zrange(k("z"), NaN, 1, { by: "SCORE" }),
              // WITHSCORES and BYLEX do not go together.
              (redis.zrangeWithScores as (...args: Array<unknown>) => Effect.Effect<unknown, any>)(k("z"), "-", "+", { by: "LEX" }),
              (redis.zrange as (...args: Array<unknown>) => Effect.Effect<unknown, any>)(k("z"), "a", "b")
            ])
            yield* expectRefused("zrangebyscore", [redis.zrangebyscore(k("z"), 0, 1, { limit: { offset: 0, count: 0.5 } })])
            yield* expectRefused("zpopmin", [redis.zpopmin(k("z"), -1)])
            yield* expectRefused("bzpopmin", [redis.bzpopmin([], 1), redis.bzpopmin(k("z"), -1)])
            yield* expectRefused("bzmpop", [redis.bzmpop(NaN, k("z"), "MIN"), redis.bzmpop(1, k("z"), "MIN", { count: 0 })])
            yield* expectRefused("zmpop", [redis.zmpop([], "MIN")])
            yield* expectRefused("zunion", [redis.zunion([]), redis.zunion([k("a"), k("b")], { weights: [1] })])
            yield* expectRefused("zinterstore", [redis.zinterstore(k("d"), [k("a")], { weights: [NaN] })])
            yield* expectRefused("zintercard", [redis.zintercard([]), redis.zintercard(k("a"), { limit: -1 })])
            yield* expectRefused("zscan", [redis.zscan(k("z"), "0", { count: 0 })])
          }))
      })
    })
  }
})
