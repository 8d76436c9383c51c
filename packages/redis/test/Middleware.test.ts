/**
 * `Middleware`: `combine` runs the first middleware outermost for each of
 * the four hooks and is `undefined` for none; `wrapConnection` returns the
 * very same connection when there is no wire hook (zero cost) and otherwise
 * passes every write through `send` / `sendAll` with the node's text form
 * (`host:port`, `[v6]:port`, the socket path); `resolve` puts the options'
 * middlewares before those of the `Middlewares` service, in layer order.
 * A fake `Connection` stands in for a socket.
 */
import { assert, describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as Commands from "../src/Commands.ts"
import type * as Connection from "../src/Connection.ts"
import * as Middleware from "../src/Middleware.ts"
import * as RedisConfig from "../src/RedisConfig.ts"

// -----------------------------------------------------------------------------
// helpers
// -----------------------------------------------------------------------------

/** A middleware with every hook, each logging `name>` before and `name<` after `next`, and the node it saw. */
const tracing = (name: string, log: Array<string>): Middleware.Middleware => {
  const around = <A, E>(detail: string, next: Effect.Effect<A, E>) =>
    Effect.sync(() => log.push(`${name}>${detail}`)).pipe(
      Effect.andThen(next),
      Effect.tap(() => Effect.sync(() => log.push(`${name}<`)))
    )
  return {
    name,
    execute: (command, next) => around(`execute ${command.name}`, next),
    batch: (kind, commands, next) => around(`batch ${kind} ${commands.length}`, next),
    send: (node, command, next) => around(`send ${node} ${command.name}`, next),
    sendAll: (node, commands, next) => around(`sendAll ${node} ${commands.length}`, next)
  }
}

/** A fake connection: replies "OK" to everything and logs what reached it. */
const fakeConnection = (endpoint: RedisConfig.Endpoint, log: Array<string>): Connection.Connection => ({
  endpoint,
  send: (command) =>
    Effect.sync(() => {
      log.push(`wire ${command.name}`)
      return command.decode("OK")
    }),
  sendAll: (commands) =>
    Effect.sync(() => {
      log.push(`wire ${commands.map((c) => c.name).join(",")}`)
      return commands.map((c) => Exit.succeed(c.decode("OK")))
    }),
  sendNoReply: () => Effect.void,
  status: () => "ready",
  protocol: () => 3,
  awaitReady: Effect.void,
  reconnect: Effect.void,
  stats: () => ({ connects: 1, inFlight: 0, queued: 0, writes: 0, commandsWritten: 0 })
})

const ping = Commands.ping()
const get = Commands.get("k")
const set = Commands.set("k", "v")
const innermost = (log: Array<string>, value: unknown = "inner") =>
  Effect.sync(() => {
    log.push("next")
    return value
  })

// -----------------------------------------------------------------------------
// combine
// -----------------------------------------------------------------------------

describe("combine", () => {
  it("of none is undefined, of one is that one", () => {
    assert.isUndefined(Middleware.combine([]))
    const only = tracing("a", [])
    assert.strictEqual(Middleware.combine([only]), only)
  })

  it("names the parts in order, anonymous ones too", () => {
    assert.strictEqual(Middleware.combine([tracing("a", []), {}, tracing("c", [])])?.name, "a+anonymous+c")
  })

  it.effect("execute: the first is outermost", () =>
    Effect.gen(function*() {
      const log: Array<string> = []
      const mw = Middleware.combine([tracing("a", log), tracing("b", log), tracing("c", log)])!
      const out = yield* mw.execute!(get, innermost(log))
      assert.strictEqual(out, "inner")
      assert.deepStrictEqual(log, ["a>execute GET", "b>execute GET", "c>execute GET", "next", "c<", "b<", "a<"])
    }))

  it.effect("batch: the first is outermost, and each sees the kind and the commands", () =>
    Effect.gen(function*() {
      const log: Array<string> = []
      const mw = Middleware.combine([tracing("a", log), tracing("b", log)])!
      yield* mw.batch!("transaction", [get, set], innermost(log))
      assert.deepStrictEqual(log, ["a>batch transaction 2", "b>batch transaction 2", "next", "b<", "a<"])
    }))

  it.effect("send: the first is outermost, and each sees the node", () =>
    Effect.gen(function*() {
      const log: Array<string> = []
      const mw = Middleware.combine([tracing("a", log), tracing("b", log)])!
      yield* mw.send!("10.0.0.2:7001", set, innermost(log))
      assert.deepStrictEqual(log, ["a>send 10.0.0.2:7001 SET", "b>send 10.0.0.2:7001 SET", "next", "b<", "a<"])
    }))

  it.effect("sendAll: the first is outermost, and each sees the node", () =>
    Effect.gen(function*() {
      const log: Array<string> = []
      const mw = Middleware.combine([tracing("a", log), tracing("b", log)])!
      yield* mw.sendAll!("[::1]:7000", [get, set, ping], innermost(log, []) as Effect.Effect<Middleware.Exits>)
      assert.deepStrictEqual(log, ["a>sendAll [::1]:7000 3", "b>sendAll [::1]:7000 3", "next", "b<", "a<"])
    }))

  it.effect("a hook only some middlewares have is combined from those alone; a hook none has stays absent", () =>
    Effect.gen(function*() {
      const log: Array<string> = []
      const all = tracing("a", log)
      const mw = Middleware.combine([{ name: "x", execute: all.execute }, { name: "y" }, { name: "z", send: all.send }])!
      assert.isUndefined(mw.batch)
      assert.isUndefined(mw.sendAll)
      yield* mw.execute!(get, innermost(log))
      yield* mw.send!("h:1", get, innermost(log))
      assert.deepStrictEqual(log, ["a>execute GET", "next", "a<", "a>send h:1 GET", "next", "a<"])
    }))

  it.effect("an outer hook that does not run next skips the inner ones (a cache hit)", () =>
    Effect.gen(function*() {
      const log: Array<string> = []
      const cache: Middleware.Middleware = {
        name: "cache",
        execute: <A>() => Effect.succeed("cached" as A)
      }
      const mw = Middleware.combine([cache, tracing("b", log)])!
      const out = yield* mw.execute!(get, innermost(log))
      assert.strictEqual(out, "cached")
      assert.deepStrictEqual(log, [])
    }))
})

// -----------------------------------------------------------------------------
// wrapConnection
// -----------------------------------------------------------------------------

describe("wrapConnection", () => {
  it("returns the same connection when there is no middleware, or no wire hook", () => {
    const connection = fakeConnection(RedisConfig.tcp("127.0.0.1", 6379), [])
    assert.strictEqual(Middleware.wrapConnection(connection, undefined), connection)
    assert.strictEqual(Middleware.wrapConnection(connection, {}), connection)
    const { execute, batch } = tracing("a", [])
    assert.strictEqual(Middleware.wrapConnection(connection, { name: "caller-level", execute, batch }), connection)
  })

  const NODES: ReadonlyArray<readonly [RedisConfig.Endpoint, string]> = [
    [RedisConfig.tcp("127.0.0.1", 6379), "127.0.0.1:6379"],
    [RedisConfig.tcp("redis.internal", 7000), "redis.internal:7000"],
    [RedisConfig.tcp("::1", 7000), "[::1]:7000"],
    [RedisConfig.tcp("2001:db8::7", 6380), "[2001:db8::7]:6380"],
    [RedisConfig.unix("/tmp/redis.sock"), "/tmp/redis.sock"]
  ]
  for (const [endpoint, node] of NODES) {
    it.effect(`send and sendAll see the node as ${node}`, () =>
      Effect.gen(function*() {
        const log: Array<string> = []
        const connection = fakeConnection(endpoint, log)
        const wrapped = Middleware.wrapConnection(connection, tracing("a", log))
        assert.notStrictEqual(wrapped, connection)
        const reply = yield* wrapped.send(get)
        assert.deepStrictEqual(reply, Option.some("OK"))
        const exits = yield* wrapped.sendAll([set, ping])
        assert.strictEqual(exits.length, 2)
        assert.deepStrictEqual(log, [
          `a>send ${node} GET`,
          "wire GET",
          "a<",
          `a>sendAll ${node} 2`,
          "wire SET,PING",
          "a<"
        ])
      }))
  }

  it.effect("only the hooks present are wrapped; everything else is the connection's own", () =>
    Effect.gen(function*() {
      const log: Array<string> = []
      const connection = fakeConnection(RedisConfig.tcp("h", 1), log)
      const onlySend = Middleware.wrapConnection(connection, { send: tracing("a", log).send })
      assert.notStrictEqual(onlySend.send, connection.send)
      assert.strictEqual(onlySend.sendAll, connection.sendAll)
      const onlySendAll = Middleware.wrapConnection(connection, { sendAll: tracing("a", log).sendAll })
      assert.strictEqual(onlySendAll.send, connection.send)
      assert.notStrictEqual(onlySendAll.sendAll, connection.sendAll)
      for (const wrapped of [onlySend, onlySendAll]) {
        assert.strictEqual(wrapped.endpoint, connection.endpoint)
        assert.strictEqual(wrapped.sendNoReply, connection.sendNoReply)
        assert.strictEqual(wrapped.status, connection.status)
        assert.strictEqual(wrapped.awaitReady, connection.awaitReady)
        assert.strictEqual(wrapped.reconnect, connection.reconnect)
        assert.strictEqual(wrapped.stats, connection.stats)
      }
    }))

  it.effect("a send hook that does not run next writes nothing", () =>
    Effect.gen(function*() {
      const log: Array<string> = []
      const connection = fakeConnection(RedisConfig.tcp("h", 1), log)
      const wrapped = Middleware.wrapConnection(connection, { send: <A>() => Effect.succeed("short-circuit" as A) })
      assert.strictEqual(yield* wrapped.send(ping), "short-circuit")
      assert.deepStrictEqual(log, [])
    }))

  it.effect("the combined hooks of several middlewares wrap the wire, the first outermost", () =>
    Effect.gen(function*() {
      const log: Array<string> = []
      const connection = fakeConnection(RedisConfig.tcp("::1", 7000), log)
      const wrapped = Middleware.wrapConnection(
        connection,
        Middleware.combine([tracing("a", log), tracing("b", log)])
      )
      yield* wrapped.send(set)
      assert.deepStrictEqual(log, ["a>send [::1]:7000 SET", "b>send [::1]:7000 SET", "wire SET", "b<", "a<"])
    }))
})

// -----------------------------------------------------------------------------
// resolve and the Middlewares service
// -----------------------------------------------------------------------------

/** Which middlewares' execute hooks ran, outermost first (read from the shared `log`). */
const executeOrder = (mw: Middleware.Middleware | undefined, log: Array<string>) =>
  Effect.gen(function*() {
    log.length = 0
    if (mw?.execute === undefined) return log
    yield* mw.execute(get, innermost(log))
    return log.filter((line) => line.endsWith(">execute GET")).map((line) => line.slice(0, line.indexOf(">")))
  })

describe("resolve", () => {
  it.effect("nothing in the options nor in the context: undefined", () =>
    Effect.gen(function*() {
      assert.isUndefined(yield* Middleware.resolve(undefined))
      assert.isUndefined(yield* Middleware.resolve([]))
    }))

  it.effect("a single middleware of the options is used as it is", () =>
    Effect.gen(function*() {
      const only = tracing("a", [])
      assert.strictEqual(yield* Middleware.resolve(only), only)
      assert.strictEqual(yield* Middleware.resolve([only]), only)
    }))

  it.effect("the options' middlewares, in order", () =>
    Effect.gen(function*() {
      const log: Array<string> = []
      const mw = yield* Middleware.resolve([tracing("a", log), tracing("b", log), tracing("c", log)])
      assert.strictEqual(mw?.name, "a+b+c")
      assert.deepStrictEqual(yield* executeOrder(mw, log), ["a", "b", "c"])
    }))

  it.effect("the context's alone, when the options have none", () =>
    Effect.gen(function*() {
      const ctx = tracing("ctx", [])
      const mw = yield* Middleware.resolve(undefined).pipe(Effect.provide(Middleware.layer(ctx)))
      assert.strictEqual(mw, ctx)
    }))

  it.effect("the options' first, then the context's in the order their layers were added", () =>
    Effect.gen(function*() {
      const log: Array<string> = []
      const context = Middleware.layer(tracing("d", log)).pipe(Layer.provide(Middleware.layer(tracing("c", log))))
      const mw = yield* Middleware.resolve([tracing("a", log), tracing("b", log)]).pipe(Effect.provide(context))
      assert.strictEqual(mw?.name, "a+b+c+d")
      assert.deepStrictEqual(yield* executeOrder(mw, log), ["a", "b", "c", "d"])
    }))

  it.effect("Middleware.layer appends to what the context already holds", () =>
    Effect.gen(function*() {
      const context = Middleware.layer(tracing("second", [])).pipe(
        Layer.provide(Middleware.layer(tracing("first", [])))
      )
      const held = yield* Effect.service(Middleware.Middlewares).pipe(Effect.provide(context))
      assert.deepStrictEqual(held.map((m) => m.name), ["first", "second"])
    }))
})
