/**
 * `Tracing`: the pure policy (the query text and what it hides, batch
 * operation names, the server's status code, node addresses) with plain
 * `it`; the middleware with a recording `Tracer` and fake wire effects: one
 * client span per command with the database attributes, attempts and
 * redirects from the wire hooks, error attributes, batches, writes outside a
 * command, and what is never recorded.
 */
import { assert, describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Option from "effect/Option"
import * as Tracer from "effect/Tracer"
import * as Cmd from "../src/Command.ts"
import * as Commands from "../src/Commands.ts"
import type * as Middleware from "../src/Middleware.ts"
import * as RedisError from "../src/RedisError.ts"
import * as Tracing from "../src/Tracing.ts"

// -----------------------------------------------------------------------------
// helpers
// -----------------------------------------------------------------------------

/** A tracer that keeps every span it makes. */
const recording = () => {
  const spans: Array<Tracer.NativeSpan> = []
  const tracer = Tracer.make({
    span(options) {
      const span = new Tracer.NativeSpan(options)
      spans.push(span)
      return span
    }
  })
  const named = (name: string) => spans.filter((s) => s.name === name)
  return { spans, tracer, named }
}

const NODE = "10.0.0.1:6379"
const OTHER = "10.0.0.2:6380"

const moved = RedisError.make(new RedisError.Moved({ slot: 866, host: "10.0.0.2", port: 6380 }), "Rejected", "GET")
const wrongType = RedisError.make(
  new RedisError.ReplyError({ code: "WRONGTYPE", message: "WRONGTYPE Operation against a key holding the wrong kind of value" }),
  "Rejected",
  "INCR"
)
const lost = RedisError.make(new RedisError.ConnectionError({ message: "connection lost", address: NODE }), "Unknown", "GET")

/** What a wire write answers: `reply`, or `error`. */
const wire = <A>(outcome: { readonly reply: A } | { readonly error: RedisError.RedisError }) =>
  "reply" in outcome ? Effect.succeed(outcome.reply) : Effect.fail(outcome.error)

/** A caller's command as the client runs it: execute around the wire writes. */
const run = <A>(mw: Middleware.Middleware, command: Cmd.Command<A>, writes: Effect.Effect<A, RedisError.RedisError>) =>
  mw.execute!(command, writes)

const attrs = (span: Tracer.NativeSpan) => Object.fromEntries(span.attributes)

// -----------------------------------------------------------------------------
// pure policy
// -----------------------------------------------------------------------------

describe("queryText", () => {
  it("is the command's words, numbers and binary arguments shown as such", () => {
    assert.strictEqual(Tracing.queryText(Commands.set("k", "v"), 100), "SET k v")
    assert.strictEqual(Tracing.queryText(Commands.incrby("n", 5), 100), "INCRBY n 5")
    assert.strictEqual(Tracing.queryText(Commands.set("k", new Uint8Array(3)), 100), "SET k (3 bytes)")
  })

  it("is cut at the given length", () => {
    const text = Tracing.queryText(Commands.set("k", "x".repeat(100)), 10)
    assert.strictEqual(text, "SET k xxxx…")
  })

  it("hides every argument of the commands that carry credentials", () => {
    assert.strictEqual(Tracing.queryText(Commands.auth("s3cret", "app"), 100), "AUTH ? ?")
    assert.strictEqual(
      Tracing.queryText(Commands.hello(3, { auth: { username: "app", password: "s3cret" } }), 100),
      "HELLO ? ? ? ?"
    )
    const configSet = Cmd.make(["CONFIG", "SET", "requirepass", "s3cret"], Cmd.Reply.ok)
    assert.strictEqual(Tracing.queryText(configSet, 100), "CONFIG SET ? ?")
    const aclSetUser = Cmd.make(["ACL", "SETUSER", "app", "on", ">s3cret"], Cmd.Reply.ok)
    assert.strictEqual(Tracing.queryText(aclSetUser, 100), "ACL SETUSER ? ? ?")
    const migrate = Cmd.make(["MIGRATE", "h", 6379, "k", 0, 1000, "AUTH", "s3cret"], Cmd.Reply.ok)
    assert.notInclude(Tracing.queryText(migrate, 100), "s3cret")
  })
})

describe("batchOperation", () => {
  it("is PIPELINE or MULTI, with the command's name when all share it", () => {
    assert.strictEqual(Tracing.batchOperation("pipeline", [Commands.set("a", "1"), Commands.set("b", "2")]), "PIPELINE SET")
    assert.strictEqual(Tracing.batchOperation("pipeline", [Commands.set("a", "1"), Commands.get("a")]), "PIPELINE")
    assert.strictEqual(Tracing.batchOperation("transaction", [Commands.incr("a"), Commands.incr("b")]), "MULTI INCR")
    assert.strictEqual(Tracing.batchOperation("transaction", []), "MULTI")
  })
})

describe("statusCode", () => {
  it("is the server's error prefix when the server refused the command", () => {
    assert.strictEqual(Tracing.statusCode(wrongType), "WRONGTYPE")
    assert.strictEqual(Tracing.statusCode(moved), "MOVED")
    assert.strictEqual(
      Tracing.statusCode(RedisError.make(RedisError.classify("WRONGPASS invalid username-password pair"), "Rejected")),
      "WRONGPASS"
    )
    assert.strictEqual(Tracing.statusCode(RedisError.make(RedisError.classify("CLUSTERDOWN The cluster is down"), "Rejected")), "CLUSTERDOWN")
  })

  it("is absent when the failure was not the server's answer", () => {
    assert.isUndefined(Tracing.statusCode(lost))
    assert.isUndefined(Tracing.statusCode(RedisError.invalidArgument("NaN score", "ZADD")))
  })
})

describe("failureMessage", () => {
  it("is the reason, the server's prefix when it adds something, the command and the outcome", () => {
    assert.strictEqual(Tracing.failureMessage(wrongType), "ReplyError WRONGTYPE (INCR) [Rejected]")
    assert.strictEqual(Tracing.failureMessage(moved), "Moved (GET) [Rejected]")
    assert.strictEqual(Tracing.failureMessage(lost), "ConnectionError (GET) [Unknown]")
    assert.strictEqual(Tracing.failureMessage(RedisError.invalidArgument("bad value 42")), "InvalidArgument [NotSent]")
  })
})

describe("serverOf", () => {
  it("splits host and port, IPv6 included; a socket path has no port", () => {
    assert.deepStrictEqual(Tracing.serverOf("127.0.0.1:6379"), { address: "127.0.0.1", port: 6379 })
    assert.deepStrictEqual(Tracing.serverOf("[::1]:7000"), { address: "::1", port: 7000 })
    assert.deepStrictEqual(Tracing.serverOf("/tmp/redis.sock"), { address: "/tmp/redis.sock", port: undefined })
  })
})

// -----------------------------------------------------------------------------
// the middleware
// -----------------------------------------------------------------------------

describe("middleware: commands", () => {
  it.effect("one client span per command, with the database attributes and the node written to", () =>
    Effect.gen(function*() {
      const { named, spans, tracer } = recording()
      const mw = Tracing.middleware({ database: 2 })
      const get = Commands.get("user:1")
      const out = yield* run(mw, get, mw.send!(NODE, get, wire({ reply: Option.some("ada") }))).pipe(Effect.withTracer(tracer))
      assert.deepStrictEqual(out, Option.some("ada"))
      assert.strictEqual(spans.length, 1)
      const [span] = named("GET")
      assert.strictEqual(span.kind, "client")
      assert.deepStrictEqual(attrs(span), {
        "db.system.name": "redis",
        "db.operation.name": "GET",
        "db.namespace": "2",
        "redis.attempts": 1,
        "server.address": "10.0.0.1",
        "server.port": 6379
      })
      assert.isTrue(span.status._tag === "Ended" && Exit.isSuccess(span.status.exit))
    }))

  it.effect("arguments are recorded only when asked", () =>
    Effect.gen(function*() {
      const { spans, tracer } = recording()
      const set = Commands.set("user:1", "secret-value")
      const off = Tracing.middleware()
      const on = Tracing.middleware({ recordArguments: true })
      yield* run(off, set, off.send!(NODE, set, wire({ reply: true }))).pipe(Effect.withTracer(tracer))
      yield* run(on, set, on.send!(NODE, set, wire({ reply: true }))).pipe(Effect.withTracer(tracer))
      assert.isFalse(spans[0].attributes.has("db.query.text"))
      assert.notInclude(JSON.stringify(attrs(spans[0])), "secret-value")
      assert.strictEqual(spans[1].attributes.get("db.query.text"), "SET user:1 secret-value")
    }))

  it.effect("a failed command carries its reason, outcome and the server's status code", () =>
    Effect.gen(function*() {
      const { named, tracer } = recording()
      const mw = Tracing.middleware()
      const incr = Commands.incr("a-list")
      const exit = yield* Effect.exit(run(mw, incr, mw.send!(NODE, incr, wire({ error: wrongType }))).pipe(Effect.withTracer(tracer)))
      assert.isTrue(Exit.isFailure(exit))
      const [span] = named("INCR")
      assert.strictEqual(span.attributes.get("error.type"), "ReplyError")
      assert.strictEqual(span.attributes.get("redis.error.outcome"), "Rejected")
      assert.strictEqual(span.attributes.get("db.response.status_code"), "WRONGTYPE")
      // The span ends with the scrubbed failure, not the server's text.
      const ended = span.status._tag === "Ended" ? span.status.exit : undefined
      assert.isTrue(ended !== undefined && Exit.isFailure(ended))
      const error = RedisError.failureOf(ended!)
      assert.instanceOf(error, Tracing.SpanFailure)
      assert.strictEqual((error as Error).message, "ReplyError WRONGTYPE (INCR) [Rejected]")
      // The caller still gets the RedisError itself.
      assert.strictEqual(RedisError.failureOf(exit), wrongType)
    }))

  it.effect("a server's error text quoting an argument never reaches the span", () =>
    Effect.gen(function*() {
      const { spans, tracer } = recording()
      const mw = Tracing.middleware()
      const custom = Cmd.make(["NOSUCHCMD", "s3cret-arg"], Cmd.Reply.raw)
      const echoed = RedisError.make(
        RedisError.classify("ERR unknown command 'NOSUCHCMD', with args beginning with: 's3cret-arg' "),
        "Rejected",
        "NOSUCHCMD"
      )
      const exit = yield* Effect.exit(run(mw, custom, mw.send!(NODE, custom, wire({ error: echoed }))).pipe(Effect.withTracer(tracer)))
      assert.include(String(RedisError.failureOf(exit)?.message), "s3cret-arg", "the caller's error is untouched")
      const [span] = spans
      const ended = span.status._tag === "Ended" ? span.status.exit : undefined
      assert.strictEqual((RedisError.failureOf(ended!) as Error).message, "ReplyError ERR (NOSUCHCMD) [Rejected]")
      assert.notInclude(JSON.stringify([[...span.attributes], span.events.map(([name, , a]) => [name, a])]), "s3cret-arg")
    }))

  it.effect("a MOVED redirect: two attempts, one redirect with its event, the slot, the node that answered", () =>
    Effect.gen(function*() {
      const { named, spans, tracer } = recording()
      const mw = Tracing.middleware()
      const get = Commands.get("moved:{mw}")
      // The cluster's redirect: the first node answers MOVED, the client
      // writes the same command to the node it names.
      const writes = Effect.catch(
        mw.send!(NODE, get, wire<Option.Option<string>>({ error: moved })),
        () => mw.send!(OTHER, get, wire({ reply: Option.some("v") }))
      )
      yield* run(mw, get, writes).pipe(Effect.withTracer(tracer))
      assert.strictEqual(spans.length, 1)
      const [span] = named("GET")
      assert.strictEqual(span.attributes.get("redis.attempts"), 2)
      assert.strictEqual(span.attributes.get("redis.redirects"), 1)
      assert.strictEqual(span.attributes.get("redis.cluster.slot"), 866)
      assert.strictEqual(span.attributes.get("server.address"), "10.0.0.2")
      assert.strictEqual(span.attributes.get("server.port"), 6380)
      assert.isFalse(span.attributes.has("error.type"))
      assert.deepStrictEqual(span.events.map(([name, , a]) => [name, a]), [[
        "redis.redirect",
        { "redis.redirect.kind": "MOVED", "redis.redirect.from": NODE, "redis.redirect.to": OTHER, "redis.cluster.slot": 866 }
      ]])
    }))

  it.effect("a retried write (connection lost) is an attempt with a failed-attempt event", () =>
    Effect.gen(function*() {
      const { named, tracer } = recording()
      const mw = Tracing.middleware()
      const get = Commands.get("k")
      const writes = Effect.catch(
        mw.send!(NODE, get, wire<Option.Option<string>>({ error: lost })),
        () => mw.send!(NODE, get, wire({ reply: Option.none() }))
      )
      yield* run(mw, get, writes).pipe(Effect.withTracer(tracer))
      const [span] = named("GET")
      assert.strictEqual(span.attributes.get("redis.attempts"), 2)
      assert.isFalse(span.attributes.has("redis.redirects"))
      assert.deepStrictEqual(span.events.map(([name, , a]) => [name, a]), [[
        "redis.attempt.failed",
        { "redis.node": NODE, "error.type": "ConnectionError", "redis.error.outcome": "Unknown" }
      ]])
    }))

  it.effect("span names: prefixed, or a function; slots when asked", () =>
    Effect.gen(function*() {
      const { spans, tracer } = recording()
      const get = Commands.get("foo")
      const prefixed = Tracing.middleware({ spanName: "prefixed", slots: true })
      const custom = Tracing.middleware({ spanName: (op) => `cache.${op.toLowerCase()}` })
      yield* run(prefixed, get, wire({ reply: Option.none() })).pipe(Effect.withTracer(tracer))
      yield* run(custom, get, wire({ reply: Option.none() })).pipe(Effect.withTracer(tracer))
      assert.deepStrictEqual(spans.map((s) => s.name), ["redis GET", "cache.get"])
      assert.strictEqual(spans[0].attributes.get("redis.cluster.slot"), 12182)
      assert.isFalse(spans[1].attributes.has("redis.cluster.slot"))
    }))

  it.effect("a write under the command's span by someone else (a forked refresh) gets its own child span", () =>
    Effect.gen(function*() {
      const { named, tracer } = recording()
      const mw = Tracing.middleware()
      const get = Commands.get("k")
      const refresh = Cmd.make(["CLUSTER", "SHARDS"], Cmd.Reply.raw)
      const writes = Effect.andThen(
        mw.send!(NODE, refresh, wire({ reply: null })),
        mw.send!(NODE, get, wire({ reply: Option.none() }))
      )
      yield* run(mw, get, writes).pipe(Effect.withTracer(tracer))
      const [getSpan] = named("GET")
      const [refreshSpan] = named("CLUSTER")
      assert.strictEqual(getSpan.attributes.get("redis.attempts"), 1)
      assert.strictEqual(refreshSpan.attributes.get("redis.attempts"), 1)
      assert.strictEqual(Option.getOrUndefined(refreshSpan.parent)?.spanId, getSpan.spanId)
    }))
})

describe("middleware: batches and writes outside a command", () => {
  it.effect("a pipeline: one span with its size, its writes, and its first failure", () =>
    Effect.gen(function*() {
      const { named, spans, tracer } = recording()
      const mw = Tracing.middleware()
      const commands = [Commands.incr("n"), Commands.get("n"), Commands.incr("a-list")]
      const exits: Middleware.Exits = [Exit.succeed(1), Exit.succeed(Option.some("1")), Exit.fail(wrongType)]
      const out = yield* mw.batch!("pipeline", commands, mw.sendAll!(NODE, commands, Effect.succeed(exits))).pipe(
        Effect.withTracer(tracer)
      )
      assert.strictEqual(out, exits)
      assert.strictEqual(spans.length, 1)
      const [span] = named("PIPELINE")
      assert.strictEqual(span.attributes.get("db.operation.name"), "PIPELINE")
      assert.strictEqual(span.attributes.get("db.operation.batch.size"), 3)
      assert.strictEqual(span.attributes.get("redis.attempts"), 1)
      assert.strictEqual(span.attributes.get("error.type"), "ReplyError")
    }))

  it.effect("a pipeline's write answered with MOVED replies counts them as redirects", () =>
    Effect.gen(function*() {
      const { named, tracer } = recording()
      const mw = Tracing.middleware()
      const commands = [Commands.get("a"), Commands.get("b")]
      const movedExits: Middleware.Exits = [Exit.fail(moved), Exit.fail(moved)]
      const okExits: Middleware.Exits = [Exit.succeed(Option.none()), Exit.succeed(Option.none())]
      yield* mw.batch!(
        "pipeline",
        commands,
        Effect.andThen(mw.sendAll!(NODE, commands, Effect.succeed(movedExits)), mw.sendAll!(OTHER, commands, Effect.succeed(okExits)))
      ).pipe(Effect.withTracer(tracer))
      const [span] = named("PIPELINE GET")
      assert.strictEqual(span.attributes.get("redis.attempts"), 2)
      assert.strictEqual(span.attributes.get("redis.redirects"), 2)
      assert.deepStrictEqual(span.events.map(([name, , a]) => [name, a["redis.redirect.count"]]), [["redis.redirect", 2]])
    }))

  it.effect("a transaction: a MULTI span around MULTI … EXEC on the wire", () =>
    Effect.gen(function*() {
      const { named, spans, tracer } = recording()
      const mw = Tracing.middleware({ recordArguments: true })
      const commands = [Commands.incr("t"), Commands.incr("t")]
      const wireBatch = [Cmd.make(["MULTI"], Cmd.Reply.ok), ...commands, Cmd.make(["EXEC"], Cmd.Reply.raw)]
      // The transaction's result is its commands' replies (values, not exits).
      const out = yield* mw.batch!(
        "transaction",
        commands,
        Effect.as(mw.sendAll!(NODE, wireBatch, Effect.succeed([])), [1, 2])
      ).pipe(Effect.withTracer(tracer))
      assert.deepStrictEqual(out, [1, 2])
      assert.strictEqual(spans.length, 1)
      const [span] = named("MULTI INCR")
      assert.strictEqual(span.attributes.get("db.operation.batch.size"), 2)
      assert.strictEqual(span.attributes.get("db.query.text"), "INCR t\nINCR t")
      assert.strictEqual(span.attributes.get("redis.attempts"), 1)
      assert.isFalse(span.attributes.has("error.type"))
    }))

  it.effect("a failed transaction ends its span with the scrubbed failure", () =>
    Effect.gen(function*() {
      const { spans, tracer } = recording()
      const mw = Tracing.middleware()
      const abort = RedisError.make(new RedisError.ExecAbort({ message: "EXECABORT because of 's3cret'", watchConflict: false }), "Rejected")
      yield* Effect.exit(mw.batch!("transaction", [Commands.incr("t")], Effect.fail(abort)).pipe(Effect.withTracer(tracer)))
      const [span] = spans
      assert.strictEqual(span.attributes.get("error.type"), "ExecAbort")
      const ended = span.status._tag === "Ended" ? span.status.exit : undefined
      assert.strictEqual((RedisError.failureOf(ended!) as Error).message, "ExecAbort [Rejected]")
    }))

  it.effect("a write outside any command span gets a span of its own, unless wireSpans is off", () =>
    Effect.gen(function*() {
      const { named, spans, tracer } = recording()
      const on = Tracing.middleware()
      const off = Tracing.middleware({ wireSpans: false })
      const watch = Cmd.make(["WATCH", "k"], Cmd.Reply.ok, { keys: ["k"] })
      yield* on.send!(NODE, watch, wire({ reply: undefined })).pipe(Effect.withTracer(tracer))
      const wireBatch = [Cmd.make(["MULTI"], Cmd.Reply.ok), Commands.set("k", "2"), Cmd.make(["EXEC"], Cmd.Reply.raw)]
      yield* on.sendAll!(NODE, wireBatch, Effect.succeed([])).pipe(Effect.withTracer(tracer))
      yield* off.send!(NODE, watch, wire({ reply: undefined })).pipe(Effect.withTracer(tracer))
      assert.deepStrictEqual(spans.map((s) => s.name), ["WATCH", "MULTI SET"])
      assert.strictEqual(named("WATCH")[0].attributes.get("redis.attempts"), 1)
      assert.strictEqual(named("MULTI SET")[0].attributes.get("redis.attempts"), 1)
    }))

  it.effect("with the tracer disabled, commands and writes run as they are", () =>
    Effect.gen(function*() {
      const { spans, tracer } = recording()
      const mw = Tracing.middleware()
      const get = Commands.get("k")
      const out = yield* run(mw, get, mw.send!(NODE, get, wire({ reply: Option.some("v") }))).pipe(
        Effect.withTracer(tracer),
        Effect.withTracerEnabled(false)
      )
      const alone = yield* mw.send!(NODE, get, wire({ reply: Option.some("w") })).pipe(
        Effect.withTracer(tracer),
        Effect.withTracerEnabled(false)
      )
      assert.deepStrictEqual([out, alone], [Option.some("v"), Option.some("w")])
      assert.strictEqual(spans.length, 0)
    }))
})
