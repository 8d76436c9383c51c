/**
 * `node examples/typed.ts`: values typed with `effect/Schema`, on an
 * embedded redis-server.
 *
 * It starts a throwaway redis-server on a free loopback port (with
 * `@redis-effect/testing`), stores and reads a JSON value, a hash as a
 * struct, stream entries and pub/sub payloads through `Typed` codecs, shows
 * the typed `DecodeError` a bad stored value gives, and stops the server.
 */
import { NodeClient } from "@redis-effect/node"
import { Commands, Redis } from "@redis-effect/redis"
import * as Typed from "@redis-effect/redis/Typed"
import { RedisServer } from "@redis-effect/testing"
import { Console, Effect, Fiber, Option, Schema, Stream } from "effect"

// A JSON value: the schema's JSON form is stored (the Date as an ISO string).
const User = Schema.Struct({ name: Schema.String, age: Schema.Int, joined: Schema.Date })
const users = Typed.json(User)

// A hash as one struct: each field through its own transformation.
const Account = Schema.Struct({ owner: Schema.String, balance: Schema.FiniteFromString })
const accounts = Typed.hash(Account)

// Stream entries: the same kind of struct, one per entry.
const Reading = Schema.Struct({ sensor: Schema.String, celsius: Schema.FiniteFromString })
const readings = Typed.stream(Reading)

const program = Effect.gen(function*() {
  const redis = yield* Redis.Redis

  yield* redis.execute(users.set("user:1", { name: "ada", age: 36, joined: new Date("2020-01-02") }, { ex: 60 }))
  const ada = yield* redis.execute(users.get("user:1"))
  const shown = Option.match(ada, { onNone: () => "none", onSome: (u) => `${u.name}, joined ${u.joined.getFullYear()}` })
  yield* Console.log(`user:1 -> ${shown}`)

  yield* redis.execute(accounts.hset("account:1", { owner: "ada", balance: 100 }))
  yield* redis.execute(Commands.hincrbyfloat("account:1", "balance", -30.5))
  const account = yield* redis.execute(accounts.hgetall("account:1"))
  yield* Console.log(`account:1 balance -> ${Option.map(account, (a) => a.balance.toFixed(2)).pipe(Option.getOrElse(() => "?"))}`)

  yield* redis.execute(readings.xadd("temps", { sensor: "t1", celsius: 21.5 }))
  yield* redis.execute(readings.xadd("temps", { sensor: "t2", celsius: -3 }))
  const entries = yield* redis.execute(readings.xrange("temps"))
  yield* Console.log(`temps -> ${entries.map((e) => `${e.value.sensor}: ${e.value.celsius}°C`).join(", ")}`)

  const received = yield* Effect.forkChild(redis.subscribe("users").pipe(Typed.messages(users), Stream.take(1), Stream.runCollect))
  const wire = users.set("_", { name: "bob", age: 41, joined: new Date("2021-05-06") }).args[2] as string
  while ((yield* redis.publish("users", wire)) === 0) yield* Effect.sleep("10 millis")
  const [message] = yield* Fiber.join(received)
  yield* Console.log(`message on ${message.channel} -> ${message.value.name}, ${message.value.age}`)

  // A value written by someone else that does not fit the schema.
  yield* redis.set("user:2", "{\"name\":\"eve\",\"age\":\"unknown\"}")
  const error = yield* Effect.flip(redis.execute(users.get("user:2")))
  yield* Console.log(`user:2 -> ${error.reason._tag} [${error.outcome}]: ${error.reason.message}`)
  if (error.reason._tag === "DecodeError") yield* Console.log(`raw value kept: ${String(error.reason.raw)}`)
})

const main = Effect.scoped(Effect.gen(function*() {
  const server = yield* RedisServer.make()
  yield* program.pipe(Effect.provide(NodeClient.layer({ host: "127.0.0.1", port: server.port, clientName: "typed" })))
}))

Effect.runPromise(main).then(
  () => process.exit(0),
  (error) => {
    console.error(error)
    process.exit(1)
  }
)
