/**
 * The server and connection command families against a real redis-server:
 * PING/ECHO/TIME/DBSIZE, INFO and parseInfo, CONFIG, COMMAND, ROLE, SLOWLOG,
 * MEMORY USAGE, ACL, CLIENT *, DEBUG SLEEP on a dedicated connection, and
 * WAIT against a real replica.
 */
import { assert, describe, it } from "@effect/vitest"
import * as NodeTransport from "@redis-effect/node/NodeTransport"
import * as Commands from "@redis-effect/redis/Commands"
import * as Redis from "@redis-effect/redis/Redis"
import * as Standalone from "@redis-effect/redis/Standalone"
import * as RedisServer from "@redis-effect/testing/RedisServer"
import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"
import * as Option from "effect/Option"
import * as Redacted from "effect/Redacted"
import { eventually, extraClient, key, serverWithClient } from "./redis-helpers.ts"

describe("server and connection commands", () => {
  it.layer(serverWithClient({}, { clientName: "svc-main" }), { excludeTestServices: true })("standalone", (it) => {
    it.effect("PING, ECHO, TIME", () =>
      Effect.gen(function*() {
        const redis = yield* Redis.Redis
        assert.strictEqual(yield* redis.ping(), "PONG")
        assert.strictEqual(yield* redis.ping("hi"), "hi")
        assert.strictEqual(yield* redis.echo("héllo"), "héllo")
        const t = yield* redis.time()
        assert.isTrue(Number.isInteger(t.seconds) && Math.abs(t.seconds - Date.now() / 1000) < 60)
        assert.isTrue(t.microseconds >= 0 && t.microseconds < 1_000_000)
      }))

    it.effect("DBSIZE counts keys of the selected database", () =>
      Effect.gen(function*() {
        const redis = yield* Redis.Redis
        const before = yield* redis.dbsize()
        yield* redis.set(key("a"), "1")
        yield* redis.set(key("b"), "1")
        assert.strictEqual(yield* redis.dbsize(), before + 2)
      }))

    it.effect("INFO and parseInfo", () =>
      Effect.gen(function*() {
        const redis = yield* Redis.Redis
        yield* redis.set(key("info"), "x")
        const all = Commands.parseInfo(yield* redis.info())
        assert.strictEqual(all.server.redis_version, "7.0.15")
        assert.strictEqual(all.server.tcp_port, String((yield* RedisServer.RedisServer).port))
        assert.match(all.keyspace.db0, /^keys=\d+,expires=\d+/)
        const some = Commands.parseInfo(yield* redis.info(["clients", "memory"]))
        assert.deepStrictEqual(Object.keys(some).sort(), ["clients", "memory"])
        assert.isAtLeast(Number(some.clients.connected_clients), 1)
        const one = Commands.parseInfo(yield* redis.info("replication"))
        assert.strictEqual(one.replication.role, "master")
      }))

    it.effect("CONFIG GET and SET", () =>
      Effect.gen(function*() {
        const redis = yield* Redis.Redis
        const before = yield* redis.configGet("maxmemory-samples")
        assert.deepStrictEqual(Object.keys(before), ["maxmemory-samples"])
        yield* redis.configSet({ "maxmemory-samples": 7, "slowlog-max-len": "64" })
        const after = yield* redis.configGet(["maxmemory-samples", "slowlog-max-len"])
        assert.deepStrictEqual(after, { "maxmemory-samples": "7", "slowlog-max-len": "64" })
        const globbed = yield* redis.configGet("maxmemory-*")
        assert.isTrue(Object.keys(globbed).length > 2 && globbed["maxmemory-samples"] === "7")
        const bad = yield* redis.configSet({ "no-such-parameter": "1" }).pipe(Effect.flip)
        assert.strictEqual(bad.reason._tag, "ReplyError")
        yield* redis.configSet([["maxmemory-samples", before["maxmemory-samples"]]])
      }))

    it.effect("COMMAND COUNT, GETKEYS, INFO, LIST", () =>
      Effect.gen(function*() {
        const redis = yield* Redis.Redis
        assert.isAbove(yield* redis.commandCount(), 200)
        assert.deepStrictEqual(yield* redis.commandGetkeys(["MSET", "a", "1", "b", "2"]), ["a", "b"])
        assert.deepStrictEqual(yield* redis.commandGetkeys(["EVAL", "return 1", 2, "k1", "k2", "arg"]), ["k1", "k2"])
        const info = yield* redis.commandInfo(["get", "nosuchcommand"])
        assert.strictEqual(info.length, 2)
        assert.isNull(info[1])
        const list = yield* redis.commandList({ pattern: "xa*" })
        assert.deepStrictEqual(list.sort(), ["xack", "xadd", "xautoclaim"])
      }))

    it.effect("ROLE of a standalone master", () =>
      Effect.gen(function*() {
        const redis = yield* Redis.Redis
        const role = yield* redis.role()
        assert.strictEqual(role.role, "master")
        if (role.role === "master") assert.deepStrictEqual(role.replicas, [])
      }))

    it.effect("SLOWLOG GET, LEN, RESET", () =>
      Effect.gen(function*() {
        const redis = yield* Redis.Redis
        yield* redis.configSet({ "slowlog-log-slower-than": 0 })
        yield* redis.slowlogReset()
        const k = key("slow")
        yield* redis.set(k, "v")
        const entries = yield* redis.slowlogGet(-1)
        yield* redis.configSet({ "slowlog-log-slower-than": 10000 })
        const entry = entries.find((e) => e.args[0]?.toLowerCase() === "set" && e.args[1] === k)
        assert.isDefined(entry)
        assert.deepStrictEqual(entry!.args.map((a, i) => (i === 0 ? a.toLowerCase() : a)), ["set", k, "v"])
        assert.isTrue(Option.isSome(entry!.clientAddress))
        assert.deepStrictEqual(entry!.clientName, Option.some("svc-main"))
        assert.isAtLeast(yield* redis.slowlogLen(), 1)
        yield* redis.slowlogReset()
        assert.isAtMost(yield* redis.slowlogLen(), 1)
      }))

    it.effect("MEMORY USAGE of a key, None for a missing one", () =>
      Effect.gen(function*() {
        const redis = yield* Redis.Redis
        const k = key("mem")
        yield* redis.set(k, "x".repeat(1000))
        const usage = yield* redis.memoryUsage(k, { samples: 0 })
        assert.isTrue(Option.isSome(usage) && usage.value >= 1000)
        assert.deepStrictEqual(yield* redis.memoryUsage(key("nokey")), Option.none())
      }))

    it.effect("ACL WHOAMI, SETUSER, GETUSER, USERS, DELUSER; a new user can log in", () =>
      Effect.gen(function*() {
        const redis = yield* Redis.Redis
        assert.strictEqual(yield* redis.aclWhoami(), "default")
        yield* redis.aclSetuser("reader", ["reset", "on", ">reader-pw", "~app:*", "+get", "+acl|whoami"])
        assert.include(yield* redis.aclUsers(), "reader")
        const user = yield* redis.aclGetuser("reader")
        assert.isTrue(Option.isSome(user))
        assert.deepStrictEqual(yield* redis.aclGetuser("nobody"), Option.none())
        const reader = yield* extraClient({ username: "reader", password: Redacted.make("reader-pw") })
        assert.strictEqual(yield* reader.aclWhoami(), "reader")
        const denied = yield* reader.set("app:1", "x").pipe(Effect.flip)
        assert.match(denied.message, /NOPERM/)
        assert.strictEqual(yield* redis.aclDeluser(["reader", "nobody"]), 1)
        assert.notInclude(yield* redis.aclUsers(), "reader")
      }))

    it.effect("CLIENT ID, GETNAME, INFO, LIST: the handshake's clientName names the connection", () =>
      Effect.gen(function*() {
        const redis = yield* Redis.Redis
        const id = yield* redis.clientId()
        assert.deepStrictEqual(yield* redis.clientGetname(), Option.some("svc-main"))
        const me = yield* redis.clientInfo()
        assert.strictEqual(me.id, String(id))
        assert.strictEqual(me.name, "svc-main")
        const list = yield* redis.clientList({ type: "normal" })
        assert.isTrue(list.some((c) => c.id === String(id) && c.name === "svc-main"))
        assert.deepStrictEqual((yield* redis.clientList({ ids: [id] })).map((c) => c.id), [String(id)])
      }))

    it.effect("CLIENT SETNAME is refused on the shared connection and works in withConnection", () =>
      Effect.gen(function*() {
        const redis = yield* Redis.Redis
        const error = yield* redis.clientSetname("renamed").pipe(Effect.flip)
        assert.strictEqual(error.reason._tag, "InvalidArgument")
        assert.deepStrictEqual(yield* redis.clientGetname(), Option.some("svc-main"))
        const named = yield* redis.withConnection((c) =>
          Effect.gen(function*() {
            yield* c.send(Commands.clientSetname("worker-1"))
            const name = yield* c.send(Commands.clientGetname())
            yield* c.send(Commands.clientSetname(""))
            return name
          }))
        assert.deepStrictEqual(named, Option.some("worker-1"))
        const spaced = yield* redis.withConnection((c) => c.send(Commands.clientSetname("a b"))).pipe(Effect.flip)
        assert.strictEqual(spaced.reason._tag, "InvalidArgument")
      }))

    it.effect("clientKill closes another connection by id; the victim client reconnects", () =>
      Effect.gen(function*() {
        const redis = yield* Redis.Redis
        const victim = yield* extraClient({ clientName: "victim" })
        const victimId = yield* victim.clientId()
        assert.strictEqual(yield* redis.clientKill({ id: victimId }), 1)
        assert.strictEqual(yield* redis.clientKill({ id: victimId }), 0)
        // The killed client comes back on a new connection by itself.
        yield* eventually("the victim reconnects", Effect.map(Effect.exit(victim.clientId()), (e) => e._tag === "Success" && e.value !== victimId))
        assert.deepStrictEqual(yield* victim.clientGetname(), Option.some("victim"))
        const none = yield* redis.clientKill({}).pipe(Effect.flip)
        assert.strictEqual(none.reason._tag, "InvalidArgument")
      }))

    it.effect("clientKill of the shared connection itself: the client reconnects and keeps working", () =>
      Effect.gen(function*() {
        const redis = yield* Redis.Redis
        const id = yield* redis.clientId()
        // Killing ourselves: the reply comes back, then the server closes the connection.
        yield* Effect.exit(redis.clientKill({ id, skipme: false }))
        yield* eventually("a new shared connection", Effect.map(Effect.exit(redis.clientId()), (e) => e._tag === "Success" && e.value !== id))
        assert.deepStrictEqual(yield* redis.clientGetname(), Option.some("svc-main"))
        const k = key("afterkill")
        yield* redis.set(k, "ok")
        assert.deepStrictEqual(yield* redis.get(k), Option.some("ok"))
      }))

    it.effect("DEBUG SLEEP runs on a dedicated connection, not the shared one", () =>
      Effect.gen(function*() {
        const redis = yield* Redis.Redis
        const sharedId = yield* redis.clientId()
        const sleeper = yield* Effect.forkChild(redis.debugSleep(0.2))
        // Sent concurrently: queued on the shared connection, answered after the sleep.
        const pong = yield* redis.ping("during")
        yield* Fiber.join(sleeper)
        assert.strictEqual(pong, "during")
        const clients = yield* redis.clientList({ type: "normal" })
        const debugger_ = clients.find((c) => c.cmd === "debug")
        assert.isDefined(debugger_)
        assert.notStrictEqual(debugger_!.id, String(sharedId))
        const shared = clients.find((c) => c.id === String(sharedId))
        assert.notStrictEqual(shared?.cmd, "debug")
      }))

    it.effect("WAIT with no replicas: 0 replicas acknowledge; timeout 0 is refused", () =>
      Effect.gen(function*() {
        const redis = yield* Redis.Redis
        yield* redis.set(key("w"), "1")
        assert.strictEqual(yield* redis.wait(0, 10), 0)
        assert.strictEqual(yield* redis.wait(1, 20), 0)
        const refused = yield* redis.wait(1, 0).pipe(Effect.flip)
        assert.strictEqual(refused.reason._tag, "InvalidArgument")
      }))

    it.effect("LASTSAVE, LATENCY LATEST, LOLWUT", () =>
      Effect.gen(function*() {
        const redis = yield* Redis.Redis
        assert.isAtLeast(yield* redis.lastsave(), 0)
        assert.isTrue(Array.isArray(yield* redis.latencyLatest()))
        assert.include(yield* redis.lolwut({ version: 5 }), "Redis ver.")
      }))

    it.effect("FLUSHDB in another database leaves db 0 alone (via withConnection + SELECT)", () =>
      Effect.gen(function*() {
        const redis = yield* Redis.Redis
        const k = key("keep")
        yield* redis.set(k, "1")
        const sizeInDb3 = yield* redis.withConnection((c) =>
          Effect.gen(function*() {
            yield* c.send(Commands.select(3))
            yield* c.send(Commands.set("x", "1"))
            yield* c.send(Commands.flushdb("SYNC"))
            const n = yield* c.send(Commands.dbsize())
            yield* c.send(Commands.select(0))
            return n
          }))
        assert.strictEqual(sizeInDb3, 0)
        assert.deepStrictEqual(yield* redis.get(k), Option.some("1"))
      }))
  })

  it.live("WAIT on the shared connection counts the replica that got the caller's writes; ROLE shows it", () =>
    Effect.gen(function*() {
      const primary = yield* RedisServer.make()
      const replica = yield* RedisServer.make()
      yield* replica.cli("REPLICAOF", "127.0.0.1", String(primary.port))
      const redis = yield* Standalone.make({ url: primary.url }).pipe(Effect.provide(NodeTransport.layer))
      yield* eventually("the replica is in sync", Effect.map(redis.role(), (r) => r.role === "master" && r.replicas.length === 1), { times: 400 })
      yield* redis.set("replicated", "yes")
      assert.strictEqual(yield* redis.wait(1, 5000), 1)
      assert.strictEqual(yield* replica.cli("GET", "replicated"), "yes")
      const role = yield* redis.role()
      assert.strictEqual(role.role, "master")
      if (role.role === "master") {
        assert.strictEqual(role.replicas[0].port, replica.port)
        assert.isAbove(role.replicationOffset, 0)
      }
      const onReplica = yield* Standalone.make({ url: replica.url }).pipe(Effect.provide(NodeTransport.layer))
      const replicaRole = yield* onReplica.role()
      assert.strictEqual(replicaRole.role, "slave")
      if (replicaRole.role === "slave") {
        assert.strictEqual(replicaRole.masterPort, primary.port)
        assert.strictEqual(replicaRole.state, "connected")
      }
      const readOnly = yield* onReplica.set("x", "1").pipe(Effect.flip)
      assert.strictEqual(readOnly.reason._tag, "ReadOnly")
    }), { timeout: 60_000 })
})
