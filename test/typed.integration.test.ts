/**
 * `Typed` against a real redis-server: a JSON value through SET/GET/MGET, a
 * hash read and written as one struct (in RESP3 and in RESP2), stream
 * entries through XADD/XRANGE, pub/sub payloads decoded from a
 * subscription, typed commands inside a pipeline and a transaction, and a
 * stored value that does not decode failing with the typed `DecodeError`
 * (naming the key, carrying the raw value) while the connection keeps
 * serving.
 */
import { assert, describe, it } from "@effect/vitest"
import * as NodeTransport from "@redis-effect/node/NodeTransport"
import * as Commands from "@redis-effect/redis/Commands"
import type * as RedisError from "@redis-effect/redis/RedisError"
import * as Standalone from "@redis-effect/redis/Standalone"
import * as Typed from "@redis-effect/redis/Typed"
import * as RedisServer from "@redis-effect/testing/RedisServer"
import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"
import * as Option from "effect/Option"
import * as Schema from "effect/Schema"
import * as Stream from "effect/Stream"

const User = Schema.Struct({ name: Schema.String, age: Schema.Int, joined: Schema.Date })
const users = Typed.json(User)
const ada = { name: "ada", age: 36, joined: new Date("2020-01-02T03:04:05.000Z") }

const Profile = Schema.Struct({ name: Schema.String, visits: Schema.FiniteFromString, nick: Schema.optional(Schema.String) })
const profiles = Typed.hash(Profile)

const Reading = Schema.Struct({ sensor: Schema.String, celsius: Schema.FiniteFromString })
const readings = Typed.stream(Reading)

const client = (port: number, protocol?: 2 | 3) =>
  Standalone.make(protocol === undefined ? { port } : { port, protocol }).pipe(Effect.provide(NodeTransport.layer))

describe("Typed against redis-server", () => {
  it.effect("JSON values: set, get, mget, a missing key, in a pipeline and a transaction", () =>
    Effect.gen(function*() {
      const server = yield* RedisServer.make()
      const redis = yield* client(server.port)
      assert.isTrue(yield* redis.execute(users.set("user:1", ada, { ex: 60 })))
      assert.deepStrictEqual(yield* redis.execute(users.get("user:1")), Option.some(ada))
      assert.deepStrictEqual(yield* redis.execute(users.get("user:404")), Option.none())
      assert.deepStrictEqual(yield* redis.execute(users.mget(["user:404", "user:1"])), [Option.none(), Option.some(ada)])
      const [, read] = yield* redis.pipeline([users.set("user:2", { ...ada, name: "bob" }), users.get("user:2")])
      assert.deepStrictEqual(read, Option.some({ ...ada, name: "bob" }))
      const [, inTx] = yield* redis.transaction([users.set("user:3", ada), users.get("user:3")])
      assert.deepStrictEqual(inTx, Option.some(ada))
    }).pipe(Effect.scoped))

  for (const protocol of [3, 2] as const) {
    it.effect(`hashes as structs (RESP${protocol})`, () =>
      Effect.gen(function*() {
        const server = yield* RedisServer.make()
        const redis = yield* client(server.port, protocol)
        assert.strictEqual(yield* redis.execute(profiles.hset("p:1", { name: "ada", visits: 3 })), 2)
        assert.deepStrictEqual(yield* redis.execute(profiles.hgetall("p:1")), Option.some({ name: "ada", visits: 3 }))
        yield* redis.execute(Commands.hset("p:1", "nick", "a"))
        assert.deepStrictEqual(
          yield* redis.execute(profiles.hgetall("p:1")),
          Option.some({ name: "ada", visits: 3, nick: "a" })
        )
        assert.deepStrictEqual(yield* redis.execute(profiles.hgetall("p:404")), Option.none())
      }).pipe(Effect.scoped))
  }

  it.effect("stream entries: xadd then xrange and xrevrange", () =>
    Effect.gen(function*() {
      const server = yield* RedisServer.make()
      const redis = yield* client(server.port)
      const first = yield* redis.execute(readings.xadd("temps", { sensor: "t1", celsius: 21.5 }))
      yield* redis.execute(readings.xadd("temps", { sensor: "t2", celsius: -3 }, { id: "9999999999999-0" }))
      const entries = yield* redis.execute(readings.xrange("temps"))
      assert.deepStrictEqual(entries, [
        { id: first, value: { sensor: "t1", celsius: 21.5 } },
        { id: "9999999999999-0", value: { sensor: "t2", celsius: -3 } }
      ])
      const newest = yield* redis.execute(readings.xrevrange("temps", "+", "-", { count: 1 }))
      assert.deepStrictEqual(newest.map((e) => e.value.sensor), ["t2"])
    }).pipe(Effect.scoped))

  it.live("pub/sub payloads are decoded; a bad payload ends the stream with DecodeError naming the channel", () =>
    Effect.gen(function*() {
      const server = yield* RedisServer.make()
      const redis = yield* client(server.port)
      const fiber = yield* Effect.forkChild(
        redis.subscribe("typed:users").pipe(Typed.messages(users), Stream.runCollect, Effect.flip)
      )
      // Publish until the subscriber is listening, then a good and a bad payload.
      const wire = users.set("x", ada).args[2] as string
      while ((yield* redis.publish("typed:users", wire)) === 0) yield* Effect.sleep("10 millis")
      yield* redis.publish("typed:users", "{not json")
      const error = yield* Fiber.join(fiber)
      assert.strictEqual(error.reason._tag, "DecodeError")
      const reason = error.reason as RedisError.DecodeError
      assert.strictEqual(reason.key, "typed:users")
      assert.strictEqual(reason.raw, "{not json")
    }).pipe(Effect.scoped))

  it.effect("a stored value that does not decode fails with DecodeError, and the connection keeps serving", () =>
    Effect.gen(function*() {
      const server = yield* RedisServer.make()
      const redis = yield* client(server.port)
      yield* redis.execute(Commands.set("user:bad", "{\"name\":\"eve\",\"age\":\"old\"}"))
      const error = yield* Effect.flip(redis.execute(users.get("user:bad")))
      assert.strictEqual(error.reason._tag, "DecodeError")
      assert.strictEqual(error.outcome, "Unknown")
      const reason = error.reason as RedisError.DecodeError
      assert.strictEqual(reason.key, "user:bad")
      assert.strictEqual(reason.raw, "{\"name\":\"eve\",\"age\":\"old\"}")
      assert.include(reason.message, "user:bad")
      assert.include(reason.message, "age")
      yield* redis.execute(Commands.hset("p:bad", { name: "eve", visits: "many" }))
      const hashError = yield* Effect.flip(redis.execute(profiles.hgetall("p:bad")))
      assert.strictEqual(hashError.reason._tag, "DecodeError")
      assert.deepStrictEqual((hashError.reason as RedisError.DecodeError).raw, { name: "eve", visits: "many" })
      // Inside a pipeline only that member fails.
      const exits = yield* redis.pipelineExits([users.get("user:bad"), Commands.ping()])
      assert.strictEqual(exits[0]._tag, "Failure")
      assert.strictEqual(exits[1]._tag, "Success")
      // Inside a transaction too (EXEC ran the whole block; the error says which value).
      const txError = yield* Effect.flip(redis.transaction([Commands.incr("tx:n"), users.get("user:bad")]))
      assert.strictEqual(txError.reason._tag, "DecodeError")
      assert.strictEqual((txError.reason as RedisError.DecodeError).key, "user:bad")
      assert.strictEqual(yield* redis.ping(), "PONG")
    }).pipe(Effect.scoped))
})
