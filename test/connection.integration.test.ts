/**
 * The connection under faults and bad input, against real redis-server
 * processes, the fault proxy and the hostile mock server: the connection's
 * promises in docs/GUARANTEES.md (at most once, never a reply to the wrong
 * caller, typed failures), authentication and TLS.
 *
 * These tests assert invariants — no reply to the wrong caller, no
 * duplicate, nothing acknowledged lost, the right error reason and outcome —
 * and print the timings they measure instead of asserting them.
 */
import { assert, describe, it } from "@effect/vitest"
import { NodeTransport } from "@redis-effect/node"
import * as Commands from "@redis-effect/redis/Commands"
import * as Connection from "@redis-effect/redis/Connection"
import type * as PubSub from "@redis-effect/redis/PubSub"
import * as RedisConfig from "@redis-effect/redis/RedisConfig"
import * as RedisError from "@redis-effect/redis/RedisError"
import * as Standalone from "@redis-effect/redis/Standalone"
import { FaultProxy, MockServer, RedisServer } from "@redis-effect/testing"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"
import * as Option from "effect/Option"
import * as Redacted from "effect/Redacted"
import * as Schedule from "effect/Schedule"
import * as Stream from "effect/Stream"

const client = (options: Standalone.Options) => Standalone.make(options).pipe(Effect.provide(NodeTransport.layer))

const fastReconnect = Schedule.spaced("50 millis").pipe(
  Schedule.upTo({ times: 100 }),
  Schedule.setInputType<RedisError.RedisError>()
)

const failureOf = <A>(exit: Exit.Exit<A, RedisError.RedisError>): RedisError.RedisError => {
  assert.isTrue(Exit.isFailure(exit), "expected a failure")
  const found = RedisError.failureOf(exit)
  assert.isDefined(found)
  return found!
}

describe("authentication", () => {
  it.live("a wrong password fails with AuthError, promptly, and the password is nowhere in the error", () =>
    Effect.gen(function*() {
      const server = yield* RedisServer.make({ password: "right-one" })
      const redis = yield* client({ port: server.port, password: Redacted.make("hunter2-wrong") })
      const error = yield* Effect.flip(redis.ping())
      assert.strictEqual(error.reason._tag, "AuthError")
      assert.strictEqual(error.outcome, "NotSent")
      const printed = `${error.message} ${JSON.stringify(error)} ${String(error)}`
      assert.notInclude(printed, "hunter2-wrong")
      assert.notInclude(printed, "right-one")
    }).pipe(Effect.scoped))

  it.live("a password from the URL and an ACL user authenticate; ACL rules are enforced", () =>
    Effect.gen(function*() {
      const server = yield* RedisServer.make({
        password: "pw",
        aclUsers: [{ name: "app", password: "app-pw", rules: "~app:* +get +set +ping +hello +client +acl" }]
      })
      const asDefault = yield* client({ url: server.url })
      assert.strictEqual(yield* asDefault.ping(), "PONG")
      const app = yield* client({ url: `redis://app:app-pw@127.0.0.1:${server.port}` })
      assert.isTrue(yield* app.set("app:1", "x"))
      assert.strictEqual(yield* app.aclWhoami(), "app")
      const denied = yield* Effect.flip(app.set("other", "x"))
      assert.strictEqual(denied.outcome, "Rejected")
      assert.match(denied.message, /NOPERM/)
    }).pipe(Effect.scoped))

  it.live("a credentials provider runs on every connect, so a rotated password works after a reconnect", () =>
    Effect.gen(function*() {
      const server = yield* RedisServer.make({ password: "first" })
      let current = "first"
      let calls = 0
      const redis = yield* client({
        port: server.port,
        reconnect: fastReconnect,
        credentials: Effect.sync(() => {
          calls++
          return { password: Redacted.make(current) }
        })
      })
      assert.strictEqual(yield* redis.ping(), "PONG")
      yield* server.cli("CONFIG", "SET", "requirepass", "second")
      current = "second"
      yield* server.cliAs({ password: "second" }, "CLIENT", "KILL", "TYPE", "normal")
      // The next command may race the reconnect; a read is retried safely.
      assert.deepStrictEqual(yield* redis.get("missing"), Option.none())
      assert.isAtLeast(calls, 2)
    }).pipe(Effect.scoped))
})

