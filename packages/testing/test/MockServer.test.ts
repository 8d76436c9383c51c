import { assert, describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as MockServer from "../src/MockServer.ts"
import { connect, sleep } from "./RawClient.ts"

const cmd = MockServer.command

describe("MockServer.parseRequests", () => {
  it("parses multi-bulk and inline requests and keeps a partial tail", () => {
    const bytes = Buffer.from(cmd("SET", "k", "välue") + "PING\r\n" + cmd("GET", "k"))
    const whole = MockServer.parseRequests(bytes)
    assert.deepStrictEqual(whole.requests, [["SET", "k", "välue"], ["PING"], ["GET", "k"]])
    assert.strictEqual(whole.consumed, bytes.length)
    // Every split point gives the same requests.
    for (let cut = 0; cut < bytes.length; cut++) {
      const first = MockServer.parseRequests(bytes.subarray(0, cut))
      const rest = Buffer.concat([bytes.subarray(first.consumed, cut), bytes.subarray(cut)])
      const second = MockServer.parseRequests(rest)
      assert.deepStrictEqual([...first.requests, ...second.requests], whole.requests)
    }
  })

  it("reports garbage", () => {
    assert.isDefined(MockServer.parseRequests(Buffer.from("*1\r\n+PING\r\n")).error)
    assert.isDefined(MockServer.parseRequests(Buffer.from("*x\r\n")).error)
  })
})

describe("MockServer", () => {
  it.effect("handshake: HELLO 3 gets a RESP3 map, HELLO 2 a flat array, PING/SELECT/CLIENT are answered", () =>
    Effect.gen(function*() {
      const mock = yield* MockServer.make(() => undefined)
      const client = yield* connect(mock.port)
      yield* client.send(cmd("HELLO", "3"))
      const hello3 = yield* client.readUntil((r) => r.includes("modules\r\n*0\r\n"))
      assert.isTrue(hello3.startsWith("%7\r\n$6\r\nserver\r\n$5\r\nredis\r\n"))
      assert.include(hello3, "$5\r\nproto\r\n:3\r\n")
      yield* client.send(cmd("HELLO", "2") + cmd("PING") + cmd("SELECT", "1") + cmd("CLIENT", "SETNAME", "x") + cmd("FOO"))
      const rest = yield* client.readUntil((r) => r.includes("unknown command 'FOO'"))
      assert.include(rest, "*14\r\n$6\r\nserver\r\n")
      assert.isTrue(rest.endsWith("+PONG\r\n+OK\r\n+OK\r\n-ERR unknown command 'FOO'\r\n"))
      assert.deepStrictEqual((yield* mock.received).map((argv) => argv[0]), ["HELLO", "HELLO", "PING", "SELECT", "CLIENT", "FOO"])
    }).pipe(Effect.scoped))

  it.effect("handshake: HELLO can be refused to force RESP2; AUTH checks the password", () =>
    Effect.gen(function*() {
      const mock = yield* MockServer.make(() => "+scripted\r\n", { handshake: { hello: false, password: "pw" } })
      const client = yield* connect(mock.port)
      yield* client.send(cmd("HELLO", "3"))
      assert.match(yield* client.readUntil((r) => r.endsWith("\r\n")), /^-ERR unknown command 'HELLO'/)
      const before = client.received().length
      const next = (f: () => Effect.Effect<void>) =>
        Effect.gen(function*() {
          const mark = client.received().length
          yield* f()
          return (yield* client.readUntil((r) => r.length > mark && r.endsWith("\r\n"))).slice(mark)
        })
      assert.isAbove(before, 0)
      assert.strictEqual(yield* next(() => client.send(cmd("GET", "k"))), "-NOAUTH Authentication required.\r\n")
      assert.match(yield* next(() => client.send(cmd("AUTH", "nope"))), /^-WRONGPASS/)
      assert.strictEqual(yield* next(() => client.send(cmd("AUTH", "default", "pw"))), "+OK\r\n")
      assert.strictEqual(yield* next(() => client.send(cmd("GET", "k"))), "+scripted\r\n")
    }).pipe(Effect.scoped))

  it.effect("HELLO 3 AUTH authenticates and switches protocol", () =>
    Effect.gen(function*() {
      let seen: 2 | 3 = 2
      const mock = yield* MockServer.make((c) => {
        seen = c.connection.protocol
        return ":1\r\n"
      }, { handshake: { password: "pw", user: "app" } })
      const client = yield* connect(mock.port)
      yield* client.send(cmd("HELLO", "3", "AUTH", "app", "wrong"))
      assert.match(yield* client.readUntil((r) => r.endsWith("\r\n")), /^-WRONGPASS/)
      yield* client.send(cmd("HELLO", "3", "AUTH", "app", "pw", "SETNAME", "n") + cmd("INCR", "x"))
      yield* client.readUntil((r) => r.endsWith(":1\r\n"))
      assert.strictEqual(seen, 3)
    }).pipe(Effect.scoped))

  it.effect("sends scripted bytes, including hostile payloads, in request order", () =>
    Effect.gen(function*() {
      const mock = yield* MockServer.make((c) =>
        c.name === "GET" ? MockServer.Payloads.extra : c.name === "DEEP" ? MockServer.Payloads.deep(3) : undefined
      )
      const client = yield* connect(mock.port)
      yield* client.send(cmd("GET", "a") + cmd("DEEP") + cmd("PING"))
      assert.strictEqual(yield* client.readUntil((r) => r.endsWith("+PONG\r\n")), "+OK\r\n+EXTRA\r\n*1\r\n*1\r\n*1\r\n:1\r\n+PONG\r\n")
    }).pipe(Effect.scoped))

  it.effect("close, reset, noReply and hang", () =>
    Effect.gen(function*() {
      const mock = yield* MockServer.make((c) => {
        switch (c.name) {
          case "TRUNCATE":
            return MockServer.Payloads.truncate
          case "RST":
            return MockServer.reset("+par")
          case "SKIP":
            return MockServer.noReply
          case "HANG":
            return MockServer.hang
        }
        return undefined
      })
      const truncated = yield* connect(mock.port)
      yield* truncated.send(cmd("TRUNCATE"))
      assert.strictEqual(yield* truncated.closed, "end")
      assert.strictEqual(truncated.received(), "$10\r\nabc")

      const reset = yield* connect(mock.port)
      yield* reset.send(cmd("RST"))
      assert.strictEqual(yield* reset.closed, "reset")
      assert.strictEqual(reset.received(), "+par")

      const skipped = yield* connect(mock.port)
      yield* skipped.send(cmd("SKIP") + cmd("PING"))
      assert.strictEqual(yield* skipped.readUntil((r) => r.endsWith("\r\n")), "+PONG\r\n")

      const hung = yield* connect(mock.port)
      yield* hung.send(cmd("HANG") + cmd("PING"))
      yield* sleep(100)
      assert.strictEqual(hung.received(), "")
      assert.isFalse(hung.socket.destroyed)
      assert.strictEqual(yield* mock.connections, 2)
    }).pipe(Effect.scoped))

  it.effect("slow replies trickle out and hold back later replies", () =>
    Effect.gen(function*() {
      const mock = yield* MockServer.make((c) => c.name === "SLOW" ? MockServer.slow("+OK\r\n", { intervalMillis: 5 }) : undefined)
      const client = yield* connect(mock.port)
      const chunks: Array<string> = []
      client.socket.on("data", (chunk: Buffer) => chunks.push(chunk.toString()))
      yield* client.send(cmd("SLOW") + cmd("PING"))
      assert.strictEqual(yield* client.readUntil((r) => r.endsWith("+PONG\r\n")), "+OK\r\n+PONG\r\n")
      assert.isAtLeast(chunks.length, 5)
    }).pipe(Effect.scoped))

  it.effect("broadcast writes unsolicited bytes; CLUSTER SLOTS points at the mock", () =>
    Effect.gen(function*() {
      const mock = yield* MockServer.make(() => undefined)
      const client = yield* connect(mock.port)
      yield* client.send(cmd("CLUSTER", "SLOTS"))
      const slots = yield* client.readUntil((r) => r.endsWith("0".repeat(40) + "\r\n"))
      assert.include(slots, `:0\r\n:16383\r\n*3\r\n$9\r\n127.0.0.1\r\n:${mock.port}\r\n`)
      const mark = client.received().length
      yield* mock.broadcast(">2\r\n$4\r\nping\r\n$0\r\n\r\n")
      assert.strictEqual((yield* client.readUntil((r) => r.length > mark && r.endsWith("\r\n\r\n"))).slice(mark), ">2\r\n$4\r\nping\r\n$0\r\n\r\n")
    }).pipe(Effect.scoped))

  it.effect("a malformed request gets a protocol error and the connection is closed", () =>
    Effect.gen(function*() {
      const mock = yield* MockServer.make(() => undefined)
      const client = yield* connect(mock.port)
      yield* client.send(cmd("PING") + "*1\r\n+x\r\n")
      assert.strictEqual(yield* client.closed, "end")
      assert.match(client.received(), /^\+PONG\r\n-ERR Protocol error/)
    }).pipe(Effect.scoped))
})
