import { assert, describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as FaultProxy from "../src/FaultProxy.ts"
import * as Ports from "../src/Ports.ts"
import * as RedisServer from "../src/RedisServer.ts"
import { connect, sleep } from "./RawClient.ts"

const PING = "*1\r\n$4\r\nPING\r\n"
const hasLine = (r: string) => r.includes("\r\n")

/** Waits until the server counts `n` connected clients (its own `redis-cli` included). */
const awaitClients = (server: RedisServer.RedisServerHandle, n: number) =>
  Effect.gen(function*() {
    for (let i = 0; i < 200; i++) {
      if ((yield* server.info("clients")).connected_clients === String(n)) return true
      yield* sleep(10)
    }
    return false
  })

describe("FaultProxy", () => {
  it.layer(RedisServer.layer())((it) => {
    it.effect("forwards both ways and counts connections", () =>
      Effect.gen(function*() {
        const server = yield* RedisServer.RedisServer
        const proxy = yield* FaultProxy.make({ target: server })
        const client = yield* connect(proxy.port)
        yield* client.send(PING)
        assert.strictEqual(yield* client.readUntil(hasLine), "+PONG\r\n")
        assert.strictEqual(yield* proxy.connections, 1)
        // A client that goes away takes its upstream connection with it.
        yield* Effect.sync(() => client.socket.end())
        assert.isTrue(yield* awaitClients(server, 1))
        assert.strictEqual(yield* proxy.connections, 0)
        assert.strictEqual(yield* proxy.accepted, 1)
      }).pipe(Effect.scoped))

    it.effect("delays every chunk and keeps them in order", () =>
      Effect.gen(function*() {
        const server = yield* RedisServer.RedisServer
        const proxy = yield* FaultProxy.make({ target: server })
        yield* proxy.setDelay(100)
        const client = yield* connect(proxy.port)
        const started = Date.now()
        yield* client.send(PING)
        yield* client.send("*2\r\n$4\r\nECHO\r\n$1\r\na\r\n")
        yield* client.send("*2\r\n$4\r\nECHO\r\n$1\r\nb\r\n")
        const reply = yield* client.readUntil((r) => r.endsWith("b\r\n"))
        assert.strictEqual(reply, "+PONG\r\n$1\r\na\r\n$1\r\nb\r\n")
        // Delayed on the way in and on the way out: a lower bound, never flaky.
        assert.isAtLeast(Date.now() - started, 190)
        yield* proxy.setDelay(0)
        yield* client.send(PING)
        yield* client.readUntil((r) => r.endsWith("+PONG\r\n") && r.length > 20)
      }).pipe(Effect.scoped))

    it.effect("freeze holds bytes with the socket open; unfreeze delivers them", () =>
      Effect.gen(function*() {
        const server = yield* RedisServer.RedisServer
        const proxy = yield* FaultProxy.make({ target: server })
        const client = yield* connect(proxy.port)
        yield* client.send(PING)
        yield* client.readUntil(hasLine)
        yield* proxy.freeze
        yield* client.send("*2\r\n$4\r\nECHO\r\n$6\r\nfrozen\r\n")
        yield* sleep(100)
        assert.strictEqual(client.received(), "+PONG\r\n")
        assert.strictEqual(yield* proxy.connections, 1)
        assert.isFalse(client.socket.destroyed)
        yield* proxy.unfreeze
        assert.strictEqual(yield* client.readUntil((r) => r.endsWith("frozen\r\n")), "+PONG\r\n$6\r\nfrozen\r\n")
      }).pipe(Effect.scoped))

    it.effect("resetAll sends an RST to the client and drops the server side", () =>
      Effect.gen(function*() {
        const server = yield* RedisServer.RedisServer
        const proxy = yield* FaultProxy.make({ target: server })
        const client = yield* connect(proxy.port)
        yield* client.send(PING)
        yield* client.readUntil(hasLine)
        assert.isTrue(yield* awaitClients(server, 2))
        yield* proxy.resetAll
        assert.strictEqual(yield* client.closed, "reset")
        assert.isTrue(yield* awaitClients(server, 1))
        assert.strictEqual(yield* proxy.connections, 0)
        // New connections work again.
        const again = yield* connect(proxy.port)
        yield* again.send(PING)
        assert.strictEqual(yield* again.readUntil(hasLine), "+PONG\r\n")
      }).pipe(Effect.scoped))

    it.effect("rstAfterBytes cuts a reply in the middle of a frame", () =>
      Effect.gen(function*() {
        const server = yield* RedisServer.RedisServer
        yield* server.cli("SET", "big", "x".repeat(100))
        const proxy = yield* FaultProxy.make({ target: server })
        yield* proxy.rstAfterBytes(12)
        const client = yield* connect(proxy.port)
        yield* client.send("*2\r\n$3\r\nGET\r\n$3\r\nbig\r\n")
        assert.strictEqual(yield* client.closed, "reset")
        assert.strictEqual(client.received(), "$100\r\nxxxxxx") // exactly 12 bytes
        yield* proxy.rstAfterBytes(undefined)
        const whole = yield* connect(proxy.port)
        yield* whole.send("*2\r\n$3\r\nGET\r\n$3\r\nbig\r\n")
        assert.strictEqual((yield* whole.readUntil((r) => r.length >= 108)).length, 108)
      }).pipe(Effect.scoped))
  })

  it.effect("a target that refuses connections resets the client", () =>
    Effect.gen(function*() {
      const port = yield* Ports.freePort
      const proxy = yield* FaultProxy.make({ target: { host: "127.0.0.1", port } })
      const client = yield* connect(proxy.port)
      assert.strictEqual(yield* client.closed, "reset")
    }).pipe(Effect.scoped))

  it.effect("delayed replies still arrive when the server closes the connection", () =>
    Effect.gen(function*() {
      const server = yield* RedisServer.make()
      const proxy = yield* FaultProxy.make({ target: server })
      yield* proxy.setDelay(50)
      const client = yield* connect(proxy.port)
      yield* client.send("*1\r\n$4\r\nQUIT\r\n")
      assert.strictEqual(yield* client.closed, "end")
      assert.strictEqual(client.received(), "+OK\r\n")
    }).pipe(Effect.scoped))
})
