/**
 * `EffectRedis.make` over a fake `Redis` (no server): `send` builds the
 * command from its words and returns RESP2 shapes; errors become Effect's
 * `RedisError` with ours as `cause`; `eval` declares the script's keys and
 * falls back from EVALSHA to EVAL on NOSCRIPT; `reserve` returns a clean
 * connection to its pool and closes one left dirty (a lost reply, changed
 * connection state, a command in flight); `subscribe` feeds a queue and
 * fails it when the subscription fails.
 */
import { assert, describe, it } from "@effect/vitest"
import * as Cause from "effect/Cause"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"
import * as EffectRedisService from "effect/persistence/Redis"
import * as Queue from "effect/Queue"
import * as Stream from "effect/Stream"
import type { Command } from "../src/Command.ts"
import type * as Connection from "../src/Connection.ts"
import * as EffectRedis from "../src/EffectRedis.ts"
import type * as PubSub from "../src/PubSub.ts"
import * as Redis from "../src/Redis.ts"
import * as RedisError from "../src/RedisError.ts"
import { RespMap } from "../src/Resp.ts"

interface Fake {
  readonly sent: Array<Command<unknown>>
  readonly borrows: Array<Exit.Exit<unknown, unknown>>
  reply: (command: Command<unknown>) => Effect.Effect<unknown, RedisError.RedisError>
  messages: Stream.Stream<PubSub.Message, RedisError.RedisError>
}

const fake = (): { readonly redis: Redis.RedisShape; readonly state: Fake } => {
  const state: Fake = {
    sent: [],
    borrows: [],
    reply: () => Effect.succeed("OK"),
    messages: Stream.never
  }
  const execute = <A>(command: Command<A>) =>
    Effect.suspend(() => {
      state.sent.push(command)
      return Effect.map(state.reply(command), (r) => command.decode(r as never))
    })
  const connection = { send: execute } as unknown as Connection.Connection
  const redis = {
    execute,
    withConnection: <A, E, R>(f: (c: Connection.Connection) => Effect.Effect<A, E, R>) =>
      Effect.onExit(f(connection), (exit) => Effect.sync(() => state.borrows.push(exit))),
    subscribe: () => state.messages
  } as unknown as Redis.RedisShape
  return { redis, state }
}

const service = (redis: Redis.RedisShape) => Effect.provideService(EffectRedis.make, Redis.Redis, redis)

const lost = RedisError.make(new RedisError.ConnectionError({ message: "socket closed" }), "Unknown", "GET")

describe("EffectRedis.send", () => {
  it.effect("sends the words with their keys and returns RESP2 shapes", () =>
    Effect.gen(function*() {
      const { redis, state } = fake()
      state.reply = () => Effect.succeed(new RespMap(["f", "v"]))
      const effect = yield* service(redis)
      const reply = yield* effect.send("hgetall", "h")
      assert.deepStrictEqual(reply, ["f", "v"])
      assert.deepStrictEqual(state.sent[0].args, ["hgetall", "h"])
      assert.deepStrictEqual(state.sent[0].keys, ["h"])
      assert.strictEqual(state.sent[0].name, "HGETALL")
    }))

  it.effect("fails with Effect's RedisError whose cause is ours", () =>
    Effect.gen(function*() {
      const { redis, state } = fake()
      state.reply = () => Effect.fail(lost)
      const effect = yield* service(redis)
      const error = yield* Effect.flip(effect.send("GET", "k"))
      assert.instanceOf(error, EffectRedisService.RedisError)
      assert.strictEqual(error.cause, lost)
    }))
})

describe("EffectRedis.eval", () => {
  const script = EffectRedisService.script(
    (key: string, n: number) => [key, `${key}:2`, n],
    { numberOfKeys: 2, lua: "return redis.call('INCRBY', KEYS[1], ARGV[1])" }
  ).withReturnType<number>()

  it.effect("EVALSHA with the keys declared; EVAL once on NOSCRIPT", () =>
    Effect.gen(function*() {
      const { redis, state } = fake()
      state.reply = (c) =>
        c.name === "EVALSHA" && state.sent.length === 1
          ? Effect.fail(RedisError.make(new RedisError.NoScript({ message: "NOSCRIPT" }), "Rejected", "EVALSHA"))
          : Effect.succeed(7)
      const effect = yield* service(redis)
      const run = effect.eval(script)
      assert.strictEqual(yield* run("k", 3), 7)
      assert.strictEqual(yield* run("k", 4), 7)
      assert.deepStrictEqual(state.sent.map((c) => c.name), ["EVALSHA", "EVAL", "EVALSHA"])
      assert.deepStrictEqual(state.sent[0].keys, ["k", "k:2"])
      assert.deepStrictEqual(state.sent[0].args.slice(2).map(String), ["2", "k", "k:2", "3"])
      assert.strictEqual(state.sent[1].args[1], script.lua)
      assert.strictEqual(state.sent[2].args[1], state.sent[0].args[1])
    }))
})

