/**
 * redis-py parity of the connection, the pool, pub/sub and scripts, against
 * real redis-server processes (and the mock server where Redis 7.0 cannot
 * show what was sent): the user's `onConnect` after every handshake,
 * `libName`/`libVersion` in CLIENT SETINFO, TCP keepalive interval and
 * count, TLS key passphrase / minimum version / ciphers / CA from a path,
 * URL query options, the negotiated protocol, the bound on waiting for a
 * dedicated connection, binary pub/sub, NOSCRIPT inside `pipeline` and
 * `transaction`, and bad options refused when the layer is built.
 *
 * Timings are printed, not asserted, beyond "it did not wait for the
 * blocked borrower".
 */
import { assert, describe, it } from "@effect/vitest"
import * as NodeClient from "@redis-effect/node/NodeClient"
import * as NodeTransport from "@redis-effect/node/NodeTransport"
import * as Commands from "@redis-effect/redis/Commands"
import * as RedisError from "@redis-effect/redis/RedisError"
import * as Script from "@redis-effect/redis/Script"
import * as Standalone from "@redis-effect/redis/Standalone"
import { MockServer, RedisServer } from "@redis-effect/testing"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as Redacted from "effect/Redacted"
import * as Schedule from "effect/Schedule"
import * as Stream from "effect/Stream"
import * as ChildProcess from "node:child_process"
import * as Crypto from "node:crypto"
import * as Fs from "node:fs"
import * as Path from "node:path"

const client = (options: Standalone.Options) => Standalone.make(options).pipe(Effect.provide(NodeTransport.layer))

const fastReconnect = Schedule.spaced("50 millis").pipe(
  Schedule.upTo({ times: 100 }),
  Schedule.setInputType<RedisError.RedisError>()
)

const twoAttempts = Schedule.recurs(1).pipe(Schedule.setInputType<RedisError.RedisError>())

const failureOf = <A>(exit: Exit.Exit<A, RedisError.RedisError>): RedisError.RedisError => {
  assert.isTrue(Exit.isFailure(exit), "expected a failure")
  const found = RedisError.failureOf(exit)
  assert.isDefined(found)
  return found!
}

/** Builds `NodeClient.layer(options)` and returns how it failed. */
const layerFailure = (options: Standalone.Options) =>
  Effect.map(Effect.exit(Layer.build(NodeClient.layer(options)).pipe(Effect.scoped)), (exit) => failureOf(exit))

// -----------------------------------------------------------------------------
// onConnect, libName / libVersion
// -----------------------------------------------------------------------------

describe("onConnect", () => {
  it.live("runs after every handshake, before queued commands, with a working send", () =>
    Effect.gen(function*() {
      const server = yield* RedisServer.make()
      let runs = 0
      const protocols: Array<number> = []
      const redis = yield* client({
        port: server.port,
        reconnect: fastReconnect,
        onConnect: (session) =>
          Effect.gen(function*() {
            runs++
            protocols.push(session.protocol)
            yield* session.send(Commands.raw(["CLIENT", "SETNAME", `hooked-${runs}`]))
          })
      })
      // The first command already finds the name set by onConnect.
      assert.deepStrictEqual(yield* redis.clientGetname(), Option.some("hooked-1"))
      yield* server.clientKill("TYPE", "normal")
      // A read after the kill is resent on the new session, after its onConnect.
      const name = yield* redis.clientGetname()
      assert.isTrue(Option.isSome(name) && /^hooked-\d+$/.test(name.value) && name.value !== "hooked-1", String(name))
      assert.isAtLeast(runs, 2)
      assert.deepStrictEqual([...new Set(protocols)], [3])
      // Dedicated connections run it too.
      const onDedicated = yield* redis.withConnection((c) => c.send(Commands.clientGetname()))
      assert.isTrue(Option.isSome(onDedicated) && onDedicated.value.startsWith("hooked-"))
    }).pipe(Effect.scoped))

  it.live("its failure fails the connect attempts: commands fail with its error once the schedule gives up", () =>
    Effect.gen(function*() {
      const server = yield* RedisServer.make()
      const refused = RedisError.invalidArgument("this server is not ours")
      const redis = yield* client({ port: server.port, reconnect: twoAttempts, onConnect: () => Effect.fail(refused) })
      const error = yield* Effect.flip(redis.ping())
      assert.strictEqual(error.reason._tag, "InvalidArgument")
      assert.include(error.message, "this server is not ours")
    }).pipe(Effect.scoped))
})

