/**
 * Pub/sub and MONITOR of the `Redis` service against a real redis-server:
 * delivery, patterns, fan-out to several streams, unsubscribe when a stream
 * ends, resubscribe after the subscriber connection is killed (with the
 * generation counter as the gap signal), RESP2, and the MONITOR feed.
 */
import { assert, describe, it } from "@effect/vitest"
import * as Commands from "@redis-effect/redis/Commands"
import type * as Monitor from "@redis-effect/redis/Monitor"
import * as PubSub from "@redis-effect/redis/PubSub"
import * as Redis from "@redis-effect/redis/Redis"
import * as RedisServer from "@redis-effect/testing/RedisServer"
import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"
import * as Queue from "effect/Queue"
import * as Stream from "effect/Stream"
import { eventually, extraClient, key, serverWithClient } from "./redis-helpers.ts"

/** Runs a stream into a queue in the background; returns the queue. */
const collect = <A, E>(stream: Stream.Stream<A, E>) =>
  Effect.gen(function*() {
    const queue = yield* Queue.unbounded<A>()
    yield* Effect.forkScoped(Stream.runForEach(stream, (a) => Queue.offer(queue, a)))
    return queue
  })

const numsub = (channel: string) =>
  Effect.gen(function*() {
    const server = yield* RedisServer.RedisServer
    const out = yield* server.cli("PUBSUB", "NUMSUB", channel)
    return Number(out.split("\n")[1])
  })

/** Publishes until at least one subscriber received it (bounded). */
const publishUntilHeard = (redis: Redis.RedisShape, channel: string, message: string) =>
  eventually(`a subscriber of ${channel} is listening`, Effect.map(redis.publish(channel, message), (n) => n > 0))

const awaitSubscribed = (channel: string, count = 1) =>
  eventually(`${count} subscriber(s) on ${channel}`, Effect.map(numsub(channel), (n) => n === count))

