/**
 * The delivery policy against its promise (docs/GUARANTEES.md, and the
 * module doc of `Delivery.ts`): a command is sent again only when it is
 * known not to have run (`NotSent`, `Rejected`) or it may run twice (a read,
 * or marked idempotent, and not blocking). On top of that:
 *
 * - `Moved`/`Ask` are a `Redirect`, and only where other nodes exist
 *   (reach `"nodes"`);
 * - `AuthError`, `InvalidArgument`, `NotSupported`, `ExecAbort` (even a WATCH
 *   conflict) and `MasterNotFound` are never sent again;
 * - `Closed` is sent again only where other nodes exist;
 * - reasons that are not retryable (`ReplyError`, `ProtocolError`,
 *   `NoScript`, `CrossSlot`, `ClusterCheckFailed`) are never sent again;
 * - the other (retryable) reasons are a `Retry` wherever the command may be
 *   sent again.
 *
 * The expected decision of every cell (command kind x reason x outcome x
 * reach) is computed from those rules, written here without calling
 * `Delivery`, and compared with `decide` and `isRetry`. Then `retryAfter` and
 * `withRetry` under the `TestClock`: N retries mean N more sends, each after
 * its delay, and only for failures the policy allows.
 */
import { assert, describe, it } from "@effect/vitest"
import * as Clock from "effect/Clock"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"
import * as Option from "effect/Option"
import * as Schedule from "effect/Schedule"
import { TestClock } from "effect/testing"
import * as Command from "../src/Command.ts"
import * as Commands from "../src/Commands.ts"
import * as Delivery from "../src/Delivery.ts"
import * as RedisError from "../src/RedisError.ts"
import type * as Resp from "../src/Resp.ts"

// -----------------------------------------------------------------------------
// the matrix
// -----------------------------------------------------------------------------

interface Kind {
  readonly label: string
  readonly command: Command.Command<unknown>
  /** By the promise: a read or idempotent, and not blocking. Written by hand. */
  readonly mayRunTwice: boolean
  /** The flags the row assumes the command carries. */
  readonly read: boolean
  readonly idempotent: boolean
  readonly blocking: boolean
}

const KINDS: ReadonlyArray<Kind> = [
  {
    label: "INCR (write)",
    command: Commands.incr("k"),
    mayRunTwice: false,
    read: false,
    idempotent: false,
    blocking: false
  },
  {
    label: "SET k v GET (write)",
    command: Commands.set("k", "v", { get: true }),
    mayRunTwice: false,
    read: false,
    idempotent: false,
    blocking: false
  },
  {
    label: "EVALSHA built without flags",
    command: Command.make(["EVALSHA", "0123", 0], Command.Reply.raw),
    mayRunTwice: false,
    read: false,
    idempotent: false,
    blocking: false
  },
  { label: "GET (read)", command: Commands.get("k"), mayRunTwice: true, read: true, idempotent: false, blocking: false },
  {
    label: "SET k v (idempotent write)",
    command: Commands.set("k", "v"),
    mayRunTwice: true,
    read: false,
    idempotent: true,
    blocking: false
  },
  {
    label: "INCR marked idempotent by the caller",
    command: Command.idempotent(Commands.incr("k")),
    mayRunTwice: true,
    read: false,
    idempotent: true,
    blocking: false
  },
  {
    label: "SET k v GET withFlags IDEMPOTENT",
    command: Command.withFlags(Commands.set("k", "v", { get: true }), Command.Flags.IDEMPOTENT),
    mayRunTwice: true,
    read: false,
    idempotent: true,
    blocking: false
  },
  {
    label: "BLPOP (blocking write)",
    command: Commands.blpop("k", 1),
    mayRunTwice: false,
    read: false,
    idempotent: false,
    blocking: true
  },
  {
    label: "XREAD BLOCK (blocking read)",
    command: Commands.xread({ s: "$" }, { block: 100 }),
    mayRunTwice: false,
    read: true,
    idempotent: false,
    blocking: true
  },
  {
    label: "BLPOP marked idempotent",
    command: Command.idempotent(Commands.blpop("k", 1)),
    mayRunTwice: false,
    read: false,
    idempotent: true,
    blocking: true
  }
]

/** How the promise treats a reason. */
type Rule = "redirect" | "never" | "closed" | "retryable" | "notRetryable"