describe("TLS", () => {
  it.live("connects over rediss:// with the test CA; a wrong host name is refused", () =>
    Effect.gen(function*() {
      const server = yield* RedisServer.make({ tls: true })
      const tls = server.tls!
      const good = yield* client({ host: "127.0.0.1", port: server.port, tls: { ca: tls.ca } })
      assert.strictEqual(yield* good.echo("over tls"), "over tls")

      const wrong = yield* RedisServer.make({ tls: { certificate: "wronghost", material: tls.material } })
      const bad = yield* client({
        host: "127.0.0.1",
        port: wrong.port,
        tls: { ca: tls.ca },
        reconnect: Schedule.recurs(1).pipe(Schedule.setInputType<RedisError.RedisError>())
      })
      const error = yield* Effect.flip(bad.ping())
      assert.strictEqual(error.reason._tag, "ConnectionError")
      assert.strictEqual(error.outcome, "NotSent")
    }).pipe(Effect.scoped))

  it.live("an expired or untrusted certificate is refused", () =>
    Effect.gen(function*() {
      const base = yield* RedisServer.make({ tls: true })
      const material = base.tls!.material
      for (const certificate of ["expired", "untrusted"] as const) {
        const server = yield* RedisServer.make({ tls: { certificate, material } })
        const redis = yield* client({
          host: "127.0.0.1",
          port: server.port,
          tls: { ca: base.tls!.ca },
          reconnect: Schedule.recurs(0).pipe(Schedule.setInputType<RedisError.RedisError>())
        })
        const error = yield* Effect.flip(redis.ping())
        assert.strictEqual(error.reason._tag, "ConnectionError", certificate)
      }
    }).pipe(Effect.scoped))
})

describe("unreachable and offline", () => {
  it.live("an unreachable port fails with ConnectionError/NotSent once the reconnect schedule gives up", () =>
    Effect.gen(function*() {
      const server = yield* RedisServer.make()
      const port = server.port
      yield* server.kill
      const started = Date.now()
      const redis = yield* client({
        port,
        reconnect: Schedule.spaced("20 millis").pipe(Schedule.upTo({ times: 3 }), Schedule.setInputType<RedisError.RedisError>())
      })
      const error = yield* Effect.flip(redis.set("k", "v"))
      assert.strictEqual(error.reason._tag, "ConnectionError")
      assert.strictEqual(error.outcome, "NotSent")
      assert.include(error.message, `127.0.0.1:${port}`)
      console.log(`unreachable: failed after ${Date.now() - started} ms`)
    }).pipe(Effect.scoped))

  it.live("commands issued while the server is down wait in the offline queue and complete after it returns", () =>
    Effect.gen(function*() {
      const server = yield* RedisServer.make()
      const redis = yield* client({ port: server.port, reconnect: fastReconnect })
      assert.isTrue(yield* redis.set("before", "1"))
      yield* server.kill
      const fiber = yield* Effect.forkChild(
        Effect.forEach(Array.from({ length: 50 }, (_, i) => i), (i) => redis.set(`offline:${i}`, String(i)), {
          concurrency: "unbounded"
        })
      )
      yield* Effect.sleep("300 millis")
      yield* server.restart
      const results = yield* Fiber.join(fiber)
      assert.deepStrictEqual(results, Array.from({ length: 50 }, () => true))
      assert.deepStrictEqual(yield* redis.get("offline:49"), Option.some("49"))
    }).pipe(Effect.scoped))

  it.live("with the `fail` offline policy, commands issued while down fail NotSent at once", () =>
    Effect.gen(function*() {
      const server = yield* RedisServer.make()
      const redis = yield* client({ port: server.port, offline: { _tag: "fail" }, reconnect: fastReconnect })
      assert.strictEqual(yield* redis.ping(), "PONG")
      yield* server.kill
      yield* Effect.sleep("200 millis")
      const error = yield* Effect.flip(redis.set("k", "v"))
      assert.strictEqual(error.outcome, "NotSent")
      assert.strictEqual(error.reason._tag, "ConnectionError")
    }).pipe(Effect.scoped))
})

