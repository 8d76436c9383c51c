/**
 * Hash and set commands against a real redis-server, over RESP2 (flat
 * arrays) and RESP3 (maps, sets, nested pairs): replies, `Option` for
 * absent values, `…Bytes` variants with every byte value, single SCAN
 * pages, and refused input that never reaches the server.
 */
import { assert, describe, it } from "@effect/vitest"
import { Effect, Option } from "effect"
import * as Redis from "@redis-effect/redis/Redis"
import * as RedisServer from "@redis-effect/testing/RedisServer"
import { ALL_BYTES, ALL_BYTES_REVERSED, bytes, clientLayer, expectRefused, keys, protocols, sortBytes } from "./commands-support.ts"

const sorted = (xs: ReadonlyArray<string>): Array<string> => [...xs].sort()

it.layer(RedisServer.layer())("data commands: hashes and sets", (it) => {
  for (const protocol of protocols) {
    it.layer(clientLayer(protocol))(`RESP${protocol}`, (it) => {
      describe("hashes", () => {
        it.effect("HSET (one field, a record, pairs), HGET, HMGET, HGETALL, HLEN and HEXISTS", () =>
          Effect.gen(function*() {
            const redis = yield* Redis.Redis
            const k = keys(protocol)
            assert.strictEqual(yield* redis.hset(k("h"), "a", "1"), 1)
            assert.strictEqual(yield* redis.hset(k("h"), { a: "one", b: "2", c: 3 }), 2)
            assert.strictEqual(yield* redis.hset(k("h"), [["d", "4"], ["e", "5"]]), 2)
            assert.deepStrictEqual(yield* redis.hget(k("h"), "a"), Option.some("one"))
            assert.deepStrictEqual(yield* redis.hget(k("h"), "missing"), Option.none())
            assert.deepStrictEqual(yield* redis.hget(k("missing"), "a"), Option.none())
            assert.deepStrictEqual(
              yield* redis.hmget(k("h"), ["c", "missing", "e"]),
              [Option.some("3"), Option.none(), Option.some("5")]
            )
            assert.deepStrictEqual(yield* redis.hgetall(k("h")), { a: "one", b: "2", c: "3", d: "4", e: "5" })
            assert.deepStrictEqual(yield* redis.hgetall(k("missing")), {})
            assert.strictEqual(yield* redis.hlen(k("h")), 5)
            assert.isTrue(yield* redis.hexists(k("h"), "a"))
            assert.isFalse(yield* redis.hexists(k("h"), "z"))
          }))

        it.effect("HSETNX, HDEL, HKEYS, HVALS and HSTRLEN", () =>
          Effect.gen(function*() {
            const redis = yield* Redis.Redis
            const k = keys(protocol)
            assert.isTrue(yield* redis.hsetnx(k("h"), "a", "1"))
            assert.isFalse(yield* redis.hsetnx(k("h"), "a", "2"))
            yield* redis.hset(k("h"), { b: "22", c: "333" })
            assert.deepStrictEqual(sorted(yield* redis.hkeys(k("h"))), ["a", "b", "c"])
            assert.deepStrictEqual(sorted(yield* redis.hvals(k("h"))), ["1", "22", "333"])
            assert.strictEqual(yield* redis.hstrlen(k("h"), "c"), 3)
            assert.strictEqual(yield* redis.hstrlen(k("h"), "z"), 0)
            assert.strictEqual(yield* redis.hdel(k("h"), ["a", "z"]), 1)
            assert.strictEqual(yield* redis.hdel(k("h"), "b"), 1)
            assert.deepStrictEqual(yield* redis.hkeys(k("h")), ["c"])
            assert.deepStrictEqual(yield* redis.hkeys(k("missing")), [])
          }))

        it.effect("HINCRBY and HINCRBYFLOAT", () =>
          Effect.gen(function*() {
            const redis = yield* Redis.Redis
            const k = keys(protocol)
            assert.strictEqual(yield* redis.hincrby(k("h"), "n", 5), 5)
            assert.strictEqual(yield* redis.hincrby(k("h"), "n", -7), -2)
            assert.strictEqual(yield* redis.hincrbyfloat(k("h"), "f", 10.5), 10.5)
            assert.strictEqual(yield* redis.hincrbyfloat(k("h"), "f", 0.1), 10.6)
            assert.deepStrictEqual(yield* redis.hget(k("h"), "f"), Option.some("10.6"))
            const error = yield* Effect.flip(redis.hincrby(k("h"), "f", 1))
            assert.strictEqual(error.reason._tag, "ReplyError")
          }))

        it.effect("HRANDFIELD with and without count and WITHVALUES", () =>
          Effect.gen(function*() {
            const redis = yield* Redis.Redis
            const k = keys(protocol)
            const hash = { a: "1", b: "2", c: "3" }
            yield* redis.hset(k("h"), hash)
            const one = yield* redis.hrandfield(k("h"))
            assert.isTrue(Option.isSome(one) && one.value in hash)
            assert.deepStrictEqual(yield* redis.hrandfield(k("missing")), Option.none())
            assert.deepStrictEqual(sorted(yield* redis.hrandfieldCount(k("h"), 10)), ["a", "b", "c"])
            const repeats = yield* redis.hrandfieldCount(k("h"), -5)
            assert.strictEqual(repeats.length, 5)
            for (const f of repeats) assert.property(hash, f)
            assert.deepStrictEqual(yield* redis.hrandfieldCount(k("missing"), 3), [])
            const withValues = yield* redis.hrandfieldWithValues(k("h"), 3)
            assert.deepStrictEqual([...withValues].sort(), [["a", "1"], ["b", "2"], ["c", "3"]])
            // A single pair (count 1) must not be mistaken for a flat [field, value] list.
            assert.deepStrictEqual(yield* redis.hrandfieldWithValues(k("one"), 1), [])
            yield* redis.hset(k("one"), "f", "v")
            assert.deepStrictEqual(yield* redis.hrandfieldWithValues(k("one"), 1), [["f", "v"]])
            assert.deepStrictEqual(yield* redis.hrandfieldWithValues(k("one"), -2), [["f", "v"], ["f", "v"]])
          }))

        it.effect("HSCAN pages with MATCH and COUNT, for a small and a large hash", () =>
          Effect.gen(function*() {
            const redis = yield* Redis.Redis
            const k = keys(protocol)
            yield* redis.hset(k("small"), { a1: "1", a2: "2", b1: "3" })
            const page = yield* redis.hscan(k("small"), "0", { match: "a*" })
            assert.strictEqual(page.cursor, "0")
            assert.deepStrictEqual([...page.items].sort(), [["a1", "1"], ["a2", "2"]])
            const big: Record<string, string> = {}
            for (let i = 0; i < 300; i++) big[`f${i}`] = `v${i}`
            yield* redis.hset(k("big"), big)
            const seen = new Map<string, string>()
            let cursor = "0"
            do {
              const p = yield* redis.hscan(k("big"), cursor, { count: 50 })
              for (const [f, v] of p.items) seen.set(f, v)
              cursor = p.cursor
            } while (cursor !== "0")
            assert.deepStrictEqual(Object.fromEntries(seen), big)
            const empty = yield* redis.hscan(k("missing"), "0")
            assert.deepStrictEqual(empty, { cursor: "0", items: [] })
          }))

        it.effect("…Bytes variants return every byte value 0..255 unchanged", () =>
          Effect.gen(function*() {
            const redis = yield* Redis.Redis
            const k = keys(protocol)
            yield* redis.hset(k("h"), [["x", ALL_BYTES], ["y", ALL_BYTES_REVERSED]])
            assert.deepStrictEqual(yield* redis.hgetBytes(k("h"), "x"), Option.some(ALL_BYTES))
            assert.deepStrictEqual(yield* redis.hgetBytes(k("h"), "z"), Option.none())
            assert.deepStrictEqual(
              yield* redis.hmgetBytes(k("h"), ["y", "z", "x"]),
              [Option.some(ALL_BYTES_REVERSED), Option.none(), Option.some(ALL_BYTES)]
            )
            assert.deepStrictEqual(yield* redis.hgetallBytes(k("h")), new Map([["x", ALL_BYTES], ["y", ALL_BYTES_REVERSED]]))
            assert.deepStrictEqual(yield* redis.hgetallBytes(k("missing")), new Map())
            assert.deepStrictEqual(sortBytes(yield* redis.hvalsBytes(k("h"))), sortBytes([ALL_BYTES, ALL_BYTES_REVERSED]))
            const withValues = yield* redis.hrandfieldWithValuesBytes(k("h"), 2)
            assert.deepStrictEqual(new Map(withValues), new Map([["x", ALL_BYTES], ["y", ALL_BYTES_REVERSED]]))
            const page = yield* redis.hscanBytes(k("h"), "0", { match: "x" })
            assert.deepStrictEqual(page.items, [["x", ALL_BYTES]])
            assert.strictEqual(yield* redis.hstrlen(k("h"), "x"), 256)
          }))

        it.effect("refused hash commands fail with InvalidArgument/NotSent before anything is sent", () =>
          Effect.gen(function*() {
            const redis = yield* Redis.Redis
            const k = keys(protocol)
            yield* expectRefused("hset", [redis.hset(k("h"), {}), redis.hset(k("h"), [])])
            yield* expectRefused("hmget", [redis.hmget(k("h"), []), redis.hmgetBytes(k("h"), [])])
            yield* expectRefused("hdel", [redis.hdel(k("h"), [])])
            yield* expectRefused("hincrby", [redis.hincrby(k("h"), "f", 0.5)])
            yield* expectRefused("hincrbyfloat", [redis.hincrbyfloat(k("h"), "f", NaN)])
            yield* expectRefused("hrandfield", [redis.hrandfieldCount(k("h"), 1.5), redis.hrandfieldWithValues(k("h"), NaN)])
            yield* expectRefused("hscan", [redis.hscan(k("h"), "0", { count: 0 }), redis.hscanBytes(k("h"), "0", { count: -1 })])
          }))
      })

      describe("sets", () => {
        it.effect("SADD, SREM, SMEMBERS, SISMEMBER, SMISMEMBER and SCARD", () =>
          Effect.gen(function*() {
            const redis = yield* Redis.Redis
            const k = keys(protocol)
            assert.strictEqual(yield* redis.sadd(k("s"), "a"), 1)
            assert.strictEqual(yield* redis.sadd(k("s"), ["a", "b", "c", 4]), 3)
            assert.deepStrictEqual(sorted(yield* redis.smembers(k("s"))), ["4", "a", "b", "c"])
            assert.deepStrictEqual(yield* redis.smembers(k("missing")), [])
            assert.isTrue(yield* redis.sismember(k("s"), "a"))
            assert.isFalse(yield* redis.sismember(k("s"), "z"))
            assert.deepStrictEqual(yield* redis.smismember(k("s"), ["a", "z", "4"]), [true, false, true])
            assert.deepStrictEqual(yield* redis.smismember(k("s"), "z"), [false])
            assert.strictEqual(yield* redis.scard(k("s")), 4)
            assert.strictEqual(yield* redis.srem(k("s"), ["a", "z"]), 1)
            assert.strictEqual(yield* redis.srem(k("s"), "b"), 1)
            assert.strictEqual(yield* redis.scard(k("s")), 2)
            assert.strictEqual(yield* redis.scard(k("missing")), 0)
          }))

        it.effect("SPOP and SRANDMEMBER with and without count; None for a missing set", () =>
          Effect.gen(function*() {
            const redis = yield* Redis.Redis
            const k = keys(protocol)
            const members = ["a", "b", "c", "d"]
            yield* redis.sadd(k("s"), members)
            const r = yield* redis.srandmember(k("s"))
            assert.isTrue(Option.isSome(r) && members.includes(r.value))
            assert.deepStrictEqual(sorted(yield* redis.srandmemberCount(k("s"), 10)), members)
            assert.strictEqual((yield* redis.srandmemberCount(k("s"), -7)).length, 7)
            assert.deepStrictEqual(yield* redis.srandmember(k("missing")), Option.none())
            assert.deepStrictEqual(yield* redis.srandmemberCount(k("missing"), 2), [])
            const popped = yield* redis.spop(k("s"))
            assert.isTrue(Option.isSome(popped) && members.includes(popped.value))
            const rest = yield* redis.spopCount(k("s"), 10)
            assert.deepStrictEqual(sorted([Option.getOrThrow(popped), ...rest]), members)
            assert.deepStrictEqual(yield* redis.spop(k("s")), Option.none())
            assert.deepStrictEqual(yield* redis.spopCount(k("s"), 3), [])
          }))

        it.effect("SMOVE and set algebra: SINTER, SUNION, SDIFF, their STORE variants and SINTERCARD", () =>
          Effect.gen(function*() {
            const redis = yield* Redis.Redis
            const k = keys(protocol)
            yield* redis.sadd(k("a"), ["1", "2", "3", "4"])
            yield* redis.sadd(k("b"), ["3", "4", "5"])
            assert.deepStrictEqual(sorted(yield* redis.sinter([k("a"), k("b")])), ["3", "4"])
            assert.deepStrictEqual(sorted(yield* redis.sunion([k("a"), k("b")])), ["1", "2", "3", "4", "5"])
            assert.deepStrictEqual(sorted(yield* redis.sdiff([k("a"), k("b")])), ["1", "2"])
            assert.deepStrictEqual(yield* redis.sinter([k("a"), k("missing")]), [])
            assert.strictEqual(yield* redis.sintercard([k("a"), k("b")]), 2)
            assert.strictEqual(yield* redis.sintercard([k("a"), k("b")], { limit: 1 }), 1)
            assert.strictEqual(yield* redis.sinterstore(k("i"), [k("a"), k("b")]), 2)
            assert.strictEqual(yield* redis.sunionstore(k("u"), [k("a"), k("b")]), 5)
            assert.strictEqual(yield* redis.sdiffstore(k("d"), [k("b"), k("a")]), 1)
            assert.deepStrictEqual(yield* redis.smembers(k("d")), ["5"])
            assert.isTrue(yield* redis.smove(k("a"), k("b"), "1"))
            assert.isFalse(yield* redis.smove(k("a"), k("b"), "1"))
            assert.deepStrictEqual(sorted(yield* redis.smembers(k("b"))), ["1", "3", "4", "5"])
          }))

        it.effect("SSCAN pages with MATCH and COUNT over an intset and a hashtable", () =>
          Effect.gen(function*() {
            const redis = yield* Redis.Redis
            const k = keys(protocol)
            yield* redis.sadd(k("ints"), [1, 2, 3])
            const page = yield* redis.sscan(k("ints"), "0")
            assert.strictEqual(page.cursor, "0")
            assert.deepStrictEqual(sorted(page.items), ["1", "2", "3"])
            const members = Array.from({ length: 500 }, (_, i) => `m${i}`)
            yield* redis.sadd(k("big"), members)
            const seen: Array<string> = []
            let cursor = "0"
            do {
              const p = yield* redis.sscan(k("big"), cursor, { match: "m1*", count: 40 })
              seen.push(...p.items)
              cursor = p.cursor
            } while (cursor !== "0")
            assert.deepStrictEqual(sorted([...new Set(seen)]), sorted(members.filter((m) => m.startsWith("m1"))))
          }))

        it.effect("…Bytes variants return every byte value 0..255 unchanged", () =>
          Effect.gen(function*() {
            const redis = yield* Redis.Redis
            const k = keys(protocol)
            const both = sortBytes([ALL_BYTES, ALL_BYTES_REVERSED])
            yield* redis.sadd(k("a"), [ALL_BYTES, ALL_BYTES_REVERSED])
            yield* redis.sadd(k("b"), [ALL_BYTES, bytes("plain")])
            assert.isTrue(yield* redis.sismember(k("a"), ALL_BYTES))
            assert.deepStrictEqual(sortBytes(yield* redis.smembersBytes(k("a"))), both)
            assert.deepStrictEqual(yield* redis.sinterBytes([k("a"), k("b")]), [ALL_BYTES])
            assert.deepStrictEqual(yield* redis.sdiffBytes([k("a"), k("b")]), [ALL_BYTES_REVERSED])
            assert.deepStrictEqual(
              sortBytes(yield* redis.sunionBytes([k("a"), k("b")])),
              sortBytes([ALL_BYTES, ALL_BYTES_REVERSED, bytes("plain")])
            )
            assert.deepStrictEqual(sortBytes(yield* redis.srandmemberCountBytes(k("a"), 5)), both)
            const one = yield* redis.srandmemberBytes(k("a"))
            assert.isTrue(Option.isSome(one) && one.value.length === 256)
            const page = yield* redis.sscanBytes(k("a"), "0")
            assert.deepStrictEqual(sortBytes(page.items), both)
            const popped = yield* redis.spopBytes(k("a"))
            const rest = yield* redis.spopCountBytes(k("a"), 5)
            assert.deepStrictEqual(sortBytes([Option.getOrThrow(popped), ...rest]), both)
            assert.deepStrictEqual(yield* redis.spopBytes(k("a")), Option.none())
            assert.deepStrictEqual(yield* redis.srandmemberBytes(k("a")), Option.none())
          }))

        it.effect("refused set commands fail with InvalidArgument/NotSent before anything is sent", () =>
          Effect.gen(function*() {
            const redis = yield* Redis.Redis
            const k = keys(protocol)
            yield* expectRefused("sadd", [redis.sadd(k("s"), [])])
            yield* expectRefused("srem", [redis.srem(k("s"), [])])
            yield* expectRefused("smismember", [redis.smismember(k("s"), [])])
            yield* expectRefused("spop", [redis.spopCount(k("s"), -1), redis.spopCountBytes(k("s"), 0.5)])
            yield* expectRefused("srandmember", [redis.srandmemberCount(k("s"), NaN)])
            yield* expectRefused("sinter", [redis.sinter([]), redis.sinterBytes([])])
            yield* expectRefused("sintercard", [redis.sintercard([]), redis.sintercard(k("s"), { limit: -1 })])
            yield* expectRefused("sunionstore", [redis.sunionstore(k("d"), [])])
            yield* expectRefused("sscan", [redis.sscan(k("s"), "0", { count: 0 })])
          }))
      })
    })
  }
})