/** One reason of every tag (ExecAbort twice) and the rule the promise gives it. */
const REASONS: ReadonlyArray<readonly [string, RedisError.RedisErrorReason, Rule]> = [
  ["Moved", new RedisError.Moved({ slot: 1, host: "10.0.0.2", port: 7001 }), "redirect"],
  ["Ask", new RedisError.Ask({ slot: 1, host: "10.0.0.2", port: 7001 }), "redirect"],
  ["AuthError", new RedisError.AuthError({ message: "WRONGPASS" }), "never"],
  ["InvalidArgument", new RedisError.InvalidArgument({ message: "NaN score" }), "never"],
  ["NotSupported", new RedisError.NotSupported({ message: "later" }), "never"],
  [
    "ExecAbort (queued command invalid)",
    new RedisError.ExecAbort({ message: "EXECABORT", watchConflict: false }),
    "never"
  ],
  // retryable by its own judgement, yet the policy leaves a WATCH retry to the caller
  ["ExecAbort (WATCH conflict)", new RedisError.ExecAbort({ message: "watched key changed", watchConflict: true }), "never"],
  ["MasterNotFound", new RedisError.MasterNotFound({ message: "no primary", masterName: "mymaster" }), "never"],
  ["Closed", new RedisError.Closed({ message: "closed" }), "closed"],
  ["ConnectionError", new RedisError.ConnectionError({ message: "connection lost" }), "retryable"],
  ["Timeout", new RedisError.Timeout({ message: "no reply", millis: 100 }), "retryable"],
  ["Loading", new RedisError.Loading({ message: "LOADING" }), "retryable"],
  ["ReadOnly", new RedisError.ReadOnly({ message: "READONLY" }), "retryable"],
  ["Busy", new RedisError.Busy({ message: "BUSY" }), "retryable"],
  ["TryAgain", new RedisError.TryAgain({ message: "TRYAGAIN" }), "retryable"],
  ["ClusterDown", new RedisError.ClusterDown({ message: "CLUSTERDOWN" }), "retryable"],
  ["MasterDown", new RedisError.MasterDown({ message: "MASTERDOWN" }), "retryable"],
  ["ReplyError", new RedisError.ReplyError({ code: "ERR", message: "ERR syntax error" }), "notRetryable"],
  ["ProtocolError", new RedisError.ProtocolError({ message: "bad frame" }), "notRetryable"],
  ["NoScript", new RedisError.NoScript({ message: "NOSCRIPT" }), "notRetryable"],
  ["CrossSlot", new RedisError.CrossSlot({ message: "CROSSSLOT" }), "notRetryable"],
  ["DecodeError", new RedisError.DecodeError({ key: "k", message: "bad value", raw: "x" }), "notRetryable"],
  [
    "ClusterCheckFailed",
    new RedisError.ClusterCheckFailed({ message: "broken", problems: ["slot 0 uncovered"] }),
    "notRetryable"
  ]
]

const OUTCOMES: ReadonlyArray<RedisError.Outcome> = ["NotSent", "Rejected", "Unknown"]
const REACHES: ReadonlyArray<Delivery.Reach> = ["server", "nodes"]

/** The promise, cell by cell. */
const promised = (rule: Rule, kind: Kind, outcome: RedisError.Outcome, reach: Delivery.Reach): Delivery.Decision => {
  const mayGoAgain = outcome !== "Unknown" || kind.mayRunTwice
  switch (rule) {
    case "redirect":
      return reach === "nodes" && mayGoAgain ? "Redirect" : "Fail"
    case "never":
    case "notRetryable":
      return "Fail"
    case "closed":
      return reach === "nodes" && mayGoAgain ? "Retry" : "Fail"
    case "retryable":
      return mayGoAgain ? "Retry" : "Fail"
  }
}

/**
 * Cells where `decide` disagrees with the promise (see the report): a
 * `Moved`/`Ask` whose outcome is `Unknown`, for a command that may not run
 * twice, is redirected. Today no code builds such an error (every server
 * reply is classified with outcome `Rejected`), and a MOVED/ASK reply is
 * itself proof the command did not run; but `decide` does not check.
 */
describe("the command kinds of the matrix", () => {
  for (const kind of KINDS) {
    it(`${kind.label} carries the flags the matrix assumes, and may${kind.mayRunTwice ? "" : " not"} run twice`, () => {
      const f = kind.command.flags
      assert.strictEqual((f & Command.Flags.READONLY) !== 0, kind.read, "READONLY")
      assert.strictEqual((f & Command.Flags.IDEMPOTENT) !== 0, kind.idempotent, "IDEMPOTENT")
      assert.strictEqual((f & Command.Flags.BLOCKING) !== 0, kind.blocking, "BLOCKING")
      assert.isUndefined(kind.command.invalid)
      assert.strictEqual(Delivery.mayRunTwice(kind.command), kind.mayRunTwice)
    })
  }
})