describe("server-initiated close and restarts (W1 append log)", () => {
  it.live("CLIENT KILL every 150 ms under unique appends: no duplicate, nothing acknowledged lost", () =>
    Effect.gen(function*() {
      const server = yield* RedisServer.make()
      const redis = yield* client({ port: server.port, reconnect: fastReconnect })
      const acked = new Set<string>()
      const outcomes: Record<string, number> = {}
      let stop = false
      const worker = (w: number) =>
        Effect.gen(function*() {
          for (let seq = 0; !stop; seq++) {
            const value = `${w}:${seq}`
            const exit = yield* Effect.exit(redis.rpush(`log:{${w % 8}}`, [value]))
            if (Exit.isSuccess(exit)) acked.add(value)
            else {
              const e = failureOf(exit)
              outcomes[`${e.reason._tag}/${e.outcome}`] = (outcomes[`${e.reason._tag}/${e.outcome}`] ?? 0) + 1
            }
          }
        })
      const workers = yield* Effect.forkChild(Effect.all(Array.from({ length: 20 }, (_, w) => worker(w)), { concurrency: "unbounded" }))
      for (let i = 0; i < 20; i++) {
        yield* Effect.sleep("150 millis")
        yield* server.clientKill("TYPE", "normal")
      }
      stop = true
      yield* Fiber.join(workers)
      const seen = new Map<string, number>()
      for (let k = 0; k < 8; k++) {
        const items = yield* redis.lrange(`log:{${k}}`, 0, -1)
        for (const item of items) seen.set(item, (seen.get(item) ?? 0) + 1)
      }
      const duplicates = [...seen.values()].filter((n) => n > 1).length
      const lost = [...acked].filter((v) => !seen.has(v)).length
      console.log(`CLIENT KILL x20: acked ${acked.size}, stored ${seen.size}, duplicates ${duplicates}, lost ${lost}, errors`, outcomes)
      assert.strictEqual(duplicates, 0)
      assert.strictEqual(lost, 0)
      assert.isAbove(acked.size, 100)
      // A write in flight when the connection died is Unknown, never resent.
      for (const key of Object.keys(outcomes)) assert.match(key, /^(ConnectionError\/Unknown|ConnectionError\/NotSent)$/)
    }).pipe(Effect.scoped), { timeout: 60_000 })

  it.live("server killed and restarted (AOF always) mid-workload: recovers, no duplicates, acked writes kept", () =>
    Effect.gen(function*() {
      const server = yield* RedisServer.make({ appendonly: true })
      const redis = yield* client({ port: server.port, reconnect: fastReconnect })
      const acked = new Set<string>()
      let stop = false
      let firstOkAfterRestart = 0
      let restartedAt = 0
      const worker = (w: number) =>
        Effect.gen(function*() {
          for (let seq = 0; !stop; seq++) {
            const exit = yield* Effect.exit(redis.sadd(`set:{${w}}`, [`${w}:${seq}`]))
            if (Exit.isSuccess(exit)) {
              acked.add(`${w}:${seq}`)
              if (restartedAt > 0 && firstOkAfterRestart === 0) firstOkAfterRestart = Date.now()
            } else yield* Effect.sleep("5 millis")
          }
        })
      const workers = yield* Effect.forkChild(Effect.all(Array.from({ length: 10 }, (_, w) => worker(w)), { concurrency: "unbounded" }))
      yield* Effect.sleep("300 millis")
      yield* server.kill
      yield* Effect.sleep("200 millis")
      yield* server.restart
      restartedAt = Date.now()
      yield* Effect.sleep("500 millis")
      stop = true
      yield* Fiber.join(workers)
      let stored = 0
      const missing: Array<string> = []
      for (let w = 0; w < 10; w++) {
        const members = new Set(yield* redis.smembers(`set:{${w}}`))
        stored += members.size
        for (const v of acked) if (v.startsWith(`${w}:`) && !members.has(v)) missing.push(v)
      }
      console.log(`kill+restart: acked ${acked.size}, stored ${stored}, TTR1 after restart ${firstOkAfterRestart - restartedAt} ms`)
      assert.isAbove(firstOkAfterRestart, 0)
      assert.deepStrictEqual(missing, [])
    }).pipe(Effect.scoped), { timeout: 60_000 })
})

