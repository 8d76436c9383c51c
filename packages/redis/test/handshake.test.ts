/**
 * `internal/handshake.ts` over a fake `Exchange` (a function that records
 * each write and answers from a script, no socket): HELLO 3 with AUTH and
 * SETNAME, the fall back to RESP2 (AUTH, CLIENT SETNAME) when HELLO is
 * refused, AUTH failures mapped to `AuthError`, SELECT and READONLY that
 * must succeed, CLIENT SETINFO whose errors are ignored (with the user's
 * `libName`/`libVersion`, or ours, or none with `setInfo: false`), the
 * credentials provider, the user's `onConnect` (run last, on the same
 * write path, its failure failing the handshake), and the connect timeout
 * under the `TestClock`.
 */
import { assert, describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"
import * as Option from "effect/Option"
import * as Redacted from "effect/Redacted"
import { TestClock } from "effect/testing"
import type { Command } from "../src/Command.ts"
import * as Commands from "../src/Commands.ts"
import * as Handshake from "../src/internal/handshake.ts"
import * as RedisConfig from "../src/RedisConfig.ts"
import * as RedisError from "../src/RedisError.ts"
import type * as Resp from "../src/Resp.ts"

// -----------------------------------------------------------------------------
// the fake exchange
// -----------------------------------------------------------------------------

/** What the fake server answers to one command: a reply, or an error reply's text. */
type Answer = { readonly reply: Resp.RespValue } | { readonly error: string }

const ok: Answer = { reply: "OK" }
const err = (text: string): Answer => ({ error: text })

/**
 * An `Exchange` that records every write (each command as its words, joined
 * by spaces) and answers each command from `answer` (by default "OK"),
 * decoding replies with the command's own decoder and classifying error
 * replies as the connection does.
 */
const fakeExchange = (answer: (words: string) => Answer = () => ok) => {
  const writes: Array<Array<string>> = []
  const exchange: Handshake.Exchange = (commands) =>
    Effect.sync(() => {
      const words = commands.map((c) => c.args.map(String).join(" "))
      writes.push(words)
      return words.map((w, i) => {
        const a = answer(w)
        const command = commands[i] as Command<unknown>
        return "error" in a
          ? Exit.fail(RedisError.make(RedisError.classify(a.error), "Rejected", command.name))
          : Exit.succeed(command.decode(a.reply))
      })
    })
  return { exchange, writes, all: () => writes.flat() }
}

const options = (extra: Partial<RedisConfig.ConnectionOptions> = {}): RedisConfig.ConnectionOptions => ({
  endpoint: RedisConfig.tcp("127.0.0.1", 6379),
  ...extra
})

const SETINFO = [
  `CLIENT SETINFO LIB-NAME ${Handshake.LIB_NAME}`,
  `CLIENT SETINFO LIB-VER ${Handshake.LIB_VERSION}`
]

const failure = <A>(exit: Exit.Exit<A, RedisError.RedisError>): RedisError.RedisError => {
  assert.isTrue(Exit.isFailure(exit), "the handshake failed")
  const error = RedisError.failureOf(exit)
  assert.isDefined(error)
  return error!
}

// -----------------------------------------------------------------------------
// protocol
// -----------------------------------------------------------------------------

describe("handshake: protocol", () => {
  it.effect("HELLO 3 succeeds: RESP3, then CLIENT SETINFO in one write", () =>
    Effect.gen(function*() {
      const fake = fakeExchange()
      const protocol = yield* Handshake.run(options(), fake.exchange)
      assert.strictEqual(protocol, 3)
      assert.deepStrictEqual(fake.writes, [["HELLO 3"], SETINFO])
    }))

  it.effect("HELLO carries AUTH and SETNAME; no CLIENT SETNAME follows", () =>
    Effect.gen(function*() {
      const fake = fakeExchange()
      yield* Handshake.run(
        options({ username: "app", password: Redacted.make("pw"), clientName: "worker", database: 2 }),
        fake.exchange
      )
      assert.deepStrictEqual(fake.writes, [["HELLO 3 AUTH app pw SETNAME worker"], ["SELECT 2", ...SETINFO]])
    }))

  it.effect("an unknown HELLO (Redis < 6) falls back to RESP2: AUTH, then CLIENT SETNAME with SELECT", () =>
    Effect.gen(function*() {
      const fake = fakeExchange((w) => (w.startsWith("HELLO") ? err("ERR unknown command 'HELLO'") : ok))
      const protocol = yield* Handshake.run(
        options({ password: Redacted.make("pw"), clientName: "worker", database: 1 }),
        fake.exchange
      )
      assert.strictEqual(protocol, 2)
      assert.deepStrictEqual(fake.writes, [
        ["HELLO 3 AUTH default pw SETNAME worker"],
        ["AUTH pw"],
        ["CLIENT SETNAME worker", "SELECT 1", ...SETINFO]
      ])
    }))

  it.effect("NOPROTO (RESP3 refused) falls back to RESP2, AUTH with the username", () =>
    Effect.gen(function*() {
      const fake = fakeExchange((w) => (w.startsWith("HELLO") ? err("NOPROTO unsupported protocol version") : ok))
      const protocol = yield* Handshake.run(options({ username: "u", password: Redacted.make("p") }), fake.exchange)
      assert.strictEqual(protocol, 2)
      assert.deepStrictEqual(fake.all().slice(0, 2), ["HELLO 3 AUTH u p", "AUTH u p"])
    }))

  it.effect("protocol: 2 never sends HELLO", () =>
    Effect.gen(function*() {
      const fake = fakeExchange()
      const protocol = yield* Handshake.run(options({ protocol: 2 }), fake.exchange)
      assert.strictEqual(protocol, 2)
      assert.deepStrictEqual(fake.writes, [SETINFO])
    }))

  it.effect("another HELLO error fails the handshake as it is", () =>
    Effect.gen(function*() {
      const fake = fakeExchange((w) => (w.startsWith("HELLO") ? err("ERR something else") : ok))
      const error = failure(yield* Effect.exit(Handshake.run(options(), fake.exchange)))
      assert.strictEqual(error.reason._tag, "ReplyError")
      assert.strictEqual(fake.writes.length, 1)
    }))
})

// -----------------------------------------------------------------------------
// authentication
// -----------------------------------------------------------------------------

describe("handshake: authentication", () => {
  for (
    const [text, label] of [
      ["WRONGPASS invalid username-password pair or user is disabled.", "WRONGPASS"],
      ["NOAUTH HELLO must be called with the client already authenticated", "NOAUTH"],
      ["NOPERM this user has no permissions to run the 'hello' command", "NOPERM"]
    ] as const
  ) {
    it.effect(`${label} from HELLO is an AuthError, Rejected, and names no password`, () =>
      Effect.gen(function*() {
        const fake = fakeExchange((w) => (w.startsWith("HELLO") ? err(text) : ok))
        const error = failure(yield* Effect.exit(Handshake.run(options({ password: Redacted.make("s3cret") }), fake.exchange)))
        assert.strictEqual(error.reason._tag, "AuthError")
        assert.strictEqual(error.outcome, "Rejected")
        assert.strictEqual(error.command, "AUTH")
        assert.notInclude(error.message, "s3cret")
      }))
  }

  it.effect("a refused AUTH after the RESP2 fall back is an AuthError (old servers: ERR invalid password)", () =>
    Effect.gen(function*() {
      const fake = fakeExchange((w) =>
        w.startsWith("HELLO") ? err("ERR unknown command 'HELLO'") : w.startsWith("AUTH") ? err("ERR invalid password") : ok
      )
      const error = failure(yield* Effect.exit(Handshake.run(options({ password: Redacted.make("x") }), fake.exchange)))
      assert.strictEqual(error.reason._tag, "AuthError")
      // Nothing after the refused AUTH.
      assert.deepStrictEqual(fake.all(), ["HELLO 3 AUTH default x", "AUTH x"])
    }))

  it.effect("the credentials provider runs each time; its failure is an AuthError, NotSent, and nothing is written", () =>
    Effect.gen(function*() {
      let calls = 0
      const rotating = options({
        credentials: Effect.sync(() => ({ username: "u", password: Redacted.make(`pw${++calls}`) }))
      })
      const fake = fakeExchange()
      yield* Handshake.run(rotating, fake.exchange)
      yield* Handshake.run(rotating, fake.exchange)
      assert.deepStrictEqual(fake.all().filter((w) => w.startsWith("HELLO")), ["HELLO 3 AUTH u pw1", "HELLO 3 AUTH u pw2"])

      const broken = fakeExchange()
      const error = failure(
        yield* Effect.exit(Handshake.run(
          options({ credentials: Effect.fail(RedisError.invalidArgument("vault down")) }),
          broken.exchange
        ))
      )
      assert.strictEqual(error.reason._tag, "AuthError")
      assert.strictEqual(error.outcome, "NotSent")
      assert.deepStrictEqual(broken.writes, [])
    }))
})

// -----------------------------------------------------------------------------
// setup: SELECT, READONLY, CLIENT SETINFO
// -----------------------------------------------------------------------------

describe("handshake: setup", () => {
  it.effect("CLIENT SETINFO errors are ignored (Redis < 7.2 does not know it)", () =>
    Effect.gen(function*() {
      const fake = fakeExchange((w) => (w.startsWith("CLIENT SETINFO") ? err("ERR unknown subcommand 'SETINFO'") : ok))
      assert.strictEqual(yield* Handshake.run(options({ database: 3, readOnly: true }), fake.exchange), 3)
      assert.deepStrictEqual(fake.writes[1], ["SELECT 3", "READONLY", ...SETINFO])
    }))

  it.effect("a failed SELECT or READONLY fails the handshake", () =>
    Effect.gen(function*() {
      for (const [word, extra] of [["SELECT", { database: 99 }], ["READONLY", { readOnly: true }]] as const) {
        const fake = fakeExchange((w) => (w.startsWith(word) ? err("ERR refused") : ok))
        const error = failure(yield* Effect.exit(Handshake.run(options(extra), fake.exchange)))
        assert.strictEqual(error.reason._tag, "ReplyError")
      }
    }))

  it.effect("libName and libVersion replace ours in CLIENT SETINFO", () =>
    Effect.gen(function*() {
      const fake = fakeExchange()
      yield* Handshake.run(options({ libName: "my-framework", libVersion: "2.1.0" }), fake.exchange)
      assert.deepStrictEqual(fake.writes[1], ["CLIENT SETINFO LIB-NAME my-framework", "CLIENT SETINFO LIB-VER 2.1.0"])
    }))

  it.effect("setInfo: false sends no CLIENT SETINFO (and nothing at all when nothing else is due)", () =>
    Effect.gen(function*() {
      const fake = fakeExchange()
      yield* Handshake.run(options({ setInfo: false }), fake.exchange)
      assert.deepStrictEqual(fake.writes, [["HELLO 3"]])
    }))
})

// -----------------------------------------------------------------------------
// onConnect
// -----------------------------------------------------------------------------

describe("handshake: onConnect", () => {
  it.effect("runs last, with the endpoint and protocol, and sends on the handshake's own path", () =>
    Effect.gen(function*() {
      const fake = fakeExchange((w) => (w === "GET flag" ? { reply: "on" } : ok))
      const seen: Array<unknown> = []
      const protocol = yield* Handshake.run(
        options({
          protocol: 2,
          onConnect: (session) =>
            Effect.gen(function*() {
              seen.push(session.protocol, RedisConfig.formatEndpoint(session.endpoint))
              seen.push(yield* session.send(Commands.get("flag")))
              yield* session.send(Commands.raw(["CLIENT", "NO-EVICT", "on"]))
            })
        }),
        fake.exchange
      )
      assert.strictEqual(protocol, 2)
      assert.deepStrictEqual(seen.slice(0, 2), [2, "127.0.0.1:6379"])
      assert.deepStrictEqual(seen[2], Option.some("on"))
      assert.deepStrictEqual(fake.writes, [SETINFO, ["GET flag"], ["CLIENT NO-EVICT on"]])
    }))

  it.effect("its failure (its own, or a command's) fails the handshake with that error", () =>
    Effect.gen(function*() {
      const own = RedisError.invalidArgument("not this server")
      const a = failure(yield* Effect.exit(Handshake.run(options({ onConnect: () => Effect.fail(own) }), fakeExchange().exchange)))
      assert.strictEqual(a, own)

      const fake = fakeExchange((w) => (w.startsWith("CLIENT TRACKING") ? err("ERR tracking refused") : ok))
      const b = failure(
        yield* Effect.exit(Handshake.run(
          options({ onConnect: (s) => Effect.asVoid(s.send(Commands.raw(["CLIENT", "TRACKING", "on"]))) }),
          fake.exchange
        ))
      )
      assert.strictEqual(b.reason._tag, "ReplyError")
      assert.strictEqual(b.outcome, "Rejected")
    }))

  it.effect("does not run when the handshake failed before it", () =>
    Effect.gen(function*() {
      let ran = false
      const fake = fakeExchange((w) => (w.startsWith("HELLO") ? err("WRONGPASS nope") : ok))
      yield* Effect.exit(Handshake.run(
        options({ password: Redacted.make("x"), onConnect: () => Effect.sync(() => void (ran = true)) }),
        fake.exchange
      ))
      assert.isFalse(ran)
    }))

  it.effect("an invalid command is refused before anything is written", () =>
    Effect.gen(function*() {
      const fake = fakeExchange()
      const error = failure(
        yield* Effect.exit(Handshake.run(
          options({ setInfo: false, onConnect: (s) => Effect.asVoid(s.send(Commands.del([]))) }),
          fake.exchange
        ))
      )
      assert.strictEqual(error.reason._tag, "InvalidArgument")
      assert.deepStrictEqual(fake.writes, [["HELLO 3"]])
    }))
})

// -----------------------------------------------------------------------------
// connect timeout
// -----------------------------------------------------------------------------

/** An exchange whose replies never come. */
const silent: Handshake.Exchange = () => Effect.never

describe("handshake: connect timeout", () => {
  it.effect("a server that never answers fails it with Timeout, NotSent, after connectTimeout", () =>
    Effect.gen(function*() {
      const fiber = yield* Effect.forkChild(Handshake.run(options({ connectTimeout: "2 seconds" }), silent))
      yield* TestClock.adjust("1999 millis")
      assert.isUndefined(fiber.pollUnsafe(), "still waiting just before the bound")
      yield* TestClock.adjust("1 millis")
      const error = failure(yield* Fiber.await(fiber))
      assert.strictEqual(error.reason._tag, "Timeout")
      assert.strictEqual(error.outcome, "NotSent")
      assert.include(error.message, "127.0.0.1:6379")
      assert.include(error.message, "2000 ms")
    }))

  it.effect("the default bound is RedisConfig.defaultConnectTimeout", () =>
    Effect.gen(function*() {
      const fiber = yield* Effect.forkChild(Handshake.run(options(), silent))
      yield* TestClock.adjust(RedisConfig.defaultConnectTimeout)
      const error = failure(yield* Fiber.await(fiber))
      assert.strictEqual(error.reason._tag, "Timeout")
    }))

  it.effect("a slow onConnect counts against the same bound", () =>
    Effect.gen(function*() {
      const fiber = yield* Effect.forkChild(Handshake.run(
        options({ connectTimeout: "1 second", onConnect: () => Effect.sleep("5 seconds") }),
        fakeExchange().exchange
      ))
      yield* TestClock.adjust("1 second")
      const error = failure(yield* Fiber.await(fiber))
      assert.strictEqual(error.reason._tag, "Timeout")
    }))
})
