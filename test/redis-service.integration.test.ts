/**
 * The `Redis` service against a real redis-server: pipelines, MULTI/EXEC,
 * optimistic `watch`, scripts and functions, the lock, `withConnection`,
 * SCAN streams and custom commands.
 */
import { assert, describe, it } from "@effect/vitest"
import * as Command from "@redis-effect/redis/Command"
import * as Commands from "@redis-effect/redis/Commands"
import * as CustomCommand from "@redis-effect/redis/CustomCommand"
import * as Redis from "@redis-effect/redis/Redis"
import * as RedisError from "@redis-effect/redis/RedisError"
import * as Script from "@redis-effect/redis/Script"
import * as RedisServer from "@redis-effect/testing/RedisServer"
import * as Deferred from "effect/Deferred"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"
import * as Option from "effect/Option"
import * as Schedule from "effect/Schedule"
import * as Stream from "effect/Stream"
import { eventually, extraClient, key, serverWithClient } from "./redis-helpers.ts"

const reasonOf = <A>(exit: Exit.Exit<A, unknown>): string => {
  if (Exit.isSuccess(exit)) return "success"
  const error = RedisError.failureOf(exit)
  return error !== undefined && RedisError.isRedisError(error) ? error.reason._tag : "other"
}

describe("Redis service", () => {
  it.layer(serverWithClient(), { excludeTestServices: true })("standalone", (it) => {
    // -------------------------------------------------------------------------
    // pipeline
    // -------------------------------------------------------------------------
    it.effect("pipeline returns a typed tuple in order", () =>
      Effect.gen(function*() {
        const redis = yield* Redis.Redis
        const k = key("pipe")
        const [set, n, v, len] = yield* redis.pipeline([
          Commands.set(k, "1"),
          Commands.incr(k),
          Commands.get(k),
          Commands.strlen(k)
        ])
        assert.strictEqual(set, true)
        assert.strictEqual(n, 2)
        assert.deepStrictEqual(v, Option.some("2"))
        assert.strictEqual(len, 1)
      }))

    it.effect("pipeline fails with the first failure, and later commands still ran", () =>
      Effect.gen(function*() {
        const redis = yield* Redis.Redis
        const k = key("pipefail")
        const list = key("list")
        yield* redis.lpush(list, ["a"])
        const error = yield* redis.pipeline([Commands.incr(list), Commands.set(k, "after")]).pipe(Effect.flip)
        assert.strictEqual(error.reason._tag, "ReplyError")
        assert.match(error.message, /WRONGTYPE/)
        assert.strictEqual(error.command, "INCR")
        // Not atomic, not short-circuited: the second command was sent and ran.
        assert.deepStrictEqual(yield* redis.get(k), Option.some("after"))
      }))

    it.effect("pipelineExits: one failing command does not hide the others", () =>
      Effect.gen(function*() {
        const redis = yield* Redis.Redis
        const k = key("exits")
        const list = key("list")
        yield* redis.lpush(list, ["a"])
        const exits = yield* redis.pipelineExits([
          Commands.set(k, "v"),
          Commands.incr(list),
          Commands.get(k),
          Commands.zadd(k, [{ member: "m", score: NaN }])
        ])
        assert.strictEqual(exits.length, 4)
        assert.deepStrictEqual(exits[0], Exit.succeed(true))
        assert.strictEqual(reasonOf(exits[1]), "ReplyError")
        assert.deepStrictEqual(exits[2], Exit.succeed(Option.some("v")))
        assert.strictEqual(reasonOf(exits[3]), "InvalidArgument")
      }))

    it.effect("pipelineExits refuses blocking and connection-state commands before sending", () =>
      Effect.gen(function*() {
        const redis = yield* Redis.Redis
        const k = key("refused")
        const exits = yield* redis.pipelineExits([Commands.set(k, "x"), Commands.blpop([k], 1)])
        assert.strictEqual(reasonOf(exits[0]), "InvalidArgument")
        assert.strictEqual(reasonOf(exits[1]), "InvalidArgument")
        // Nothing was sent.
        assert.isTrue(Option.isNone(yield* redis.get(k)))
      }))

    it.effect("a pipeline of 10k commands returns 10k replies in order", () =>
      Effect.gen(function*() {
        const redis = yield* Redis.Redis
        const k = key("big")
        const commands = Array.from({ length: 10_000 }, () => Commands.incr(k))
        const replies = yield* redis.pipeline(commands)
        assert.strictEqual(replies.length, 10_000)
        for (let i = 0; i < replies.length; i++) {
          if (replies[i] !== i + 1) assert.fail(`reply ${i} is ${replies[i]}`)
        }
        assert.deepStrictEqual(yield* redis.get(k), Option.some("10000"))
      }))

    it.effect("an empty pipeline is an empty tuple", () =>
      Effect.gen(function*() {
        const redis = yield* Redis.Redis
        assert.deepStrictEqual(yield* redis.pipeline([]), [])
      }))

    // -------------------------------------------------------------------------
    // transaction
    // -------------------------------------------------------------------------
    it.effect("transaction decodes each reply with its command's decoder", () =>
      Effect.gen(function*() {
        const redis = yield* Redis.Redis
        const k = key("tx")
        const h = key("hash")
        const [set, n, got, hset, all] = yield* redis.transaction([
          Commands.set(k, "10"),
          Commands.incrby(k, 5),
          Commands.get(k),
          Commands.hset(h, { a: "1", b: "2" }),
          Commands.hgetall(h)
        ])
        assert.strictEqual(set, true)
        assert.strictEqual(n, 15)
        assert.deepStrictEqual(got, Option.some("15"))
        assert.strictEqual(hset, 2)
        assert.deepStrictEqual(all, { a: "1", b: "2" })
      }))

    it.effect("a command error inside EXEC fails the transaction, but the other commands ran", () =>
      Effect.gen(function*() {
        const redis = yield* Redis.Redis
        const k = key("txerr")
        const list = key("txlist")
        yield* redis.lpush(list, ["x"])
        const error = yield* redis.transaction([Commands.set(k, "ran"), Commands.incr(list)]).pipe(Effect.flip)
        assert.strictEqual(error.reason._tag, "ReplyError")
        assert.match(error.message, /WRONGTYPE/)
        assert.strictEqual(error.command, "INCR")
        // EXEC does not roll back.
        assert.deepStrictEqual(yield* redis.get(k), Option.some("ran"))
      }))

    it.effect("an invalid queued command aborts EXEC: ExecAbort carries the server's reason", () =>
      Effect.gen(function*() {
        const redis = yield* Redis.Redis
        const k = key("execabort")
        const error = yield* redis.transaction([
          Commands.set(k, "never"),
          Commands.raw(["GET"]) // wrong number of arguments: refused at queue time
        ]).pipe(Effect.flip)
        assert.strictEqual(error.reason._tag, "ExecAbort")
        if (error.reason._tag === "ExecAbort") assert.isFalse(error.reason.watchConflict)
        assert.match(error.message, /wrong number of arguments/)
        assert.match(error.message, /GET/)
        assert.isTrue(Option.isNone(yield* redis.get(k)))
      }))

    it.effect("transaction refuses connection-state commands without sending anything", () =>
      Effect.gen(function*() {
        const redis = yield* Redis.Redis
        const k = key("txstate")
        const error = yield* redis.transaction([Commands.set(k, "x"), Commands.select(1)]).pipe(Effect.flip)
        assert.strictEqual(error.reason._tag, "InvalidArgument")
        assert.isTrue(Option.isNone(yield* redis.get(k)))
      }))

    it.effect("a transaction's connection is usable afterwards (no MULTI left open)", () =>
      Effect.gen(function*() {
        const redis = yield* Redis.Redis
        const k = key("txafter")
        yield* redis.transaction([Commands.raw(["GET"])]).pipe(Effect.flip)
        for (let i = 0; i < 5; i++) {
          const [n] = yield* redis.transaction([Commands.incr(k)])
          assert.strictEqual(n, i + 1)
        }
      }))

    // -------------------------------------------------------------------------
    // watch
    // -------------------------------------------------------------------------
    it.effect("watch: a conflicting write makes it retry, and it finally succeeds", () =>
      Effect.gen(function*() {
        const redis = yield* Redis.Redis
        const other = yield* extraClient()
        const k = key("watched")
        yield* redis.set(k, "0")
        let attempts = 0
        const [result] = yield* redis.watch([k], (tx) =>
          Effect.gen(function*() {
            attempts++
            const current = Number(Option.getOrElse(yield* tx.execute(Commands.get(k)), () => "0"))
            // Someone else writes between our read and our EXEC, twice.
            if (attempts <= 2) yield* other.incrby(k, 100)
            return [Commands.set(k, String(current + 1))] as const
          }), { retry: Schedule.recurs(5) })
        assert.strictEqual(result, true)
        assert.strictEqual(attempts, 3)
        assert.deepStrictEqual(yield* redis.get(k), Option.some("201"))
      }))

    it.effect("watch with 0 retries fails with ExecAbort and watchConflict", () =>
      Effect.gen(function*() {
        const redis = yield* Redis.Redis
        const other = yield* extraClient()
        const k = key("watched0")
        yield* redis.set(k, "a")
        let attempts = 0
        const error = yield* redis.watch([k], () =>
          Effect.gen(function*() {
            attempts++
            yield* other.set(k, "b")
            return [Commands.set(k, "mine")] as const
          }), { retry: Schedule.recurs(0) }).pipe(Effect.flip)
        assert.strictEqual(attempts, 1)
        assert.isTrue(RedisError.isRedisError(error))
        const reason = (error as RedisError.RedisError).reason
        assert.strictEqual(reason._tag, "ExecAbort")
        if (reason._tag === "ExecAbort") assert.isTrue(reason.watchConflict)
        assert.deepStrictEqual(yield* redis.get(k), Option.some("b"))
      }))

    it.effect("watch: the body's own errors pass through untouched and are not retried", () =>
      Effect.gen(function*() {
        const redis = yield* Redis.Redis
        const k = key("watchbody")
        let attempts = 0
        class Oops {
          readonly _tag = "Oops"
        }
        const error = yield* redis.watch([k], () =>
          Effect.suspend(() => {
            attempts++
            return Effect.fail(new Oops())
          })).pipe(Effect.flip)
        assert.instanceOf(error, Oops)
        assert.strictEqual(attempts, 1)
      }))

    it.effect("watch: a body returning no commands unwatches and returns []", () =>
      Effect.gen(function*() {
        const redis = yield* Redis.Redis
        const k = key("watchempty")
        const result = yield* redis.watch([k], () => Effect.succeed([] as const))
        assert.deepStrictEqual(result, [])
        const noKeys = yield* redis.watch([], () => Effect.succeed([] as const)).pipe(Effect.flip)
        assert.strictEqual((noKeys as RedisError.RedisError).reason._tag, "InvalidArgument")
      }))

    it.effect("watch: concurrent increments through watch lose no update", () =>
      Effect.gen(function*() {
        const redis = yield* Redis.Redis
        const k = key("watchcounter")
        yield* redis.set(k, "0")
        const incr = redis.watch([k], (tx) =>
          Effect.map(tx.execute(Commands.get(k)), (v) => [Commands.set(k, String(Number(Option.getOrElse(v, () => "0")) + 1))] as const), {
          retry: Schedule.spaced("1 millis").pipe(Schedule.jittered, Schedule.upTo({ times: 200 }))
        })
        yield* Effect.all(Array.from({ length: 8 }, () => incr), { concurrency: "unbounded", discard: true })
        assert.deepStrictEqual(yield* redis.get(k), Option.some("8"))
      }))

    // -------------------------------------------------------------------------
    // scripts and functions
    // -------------------------------------------------------------------------
    it.effect("runScript runs a script with keys and args, typed by its decoder", () =>
      Effect.gen(function*() {
        const redis = yield* Redis.Redis
        const k = key("script")
        const script = Script.make("redis.call('set', KEYS[1], ARGV[1]); return redis.call('strlen', KEYS[1])", Command.Reply.integer)
        assert.strictEqual(yield* redis.runScript(script, [k], ["hello"]), 5)
        assert.deepStrictEqual(yield* redis.get(k), Option.some("hello"))
        // The second call goes by EVALSHA: the script is now cached.
        assert.deepStrictEqual(yield* redis.scriptExists([script.sha1]), [true])
        assert.strictEqual(yield* redis.runScript(script, [k], ["hi"]), 2)
      }))

    it.effect("runScript still works after SCRIPT FLUSH (NOSCRIPT falls back to EVAL)", () =>
      Effect.gen(function*() {
        const redis = yield* Redis.Redis
        const script = Script.make("return ARGV[1] .. '!'", Command.Reply.string)
        assert.strictEqual(yield* redis.runScript(script, [], ["a"]), "a!")
        yield* redis.scriptFlush()
        assert.deepStrictEqual(yield* redis.scriptExists([script.sha1]), [false])
        assert.strictEqual(yield* redis.runScript(script, [], ["b"]), "b!")
        assert.deepStrictEqual(yield* redis.scriptExists([script.sha1]), [true])
      }))

    it.effect("runScript: a script error is a ReplyError, not a NOSCRIPT loop", () =>
      Effect.gen(function*() {
        const redis = yield* Redis.Redis
        const error = yield* redis.runScript(Script.make("return redis.call('nosuchcommand')"), []).pipe(Effect.flip)
        assert.strictEqual(error.reason._tag, "ReplyError")
        assert.match(error.message, /Unknown Redis command|unknown command/i)
      }))

    it.effect("EVAL, EVALSHA, SCRIPT LOAD through typed methods", () =>
      Effect.gen(function*() {
        const redis = yield* Redis.Redis
        const source = "return {KEYS[1], ARGV[1], tonumber(ARGV[2]) * 2}"
        const reply = yield* redis.evalScript(source, ["k1"], ["a", 21])
        assert.deepStrictEqual(reply, ["k1", "a", 42])
        const sha = yield* redis.scriptLoad(source)
        assert.strictEqual(sha, Script.make(source).sha1)
        assert.deepStrictEqual(yield* redis.evalsha(sha, ["k2"], ["b", 1]), ["k2", "b", 2])
        const missing = yield* redis.evalsha("0".repeat(40), [], []).pipe(Effect.flip)
        assert.strictEqual(missing.reason._tag, "NoScript")
        assert.deepStrictEqual(yield* redis.evalRo("return ARGV[1]", [], ["ro"]), "ro")
      }))

    it.effect("FUNCTION LOAD, FCALL, FCALL_RO, FUNCTION LIST and DELETE", () =>
      Effect.gen(function*() {
        const redis = yield* Redis.Redis
        const lib = `#!lua name=testlib
redis.register_function('tl_set', function(keys, args) return redis.call('set', keys[1], args[1]) end)
redis.register_function{function_name='tl_get', callback=function(keys) return redis.call('get', keys[1]) end, flags={'no-writes'}}`
        assert.strictEqual(yield* redis.functionLoad(lib, { replace: true }), "testlib")
        const again = yield* redis.functionLoad(lib).pipe(Effect.flip)
        assert.match(again.message, /already exists/)
        const k = key("fn")
        assert.strictEqual(yield* redis.fcall("tl_set", [k], ["v1"]), "OK")
        assert.strictEqual(yield* redis.fcallRo("tl_get", [k]), "v1")
        const libs = yield* redis.functionList({ libraryName: "testlib" })
        assert.strictEqual(libs.length, 1)
        assert.deepStrictEqual(libs[0].functions.map((f) => f.name).sort(), ["tl_get", "tl_set"])
        assert.deepStrictEqual(libs[0].functions.find((f) => f.name === "tl_get")?.flags, ["no-writes"])
        yield* redis.functionDelete("testlib")
        assert.strictEqual((yield* redis.functionList({ libraryName: "testlib" })).length, 0)
      }))

    // -------------------------------------------------------------------------
    // lock
    // -------------------------------------------------------------------------
    it.effect("lock: the second holder waits until the first one's scope closes", () =>
      Effect.gen(function*() {
        const redis = yield* Redis.Redis
        const name = key("lock")
        const events: Array<string> = []
        const firstHeld = yield* Deferred.make<void>()
        const releaseFirst = yield* Deferred.make<void>()
        const first = yield* Effect.forkChild(Effect.scoped(Effect.gen(function*() {
          yield* redis.lock(name, { ttl: "10 seconds" })
          events.push("first acquired")
          yield* Deferred.succeed(firstHeld, undefined)
          yield* Deferred.await(releaseFirst)
          events.push("first releasing")
        })))
        yield* Deferred.await(firstHeld)
        const second = yield* Effect.forkChild(Effect.scoped(Effect.gen(function*() {
          const l = yield* redis.lock(name, { ttl: "10 seconds", retry: Schedule.spaced("10 millis").pipe(Schedule.upTo({ times: 1000 })) })
          events.push("second acquired")
          return l.token
        })))
        // The second is still waiting while the first holds the lock.
        yield* Effect.sleep("100 millis")
        assert.deepStrictEqual(events, ["first acquired"])
        yield* Deferred.succeed(releaseFirst, undefined)
        yield* Fiber.join(first)
        const token = yield* Fiber.join(second)
        assert.deepStrictEqual(events, ["first acquired", "first releasing", "second acquired"])
        assert.isString(token)
        // Both scopes are closed: the lock is free.
        assert.strictEqual(yield* redis.exists([name]), 0)
      }))

    it.effect("lock: a holder gives up with LOCKED when its retry runs out", () =>
      Effect.gen(function*() {
        const redis = yield* Redis.Redis
        const name = key("lockbusy")
        yield* redis.lock(name, { ttl: "10 seconds" })
        const error = yield* Effect.scoped(redis.lock(name, { ttl: "1 second", retry: Schedule.recurs(2) })).pipe(Effect.flip)
        assert.strictEqual(error.reason._tag, "ReplyError")
        if (error.reason._tag === "ReplyError") assert.strictEqual(error.reason.code, "LOCKED")
      }))

    it.effect("lock: extend lengthens the ttl; release only by the owner", () =>
      Effect.gen(function*() {
        const redis = yield* Redis.Redis
        const name = key("lockext")
        const lock = yield* redis.lock(name, { ttl: "2 seconds" })
        assert.isTrue((yield* redis.pttl(name)) <= 2000)
        assert.isTrue(yield* lock.extend("60 seconds"))
        assert.isTrue((yield* redis.pttl(name)) > 2000)
        // Someone else now owns the key (our lock expired and was retaken).
        yield* redis.set(name, "someone-else")
        assert.isFalse(yield* lock.release)
        assert.isFalse(yield* lock.extend("60 seconds"))
        assert.deepStrictEqual(yield* redis.get(name), Option.some("someone-else"))
        yield* redis.del([name])
      }))

    it.effect("lock: release by the owner frees it for another holder", () =>
      Effect.gen(function*() {
        const redis = yield* Redis.Redis
        const name = key("lockrel")
        const lock = yield* redis.lock(name, { ttl: "10 seconds" })
        assert.deepStrictEqual(yield* redis.get(name), Option.some(lock.token))
        assert.isTrue(yield* lock.release)
        assert.isFalse(yield* lock.release)
        const again = yield* Effect.scoped(Effect.map(redis.lock(name, { ttl: "1 second", retry: Schedule.recurs(0) }), (l) => l.token))
        assert.notStrictEqual(again, lock.token)
      }))

    it.effect("lock: it expires after its ttl without a release", () =>
      Effect.gen(function*() {
        const redis = yield* Redis.Redis
        const name = key("lockttl")
        yield* redis.lock(name, { ttl: "150 millis" })
        yield* eventually("the lock key expires", Effect.map(redis.exists([name]), (n) => n === 0))
        // Someone else can take it now, without waiting for our scope.
        const token = yield* Effect.scoped(Effect.map(redis.lock(name, { ttl: "1 second", retry: Schedule.recurs(0) }), (l) => l.token))
        assert.isString(token)
      }))

    it.effect("lock: a ttl that is not positive is refused", () =>
      Effect.gen(function*() {
        const redis = yield* Redis.Redis
        const error = yield* Effect.scoped(redis.lock(key("lock0"), { ttl: 0 })).pipe(Effect.flip)
        assert.strictEqual(error.reason._tag, "InvalidArgument")
      }))

    // -------------------------------------------------------------------------
    // execute, withConnection
    // -------------------------------------------------------------------------
    it.effect("the service has a method per command builder, and none for the pure parsers", () =>
      Effect.gen(function*() {
        const redis = yield* Redis.Redis
        assert.isFunction(redis.xautoclaim)
        assert.isUndefined((redis as unknown as Record<string, unknown>)["parseInfo"])
        assert.isUndefined((redis as unknown as Record<string, unknown>)["parseClientList"])
      }))

    it.effect("execute refuses connection-state commands on the shared connection", () =>
      Effect.gen(function*() {
        const redis = yield* Redis.Redis
        for (const command of [Commands.select(1), Commands.multi(), Commands.clientSetname("x"), Commands.clientReply("ON")]) {
          const error = yield* redis.execute(command as Command.Command<unknown>).pipe(Effect.flip)
          assert.strictEqual(error.reason._tag, "InvalidArgument", command.name)
          assert.match(error.message, /connection state/)
        }
      }))

    it.effect("clientReply OFF/SKIP are refused even on a dedicated connection", () =>
      Effect.gen(function*() {
        const redis = yield* Redis.Redis
        for (const mode of ["OFF", "SKIP"] as const) {
          const error = yield* redis.withConnection((c) => c.send(Commands.clientReply(mode))).pipe(Effect.flip)
          assert.strictEqual(error.reason._tag, "InvalidArgument")
          assert.match(error.message, /CLIENT REPLY/)
        }
        // ON is harmless on a dedicated connection.
        yield* redis.withConnection((c) => c.send(Commands.clientReply("ON")))
      }))

    it.effect("withConnection: connection state stays on that connection", () =>
      Effect.gen(function*() {
        const redis = yield* Redis.Redis
        const k = key("db1")
        yield* redis.withConnection((c) =>
          Effect.gen(function*() {
            yield* c.send(Commands.select(1))
            yield* c.send(Commands.set(k, "in-db-1"))
            assert.deepStrictEqual(yield* c.send(Commands.get(k)), Option.some("in-db-1"))
            // Leave the connection as we found it.
            yield* c.send(Commands.select(0))
          }))
        assert.isTrue(Option.isNone(yield* redis.get(k)))
      }))

    it.effect("a pooled dedicated connection killed while idle is usable again", () =>
      Effect.gen(function*() {
        const redis = yield* Redis.Redis
        const server = yield* RedisServer.RedisServer
        const id = yield* redis.withConnection((c) => c.send(Commands.clientId()))
        assert.strictEqual(yield* server.clientKill("ID", String(id)), 1)
        // The next borrower gets a connection that answers (not "not connected").
        assert.strictEqual(yield* redis.withConnection((c) => c.send(Commands.ping())), "PONG")
        const k = key("afteridlekill")
        const [n] = yield* redis.transaction([Commands.incr(k)])
        assert.strictEqual(n, 1)
      }))

    it.effect("events carry the shared connection's lifecycle: Disconnected, then Ready, after a CLIENT KILL", () =>
      Effect.gen(function*() {
        const server = yield* RedisServer.RedisServer
        const redis = yield* extraClient()
        const node = `127.0.0.1:${server.port}`
        const seen: Array<string> = []
        yield* redis.events.pipe(
          Stream.runForEach((e) =>
            Effect.sync(() => {
              if (e._tag === "Connection") seen.push(`${e.event._tag} ${e.event.node}`)
            })
          ),
          Effect.forkScoped
        )
        // The stream subscribes when its fiber starts: kill until it has seen
        // one whole drop and return (no assumption on when that is).
        yield* eventually(
          "Disconnected then Ready on the client's node",
          Effect.gen(function*() {
            const at = seen.indexOf(`Disconnected ${node}`)
            if (at >= 0 && seen.indexOf(`Ready ${node}`, at) > at) return true
            if (at < 0) yield* server.clientKill("ID", String(yield* redis.clientId()))
            return false
          }),
          { intervalMs: 50 }
        )
        assert.strictEqual(yield* redis.ping(), "PONG")
      }))

    // -------------------------------------------------------------------------
    // SCAN streams
    // -------------------------------------------------------------------------
    it.effect("scanStream, hscanStream, sscanStream, zscanStream visit every element", () =>
      Effect.gen(function*() {
        const redis = yield* Redis.Redis
        const prefix = key("scan")
        yield* redis.pipeline(Array.from({ length: 250 }, (_, i) => Commands.set(`${prefix}:${i}`, "x")))
        const keys = yield* Stream.runCollect(redis.scanStream({ match: `${prefix}:*`, count: 50 }))
        assert.strictEqual(new Set(keys).size, 250)
        const h = key("hscan")
        yield* redis.hset(h, Object.fromEntries(Array.from({ length: 300 }, (_, i) => [`f${i}`, `v${i}`])))
        const pairs = yield* Stream.runCollect(redis.hscanStream(h, { count: 20 }))
        assert.strictEqual(new Map(pairs).size, 300)
        assert.strictEqual(new Map(pairs).get("f7"), "v7")
        const s = key("sscan")
        yield* redis.sadd(s, Array.from({ length: 300 }, (_, i) => `m${i}`))
        assert.strictEqual(new Set(yield* Stream.runCollect(redis.sscanStream(s, { count: 30 }))).size, 300)
        const z = key("zscan")
        yield* redis.zadd(z, Array.from({ length: 200 }, (_, i) => ({ member: `z${i}`, score: i })))
        const members = yield* Stream.runCollect(redis.zscanStream(z, { count: 25 }))
        assert.strictEqual(new Set(members.map((m) => m.member)).size, 200)
        assert.strictEqual(members.find((m) => m.member === "z42")?.score, 42)
      }))

    // -------------------------------------------------------------------------
    // custom commands
    // -------------------------------------------------------------------------
    const objectEncoding = CustomCommand.define({
      name: "OBJECT ENCODING",
      args: (k: string) => [k],
      keys: (k) => [k],
      flags: Command.Flags.READONLY,
      decode: Command.Reply.optionalString
    })
    const shout = CustomCommand.define({
      name: "ECHO",
      args: (text: string) => [text.toUpperCase()],
      decode: (reply) => `${Command.Reply.string(reply)}!`,
      validate: (text) => (text.length === 0 ? "nothing to shout" : undefined)
    })

    it.effect("CustomCommand.define builds typed commands that run like built-ins", () =>
      Effect.gen(function*() {
        const redis = yield* Redis.Redis
        const k = key("custom")
        yield* redis.set(k, "12345")
        const command = objectEncoding(k)
        assert.deepStrictEqual(command.args, ["OBJECT", "ENCODING", k])
        assert.deepStrictEqual(command.keys, [k])
        assert.strictEqual(command.name, "OBJECT")
        assert.deepStrictEqual(yield* redis.execute(command), Option.some("int"))
        assert.deepStrictEqual(yield* redis.execute(objectEncoding(key("missing"))), Option.none())
        assert.strictEqual(yield* redis.execute(shout("hey")), "HEY!")
        assert.isTrue((shout("x").flags & Command.Flags.NO_KEYS) !== 0)
      }))

    it.effect("custom commands work in pipelines and transactions; validation fails before sending", () =>
      Effect.gen(function*() {
        const redis = yield* Redis.Redis
        const k = key("customtx")
        const [a, b] = yield* redis.pipeline([shout("one"), objectEncoding(k)])
        assert.strictEqual(a, "ONE!")
        assert.deepStrictEqual(b, Option.none())
        const [, enc, s] = yield* redis.transaction([Commands.set(k, "abc"), objectEncoding(k), shout("two")])
        assert.deepStrictEqual(enc, Option.some("embstr"))
        assert.strictEqual(s, "TWO!")
        const refused = yield* redis.execute(shout("")).pipe(Effect.flip)
        assert.strictEqual(refused.reason._tag, "InvalidArgument")
        assert.match(refused.message, /nothing to shout/)
        // A command the server does not know (no module loaded) is a ReplyError.
        const jsonGet = CustomCommand.define({ name: "JSON.GET", keys: (k: string, _path: string) => [k], decode: Command.Reply.optionalString })
        const unknown = yield* redis.execute(jsonGet(k, "$")).pipe(Effect.flip)
        assert.strictEqual(unknown.reason._tag, "ReplyError")
        assert.match(unknown.message, /unknown command/i)
      }))

    it.effect("a BLOCKING custom command runs on a dedicated connection", () =>
      Effect.gen(function*() {
        const redis = yield* Redis.Redis
        const k = key("customblock")
        const blpop = CustomCommand.define({
          name: "BLPOP",
          args: (k: string, timeout: number) => [k, timeout],
          keys: (k) => [k],
          flags: Command.Flags.BLOCKING | Command.Flags.WRITE
        })
        const fiber = yield* Effect.forkChild(redis.execute(blpop(k, 0)))
        // The shared connection is not stuck behind the BLPOP.
        yield* eventually("the BLPOP is waiting", Effect.map(redis.info("clients"), (t) => /blocked_clients:1/.test(t)))
        assert.strictEqual(yield* redis.rpush(k, ["x"]), 1)
        assert.deepStrictEqual(yield* Fiber.join(fiber), [k, "x"])
      }))
  })
})
