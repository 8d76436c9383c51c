/**
 * ClientCache's rules over a fake connection: each read is answered when
 * the test says, so an invalidation can arrive while it is in flight; the
 * handshake step, the pushes and the end of a session are driven by hand.
 */
import { assert, describe, it } from "@effect/vitest"
import * as ClientCache from "@redis-effect/redis/ClientCache"
import * as Cmd from "@redis-effect/redis/Command"
import * as Commands from "@redis-effect/redis/Commands"
import type * as Connection from "@redis-effect/redis/Connection"
import * as RedisConfig from "@redis-effect/redis/RedisConfig"
import * as RedisError from "@redis-effect/redis/RedisError"
import { RespPush, type RespValue } from "@redis-effect/redis/Resp"
import * as Deferred from "effect/Deferred"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"
import * as Option from "effect/Option"

interface Sent {
  readonly args: ReadonlyArray<unknown>
  readonly reply: Deferred.Deferred<RespValue, RedisError.RedisError>
}

// A connection whose every command waits for the test to answer it.
const fakeConnection = (sent: Array<Sent>): Connection.Connection =>
  ({
    endpoint: RedisConfig.tcp("127.0.0.1", 6379),
    send: <A>(command: Cmd.Command<A>) =>
      Effect.suspend(() => {
        const reply = Deferred.makeUnsafe<RespValue, RedisError.RedisError>()
        sent.push({ args: command.args, reply })
        return Effect.map(Deferred.await(reply), (r) => command.decode(r))
      })
  }) as unknown as Connection.Connection

const session = (protocol: 2 | 3, log: Array<ReadonlyArray<unknown>>): RedisConfig.ConnectSession => ({
  endpoint: RedisConfig.tcp("127.0.0.1", 6379),
  protocol,
  send: <A>(command: Cmd.Command<A>) => Effect.sync(() => (log.push(command.args), command.decode("OK")))
})

const setup = (options: ClientCache.Options = {}) =>
  Effect.gen(function*() {
    const cache = ClientCache.make(options)
    const tracked = ClientCache.track(cache)
    const sent: Array<Sent> = []
    const handshake: Array<ReadonlyArray<unknown>> = []
    const connection = tracked.wrap(fakeConnection(sent))
    yield* tracked.onConnect(session(3, handshake))
    const invalidate = (keys: ReadonlyArray<string> | null) => tracked.hooks.onServerPush!(new RespPush(["invalidate", keys]))
    // Sends a read and answers it with `value` at once.
    const read = (key: string, value: string) =>
      Effect.gen(function*() {
        const fiber = yield* Effect.forkChild(connection.send(Commands.get(key)))
        yield* Effect.yieldNow
        const pending = sent.find((s) => !Deferred.isDoneUnsafe(s.reply))
        if (pending !== undefined) Deferred.doneUnsafe(pending.reply, Exit.succeed(value))
        return yield* Fiber.join(fiber)
      })
    return { cache, tracked, sent, handshake, connection, invalidate, read }
  })

const stats = (cache: ClientCache.ClientCache) => Effect.runSync(cache.stats)