describe("decide: the matrix", () => {
  for (const [label, reason, rule] of REASONS) {
    describe(label, () => {
      for (const reach of REACHES) {
        for (const outcome of OUTCOMES) {
          for (const kind of KINDS) {
            const expected = promised(rule, kind, outcome, reach)
            it(`${reach} · ${outcome} · ${kind.label} → ${expected}`, () => {
              const error = RedisError.make(reason, outcome, kind.command.name)
              assert.strictEqual(Delivery.decide(kind.command, error, reach), expected)
              assert.strictEqual(Delivery.isRetry(kind.command, error, reach), expected === "Retry")
            })
          }
        }
      }
    })
  }
})

describe("decide: hand-written cells", () => {
  const get = Commands.get("k")
  const incr = Commands.incr("k")
  const blpop = Commands.blpop("k", 0)
  const lost = (outcome: RedisError.Outcome) =>
    RedisError.make(new RedisError.ConnectionError({ message: "connection lost" }), outcome)
  const cells: ReadonlyArray<
    readonly [string, Command.Command<unknown>, RedisError.RedisError, Delivery.Reach, Delivery.Decision]
  > = [
    ["a read whose reply was lost goes again", get, lost("Unknown"), "server", "Retry"],
    ["a write whose reply was lost does not", incr, lost("Unknown"), "server", "Fail"],
    ["nor on a cluster", incr, lost("Unknown"), "nodes", "Fail"],
    ["a write that never left goes again", incr, lost("NotSent"), "server", "Retry"],
    ["a blocking pop whose reply was lost does not", blpop, lost("Unknown"), "nodes", "Fail"],
    ["a blocking pop that never left goes again", blpop, lost("NotSent"), "server", "Retry"],
    [
      "a write MOVED on a cluster follows the redirect",
      incr,
      RedisError.make(new RedisError.Moved({ slot: 5, host: "h", port: 2 }), "Rejected"),
      "nodes",
      "Redirect"
    ],
    [
      "a MOVED on one server cannot be followed",
      get,
      RedisError.make(new RedisError.Moved({ slot: 5, host: "h", port: 2 }), "Rejected"),
      "server",
      "Fail"
    ],
    [
      "a closed client ends a standalone read",
      get,
      RedisError.make(new RedisError.Closed({ message: "closed" }), "NotSent"),
      "server",
      "Fail"
    ],
    [
      "a closed node hands a cluster read to another",
      get,
      RedisError.make(new RedisError.Closed({ message: "closed" }), "Unknown"),
      "nodes",
      "Retry"
    ],
    [
      "a closed node does not hand over a write that may have run",
      incr,
      RedisError.make(new RedisError.Closed({ message: "closed" }), "Unknown"),
      "nodes",
      "Fail"
    ],
    [
      "a WATCH conflict is the caller's to retry",
      get,
      RedisError.make(new RedisError.ExecAbort({ message: "nil", watchConflict: true }), "Rejected"),
      "nodes",
      "Fail"
    ],
    [
      "a syntax error stays an error",
      get,
      RedisError.make(new RedisError.ReplyError({ code: "ERR", message: "ERR syntax error" }), "Rejected"),
      "nodes",
      "Fail"
    ],
    [
      "a demoted primary's READONLY sends a write elsewhere",
      incr,
      RedisError.make(new RedisError.ReadOnly({ message: "READONLY" }), "Rejected"),
      "nodes",
      "Retry"
    ]
  ]
  for (const [why, command, error, reach, expected] of cells) {
    it(`${why} → ${expected}`, () => {
      assert.strictEqual(Delivery.decide(command, error, reach), expected)
    })
  }
})

// -----------------------------------------------------------------------------
// retryAfter / withRetry
// -----------------------------------------------------------------------------

const lostReply = RedisError.make(new RedisError.ConnectionError({ message: "connection lost" }), "Unknown")
const neverSent = RedisError.make(new RedisError.ConnectionError({ message: "connection refused" }), "NotSent")
const syntax = RedisError.make(new RedisError.ReplyError({ code: "ERR", message: "ERR syntax error" }), "Rejected")

/**
 * A fake sender: answers the n-th send (1-based) with the reply `script`
 * gives (decoded by the command) or its failure, recording the TestClock
 * time of every send.
 */
