/**
 * Dead peers are detected with default options (docs/GUARANTEES.md), on a
 * single server, a cluster and through Sentinel; and a command whose caller
 * was interrupted before it was written is not written.
 *
 * A dead peer here is one that stops answering without closing the
 * connection: a frozen `FaultProxy` in front of the server (a network path
 * that stopped moving bytes) or a server stopped with SIGSTOP. With default
 * options a connection whose oldest command has seen no byte for
 * `stallTimeout` (5 s) probes the server on a side connection; no answer
 * within `probeTimeout` (3 s) fails what was in flight `Timeout`/`Unknown`
 * (reads are resent after the reconnect) and reconnects. The bound is
 * `BOUND_MS` after the last byte read; a server that answers the probe (a
 * slow `DEBUG SLEEP`, a long script answering `BUSY`, a blocking `BLPOP`) is
 * left alone.
 *
 * The invariants are asserted (detection within the bound plus scheduling
 * slack, the right reason and outcome, no loss of a read, no duplicate of a
 * write); the timings are printed.
 */
import { assert, describe, it } from "@effect/vitest"
import { NodeTransport } from "@redis-effect/node"
import * as NodeSentinel from "@redis-effect/node/NodeSentinel"
import * as Cluster from "@redis-effect/redis/Cluster"
import * as ClusterSlot from "@redis-effect/redis/ClusterSlot"
import * as Commands from "@redis-effect/redis/Commands"
import * as Redis from "@redis-effect/redis/Redis"
import * as RedisConfig from "@redis-effect/redis/RedisConfig"
import * as RedisError from "@redis-effect/redis/RedisError"
import * as Sentinel from "@redis-effect/redis/Sentinel"
import * as Standalone from "@redis-effect/redis/Standalone"
import { FaultProxy, RedisCluster, RedisServer } from "@redis-effect/testing"
import * as RedisSentinel from "@redis-effect/testing/RedisSentinel"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"
import * as Option from "effect/Option"
import * as Stream from "effect/Stream"
import { analyse, build, DATA_PW, finalRead, type Op, optionsFor, SENTINEL_PW, w1 } from "./sentinel-support.ts"

/** The documented bound with default options: stallTimeout + probeTimeout + two watcher ticks (500 ms each). */
const BOUND_MS = Duration.toMillis(RedisConfig.defaultStallTimeout) + Duration.toMillis(RedisConfig.defaultProbeTimeout) +
  1000
/** Timers on a loaded two-core box fire late; the slack is for the scheduler, not the design. */
const SLACK_MS = 1500

const client = (options: Standalone.Options) => Standalone.make(options).pipe(Effect.provide(NodeTransport.layer))

const failureOf = <A>(exit: Exit.Exit<A, RedisError.RedisError>): RedisError.RedisError => {
  assert.isTrue(Exit.isFailure(exit), "expected a failure")
  const found = RedisError.failureOf(exit)
  assert.isDefined(found)
  return found!
}

/** Runs `effect` in a fiber of its own, recording when it settled. */
const timed = <A, E>(effect: Effect.Effect<A, E>) =>
  Effect.forkChild(Effect.map(Effect.exit(effect), (exit) => ({ exit, at: Date.now() })))

const assertDetected = (label: string, error: RedisError.RedisError, waited: number) => {
  console.log(`[dead peer] ${label}: ${error.reason._tag}/${error.outcome} after ${waited} ms (bound ${BOUND_MS} ms)`)
  assert.strictEqual(error.reason._tag, "Timeout", label)
  assert.strictEqual(error.outcome, "Unknown", label)
  assert.isAtMost(waited, BOUND_MS + SLACK_MS, `${label}: detected within the bound`)
}