describe("replies go to their callers", () => {
  it.live("interrupting random in-flight commands never hands a reply to the wrong caller", () =>
    Effect.gen(function*() {
      const server = yield* RedisServer.make()
      const redis = yield* client({ port: server.port })
      let mismatches = 0
      let completed = 0
      let interrupted = 0
      for (let round = 0; round < 20; round++) {
        const fibers = yield* Effect.forEach(Array.from({ length: 250 }, (_, i) => `${round}-${i}-${Math.random()}`), (token) =>
          Effect.forkChild(
            Effect.map(redis.echo(token), (reply) => {
              completed++
              if (reply !== token) mismatches++
            })
          ))
        // Interrupt a random third, some before and some after their write.
        for (const fiber of fibers) {
          if (Math.random() < 0.33) {
            if (Math.random() < 0.5) yield* Effect.yieldNow
            yield* Fiber.interrupt(fiber)
            interrupted++
          }
        }
        yield* Effect.forEach(fibers, (f) => Effect.exit(Fiber.await(f)), { discard: true })
      }
      // The connection is still in step afterwards.
      for (let i = 0; i < 100; i++) assert.strictEqual(yield* redis.echo(`after-${i}`), `after-${i}`)
      console.log(`interruption: ${completed} completed, ${interrupted} interrupted, ${mismatches} mismatched`)
      assert.strictEqual(mismatches, 0)
      assert.isAbove(completed, 1000)
    }).pipe(Effect.scoped), { timeout: 60_000 })

  it.live("binary values with every byte 0..255 and a 10 MB value round-trip exactly", () =>
    Effect.gen(function*() {
      const server = yield* RedisServer.make()
      const redis = yield* client({ port: server.port })
      const all = Uint8Array.from({ length: 256 }, (_, i) => i)
      assert.isTrue(yield* redis.set(all, all))
      const back = yield* redis.getBytes(all)
      assert.deepStrictEqual(Option.getOrThrow(back), all)
      const big = new Uint8Array(10 * 1024 * 1024)
      for (let i = 0; i < big.length; i++) big[i] = (i * 31 + 7) & 0xff
      assert.isTrue(yield* redis.set("big", big))
      const bigBack = Option.getOrThrow(yield* redis.getBytes("big"))
      assert.strictEqual(bigBack.length, big.length)
      assert.isTrue(Buffer.compare(bigBack, big) === 0)
      assert.strictEqual(yield* redis.strlen("big"), big.length)
    }).pipe(Effect.scoped), { timeout: 60_000 })
})

describe("hostile replies (mock server)", () => {
  const mockWith = (payload: string | Uint8Array) =>
    MockServer.make((cmd) => (cmd.name === "GET" ? payload : cmd.name === "ECHO" ? MockServer.bulk(String(cmd.argv[1])) : undefined))

  for (const name of ["badtype", "neglen", "badint", "nocrlf"] as const) {
    it.live(`${name}: ProtocolError for that caller, the connection is replaced, later commands work`, () =>
      Effect.gen(function*() {
        const mock = yield* mockWith(MockServer.Payloads[name] as string | Uint8Array)
        const redis = yield* client({ port: mock.port, reconnect: fastReconnect })
        assert.strictEqual(yield* redis.echo("before"), "before")
        const error = yield* Effect.flip(redis.get("x"))
        assert.strictEqual(error.reason._tag, "ProtocolError")
        assert.strictEqual(yield* redis.echo("after"), "after")
        assert.isAtLeast(yield* mock.accepted, 2)
      }).pipe(Effect.scoped))
  }

  it.live("a nesting bomb is refused without a stack overflow; a declared huge bulk is refused at its header", () =>
    Effect.gen(function*() {
      const deep = "*1\r\n".repeat(100_000) + ":1\r\n"
      const huge = "$1073741824\r\n"
      const mock = yield* MockServer.make((cmd) =>
        cmd.name === "GET" ? (String(cmd.argv[1]) === "deep" ? deep : huge) : cmd.name === "ECHO" ? MockServer.bulk(String(cmd.argv[1])) : undefined
      )
      const redis = yield* client({ port: mock.port, reconnect: fastReconnect, maxBulkLength: 64 * 1024 * 1024 })
      const e1 = yield* Effect.flip(redis.get("deep"))
      assert.strictEqual(e1.reason._tag, "ProtocolError")
      const e2 = yield* Effect.flip(redis.get("huge"))
      assert.strictEqual(e2.reason._tag, "ProtocolError")
      assert.strictEqual(yield* redis.echo("still fine"), "still fine")
    }).pipe(Effect.scoped))

  it.live("a server that refuses HELLO gets RESP2: AUTH, then commands", () =>
    Effect.gen(function*() {
      const mock = yield* MockServer.make(
        (cmd) => (cmd.name === "ECHO" ? MockServer.bulk(String(cmd.argv[1])) : undefined),
        { handshake: { hello: false, password: "pw" } }
      )
      const connection = yield* Connection.make({ endpoint: RedisConfig.tcp("127.0.0.1", mock.port), password: Redacted.make("pw") })
        .pipe(Effect.provide(NodeTransport.layer))
      assert.strictEqual(yield* connection.send(Commands.echo("resp2")), "resp2")
      assert.strictEqual(connection.protocol(), 2)
      assert.isTrue((yield* mock.received).some((argv) => argv[0]?.toUpperCase() === "AUTH"))
    }).pipe(Effect.scoped))
})

