import * as ChildProcess from "node:child_process"
import * as Fs from "node:fs"
import { assert, describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Scope from "effect/Scope"
import { run } from "../src/internal/process.ts"
import * as RedisServer from "../src/RedisServer.ts"
import { awaitProcessGone, connect, processExists, sleep } from "./RawClient.ts"

describe("RedisServer", () => {
  it.effect("starts, answers PING, and is gone with its directory once the scope closes", () =>
    Effect.gen(function*() {
      const scope = yield* Scope.make()
      const server = yield* RedisServer.make().pipe(Scope.provide(scope))
      assert.strictEqual(yield* server.cli("PING"), "PONG")
      assert.strictEqual(server.url, `redis://127.0.0.1:${server.port}`)
      assert.isTrue(processExists(server.pid))
      assert.strictEqual(Fs.readFileSync(server.pidFile, "utf8").trim(), String(server.pid))
      const info = yield* server.info("server")
      assert.strictEqual(info.tcp_port, String(server.port))
      assert.strictEqual(info.redis_version, "7.0.15")
      const config = yield* server.cli("CONFIG", "GET", "save")
      assert.strictEqual(config, "save")

      const pid = server.pid
      yield* Scope.close(scope, Exit.void)
      assert.isFalse(processExists(pid))
      assert.isFalse(Fs.existsSync(server.dir))
    }))

  it.effect("fails with the log tail when the server cannot start", () =>
    Effect.gen(function*() {
      const error = yield* RedisServer.make({ extraArgs: ["--no-such-directive", "1"] }).pipe(Effect.flip)
      assert.strictEqual(error._tag, "ServerError")
      assert.match(error.message, /exited during startup/)
      assert.match(error.message, /no-such-directive/)
    }).pipe(Effect.scoped))

  it.effect("requirepass and ACL users: right credentials work, wrong ones fail", () =>
    Effect.gen(function*() {
      const server = yield* RedisServer.make({
        password: "s3cret with space",
        aclUsers: [
          { name: "admin", password: "adm\"in", rules: "on ~* +@all" },
          { name: "app", password: "app-pw", rules: "~app:* +get +set" }
        ]
      })
      assert.strictEqual(server.url, `redis://:s3cret%20with%20space@127.0.0.1:${server.port}`)
      assert.strictEqual(yield* server.cli("PING"), "PONG")
      assert.strictEqual(yield* server.cli("ACL", "WHOAMI"), "default")
      assert.strictEqual(yield* server.cliAs({ user: "admin", password: "adm\"in" }, "ACL", "WHOAMI"), "admin")
      assert.strictEqual(yield* server.cliAs({ user: "app", password: "app-pw" }, "SET", "app:1", "x"), "OK")

      const noAuth = yield* server.cliAs({}, "PING").pipe(Effect.flip)
      assert.match(noAuth.message, /NOAUTH/)
      const wrong = yield* server.cliAs({ password: "wrong" }, "PING").pipe(Effect.flip)
      assert.match(wrong.message, /WRONGPASS|NOAUTH/)
      const denied = yield* server.cliAs({ user: "app", password: "app-pw" }, "SET", "other", "x").pipe(Effect.flip)
      assert.match(denied.message, /NOPERM/)
      // Secrets stay off the command line.
      const cmdline = Fs.readFileSync(`/proc/${server.pid}/cmdline`, "utf8")
      assert.notInclude(cmdline, "s3cret")
      assert.notInclude(cmdline, "app-pw")
    }).pipe(Effect.scoped))

  it.effect("TLS: listens on TLS only and answers redis-cli --tls --cacert", () =>
    Effect.gen(function*() {
      const server = yield* RedisServer.make({ tls: true })
      assert.strictEqual(server.tlsPort, server.port)
      assert.strictEqual(server.url, `rediss://127.0.0.1:${server.port}`)
      assert.strictEqual(yield* server.cli("PING"), "PONG")
      assert.include(server.tls!.ca, "BEGIN CERTIFICATE")
      assert.include(server.tls!.clientKey, "PRIVATE KEY")
      assert.strictEqual(yield* server.cli("CONFIG", "GET", "port"), "port\n0")
      // A plaintext client gets nothing useful from the TLS port.
      const plain = yield* connect(server.port)
      yield* plain.send("PING\r\n")
      const received = yield* plain.readUntil(() => false)
      assert.notInclude(received, "PONG")
    }).pipe(Effect.scoped))

  it.effect("TLS: mTLS servers and servers presenting a bad certificate can still be driven", () =>
    Effect.gen(function*() {
      const mtls = yield* RedisServer.make({ tls: { authClients: "yes" } })
      assert.strictEqual(yield* mtls.cli("PING"), "PONG")
      const expired = yield* RedisServer.make({ tls: { certificate: "expired", material: mtls.tls!.material } })
      assert.strictEqual(yield* expired.cli("PING"), "PONG")
      assert.strictEqual(expired.tls!.cert, mtls.tls!.material.expired.cert)
      // Shared material belongs to the first server and survives the second.
      assert.isTrue(Fs.existsSync(mtls.tls!.caFile))
    }).pipe(Effect.scoped))

  it.effect("kill and restart keep the port; AOF data survives", () =>
    Effect.gen(function*() {
      const server = yield* RedisServer.make({ appendonly: true })
      assert.strictEqual(yield* server.cli("SET", "k", "v"), "OK")
      const firstPid = server.pid
      yield* server.kill
      assert.isFalse(yield* server.isAlive)
      assert.isFalse(processExists(firstPid))
      yield* Effect.flip(server.cli("PING"))

      yield* server.restart
      assert.isTrue(yield* server.isAlive)
      assert.notStrictEqual(server.pid, firstPid)
      assert.strictEqual((yield* server.info("server")).tcp_port, String(server.port))
      assert.strictEqual(yield* server.cli("GET", "k"), "v")

      // Restart of a live server stops it first.
      const secondPid = server.pid
      yield* server.restart
      assert.isFalse(processExists(secondPid))
      assert.strictEqual(yield* server.cli("PING"), "PONG")
    }).pipe(Effect.scoped))

  it.effect("pause holds replies until resume", () =>
    Effect.gen(function*() {
      const server = yield* RedisServer.make()
      const client = yield* connect(server.port)
      yield* server.pause
      assert.strictEqual(Fs.readFileSync(`/proc/${server.pid}/stat`, "utf8").split(") ")[1][0], "T")
      yield* client.send("PING\r\n")
      // A stopped process cannot answer, however long we wait.
      yield* sleep(100)
      assert.strictEqual(client.received(), "")
      yield* server.resume
      assert.strictEqual(yield* client.readUntil((r) => r.includes("\r\n")), "+PONG\r\n")
    }).pipe(Effect.scoped))

  it.effect("the scope closes a paused server too", () =>
    Effect.gen(function*() {
      const scope = yield* Scope.make()
      const server = yield* RedisServer.make().pipe(Scope.provide(scope))
      yield* server.pause
      const pid = server.pid
      yield* Scope.close(scope, Exit.void)
      assert.isFalse(processExists(pid))
    }))

  it.effect("config, clientKill and info", () =>
    Effect.gen(function*() {
      const server = yield* RedisServer.make()
      yield* server.config("maxmemory-policy", "allkeys-lru")
      assert.strictEqual(yield* server.cli("CONFIG", "GET", "maxmemory-policy"), "maxmemory-policy\nallkeys-lru")
      const client = yield* connect(server.port)
      yield* client.send("PING\r\n")
      yield* client.readUntil((r) => r.includes("PONG"))
      assert.strictEqual((yield* server.info("clients")).connected_clients, "2")
      const killed = yield* server.clientKill("TYPE", "normal")
      assert.isAtLeast(killed, 1)
      assert.strictEqual(yield* client.closed, "end")
      const error = yield* server.config("no-such-parameter", "1").pipe(Effect.flip)
      assert.match(error.message, /Unknown option|unsupported/i)
    }).pipe(Effect.scoped))
})

describe("RedisServer safety net", () => {
  it.effect("a process that exits without closing its scope leaves no server and no directory behind", () =>
    Effect.gen(function*() {
      const fixture = new URL("./fixtures/exit-without-closing.ts", import.meta.url).pathname
      const result = yield* run(process.execPath, [fixture])
      assert.strictEqual(result.code, 0, result.stderr)
      const [pid, dir] = result.stdout.trim().split(" ")
      assert.isTrue(yield* awaitProcessGone(Number(pid)))
      assert.isFalse(Fs.existsSync(dir))
    }))

  it.effect("a process killed by SIGKILL (no exit handler runs) leaves no server behind: the watchdog stops it", () =>
    Effect.gen(function*() {
      const fixture = new URL("./fixtures/killed-by-signal.ts", import.meta.url).pathname
      const child = ChildProcess.spawn(process.execPath, [fixture], { stdio: ["ignore", "pipe", "inherit"] })
      const pid = yield* Effect.promise(() =>
        new Promise<number>((resolve) => {
          let out = ""
          child.stdout!.on("data", (d: Buffer) => {
            out += d.toString()
            if (out.includes("\n")) resolve(Number(out.trim()))
          })
        })
      )
      assert.isTrue(processExists(pid), "the server runs while its parent lives")
      child.kill("SIGKILL")
      assert.isTrue(yield* awaitProcessGone(pid), "the server is gone soon after its parent was killed")
    }))
})

describe("RedisServer.layer", () => {
  it.layer(RedisServer.layer({ password: "pw" }))((it) => {
    it.effect("provides the handle as a service", () =>
      Effect.gen(function*() {
        const server = yield* RedisServer.RedisServer
        assert.strictEqual(yield* server.cli("PING"), "PONG")
        assert.strictEqual(server.password, "pw")
      }))
  })
})
