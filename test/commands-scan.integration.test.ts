/**
 * The SCAN-family streams of the `Redis` service (`scanStream`,
 * `hscanStream`, `sscanStream`, `zscanStream`) against a real
 * redis-server, over RESP2 and RESP3: every element exactly once across
 * many pages, MATCH/COUNT/TYPE, small (single-page) collections and missing
 * keys.
 */
import { assert, describe, it } from "@effect/vitest"
import { Effect, Stream } from "effect"
import * as Commands from "@redis-effect/redis/Commands"
import * as Redis from "@redis-effect/redis/Redis"
import * as RedisServer from "@redis-effect/testing/RedisServer"
import { clientLayer, expectRefused, keys, protocols } from "./commands-support.ts"

/** Asserts `items` holds each of `expected` exactly once, in any order. */
const exactlyOnce = (items: ReadonlyArray<string>, expected: ReadonlyArray<string>) => {
  assert.strictEqual(items.length, expected.length, "count (duplicates or misses)")
  assert.strictEqual(new Set(items).size, items.length, "duplicates")
  assert.deepStrictEqual([...items].sort(), [...expected].sort())
}

it.layer(RedisServer.layer())("data commands: SCAN streams", (it) => {
  for (const protocol of protocols) {
    it.layer(clientLayer(protocol))(`RESP${protocol}`, (it) => {
      describe("scanStream", () => {
        it.effect("yields each of 10 000 keys exactly once, and only keys matching", () =>
          Effect.gen(function*() {
            const redis = yield* Redis.Redis
            const k = keys(protocol)
            const names = Array.from({ length: 10_000 }, (_, i) => k(`key:${i}`))
            for (let i = 0; i < names.length; i += 1000) {
              yield* redis.mset(names.slice(i, i + 1000).map((n) => [n, "v"] as const))
            }
            // Keys that must not match the pattern.
            yield* redis.mset({ [k("other:1")]: "x", [k("other:2")]: "y" })
            const found = yield* Stream.runCollect(redis.scanStream({ match: k("key:*"), count: 500 }))
            exactlyOnce(found, names)
            const few = yield* Stream.runCollect(redis.scanStream({ match: k("other:*"), count: 1000 }))
            exactlyOnce(few, [k("other:1"), k("other:2")])
          }))

        it.effect("filters by TYPE and stops early under Stream.take", () =>
          Effect.gen(function*() {
            const redis = yield* Redis.Redis
            const k = keys(protocol)
            yield* redis.pipeline([
              Commands.set(k("s"), "v"),
              Commands.rpush(k("l1"), "x"),
              Commands.rpush(k("l2"), "x"),
              Commands.hset(k("h"), "f", "v")
            ])
            const lists = yield* Stream.runCollect(redis.scanStream({ match: k("*"), type: "list", count: 1000 }))
            exactlyOnce(lists, [k("l1"), k("l2")])
            const one = yield* Stream.runCollect(redis.scanStream({ match: k("*"), count: 1000 }).pipe(Stream.take(1)))
            assert.strictEqual(one.length, 1)
            assert.include([k("s"), k("l1"), k("l2"), k("h")], one[0])
            const none = yield* Stream.runCollect(redis.scanStream({ match: k("nothing:*"), count: 1000 }))
            assert.deepStrictEqual(none, [])
          }))

        it.effect("a refused option fails the stream with InvalidArgument/NotSent", () =>
          Effect.gen(function*() {
            const redis = yield* Redis.Redis
            yield* expectRefused("scan", [Stream.runCollect(redis.scanStream({ count: 0 }))])
          }))
      })

      describe("collection streams", () => {
        it.effect("hscanStream yields each field and value of a 3 000-field hash exactly once", () =>
          Effect.gen(function*() {
            const redis = yield* Redis.Redis
            const k = keys(protocol)
            const fields: Record<string, string> = {}
            for (let i = 0; i < 3000; i++) fields[`f${i}`] = `v${i}`
            yield* redis.hset(k("h"), fields)
            const pairs = yield* Stream.runCollect(redis.hscanStream(k("h"), { count: 100 }))
            exactlyOnce(pairs.map(([f]) => f), Object.keys(fields))
            for (const [f, v] of pairs) assert.strictEqual(v, fields[f])
            const matching = yield* Stream.runCollect(redis.hscanStream(k("h"), { match: "f1??", count: 500 }))
            exactlyOnce(matching.map(([f]) => f), Object.keys(fields).filter((f) => /^f1\d\d$/.test(f)))
            // A small hash is one page.
            yield* redis.hset(k("small"), { a: "1", b: "2" })
            assert.deepStrictEqual([...(yield* Stream.runCollect(redis.hscanStream(k("small"))))].sort(), [["a", "1"], ["b", "2"]])
            assert.deepStrictEqual(yield* Stream.runCollect(redis.hscanStream(k("missing"))), [])
          }))

        it.effect("sscanStream yields each member of a 3 000-member set exactly once", () =>
          Effect.gen(function*() {
            const redis = yield* Redis.Redis
            const k = keys(protocol)
            const members = Array.from({ length: 3000 }, (_, i) => `m${i}`)
            yield* redis.sadd(k("s"), members)
            exactlyOnce(yield* Stream.runCollect(redis.sscanStream(k("s"), { count: 100 })), members)
            exactlyOnce(
              yield* Stream.runCollect(redis.sscanStream(k("s"), { match: "m29*" })),
              members.filter((m) => m.startsWith("m29"))
            )
            yield* redis.sadd(k("ints"), [3, 1, 2])
            exactlyOnce(yield* Stream.runCollect(redis.sscanStream(k("ints"))), ["1", "2", "3"])
            assert.deepStrictEqual(yield* Stream.runCollect(redis.sscanStream(k("missing"))), [])
          }))

        it.effect("zscanStream yields each member and score of a 3 000-member sorted set exactly once", () =>
          Effect.gen(function*() {
            const redis = yield* Redis.Redis
            const k = keys(protocol)
            const members = Array.from({ length: 3000 }, (_, i) => ({ member: `m${i}`, score: i / 8 - 100 }))
            yield* redis.zadd(k("z"), members)
            const found = yield* Stream.runCollect(redis.zscanStream(k("z"), { count: 100 }))
            exactlyOnce(found.map((m) => m.member), members.map((m) => m.member))
            const scores = new Map(members.map((m) => [m.member, m.score]))
            for (const m of found) assert.strictEqual(m.score, scores.get(m.member), m.member)
            yield* redis.zadd(k("small"), [{ member: "a", score: Infinity }, { member: "b", score: -1.5 }])
            assert.deepStrictEqual(
              [...(yield* Stream.runCollect(redis.zscanStream(k("small"), { match: "*" })))].sort((x, y) => x.score - y.score),
              [{ member: "b", score: -1.5 }, { member: "a", score: Infinity }]
            )
            assert.deepStrictEqual(yield* Stream.runCollect(redis.zscanStream(k("missing"))), [])
          }))
      })
    })
  }
})