describe("timeouts and frozen peers", () => {
  it.live("a peer that accepts TCP but never answers the handshake fails Timeout within connectTimeout", () =>
    Effect.gen(function*() {
      const mock = yield* MockServer.make(() => MockServer.hang, { handshake: false })
      const redis = yield* client({
        port: mock.port,
        connectTimeout: "300 millis",
        reconnect: Schedule.recurs(1).pipe(Schedule.setInputType<RedisError.RedisError>())
      })
      const error = yield* Effect.flip(redis.ping())
      assert.strictEqual(error.reason._tag, "Timeout")
      assert.strictEqual(error.outcome, "NotSent")
    }).pipe(Effect.scoped))

  it.live("a paused server: commands fail Timeout/Unknown after commandTimeout; after resume it works again", () =>
    Effect.gen(function*() {
      const server = yield* RedisServer.make()
      const redis = yield* client({ port: server.port, commandTimeout: "300 millis", reconnect: fastReconnect })
      assert.strictEqual(yield* redis.ping(), "PONG")
      yield* server.pause
      const started = Date.now()
      const error = yield* Effect.flip(redis.incr("counter"))
      const waited = Date.now() - started
      yield* server.resume
      assert.strictEqual(error.reason._tag, "Timeout")
      assert.strictEqual(error.outcome, "Unknown")
      console.log(`frozen server: timeout after ${waited} ms`)
      assert.strictEqual(yield* redis.echo("back"), "back")
    }).pipe(Effect.scoped))

  it.live("a frozen proxy with a health check: the dead connection is replaced", () =>
    Effect.gen(function*() {
      const server = yield* RedisServer.make()
      const proxy = yield* FaultProxy.make({ target: { host: "127.0.0.1", port: server.port } })
      const redis = yield* client({ port: proxy.port, healthCheckInterval: "200 millis", reconnect: fastReconnect })
      assert.strictEqual(yield* redis.ping(), "PONG")
      yield* proxy.freeze
      yield* Effect.sleep("800 millis")
      yield* proxy.unfreeze
      assert.strictEqual(yield* redis.echo("alive"), "alive")
      assert.isAtLeast(yield* proxy.accepted, 2)
    }).pipe(Effect.scoped))
})

describe("pub/sub gaps", () => {
  it.live("a subscriber connection killed by the server resubscribes and emits a reconnect gap", () =>
    Effect.gen(function*() {
      const server = yield* RedisServer.make()
      const redis = yield* client({ port: server.port, reconnect: fastReconnect })
      const events: Array<PubSub.Event> = []
      yield* redis.subscribeWithGaps("ticks").pipe(Stream.runForEach((e) => Effect.sync(() => events.push(e))), Effect.forkChild)
      const publishUntil = (got: () => boolean) =>
        Effect.gen(function*() {
          for (let i = 0; i < 100 && !got(); i++) {
            yield* redis.publish("ticks", `t${i}`)
            yield* Effect.sleep("20 millis")
          }
        })
      yield* publishUntil(() => events.length > 0)
      yield* server.clientKill("TYPE", "pubsub")
      const gapAt = () => events.findIndex((e) => e.kind === "gap")
      yield* publishUntil(() => gapAt() >= 0 && events.slice(gapAt()).some((e) => e.kind === "channel"))
      const gap = events[gapAt()]
      assert.isDefined(gap)
      assert.deepStrictEqual(gap, { kind: "gap", reason: "reconnect", subscription: "channel", names: ["ticks"] })
      assert.isTrue(events.slice(gapAt() + 1).some((e) => e.kind === "channel"), "messages after the gap")
      // Plain subscribe streams never see gap events.
      assert.isTrue(events.slice(0, gapAt()).every((e) => e.kind === "channel"))
    }).pipe(Effect.scoped))
})