describe("libName / libVersion", () => {
  it.live("CLIENT SETINFO carries them (seen by the mock); Redis 7.0, which refuses SETINFO, still connects", () =>
    Effect.gen(function*() {
      const mock = yield* MockServer.make(() => undefined)
      const viaMock = yield* client({ port: mock.port, libName: "my-framework(v2)", libVersion: "2.0.1" })
      assert.strictEqual(yield* viaMock.ping(), "PONG")
      const setinfo = (yield* mock.received).filter((argv) => argv[0] === "CLIENT" && argv[1] === "SETINFO")
      assert.deepStrictEqual(setinfo, [
        ["CLIENT", "SETINFO", "LIB-NAME", "my-framework(v2)"],
        ["CLIENT", "SETINFO", "LIB-VER", "2.0.1"]
      ])
      const server = yield* RedisServer.make()
      const real = yield* client({ port: server.port, libName: "my-framework", libVersion: "2.0.1" })
      assert.strictEqual(yield* real.ping(), "PONG")
    }).pipe(Effect.scoped))
})

// -----------------------------------------------------------------------------
// keepalive
// -----------------------------------------------------------------------------

/** The keepalive timer of the client socket whose local port is `port`, as `ss` shows it ("keepalive,6.988ms,0" or "keepalive,54sec,0"). */
const keepAliveTimer = (port: number): string | undefined => {
  const out = ChildProcess.execFileSync("ss", ["-tnoH", "state", "established", `( sport = :${port} )`]).toString()
  return /timer:\(([^)]*)\)/.exec(out)?.[1]
}

/** Whole seconds left on a keepalive timer: `ss` prints them first in both of its forms. */
const keepAliveSeconds = (timer: string | undefined): number => {
  const m = /^keepalive,(\d+)(?:\.\d+)?(?:sec|ms),\d+$/.exec(timer ?? "")
  assert.isNotNull(m, `a keepalive timer: ${timer}`)
  return Number(m![1])
}

describe("TCP keepalive", () => {
  it.live("initial delay, interval and count are applied (TCP and TLS); the delay shows in the socket's timer", () =>
    Effect.gen(function*() {
      const server = yield* RedisServer.make()
      assert.isTrue(NodeTransport.keepAliveProbesSupported, `Node ${process.version} sets interval and count`)
      const redis = yield* client({ port: server.port, keepAlive: "7 seconds", keepAliveInterval: "2 seconds", keepAliveCount: 3 })
      const me = yield* redis.clientInfo()
      const localPort = Number(me.addr.split(":").pop())
      const timer = keepAliveTimer(localPort)
      console.log(`keepalive timer of the client socket: ${timer}`)
      // The OS default would be 7200 s, ours without the option 30 s.
      assert.isAtMost(keepAliveSeconds(timer), 7)
      assert.deepStrictEqual(
        NodeTransport.keepAliveOf({ endpoint: { _tag: "Tcp", host: "h", port: 1 }, keepAlive: "7 seconds", keepAliveInterval: "2 seconds", keepAliveCount: 3 }),
        { enable: true, initialDelay: 7000, interval: 2000, count: 3 }
      )

      const tlsServer = yield* RedisServer.make({ tls: true })
      const overTls = yield* client({
        port: tlsServer.port,
        tls: { ca: tlsServer.tls!.ca },
        keepAlive: "9 seconds",
        keepAliveInterval: "1 second",
        keepAliveCount: 5
      })
      const tlsPort = Number((yield* overTls.clientInfo()).addr.split(":").pop())
      assert.isAtMost(keepAliveSeconds(keepAliveTimer(tlsPort)), 9)
    }).pipe(Effect.scoped))
})

