/**
 * The stream command family against a real redis-server, over RESP3 and
 * RESP2 (their reply shapes differ: maps versus flat and nested arrays).
 */
import { assert, describe, it } from "@effect/vitest"
import * as Commands from "@redis-effect/redis/Commands"
import * as Redis from "@redis-effect/redis/Redis"
import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"
import * as Option from "effect/Option"
import { eventually, key, serverWithClient } from "./redis-helpers.ts"

const suite = (protocol: 2 | 3) =>
  it.layer(serverWithClient({}, { protocol }), { excludeTestServices: true })(`RESP${protocol}`, (it) => {
    it.effect("XADD, XLEN, XRANGE, XREVRANGE", () =>
      Effect.gen(function*() {
        const redis = yield* Redis.Redis
        const s = key("s")
        const id1 = yield* redis.xadd(s, { a: "1", b: "x" })
        const id2 = yield* redis.xadd(s, [["a", "2"], ["c", "y"]])
        const id3 = yield* redis.xadd(s, { a: "3" }, { id: "9999999999999-0" })
        assert.match(id1, /^\d+-\d+$/)
        assert.strictEqual(id3, "9999999999999-0")
        assert.strictEqual(yield* redis.xlen(s), 3)
        const all = yield* redis.xrange(s)
        assert.deepStrictEqual(all.map((e) => e.id), [id1, id2, id3])
        assert.deepStrictEqual(all[0].fields, { a: "1", b: "x" })
        assert.deepStrictEqual(all[1].fields, { a: "2", c: "y" })
        assert.deepStrictEqual((yield* redis.xrange(s, id2, "+", { count: 1 })).map((e) => e.id), [id2])
        assert.deepStrictEqual((yield* redis.xrevrange(s)).map((e) => e.id), [id3, id2, id1])
        // An id lower than the last one is refused by the server.
        const error = yield* redis.xadd(s, { a: "0" }, { id: "1-1" }).pipe(Effect.flip)
        assert.match(error.message, /equal or smaller/)
        assert.deepStrictEqual(yield* redis.xaddNoMkStream(key("absent"), { a: "1" }), Option.none())
      }))

    it.effect("XREAD returns entries after the given ids, per stream; None when nothing new", () =>
      Effect.gen(function*() {
        const redis = yield* Redis.Redis
        const s1 = key("r1")
        const s2 = key("r2")
        const a = yield* redis.xadd(s1, { n: "1" })
        const b = yield* redis.xadd(s1, { n: "2" })
        const c = yield* redis.xadd(s2, { m: "1" })
        const read = yield* redis.xread({ [s1]: "0", [s2]: "0" })
        assert.isTrue(Option.isSome(read))
        const results = Option.getOrThrow(read)
        assert.deepStrictEqual(results.map((r) => r.stream), [s1, s2])
        assert.deepStrictEqual(results[0].entries.map((e) => e.id), [a, b])
        assert.deepStrictEqual(results[1].entries, [{ id: c, fields: { m: "1" } }])
        const after = yield* redis.xread([[s1, b]], { count: 10 })
        assert.isTrue(Option.isNone(after))
        // With BLOCK and nothing new it times out with None.
        assert.isTrue(Option.isNone(yield* redis.xread([[s1, "$"]], { block: 50 })))
      }))

    it.effect("XREAD BLOCK is woken by a concurrent XADD, and does not stall other commands", () =>
      Effect.gen(function*() {
        const redis = yield* Redis.Redis
        const s = key("block")
        yield* redis.xadd(s, { old: "1" })
        const reader = yield* Effect.forkChild(redis.xread([[s, "$"]], { block: 0 }))
        yield* eventually("the reader is blocked", Effect.map(redis.info("clients"), (t) => /blocked_clients:[1-9]/.test(t)))
        // The shared connection keeps serving while the reader blocks.
        assert.strictEqual(yield* redis.ping(), "PONG")
        const id = yield* redis.xadd(s, { new: "2" })
        const result = Option.getOrThrow(yield* Fiber.join(reader))
        assert.deepStrictEqual(result, [{ stream: s, entries: [{ id, fields: { new: "2" } }] }])
      }))

    it.effect("consumer groups: XGROUP CREATE, XREADGROUP, XPENDING, XACK", () =>
      Effect.gen(function*() {
        const redis = yield* Redis.Redis
        const s = key("g")
        yield* redis.xgroupCreate(s, "grp", "$", { mkstream: true })
        const busy = yield* redis.xgroupCreate(s, "grp", "$").pipe(Effect.flip)
        assert.match(busy.message, /BUSYGROUP/)
        const id1 = yield* redis.xadd(s, { job: "1" })
        const id2 = yield* redis.xadd(s, { job: "2" })
        const read = Option.getOrThrow(yield* redis.xreadgroup("grp", "alice", { [s]: ">" }, { count: 1 }))
        assert.deepStrictEqual(read, [{ stream: s, entries: [{ id: id1, fields: { job: "1" } }] }])
        const read2 = Option.getOrThrow(yield* redis.xreadgroup("grp", "bob", [[s, ">"]]))
        assert.deepStrictEqual(read2[0].entries.map((e) => e.id), [id2])
        const summary = yield* redis.xpending(s, "grp")
        assert.strictEqual(summary.count, 2)
        assert.deepStrictEqual(summary.lowest, Option.some(id1))
        assert.deepStrictEqual(summary.highest, Option.some(id2))
        assert.deepStrictEqual(summary.consumers.map((c) => [c.name, c.pending]).sort(), [["alice", 1], ["bob", 1]])
        const entries = yield* redis.xpendingRange(s, "grp", { count: 10, consumer: "alice" })
        assert.strictEqual(entries.length, 1)
        assert.strictEqual(entries[0].id, id1)
        assert.strictEqual(entries[0].consumer, "alice")
        assert.strictEqual(entries[0].deliveries, 1)
        assert.strictEqual(yield* redis.xack(s, "grp", [id1, "0-1"]), 1)
        assert.strictEqual((yield* redis.xpending(s, "grp")).count, 1)
        // Nothing new for the group.
        assert.isTrue(Option.isNone(yield* redis.xreadgroup("grp", "alice", { [s]: ">" })))
        // The consumer's history: its acked entry is gone.
        const history = Option.getOrThrow(yield* redis.xreadgroup("grp", "bob", { [s]: "0" }))
        assert.deepStrictEqual(history[0].entries.map((e) => e.id), [id2])
      }))

    it.effect("XPENDING on an empty group has no range and no consumers", () =>
      Effect.gen(function*() {
        const redis = yield* Redis.Redis
        const s = key("empty")
        yield* redis.xgroupCreate(s, "g", "$", { mkstream: true })
        const summary = yield* redis.xpending(s, "g")
        assert.strictEqual(summary.count, 0)
        assert.isTrue(Option.isNone(summary.lowest))
        assert.deepStrictEqual(summary.consumers, [])
      }))

    it.effect("XREADGROUP history shows deleted pending entries with null fields", () =>
      Effect.gen(function*() {
        const redis = yield* Redis.Redis
        const s = key("deleted")
        yield* redis.xgroupCreate(s, "g", "0", { mkstream: true })
        const id = yield* redis.xadd(s, { x: "1" })
        yield* redis.xreadgroup("g", "c", { [s]: ">" })
        assert.strictEqual(yield* redis.xdel(s, [id]), 1)
        const history = Option.getOrThrow(yield* redis.xreadgroup("g", "c", { [s]: "0" }))
        assert.deepStrictEqual(history[0].entries, [{ id, fields: null }])
      }))

    it.effect("XREADGROUP BLOCK is woken by XADD", () =>
      Effect.gen(function*() {
        const redis = yield* Redis.Redis
        const s = key("gblock")
        yield* redis.xgroupCreate(s, "g", "$", { mkstream: true })
        const reader = yield* Effect.forkChild(redis.xreadgroup("g", "c", { [s]: ">" }, { block: 0 }))
        yield* eventually("the group reader is blocked", Effect.map(redis.info("clients"), (t) => /blocked_clients:[1-9]/.test(t)))
        const id = yield* redis.xadd(s, { v: "w" })
        const got = Option.getOrThrow(yield* Fiber.join(reader))
        assert.deepStrictEqual(got[0].entries, [{ id, fields: { v: "w" } }])
      }))

    it.effect("XCLAIM and XCLAIM JUSTID move pending entries to another consumer", () =>
      Effect.gen(function*() {
        const redis = yield* Redis.Redis
        const s = key("claim")
        yield* redis.xgroupCreate(s, "g", "$", { mkstream: true })
        const id1 = yield* redis.xadd(s, { a: "1" })
        const id2 = yield* redis.xadd(s, { a: "2" })
        yield* redis.xreadgroup("g", "crashed", { [s]: ">" })
        const claimed = yield* redis.xclaim(s, "g", "rescuer", 0, [id1], { retryCount: 5 })
        assert.deepStrictEqual(claimed, [{ id: id1, fields: { a: "1" } }])
        const ids = yield* redis.xclaimJustId(s, "g", "rescuer", 0, [id2])
        assert.deepStrictEqual(ids, [id2])
        const pending = yield* redis.xpendingRange(s, "g", { count: 10 })
        assert.deepStrictEqual(pending.map((p) => p.consumer), ["rescuer", "rescuer"])
        assert.strictEqual(pending[0].deliveries, 5)
        // A min-idle-time larger than the idle time claims nothing.
        assert.deepStrictEqual(yield* redis.xclaim(s, "g", "late", 3_600_000, [id1]), [])
      }))

    it.effect("XAUTOCLAIM claims idle entries page by page and reports deleted ones", () =>
      Effect.gen(function*() {
        const redis = yield* Redis.Redis
        const s = key("autoclaim")
        yield* redis.xgroupCreate(s, "g", "$", { mkstream: true })
        const ids: Array<string> = []
        for (let i = 0; i < 5; i++) ids.push(yield* redis.xadd(s, { i: String(i) }))
        yield* redis.xreadgroup("g", "old", { [s]: ">" })
        yield* redis.xdel(s, [ids[4]])
        const page1 = yield* redis.xautoclaim(s, "g", "new", 0, "0-0", { count: 2 })
        assert.deepStrictEqual(page1.claimed.map((e) => e.id), ids.slice(0, 2))
        assert.notStrictEqual(page1.next, "0-0")
        const page2 = yield* redis.xautoclaimJustId(s, "g", "new", 0, page1.next, { count: 10 })
        assert.deepStrictEqual(page2.claimed, ids.slice(2, 4))
        assert.deepStrictEqual(page2.deleted, [ids[4]])
        assert.strictEqual(page2.next, "0-0")
      }))

    it.effect("XINFO STREAM, GROUPS, CONSUMERS and STREAM FULL", () =>
      Effect.gen(function*() {
        const redis = yield* Redis.Redis
        const s = key("info")
        const first = yield* redis.xadd(s, { f: "1" })
        const last = yield* redis.xadd(s, { f: "2" })
        yield* redis.xgroupCreate(s, "g1", "0")
        yield* redis.xgroupCreate(s, "g2", "$")
        yield* redis.xreadgroup("g1", "c1", { [s]: ">" }, { count: 1 })
        const info = yield* redis.xinfoStream(s)
        assert.strictEqual(info.length, 2)
        assert.strictEqual(info.groups, 2)
        assert.strictEqual(info.lastGeneratedId, last)
        assert.deepStrictEqual(info.firstEntry, Option.some({ id: first, fields: { f: "1" } }))
        assert.deepStrictEqual(Option.map(info.lastEntry, (e) => e.id), Option.some(last))
        assert.deepStrictEqual(info.entriesAdded, Option.some(2))
        const groups = yield* redis.xinfoGroups(s)
        assert.deepStrictEqual(groups.map((g) => g.name), ["g1", "g2"])
        assert.strictEqual(groups[0].pending, 1)
        assert.strictEqual(groups[0].consumers, 1)
        assert.strictEqual(groups[0].lastDeliveredId, first)
        assert.deepStrictEqual(groups[0].lag, Option.some(1))
        const consumers = yield* redis.xinfoConsumers(s, "g1")
        assert.deepStrictEqual(consumers.map((c) => [c.name, c.pending]), [["c1", 1]])
        const full = yield* redis.xinfoStreamFull(s, { count: 0 })
        assert.strictEqual(full["length"], 2)
        assert.isTrue(Array.isArray(full["groups"]))
      }))

    it.effect("XTRIM MAXLEN and MINID, XADD with trimming, XDEL", () =>
      Effect.gen(function*() {
        const redis = yield* Redis.Redis
        const s = key("trim")
        const ids: Array<string> = []
        for (let i = 1; i <= 10; i++) ids.push(yield* redis.xadd(s, { i: String(i) }, { id: `${i}-0` }))
        assert.strictEqual(yield* redis.xtrim(s, { strategy: "MAXLEN", threshold: 7 }), 3)
        assert.strictEqual(yield* redis.xlen(s), 7)
        assert.strictEqual(yield* redis.xtrim(s, { strategy: "MINID", threshold: "6-0" }), 2)
        assert.deepStrictEqual((yield* redis.xrange(s)).map((e) => e.id), ["6-0", "7-0", "8-0", "9-0", "10-0"])
        yield* redis.xadd(s, { i: "11" }, { id: "11-0", trim: { strategy: "MAXLEN", threshold: 2 } })
        assert.deepStrictEqual((yield* redis.xrange(s)).map((e) => e.id), ["10-0", "11-0"])
        // Approximate trimming with LIMIT is accepted by the server.
        yield* redis.xtrim(s, { strategy: "MAXLEN", mode: "~", threshold: 1, limit: 10 })
        assert.strictEqual(yield* redis.xdel(s, ["11-0", "999-0"]), 1)
        const bad = yield* redis.xtrim(s, { strategy: "MAXLEN", threshold: 1, limit: 5 }).pipe(Effect.flip)
        assert.strictEqual(bad.reason._tag, "InvalidArgument")
      }))

    it.effect("XGROUP SETID, CREATECONSUMER, DELCONSUMER, DESTROY; XSETID", () =>
      Effect.gen(function*() {
        const redis = yield* Redis.Redis
        const s = key("grpadmin")
        yield* redis.xadd(s, { a: "1" }, { id: "1-0" })
        yield* redis.xadd(s, { a: "2" }, { id: "2-0" })
        yield* redis.xgroupCreate(s, "g", "$")
        assert.isTrue(yield* redis.xgroupCreateConsumer(s, "g", "c"))
        assert.isFalse(yield* redis.xgroupCreateConsumer(s, "g", "c"))
        yield* redis.xgroupSetId(s, "g", "0")
        const read = Option.getOrThrow(yield* redis.xreadgroup("g", "c", { [s]: ">" }))
        assert.strictEqual(read[0].entries.length, 2)
        assert.strictEqual(yield* redis.xgroupDelConsumer(s, "g", "c"), 2)
        assert.isTrue(yield* redis.xgroupDestroy(s, "g"))
        assert.isFalse(yield* redis.xgroupDestroy(s, "g"))
        yield* redis.xsetid(s, "5-0")
        assert.strictEqual((yield* redis.xinfoStream(s)).lastGeneratedId, "5-0")
        const refused = yield* redis.xadd(s, { a: "x" }, { id: "3-0" }).pipe(Effect.flip)
        assert.strictEqual(refused.reason._tag, "ReplyError")
      }))

    it.effect("stream commands inside a transaction decode like outside", () =>
      Effect.gen(function*() {
        const redis = yield* Redis.Redis
        const s = key("txs")
        const [id, len, range] = yield* redis.transaction([
          Commands.xadd(s, { k: "v" }, { id: "1-1" }),
          Commands.xlen(s),
          Commands.xrange(s)
        ])
        assert.strictEqual(id, "1-1")
        assert.strictEqual(len, 1)
        assert.deepStrictEqual(range, [{ id: "1-1", fields: { k: "v" } }])
      }))
  })

describe("streams", () => {
  suite(3)
  suite(2)
})