describe("standalone, default options", () => {
  it.live("a frozen proxy: the write in flight fails Timeout/Unknown within the bound, the read is resent and answered after unfreeze", () =>
    Effect.gen(function*() {
      const server = yield* RedisServer.make()
      const proxy = yield* FaultProxy.make({ target: { host: "127.0.0.1", port: server.port } })
      const redis = yield* client({ port: proxy.port })
      yield* redis.set("k", "v")
      yield* proxy.freeze
      const frozenAt = Date.now()
      const write = yield* timed(redis.incr("counter"))
      const read = yield* timed(redis.get("k"))
      const w = yield* Fiber.join(write)
      assertDetected("frozen proxy, INCR in flight", failureOf(w.exit), w.at - frozenAt)
      yield* proxy.unfreeze
      const r = yield* Fiber.join(read)
      console.log(`[dead peer] frozen proxy: the GET in flight was resent and answered ${r.at - frozenAt} ms after the freeze`)
      assert.isTrue(Exit.isSuccess(r.exit), "the read was resent, not lost")
      assert.deepStrictEqual(r.exit, Exit.succeed(Option.some("v")))
      assert.strictEqual(yield* redis.echo("after"), "after")
      // The INCR's bytes never got past the frozen proxy; it was not resent.
      assert.include(["", "0", "1"], yield* server.cli("GET", "counter"))
      assert.isAtLeast(yield* proxy.accepted, 2, "the dead connection was replaced")
    }).pipe(Effect.scoped), 60_000)

  it.live("SIGSTOP: the write in flight fails Timeout/Unknown within the bound and runs at most once; the client works after SIGCONT", () =>
    Effect.gen(function*() {
      const server = yield* RedisServer.make()
      const redis = yield* client({ port: server.port })
      yield* redis.set("k", "v")
      yield* server.pause
      const pausedAt = Date.now()
      const write = yield* timed(redis.incr("counter"))
      const read = yield* timed(redis.get("k"))
      const w = yield* Fiber.join(write)
      assertDetected("SIGSTOP, INCR in flight", failureOf(w.exit), w.at - pausedAt)
      yield* server.resume
      const r = yield* Fiber.join(read)
      console.log(`[dead peer] SIGSTOP: the GET in flight was answered ${r.at - pausedAt} ms after the pause`)
      assert.deepStrictEqual(r.exit, Exit.succeed(Option.some("v")))
      assert.strictEqual(yield* redis.echo("after"), "after")
      // The INCR was in the stopped server's socket buffer: it may have run
      // once on SIGCONT, never twice.
      const counter = yield* server.cli("GET", "counter")
      console.log(`[dead peer] SIGSTOP: counter after resume = ${JSON.stringify(counter)} (Unknown: 0 or 1)`)
      assert.include(["", "1"], counter)
    }).pipe(Effect.scoped), 60_000)

  it.live("a slow DEBUG SLEEP and a script busy past the bound (the server answers BUSY) are not killed", () =>
    Effect.gen(function*() {
      const server = yield* RedisServer.make()
      const redis = yield* client({ port: server.port })
      const before = yield* redis.clientId()
      // Longer than stallTimeout (a probe goes out), shorter than the bound.
      let started = Date.now()
      yield* redis.debugSleep(6.5)
      console.log(`[dead peer] DEBUG SLEEP 6.5 answered after ${Date.now() - started} ms`)
      // Longer than the bound: the probe is answered BUSY after busy-reply-threshold (5 s).
      const busySeconds = Math.ceil(BOUND_MS / 1000) + 2
      const script = `local s = tonumber(redis.call('TIME')[1]) while tonumber(redis.call('TIME')[1]) - s < ${busySeconds} do end return 'done'`
      started = Date.now()
      const result = yield* redis.execute(Commands.raw(["EVAL", script, "0"]))
      const busy = Date.now() - started
      console.log(`[dead peer] a script busy for ${busySeconds} s answered after ${busy} ms`)
      assert.strictEqual(result, "done")
      assert.isAtLeast(busy, BOUND_MS, "the script outlasted the bound")
      assert.strictEqual(yield* redis.clientId(), before, "the shared connection was never replaced")
    }).pipe(Effect.scoped), 60_000)

  it.live("a BLPOP longer than the bound is not killed; a BLPOP 0 on a stopped server fails Timeout/Unknown within the bound", () =>
    Effect.gen(function*() {
      const server = yield* RedisServer.make()
      const redis = yield* client({ port: server.port })
      const waitSeconds = Math.ceil(BOUND_MS / 1000) + 2
      let started = Date.now()
      const popped = yield* redis.blpop("empty", waitSeconds)
      const waited = Date.now() - started
      console.log(`[dead peer] BLPOP ${waitSeconds} on a live server returned ${JSON.stringify(popped)} after ${waited} ms`)
      assert.isTrue(Option.isNone(popped))
      assert.isAtLeast(waited, waitSeconds * 1000 - 100)

      const forever = yield* timed(redis.blpop("empty", 0))
      yield* Effect.sleep("200 millis")
      yield* server.pause
      started = Date.now()
      const f = yield* Fiber.join(forever)
      // The bound counts from the last byte read: here, the BLPOP's write.
      assertDetected("SIGSTOP, BLPOP 0 waiting", failureOf(f.exit), f.at - started + 200)
      yield* server.resume
      yield* redis.rpush("empty", "x")
      assert.deepStrictEqual(yield* redis.blpop("empty", 1), Option.some({ key: "empty", value: "x" }))
    }).pipe(Effect.scoped), 60_000)
})