// -----------------------------------------------------------------------------
// TLS
// -----------------------------------------------------------------------------

describe("TLS options", () => {
  it.live("an encrypted client key with its passphrase passes mutual TLS; a wrong passphrase is a ConnectionError", () =>
    Effect.gen(function*() {
      const server = yield* RedisServer.make({ tls: { authClients: "yes" } })
      const tls = server.tls!
      const encrypted = Crypto.createPrivateKey(tls.clientKey).export({
        type: "pkcs8",
        format: "pem",
        cipher: "aes-256-cbc",
        passphrase: "open sesame"
      }) as string
      const keyFile = Path.join(server.dir, "client-encrypted.key")
      Fs.writeFileSync(keyFile, encrypted)
      const good = yield* client({
        port: server.port,
        tls: { caFile: tls.caFile, certFile: tls.clientCertFile, keyFile, passphrase: Redacted.make("open sesame") }
      })
      assert.strictEqual(yield* good.echo("mtls"), "mtls")
      const bad = yield* client({
        port: server.port,
        reconnect: twoAttempts,
        tls: { ca: tls.ca, cert: tls.clientCert, key: Redacted.make(encrypted), passphrase: Redacted.make("wrong") }
      })
      const error = yield* Effect.flip(bad.ping())
      assert.strictEqual(error.reason._tag, "ConnectionError")
      assert.notInclude(error.message, "wrong")
    }).pipe(Effect.scoped))

  it.live("minVersion: TLSv1.3 is refused by a TLSv1.2-only server, TLSv1.2 connects", () =>
    Effect.gen(function*() {
      const server = yield* RedisServer.make({ tls: true, extraArgs: ["--tls-protocols", "TLSv1.2"] })
      const ca = server.tls!.ca
      const ok = yield* client({ port: server.port, tls: { ca, minVersion: "TLSv1.2" } })
      assert.strictEqual(yield* ok.ping(), "PONG")
      const strict = yield* client({ port: server.port, reconnect: twoAttempts, tls: { ca, minVersion: "TLSv1.3" } })
      const error = yield* Effect.flip(strict.ping())
      assert.strictEqual(error.reason._tag, "ConnectionError")
    }).pipe(Effect.scoped))

  it.live("ciphers: a cipher the server does not offer fails the handshake, the one it offers connects", () =>
    Effect.gen(function*() {
      const server = yield* RedisServer.make({
        tls: true,
        extraArgs: ["--tls-protocols", "TLSv1.2", "--tls-ciphers", "ECDHE-ECDSA-AES128-GCM-SHA256"]
      })
      const ca = server.tls!.ca
      const ok = yield* client({ port: server.port, tls: { ca, ciphers: "ECDHE-ECDSA-AES128-GCM-SHA256" } })
      assert.strictEqual(yield* ok.ping(), "PONG")
      const other = yield* client({ port: server.port, reconnect: twoAttempts, tls: { ca, ciphers: "ECDHE-ECDSA-AES256-GCM-SHA384" } })
      assert.strictEqual((yield* Effect.flip(other.ping())).reason._tag, "ConnectionError")
    }).pipe(Effect.scoped))

  it.live("caFile: the CA from a path; a missing file fails the NodeClient layer with InvalidArgument naming it", () =>
    Effect.gen(function*() {
      const server = yield* RedisServer.make({ tls: true })
      const redis = yield* client({ port: server.port, tls: { caFile: server.tls!.caFile } })
      assert.strictEqual(yield* redis.ping(), "PONG")
      const error = yield* layerFailure({ port: server.port, tls: { caFile: "/nonexistent/ca.pem" } })
      assert.strictEqual(error.reason._tag, "InvalidArgument")
      assert.include(error.message, "tls.caFile")
    }).pipe(Effect.scoped))
})