describe("ClientCache", () => {
  it.effect("the handshake turns tracking on (BCAST with prefixes in broadcast mode); RESP2 is refused", () =>
    Effect.gen(function*() {
      const { handshake } = yield* setup()
      assert.deepStrictEqual(handshake, [["CLIENT", "TRACKING", "ON"]])
      const bcast = yield* setup({ mode: "broadcast", prefixes: ["user:", "cfg:"] })
      assert.deepStrictEqual(bcast.handshake, [["CLIENT", "TRACKING", "ON", "BCAST", "PREFIX", "user:", "PREFIX", "cfg:"]])
      const refused = yield* Effect.flip(ClientCache.track(ClientCache.make()).onConnect(session(2, [])))
      assert.strictEqual(refused.reason._tag, "NotSupported")
      assert.include(refused.message, "RESP3")
    }))

  it.effect("a second read is served from memory; each caller gets its own decoded value", () =>
    Effect.gen(function*() {
      const { cache, connection, read, sent } = yield* setup()
      assert.deepStrictEqual(yield* read("k", "v1"), Option.some("v1"))
      assert.deepStrictEqual(yield* connection.send(Commands.get("k")), Option.some("v1"))
      // The same entry through another decoder.
      assert.strictEqual(yield* connection.send(Cmd.map(Commands.get("k"), Option.getOrElse(() => "none"))), "v1")
      assert.strictEqual(sent.length, 1)
      assert.deepStrictEqual(stats(cache), { hits: 2, misses: 1, invalidations: 0, evictions: 0, entries: 1, bytes: stats(cache).bytes })
    }))

  it.effect("rule: a read in flight when its key is invalidated is returned but not cached", () =>
    Effect.gen(function*() {
      const { connection, invalidate, read, sent } = yield* setup()
      const fiber = yield* Effect.forkChild(connection.send(Commands.get("k")))
      yield* Effect.yieldNow
      invalidate(["k"])
      Deferred.doneUnsafe(sent[0].reply, Exit.succeed("old"))
      assert.deepStrictEqual(yield* Fiber.join(fiber), Option.some("old"))
      // Not cached: the next read goes out.
      assert.deepStrictEqual(yield* read("k", "new"), Option.some("new"))
      assert.strictEqual(sent.length, 2)
      // An invalidation of another key, or after the reply, changes nothing for it.
      invalidate(["other"])
      assert.deepStrictEqual(yield* connection.send(Commands.get("k")), Option.some("new"))
      assert.strictEqual(sent.length, 2)
    }))

  it.effect("rule: invalidate drops the key's entries (every command on it); a null invalidation drops everything", () =>
    Effect.gen(function*() {
      const { cache, connection, invalidate, read, sent } = yield* setup()
      yield* read("a", "1")
      yield* read("b", "2")
      const strlen = yield* Effect.forkChild(connection.send(Commands.strlen("a")))
      yield* Effect.yieldNow
      Deferred.doneUnsafe(sent[2].reply, Exit.succeed(1))
      yield* Fiber.join(strlen)
      assert.strictEqual(stats(cache).entries, 3)
      invalidate(["a"])
      assert.strictEqual(stats(cache).entries, 1)
      invalidate(null)
      assert.strictEqual(stats(cache).entries, 0)
      assert.strictEqual(stats(cache).invalidations, 2)
    }))

  it.effect("rule: the end of the session drops its entries, and reads until tracking is on again are not cached", () =>
    Effect.gen(function*() {
      const { cache, connection, read, sent, tracked } = yield* setup()
      yield* read("k", "v1")
      tracked.hooks.onDisconnect!(RedisError.make(new RedisError.ConnectionError({ message: "reset" }), "Unknown"))
      assert.strictEqual(stats(cache).entries, 0)
      // Reconnecting, tracking not on yet: goes out, not cached.
      yield* read("k", "v2")
      yield* read("k", "v2")
      assert.strictEqual(sent.length, 3)
      yield* tracked.onConnect(session(3, []))
      yield* read("k", "v3")
      assert.deepStrictEqual(yield* connection.send(Commands.get("k")), Option.some("v3"))
      assert.strictEqual(sent.length, 4)
      // A read that was in flight across a reconnect is not kept either.
      const fiber = yield* Effect.forkChild(connection.send(Commands.get("x")))
      yield* Effect.yieldNow
      yield* tracked.onConnect(session(3, []))
      Deferred.doneUnsafe(sent[4].reply, Exit.succeed("from the old session"))
      yield* Fiber.join(fiber)
      assert.strictEqual(stats(cache).entries, 0)
    }))

  it.effect("rule: a MOVED read drops the session's entries of that slot", () =>
    Effect.gen(function*() {
      const { cache, connection, read, sent } = yield* setup()
      yield* read("{tag}:a", "1")
      yield* read("{tag}:b", "2")
      yield* read("elsewhere", "3")
      const fiber = yield* Effect.forkChild(Effect.exit(connection.send(Commands.get("{tag}:c"))))
      yield* Effect.yieldNow
      Deferred.doneUnsafe(sent[3].reply, Exit.fail(RedisError.make(RedisError.classify("MOVED 1 127.0.0.1:7001"), "Rejected")))
      assert.isTrue(Exit.isFailure(yield* Fiber.join(fiber)))
      assert.strictEqual(stats(cache).entries, 1)
    }))

  it.effect("rule: bounded by entries and bytes, least recently used first; entries expire", () =>
    Effect.gen(function*() {
      const small = yield* setup({ maxEntries: 2 })
      yield* small.read("a", "1")
      yield* small.read("b", "2")
      yield* small.connection.send(Commands.get("a")) // a is now the most recent
      yield* small.read("c", "3")
      assert.strictEqual(stats(small.cache).entries, 2)
      assert.strictEqual(stats(small.cache).evictions, 1)
      yield* small.connection.send(Commands.get("a"))
      assert.strictEqual(small.sent.length, 3, "a stayed, b was evicted")

      const bytes = yield* setup({ maxBytes: 1000 })
      yield* bytes.read("big1", "x".repeat(300))
      yield* bytes.read("big2", "x".repeat(300))
      assert.isAtMost(stats(bytes.cache).bytes, 1000)
      assert.strictEqual(stats(bytes.cache).entries, 1)
      // Larger than the whole budget: never kept.
      yield* bytes.read("huge", "x".repeat(2000))
      assert.strictEqual(stats(bytes.cache).entries, 1)

      const short = yield* setup({ ttl: "1 millis" })
      yield* short.read("k", "v")
      // The cache reads the wall clock (Date.now), not Effect's.
      yield* Effect.promise(() => new Promise((resolve) => setTimeout(resolve, 5)))
      yield* short.read("k", "v")
      assert.strictEqual(short.sent.length, 2)
    }))

  it.effect("an effect run again (a retry) looks the cache up again and registers its own flight", () =>
    Effect.gen(function*() {
      const { connection, invalidate, sent } = yield* setup()
      const get = connection.send(Commands.get("k"))
      const first = yield* Effect.forkChild(get)
      yield* Effect.yieldNow
      Deferred.doneUnsafe(sent[0].reply, Exit.succeed("v1"))
      yield* Fiber.join(first)
      // The same effect again: a hit, nothing sent.
      assert.deepStrictEqual(yield* get, Option.some("v1"))
      assert.strictEqual(sent.length, 1)
      // Invalidated; run again: a miss, and an invalidation during it keeps its reply out.
      invalidate(["k"])
      const third = yield* Effect.forkChild(get)
      yield* Effect.yieldNow
      assert.strictEqual(sent.length, 2)
      invalidate(["k"])
      Deferred.doneUnsafe(sent[1].reply, Exit.succeed("v2"))
      assert.deepStrictEqual(yield* Fiber.join(third), Option.some("v2"))
      const fourth = yield* Effect.forkChild(get)
      yield* Effect.yieldNow
      assert.strictEqual(sent.length, 3, "v2 was not cached")
      Deferred.doneUnsafe(sent[2].reply, Exit.succeed("v3"))
      yield* Fiber.join(fourth)
    }))

  it.effect("concurrent misses send one read; a miss after an invalidation does not join the older read", () =>
    Effect.gen(function*() {
      const { connection, invalidate, sent } = yield* setup()
      const a = yield* Effect.forkChild(connection.send(Commands.get("k")))
      const b = yield* Effect.forkChild(connection.send(Commands.get("k")))
      yield* Effect.yieldNow
      assert.strictEqual(sent.length, 1)
      invalidate(["k"])
      const c = yield* Effect.forkChild(connection.send(Commands.get("k")))
      yield* Effect.yieldNow
      assert.strictEqual(sent.length, 2)
      Deferred.doneUnsafe(sent[0].reply, Exit.succeed("old"))
      Deferred.doneUnsafe(sent[1].reply, Exit.succeed("new"))
      assert.deepStrictEqual(yield* Fiber.join(a), Option.some("old"))
      assert.deepStrictEqual(yield* Fiber.join(b), Option.some("old"))
      assert.deepStrictEqual(yield* Fiber.join(c), Option.some("new"))
    }))

  it.effect("what is cached: one-key reads by their flags; not writes, TTL, random reads, multi-key, opted-out or binary keys", () =>
    Effect.gen(function*() {
      assert.isTrue(ClientCache.isCacheable(Commands.get("k")))
      assert.isTrue(ClientCache.isCacheable(Commands.hgetall("k")))
      assert.isTrue(ClientCache.isCacheable(Commands.smembers("k")))
      assert.isTrue(ClientCache.isCacheable(Cmd.make(["MY.READ", "k"], Cmd.Reply.raw, { keys: ["k"], flags: Cmd.Flags.READONLY })))
      assert.isFalse(ClientCache.isCacheable(Commands.set("k", "v")))
      assert.isFalse(ClientCache.isCacheable(Commands.ttl("k")))
      assert.isFalse(ClientCache.isCacheable(Commands.srandmember("k")))
      assert.isFalse(ClientCache.isCacheable(Commands.mget(["a", "b"])))
      assert.isFalse(ClientCache.isCacheable(ClientCache.uncached(Commands.get("k"))))
      assert.isFalse(ClientCache.isCacheable(Commands.get(new Uint8Array([1, 2]))))
      assert.isFalse(ClientCache.isCacheable(Commands.blpop("k", 1)))
      // Broadcast mode caches only keys under its prefixes.
      const { connection, read, sent } = yield* setup({ mode: "broadcast", prefixes: ["user:"] })
      yield* read("other", "1")
      yield* read("other", "1")
      yield* read("user:1", "ada")
      yield* connection.send(Commands.get("user:1"))
      assert.strictEqual(sent.length, 3)
    }))

  it.effect("MGET key by key: hits from MGET's or GET's entries, one MGET of the misses, values in the caller's order", () =>
    Effect.gen(function*() {
      const { cache, connection, read, sent } = yield* setup()
      yield* read("b", "from-get")
      const first = yield* Effect.forkChild(connection.send(Commands.mget(["a", "b", "c"])))
      yield* Effect.yieldNow
      // "b" came from GET's entry: only the misses went out.
      assert.deepStrictEqual(sent[1].args, ["MGET", "a", "c"])
      Deferred.doneUnsafe(sent[1].reply, Exit.succeed(["1", null]))
      assert.deepStrictEqual(yield* Fiber.join(first), [Option.some("1"), Option.some("from-get"), Option.none()])
      // All three are hits now, a missing key included (MGET's nil is cached).
      assert.deepStrictEqual(yield* connection.send(Commands.mget(["c", "a", "b", "a"])), [
        Option.none(),
        Option.some("1"),
        Option.some("from-get"),
        Option.some("1")
      ])
      assert.strictEqual(sent.length, 2)
      assert.strictEqual(stats(cache).hits, 1 + 4)
      assert.strictEqual(stats(cache).misses, 1 + 2)
      // MGET's entries never answer a GET: MGET reads a key of another type
      // as nil, where GET fails with WRONGTYPE.
      const get = yield* Effect.forkChild(connection.send(Commands.get("a")))
      yield* Effect.yieldNow
      assert.deepStrictEqual(sent[2].args, ["GET", "a"])
      Deferred.doneUnsafe(sent[2].reply, Exit.succeed("1"))
      yield* Fiber.join(get)
      // Bytes and strings are entries of their own.
      const bytes = yield* Effect.forkChild(connection.send(Commands.mgetBytes(["a"])))
      yield* Effect.yieldNow
      assert.deepStrictEqual(sent[3].args, ["MGET", "a"])
      Deferred.doneUnsafe(sent[3].reply, Exit.succeed([new Uint8Array([49])]))
      assert.deepStrictEqual(yield* Fiber.join(bytes), [Option.some(new Uint8Array([49]))])
    }))

  it.effect("MGET: a key invalidated while the MGET is out is returned but not cached; the others are", () =>
    Effect.gen(function*() {
      const { connection, invalidate, sent } = yield* setup()
      const fiber = yield* Effect.forkChild(connection.send(Commands.mget(["a", "b"])))
      yield* Effect.yieldNow
      invalidate(["b"])
      Deferred.doneUnsafe(sent[0].reply, Exit.succeed(["1", "old"]))
      assert.deepStrictEqual(yield* Fiber.join(fiber), [Option.some("1"), Option.some("old")])
      const again = yield* Effect.forkChild(connection.send(Commands.mget(["a", "b"])))
      yield* Effect.yieldNow
      assert.deepStrictEqual(sent[1].args, ["MGET", "b"])
      Deferred.doneUnsafe(sent[1].reply, Exit.succeed(["new"]))
      assert.deepStrictEqual(yield* Fiber.join(again), [Option.some("1"), Option.some("new")])
      // A null invalidation (a flush) during an MGET keeps none of it.
      const flushed = yield* Effect.forkChild(connection.send(Commands.mget(["c", "d"])))
      yield* Effect.yieldNow
      invalidate(null)
      Deferred.doneUnsafe(sent[2].reply, Exit.succeed(["3", "4"]))
      yield* Fiber.join(flushed)
      yield* Effect.forkChild(connection.send(Commands.mget(["c"])))
      yield* Effect.yieldNow
      assert.deepStrictEqual(sent[3].args, ["MGET", "c"])
    }))

  it.effect("MGET: opted out, a binary key, a key outside the broadcast prefixes or a failed reply: nothing cached", () =>
    Effect.gen(function*() {
      const { cache, connection, sent } = yield* setup({ mode: "broadcast", prefixes: ["user:"] })
      const answer = (value: RespValue | RedisError.RedisError) =>
        Effect.gen(function*() {
          yield* Effect.yieldNow
          const pending = sent[sent.length - 1]
          Deferred.doneUnsafe(pending.reply, RedisError.isRedisError(value) ? Exit.fail(value) : Exit.succeed(value))
        })
      for (
        const command of [
          ClientCache.uncached(Commands.mget(["user:1"])),
          Commands.mget(["user:1", new Uint8Array([1])]),
          Commands.mget(["user:1", "other"])
        ]
      ) {
        for (let i = 0; i < 2; i++) {
          const fiber = yield* Effect.forkChild(Effect.exit(connection.send(command)))
          yield* answer(command.keys.map(() => "v"))
          assert.isTrue(Exit.isSuccess(yield* Fiber.join(fiber)))
        }
      }
      assert.strictEqual(sent.length, 6)
      const failed = yield* Effect.forkChild(Effect.exit(connection.send(Commands.mget(["user:2"]))))
      yield* answer(RedisError.make(new RedisError.ConnectionError({ message: "lost" }), "Unknown", "MGET"))
      assert.isTrue(Exit.isFailure(yield* Fiber.join(failed)))
      // A reply that is not one value per key fails with the command's decoder, and is not kept.
      const odd = yield* Effect.forkChild(Effect.exit(connection.send(Commands.mget(["user:3"]))))
      yield* answer("not an array")
      assert.isTrue(Exit.isFailure(yield* Fiber.join(odd)))
      assert.strictEqual(stats(cache).entries, 0)
      assert.isTrue(ClientCache.isCacheableMget(Commands.mget(["a", "b"])))
      assert.isFalse(ClientCache.isCacheableMget(Commands.get("a")))
    }))

  it("options are checked", () => {
    assert.strictEqual(ClientCache.problemOf({ maxEntries: 0 }), "cache.maxEntries must be a positive integer")
    assert.strictEqual(ClientCache.problemOf({ prefixes: ["a"] }), "cache.prefixes need mode \"broadcast\"")
    assert.strictEqual(ClientCache.problemOf({ ttl: "soon" as never }), "cache.ttl must be a duration")
    assert.isUndefined(ClientCache.problemOf({ maxEntries: 10, mode: "broadcast", prefixes: ["a"], ttl: "1 second" }))
  })
})