describe("interrupted before written", () => {
  it.live("a command interrupted in the same tick as its send is not written", () =>
    Effect.gen(function*() {
      const server = yield* RedisServer.make()
      const redis = yield* client({ port: server.port })
      yield* redis.ping()
      // Start and interrupt it synchronously, before the end-of-task flush.
      yield* Effect.sync(() => {
        const fiber = Effect.runFork(redis.incr("same-tick"))
        fiber.interruptUnsafe()
      })
      assert.strictEqual(yield* redis.incr("same-tick"), 1)
      assert.strictEqual(yield* server.cli("GET", "same-tick"), "1")
    }).pipe(Effect.scoped))

  it.live("commands interrupted while in the offline queue are not written when the server returns", () =>
    Effect.gen(function*() {
      const server = yield* RedisServer.make()
      const redis = yield* client({ port: server.port })
      yield* redis.ping()
      yield* server.stop
      const fibers = yield* Effect.forEach(
        Array.from({ length: 40 }, (_, i) => i),
        () => Effect.forkChild(redis.incr("offline"), { startImmediately: true })
      )
      yield* Effect.sleep("100 millis")
      const interrupted = fibers.filter((_, i) => i % 2 === 0)
      yield* Effect.forEach(interrupted, Fiber.interrupt, { discard: true })
      yield* server.restart
      const kept = yield* Effect.forEach(fibers.filter((_, i) => i % 2 === 1), Fiber.join)
      const value = yield* server.cli("GET", "offline")
      console.log(`[interrupted] 40 queued while down, 20 interrupted: counter = ${value}, replies ${kept.length}`)
      assert.strictEqual(value, "20")
      assert.deepStrictEqual([...kept].sort((a, b) => a - b), Array.from({ length: 20 }, (_, i) => i + 1))
    }).pipe(Effect.scoped), 60_000)
})