const fakeSend = (script: (n: number) => Effect.Effect<Resp.RespValue, RedisError.RedisError>) => {
  const times: Array<number> = []
  const send = <A>(command: Command.Command<A>): Effect.Effect<A, RedisError.RedisError> =>
    Effect.flatMap(Clock.currentTimeMillis, (now) => {
      times.push(now)
      return Effect.map(script(times.length), command.decode)
    })
  return { send, times }
}

/** Runs `effect` in a fiber and lets `millis` of TestClock time pass. */
const runFor = <A, E>(effect: Effect.Effect<A, E>, millis: number) =>
  Effect.gen(function*() {
    const fiber = yield* Effect.forkChild(effect)
    yield* TestClock.adjust(millis)
    return yield* Fiber.await(fiber)
  })

/** Failed with exactly `error` (deep equality would compare Error objects by message only). */
const assertFailedWith = (exit: Exit.Exit<unknown, RedisError.RedisError>, error: RedisError.RedisError) => {
  assert.isTrue(Exit.isFailure(exit), "failed")
  assert.strictEqual(RedisError.failureOf(exit), error)
}

const every100ms = (times: number) => Schedule.spaced("100 millis").pipe(Schedule.upTo({ times }))

describe("retryAfter", () => {
  it.effect("N retries of the schedule mean exactly N more sends, each after its delay", () =>
    Effect.gen(function*() {
      for (const n of [0, 1, 3]) {
        const start = yield* Clock.currentTimeMillis
        const { send, times } = fakeSend(() => Effect.fail(lostReply))
        const exit = yield* runFor(
          Delivery.retryAfter(lostReply, () => send(Commands.get("k")), { schedule: every100ms(n), while: () => true }),
          10_000
        )
        assert.strictEqual(times.length, n, `${n} retries`)
        assert.deepStrictEqual(times.map((t) => t - start), Array.from({ length: n }, (_, i) => 100 * (i + 1)))
        assertFailedWith(exit, lostReply)
      }
    }))

  it.effect("a `while` that refuses the first failure sends nothing and fails with it", () =>
    Effect.gen(function*() {
      const { send, times } = fakeSend(() => Effect.succeed("never"))
      const exit = yield* runFor(
        Delivery.retryAfter(syntax, () => send(Commands.get("k")), { schedule: every100ms(5), while: () => false }),
        10_000
      )
      assert.strictEqual(times.length, 0)
      assertFailedWith(exit, syntax)
    }))

  it.effect("stops at the first success", () =>
    Effect.gen(function*() {
      const { send, times } = fakeSend((n) => n < 2 ? Effect.fail(lostReply) : Effect.succeed("v"))
      const exit = yield* runFor(
        Delivery.retryAfter(lostReply, () => send(Commands.get("k")), { schedule: every100ms(5), while: () => true }),
        10_000
      )
      assert.strictEqual(times.length, 2)
      assert.deepStrictEqual(exit, Exit.succeed(Option.some("v")))
    }))

  it.effect("nothing is resent before the delay has passed", () =>
    Effect.gen(function*() {
      const { send, times } = fakeSend(() => Effect.fail(lostReply))
      const fiber = yield* Effect.forkChild(
        Delivery.retryAfter(lostReply, () => send(Commands.get("k")), {
          schedule: Schedule.spaced("1 second").pipe(Schedule.upTo({ times: 2 })),
          while: () => true
        })
      )
      yield* TestClock.adjust(999)
      assert.strictEqual(times.length, 0)
      yield* TestClock.adjust(1)
      assert.strictEqual(times.length, 1)
      yield* TestClock.adjust(1000)
      assert.strictEqual(times.length, 2)
      assertFailedWith(yield* Fiber.await(fiber), lostReply)
    }))
})

