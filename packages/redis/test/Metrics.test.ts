/**
 * `Metrics`: the pure policy (outcomes, the connection state machine,
 * resubscribe rounds) with plain `it`; the middleware, `track` and
 * `countGaps` against a fresh metric registry per test, fake wire effects
 * and the `TestClock` (durations are exact): durations by command and
 * outcome, errors by reason, commands in flight, redirects, batches,
 * dedicated-connection waits, connection and topology events, pub/sub gaps.
 */
import { assert, describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"
import * as Metric from "effect/Metric"
import * as Option from "effect/Option"
import * as Queue from "effect/Queue"
import * as Stream from "effect/Stream"
import { TestClock } from "effect/testing"
import * as Cmd from "../src/Command.ts"
import * as Commands from "../src/Commands.ts"
import * as Metrics from "../src/Metrics.ts"
import type * as Middleware from "../src/Middleware.ts"
import type * as PubSub from "../src/PubSub.ts"
import * as RedisError from "../src/RedisError.ts"
import type * as TopologyEvent from "../src/TopologyEvent.ts"

// -----------------------------------------------------------------------------
// helpers
// -----------------------------------------------------------------------------

const NODE = "10.0.0.1:6379"

const moved = RedisError.make(new RedisError.Moved({ slot: 1, host: "10.0.0.2", port: 6380 }), "Rejected", "GET")
const ask = RedisError.make(new RedisError.Ask({ slot: 1, host: "10.0.0.2", port: 6380 }), "Rejected", "GET")
const wrongType = RedisError.make(
  new RedisError.ReplyError({ code: "WRONGTYPE", message: "WRONGTYPE Operation against a key holding the wrong kind of value" }),
  "Rejected",
  "INCR"
)

/** A fresh registry for the test body. */
const isolated = <A, E, R>(self: Effect.Effect<A, E, R>) => Effect.provideService(self, Metric.MetricRegistry, new Map())

/** The state of the series `id` whose labels include `labels`. */
const series = (id: string, labels: Record<string, string> = {}) =>
  Effect.map(Metric.snapshot, (all) => {
    const found = all.find((s) =>
      s.id === id && Object.entries(labels).every(([k, v]) => s.attributes?.[k] === v)
    )
    return found?.state as any
  })

/** A wire write that takes `millis` of (test) time, then answers. */
const slowly = <A>(millis: number, outcome: Effect.Effect<A, RedisError.RedisError>) =>
  Effect.andThen(TestClock.adjust(`${millis} millis`), outcome)

// -----------------------------------------------------------------------------
// pure policy
// -----------------------------------------------------------------------------

describe("outcomes", () => {
  it("ok, the RedisError's outcome in snake case, interrupted, defect", () => {
    assert.strictEqual(Metrics.outcomeOf(Exit.succeed(1)), "ok")
    assert.strictEqual(Metrics.outcomeOf(Exit.fail(wrongType)), "rejected")
    assert.strictEqual(Metrics.outcomeOf(Exit.fail(RedisError.invalidArgument("bad", "ZADD"))), "not_sent")
    assert.strictEqual(
      Metrics.outcomeOf(Exit.fail(RedisError.make(new RedisError.Timeout({ message: "t", millis: 1 }), "Unknown"))),
      "unknown"
    )
    assert.strictEqual(Metrics.outcomeOf(Exit.interrupt(1)), "interrupted")
    assert.strictEqual(Metrics.outcomeOf(Exit.die("boom")), "defect")
  })

  it("a pipeline's is its first failure's", () => {
    assert.strictEqual(Metrics.pipelineOutcome([Exit.succeed(1), Exit.succeed(2)]), "ok")
    assert.strictEqual(Metrics.pipelineOutcome([Exit.succeed(1), Exit.fail(wrongType)]), "rejected")
  })
})

describe("ConnectionState", () => {
  const event = (e: TopologyEvent.TopologyEvent & { readonly _tag: "Connection" }) => e
  const ready = (node: string) => event({ _tag: "Connection", event: { _tag: "Ready", node, protocol: 3 } })
  const lost = (node: string) =>
    event({
      _tag: "Connection",
      event: { _tag: "Disconnected", node, error: RedisError.make(new RedisError.ConnectionError({ message: "x" }), "Unknown") }
    })
  const closed = (node: string) => event({ _tag: "Connection", event: { _tag: "Closed", node } })

  it("a node is up once ready; a Ready after a loss is a reconnect; a closed node is neither up nor lost", () => {
    const state = new Metrics.ConnectionState()
    assert.isUndefined(state.apply(ready("a")))
    assert.isUndefined(state.apply(ready("b")))
    assert.strictEqual(state.open, 2)
    assert.strictEqual(state.apply(lost("a")), "disconnect")
    assert.strictEqual(state.open, 1)
    assert.strictEqual(state.apply(ready("a")), "reconnect")
    assert.strictEqual(state.open, 2)
    assert.strictEqual(state.apply(lost("b")), "disconnect")
    state.apply(closed("b"))
    assert.isUndefined(state.apply(ready("b")), "a node opened again after Closed is no reconnect")
    // A node that was up before tracking began and is lost: counted as a loss.
    assert.strictEqual(state.apply(lost("c")), "disconnect")
    assert.strictEqual(state.open, 2)
  })
})

describe("resubscribes", () => {
  it("the first subscribe round is not one", () => {
    assert.strictEqual(Metrics.resubscribes(0, 0), 0)
    assert.strictEqual(Metrics.resubscribes(0, 1), 0)
    assert.strictEqual(Metrics.resubscribes(0, 3), 2)
    assert.strictEqual(Metrics.resubscribes(1, 2), 1)
    assert.strictEqual(Metrics.resubscribes(4, 4), 0)
  })
})

// -----------------------------------------------------------------------------
// the middleware
// -----------------------------------------------------------------------------

describe("middleware", () => {
  it.effect("a command's duration by command and outcome; in flight while it runs", () =>
    Effect.gen(function*() {
      const mw = Metrics.middleware()
      const get = Commands.get("user:1")
      const during = yield* mw.execute!(
        get,
        slowly(2, Effect.map(series("redis_commands_in_flight"), (s) => Option.some(String(s.value))))
      )
      assert.deepStrictEqual(during, Option.some("1"))
      assert.strictEqual((yield* series("redis_commands_in_flight")).value, 0)
      const duration = yield* series("redis_command_duration_seconds", { command: "GET", outcome: "ok" })
      assert.strictEqual(duration.count, 1)
      assert.closeTo(duration.sum, 0.002, 1e-9)
    }).pipe(isolated))

  it.effect("a failure: its outcome, and an error by reason", () =>
    Effect.gen(function*() {
      const mw = Metrics.middleware()
      const incr = Commands.incr("a-list")
      yield* Effect.exit(mw.execute!(incr, slowly(1, Effect.fail(wrongType))))
      yield* Effect.exit(mw.execute!(incr, Effect.fail(wrongType)))
      assert.strictEqual((yield* series("redis_command_duration_seconds", { command: "INCR", outcome: "rejected" })).count, 2)
      assert.strictEqual((yield* series("redis_command_errors_total", { command: "INCR", reason: "ReplyError" })).count, 2)
      assert.strictEqual((yield* series("redis_commands_in_flight")).value, 0)
    }).pipe(isolated))

  it.effect("an interrupted command is counted as such, and leaves the in-flight gauge", () =>
    Effect.gen(function*() {
      const mw = Metrics.middleware()
      const fiber = yield* Effect.forkChild(mw.execute!(Commands.get("k"), Effect.never))
      yield* Effect.yieldNow
      assert.strictEqual((yield* series("redis_commands_in_flight")).value, 1)
      yield* Fiber.interrupt(fiber)
      assert.strictEqual((yield* series("redis_commands_in_flight")).value, 0)
      assert.strictEqual((yield* series("redis_command_duration_seconds", { command: "GET", outcome: "interrupted" })).count, 1)
    }).pipe(isolated))

  it.effect("MOVED and ASK replies on the wire are redirects, single writes and batches alike", () =>
    Effect.gen(function*() {
      const mw = Metrics.middleware()
      const get = Commands.get("k")
      yield* mw.execute!(get, Effect.catch(mw.send!(NODE, get, Effect.fail(moved)), () => mw.send!(NODE, get, Effect.succeed(Option.none()))))
      const exits: Middleware.Exits = [Exit.fail(ask), Exit.fail(ask), Exit.succeed(1)]
      yield* mw.sendAll!(NODE, [get, get, get], Effect.succeed(exits))
      assert.strictEqual((yield* series("redis_redirects_total", { kind: "moved" })).count, 1)
      assert.strictEqual((yield* series("redis_redirects_total", { kind: "ask" })).count, 2)
    }).pipe(isolated))

  it.effect("a pipeline: its duration by kind and outcome, its commands, each failed command's error", () =>
    Effect.gen(function*() {
      const mw = Metrics.middleware()
      const commands = [Commands.incr("n"), Commands.incr("a-list"), Commands.get("n")]
      const exits: Middleware.Exits = [Exit.succeed(1), Exit.fail(wrongType), Exit.succeed(Option.some("1"))]
      yield* mw.batch!("pipeline", commands, slowly(3, Effect.succeed(exits)))
      const duration = yield* series("redis_batch_duration_seconds", { kind: "pipeline", outcome: "rejected" })
      assert.strictEqual(duration.count, 1)
      assert.closeTo(duration.sum, 0.003, 1e-9)
      assert.strictEqual((yield* series("redis_batch_commands_total", { kind: "pipeline" })).count, 3)
      assert.strictEqual((yield* series("redis_command_errors_total", { command: "INCR", reason: "ReplyError" })).count, 1)
      assert.strictEqual((yield* series("redis_commands_in_flight")).value, 0)
    }).pipe(isolated))

  it.effect("a transaction: its results are values, not exits; a failed one is counted under MULTI", () =>
    Effect.gen(function*() {
      const mw = Metrics.middleware()
      const commands = [Commands.incr("t"), Commands.incr("t")]
      yield* mw.batch!("transaction", commands, Effect.succeed([1, 2]))
      const abort = RedisError.make(new RedisError.ExecAbort({ message: "EXECABORT", watchConflict: false }), "Rejected")
      yield* Effect.exit(mw.batch!("transaction", commands, Effect.fail(abort)))
      assert.strictEqual((yield* series("redis_batch_duration_seconds", { kind: "transaction", outcome: "ok" })).count, 1)
      assert.strictEqual((yield* series("redis_batch_duration_seconds", { kind: "transaction", outcome: "rejected" })).count, 1)
      assert.strictEqual((yield* series("redis_command_errors_total", { command: "MULTI", reason: "ExecAbort" })).count, 1)
      assert.strictEqual((yield* series("redis_batch_commands_total", { kind: "transaction" })).count, 4)
    }).pipe(isolated))

  it.effect("the wait for a dedicated connection: blocking commands and transactions, until their first write", () =>
    Effect.gen(function*() {
      const mw = Metrics.middleware()
      const blpop = Commands.blpop("q", 1)
      // The client borrows a connection (here: 5 ms), then writes on it.
      yield* mw.execute!(blpop, slowly(5, Effect.suspend(() => mw.send!(NODE, blpop, slowly(100, Effect.succeed(Option.none()))))))
      const commands = [Commands.incr("t")]
      const wireBatch = [Cmd.make(["MULTI"], Cmd.Reply.ok), ...commands, Cmd.make(["EXEC"], Cmd.Reply.raw)]
      yield* mw.batch!("transaction", commands, slowly(7, Effect.suspend(() => mw.sendAll!(NODE, wireBatch, Effect.succeed([])))))
      const blocking = yield* series("redis_dedicated_acquire_seconds", { kind: "blocking" })
      const transaction = yield* series("redis_dedicated_acquire_seconds", { kind: "transaction" })
      assert.strictEqual(blocking.count, 1)
      assert.closeTo(blocking.sum, 0.005, 1e-9)
      assert.strictEqual(transaction.count, 1)
      assert.closeTo(transaction.sum, 0.007, 1e-9)
      // An ordinary command's write is no wait.
      const get = Commands.get("k")
      yield* mw.execute!(get, slowly(1, Effect.suspend(() => mw.send!(NODE, get, Effect.succeed(Option.none())))))
      assert.strictEqual((yield* series("redis_dedicated_acquire_seconds", { kind: "blocking" })).count, 1)
    }).pipe(isolated))

  it.effect("the prefix and the constant labels; no label holds an argument", () =>
    Effect.gen(function*() {
      const mw = Metrics.middleware({ prefix: "cache_redis", attributes: { client: "sessions" } })
      const set = Commands.set("session:1", "secret-value")
      yield* mw.execute!(set, mw.send!(NODE, set, Effect.succeed(true)))
      const duration = yield* series("cache_redis_command_duration_seconds", { command: "SET", outcome: "ok", client: "sessions" })
      assert.strictEqual(duration.count, 1)
      const everything = JSON.stringify((yield* Metric.snapshot).map((s) => [s.id, s.attributes]))
      assert.notInclude(everything, "secret-value")
      assert.notInclude(everything, "session:1")
    }).pipe(isolated))
})

// -----------------------------------------------------------------------------
// track and countGaps
// -----------------------------------------------------------------------------

describe("track", () => {
  const disconnected = (node: string): TopologyEvent.TopologyEvent => ({
    _tag: "Connection",
    event: { _tag: "Disconnected", node, error: RedisError.make(new RedisError.ConnectionError({ message: "x" }), "Unknown") }
  })
  const ready = (node: string): TopologyEvent.TopologyEvent => ({ _tag: "Connection", event: { _tag: "Ready", node, protocol: 3 } })

  it.effect("folds the events into connection and topology metrics, and counts resubscribe rounds", () =>
    Effect.gen(function*() {
      const events = yield* Queue.unbounded<TopologyEvent.TopologyEvent>()
      let generation = 0
      yield* Metrics.track(
        { events: Stream.fromQueue(events), pubsubGeneration: Effect.sync(() => generation) },
        { pubsubInterval: "1 second" }
      )
      yield* Queue.offerAll(events, [
        ready("a:1"),
        ready("b:1"),
        disconnected("a:1"),
        ready("a:1"),
        { _tag: "RefreshDone", trigger: "moved", changed: true },
        { _tag: "RefreshDone", trigger: "periodic", changed: false },
        { _tag: "NodeAdded", node: "c:1", role: "replica" },
        { _tag: "SlotsMoved", ranges: [[0, 99], [200, 200]], from: "a:1", to: "b:1" },
        { _tag: "FailoverObserved", from: "a:1", to: "c:1" },
        { _tag: "SentinelSwitch", masterName: "mymaster", from: "a:1", to: "c:1" }
      ])
      // Pub/sub: the first subscribe (0 -> 1) is no resubscribe; 1 -> 3 is two.
      generation = 1
      yield* TestClock.adjust("1 second")
      generation = 3
      yield* TestClock.adjust("1 second")
      yield* Effect.yieldNow
      assert.strictEqual((yield* series("redis_connections_open")).value, 2)
      assert.strictEqual((yield* series("redis_disconnects_total", { node: "a:1" })).count, 1)
      assert.strictEqual((yield* series("redis_reconnects_total", { node: "a:1" })).count, 1)
      assert.strictEqual((yield* series("redis_topology_refreshes_total", { trigger: "moved", changed: "true" })).count, 1)
      assert.strictEqual((yield* series("redis_topology_refreshes_total", { trigger: "periodic", changed: "false" })).count, 1)
      assert.strictEqual((yield* series("redis_topology_node_changes_total", { change: "added" })).count, 1)
      assert.strictEqual((yield* series("redis_slots_moved_total")).count, 101)
      assert.strictEqual((yield* series("redis_failovers_total")).count, 1)
      assert.strictEqual((yield* series("redis_sentinel_switches_total", { master: "mymaster" })).count, 1)
      assert.strictEqual((yield* series("redis_pubsub_resubscribes_total")).count, 2)
    }).pipe(Effect.scoped, isolated))
})

describe("countGaps", () => {
  it.effect("counts gap events by reason and subscription; the stream passes through", () =>
    Effect.gen(function*() {
      const input: Array<PubSub.Event> = [
        { kind: "channel", channel: "news", pattern: undefined, payload: "a" },
        { kind: "gap", reason: "reconnect", subscription: "channel", names: ["news"] },
        { kind: "gap", reason: "moved", subscription: "shard", names: ["s"] },
        { kind: "gap", reason: "reconnect", subscription: "channel", names: ["news"] }
      ]
      const out = yield* Stream.fromIterable(input).pipe(Metrics.countGaps(), Stream.runCollect)
      assert.deepStrictEqual(out, input)
      assert.strictEqual((yield* series("redis_pubsub_gaps_total", { reason: "reconnect", subscription: "channel" })).count, 2)
      assert.strictEqual((yield* series("redis_pubsub_gaps_total", { reason: "moved", subscription: "shard" })).count, 1)
    }).pipe(isolated))
})