describe("EffectRedis.reserve", () => {
  it.effect("a clean connection goes back to the pool when the scope closes", () =>
    Effect.gen(function*() {
      const { redis, state } = fake()
      const effect = yield* service(redis)
      yield* Effect.scoped(Effect.gen(function*() {
        const c = yield* effect.reserve
        yield* c.send("BLPOP", "q", "1")
        // An error reply leaves the connection in a known state.
        state.reply = () => Effect.fail(RedisError.make(new RedisError.ReplyError({ code: "WRONGTYPE", message: "x" }), "Rejected", "GET"))
        yield* Effect.flip(c.send("GET", "k"))
        assert.strictEqual(state.borrows.length, 0)
      }))
      assert.strictEqual(state.borrows.length, 1)
      assert.isTrue(Exit.isSuccess(state.borrows[0]))
    }))

  it.effect("a lost reply, changed connection state or a command in flight closes it", () =>
    Effect.gen(function*() {
      const { redis, state } = fake()
      const effect = yield* service(redis)
      state.reply = () => Effect.fail(lost)
      yield* Effect.scoped(Effect.flatMap(effect.reserve, (c) => Effect.flip(c.send("GET", "k"))))
      state.reply = () => Effect.succeed("OK")
      yield* Effect.scoped(Effect.flatMap(effect.reserve, (c) => c.send("SELECT", "1")))
      state.reply = () => Effect.never
      yield* Effect.scoped(Effect.gen(function*() {
        const c = yield* effect.reserve
        yield* Effect.forkChild(c.send("BLPOP", "q", "0"))
        yield* Effect.yieldNow
      }))
      assert.strictEqual(state.borrows.length, 3)
      for (const exit of state.borrows) assert.isTrue(Exit.isFailure(exit) && Cause.hasInterruptsOnly(exit.cause))
    }))

  it.effect("subscriber commands are refused on a reserved connection", () =>
    Effect.gen(function*() {
      const { redis, state } = fake()
      const effect = yield* service(redis)
      const error = yield* Effect.scoped(Effect.flatMap(effect.reserve, (c) => Effect.flip(c.send("SUBSCRIBE", "ch"))))
      assert.strictEqual((error.cause as RedisError.RedisError).reason._tag, "InvalidArgument")
      assert.strictEqual(state.sent.length, 0)
    }))
})

describe("EffectRedis.subscribe", () => {
  it.effect("messages go to the queue; a failed subscription fails it", () =>
    Effect.gen(function*() {
      const { redis, state } = fake()
      state.messages = Stream.concat(
        Stream.make({ kind: "channel", channel: "ch", pattern: undefined, payload: "hello" } as PubSub.Message),
        Stream.fail(lost)
      )
      const effect = yield* service(redis)
      yield* Effect.scoped(Effect.gen(function*() {
        const queue = yield* effect.subscribe("ch")
        assert.deepStrictEqual(yield* Queue.take(queue), { channel: "ch", message: "hello" })
        const error = yield* Effect.flip(Queue.take(queue))
        assert.strictEqual((error as EffectRedisService.RedisError).cause, lost)
      }))
    }))

  it.effect("closing the scope ends the subscription", () =>
    Effect.gen(function*() {
      const { redis, state } = fake()
      let stopped = false
      state.messages = Stream.never.pipe(Stream.ensuring(Effect.sync(() => { stopped = true })))
      const effect = yield* service(redis)
      const fiber = yield* Effect.forkChild(Effect.scoped(Effect.andThen(effect.subscribe("ch"), Effect.yieldNow)))
      yield* Fiber.join(fiber)
      assert.isTrue(stopped)
    }))
})