// -----------------------------------------------------------------------------
// URL query options and the negotiated protocol
// -----------------------------------------------------------------------------

describe("URL query options", () => {
  it.live("protocol, client_name and timeouts from the URL; redis.protocol reads what was negotiated", () =>
    Effect.gen(function*() {
      const server = yield* RedisServer.make()
      const base = `redis://127.0.0.1:${server.port}`
      const resp2 = yield* client({ url: `${base}?protocol=2&client_name=from-url&socket_timeout=5&socket_connect_timeout=2` })
      assert.strictEqual(yield* resp2.protocol, 2)
      assert.deepStrictEqual(yield* resp2.clientGetname(), Option.some("from-url"))
      assert.strictEqual((yield* resp2.clientInfo()).resp, "2")
      const resp3 = yield* client({ url: `${base}?protocol=3` })
      assert.strictEqual(yield* resp3.protocol, 3)
      assert.strictEqual((yield* resp3.clientInfo()).resp, "3")
      // socket_timeout is the command timeout: a command that outlives it fails Timeout.
      const slow = yield* client({ url: `${base}?socket_timeout=0.3`, retry: Schedule.recurs(0) })
      const error = yield* Effect.flip(slow.execute(Commands.raw(["DEBUG", "SLEEP", "1"])))
      assert.strictEqual(error.reason._tag, "Timeout")
    }).pipe(Effect.scoped))

  it.live("TLS parameters: rediss://…?ssl_ca_certs=<path>&ssl_min_version=TLSv1_2 connects", () =>
    Effect.gen(function*() {
      const server = yield* RedisServer.make({ tls: true })
      const ca = encodeURIComponent(server.tls!.caFile)
      const redis = yield* client({ url: `rediss://127.0.0.1:${server.port}?ssl_ca_certs=${ca}&ssl_min_version=TLSv1_2` })
      assert.strictEqual(yield* redis.ping(), "PONG")
      // ssl_cert_reqs=none: no verification (the CA is unknown to the client).
      const unverified = yield* client({ url: `rediss://127.0.0.1:${server.port}?ssl_cert_reqs=none` })
      assert.strictEqual(yield* unverified.ping(), "PONG")
    }).pipe(Effect.scoped))
})

// -----------------------------------------------------------------------------
// the dedicated pool's bound
// -----------------------------------------------------------------------------

describe("acquireTimeout", () => {
  it.live("with every dedicated connection busy, a borrower fails Timeout (NotSent) after acquireTimeout", () =>
    Effect.gen(function*() {
      const server = yield* RedisServer.make()
      const redis = yield* client({ port: server.port, maxDedicated: 1, acquireTimeout: "200 millis" })
      const blocked = yield* Effect.forkChild(redis.blpop(["parity:never"], 2))
      // Let the BLPOP take the one dedicated connection.
      yield* Effect.sleep("100 millis")
      const started = Date.now()
      const error = yield* Effect.flip(redis.blpop(["parity:never2"], 1))
      const waited = Date.now() - started
      console.log(`acquireTimeout 200 ms: the borrower failed after ${waited} ms`)
      assert.strictEqual(error.reason._tag, "Timeout")
      assert.strictEqual(error.outcome, "NotSent")
      assert.include(error.message, "acquireTimeout")
      assert.isBelow(waited, 1900, "it did not wait for the blocked borrower")
      yield* Fiber.join(blocked)
      // Free again: the next borrower gets the connection.
      assert.deepStrictEqual(yield* redis.blpop(["parity:never"], 0.1), Option.none())
    }).pipe(Effect.scoped))

  it.live("a bad acquireTimeout or maxDedicated fails the layer with InvalidArgument naming it", () =>
    Effect.gen(function*() {
      for (const [options, name] of [[{ acquireTimeout: 0 }, "acquireTimeout"], [{ maxDedicated: 0 }, "maxDedicated"]] as const) {
        const error = yield* layerFailure({ port: 1, ...options })
        assert.strictEqual(error.reason._tag, "InvalidArgument")
        assert.include(error.message, name)
      }
    }))
})

