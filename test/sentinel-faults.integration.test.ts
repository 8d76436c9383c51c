/**
 * Sentinel faults C3 and C4 (docs/GUARANTEES.md) against real redis-sentinel processes: a paused
 * primary that comes back as a stale master after the failover, and a
 * killed primary restarted without persistence (a master with an empty
 * dataset until the sentinels convert it). In both, the stale node keeps
 * answering as `master` for seconds; the client must not write to it, and
 * the replica layer must not read from it.
 *
 * Invariants: zero client-attributed lost acknowledged writes (docs/GUARANTEES.md,
 * attribution), no duplicates, no phantoms, no hung pipeline, no connection of the
 * client on the stale node while it is master, and no RPUSH/GET executed
 * there meanwhile (`INFO commandstats`). Timings are printed, not asserted.
 */
import { assert, describe, it } from "@effect/vitest"
import * as NodeSentinel from "@redis-effect/node/NodeSentinel"
import * as Redis from "@redis-effect/redis/Redis"
import * as Sentinel from "@redis-effect/redis/Sentinel"
import type * as RedisServer from "@redis-effect/testing/RedisServer"
import * as RedisSentinel from "@redis-effect/testing/RedisSentinel"
import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"
import * as Option from "effect/Option"
import * as Stream from "effect/Stream"
import {
  analyse,
  build,
  callsOf,
  connectionsNamed,
  DATA_PW,
  emptyPipelineStats,
  errorOf,
  finalRead,
  type Op,
  optionsFor,
  pipelineLoad,
  SENTINEL_PW,
  w1
} from "./sentinel-support.ts"

const MASTER_CLIENT = "under-test-master"
const REPLICA_CLIENT = "under-test-replica"

const parseInfo = (text: string): Record<string, string> => {
  const out: Record<string, string> = {}
  for (const line of text.split("\n")) {
    const i = line.indexOf(":")
    if (i > 0 && !line.startsWith("#")) out[line.slice(0, i)] = line.slice(i + 1).trim()
  }
  return out
}

interface StaleWatch {
  /** ms from `since` until the node stopped answering `role:master`. */
  readonly staleMasterMs: number
  /** Samples taken while it was master (after the grace period). */
  readonly samples: number
  /** The most connections of the client seen on it while it was master. */
  readonly clientConnections: number
  /** RPUSH and GET executed on it while it was master (after the grace period). */
  readonly rpushWhileMaster: number
  readonly getWhileMaster: number
}

/**
 * Samples a stale primary every 100 ms until the sentinels turned it into a
 * replica: role and command counts in one `INFO`, and the client's
 * connections. `graceMillis` after `since` the counters are reset (the
 * commands a paused node finds in its socket buffers on SIGCONT were sent
 * before it was paused, and are the client's `Unknown` ops).
 */
const watchStale = (
  node: RedisServer.RedisServerHandle,
  since: number,
  options: { readonly graceMillis: number; readonly resetStats: boolean; readonly names: ReadonlyArray<string> }
) =>
  Effect.gen(function*() {
    let samples = 0
    let clientConnections = 0
    let rpushWhileMaster = 0
    let getWhileMaster = 0
    let reset = !options.resetStats
    const deadline = since + 30_000
    while (Date.now() < deadline) {
      const info = yield* node.cli("INFO", "replication", "commandstats").pipe(
        Effect.map(parseInfo),
        Effect.orElseSucceed(() => ({} as Record<string, string>))
      )
      if (info.role === "slave") break
      if (info.role === "master" && Date.now() - since >= options.graceMillis) {
        if (!reset) {
          yield* Effect.ignore(node.cli("CONFIG", "RESETSTAT"))
          reset = true
        } else {
          samples++
          rpushWhileMaster = Math.max(rpushWhileMaster, callsOf(info, "rpush"))
          getWhileMaster = Math.max(getWhileMaster, callsOf(info, "get"))
          for (const name of options.names) {
            const n = yield* Effect.orElseSucceed(connectionsNamed(node, name), () => 0)
            clientConnections = Math.max(clientConnections, n)
          }
        }
      }
      yield* Effect.sleep("100 millis")
    }
    return {
      staleMasterMs: Date.now() - since,
      samples,
      clientConnections,
      rpushWhileMaster,
      getWhileMaster
    } satisfies StaleWatch
  })

