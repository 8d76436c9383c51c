/**
 * `Typed` without a server: codecs round-trip values through their wire
 * form, typed commands carry the same argv/keys/flags as the untyped ones,
 * replies decode in their RESP2 and RESP3 shapes, a value that does not
 * decode throws the `DecodeError` RedisError (naming the key and the schema
 * issue, carrying the raw value), and a value that does not encode makes an
 * invalid command (nothing sent).
 */
import { assert, describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Option from "effect/Option"
import * as Schema from "effect/Schema"
import * as Stream from "effect/Stream"
import * as Commands from "../src/Commands.ts"
import type { Message } from "../src/PubSub.ts"
import * as RedisError from "../src/RedisError.ts"
import { RespMap } from "../src/Resp.ts"
import * as Typed from "../src/Typed.ts"

const User = Schema.Struct({ name: Schema.String, age: Schema.Int, joined: Schema.Date })
const users = Typed.json(User)

const Profile = Schema.Struct({ name: Schema.String, age: Schema.FiniteFromString, nick: Schema.optional(Schema.String) })
const profiles = Typed.hash(Profile)

const Reading = Schema.Struct({ sensor: Schema.String, celsius: Schema.FiniteFromString })
const readings = Typed.stream(Reading)

/** The error a decoder throws, or fails the test. */
const thrown = (f: () => unknown): RedisError.RedisError => {
  try {
    f()
  } catch (e) {
    if (RedisError.isRedisError(e)) return e
    throw e
  }
  throw new Error("expected the decoder to throw")
}

describe("Typed.json", () => {
  it("get/set carry the same argv, keys and flags as GET/SET", () => {
    const ada = { name: "ada", age: 36, joined: new Date("2020-01-02T03:04:05.000Z") }
    const set = users.set("user:1", ada, { ex: 60 })
    assert.deepStrictEqual(set.args, ["SET", "user:1", "{\"name\":\"ada\",\"age\":36,\"joined\":\"2020-01-02T03:04:05.000Z\"}", "EX", 60])
    assert.strictEqual(set.flags, Commands.set("k", "v", { ex: 60 }).flags)
    const get = users.get("user:1")
    assert.deepStrictEqual(get.args, ["GET", "user:1"])
    assert.deepStrictEqual(get.keys, ["user:1"])
    assert.strictEqual(get.flags, Commands.get("k").flags)
    assert.deepStrictEqual(get.decode(set.args[2]), Option.some(ada))
    assert.deepStrictEqual(get.decode(null), Option.none())
  })

  it.prop("encode then decode gives the value back", [Schema.Struct({ name: Schema.String, age: Schema.Int })], ([v]) => {
    const codec = Typed.json(Schema.Struct({ name: Schema.String, age: Schema.Int }))
    const wire = codec.set("k", v).args[2]
    // -0 is written as "0": compare with +0.
    assert.deepStrictEqual(codec.get("k").decode(wire), Option.some({ ...v, age: v.age + 0 }))
  })

  it("a value that does not decode throws DecodeError naming the key and the issue, with the raw reply", () => {
    const raw = "{\"name\":\"ada\",\"age\":\"old\",\"joined\":\"2020-01-02T03:04:05.000Z\"}"
    const error = thrown(() => users.get("user:1").decode(raw))
    assert.strictEqual(error.reason._tag, "DecodeError")
    assert.strictEqual(error.outcome, "Unknown")
    assert.strictEqual(error.command, "GET")
    assert.isFalse(error.isRetryable)
    const reason = error.reason as RedisError.DecodeError
    assert.strictEqual(reason.key, "user:1")
    assert.strictEqual(reason.raw, raw)
    assert.include(reason.message, "\"user:1\"")
    assert.include(reason.message, "Expected number")
    assert.include(reason.message, "age")
    // Not JSON at all is the same reason.
    assert.strictEqual((thrown(() => users.get("k").decode("not json")).reason as RedisError.DecodeError).raw, "not json")
  })

  it("mget names the key whose value did not decode", () => {
    const counts = Typed.string(Schema.FiniteFromString)
    const cmd = counts.mget(["a", "b", "c"])
    assert.deepStrictEqual(cmd.args, ["MGET", "a", "b", "c"])
    assert.deepStrictEqual(cmd.keys, ["a", "b", "c"])
    assert.deepStrictEqual(cmd.decode(["1", null, "2.5"]), [Option.some(1), Option.none(), Option.some(2.5)])
    const reason = thrown(() => cmd.decode(["1", "x", "y"])).reason as RedisError.DecodeError
    assert.strictEqual(reason.key, "b")
    assert.strictEqual(reason.raw, "x")
    assert.isDefined(counts.mget([]).invalid)
  })

  it("a value that does not encode makes an invalid command: nothing is sent", () => {
    const bad = users.set("user:1", { name: "ada", age: 1.5, joined: new Date(0) })
    assert.include(bad.invalid ?? "", "\"user:1\"")
    assert.include(bad.invalid ?? "", "int")
  })
})

describe("Typed.hash", () => {
  const raw = { name: "ada", age: "36" }

  it("hgetall decodes RESP2 arrays and RESP3 maps through the struct's fields", () => {
    const cmd = profiles.hgetall("p:1")
    assert.deepStrictEqual(cmd.args, ["HGETALL", "p:1"])
    assert.deepStrictEqual(cmd.keys, ["p:1"])
    assert.strictEqual(cmd.flags, Commands.hgetall("k").flags)
    const want = Option.some({ name: "ada", age: 36 })
    assert.deepStrictEqual(cmd.decode(["name", "ada", "age", "36"]), want)
    assert.deepStrictEqual(cmd.decode(new RespMap(["name", "ada", "age", "36"])), want)
    assert.deepStrictEqual(
      cmd.decode(new RespMap(["name", "ada", "age", "36", "nick", "a"])),
      Option.some({ name: "ada", age: 36, nick: "a" })
    )
    // A missing key is an empty hash: no value, in both shapes.
    assert.deepStrictEqual(cmd.decode([]), Option.none())
    assert.deepStrictEqual(cmd.decode(new RespMap([])), Option.none())
  })

  it("hset encodes every field", () => {
    const cmd = profiles.hset("p:1", { name: "ada", age: 36 })
    assert.deepStrictEqual(cmd.args, ["HSET", "p:1", "name", "ada", "age", "36"])
    assert.strictEqual(cmd.flags, Commands.hset("k", raw).flags)
  })

  it.prop("hset then hgetall (as RESP3) gives the value back", [Schema.Struct({ name: Schema.String, age: Schema.Int })], ([v]) => {
    const args = profiles.hset("k", v).args.slice(2)
    assert.deepStrictEqual(profiles.hgetall("k").decode(new RespMap(args)), Option.some({ ...v, age: v.age + 0 }))
  })

  it("a field that does not decode names the key and the field, with the raw field map", () => {
    const reason = thrown(() => profiles.hgetall("p:1").decode(["name", "ada", "age", "old"])).reason as RedisError.DecodeError
    assert.strictEqual(reason._tag, "DecodeError")
    assert.strictEqual(reason.key, "p:1")
    assert.deepStrictEqual(reason.raw, { name: "ada", age: "old" })
    assert.include(reason.message, "\"p:1\"")
    assert.include(reason.message, "age")
    const missing = thrown(() => profiles.hgetall("p:1").decode(["name", "ada"])).reason
    assert.include(missing.message, "age")
  })
})

describe("Typed.stream", () => {
  it("xadd encodes the fields; xrange and xrevrange decode entries", () => {
    const add = readings.xadd("s", { sensor: "t1", celsius: 21.5 }, { id: "1-1" })
    assert.deepStrictEqual(add.args, ["XADD", "s", "1-1", "sensor", "t1", "celsius", "21.5"])
    assert.deepStrictEqual(add.keys, ["s"])
    const range = readings.xrange("s", "-", "+", { count: 10 })
    assert.deepStrictEqual(range.args, Commands.xrange("s", "-", "+", { count: 10 }).args)
    const reply = [["1-1", ["sensor", "t1", "celsius", "21.5"]], ["1-2", new RespMap(["sensor", "t2", "celsius", "-3"])]]
    const want = [{ id: "1-1", value: { sensor: "t1", celsius: 21.5 } }, { id: "1-2", value: { sensor: "t2", celsius: -3 } }]
    assert.deepStrictEqual(range.decode(reply), want)
    assert.deepStrictEqual(readings.xrevrange("s").decode(reply), want)
  })

  it("an entry that does not decode names the key and the entry id", () => {
    const error = thrown(() => readings.xrange("s").decode([["1-1", ["sensor", "t1", "celsius", "warm"]]]))
    const reason = error.reason as RedisError.DecodeError
    assert.strictEqual(error.command, "XRANGE")
    assert.strictEqual(reason.key, "s")
    assert.include(reason.message, "1-1")
    assert.deepStrictEqual(reason.raw, { sensor: "t1", celsius: "warm" })
    const exit = readings.decodeEntries("s", [{ id: "2-0", fields: { sensor: "x" } }])
    assert.isTrue(Exit.isFailure(exit))
  })
})

describe("Typed.messages", () => {
  const message = (channel: string, payload: string): Message => ({ kind: "channel", channel, pattern: undefined, payload })

  it.effect("decodes payloads, then fails with DecodeError naming the channel", () =>
    Effect.gen(function*() {
      const counts = Typed.string(Schema.FiniteFromString)
      const ok = yield* Stream.fromIterable([message("c", "1"), message("c", "2")]).pipe(Typed.messages(counts), Stream.runCollect)
      assert.deepStrictEqual(Array.from(ok).map((m) => m.value), [1, 2])
      const error = yield* Stream.fromIterable([message("c", "1"), message("c", "x")]).pipe(
        Typed.messages(counts),
        Stream.runCollect,
        Effect.flip
      )
      assert.strictEqual(error.reason._tag, "DecodeError")
      const reason = error.reason as RedisError.DecodeError
      assert.strictEqual(reason.key, "c")
      assert.strictEqual(reason.raw, "x")
    }))
})