describe("cluster, default options", () => {
  it.live("a SIGSTOPped primary: the client moves to the promoted replica without waiting for TCP; no duplicate", () =>
    Effect.gen(function*() {
      const cluster = yield* RedisCluster.make()
      const { redis } = yield* Cluster.make({ nodes: [`127.0.0.1:${cluster.startupNodes[0].port}`] }).pipe(
        Effect.provide(NodeTransport.layer)
      )
      const key = "dead:{a}"
      const owner = yield* cluster.slotOwner(ClusterSlot.keyslot(key))
      const [replica] = yield* cluster.replicasOf(owner)
      yield* redis.rpush(key, "seed")

      const ops: Array<{ readonly value: string; readonly start: number; end: number; outcome: string }> = []
      let stop = false
      const writer = Effect.gen(function*() {
        for (let seq = 0; !stop; seq++) {
          const op = { value: String(seq), start: Date.now(), end: 0, outcome: "ok" }
          ops.push(op)
          const exit = yield* Effect.exit(redis.rpush(key, op.value))
          op.end = Date.now()
          if (Exit.isFailure(exit)) {
            const e = RedisError.failureOf(exit)!
            op.outcome = `${e.reason._tag}/${e.outcome}`
            yield* Effect.sleep("20 millis")
          }
        }
      })
      const load = yield* Effect.forkChild(writer)
      yield* Effect.sleep("300 millis")

      yield* owner.pause
      const pausedAt = Date.now()
      // A write the stopped primary cannot have acknowledged: started after it stopped.
      const movedOn = () => ops.find((o) => o.start > pausedAt && o.outcome === "ok" && o.end > 0)
      // The cluster promotes the replica (node timeout 2 s); the client must
      // move on while the old primary is still stopped.
      let promotedAt = 0
      while (Date.now() - pausedAt < 30_000 && movedOn() === undefined) {
        if (promotedAt === 0 && (yield* Effect.orElseSucceed(replica.role, () => "unknown")) === "primary") {
          promotedAt = Date.now()
        }
        yield* Effect.sleep("50 millis")
      }
      const moved = movedOn()
      const stillStopped = yield* owner.isAlive
      yield* owner.resume
      stop = true
      yield* Fiber.join(load)
      // The writes the stopped primary held: in flight for more than a second.
      const stuck = ops.filter((o) => o.end === 0 || o.end - o.start > 1000)
      const errors: Record<string, number> = {}
      for (const o of ops) if (o.outcome !== "ok") errors[o.outcome] = (errors[o.outcome] ?? 0) + 1
      console.log(
        `[dead peer] cluster SIGSTOP: replica promoted at +${promotedAt - pausedAt} ms; ` +
          `writes held by the stopped primary: ${
            stuck.map((o) => `${o.outcome} at +${o.end - pausedAt} ms`).join(", ") || "none"
          }; first write acked by the new primary at +${moved === undefined ? "never" : moved.end - pausedAt} ms; ` +
          `ops ${ops.length}, errors`,
        errors
      )
      assert.isDefined(moved, "writes succeed again while the old primary is stopped")
      assert.isTrue(stillStopped)
      assert.isAbove(stuck.length, 0, "a write was in flight on the stopped primary")
      // The write the stopped primary held fails Unknown within the bound;
      // later ones may wait for the topology refresh and fail NotSent (never
      // written) when the retry schedule runs out first.
      const unknown = stuck.filter((o) => o.outcome.endsWith("/Unknown"))
      assert.strictEqual(unknown.length, 1, "one write was held by the stopped primary")
      assert.strictEqual(unknown[0].outcome, "Timeout/Unknown")
      assert.isAtMost(unknown[0].end - pausedAt, BOUND_MS + SLACK_MS, "the write in flight failed within the bound")
      for (const o of stuck) assert.include(["ok", "Timeout/Unknown", "ConnectionError/NotSent"], o.outcome)
      // After the detection, the refresh that finds the new primary may ask
      // the stopped node too and wait for its handshake (connectTimeout).
      const refreshBound = Duration.toMillis(RedisConfig.defaultConnectTimeout)
      assert.isAtMost(moved!.end - pausedAt, BOUND_MS + refreshBound + SLACK_MS, "the client moved on")
      // No duplicate: RPUSH values are unique, a resend of one that ran would show twice.
      yield* cluster.awaitSettled
      const items = yield* redis.lrange(key, 0, -1)
      const counts = new Map<string, number>()
      for (const v of items) counts.set(v, (counts.get(v) ?? 0) + 1)
      assert.strictEqual([...counts.values()].filter((n) => n > 1).length, 0, "no duplicate")
    }).pipe(Effect.scoped), 120_000)
})