const switchMasterReceipt = (sentinel: Sentinel.SentinelShape) =>
  Effect.gen(function*() {
    const seen = { at: Infinity }
    yield* Effect.forkScoped(Stream.runForEach(sentinel.events, (e) =>
      Effect.sync(() => {
        if (e.channel === "+switch-master") seen.at = Math.min(seen.at, e.receivedAt)
      })))
    return seen
  })

describe("Sentinel faults C3, C4", () => {
  it.live("C3 paused primary: the client follows the failover and never writes to the resumed stale primary", () =>
    Effect.gen(function*() {
      const group = yield* RedisSentinel.make({ password: DATA_PW, sentinelPassword: SENTINEL_PW })
      const ctx = yield* build(NodeSentinel.layerMaster(optionsFor(group, { clientName: MASTER_CLIENT })))
      const redis = ctx.mapUnsafe.get(Redis.Redis.key) as Redis.RedisShape
      const sentinel = ctx.mapUnsafe.get(Sentinel.Sentinel.key) as Sentinel.SentinelShape
      const switchMaster = yield* switchMasterReceipt(sentinel)
      const history: Array<Op> = []
      const pstats = emptyPipelineStats()
      const stop = { done: false }
      const load = yield* Effect.forkChild(w1(redis, 8, history, stop))
      const pipes = yield* Effect.forkChild(pipelineLoad(redis, 2, 5, history, pstats, stop, 15_000))
      yield* Effect.sleep("1 second")

      const pausedAt = Date.now()
      const old = yield* group.pausePrimary
      const to = yield* group.awaitSwitch(old)
      const switchedBySentinels = Date.now()
      // Give the client a moment on the new primary, then wake the old one:
      // it is still `role:master` with its old dataset until reconfigured.
      yield* Effect.sleep("500 millis")
      const resumedAt = Date.now()
      yield* old.resume
      const stale = yield* watchStale(old, resumedAt, { graceMillis: 500, resetStats: true, names: [MASTER_CLIENT] })
      yield* Effect.sleep("500 millis")
      stop.done = true
      yield* Fiber.join(load)
      yield* Fiber.join(pipes)

      const state = yield* sentinel.state
      const sw = state.switches[0]
      assert.isDefined(sw, "the client switched primaries")
      // The client may pass through an interim view; it must end on the true primary.
      assert.strictEqual(state.switches[state.switches.length - 1].to, `127.0.0.1:${to.port}`)
      const evidenceAt = Math.min(sw.evidenceAt, switchMaster.at)
      console.log(
        `[sentinel C3] paused at +0; evidence (${sw.evidence}) at +${sw.evidenceAt - pausedAt} ms; +switch-master at +${
          switchMaster.at - pausedAt
        } ms; client on ${sw.to} at +${sw.switchedAt - pausedAt} ms; sentinels agreed at +${
          switchedBySentinels - pausedAt
        } ms; resumed at +${resumedAt - pausedAt} ms; stale master for ${stale.staleMasterMs} ms after resume (${stale.samples} samples): client connections ${stale.clientConnections}, RPUSH ${stale.rpushWhileMaster}`
      )
      const lists = yield* finalRead(redis, ["log", "pl"])
      const report = analyse("C3", history, lists, evidenceAt, sw.switchedAt)
      const { spans: _spans, ...pipelines } = pstats
      console.log(`[sentinel C3] pipelines ${JSON.stringify(pipelines)}`)
      assert.strictEqual(report.duplicates, 0, "no duplicates")
      assert.strictEqual(report.phantoms, 0, "no phantoms")
      assert.strictEqual(report.misclassified, 0, "NotSent/Rejected ops were not applied")
      assert.strictEqual(report.lost_ack_client, 0, "no acked write lost after the client had evidence")
      assert.strictEqual(pstats.hung, 0, "no pipeline hung")
      assert.isTrue(Number.isFinite(report.recovery_ms_first_ok_after_evidence), "writes succeed after the switch")
      assert.strictEqual(stale.clientConnections, 0, "no client connection on the stale primary")
      assert.strictEqual(stale.rpushWhileMaster, 0, "no write executed on the stale primary")
    }).pipe(Effect.scoped), 90_000)

  it.live("C4 stale primary restart: writes go to the new master only, replica reads never hit the empty stale master", () =>
    Effect.gen(function*() {
      const group = yield* RedisSentinel.make({ password: DATA_PW, sentinelPassword: SENTINEL_PW })
      const ctx = yield* build(NodeSentinel.layerMaster(optionsFor(group, { clientName: MASTER_CLIENT })))
      const redis = ctx.mapUnsafe.get(Redis.Redis.key) as Redis.RedisShape
      const sentinel = ctx.mapUnsafe.get(Sentinel.Sentinel.key) as Sentinel.SentinelShape
      const replicaCtx = yield* build(NodeSentinel.layerReplica(optionsFor(group, { clientName: REPLICA_CLIENT })))
      const replica = replicaCtx.mapUnsafe.get(Redis.Redis.key) as Redis.RedisShape
      const switchMaster = yield* switchMasterReceipt(sentinel)
      yield* redis.set("canary", "alive")
      yield* Effect.ignore(redis.wait(2, 1000))

      const history: Array<Op> = []
      const stop = { done: false }
      const reads = { ok: 0, missing: 0, errors: new Map<string, number>() }
      const load = yield* Effect.forkChild(w1(redis, 8, history, stop))
      const reader = yield* Effect.forkChild(Effect.gen(function*() {
        while (!stop.done) {
          const exit = yield* Effect.exit(replica.get("canary"))
          const error = errorOf(exit)
          if (error !== undefined) {
            const k = `${error.reason._tag}/${error.outcome}`
            reads.errors.set(k, (reads.errors.get(k) ?? 0) + 1)
            yield* Effect.sleep("5 millis")
          } else if (exit._tag === "Success" && Option.isSome(exit.value) && exit.value.value === "alive") reads.ok++
          else reads.missing++
        }
      }))
      yield* Effect.sleep("1 second")

      const killedAt = Date.now()
      const old = yield* group.killPrimary
      const to = yield* group.awaitSwitch(old)
      const switchedBySentinels = Date.now()
      // Restart it on its port, no persistence, no replicaof: an empty master.
      yield* old.restart
      const restartedAt = Date.now()
      const stale = yield* watchStale(old, restartedAt, {
        graceMillis: 0,
        resetStats: false,
        names: [MASTER_CLIENT, REPLICA_CLIENT]
      })
      yield* Effect.sleep("500 millis")
      stop.done = true
      yield* Fiber.join(load)
      yield* Fiber.join(reader)

      const state = yield* sentinel.state
      const sw = state.switches[0]
      assert.isDefined(sw, "the client switched primaries")
      // The client may pass through an interim view; it must end on the true primary.
      assert.strictEqual(state.switches[state.switches.length - 1].to, `127.0.0.1:${to.port}`)
      assert.strictEqual(state.switches.length, 1, "the client never switched to the stale primary")
      const evidenceAt = Math.min(sw.evidenceAt, switchMaster.at)
      console.log(
        `[sentinel C4] killed at +0; evidence (${sw.evidence}) at +${sw.evidenceAt - killedAt} ms; +switch-master at +${
          switchMaster.at - killedAt
        } ms; client on ${sw.to} at +${sw.switchedAt - killedAt} ms; sentinels agreed at +${
          switchedBySentinels - killedAt
        } ms; restarted at +${restartedAt - killedAt} ms; stale master for ${stale.staleMasterMs} ms (${stale.samples} samples): client connections ${stale.clientConnections}, RPUSH ${stale.rpushWhileMaster}, GET ${stale.getWhileMaster}`
      )
      console.log(
        `[sentinel C4] replica reads: ok ${reads.ok}, missing ${reads.missing}, errors ${JSON.stringify(Object.fromEntries(reads.errors))}`
      )
      const lists = yield* finalRead(redis)
      const report = analyse("C4", history, lists, evidenceAt, sw.switchedAt)
      assert.strictEqual(report.duplicates, 0, "no duplicates")
      assert.strictEqual(report.phantoms, 0, "no phantoms")
      assert.strictEqual(report.misclassified, 0, "NotSent/Rejected ops were not applied")
      assert.strictEqual(report.lost_ack_client, 0, "no acked write lost after the client had evidence")
      assert.isTrue(Number.isFinite(report.recovery_ms_first_ok_after_evidence), "writes succeed after the switch")
      assert.isAbove(stale.samples, 0, "the restarted node was seen as a stale master")
      // Data connections, by name: ROLE probes of a node the sentinels still
      // list are named "<clientName>:probe" and do not count.
      assert.strictEqual(stale.clientConnections, 0, "no client connection on the stale master")
      assert.strictEqual(stale.rpushWhileMaster, 0, "no write executed on the stale master")
      assert.strictEqual(stale.getWhileMaster, 0, "no read served by the stale master")
      assert.strictEqual(reads.missing, 0, "no replica read saw an empty dataset")
      assert.isAbove(reads.ok, 0)
    }).pipe(Effect.scoped), 90_000)
})