describe("pub/sub", () => {
  it.layer(serverWithClient(), { excludeTestServices: true })("RESP3", (it) => {
    it.effect("subscribe delivers what is published, in order", () =>
      Effect.gen(function*() {
        const redis = yield* Redis.Redis
        const channel = key("news")
        const queue = yield* collect(redis.subscribe(channel))
        yield* awaitSubscribed(channel)
        for (const m of ["a", "b", "c"]) assert.strictEqual(yield* redis.publish(channel, m), 1)
        const got = [yield* Queue.take(queue), yield* Queue.take(queue), yield* Queue.take(queue)]
        assert.deepStrictEqual(got.map((m) => m.payload), ["a", "b", "c"])
        assert.deepStrictEqual(got[0], { kind: "channel", channel, pattern: undefined, payload: "a" })
      }))

    it.effect("a subscribe stream can be consumed with take: it completes and unsubscribes", () =>
      Effect.gen(function*() {
        const redis = yield* Redis.Redis
        const channel = key("take")
        const fiber = yield* Effect.forkChild(Stream.runCollect(Stream.take(redis.subscribe(channel), 2)))
        yield* awaitSubscribed(channel)
        yield* redis.publish(channel, "1")
        yield* redis.publish(channel, "2")
        const messages = yield* Fiber.join(fiber)
        assert.deepStrictEqual(messages.map((m) => m.payload), ["1", "2"])
        yield* awaitSubscribed(channel, 0)
      }))

    it.effect("psubscribe receives messages of every matching channel, with the pattern", () =>
      Effect.gen(function*() {
        const redis = yield* Redis.Redis
        const prefix = key("p")
        const queue = yield* collect(redis.psubscribe(`${prefix}:*`))
        yield* eventually("pattern subscribed", Effect.map(redis.pubsubNumpat(), (n) => n >= 1))
        yield* publishUntilHeard(redis, `${prefix}:one`, "1")
        yield* redis.publish(`${prefix}:two`, "2")
        yield* redis.publish(`other:${prefix}`, "no")
        const first = yield* Queue.take(queue)
        const second = yield* Queue.take(queue)
        assert.deepStrictEqual(first, { kind: "pattern", pattern: `${prefix}:*`, channel: `${prefix}:one`, payload: "1" })
        assert.strictEqual(second.channel, `${prefix}:two`)
        yield* redis.publish(`${prefix}:three`, "3")
        assert.strictEqual((yield* Queue.take(queue)).payload, "3")
      }))

    it.effect("two streams on the same channel both receive; the server is subscribed once", () =>
      Effect.gen(function*() {
        const redis = yield* Redis.Redis
        const channel = key("shared")
        const q1 = yield* collect(redis.subscribe(channel))
        const q2 = yield* collect(redis.subscribe(channel))
        yield* awaitSubscribed(channel)
        // One subscriber connection, told once.
        assert.strictEqual(yield* redis.publish(channel, "hello"), 1)
        assert.strictEqual((yield* Queue.take(q1)).payload, "hello")
        assert.strictEqual((yield* Queue.take(q2)).payload, "hello")
      }))

    it.effect("one stream ending keeps the channel for the other; the last one unsubscribes", () =>
      Effect.gen(function*() {
        const redis = yield* Redis.Redis
        const channel = key("refcount")
        const long = yield* collect(redis.subscribe(channel))
        const short = yield* Effect.forkChild(Stream.runCollect(Stream.take(redis.subscribe(channel), 1)))
        yield* awaitSubscribed(channel)
        yield* redis.publish(channel, "first")
        assert.deepStrictEqual((yield* Fiber.join(short)).map((m) => m.payload), ["first"])
        assert.strictEqual((yield* Queue.take(long)).payload, "first")
        // The short stream has ended, the long one still listens.
        assert.strictEqual(yield* numsub(channel), 1)
        yield* redis.publish(channel, "second")
        assert.strictEqual((yield* Queue.take(long)).payload, "second")
      }))

    it.effect("ending a stream unsubscribes (PUBSUB NUMSUB drops to 0)", () =>
      Effect.gen(function*() {
        const redis = yield* Redis.Redis
        const channel = key("bye")
        const fiber = yield* Effect.forkChild(Stream.runDrain(redis.subscribe(channel)))
        yield* awaitSubscribed(channel)
        yield* Fiber.interrupt(fiber)
        yield* awaitSubscribed(channel, 0)
        assert.strictEqual(yield* redis.publish(channel, "nobody"), 0)
      }))

    it.effect("subscribe to several channels at once", () =>
      Effect.gen(function*() {
        const redis = yield* Redis.Redis
        const a = key("multi-a")
        const b = key("multi-b")
        const queue = yield* collect(redis.subscribe(a, b))
        yield* awaitSubscribed(a)
        yield* awaitSubscribed(b)
        yield* redis.publish(b, "to-b")
        yield* redis.publish(a, "to-a")
        const got = [yield* Queue.take(queue), yield* Queue.take(queue)]
        assert.deepStrictEqual(got.map((m) => [m.channel, m.payload]), [[b, "to-b"], [a, "to-a"]])
      }))

    it.effect("subscribe with no channel fails with InvalidArgument", () =>
      Effect.gen(function*() {
        const redis = yield* Redis.Redis
        const error = yield* Stream.runDrain(redis.subscribe()).pipe(Effect.flip)
        assert.strictEqual(error.reason._tag, "InvalidArgument")
      }))

    it.effect("subscriber commands are refused by execute", () =>
      Effect.gen(function*() {
        const redis = yield* Redis.Redis
        const error = yield* redis.execute(Commands.subscribe(["x"])).pipe(Effect.flip)
        assert.strictEqual(error.reason._tag, "InvalidArgument")
      }))

    it.effect("payloads keep unicode and binary-safe text", () =>
      Effect.gen(function*() {
        const redis = yield* Redis.Redis
        const channel = key("utf8")
        const queue = yield* collect(redis.subscribe(channel))
        yield* awaitSubscribed(channel)
        const payload = "héllo ✓ 日本 \r\n end"
        yield* redis.publish(channel, payload)
        assert.strictEqual((yield* Queue.take(queue)).payload, payload)
      }))

    it.effect("resubscribes after CLIENT KILL TYPE pubsub; generation counts the rounds", () =>
      Effect.gen(function*() {
        const redis = yield* Redis.Redis
        const server = yield* RedisServer.RedisServer
        const channel = key("survivor")
        const pattern = `${key("psurvivor")}:*`
        const queue = yield* collect(redis.subscribe(channel))
        const pqueue = yield* collect(redis.psubscribe(pattern))
        yield* awaitSubscribed(channel)
        const before = yield* redis.pubsubGeneration
        assert.isAtLeast(before, 1)
        yield* redis.publish(channel, "before")
        assert.strictEqual((yield* Queue.take(queue)).payload, "before")

        assert.isAtLeast(yield* server.clientKill("TYPE", "pubsub"), 1)
        // The connection comes back and subscribes again by itself.
        yield* eventually("generation grows", Effect.map(redis.pubsubGeneration, (g) => g > before))
        yield* publishUntilHeard(redis, channel, "after")
        // Messages published while it was down are lost (at most once); the
        // first one heard after the reconnect arrives.
        assert.strictEqual((yield* Queue.take(queue)).payload, "after")
        yield* publishUntilHeard(redis, pattern.replace("*", "x"), "pattern-after")
        assert.strictEqual((yield* Queue.take(pqueue)).payload, "pattern-after")
      }))

    it.effect("survives several kills in a row", () =>
      Effect.gen(function*() {
        const redis = yield* Redis.Redis
        const server = yield* RedisServer.RedisServer
        const channel = key("kills")
        const queue = yield* collect(redis.subscribe(channel))
        yield* awaitSubscribed(channel)
        for (let round = 0; round < 3; round++) {
          const generation = yield* redis.pubsubGeneration
          yield* server.clientKill("TYPE", "pubsub")
          yield* eventually("generation grows", Effect.map(redis.pubsubGeneration, (g) => g > generation))
          yield* publishUntilHeard(redis, channel, `round ${round}`)
          assert.strictEqual((yield* Queue.take(queue)).payload, `round ${round}`)
        }
      }))

    it.effect("a new subscription after a kill works", () =>
      Effect.gen(function*() {
        const redis = yield* Redis.Redis
        const server = yield* RedisServer.RedisServer
        const first = key("beforekill")
        yield* collect(redis.subscribe(first))
        yield* awaitSubscribed(first)
        yield* server.clientKill("TYPE", "pubsub")
        const channel = key("afterkill")
        const queue = yield* collect(redis.subscribe(channel))
        yield* publishUntilHeard(redis, channel, "fresh")
        assert.strictEqual((yield* Queue.take(queue)).payload, "fresh")
      }))

    it.effect("PubSub.Message has the documented shape", () =>
      Effect.sync(() => {
        const m: PubSub.Message = { kind: "shard", channel: "c", pattern: undefined, payload: "p" }
        assert.strictEqual(m.kind, "shard")
      }))

    // -------------------------------------------------------------------------
    // MONITOR
    // -------------------------------------------------------------------------
    it.effect("monitor shows commands issued by another client, parsed", () =>
      Effect.gen(function*() {
        const redis = yield* Redis.Redis
        const other = yield* extraClient()
        const k = key("monitored")
        const queue = yield* collect(redis.monitor)
        // MONITOR starts asynchronously: write until one shows up (bounded).
        let seen: Monitor.MonitorEvent | undefined
        for (let i = 0; i < 100 && seen === undefined; i++) {
          yield* other.set(k, `va"l\n${i}`)
          const events = yield* Queue.clear(queue)
          seen = events.find((e) => e.args[0]?.toLowerCase() === "set" && e.args[1] === k)
          if (seen === undefined) yield* Effect.sleep(20)
        }
        assert.isDefined(seen)
        const event = seen!
        assert.strictEqual(event.args.length, 3)
        assert.match(event.args[2], /^va"l\n\d+$/)
        assert.strictEqual(event.database, 0)
        assert.match(event.client, /^127\.0\.0\.1:\d+$/)
        assert.isAbove(event.time, 1_600_000_000)
      }))
  })

  it.layer(serverWithClient({}, { protocol: 2 }), { excludeTestServices: true })("RESP2", (it) => {
    it.effect("subscribe, psubscribe and resubscribe work over RESP2", () =>
      Effect.gen(function*() {
        const redis = yield* Redis.Redis
        const server = yield* RedisServer.RedisServer
        const channel = key("r2")
        const queue = yield* collect(redis.subscribe(channel))
        const pqueue = yield* collect(redis.psubscribe(`${channel}*`))
        yield* awaitSubscribed(channel)
        yield* eventually("pattern subscribed", Effect.map(redis.pubsubNumpat(), (n) => n >= 1))
        assert.strictEqual(yield* redis.publish(channel, "resp2"), 2)
        assert.deepStrictEqual(yield* Queue.take(queue), { kind: "channel", channel, pattern: undefined, payload: "resp2" })
        assert.deepStrictEqual(yield* Queue.take(pqueue), { kind: "pattern", channel, pattern: `${channel}*`, payload: "resp2" })
        const generation = yield* redis.pubsubGeneration
        yield* server.clientKill("TYPE", "pubsub")
        yield* eventually("generation grows", Effect.map(redis.pubsubGeneration, (g) => g > generation))
        yield* publishUntilHeard(redis, channel, "again")
        assert.strictEqual((yield* Queue.take(queue)).payload, "again")
      }))

    it.effect("unsubscribe on stream end over RESP2, and the client keeps working", () =>
      Effect.gen(function*() {
        const redis = yield* Redis.Redis
        const channel = key("r2bye")
        const fiber = yield* Effect.forkChild(Stream.runCollect(Stream.take(redis.subscribe(channel), 1)))
        yield* awaitSubscribed(channel)
        yield* redis.publish(channel, "only")
        assert.strictEqual((yield* Fiber.join(fiber)).length, 1)
        yield* awaitSubscribed(channel, 0)
        assert.strictEqual(yield* redis.echo("still fine"), "still fine")
      }))

    it.effect("monitor over RESP2", () =>
      Effect.gen(function*() {
        const redis = yield* Redis.Redis
        const k = key("mon2")
        const queue = yield* collect(redis.monitor)
        let found = false
        for (let i = 0; i < 100 && !found; i++) {
          yield* redis.get(k)
          found = (yield* Queue.clear(queue)).some((e) => e.args[0]?.toLowerCase() === "get" && e.args[1] === k)
          if (!found) yield* Effect.sleep(20)
        }
        assert.isTrue(found)
      }))
  })
})
