/**
 * Bitmap, HyperLogLog and geo commands against a real redis-server, over
 * RESP2 and RESP3: bits and BITFIELD integers over binary values, distinct
 * counts, positions, distances and searches, and refused input that never
 * reaches the server.
 */
import { assert, describe, it } from "@effect/vitest"
import { Effect, Option } from "effect"
import * as Redis from "@redis-effect/redis/Redis"
import * as RedisServer from "@redis-effect/testing/RedisServer"
import { ALL_BYTES, ALL_BYTES_REVERSED, bytes, clientLayer, expectRefused, keys, protocols } from "./commands-support.ts"

/** Asserts `actual` is within `epsilon` of `expected`. */
const near = (actual: number | undefined, expected: number, epsilon = 1e-4) =>
  assert.isTrue(actual !== undefined && Math.abs(actual - expected) < epsilon, `${actual} is not ~${expected}`)

// The Sicily example of the Redis documentation.
const PALERMO = { member: "Palermo", longitude: 13.361389, latitude: 38.115556 }
const CATANIA = { member: "Catania", longitude: 15.087269, latitude: 37.502669 }

it.layer(RedisServer.layer())("data commands: bitmaps, HyperLogLog and geo", (it) => {
  for (const protocol of protocols) {
    it.layer(clientLayer(protocol))(`RESP${protocol}`, (it) => {
      describe("bitmaps", () => {
        it.effect("SETBIT and GETBIT: old bit values, zero beyond the end", () =>
          Effect.gen(function*() {
            const redis = yield* Redis.Redis
            const k = keys(protocol)
            assert.strictEqual(yield* redis.setbit(k("b"), 7, 1), 0)
            assert.strictEqual(yield* redis.setbit(k("b"), 7, 1), 1)
            assert.strictEqual(yield* redis.setbit(k("b"), 8, 1), 0)
            assert.deepStrictEqual(yield* redis.getBytes(k("b")), Option.some(Uint8Array.from([0x01, 0x80])))
            assert.strictEqual(yield* redis.getbit(k("b"), 7), 1)
            assert.strictEqual(yield* redis.getbit(k("b"), 6), 0)
            assert.strictEqual(yield* redis.getbit(k("b"), 10_000), 0)
            assert.strictEqual(yield* redis.getbit(k("missing"), 0), 0)
            assert.strictEqual(yield* redis.setbit(k("b"), 7, 0), 1)
          }))

        it.effect("BITCOUNT and BITPOS over bytes and bits", () =>
          Effect.gen(function*() {
            const redis = yield* Redis.Redis
            const k = keys(protocol)
            // 0..255 holds every byte once: 8 * 128 = 1024 set bits.
            yield* redis.set(k("all"), ALL_BYTES)
            assert.strictEqual(yield* redis.bitcount(k("all")), 1024)
            assert.strictEqual(yield* redis.bitcount(k("all"), { start: 255, end: 255 }), 8)
            assert.strictEqual(yield* redis.bitcount(k("all"), { start: -2, end: -1, unit: "BYTE" }), 15)
            assert.strictEqual(yield* redis.bitcount(k("all"), { start: 8, end: 15, unit: "BIT" }), 1)
            assert.strictEqual(yield* redis.bitcount(k("missing")), 0)
            // Byte 1 is 0b00000001: the first set bit is bit 15.
            assert.strictEqual(yield* redis.bitpos(k("all"), 1), 15)
            assert.strictEqual(yield* redis.bitpos(k("all"), 0), 0)
            assert.strictEqual(yield* redis.bitpos(k("all"), 1, { start: 255 }), 255 * 8)
            assert.strictEqual(yield* redis.bitpos(k("all"), 0, { start: 255, end: 255 }), -1)
            assert.strictEqual(yield* redis.bitpos(k("all"), 1, { start: 16, end: 23, unit: "BIT" }), 22)
            assert.strictEqual(yield* redis.bitpos(k("missing"), 1), -1)
            assert.strictEqual(yield* redis.bitpos(k("missing"), 0), 0)
          }))

        it.effect("BITOP AND, OR, XOR and NOT over every byte value", () =>
          Effect.gen(function*() {
            const redis = yield* Redis.Redis
            const k = keys(protocol)
            yield* redis.mset([[k("a"), ALL_BYTES], [k("b"), ALL_BYTES_REVERSED]])
            assert.strictEqual(yield* redis.bitop("NOT", k("not"), k("a")), 256)
            assert.deepStrictEqual(yield* redis.getBytes(k("not")), Option.some(ALL_BYTES_REVERSED))
            assert.strictEqual(yield* redis.bitop("AND", k("and"), [k("a"), k("b")]), 256)
            assert.deepStrictEqual(yield* redis.getBytes(k("and")), Option.some(new Uint8Array(256)))
            assert.strictEqual(yield* redis.bitop("OR", k("or"), [k("a"), k("b")]), 256)
            assert.deepStrictEqual(yield* redis.getBytes(k("or")), Option.some(new Uint8Array(256).fill(255)))
            assert.strictEqual(yield* redis.bitop("XOR", k("xor"), [k("a"), k("or")]), 256)
            assert.deepStrictEqual(yield* redis.getBytes(k("xor")), Option.some(ALL_BYTES_REVERSED))
            // A missing source counts as zeros.
            assert.strictEqual(yield* redis.bitop("OR", k("or2"), [k("missing"), k("a")]), 256)
            assert.deepStrictEqual(yield* redis.getBytes(k("or2")), Option.some(ALL_BYTES))
          }))

        it.effect("BITFIELD GET, SET and INCRBY with OVERFLOW WRAP, SAT and FAIL; BITFIELD_RO", () =>
          Effect.gen(function*() {
            const redis = yield* Redis.Redis
            const k = keys(protocol)
            assert.deepStrictEqual(
              yield* redis.bitfield(k("f"), [
                { op: "SET", encoding: "u8", offset: "#0", value: 250 },
                { op: "SET", encoding: "i16", offset: 8, value: -2 },
                { op: "GET", encoding: "u8", offset: 0 },
                { op: "GET", encoding: "i8", offset: 0 }
              ]),
              [Option.some(0), Option.some(0), Option.some(250), Option.some(-6)]
            )
            assert.deepStrictEqual(
              yield* redis.bitfield(k("f"), [
                { op: "INCRBY", encoding: "u8", offset: 0, increment: 10 },
                { op: "OVERFLOW", behavior: "SAT" },
                { op: "INCRBY", encoding: "u8", offset: 0, increment: 300 },
                { op: "OVERFLOW", behavior: "FAIL" },
                { op: "INCRBY", encoding: "u8", offset: 0, increment: 1 },
                { op: "INCRBY", encoding: "i16", offset: 8, increment: 1 }
              ]),
              [Option.some(4), Option.some(255), Option.none(), Option.some(-1)]
            )
            assert.deepStrictEqual(yield* redis.getBytes(k("f")), Option.some(Uint8Array.from([255, 255, 255])))
            assert.deepStrictEqual(
              yield* redis.bitfieldRo(k("f"), [{ encoding: "u4", offset: 0 }, { encoding: "i24", offset: 0 }]),
              [15, -1]
            )
            assert.deepStrictEqual(yield* redis.bitfieldRo(k("missing"), [{ encoding: "u8", offset: "#3" }]), [0])
            assert.deepStrictEqual(yield* redis.bitfield(k("empty"), []), [])
          }))

        it.effect("refused bitmap commands fail with InvalidArgument/NotSent before anything is sent", () =>
          Effect.gen(function*() {
            const redis = yield* Redis.Redis
            const k = keys(protocol)
            yield* expectRefused("setbit", [redis.setbit(k("b"), -1, 1), redis.setbit(k("b"), 0, 2 as 0)])
            yield* expectRefused("getbit", [redis.getbit(k("b"), 1.5)])
            yield* expectRefused("bitcount", [redis.bitcount(k("b"), { start: 0 }), redis.bitcount(k("b"), { start: 0.5, end: 1 })])
            yield* expectRefused("bitpos", [redis.bitpos(k("b"), 1, { start: 0, unit: "BIT" }), redis.bitpos(k("b"), 3 as 1)])
            yield* expectRefused("bitop", [redis.bitop("AND", k("d"), []), redis.bitop("NOT", k("d"), [k("a"), k("b")])])
            yield* expectRefused("bitfield", [
              redis.bitfield(k("f"), [{ op: "GET", encoding: "x8" as "u8", offset: 0 }]),
              redis.bitfield(k("f"), [{ op: "SET", encoding: "u8", offset: -8, value: 1 }]),
              redis.bitfield(k("f"), [{ op: "INCRBY", encoding: "u8", offset: 0, increment: 0.5 }])
            ])
            yield* expectRefused("bitfield_ro", [redis.bitfieldRo(k("f"), [])])
          }))
      })

      describe("HyperLogLog", () => {
        it.effect("PFADD, PFCOUNT over one and several keys, and PFMERGE", () =>
          Effect.gen(function*() {
            const redis = yield* Redis.Redis
            const k = keys(protocol)
            assert.isTrue(yield* redis.pfadd(k("a"), ["x", "y", "z"]))
            assert.isFalse(yield* redis.pfadd(k("a"), ["x", "y"]))
            assert.strictEqual(yield* redis.pfcount(k("a")), 3)
            assert.isTrue(yield* redis.pfadd(k("b"), "w"))
            assert.isTrue(yield* redis.pfadd(k("b"), ["x", ALL_BYTES]))
            assert.strictEqual(yield* redis.pfcount([k("a"), k("b")]), 5)
            assert.strictEqual(yield* redis.pfcount(k("missing")), 0)
            // No elements: only creates the key, and says so once.
            assert.isTrue(yield* redis.pfadd(k("empty")))
            assert.isFalse(yield* redis.pfadd(k("empty")))
            assert.strictEqual(yield* redis.pfcount(k("empty")), 0)
            yield* redis.pfmerge(k("m"), [k("a"), k("b"), k("empty")])
            assert.strictEqual(yield* redis.pfcount(k("m")), 5)
            yield* redis.pfmerge(k("m2"), [])
            assert.strictEqual(yield* redis.exists(k("m2")), 1)
            // A plain string is not a HyperLogLog: the server refuses it.
            yield* redis.set(k("s"), "str")
            const error = yield* Effect.flip(redis.pfadd(k("s"), "x"))
            assert.strictEqual(error.reason._tag, "ReplyError")
            assert.strictEqual(error.outcome, "Rejected")
          }))

        it.effect("PFCOUNT estimates 10 000 distinct elements within 2%", () =>
          Effect.gen(function*() {
            const redis = yield* Redis.Redis
            const k = keys(protocol)
            for (let batch = 0; batch < 10; batch++) {
              yield* redis.pfadd(k("h"), Array.from({ length: 1000 }, (_, i) => `e${batch * 1000 + i}`))
            }
            const n = yield* redis.pfcount(k("h"))
            assert.isTrue(Math.abs(n - 10_000) < 200, `estimate ${n}`)
          }))

        it.effect("refused HyperLogLog commands fail with InvalidArgument/NotSent before anything is sent", () =>
          Effect.gen(function*() {
            const redis = yield* Redis.Redis
            yield* expectRefused("pfcount", [redis.pfcount([])])
          }))
      })

      describe("geo", () => {
        it.effect("GEOADD with NX, XX and CH; GEODIST in every unit; None for a missing member", () =>
          Effect.gen(function*() {
            const redis = yield* Redis.Redis
            const k = keys(protocol)
            assert.strictEqual(yield* redis.geoadd(k("g"), [PALERMO, CATANIA]), 2)
            assert.strictEqual(yield* redis.geoadd(k("g"), PALERMO), 0)
            assert.strictEqual(yield* redis.geoadd(k("g"), { ...PALERMO, longitude: 13.4 }, { nx: true, ch: true }), 0)
            assert.strictEqual(yield* redis.geoadd(k("g"), { ...PALERMO, longitude: 13.4 }, { xx: true, ch: true }), 1)
            assert.strictEqual(yield* redis.geoadd(k("g"), { ...PALERMO, member: "Nowhere" }, { xx: true }), 0)
            yield* redis.geoadd(k("g"), PALERMO)
            const meters = yield* redis.geodist(k("g"), "Palermo", "Catania")
            near(Option.getOrUndefined(meters), 166274.1516)
            near(Option.getOrUndefined(yield* redis.geodist(k("g"), "Palermo", "Catania", "km")), 166.2742)
            near(Option.getOrUndefined(yield* redis.geodist(k("g"), "Palermo", "Catania", "mi")), 103.3182)
            near(Option.getOrUndefined(yield* redis.geodist(k("g"), "Palermo", "Catania", "ft")), 545518.87, 1e-3)
            assert.deepStrictEqual(yield* redis.geodist(k("g"), "Palermo", "Nowhere"), Option.none())
            assert.deepStrictEqual(yield* redis.geodist(k("missing"), "Palermo", "Catania"), Option.none())
          }))

        it.effect("GEOHASH and GEOPOS, None for missing members", () =>
          Effect.gen(function*() {
            const redis = yield* Redis.Redis
            const k = keys(protocol)
            yield* redis.geoadd(k("g"), [PALERMO, CATANIA])
            assert.deepStrictEqual(
              yield* redis.geohash(k("g"), ["Palermo", "Nowhere", "Catania"]),
              [Option.some("sqc8b49rny0"), Option.none(), Option.some("sqdtr74hyu0")]
            )
            const [palermo, nowhere, catania] = yield* redis.geopos(k("g"), ["Palermo", "Nowhere", "Catania"])
            near(Option.getOrThrow(palermo).longitude, PALERMO.longitude)
            near(Option.getOrThrow(palermo).latitude, PALERMO.latitude)
            assert.deepStrictEqual(nowhere, Option.none())
            near(Option.getOrThrow(catania).longitude, CATANIA.longitude)
            assert.deepStrictEqual(yield* redis.geopos(k("missing"), "Palermo"), [Option.none()])
          }))

        it.effect("GEOSEARCH by radius and box, from a member or coordinates, with ORDER, COUNT and ANY", () =>
          Effect.gen(function*() {
            const redis = yield* Redis.Redis
            const k = keys(protocol)
            yield* redis.geoadd(k("g"), [PALERMO, CATANIA, { member: "edge1", longitude: 12.758489, latitude: 38.788135 }])
            const from = { longitude: 15, latitude: 37 }
            assert.deepStrictEqual(
              yield* redis.geosearch(k("g"), from, { radius: 200, unit: "km" }, { order: "ASC" }),
              ["Catania", "Palermo"]
            )
            assert.deepStrictEqual(
              yield* redis.geosearch(k("g"), from, { radius: 200, unit: "km" }, { order: "DESC", count: 1 }),
              ["Palermo"]
            )
            const any = yield* redis.geosearch(k("g"), from, { radius: 500, unit: "km" }, { count: 2, any: true })
            assert.strictEqual(any.length, 2)
            assert.deepStrictEqual(
              yield* redis.geosearch(k("g"), { member: "Palermo" }, { width: 400, height: 400, unit: "km" }, { order: "ASC" }),
              ["Palermo", "edge1", "Catania"]
            )
            assert.deepStrictEqual(yield* redis.geosearch(k("g"), from, { radius: 1, unit: "m" }), [])
            const missing = yield* Effect.flip(redis.geosearch(k("g"), { member: "Nowhere" }, { radius: 1, unit: "km" }))
            assert.strictEqual(missing.reason._tag, "ReplyError")
          }))

        it.effect("GEOSEARCH WITHDIST, WITHHASH and WITHCOORD, alone and together", () =>
          Effect.gen(function*() {
            const redis = yield* Redis.Redis
            const k = keys(protocol)
            yield* redis.geoadd(k("g"), [PALERMO, CATANIA])
            const from = { longitude: 15, latitude: 37 }
            const by = { radius: 200, unit: "km" } as const
            const all = yield* redis.geosearchWith(k("g"), from, by, { order: "ASC", withCoord: true, withDist: true, withHash: true })
            assert.deepStrictEqual(all.map((r) => r.member), ["Catania", "Palermo"])
            near(all[0].distance, 56.4413)
            near(all[1].distance, 190.4424)
            assert.strictEqual(all[0].hash, 3479447370796909)
            assert.strictEqual(all[1].hash, 3479099956230698)
            near(all[0].coordinates?.longitude, CATANIA.longitude)
            near(all[1].coordinates?.latitude, PALERMO.latitude)
            const dist = yield* redis.geosearchWith(k("g"), from, by, { order: "ASC", withDist: true })
            assert.deepStrictEqual(Object.keys(dist[0]).sort(), ["distance", "member"])
            near(dist[1].distance, 190.4424)
            const coord = yield* redis.geosearchWith(k("g"), from, by, { order: "DESC", withCoord: true, count: 1 })
            assert.strictEqual(coord.length, 1)
            assert.strictEqual(coord[0].member, "Palermo")
            near(coord[0].coordinates?.longitude, PALERMO.longitude)
            const hash = yield* redis.geosearchWith(k("g"), { member: "Palermo" }, { radius: 1, unit: "km" }, { withHash: true })
            assert.deepStrictEqual(hash, [{ member: "Palermo", hash: 3479099956230698 }])
            const none = yield* redis.geosearchWith(k("g"), from, by, { order: "ASC" })
            assert.deepStrictEqual(none, [{ member: "Catania" }, { member: "Palermo" }])
          }))

        it.effect("GEOSEARCHSTORE (with STOREDIST), GEORADIUS_RO and GEORADIUSBYMEMBER_RO", () =>
          Effect.gen(function*() {
            const redis = yield* Redis.Redis
            const k = keys(protocol)
            yield* redis.geoadd(k("g"), [PALERMO, CATANIA])
            const from = { longitude: 15, latitude: 37 }
            assert.strictEqual(yield* redis.geosearchstore(k("d"), k("g"), from, { radius: 100, unit: "km" }), 1)
            assert.deepStrictEqual(yield* redis.zrange(k("d"), 0, -1), ["Catania"])
            assert.strictEqual(
              yield* redis.geosearchstore(k("dist"), k("g"), from, { radius: 200, unit: "km" }, { storeDist: true, order: "ASC" }),
              2
            )
            near(Option.getOrUndefined(yield* redis.zscore(k("dist"), "Palermo")), 190.4424)
            const ro = yield* redis.georadiusRo(k("g"), from, 200, "km", { withDist: true, order: "DESC" })
            assert.deepStrictEqual(ro.map((r) => r.member), ["Palermo", "Catania"])
            near(ro[0].distance, 190.4424)
            assert.deepStrictEqual(yield* redis.georadiusRo(k("g"), from, 100, "km"), [{ member: "Catania" }])
            const byMember = yield* redis.georadiusbymemberRo(k("g"), "Palermo", 200, "km", { withCoord: true, order: "ASC", count: 5 })
            assert.deepStrictEqual(byMember.map((r) => r.member), ["Palermo", "Catania"])
            near(byMember[1].coordinates?.latitude, CATANIA.latitude)
          }))

        it.effect("binary members: every byte value 0..255 as a geo member", () =>
          Effect.gen(function*() {
            const redis = yield* Redis.Redis
            const k = keys(protocol)
            yield* redis.geoadd(k("g"), [{ ...PALERMO, member: ALL_BYTES }, { ...CATANIA, member: bytes("catania") }])
            const [pos] = yield* redis.geopos(k("g"), ALL_BYTES)
            near(Option.getOrThrow(pos).latitude, PALERMO.latitude)
            near(Option.getOrUndefined(yield* redis.geodist(k("g"), ALL_BYTES, "catania", "km")), 166.2742)
            assert.deepStrictEqual(yield* redis.zrangeBytes(k("g"), 0, 0), [ALL_BYTES])
          }))

        it.effect("refused geo commands fail with InvalidArgument/NotSent before anything is sent", () =>
          Effect.gen(function*() {
            const redis = yield* Redis.Redis
            const k = keys(protocol)
            yield* expectRefused("geoadd", [
              redis.geoadd(k("g"), []),
              redis.geoadd(k("g"), { ...PALERMO, longitude: NaN }),
              redis.geoadd(k("g"), PALERMO, { nx: true, xx: true })
            ])
            yield* expectRefused("geohash", [redis.geohash(k("g"), [])])
            yield* expectRefused("geopos", [redis.geopos(k("g"), [])])
            yield* expectRefused("geosearch", [
              redis.geosearch(k("g"), { member: "a" }, { radius: -1, unit: "km" }),
              redis.geosearch(k("g"), { longitude: Infinity, latitude: 0 }, { radius: 1, unit: "km" }),
              redis.geosearch(k("g"), { member: "a" }, { width: 1, height: NaN, unit: "km" }),
              redis.geosearch(k("g"), { member: "a" }, { radius: 1, unit: "km" }, { any: true }),
              redis.geosearchWith(k("g"), { member: "a" }, { radius: 1, unit: "km" }, { count: 0, withDist: true })
            ])
            yield* expectRefused("geosearchstore", [redis.geosearchstore(k("d"), k("g"), { member: "a" }, { radius: -1, unit: "m" })])
            yield* expectRefused("georadius_ro", [redis.georadiusRo(k("g"), PALERMO, -5, "km")])
            yield* expectRefused("georadiusbymember_ro", [redis.georadiusbymemberRo(k("g"), "a", 1, "km", { any: true })])
          }))
      })
    })
  }
})