// -----------------------------------------------------------------------------
// binary pub/sub
// -----------------------------------------------------------------------------

const bytes = (...values: ReadonlyArray<number>) => Uint8Array.from(values)

describe("binary pub/sub", () => {
  for (const protocol of [3, 2] as const) {
    it.live(`RESP${protocol}: payloads and channel names that are not UTF-8 arrive byte for byte, also after a reconnect`, () =>
      Effect.gen(function*() {
        const server = yield* RedisServer.make()
        const redis = yield* client({ port: server.port, protocol, reconnect: fastReconnect })
        const channel = bytes(0x63, 0xff, 0x00, 0x80) // "c", then bytes no UTF-8 decoder keeps
        const payload = bytes(0xde, 0xad, 0xbe, 0xef, 0xc3, 0x28)
        const received = yield* Stream.take(redis.subscribeBytes(channel), 2).pipe(Stream.runCollect, Effect.forkChild)
        const patterned = yield* Stream.take(redis.psubscribeBytes(bytes(0x63, 0xff, 0x2a)), 1).pipe(
          Stream.runCollect,
          Effect.forkChild
        )
        // A text subscription alongside is untouched.
        const text = yield* Stream.take(redis.subscribe("plain"), 1).pipe(Stream.runCollect, Effect.forkChild)
        // Wait until both binary subscriptions reached the server.
        yield* Effect.repeat(
          Effect.flatMap(redis.execute(Commands.raw(["PUBSUB", "NUMSUB", channel])), (r) => Effect.succeed(r)),
          { until: (r) => Array.isArray(r) && Number(r[1]) === 1, schedule: Schedule.spaced("20 millis") }
        )
        yield* Effect.repeat(redis.execute(Commands.raw(["PUBSUB", "NUMPAT"])), {
          until: (n) => Number(n) === 1,
          schedule: Schedule.spaced("20 millis")
        })
        yield* redis.publish(channel, payload)
        yield* redis.publish("plain", "text")
        const [first] = yield* Fiber.join(patterned)
        assert.deepStrictEqual([...first.channel], [...channel])
        assert.deepStrictEqual([...first.pattern!], [0x63, 0xff, 0x2a])
        assert.deepStrictEqual([...first.payload], [...payload])
        assert.strictEqual((yield* Fiber.join(text))[0].payload, "text")

        // The binary subscriber reconnects and resubscribes with the same bytes.
        yield* server.clientKill("TYPE", "pubsub")
        yield* Effect.repeat(
          Effect.flatMap(redis.publish(channel, bytes(1, 2, 0xff)), (n) => Effect.succeed(n)),
          { until: (n) => n >= 1, schedule: Schedule.spaced("50 millis") }
        )
        const messages = yield* Fiber.join(received)
        assert.deepStrictEqual([...messages[0].payload], [...payload])
        assert.deepStrictEqual([...messages[1].payload], [1, 2, 0xff])
        assert.deepStrictEqual([...messages[1].channel], [...channel])
      }).pipe(Effect.scoped))
  }

  it.live("names may be strings (sent as UTF-8); names that are neither are refused", () =>
    Effect.gen(function*() {
      const server = yield* RedisServer.make()
      const redis = yield* client({ port: server.port })
      const fiber = yield* Stream.take(redis.subscribeBytes("é-channel"), 1).pipe(Stream.runCollect, Effect.forkChild)
      yield* Effect.repeat(redis.publish("é-channel", "x"), { until: (n) => n >= 1, schedule: Schedule.spaced("20 millis") })
      const [message] = yield* Fiber.join(fiber)
      assert.strictEqual(new TextDecoder().decode(message.channel), "é-channel")
      const error = yield* Stream.runCollect(redis.subscribeBytes(42 as never)).pipe(Effect.flip)
      assert.strictEqual(error.reason._tag, "InvalidArgument")
    }).pipe(Effect.scoped))
})

