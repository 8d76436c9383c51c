/**
 * String and generic key commands against a real redis-server, over RESP2
 * and RESP3: replies, `Option` for absent values, `…Bytes` variants with
 * every byte value, expiry, and refused input that never reaches the server.
 */
import { assert, describe, it } from "@effect/vitest"
import { Effect, Option } from "effect"
import * as Commands from "@redis-effect/redis/Commands"
import * as Redis from "@redis-effect/redis/Redis"
import * as RedisServer from "@redis-effect/testing/RedisServer"
import { ALL_BYTES, ALL_BYTES_REVERSED, clientLayer, expectRefused, keys, protocols } from "./commands-support.ts"

it.layer(RedisServer.layer())("data commands: strings and keys", (it) => {
  for (const protocol of protocols) {
    it.layer(clientLayer(protocol))(`RESP${protocol}`, (it) => {
      describe("strings", () => {
        it.effect("GET and SET: Option for a missing key, NX/XX as booleans, GET returns the old value", () =>
          Effect.gen(function*() {
            const redis = yield* Redis.Redis
            const k = keys(protocol)
            assert.deepStrictEqual(yield* redis.get(k("missing")), Option.none())
            assert.isTrue(yield* redis.set(k("a"), "v1"))
            assert.deepStrictEqual(yield* redis.get(k("a")), Option.some("v1"))
            assert.isFalse(yield* redis.set(k("a"), "v2", { nx: true }))
            assert.isTrue(yield* redis.set(k("a"), "v2", { xx: true }))
            assert.isFalse(yield* redis.set(k("b"), "v", { xx: true }))
            assert.deepStrictEqual(yield* redis.get(k("b")), Option.none())
            assert.deepStrictEqual(yield* redis.set(k("a"), "v3", { get: true }), Option.some("v2"))
            assert.deepStrictEqual(yield* redis.set(k("c"), "v", { get: true }), Option.none())
            assert.deepStrictEqual(yield* redis.get(k("a")), Option.some("v3"))
            // UTF-8 beyond ASCII survives both ways.
            assert.isTrue(yield* redis.set(k("u"), "héllo wörld ✓ 𝄞"))
            assert.deepStrictEqual(yield* redis.get(k("u")), Option.some("héllo wörld ✓ 𝄞"))
          }))

        it.effect("SET with EX, PX, EXAT, PXAT and KEEPTTL sets or keeps the time to live", () =>
          Effect.gen(function*() {
            const redis = yield* Redis.Redis
            const k = keys(protocol)
            yield* redis.set(k("ex"), "v", { ex: 100 })
            const ttl = yield* redis.ttl(k("ex"))
            assert.isTrue(ttl > 90 && ttl <= 100, `ttl ${ttl}`)
            yield* redis.set(k("px"), "v", { px: 100_000 })
            const pttl = yield* redis.pttl(k("px"))
            assert.isTrue(pttl > 90_000 && pttl <= 100_000, `pttl ${pttl}`)
            const at = Math.floor(Date.now() / 1000) + 1000
            yield* redis.set(k("exat"), "v", { exat: at })
            assert.strictEqual(yield* redis.expiretime(k("exat")), at)
            yield* redis.set(k("pxat"), "v", { pxat: at * 1000 + 123 })
            assert.strictEqual(yield* redis.pexpiretime(k("pxat")), at * 1000 + 123)
            yield* redis.set(k("ex"), "w", { keepTtl: true })
            assert.isTrue((yield* redis.ttl(k("ex"))) > 90)
            yield* redis.set(k("ex"), "x")
            assert.strictEqual(yield* redis.ttl(k("ex")), -1)
          }))

        it.effect("SETNX, SETEX, PSETEX, GETSET, GETDEL and GETEX", () =>
          Effect.gen(function*() {
            const redis = yield* Redis.Redis
            const k = keys(protocol)
            assert.isTrue(yield* redis.setnx(k("a"), "1"))
            assert.isFalse(yield* redis.setnx(k("a"), "2"))
            yield* redis.setex(k("b"), 50, "x")
            assert.deepStrictEqual(yield* redis.get(k("b")), Option.some("x"))
            assert.isTrue((yield* redis.ttl(k("b"))) > 40)
            yield* redis.psetex(k("c"), 50_000, "y")
            assert.isTrue((yield* redis.pttl(k("c"))) > 40_000)
            assert.deepStrictEqual(yield* redis.getset(k("a"), "3"), Option.some("1"))
            assert.deepStrictEqual(yield* redis.getset(k("new"), "z"), Option.none())
            assert.deepStrictEqual(yield* redis.getdel(k("a")), Option.some("3"))
            assert.deepStrictEqual(yield* redis.getdel(k("a")), Option.none())
            assert.deepStrictEqual(yield* redis.getex(k("new"), { ex: 70 }), Option.some("z"))
            assert.isTrue((yield* redis.ttl(k("new"))) > 60)
            assert.deepStrictEqual(yield* redis.getex(k("new"), { persist: true }), Option.some("z"))
            assert.strictEqual(yield* redis.ttl(k("new")), -1)
            assert.deepStrictEqual(yield* redis.getex(k("missing")), Option.none())
          }))

        it.effect("GETRANGE, SUBSTR, SETRANGE, APPEND and STRLEN", () =>
          Effect.gen(function*() {
            const redis = yield* Redis.Redis
            const k = keys(protocol)
            assert.strictEqual(yield* redis.append(k("s"), "Hello"), 5)
            assert.strictEqual(yield* redis.append(k("s"), " World"), 11)
            assert.strictEqual(yield* redis.getrange(k("s"), 0, 4), "Hello")
            assert.strictEqual(yield* redis.getrange(k("s"), -5, -1), "World")
            assert.strictEqual(yield* redis.substr(k("s"), 6, 100), "World")
            assert.strictEqual(yield* redis.getrange(k("missing"), 0, -1), "")
            assert.strictEqual(yield* redis.setrange(k("s"), 6, "Redis"), 11)
            assert.deepStrictEqual(yield* redis.get(k("s")), Option.some("Hello Redis"))
            // Past the end the value is padded with zero bytes.
            assert.strictEqual(yield* redis.setrange(k("pad"), 3, "x"), 4)
            assert.deepStrictEqual(yield* redis.getBytes(k("pad")), Option.some(Uint8Array.from([0, 0, 0, 120])))
            assert.strictEqual(yield* redis.strlen(k("s")), 11)
            assert.strictEqual(yield* redis.strlen(k("missing")), 0)
          }))

        it.effect("MSET, MSETNX and MGET with records and pairs, None for missing keys", () =>
          Effect.gen(function*() {
            const redis = yield* Redis.Redis
            const k = keys(protocol)
            yield* redis.mset({ [k("a")]: "1", [k("b")]: "2" })
            yield* redis.mset([[k("c"), "3"], [k("d"), 4]])
            assert.deepStrictEqual(
              yield* redis.mget([k("a"), k("missing"), k("c"), k("d")]),
              [Option.some("1"), Option.none(), Option.some("3"), Option.some("4")]
            )
            assert.isFalse(yield* redis.msetnx({ [k("a")]: "x", [k("e")]: "5" }))
            assert.deepStrictEqual(yield* redis.get(k("e")), Option.none())
            assert.isTrue(yield* redis.msetnx([[k("e"), "5"], [k("f"), "6"]]))
            assert.deepStrictEqual(yield* redis.mget([k("e"), k("f")]), [Option.some("5"), Option.some("6")])
          }))

        it.effect("INCR, DECR, INCRBY, DECRBY and INCRBYFLOAT", () =>
          Effect.gen(function*() {
            const redis = yield* Redis.Redis
            const k = keys(protocol)
            assert.strictEqual(yield* redis.incr(k("n")), 1)
            assert.strictEqual(yield* redis.incrby(k("n"), 41), 42)
            assert.strictEqual(yield* redis.decr(k("n")), 41)
            assert.strictEqual(yield* redis.decrby(k("n"), 50), -9)
            assert.strictEqual(yield* redis.incrby(k("big"), 2 ** 53 - 1), 2 ** 53 - 1)
            assert.strictEqual(yield* redis.incrbyfloat(k("f"), 2.5), 2.5)
            assert.strictEqual(yield* redis.incrbyfloat(k("f"), -0.25), 2.25)
            assert.strictEqual(yield* redis.incrbyfloat(k("f"), 1e-3), 2.251)
            assert.deepStrictEqual(yield* redis.get(k("f")), Option.some("2.251"))
            // A server refusal is a `Rejected` reply error, not a refused argument.
            yield* redis.set(k("s"), "abc")
            const error = yield* Effect.flip(redis.incr(k("s")))
            assert.strictEqual(error.reason._tag, "ReplyError")
            assert.strictEqual(error.outcome, "Rejected")
          }))

        it.effect("LCS, LCS LEN and LCS IDX with and without WITHMATCHLEN/MINMATCHLEN", () =>
          Effect.gen(function*() {
            const redis = yield* Redis.Redis
            const k = keys(protocol)
            // Keys of one LCS must share a slot in a cluster; here any names do.
            yield* redis.mset({ [k("1")]: "ohmytext", [k("2")]: "mynewtext" })
            assert.strictEqual(yield* redis.lcs(k("1"), k("2")), "mytext")
            assert.strictEqual(yield* redis.lcsLen(k("1"), k("2")), 6)
            assert.deepStrictEqual(yield* redis.lcsIdx(k("1"), k("2")), {
              matches: [{ key1: [4, 7], key2: [5, 8] }, { key1: [2, 3], key2: [0, 1] }],
              length: 6
            })
            assert.deepStrictEqual(yield* redis.lcsIdx(k("1"), k("2"), { withMatchLen: true, minMatchLen: 4 }), {
              matches: [{ key1: [4, 7], key2: [5, 8], length: 4 }],
              length: 6
            })
          }))

        it.effect("…Bytes variants return every byte value 0..255 unchanged", () =>
          Effect.gen(function*() {
            const redis = yield* Redis.Redis
            const k = keys(protocol)
            assert.isTrue(yield* redis.set(k("b"), ALL_BYTES))
            assert.deepStrictEqual(yield* redis.getBytes(k("b")), Option.some(ALL_BYTES))
            assert.deepStrictEqual(yield* redis.getBytes(k("missing")), Option.none())
            assert.strictEqual(yield* redis.strlen(k("b")), 256)
            assert.deepStrictEqual(yield* redis.getrangeBytes(k("b"), 250, -1), Uint8Array.from([250, 251, 252, 253, 254, 255]))
            assert.deepStrictEqual(yield* redis.getrangeBytes(k("b"), 0, 2), Uint8Array.from([0, 1, 2]))
            assert.deepStrictEqual(yield* redis.mgetBytes([k("b"), k("missing")]), [Option.some(ALL_BYTES), Option.none()])
            assert.deepStrictEqual(yield* redis.getsetBytes(k("b"), ALL_BYTES_REVERSED), Option.some(ALL_BYTES))
            assert.deepStrictEqual(yield* redis.setGetBytes(k("b"), ALL_BYTES), Option.some(ALL_BYTES_REVERSED))
            assert.deepStrictEqual(yield* redis.getexBytes(k("b"), { px: 60_000 }), Option.some(ALL_BYTES))
            assert.deepStrictEqual(yield* redis.getdelBytes(k("b")), Option.some(ALL_BYTES))
            assert.deepStrictEqual(yield* redis.getdelBytes(k("b")), Option.none())
            // Binary keys work too.
            yield* redis.set(ALL_BYTES, "binary key")
            assert.deepStrictEqual(yield* redis.get(ALL_BYTES), Option.some("binary key"))
            assert.strictEqual(yield* redis.del(ALL_BYTES), 1)
          }))

        it.effect("a pipeline mixes string and bytes replies in order", () =>
          Effect.gen(function*() {
            const redis = yield* Redis.Redis
            const k = keys(protocol)
            const [ok, n, s, b, missing] = yield* redis.pipeline([
              Commands.set(k("b"), ALL_BYTES),
              Commands.incr(k("n")),
              Commands.get(k("n")),
              Commands.getBytes(k("b")),
              Commands.get(k("missing"))
            ])
            assert.isTrue(ok)
            assert.strictEqual(n, 1)
            assert.deepStrictEqual(s, Option.some("1"))
            assert.deepStrictEqual(b, Option.some(ALL_BYTES))
            assert.deepStrictEqual(missing, Option.none())
          }))

        it.effect("refused input fails with InvalidArgument/NotSent before anything is sent", () =>
          Effect.gen(function*() {
            const redis = yield* Redis.Redis
            const k = keys(protocol)
            yield* expectRefused("set", [
              redis.set(k("a"), "v", { nx: true, xx: true }),
              redis.set(k("a"), "v", { ex: 0 }),
              redis.set(k("a"), "v", { ex: 1.5 }),
              redis.set(k("a"), "v", { ex: 10, px: 10 }),
              redis.set(k("a"), "v", { ex: 10, keepTtl: true }),
              redis.setGetBytes(k("a"), "v", { nx: true, xx: true })
            ])
            yield* expectRefused("setex", [redis.setex(k("a"), 0, "v"), redis.setex(k("a"), NaN, "v")])
            yield* expectRefused("getex", [redis.getex(k("a"), { ex: 10, persist: true })])
            yield* expectRefused("incrby", [redis.incrby(k("a"), 1.5)])
            yield* expectRefused("incrbyfloat", [redis.incrbyfloat(k("a"), NaN), redis.incrbyfloat(k("a"), Infinity)])
            yield* expectRefused("mget", [redis.mget([]), redis.mgetBytes([])])
            yield* expectRefused("mset", [redis.mset({}), redis.mset([])])
            yield* expectRefused("getrange", [redis.getrange(k("a"), 0.5, 1)])
            yield* expectRefused("setrange", [redis.setrange(k("a"), -1, "x")])
            yield* expectRefused("lcs", [redis.lcsIdx(k("a"), k("b"), { minMatchLen: -1 })])
            // In a pipeline, the refused command fails alone.
            const exits = yield* redis.pipelineExits([Commands.incr(k("n")), Commands.incrby(k("n"), 0.5), Commands.incr(k("n"))])
            assert.strictEqual(exits.length, 3)
            assert.deepStrictEqual(exits.map((e) => e._tag), ["Success", "Failure", "Success"])
            assert.deepStrictEqual(yield* redis.get(k("n")), Option.some("2"))
          }))
      })

      describe("keys and expiry", () => {
        it.effect("DEL, UNLINK, EXISTS and TOUCH count keys", () =>
          Effect.gen(function*() {
            const redis = yield* Redis.Redis
            const k = keys(protocol)
            yield* redis.mset({ [k("a")]: "1", [k("b")]: "2", [k("c")]: "3" })
            assert.strictEqual(yield* redis.exists(k("a")), 1)
            assert.strictEqual(yield* redis.exists([k("a"), k("a"), k("b"), k("missing")]), 3)
            assert.strictEqual(yield* redis.touch([k("a"), k("missing")]), 1)
            assert.strictEqual(yield* redis.del([k("a"), k("missing")]), 1)
            assert.strictEqual(yield* redis.unlink([k("b"), k("c")]), 2)
            assert.strictEqual(yield* redis.exists([k("a"), k("b"), k("c")]), 0)
            assert.strictEqual(yield* redis.del(k("a")), 0)
          }))

        it.effect("EXPIRE, PEXPIRE, TTL, PTTL and PERSIST with NX/XX/GT/LT conditions", () =>
          Effect.gen(function*() {
            const redis = yield* Redis.Redis
            const k = keys(protocol)
            assert.strictEqual(yield* redis.ttl(k("missing")), -2)
            assert.strictEqual(yield* redis.pttl(k("missing")), -2)
            assert.isFalse(yield* redis.expire(k("missing"), 10))
            yield* redis.set(k("a"), "v")
            assert.strictEqual(yield* redis.ttl(k("a")), -1)
            assert.isFalse(yield* redis.expire(k("a"), 100, "XX"))
            assert.isTrue(yield* redis.expire(k("a"), 100, "NX"))
            assert.isFalse(yield* redis.expire(k("a"), 200, "NX"))
            assert.isFalse(yield* redis.expire(k("a"), 50, "GT"))
            assert.isTrue(yield* redis.expire(k("a"), 200, "GT"))
            assert.isTrue((yield* redis.ttl(k("a"))) > 150)
            assert.isTrue(yield* redis.pexpire(k("a"), 30_000, "LT"))
            const pttl = yield* redis.pttl(k("a"))
            assert.isTrue(pttl > 20_000 && pttl <= 30_000, `pttl ${pttl}`)
            assert.isTrue(yield* redis.persist(k("a")))
            assert.isFalse(yield* redis.persist(k("a")))
            assert.strictEqual(yield* redis.ttl(k("a")), -1)
            // A non-positive time to live deletes the key.
            assert.isTrue(yield* redis.expire(k("a"), 0))
            assert.strictEqual(yield* redis.exists(k("a")), 0)
          }))

        it.effect("EXPIREAT and PEXPIREAT with numbers and Dates, EXPIRETIME and PEXPIRETIME", () =>
          Effect.gen(function*() {
            const redis = yield* Redis.Redis
            const k = keys(protocol)
            yield* redis.set(k("a"), "v")
            assert.strictEqual(yield* redis.expiretime(k("a")), -1)
            assert.strictEqual(yield* redis.expiretime(k("missing")), -2)
            assert.strictEqual(yield* redis.pexpiretime(k("missing")), -2)
            const at = Math.floor(Date.now() / 1000) + 3600
            assert.isTrue(yield* redis.expireat(k("a"), at))
            assert.strictEqual(yield* redis.expiretime(k("a")), at)
            const date = new Date((at + 60) * 1000 + 250)
            assert.isTrue(yield* redis.expireat(k("a"), date))
            assert.strictEqual(yield* redis.expiretime(k("a")), at + 60)
            assert.isTrue(yield* redis.pexpireat(k("a"), date))
            assert.strictEqual(yield* redis.pexpiretime(k("a")), date.getTime())
            assert.isFalse(yield* redis.pexpireat(k("a"), date.getTime() - 1000, "GT"))
            assert.isTrue(yield* redis.pexpireat(k("a"), date.getTime() - 1000, "LT"))
            assert.strictEqual(yield* redis.pexpiretime(k("a")), date.getTime() - 1000)
          }))

        it.effect("TYPE names every type, and none for a missing key", () =>
          Effect.gen(function*() {
            const redis = yield* Redis.Redis
            const k = keys(protocol)
            yield* redis.pipeline([
              Commands.set(k("string"), "v"),
              Commands.rpush(k("list"), "x"),
              Commands.sadd(k("set"), "x"),
              Commands.zadd(k("zset"), { member: "x", score: 1 }),
              Commands.hset(k("hash"), "f", "v")
            ])
            for (const t of ["string", "list", "set", "zset", "hash"]) assert.strictEqual(yield* redis.type(k(t)), t)
            assert.strictEqual(yield* redis.type(k("missing")), "none")
          }))

        it.effect("RENAME, RENAMENX, COPY and MOVE", () =>
          Effect.gen(function*() {
            const redis = yield* Redis.Redis
            const server = yield* RedisServer.RedisServer
            const k = keys(protocol)
            yield* redis.mset({ [k("a")]: "1", [k("b")]: "2" })
            yield* redis.rename(k("a"), k("c"))
            assert.deepStrictEqual(yield* redis.mget([k("a"), k("c")]), [Option.none(), Option.some("1")])
            assert.isFalse(yield* redis.renamenx(k("c"), k("b")))
            assert.isTrue(yield* redis.renamenx(k("c"), k("d")))
            const error = yield* Effect.flip(redis.rename(k("missing"), k("x")))
            assert.strictEqual(error.reason._tag, "ReplyError")
            assert.match(error.message, /no such key/)
            assert.isFalse(yield* redis.copy(k("d"), k("b")))
            assert.isTrue(yield* redis.copy(k("d"), k("b"), { replace: true }))
            assert.deepStrictEqual(yield* redis.get(k("b")), Option.some("1"))
            assert.isTrue(yield* redis.copy(k("d"), k("e"), { db: 2 }))
            assert.strictEqual(yield* server.cli("-n", "2", "GET", k("e")), "1")
            assert.isTrue(yield* redis.move(k("d"), 3))
            assert.isFalse(yield* redis.move(k("missing"), 3))
            assert.strictEqual(yield* redis.exists(k("d")), 0)
            assert.strictEqual(yield* server.cli("-n", "3", "GET", k("d")), "1")
          }))

        it.effect("DUMP and RESTORE round-trip a binary value, with REPLACE and ABSTTL", () =>
          Effect.gen(function*() {
            const redis = yield* Redis.Redis
            const k = keys(protocol)
            assert.deepStrictEqual(yield* redis.dump(k("missing")), Option.none())
            yield* redis.set(k("a"), ALL_BYTES)
            const payload = Option.getOrThrow(yield* redis.dump(k("a")))
            assert.instanceOf(payload, Uint8Array)
            yield* redis.restore(k("b"), 0, payload)
            assert.deepStrictEqual(yield* redis.getBytes(k("b")), Option.some(ALL_BYTES))
            assert.strictEqual(yield* redis.ttl(k("b")), -1)
            const busy = yield* Effect.flip(redis.restore(k("b"), 0, payload))
            assert.strictEqual(busy.reason._tag, "ReplyError")
            const at = Date.now() + 3_600_000
            yield* redis.restore(k("b"), at, payload, { replace: true, absTtl: true, idleTime: 10 })
            assert.strictEqual(yield* redis.pexpiretime(k("b")), at)
            assert.deepStrictEqual(yield* redis.getBytes(k("b")), Option.some(ALL_BYTES))
          }))

        it.effect("OBJECT ENCODING, REFCOUNT and IDLETIME; None for a missing key", () =>
          Effect.gen(function*() {
            const redis = yield* Redis.Redis
            const k = keys(protocol)
            yield* redis.mset({ [k("int")]: "12345", [k("str")]: "short" })
            yield* redis.set(k("raw"), "x".repeat(100))
            assert.deepStrictEqual(yield* redis.objectEncoding(k("int")), Option.some("int"))
            assert.deepStrictEqual(yield* redis.objectEncoding(k("str")), Option.some("embstr"))
            assert.deepStrictEqual(yield* redis.objectEncoding(k("raw")), Option.some("raw"))
            assert.deepStrictEqual(yield* redis.objectEncoding(k("missing")), Option.none())
            assert.isTrue(Option.isSome(yield* redis.objectRefcount(k("str"))))
            assert.deepStrictEqual(yield* redis.objectRefcount(k("missing")), Option.none())
            const idle = yield* redis.objectIdletime(k("str"))
            assert.isTrue(Option.isSome(idle) && idle.value >= 0)
            assert.deepStrictEqual(yield* redis.objectIdletime(k("missing")), Option.none())
          }))

        it.effect("KEYS and SCAN pages with MATCH, COUNT and TYPE", () =>
          Effect.gen(function*() {
            const redis = yield* Redis.Redis
            const k = keys(protocol)
            yield* redis.mset({ [k("s1")]: "1", [k("s2")]: "2", [k("s3")]: "3" })
            yield* redis.rpush(k("l1"), "x")
            assert.deepStrictEqual((yield* redis.keys(k("s*"))).sort(), [k("s1"), k("s2"), k("s3")])
            assert.deepStrictEqual(yield* redis.keys(k("nothing*")), [])
            const seen: Array<string> = []
            let cursor = "0"
            do {
              const page = yield* redis.scan(cursor, { match: k("*"), count: 2, type: "string" })
              assert.isString(page.cursor)
              seen.push(...page.items)
              cursor = page.cursor
            } while (cursor !== "0")
            assert.deepStrictEqual(seen.sort(), [k("s1"), k("s2"), k("s3")])
          }))

        it.effect("SORT, SORT_RO and SORT ... STORE with BY, LIMIT, GET, order and ALPHA", () =>
          Effect.gen(function*() {
            const redis = yield* Redis.Redis
            const k = keys(protocol)
            yield* redis.rpush(k("l"), ["3", "1", "2", "10"])
            const sorted = (xs: ReadonlyArray<string>) => xs.map(Option.some)
            assert.deepStrictEqual(yield* redis.sort(k("l")), sorted(["1", "2", "3", "10"]))
            assert.deepStrictEqual(yield* redis.sort(k("l"), { alpha: true }), sorted(["1", "10", "2", "3"]))
            assert.deepStrictEqual(yield* redis.sortRo(k("l"), { order: "DESC", limit: { offset: 1, count: 2 } }), sorted(["3", "2"]))
            yield* redis.mset({ [k("w_1")]: "30", [k("w_2")]: "20", [k("w_3")]: "10", [k("n_1")]: "one", [k("n_3")]: "three" })
            assert.deepStrictEqual(
              yield* redis.sort(k("l"), { by: k("w_*"), get: [k("n_*"), "#"] }),
              // w_10 is missing: it sorts first with weight 0; n_2 and n_10 are missing: None.
              [Option.none(), Option.some("10"), Option.some("three"), Option.some("3"), Option.none(), Option.some("2"), Option.some("one"), Option.some("1")]
            )
            assert.strictEqual(yield* redis.sortStore(k("l"), k("dst"), { order: "DESC" }), 4)
            assert.deepStrictEqual(yield* redis.lrange(k("dst"), 0, -1), ["10", "3", "2", "1"])
          }))

        it.effect("RANDOMKEY: None on an empty database, a key otherwise", () =>
          Effect.gen(function*() {
            const redis = yield* Redis.Redis
            const server = yield* RedisServer.RedisServer
            const k = keys(protocol)
            // Tests of a file run one at a time; this one owns the database while it runs.
            yield* server.cli("FLUSHDB")
            assert.deepStrictEqual(yield* redis.randomkey(), Option.none())
            yield* redis.set(k("only"), "v")
            assert.deepStrictEqual(yield* redis.randomkey(), Option.some(k("only")))
          }))

        it.effect("refused key commands fail with InvalidArgument/NotSent before anything is sent", () =>
          Effect.gen(function*() {
            const redis = yield* Redis.Redis
            const k = keys(protocol)
            yield* expectRefused("del", [redis.del([])])
            yield* expectRefused("exists", [redis.exists([])])
            yield* expectRefused("expire", [redis.expire(k("a"), 1.5), redis.expire(k("a"), NaN)])
            yield* expectRefused("pexpireat", [redis.pexpireat(k("a"), new Date(NaN))])
            yield* expectRefused("copy", [redis.copy(k("a"), k("b"), { db: -1 })])
            yield* expectRefused("move", [redis.move(k("a"), 0.5)])
            yield* expectRefused("restore", [
              redis.restore(k("a"), -1, new Uint8Array(1)),
              redis.restore(k("a"), 0, new Uint8Array(1), { idleTime: 1, freq: 1 })
            ])
            yield* expectRefused("scan", [redis.scan("0", { count: 0 })])
            yield* expectRefused("sort", [redis.sort(k("a"), { limit: { offset: -1, count: 1 } })])
          }))
      })
    })
  }
})