describe("sentinel, default options", () => {
  it.live("a paused primary: writes in flight fail Unknown within the bound, before the failover; the client then follows the new primary", () =>
    Effect.gen(function*() {
      // The sentinels take longer than the bound to call the primary down,
      // so the client's own detection is what ends the wait.
      const group = yield* RedisSentinel.make({
        password: DATA_PW,
        sentinelPassword: SENTINEL_PW,
        downAfterMillis: BOUND_MS + 3000
      })
      const ctx = yield* build(NodeSentinel.layerMaster(optionsFor(group)))
      const redis = ctx.mapUnsafe.get(Redis.Redis.key) as Redis.RedisShape
      const sentinel = ctx.mapUnsafe.get(Sentinel.Sentinel.key) as Sentinel.SentinelShape
      const switchSeen = { at: Infinity }
      yield* Effect.forkScoped(Stream.runForEach(sentinel.events, (e) =>
        Effect.sync(() => {
          if (e.channel === "+switch-master") switchSeen.at = Math.min(switchSeen.at, e.receivedAt)
        })))
      const history: Array<Op> = []
      const stop = { done: false }
      const load = yield* Effect.forkChild(w1(redis, 4, history, stop))
      yield* Effect.sleep("500 millis")

      const pausedAt = Sentinel.preciseNow()
      const old = yield* group.pausePrimary
      const to = yield* group.awaitSwitch(old)
      const switchedAt = Sentinel.preciseNow()
      yield* Effect.sleep("1 second")
      yield* old.resume
      yield* Effect.sleep("1 second")
      stop.done = true
      yield* Fiber.join(load)

      const inFlight = history.filter((o) => o.start < pausedAt && o.end > pausedAt)
      const firstUnknown = history.filter((o) => o.error === "Timeout/Unknown").reduce((m, o) => Math.min(m, o.end), Infinity)
      const state = yield* sentinel.state
      const sw = state.switches[state.switches.length - 1]
      console.log(
        `[dead peer] sentinel pause: writes in flight ${inFlight.length}, first Timeout/Unknown at +${
          Math.round(firstUnknown - pausedAt)
        } ms; +switch-master at +${Math.round(switchSeen.at - pausedAt)} ms; sentinels agreed at +${
          Math.round(switchedAt - pausedAt)
        } ms; client on ${sw?.to} at +${sw === undefined ? "?" : Math.round(sw.switchedAt - pausedAt)} ms`
      )
      assert.isAbove(inFlight.length, 0, "writes were in flight when the primary stopped")
      for (const o of inFlight) {
        if (o.outcome === "ok") continue
        assert.strictEqual(o.error, "Timeout/Unknown", `in flight: ${o.value}`)
        assert.isAtMost(o.end - pausedAt, BOUND_MS + SLACK_MS, `${o.value} failed within the bound`)
      }
      assert.isBelow(firstUnknown, switchSeen.at, "the client detected the dead primary before the sentinels switched")
      assert.strictEqual(sw?.to, `127.0.0.1:${to.port}`)
      const lists = yield* finalRead(redis, ["log"])
      const report = analyse("dead peer", history, lists, Math.min(switchSeen.at, sw?.evidenceAt ?? Infinity), sw?.switchedAt ?? 0)
      assert.strictEqual(report.duplicates, 0, "no duplicates")
      assert.strictEqual(report.misclassified, 0, "NotSent/Rejected ops were not applied")
      assert.strictEqual(report.lost_ack_client, 0, "no acked write lost after the client had evidence")
      assert.isTrue(Number.isFinite(report.recovery_ms_first_ok_after_evidence), "writes succeed after the switch")
    }).pipe(Effect.scoped), 120_000)
})