describe("withRetry", () => {
  it.effect("a read whose replies are lost is sent 1 + N times, then fails with the last error", () =>
    Effect.gen(function*() {
      const { send, times } = fakeSend(() => Effect.fail(lostReply))
      const exit = yield* runFor(Delivery.withRetry(send, every100ms(3))(Commands.get("k")), 10_000)
      assert.deepStrictEqual(times, [0, 100, 200, 300])
      assertFailedWith(exit, lostReply)
    }))

  it.effect("a read is resent until it succeeds", () =>
    Effect.gen(function*() {
      const { send, times } = fakeSend((n) => n < 3 ? Effect.fail(lostReply) : Effect.succeed("value"))
      const exit = yield* runFor(Delivery.withRetry(send, every100ms(5))(Commands.get("k")), 10_000)
      assert.strictEqual(times.length, 3)
      assert.deepStrictEqual(exit, Exit.succeed(Option.some("value")))
    }))

  it.effect("a write whose reply was lost is sent once", () =>
    Effect.gen(function*() {
      for (const reach of REACHES) {
        const { send, times } = fakeSend(() => Effect.fail(lostReply))
        const exit = yield* runFor(Delivery.withRetry(send, every100ms(5), reach)(Commands.incr("k")), 10_000)
        assert.strictEqual(times.length, 1, reach)
        assertFailedWith(exit, lostReply)
      }
    }))

  it.effect("a blocking pop whose reply was lost is sent once, even marked idempotent", () =>
    Effect.gen(function*() {
      const { send, times } = fakeSend(() => Effect.fail(lostReply))
      yield* runFor(Delivery.withRetry(send, every100ms(5))(Command.idempotent(Commands.blpop("k", 0))), 10_000)
      assert.strictEqual(times.length, 1)
    }))

  it.effect("a write that never left is resent", () =>
    Effect.gen(function*() {
      const { send, times } = fakeSend((n) => n < 3 ? Effect.fail(neverSent) : Effect.succeed(7))
      const exit = yield* runFor(Delivery.withRetry(send, every100ms(5))(Commands.incr("k")), 10_000)
      assert.strictEqual(times.length, 3)
      assert.deepStrictEqual(exit, Exit.succeed(7))
    }))

  it.effect("a write stops being resent once a send may have run", () =>
    Effect.gen(function*() {
      // refused twice, then written with the reply lost: the third send may have run
      const { send, times } = fakeSend((n) => Effect.fail(n < 3 ? neverSent : lostReply))
      const exit = yield* runFor(Delivery.withRetry(send, every100ms(5))(Commands.incr("k")), 10_000)
      assert.strictEqual(times.length, 3)
      assertFailedWith(exit, lostReply)
    }))

  it.effect("a failure that is not retryable is not resent, even for a read", () =>
    Effect.gen(function*() {
      const { send, times } = fakeSend(() => Effect.fail(syntax))
      const exit = yield* runFor(Delivery.withRetry(send, every100ms(5))(Commands.get("k")), 10_000)
      assert.strictEqual(times.length, 1)
      assertFailedWith(exit, syntax)
    }))

  it.effect("a retry that meets a failure that is not retryable stops there", () =>
    Effect.gen(function*() {
      const { send, times } = fakeSend((n) => Effect.fail(n === 1 ? lostReply : syntax))
      const exit = yield* runFor(Delivery.withRetry(send, every100ms(5))(Commands.get("k")), 10_000)
      assert.strictEqual(times.length, 2)
      assertFailedWith(exit, syntax)
    }))

  it.effect("Closed: a standalone client gives up at once, a cluster resends the read", () =>
    Effect.gen(function*() {
      const closed = RedisError.make(new RedisError.Closed({ message: "node dropped" }), "NotSent")
      const server = fakeSend(() => Effect.fail(closed))
      yield* runFor(Delivery.withRetry(server.send, every100ms(2), "server")(Commands.get("k")), 10_000)
      assert.strictEqual(server.times.length, 1)
      const nodes = fakeSend(() => Effect.fail(closed))
      yield* runFor(Delivery.withRetry(nodes.send, every100ms(2), "nodes")(Commands.get("k")), 10_000)
      assert.strictEqual(nodes.times.length, 3)
    }))

  it.effect("a success is sent once and passes through", () =>
    Effect.gen(function*() {
      const { send, times } = fakeSend(() => Effect.succeed(42))
      const exit = yield* runFor(Delivery.withRetry(send, every100ms(5))(Commands.incr("k")), 0)
      assert.strictEqual(times.length, 1)
      assert.deepStrictEqual(exit, Exit.succeed(42))
    }))

  it.effect("defaultRetry: a read whose replies are lost is sent 6 times (5 retries)", () =>
    Effect.gen(function*() {
      const { send, times } = fakeSend(() => Effect.fail(lostReply))
      const exit = yield* runFor(Delivery.withRetry(send, Delivery.defaultRetry)(Commands.get("k")), 60_000)
      assert.strictEqual(times.length, 6)
      assertFailedWith(exit, lostReply)
      // exponential from 20 ms, jittered: every gap is at least a few ms and the waits grow
      const gaps = times.slice(1).map((t, i) => t - times[i])
      assert.isTrue(gaps.every((g) => g > 0), `gaps ${gaps}`)
      assert.isTrue(gaps[4] > gaps[0], `gaps ${gaps}`)
    }))
})
