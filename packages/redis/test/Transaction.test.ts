/**
 * MULTI/EXEC and WATCH over a fake connection that plays a small server:
 * MULTI, QUEUED, EXEC's array (or nil after a WATCH conflict, or EXECABORT
 * after a refusal at queue time), WATCH/UNWATCH/DISCARD, and GET/SET/INCR
 * over a Map. What is checked is what the transaction writes (one write:
 * MULTI, the commands, EXEC) and how EXEC's reply becomes the result or the
 * error; the conflict retry runs under the `TestClock`.
 */
import { assert, describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"
import * as Option from "effect/Option"
import * as Schedule from "effect/Schedule"
import { TestClock } from "effect/testing"
import type { Command } from "../src/Command.ts"
import * as Commands from "../src/Commands.ts"
import type * as Connection from "../src/Connection.ts"
import type * as Redis from "../src/Redis.ts"
import * as RedisError from "../src/RedisError.ts"
import type { RespValue } from "../src/Resp.ts"
import { RespError } from "../src/Resp.ts"
import * as Transaction from "../src/Transaction.ts"

interface ServerScript {
  /** A queue-time refusal for these arguments (MOVED, an unknown command). */
  readonly refuse?: (args: ReadonlyArray<string>) => RespError | undefined
  /** How many EXECs answer nil (a watched key changed) before one runs. */
  readonly conflicts?: number
}

const fakeServer = (script: ServerScript = {}) => {
  const data = new Map<string, string>()
  const writes: Array<ReadonlyArray<Command<unknown>>> = []
  let queue: Array<ReadonlyArray<string>> | undefined
  let aborted = false
  let conflicts = script.conflicts ?? 0

  const run = (args: ReadonlyArray<string>): RespValue => {
    switch (args[0].toUpperCase()) {
      case "GET":
        return data.get(args[1]) ?? null
      case "SET":
        data.set(args[1], args[2])
        return "OK"
      case "INCR": {
        const n = Number(data.get(args[1]) ?? "0")
        if (!Number.isInteger(n)) return new RespError("ERR value is not an integer or out of range")
        data.set(args[1], String(n + 1))
        return n + 1
      }
      default:
        return new RespError(`ERR unknown command '${args[0]}'`)
    }
  }

  const answer = (args: ReadonlyArray<string>): RespValue => {
    const name = args[0].toUpperCase()
    if (name === "MULTI") {
      queue = []
      aborted = false
      return "OK"
    }
    if (name === "WATCH" || name === "UNWATCH") return "OK"
    if (name === "DISCARD") {
      if (queue === undefined) return new RespError("ERR DISCARD without MULTI")
      queue = undefined
      return "OK"
    }
    if (name === "EXEC") {
      if (queue === undefined) return new RespError("ERR EXEC without MULTI")
      const queued = queue
      queue = undefined
      if (aborted) return new RespError("EXECABORT Transaction discarded because of previous errors.")
      if (conflicts > 0) {
        conflicts--
        return null
      }
      return queued.map(run)
    }
    if (queue !== undefined) {
      const refused = script.refuse?.(args)
      if (refused !== undefined) {
        aborted = true
        return refused
      }
      queue.push(args)
      return "QUEUED"
    }
    return run(args)
  }

  // As the real connection does: a RespError reply fails the command
  // (Rejected), anything else goes through its decoder.
  const reply = (command: Command<unknown>): Exit.Exit<unknown, RedisError.RedisError> => {
    const value = answer(command.args.map(String))
    if (value instanceof RespError) {
      return Exit.fail(RedisError.make(RedisError.classify(value.message), "Rejected", command.name))
    }
    return Exit.succeed(command.decode(value))
  }

  const connection = {
    send: <A>(command: Command<A>) =>
      Effect.suspend(() => {
        writes.push([command])
        return reply(command) as Exit.Exit<A, RedisError.RedisError>
      }),
    sendAll: (commands: ReadonlyArray<Command<unknown>>) =>
      Effect.sync(() => {
        writes.push(commands)
        return commands.map(reply)
      })
  } as unknown as Connection.Connection

  const borrowed: Array<ReadonlyArray<unknown>> = []
  const withDedicated: Redis.Backend["withDedicated"] = (keys, f) =>
    Effect.suspend(() => {
      borrowed.push(keys)
      return f(connection)
    })

  const text = (commands: ReadonlyArray<Command<unknown>>) => commands.map((c) => c.args.map(String).join(" "))
  return { connection, withDedicated, data, borrowed, writes: () => writes.map(text), rawWrites: writes }
}

const errorOf = <A>(exit: Exit.Exit<A, unknown>): RedisError.RedisError => {
  const error = RedisError.failureOf(exit)
  assert.isTrue(RedisError.isRedisError(error), "expected a RedisError")
  return error as RedisError.RedisError
}

describe("runTransaction", () => {
  it.effect("writes MULTI, the commands and EXEC in one write, and decodes EXEC's array per command", () =>
    Effect.gen(function*() {
      const server = fakeServer()
      server.data.set("n", "41")
      const [set, incr, get] = yield* Transaction.runTransaction(server.connection, [
        Commands.set("k", "v"),
        Commands.incr("n"),
        Commands.get("k")
      ])
      assert.strictEqual(set, true)
      assert.strictEqual(incr, 42)
      assert.deepStrictEqual(get, Option.some("v"))
      assert.deepStrictEqual(server.writes(), [["MULTI", "SET k v", "INCR n", "GET k", "EXEC"]])
    }))

  it.effect("EXEC asks for bytes only when a queued command does", () =>
    Effect.gen(function*() {
      const server = fakeServer()
      yield* Transaction.runTransaction(server.connection, [Commands.get("a")])
      yield* Transaction.runTransaction(server.connection, [Commands.get("a"), Commands.getBytes("b")])
      const execs = server.rawWrites.map((w) => w[w.length - 1])
      assert.deepStrictEqual(execs.map((c) => [c.name, c.binary]), [["EXEC", false], ["EXEC", true]])
    }))

  it.effect("a command refused at queue time fails it all with ExecAbort, naming the command and why", () =>
    Effect.gen(function*() {
      const server = fakeServer({
        refuse: (args) => (args[0] === "NOPE" ? new RespError("ERR unknown command 'NOPE'") : undefined)
      })
      const exit = yield* Effect.exit(Transaction.runTransaction(server.connection, [
        Commands.set("k", "v"),
        Commands.raw(["NOPE"])
      ]))
      const error = errorOf(exit)
      assert.strictEqual(error.reason._tag, "ExecAbort")
      assert.isFalse((error.reason as RedisError.ExecAbort).watchConflict)
      assert.strictEqual(error.outcome, "Rejected")
      assert.include(error.message, "command 2 (NOPE)")
      assert.include(error.message, "unknown command")
      assert.isFalse(server.data.has("k"), "nothing ran")
    }))

  it.effect("a redirect at queue time stays a redirect (a cluster follows it)", () =>
    Effect.gen(function*() {
      const server = fakeServer({
        refuse: (args) => (args[1] === "moved" ? new RespError("MOVED 3999 127.0.0.1:7001") : undefined)
      })
      const exit = yield* Effect.exit(Transaction.runTransaction(server.connection, [Commands.set("moved", "v")]))
      const error = errorOf(exit)
      assert.strictEqual(error.reason._tag, "Moved")
      assert.strictEqual(error.outcome, "Rejected")
    }))

  it.effect("EXEC answering nil is a WATCH conflict: ExecAbort with watchConflict", () =>
    Effect.gen(function*() {
      const server = fakeServer({ conflicts: 1 })
      const error = errorOf(yield* Effect.exit(Transaction.runTransaction(server.connection, [Commands.incr("n")])))
      assert.strictEqual(error.reason._tag, "ExecAbort")
      assert.isTrue((error.reason as RedisError.ExecAbort).watchConflict)
      assert.strictEqual(error.outcome, "Rejected")
    }))

  it.effect("an error inside EXEC's array fails with that command's own reason", () =>
    Effect.gen(function*() {
      const server = fakeServer()
      server.data.set("s", "not a number")
      const error = errorOf(yield* Effect.exit(Transaction.runTransaction(server.connection, [
        Commands.set("k", "v"),
        Commands.incr("s")
      ])))
      assert.strictEqual(error.reason._tag, "ReplyError")
      assert.strictEqual(error.command, "INCR")
      assert.strictEqual(server.data.get("k"), "v", "the other commands ran: MULTI is not a rollback")
    }))

  it.effect("an invalid command is refused before MULTI is written", () =>
    Effect.gen(function*() {
      const server = fakeServer()
      const error = errorOf(yield* Effect.exit(Transaction.runTransaction(server.connection, [
        Commands.set("k", "v"),
        Commands.watch([])
      ])))
      assert.strictEqual(error.reason._tag, "InvalidArgument")
      assert.isFalse(server.writes().some((w) => w.includes("MULTI")))
    }))

  it.effect("connection-state commands are refused inside MULTI; blocking ones are queued", () =>
    Effect.gen(function*() {
      const server = fakeServer()
      const error = errorOf(yield* Effect.exit(Transaction.runTransaction(server.connection, [Commands.select(1)])))
      assert.strictEqual(error.reason._tag, "InvalidArgument")
      assert.deepStrictEqual(server.writes(), [])
      // The fake knows no BLPOP: EXEC's array holds its error, which shows it was queued.
      yield* Effect.exit(Transaction.runTransaction(server.connection, [Commands.blpop("q", 1)]))
      assert.deepStrictEqual(server.writes(), [["MULTI", "BLPOP q 1", "EXEC"]])
    }))
})

describe("watch", () => {
  it.effect("WATCH, the body's reads on the same connection, then MULTI/EXEC of what it returns", () =>
    Effect.gen(function*() {
      const server = fakeServer()
      server.data.set("n", "5")
      const [ok] = yield* Transaction.watch(server.withDedicated, ["n"], (tx) =>
        Effect.map(tx.execute(Commands.get("n")), (v) => [Commands.set("n", String(Number(Option.getOrThrow(v)) * 2))]))
      assert.strictEqual(ok, true)
      assert.strictEqual(server.data.get("n"), "10")
      assert.deepStrictEqual(server.borrowed, [["n"]])
      assert.deepStrictEqual(server.writes(), [["WATCH n"], ["GET n"], ["MULTI", "SET n 10", "EXEC"]])
    }))

  it.effect("a body that returns no command UNWATCHes and runs nothing", () =>
    Effect.gen(function*() {
      const server = fakeServer()
      const result = yield* Transaction.watch(server.withDedicated, ["n"], () => Effect.succeed([] as const))
      assert.deepStrictEqual(result, [])
      assert.deepStrictEqual(server.writes(), [["WATCH n"], ["UNWATCH"]])
    }))

  it.effect("no keys is InvalidArgument, and nothing is borrowed", () =>
    Effect.gen(function*() {
      const server = fakeServer()
      const error = errorOf(yield* Effect.exit(Transaction.watch(server.withDedicated, [], () => Effect.succeed([] as const))))
      assert.strictEqual(error.reason._tag, "InvalidArgument")
      assert.deepStrictEqual(server.borrowed, [])
    }))

  it.effect("a conflict runs it all again (WATCH and body included) by the schedule", () =>
    Effect.gen(function*() {
      const server = fakeServer({ conflicts: 2 })
      let bodies = 0
      const fiber = yield* Effect.forkChild(Transaction.watch(server.withDedicated, ["n"], () =>
        Effect.sync(() => {
          bodies++
          return [Commands.incr("n")] as const
        })))
      yield* TestClock.adjust("1 second")
      const [n] = yield* Fiber.join(fiber)
      assert.strictEqual(n, 1, "only the last attempt's EXEC ran")
      assert.strictEqual(bodies, 3)
      assert.strictEqual(server.borrowed.length, 3)
    }))

  it.effect("when retries run out, the conflict surfaces", () =>
    Effect.gen(function*() {
      const server = fakeServer({ conflicts: 100 })
      const exit = yield* Effect.exit(Transaction.watch(
        server.withDedicated,
        ["n"],
        () => Effect.succeed([Commands.incr("n")] as const),
        { retry: Schedule.recurs(2) }
      ))
      const error = errorOf(exit)
      assert.isTrue(error.reason._tag === "ExecAbort" && error.reason.watchConflict)
      assert.strictEqual(server.borrowed.length, 3)
    }))

  it.effect("the body's own failure is not retried", () =>
    Effect.gen(function*() {
      const server = fakeServer()
      const exit = yield* Effect.exit(Transaction.watch(server.withDedicated, ["n"], () => Effect.fail("body failed" as const)))
      assert.deepStrictEqual(exit, Exit.fail("body failed"))
      assert.strictEqual(server.borrowed.length, 1)
    }))
})

describe("defaultWatchRetry", () => {
  it.effect("retries up to 10 more times, then the conflict surfaces", () =>
    Effect.gen(function*() {
      const server = fakeServer({ conflicts: 100 })
      const fiber = yield* Effect.forkChild(Effect.exit(Transaction.watch(
        server.withDedicated,
        ["n"],
        () => Effect.succeed([Commands.incr("n")] as const)
      )))
      yield* TestClock.adjust("10 seconds")
      const error = errorOf(yield* Fiber.join(fiber))
      assert.isTrue(error.reason._tag === "ExecAbort" && error.reason.watchConflict)
      assert.strictEqual(server.borrowed.length, 11)
    }))
})