describe("configuration", () => {
  it.live("the database from the URL is selected on every connection", () =>
    Effect.gen(function*() {
      const server = yield* RedisServer.make()
      const redis = yield* client({ url: `redis://127.0.0.1:${server.port}/3`, reconnect: fastReconnect })
      assert.isTrue(yield* redis.set("in-db-3", "yes"))
      assert.strictEqual(yield* server.cli("-n", "3", "GET", "in-db-3"), "yes")
      yield* server.clientKill("TYPE", "normal")
      assert.deepStrictEqual(yield* redis.get("in-db-3"), Option.some("yes"))
    }).pipe(Effect.scoped))

  it.live("unix sockets and client names", () =>
    Effect.gen(function*() {
      const probe = yield* RedisServer.make()
      const path = `${probe.dir}/redis.sock`
      const server = yield* RedisServer.make({ extraArgs: ["--unixsocket", path, "--unixsocketperm", "700"] })
      void server
      const redis = yield* client({ url: `unix://${path}`, clientName: "effect-test" })
      assert.deepStrictEqual(yield* redis.clientGetname(), Option.some("effect-test"))
    }).pipe(Effect.scoped))

  it.live("flush: 'task' writes at the end of the task; 'ioTurn' waits for the loop turn's callbacks", () =>
    Effect.gen(function*() {
      const server = yield* RedisServer.make()
      // One command now, one from an immediate queued before it: with
      // "task" they leave in two writes; with "ioTurn" the flush is queued
      // after that immediate, so both leave in one.
      const writesFor = (flush: "task" | "ioTurn") =>
        Effect.gen(function*() {
          const connection = yield* Connection.make({ endpoint: RedisConfig.tcp("127.0.0.1", server.port), flush })
          yield* connection.awaitReady
          // Settle the flush that becoming ready schedules.
          yield* connection.send(Commands.ping())
          const before = connection.stats().writes
          let second: Fiber.Fiber<string, RedisError.RedisError> | undefined
          setImmediate(() => {
            second = Effect.runFork(connection.send(Commands.echo("second")))
          })
          assert.strictEqual(yield* connection.send(Commands.echo("first")), "first")
          // The immediate ran before the first reply could be read.
          assert.isDefined(second)
          assert.strictEqual(yield* Fiber.join(second!), "second")
          return connection.stats().writes - before
        }).pipe(Effect.scoped, Effect.provide(NodeTransport.layer))
      assert.strictEqual(yield* writesFor("task"), 2)
      assert.strictEqual(yield* writesFor("ioTurn"), 1)
    }).pipe(Effect.scoped))

  it.live("invalid URLs and ports fail before connecting", () =>
    Effect.gen(function*() {
      const e1 = yield* Effect.flip(client({ url: "http://nope" }))
      assert.strictEqual(e1.reason._tag, "InvalidArgument")
      const e2 = yield* Effect.flip(client({ port: 70000 }))
      assert.strictEqual(e2.reason._tag, "InvalidArgument")
      const e3 = yield* Effect.flip(client({ url: "redis://:secret-pw@localhost:6379/notadb" }))
      assert.notInclude(e3.message, "secret-pw")
    }).pipe(Effect.scoped))

  it.live("a maxclients refusal is a definite failure; the command is not lost later", () =>
    Effect.gen(function*() {
      const server = yield* RedisServer.make()
      const first = yield* client({ port: server.port })
      assert.strictEqual(yield* first.ping(), "PONG")
      yield* server.config("maxclients", "1")
      const second = yield* client({
        port: server.port,
        reconnect: Schedule.recurs(1).pipe(Schedule.setInputType<RedisError.RedisError>())
      })
      const error = yield* Effect.flip(second.set("never", "1"))
      assert.strictEqual(error.outcome, "NotSent")
      assert.strictEqual(yield* first.exists(["never"]), 0)
      void Duration
    }).pipe(Effect.scoped))
})
