/**
 * `ClusterTopology` driven by a fake `query` (a function field that records
 * who was asked and answers scripted views or failures) under the
 * `TestClock`: startup, coverage, consensus, single-flight, the rate limit,
 * epochs, the `changes` and `refreshes` streams, MOVED patches and the
 * last-failing-node rule.
 *
 * Background refreshes run on fibers of the test's scope, so they sleep on
 * the TestClock like the rest of the test.
 */
import { assert, describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"
import * as Latch from "effect/Latch"
import * as Schedule from "effect/Schedule"
import * as Stream from "effect/Stream"
import { TestClock } from "effect/testing"
import * as ClusterTopology from "../../src/cluster/ClusterTopology.ts"
import type { NodeInfo, Shard, View } from "../../src/cluster/ClusterView.ts"
import { address, coverage } from "../../src/cluster/ClusterView.ts"
import * as RedisError from "../../src/RedisError.ts"

// -----------------------------------------------------------------------------
// views and a fake query
// -----------------------------------------------------------------------------

const at = (port: number): ClusterTopology.Address => ({ host: "127.0.0.1", port })

const node = (
  port: number,
  role: NodeInfo["role"] = "primary",
  health: NodeInfo["health"] = "online"
): NodeInfo => ({ id: `id-${port}`, host: "127.0.0.1", port, role, health })

const shard = (
  ranges: ReadonlyArray<readonly [number, number]>,
  primary: NodeInfo,
  replicas: ReadonlyArray<NodeInfo> = []
): Shard => ({ ranges, primary, replicas })

/** One primary on `port` owning every slot. */
const whole = (port: number): View => ({ shards: [shard([[0, 16383]], node(port))] })

/** Two primaries splitting the slots at `cut`. */
const split = (a: number, b: number, cut = 8191): View => ({
  shards: [shard([[0, cut]], node(a)), shard([[cut + 1, 16383]], node(b))]
})

const refused = (port: number) =>
  RedisError.make(new RedisError.ConnectionError({ message: `connect ECONNREFUSED 127.0.0.1:${port}` }), "NotSent")

type Script = (a: ClusterTopology.Address, call: number) => Effect.Effect<View, RedisError.RedisError>

/** A query that records every address it is asked, in order, and answers by `script`. */
const fakeQuery = (script: Script) => {
  const calls: Array<string> = []
  let current = script
  return {
    calls,
    /** Replaces the script (the cluster changes). */
    set: (next: Script) => {
      current = next
    },
    query: (a: ClusterTopology.Address): Effect.Effect<View, RedisError.RedisError> =>
      Effect.suspend(() => {
        calls.push(address(a))
        return current(a, calls.length)
      })
  }
}

/** Answers `view` from every node but those in `down`, which refuse. */
const answering = (view: () => View, down: ReadonlyArray<number> = []): Script => (a) =>
  down.includes(a.port) ? Effect.fail(refused(a.port)) : Effect.sync(view)

/** Collects every finished refresh, from now on, into the returned array. */
const recordRefreshes = (topology: ClusterTopology.Topology) =>
  Effect.gen(function*() {
    const seen: Array<ClusterTopology.Refresh> = []
    yield* Effect.forkChild(Stream.runForEach(topology.refreshes, (r) => Effect.sync(() => seen.push(r))))
    yield* settle
    return seen
  })

/** Lets forked fibers run up to their next suspension. */
const settle = Effect.gen(function*() {
  for (let i = 0; i < 10; i++) yield* Effect.yieldNow
})

const makeTopology = (
  startup: ReadonlyArray<number>,
  script: Script,
  options: Partial<Omit<ClusterTopology.TopologyOptions, "startupNodes" | "query">> = {}
) =>
  Effect.gen(function*() {
    const fake = fakeQuery(script)
    const topology = yield* ClusterTopology.make({
      startupNodes: startup.map(at),
      query: fake.query,
      dynamicStartupNodes: false,
      ...options
    })
    return { topology, fake }
  })

/** A refresh past the rate limit: forks it, advances the clock, joins it. */
const refreshAfter = (topology: ClusterTopology.Topology, millis: number, trigger: ClusterTopology.Trigger = "manual") =>
  Effect.gen(function*() {
    const fiber = yield* Effect.forkChild(topology.refresh(trigger))
    yield* settle
    yield* TestClock.adjust(millis)
    return yield* Fiber.join(fiber)
  })

// -----------------------------------------------------------------------------
// startup
// -----------------------------------------------------------------------------

describe("ClusterTopology startup", () => {
  it.effect("tries startup nodes until one answers and takes its view", () =>
    Effect.gen(function*() {
      const { fake, topology } = yield* makeTopology([7001, 7002, 7003], answering(() => whole(7003), [7001, 7002]), {
        sampleSize: 1
      })
      const snapshot = topology.current()
      assert.deepStrictEqual(snapshot.view, whole(7003))
      assert.strictEqual(snapshot.epoch, 1)
      assert.strictEqual(snapshot.trigger, "startup")
      // It stopped at the round that held the node that answered (rounds of
      // 1 then 2 nodes), having tried no node twice.
      assert.include(fake.calls, "127.0.0.1:7003")
      assert.strictEqual(new Set(fake.calls).size, fake.calls.length)
      assert.isAtMost(fake.calls.length, 3)
      assert.strictEqual(snapshot.table.owner[0], 0)
      assert.strictEqual(snapshot.table.owner[16383], 0)
    }))

  it.effect("fails with ConnectionError/NotSent naming every node tried and why when none answers", () =>
    Effect.gen(function*() {
      const fake = fakeQuery(answering(() => whole(7001), [7001, 7002, 7003]))
      const error = yield* Effect.flip(ClusterTopology.make({
        startupNodes: [at(7001), at(7002), at(7003)],
        query: fake.query,
        sampleSize: 2
      }))
      assert.strictEqual(error.reason._tag, "ConnectionError")
      assert.strictEqual(error.outcome, "NotSent")
      const message = (error.reason as RedisError.ConnectionError).message
      for (const port of [7001, 7002, 7003]) {
        assert.include(message, `127.0.0.1:${port}: ConnectionError`)
        assert.include(message, `ECONNREFUSED 127.0.0.1:${port}`)
      }
      assert.deepStrictEqual([...fake.calls].sort(), ["127.0.0.1:7001", "127.0.0.1:7002", "127.0.0.1:7003"])
    }))

  it.effect("a node that dies instead of failing is reported as such and the next node is tried", () =>
    Effect.gen(function*() {
      const { topology } = yield* makeTopology(
        [7001, 7002],
        (a) => a.port === 7001 ? Effect.die("boom") : Effect.succeed(whole(7002)),
        { sampleSize: 1 }
      )
      assert.deepStrictEqual(topology.current().view, whole(7002))
    }))

  it.effect("refuses a view with partial coverage when requireFullCoverage (the default)", () =>
    Effect.gen(function*() {
      const partial: View = { shards: [shard([[0, 8000]], node(7001))] }
      const fake = fakeQuery(answering(() => partial))
      const error = yield* Effect.flip(ClusterTopology.make({
        startupNodes: [at(7001)],
        query: fake.query
      }))
      assert.strictEqual(error.reason._tag, "ConnectionError")
      assert.include((error.reason as RedisError.ConnectionError).message, "127.0.0.1:7001: only 8001 of 16384 slots are covered")
    }))

  it.effect("accepts a view with partial coverage when requireFullCoverage is false", () =>
    Effect.gen(function*() {
      const partial: View = { shards: [shard([[0, 8000]], node(7001))] }
      const { topology } = yield* makeTopology([7001], answering(() => partial), { requireFullCoverage: false })
      const snapshot = topology.current()
      assert.strictEqual(coverage(snapshot.view), 8001)
      assert.strictEqual(snapshot.table.owner[8000], 0)
      assert.strictEqual(snapshot.table.owner[8001], -1)
    }))

  it.effect("refuses a view that serves no slots even when requireFullCoverage is false", () =>
    Effect.gen(function*() {
      const fake = fakeQuery(answering(() => ({ shards: [] })))
      const error = yield* Effect.flip(ClusterTopology.make({
        startupNodes: [at(7001)],
        query: fake.query,
        requireFullCoverage: false
      }))
      assert.include((error.reason as RedisError.ConnectionError).message, "the node serves no slots")
    }))

  it.effect("a partial view is skipped in favour of a full one from another node", () =>
    Effect.gen(function*() {
      const partial: View = { shards: [shard([[0, 100]], node(7001))] }
      const { topology } = yield* makeTopology(
        [7001, 7002],
        (a) => Effect.succeed(a.port === 7001 ? partial : whole(7002)),
        { sampleSize: 1 }
      )
      assert.deepStrictEqual(topology.current().view, whole(7002))
    }))
})

// -----------------------------------------------------------------------------
// consensus
// -----------------------------------------------------------------------------

describe("ClusterTopology consensus", () => {
  it.effect("asks sampleSize nodes in one round and takes the view most of them report", () =>
    Effect.gen(function*() {
      const majority = split(7001, 7002)
      const minority = split(7001, 7002, 9000)
      const { fake, topology } = yield* makeTopology(
        [7001, 7002, 7003],
        (a) => Effect.succeed(a.port === 7003 ? minority : majority),
        { sampleSize: 3 }
      )
      assert.strictEqual(fake.calls.length, 3)
      assert.deepStrictEqual(topology.current().view, majority)
    }))

  it.effect("the majority wins whichever node it came from (minority first or last)", () =>
    Effect.gen(function*() {
      for (const odd of [7001, 7002, 7003]) {
        const { topology } = yield* makeTopology(
          [7001, 7002, 7003],
          (a) => Effect.succeed(a.port === odd ? whole(odd) : split(7001, 7002)),
          { sampleSize: 3 }
        )
        assert.deepStrictEqual(topology.current().view, split(7001, 7002))
      }
    }))

  it.effect("a round ends once a majority agrees: the slowest node is not waited for, its query is interrupted", () =>
    Effect.gen(function*() {
      let interrupted = false
      const { fake, topology } = yield* makeTopology(
        [7001, 7002, 7003],
        (a) =>
          a.port === 7003
            ? Effect.onInterrupt(Effect.never, () => Effect.sync(() => { interrupted = true }))
            // Answers after a turn of the scheduler, as a socket would.
            : Effect.as(Effect.yieldNow, split(7001, 7002)),
        { sampleSize: 3 }
      )
      // No clock moved: the stopped node held nothing.
      assert.deepStrictEqual(topology.current().view, split(7001, 7002))
      assert.strictEqual(fake.calls.length, 3)
      assert.isTrue(interrupted, "the straggler's query was interrupted")
    }))

  it.effect("without a majority so far the round waits for its slower nodes, which then decide", () =>
    Effect.gen(function*() {
      const fiber = yield* Effect.forkChild(makeTopology(
        [7001, 7002, 7003],
        (a) =>
          a.port === 7001
            ? Effect.succeed(whole(7001))
            : a.port === 7002
            ? Effect.succeed(split(7001, 7002))
            : Effect.as(Effect.sleep("2 seconds"), split(7001, 7002)),
        { sampleSize: 3 }
      ))
      yield* settle
      assert.isUndefined(fiber.pollUnsafe(), "1 vote against 1: the third is awaited")
      yield* TestClock.adjust("2 seconds")
      const { topology } = yield* Fiber.join(fiber)
      assert.deepStrictEqual(topology.current().view, split(7001, 7002))
    }))

  it.effect("failures in a round do not vote; a round with no usable view moves on to the next round", () =>
    Effect.gen(function*() {
      // sampleSize 2 over 4 nodes: whichever round holds 7004 decides.
      const { fake, topology } = yield* makeTopology(
        [7001, 7002, 7003, 7004],
        answering(() => whole(7004), [7001, 7002, 7003]),
        { sampleSize: 2 }
      )
      assert.deepStrictEqual(topology.current().view, whole(7004))
      assert.include(fake.calls, "127.0.0.1:7004")
      // Rounds are whole: 2 or 4 queries, never 3.
      assert.include([2, 4], fake.calls.length)
    }))

  it.effect("every node down: all are asked, in rounds that double (3, 6, 12, 9 of 30), then one error", () =>
    Effect.gen(function*() {
      const ports = Array.from({ length: 30 }, (_, i) => 7001 + i)
      // Each refusal takes a second: the rounds are counted in seconds.
      const fake = fakeQuery((a) => Effect.andThen(Effect.sleep("1 second"), Effect.fail(refused(a.port))))
      const fiber = yield* Effect.forkChild(Effect.flip(ClusterTopology.make({
        startupNodes: ports.map(at),
        query: fake.query,
        dynamicStartupNodes: false
      })))
      const asked: Array<number> = []
      for (let second = 0; second < 30 && fiber.pollUnsafe() === undefined; second++) {
        yield* settle
        asked.push(fake.calls.length)
        yield* TestClock.adjust(1000)
      }
      const error = yield* Fiber.join(fiber)
      assert.strictEqual(error.reason._tag, "ConnectionError")
      assert.deepStrictEqual(asked, [3, 9, 21, 30])
      assert.strictEqual(new Set(fake.calls).size, 30)
    }).pipe(Effect.scoped))
})

// -----------------------------------------------------------------------------
// refresh: single-flight, rate limit, requestRefresh
// -----------------------------------------------------------------------------

describe("ClusterTopology refresh", () => {
  it.effect("N concurrent refreshes run one round of queries and all get the same snapshot", () =>
    Effect.gen(function*() {
      const gate = yield* Latch.make(true)
      const { fake, topology } = yield* makeTopology(
        [7001],
        (_, call) => call === 1 ? Effect.succeed(whole(7001)) : Effect.andThen(gate.await, Effect.succeed(split(7001, 7002))),
        { minRefreshInterval: 100 }
      )
      assert.strictEqual(fake.calls.length, 1)
      yield* gate.close
      const fibers = yield* Effect.forEach(
        Array.from({ length: 10 }, () => topology.refresh("moved")),
        (refresh) => Effect.forkChild(refresh)
      )
      yield* settle
      yield* TestClock.adjust(100)
      yield* settle
      // The one refresh is now waiting for its query; everyone else waits for it.
      assert.strictEqual(fake.calls.length, 2)
      yield* gate.open
      const snapshots = yield* Fiber.joinAll(fibers)
      assert.strictEqual(fake.calls.length, 2)
      for (const s of snapshots) assert.strictEqual(s, snapshots[0])
      assert.strictEqual(snapshots[0].epoch, 2)
      assert.strictEqual(topology.current(), snapshots[0])
    }))

  it.effect("a refresh right after another waits minRefreshInterval before asking any node", () =>
    Effect.gen(function*() {
      const { fake, topology } = yield* makeTopology([7001], answering(() => whole(7001)), { minRefreshInterval: 100 })
      assert.strictEqual(fake.calls.length, 1)
      // The startup read counts: a refresh at once must wait the interval.
      const first = yield* Effect.forkChild(topology.refresh("manual"))
      yield* settle
      yield* TestClock.adjust(99)
      yield* settle
      assert.strictEqual(fake.calls.length, 1, "asked before the interval elapsed")
      yield* TestClock.adjust(1)
      const s1 = yield* Fiber.join(first)
      assert.strictEqual(fake.calls.length, 2)
      assert.strictEqual(s1.refreshedAt, 100)

      // And the next one waits from the end of that one.
      const second = yield* Effect.forkChild(topology.refresh("manual"))
      yield* settle
      yield* TestClock.adjust(50)
      yield* settle
      assert.strictEqual(fake.calls.length, 2, "asked before the interval elapsed")
      yield* TestClock.adjust(50)
      const s2 = yield* Fiber.join(second)
      assert.strictEqual(fake.calls.length, 3)
      assert.strictEqual(s2.refreshedAt, 200)
    }))

  it.effect("a refresh long after the last one does not wait", () =>
    Effect.gen(function*() {
      const { fake, topology } = yield* makeTopology([7001], answering(() => whole(7001)), { minRefreshInterval: 100 })
      yield* TestClock.adjust(5_000)
      const snapshot = yield* topology.refresh("manual")
      assert.strictEqual(fake.calls.length, 2)
      assert.strictEqual(snapshot.refreshedAt, 5_000)
    }))

  it.effect("requestRefresh while a refresh is in flight starts nothing and queries nothing extra", () =>
    Effect.gen(function*() {
      const { fake, topology } = yield* makeTopology([7001], answering(() => whole(7001)), { minRefreshInterval: 100 })
      const done = yield* recordRefreshes(topology)
      const inFlight = yield* Effect.forkChild(topology.refresh("manual"))
      yield* settle
      for (let i = 0; i < 5; i++) topology.requestRefresh("moved")
      yield* settle
      assert.deepStrictEqual(done, [], "nothing ran beside the refresh in flight")
      yield* TestClock.adjust(100)
      yield* Fiber.join(inFlight)
      yield* settle
      assert.strictEqual(fake.calls.length, 2)
      // Nothing was queued behind it either.
      yield* TestClock.adjust(1_000)
      yield* settle
      assert.strictEqual(fake.calls.length, 2)
      assert.deepStrictEqual(done.map((r) => r.trigger), ["manual"], "the only refresh was the one in flight")
    }))

  it.effect("requestRefresh when idle refreshes in the background, after the interval, once for a burst", () =>
    Effect.gen(function*() {
      const { fake, topology } = yield* makeTopology([7001], answering(() => whole(7001)), { minRefreshInterval: 100 })
      const done = yield* recordRefreshes(topology)
      fake.set(answering(() => split(7001, 7002)))
      for (let i = 0; i < 5; i++) topology.requestRefresh("moved")
      yield* settle
      // A background refresh is in flight: a caller that asks now joins it.
      const joined = yield* Effect.forkChild(topology.refresh("manual"))
      yield* settle
      assert.strictEqual(fake.calls.length, 1)
      yield* TestClock.adjust(100)
      yield* settle
      assert.strictEqual(fake.calls.length, 2, "a burst of requests is one refresh")
      assert.strictEqual(topology.current().epoch, 2)
      assert.strictEqual(topology.current().trigger, "moved")
      assert.strictEqual((yield* Fiber.join(joined)).trigger, "moved", "the background refresh was started by the requests")
      assert.deepStrictEqual(done.map((r) => [r.trigger, r.changed]), [["moved", true]])
    }))

  it.effect("refreshes reports each finished refresh with its trigger, whether it changed, and both snapshots", () =>
    Effect.gen(function*() {
      let view = whole(7001)
      const { topology } = yield* makeTopology([7001], answering(() => view), { minRefreshInterval: 0 })
      const done = yield* recordRefreshes(topology)
      const first = topology.current()
      yield* topology.refresh("manual")
      view = split(7001, 7002)
      const second = yield* topology.refresh("moved")
      yield* settle
      assert.deepStrictEqual(done.map((r) => [r.trigger, r.changed]), [["manual", false], ["moved", true]])
      assert.strictEqual(done[0].before, first)
      assert.strictEqual(done[1].after, second)
      assert.deepStrictEqual(done[1].before.view, whole(7001))
    }))

  it.effect("periodicRefresh refreshes in the background by its schedule", () =>
    Effect.gen(function*() {
      const { fake, topology } = yield* makeTopology([7001], answering(() => whole(7001)), {
        minRefreshInterval: 0,
        periodicRefresh: Schedule.spaced("1 second")
      })
      yield* settle
      const before = fake.calls.length
      yield* TestClock.adjust(3_000)
      yield* settle
      assert.isAtLeast(fake.calls.length - before, 3)
      assert.strictEqual(topology.current().trigger, "periodic")
    }))

  it.effect("a failed refresh fails every waiter, keeps the snapshot, and does not block the next refresh", () =>
    Effect.gen(function*() {
      const { fake, topology } = yield* makeTopology([7001], answering(() => whole(7001)), { minRefreshInterval: 0 })
      const before = topology.current()
      fake.set(answering(() => whole(7001), [7001]))
      const gate = yield* Latch.make(false)
      const fibers = yield* Effect.forEach([1, 2, 3], () => Effect.forkChild(Effect.andThen(gate.await, topology.refresh("manual"))))
      yield* gate.open
      const exits = yield* Effect.forEach(fibers, (f) => Effect.flip(Fiber.join(f)))
      for (const e of exits) assert.strictEqual(e.reason._tag, "ConnectionError")
      assert.strictEqual(topology.current(), before)
      fake.set(answering(() => split(7001, 7002)))
      const after = yield* topology.refresh("manual")
      assert.strictEqual(after.epoch, 2)
    }))

  it.effect("with dynamicStartupNodes, later refreshes also ask the nodes the cluster reported", () =>
    Effect.gen(function*() {
      // 7001 answers the startup read only, then refuses.
      const { fake, topology } = yield* makeTopology(
        [7001],
        (a, call) => call === 1 || a.port !== 7001 ? Effect.succeed(split(7001, 7002)) : Effect.fail(refused(a.port)),
        { dynamicStartupNodes: true, sampleSize: 1, minRefreshInterval: 0 }
      )
      // 7001 now refuses; 7002 came from the view, not from the startup list.
      const snapshot = yield* topology.refresh("manual")
      assert.deepStrictEqual(snapshot.view, split(7001, 7002))
      assert.include(fake.calls.slice(1), "127.0.0.1:7002")
    }))

  it.effect("without dynamicStartupNodes, only the startup list is asked", () =>
    Effect.gen(function*() {
      const { fake, topology } = yield* makeTopology(
        [7001],
        (_, call) => call === 1 ? Effect.succeed(split(7001, 7002)) : Effect.fail(refused(7001)),
        { dynamicStartupNodes: false, sampleSize: 3, minRefreshInterval: 0 }
      )
      const error = yield* Effect.flip(topology.refresh("manual"))
      assert.strictEqual(error.reason._tag, "ConnectionError")
      assert.deepStrictEqual(fake.calls, ["127.0.0.1:7001", "127.0.0.1:7001"])
    }))
})

// -----------------------------------------------------------------------------
// epochs and the changes stream
// -----------------------------------------------------------------------------

describe("ClusterTopology epochs and changes", () => {
  it.effect("the epoch increases only when the view changes", () =>
    Effect.gen(function*() {
      let view = whole(7001)
      const { topology } = yield* makeTopology([7001], answering(() => view), { minRefreshInterval: 100 })
      const first = topology.current()
      const same = yield* refreshAfter(topology, 100)
      assert.strictEqual(same.epoch, 1)
      assert.strictEqual(same.table, first.table, "an unchanged view keeps its table")
      view = split(7001, 7002)
      const changed = yield* refreshAfter(topology, 100)
      assert.strictEqual(changed.epoch, 2)
      assert.notStrictEqual(changed.table, first.table)
      // Same shards, listed in another order: the same view.
      view = { shards: [...split(7001, 7002).shards].reverse() }
      const reordered = yield* refreshAfter(topology, 100)
      assert.strictEqual(reordered.epoch, 2)
      // A replica that fails is a change (a reader from replicas must know).
      view = { shards: [shard([[0, 16383]], node(7001), [node(7003, "replica", "failed")])] }
      const replicaFailed = yield* refreshAfter(topology, 100)
      assert.strictEqual(replicaFailed.epoch, 3)
    }))

  it.effect("changes starts with the current snapshot and emits only snapshots that changed", () =>
    Effect.gen(function*() {
      let view = whole(7001)
      const { topology } = yield* makeTopology([7001], answering(() => view), { minRefreshInterval: 100 })
      const collected = yield* Effect.forkChild(Stream.runCollect(Stream.take(topology.changes, 3)))
      yield* settle
      yield* refreshAfter(topology, 100) // unchanged: not emitted
      view = split(7001, 7002)
      yield* refreshAfter(topology, 100, "moved")
      view = split(7001, 7002, 100)
      yield* refreshAfter(topology, 100, "periodic")
      const snapshots = yield* Fiber.join(collected)
      assert.deepStrictEqual(snapshots.map((s) => s.epoch), [1, 2, 3])
      assert.deepStrictEqual(snapshots.map((s) => s.trigger), ["startup", "moved", "periodic"])
      assert.deepStrictEqual(snapshots[2].view, split(7001, 7002, 100))
    }))
})

// -----------------------------------------------------------------------------
// MOVED patches
// -----------------------------------------------------------------------------

describe("ClusterTopology patches", () => {
  it.effect("patchSlot patches one slot until the next refresh clears every patch", () =>
    Effect.gen(function*() {
      const { topology } = yield* makeTopology([7001], answering(() => whole(7001)), { minRefreshInterval: 100 })
      assert.strictEqual(topology.patchCount(), 0)
      assert.isUndefined(topology.patched(42))
      topology.patchSlot(42, at(7002))
      topology.patchSlot(43, at(7002))
      topology.patchSlot(42, at(7003)) // a later MOVED for the same slot wins
      assert.strictEqual(topology.patchCount(), 2)
      assert.deepStrictEqual(topology.patched(42), at(7003))
      assert.deepStrictEqual(topology.patched(43), at(7002))
      assert.isUndefined(topology.patched(44))
      // Patching does not touch the snapshot.
      assert.strictEqual(topology.current().epoch, 1)
      // Even a refresh that finds the same view clears the patches.
      yield* refreshAfter(topology, 100)
      assert.strictEqual(topology.patchCount(), 0)
      assert.isUndefined(topology.patched(42))
    }))

  it.effect("a failed refresh leaves the patches in place", () =>
    Effect.gen(function*() {
      const { fake, topology } = yield* makeTopology([7001], answering(() => whole(7001)), { minRefreshInterval: 0 })
      topology.patchSlot(7, at(7002))
      fake.set(answering(() => whole(7001), [7001]))
      yield* Effect.flip(topology.refresh("moved"))
      assert.deepStrictEqual(topology.patched(7), at(7002))
    }))
})

// -----------------------------------------------------------------------------
// the last failing node is tried last
// -----------------------------------------------------------------------------

describe("ClusterTopology node order", () => {
  it.effect("once a startup node has failed it is asked after the good one, refresh after refresh", () =>
    Effect.gen(function*() {
      // sampleSize 1: a node is asked only if every node before it failed.
      const { fake, topology } = yield* makeTopology([7001, 7002], answering(() => whole(7002), [7001]), {
        sampleSize: 1,
        minRefreshInterval: 0
      })
      for (let i = 0; i < 40; i++) yield* topology.refresh("manual")
      const bad = fake.calls.filter((c) => c === "127.0.0.1:7001").length
      const good = fake.calls.filter((c) => c === "127.0.0.1:7002").length
      assert.strictEqual(good, 41, "the good node answered every read")
      // Shuffled alone, the bad node would come first about half the time
      // (~20 of 41); tried last after its first failure, it is asked once
      // at most.
      assert.isAtMost(bad, 1, `the failing node was asked ${bad} times`)
      // And when it was asked, the good one came right after.
      fake.calls.forEach((c, i) => {
        if (c === "127.0.0.1:7001") assert.strictEqual(fake.calls[i + 1], "127.0.0.1:7002")
      })
    }))

  it.effect("with both nodes in one round the failing one is asked second after its first failure", () =>
    Effect.gen(function*() {
      const { fake, topology } = yield* makeTopology([7001, 7002], answering(() => whole(7002), [7001]), {
        sampleSize: 2,
        minRefreshInterval: 0
      })
      // The startup round asked both, so 7001 has failed once already.
      for (let i = 0; i < 30; i++) yield* topology.refresh("manual")
      const rounds: Array<Array<string>> = []
      for (let i = 2; i < fake.calls.length; i += 2) rounds.push(fake.calls.slice(i, i + 2))
      assert.strictEqual(rounds.length, 30)
      for (const round of rounds) assert.deepStrictEqual(round, ["127.0.0.1:7002", "127.0.0.1:7001"])
    }))
})