// -----------------------------------------------------------------------------
// NOSCRIPT in pipeline and transaction
// -----------------------------------------------------------------------------

const incrBy = Script.make("return redis.call('incrby', KEYS[1], ARGV[1])", (r) => Number(r))

describe("scripts in pipeline and transaction", () => {
  it.live("a pipeline replays calls that met NOSCRIPT as EVAL: every reply is right, and the script is loaded after", () =>
    Effect.gen(function*() {
      const server = yield* RedisServer.make()
      const redis = yield* client({ port: server.port })
      yield* redis.execute(Commands.raw(["SCRIPT", "FLUSH"]))
      const [a, b, c] = yield* redis.pipeline([
        Script.command(incrBy, ["p:n"], [2]),
        Commands.set("p:other", "x"),
        Script.command(incrBy, ["p:n"], [3])
      ])
      assert.deepStrictEqual([a, b, c], [2, true, 5])
      const exists = yield* redis.execute(Commands.raw(["SCRIPT", "EXISTS", incrBy.sha1]))
      assert.deepStrictEqual(exists, [1])
      // A bare EVALSHA (no script known) still fails NOSCRIPT: nothing to replay it with.
      yield* redis.execute(Commands.raw(["SCRIPT", "FLUSH"]))
      const exits = yield* redis.pipelineExits([Commands.evalsha(incrBy.sha1, ["p:n"], [1])])
      assert.strictEqual(failureOf(exits[0]).reason._tag, "NoScript")
    }).pipe(Effect.scoped))

  it.live("a transaction loads its scripts before MULTI, so a flushed script cannot half-run it", () =>
    Effect.gen(function*() {
      const server = yield* RedisServer.make()
      const redis = yield* client({ port: server.port })
      yield* redis.execute(Commands.raw(["SCRIPT", "FLUSH"]))
      const [set, n, got] = yield* redis.transaction([
        Commands.set("t:a", "1"),
        Script.command(incrBy, ["t:n"], [7]),
        Commands.get("t:a")
      ])
      assert.deepStrictEqual([set, n, got], [true, 7, Option.some("1")])
      // watch transactions go through the same path.
      yield* redis.execute(Commands.raw(["SCRIPT", "FLUSH"]))
      const [again] = yield* redis.watch(["t:n"], () => Effect.succeed([Script.command(incrBy, ["t:n"], [1])] as const))
      assert.strictEqual(again, 8)
      // A script that does not compile fails the transaction with the load's error.
      const broken = Script.make("return (")
      const error = yield* Effect.flip(redis.transaction([Commands.set("t:b", "1"), Script.command(broken, ["t:b"])]))
      assert.match(error.message, /compil/i)
    }).pipe(Effect.scoped))
})

// -----------------------------------------------------------------------------
// bad options at layer build
// -----------------------------------------------------------------------------

describe("bad options fail the layer build with InvalidArgument naming the option", () => {
  const BAD: ReadonlyArray<readonly [Standalone.Options, string]> = [
    [{ libName: "has space" }, "libName"],
    [{ keepAliveCount: 0 }, "keepAliveCount"],
    [{ keepAliveInterval: "10 millis" }, "keepAliveInterval"],
    [{ tls: { minVersion: "SSLv3" as never } }, "tls.minVersion"],
    [{ tls: { passphrase: Redacted.make("x") } }, "tls.passphrase"],
    [{ url: "redis://127.0.0.1?socket_timeout=never" }, "socket_timeout"]
  ]
  it.live("each one, before anything is dialled", () =>
    Effect.gen(function*() {
      for (const [options, name] of BAD) {
        const error = yield* layerFailure({ port: 1, ...options })
        assert.strictEqual(error.reason._tag, "InvalidArgument", name)
        assert.include(error.message, name)
      }
    }))
})
