/**
 * The pure parts behind `EffectRedis`: RESP2-shaped replies
 * (`internal/resp2Shape.ts`), words to commands and the cluster SCAN
 * cursor (`internal/effectSend.ts`), and slot safety of Effect's stores
 * (`EffectStores`): hash tags of prefixes, which store a script belongs
 * to, and the typed error that says how to fix a cross-slot store.
 */
import { assert, describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Cluster from "../src/cluster/Cluster.ts"
import * as ClusterSlot from "../src/cluster/ClusterSlot.ts"
import { Flags } from "../src/Command.ts"
import * as EffectStores from "../src/EffectStores.ts"
import { commandOf, nextCursor, parseCursor, patternTag } from "../src/internal/effectSend.ts"
import * as Resp2 from "../src/internal/resp2Shape.ts"
import * as RedisError from "../src/RedisError.ts"
import { RespMap, RespSet } from "../src/Resp.ts"

describe("resp2Shape", () => {
  it("maps become flat arrays, sets arrays, at any depth", () => {
    const reply = new RespMap(["a", new RespSet(["x", "y"]), "b", [new RespMap(["k", "v"])]])
    assert.deepStrictEqual(Resp2.plain(reply), ["a", ["x", "y"], "b", [["k", "v"]]])
  })

  it("booleans become what Lua's become in RESP2: true -> 1, false -> null", () => {
    assert.deepStrictEqual(Resp2.plain([true, false, 1, "x", null]), [1, null, 1, "x", null])
  })

  it("a RESP2 reply passes unchanged (the same array when nothing changes)", () => {
    const reply = ["0", ["a", "b"]]
    assert.strictEqual(Resp2.plain(reply), reply)
    assert.strictEqual(Resp2.plain("OK"), "OK")
    assert.strictEqual(Resp2.plain(3), 3)
  })

  it("doubles become their text, infinities as the server writes them", () => {
    assert.strictEqual(Resp2.doubles(1.5), "1.5")
    assert.deepStrictEqual(Resp2.doubles([1.5, null, Infinity, -Infinity]), ["1.5", null, "inf", "-inf"])
    assert.deepStrictEqual(Resp2.doubles(["z", "a", 2.5]), ["z", "a", "2.5"])
    assert.deepStrictEqual(Resp2.doubles(["z", [["a", 1.5]]]), ["z", [["a", "1.5"]]])
  })

  it("nested pairs are flattened with scores as text; flat ones are kept", () => {
    assert.deepStrictEqual(Resp2.flatPairs([["a", 1.5], ["b", 2]]), ["a", "1.5", "b", "2"])
    assert.deepStrictEqual(Resp2.flatPairs(["a", 1.5]), ["a", "1.5"])
    assert.deepStrictEqual(Resp2.flatPairs(["a", "1.5", "b", "2"]), ["a", "1.5", "b", "2"])
    assert.deepStrictEqual(Resp2.flatPairs([]), [])
  })

  it("coordinates become text, a geohash stays an integer", () => {
    assert.deepStrictEqual(Resp2.geo([[13.5, 38.25], null]), [["13.5", "38.25"], null])
    assert.deepStrictEqual(
      Resp2.geo([["Palermo", "190.4424", 3479099956230698, [13.5, 38.25]]]),
      [["Palermo", "190.4424", 3479099956230698, ["13.5", "38.25"]]]
    )
  })

  it("XREAD's map of streams becomes [[stream, entries], ...]", () => {
    const entries = [["1-0", ["f", "v"]]]
    assert.deepStrictEqual(Resp2.streams(new RespMap(["s1", entries, "s2", []])), [["s1", entries], ["s2", []]])
    assert.deepStrictEqual(Resp2.streams([["s1", entries]]), [["s1", entries]])
    assert.strictEqual(Resp2.streams(null), null)
  })

  it("the decoder follows the command's words", () => {
    assert.strictEqual(Resp2.decoderFor("ZSCORE", ["ZSCORE", "z", "a"]), Resp2.doubles)
    assert.strictEqual(Resp2.decoderFor("ZRANGE", ["ZRANGE", "z", "0", "-1", "withscores"]), Resp2.flatPairs)
    assert.strictEqual(Resp2.decoderFor("ZRANGE", ["ZRANGE", "z", "0", "-1"]), Resp2.plain)
    assert.strictEqual(Resp2.decoderFor("ZADD", ["ZADD", "z", "INCR", "1", "a"]), Resp2.doubles)
    assert.strictEqual(Resp2.decoderFor("ZADD", ["ZADD", "z", "1", "a"]), Resp2.plain)
    assert.strictEqual(Resp2.decoderFor("ZPOPMIN", ["ZPOPMIN", "z"]), Resp2.flatPairs)
    assert.strictEqual(Resp2.decoderFor("HRANDFIELD", ["HRANDFIELD", "h", "2", "WITHVALUES"]), Resp2.flatPairs)
    assert.strictEqual(Resp2.decoderFor("GEOPOS", ["GEOPOS", "g", "m"]), Resp2.geo)
    assert.strictEqual(Resp2.decoderFor("XREADGROUP", ["XREADGROUP"]), Resp2.streams)
    assert.strictEqual(Resp2.decoderFor("GET", ["GET", "k"]), Resp2.plain)
  })
})

describe("effectSend", () => {
  it("commandOf: upper-case name, the argv as given, keys and flags from the words", () => {
    const c = commandOf(["evalsha", "abc", "2", "k1", "k2", "x"])
    assert.strictEqual(c.name, "EVALSHA")
    assert.deepStrictEqual(c.args, ["evalsha", "abc", "2", "k1", "k2", "x"])
    assert.deepStrictEqual(c.keys, ["k1", "k2"])
    assert.strictEqual(c.flags, 0)
    assert.strictEqual(commandOf(["BLPOP", "q", "0"]).flags & Flags.BLOCKING, Flags.BLOCKING)
    assert.deepStrictEqual(commandOf(["NOTACOMMAND", "x"]).keys, [])
    assert.strictEqual(commandOf(["NOTACOMMAND", "x"]).flags & Flags.NO_KEYS, 0)
    // known to have no key: any node may run it, nobody asks the server
    assert.strictEqual(commandOf(["EVALSHA", "abc", "0"]).flags & Flags.NO_KEYS, Flags.NO_KEYS)
  })

  it("patternTag: the routing key of a pattern whose literal start fixes a tag", () => {
    assert.strictEqual(patternTag("{effectq}:*:ids"), "{effectq}")
    assert.strictEqual(patternTag("app:{users}:*"), "app:{users}")
    assert.strictEqual(patternTag("{users}"), "{users}")
    assert.strictEqual(patternTag("*{users}:*"), undefined)
    assert.strictEqual(patternTag("{us*ers}:x"), undefined)
    assert.strictEqual(patternTag("{}:*"), undefined)
    assert.strictEqual(patternTag("effectq:*"), undefined)
    assert.strictEqual(patternTag("\\{a}*"), undefined)
    // every key the pattern matches hashes like the routing key
    assert.strictEqual(ClusterSlot.keyslot("{effectq}:q1:ids"), ClusterSlot.keyslot(patternTag("{effectq}:*:ids")!))
  })

  it("the cluster SCAN cursor walks primaries in order and ends at 0", () => {
    assert.deepStrictEqual(parseCursor("0", 3), { node: 0, cursor: "0" })
    assert.deepStrictEqual(parseCursor("1:17", 3), { node: 1, cursor: "17" })
    assert.strictEqual(parseCursor("3:0", 3), undefined)
    assert.strictEqual(parseCursor("17", 3), undefined)
    assert.strictEqual(nextCursor(0, "42", 3), "0:42")
    assert.strictEqual(nextCursor(0, "0", 3), "1:0")
    assert.strictEqual(nextCursor(2, "0", 3), "0")
    assert.strictEqual(nextCursor(0, "0", 1), "0")
  })
})

// The local names of Effect's scripts (effect/persistence) that identify a store.
const TOKEN_BUCKET_LUA = `local key = KEYS[1]\nlocal last_refill_key = KEYS[2]`
const SET_MANY_LUA = `local num_sets = tonumber(ARGV[1])\nlocal num_expires = tonumber(ARGV[2])`
const QUEUE_LUA = `local key_queue = KEYS[1]\nlocal key_ids = KEYS[2]`
const EXPIRE_ALL_LUA = `local ttl = ARGV[1]\n-- a lapsed lock can be recreated only while the claim has not been recovered`

describe("EffectStores", () => {
  it("hashTagOf follows the server: first {, first } after it, not empty, inside the prefix", () => {
    assert.strictEqual(EffectStores.hashTagOf("{effectq}:"), "effectq")
    assert.strictEqual(EffectStores.hashTagOf("app:{rl}:"), "rl")
    assert.strictEqual(EffectStores.hashTagOf("{}:"), undefined)
    assert.strictEqual(EffectStores.hashTagOf("app:{"), undefined)
    assert.strictEqual(EffectStores.hashTagOf("ratelimiter:"), undefined)
  })

  it("isSlotSafe: multi-key stores need a tag, single-key ones never do", () => {
    assert.isTrue(EffectStores.isSlotSafe("PersistedQueue", "{effectq}:"))
    assert.isFalse(EffectStores.isSlotSafe("PersistedQueue", "effectq:"))
    assert.isFalse(EffectStores.isSlotSafe("RateLimiter", "ratelimiter:"))
    assert.isTrue(EffectStores.isSlotSafe("Persistence", "{users}"))
    assert.isTrue(EffectStores.isSlotSafe("CircuitBreaker", "circuitbreaker:"))
    assert.isTrue(EffectStores.isSlotSafe("KeyValueStore", "kv:"))
    for (const store of ["RateLimiter", "PersistedQueue", "Persistence", "CircuitBreaker", "KeyValueStore"] as const) {
      assert.isTrue(EffectStores.isSlotSafe(store, EffectStores.safeExample[store]), store)
    }
  })

  it("storeOfScript recognises Effect's scripts", () => {
    assert.strictEqual(EffectStores.storeOfScript(TOKEN_BUCKET_LUA), "RateLimiter")
    assert.strictEqual(EffectStores.storeOfScript(SET_MANY_LUA), "Persistence")
    assert.strictEqual(EffectStores.storeOfScript(QUEUE_LUA), "PersistedQueue")
    assert.strictEqual(EffectStores.storeOfScript(EXPIRE_ALL_LUA), "PersistedQueue")
    assert.strictEqual(EffectStores.storeOfScript("return redis.call('GET', KEYS[1])"), undefined)
  })

  it("crossSlot: InvalidArgument, NotSent, naming the slots, the store and the fix", () => {
    const e = EffectStores.crossSlot(["ratelimiter:u1", "ratelimiter:u1:refill"], { lua: TOKEN_BUCKET_LUA, command: "EVALSHA" })
    assert.strictEqual(e.reason._tag, "InvalidArgument")
    assert.strictEqual(e.outcome, "NotSent")
    assert.include(e.message, "RateLimiter keys hash to different slots")
    assert.include(e.message, `"ratelimiter:u1" → ${ClusterSlot.keyslot("ratelimiter:u1")}`)
    assert.include(e.message, `prefix: "{ratelimiter}:"`)
    assert.include(EffectStores.crossSlot(["effectq:q", "effectq:q:ids"], { lua: QUEUE_LUA }).message, `prefix: "{effectq}:"`)
    assert.include(EffectStores.crossSlot(["s:a", "s:b"], { lua: SET_MANY_LUA }).message, `storeId: "{users}"`)
    const generic = EffectStores.crossSlot(["a", "b"], { command: "MSET" })
    assert.include(generic.message, "the keys of MSET hash to different slots")
    assert.include(generic.message, "hash tag")
  })

  it.effect("checkPrefix refuses an unsafe prefix only on a cluster", () =>
    Effect.gen(function*() {
      assert.isTrue(Exit.isSuccess(yield* Effect.exit(EffectStores.checkPrefix("PersistedQueue", "effectq:"))))
      const onCluster = <A, E>(effect: Effect.Effect<A, E>) =>
        Effect.provideService(effect, Cluster.Cluster, {} as Cluster.ClusterShape)
      const refused = yield* Effect.flip(onCluster(EffectStores.checkPrefix("PersistedQueue", "effectq:")))
      assert.isTrue(RedisError.isRedisError(refused))
      assert.strictEqual(refused.reason._tag, "InvalidArgument")
      assert.include(refused.message, `"{effectq}:"`)
      yield* onCluster(EffectStores.checkPrefix("PersistedQueue", "{effectq}:"))
      yield* onCluster(EffectStores.checkPrefix("CircuitBreaker", "cb:"))
    }))
})
