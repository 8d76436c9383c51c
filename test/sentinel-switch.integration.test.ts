/**
 * `SENTINEL FAILOVER` with the master and replica layers built from
 * `Config` (`NodeSentinel.layerMasterConfig` / `layerReplicaConfig`, read from
 * a `ConfigProvider`, passwords as `Redacted`):
 *
 * - pipelines run in a loop through the switch: each one either goes wholly
 *   to one primary, or fails `Unknown` for what was written (and `NotSent`
 *   for the rest); none hangs (bounded), none is applied twice;
 * - replica reads keep working through the switch (from a replica, or the
 *   primary as fallback), and once the old primary has been reconfigured,
 *   the reads go to the new topology's replicas and not to the new primary
 *   (`INFO commandstats` on every node).
 */
import { assert, describe, it } from "@effect/vitest"
import * as NodeSentinel from "@redis-effect/node/NodeSentinel"
import * as Redis from "@redis-effect/redis/Redis"
import * as Sentinel from "@redis-effect/redis/Sentinel"
import * as RedisSentinel from "@redis-effect/testing/RedisSentinel"
import * as Config from "effect/Config"
import * as ConfigProvider from "effect/ConfigProvider"
import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"
import * as Option from "effect/Option"
import * as Redacted from "effect/Redacted"
import * as Schema from "effect/Schema"
import * as Stream from "effect/Stream"
import {
  analyse,
  build,
  callsOf,
  DATA_PW,
  emptyPipelineStats,
  errorOf,
  finalRead,
  type Op,
  pipelineLoad,
  SENTINEL_PW
} from "./sentinel-support.ts"

// What an application would write: every option read from its configuration.
const fromConfig = {
  sentinels: Config.Array(Schema.String, "SENTINELS"),
  masterName: Config.String("SENTINEL_MASTER"),
  password: Config.Redacted("REDIS_PASSWORD"),
  sentinelPassword: Config.Redacted("SENTINEL_PASSWORD"),
  refreshInterval: Config.Duration("SENTINEL_REFRESH")
}

describe("Sentinel switch (layers from Config)", () => {
  it.live("SENTINEL FAILOVER: pipelines move wholly or fail Unknown, never hang; replica reads follow the new topology", () =>
    Effect.gen(function*() {
      const group = yield* RedisSentinel.make({ password: DATA_PW, sentinelPassword: SENTINEL_PW })
      const provider = ConfigProvider.fromEnv({
        env: {
          SENTINELS: group.sentinelAddresses.map((s) => `${s.host}:${s.port}`).join(","),
          SENTINEL_MASTER: group.masterName,
          REDIS_PASSWORD: DATA_PW,
          SENTINEL_PASSWORD: SENTINEL_PW,
          // The replica set is re-read on events, and at least every second.
          SENTINEL_REFRESH: "1 second"
        }
      })
      const [masterCtx, replicaCtx] = yield* Effect.all([
        build(NodeSentinel.layerMasterConfig(fromConfig)),
        build(NodeSentinel.layerReplicaConfig(fromConfig))
      ]).pipe(Effect.provideService(ConfigProvider.ConfigProvider, provider))
      const redis = masterCtx.mapUnsafe.get(Redis.Redis.key) as Redis.RedisShape
      const sentinel = masterCtx.mapUnsafe.get(Sentinel.Sentinel.key) as Sentinel.SentinelShape
      const replica = replicaCtx.mapUnsafe.get(Redis.Redis.key) as Redis.RedisShape

      // The passwords were read as Redacted, and used: both layers work.
      const parsed = yield* Config.unwrap(fromConfig).parse(provider)
      assert.isTrue(Redacted.isRedacted(parsed.password))
      assert.notInclude(String(parsed.password), DATA_PW)
      yield* redis.set("canary", "alive")
      yield* Effect.ignore(redis.wait(2, 1000))
      assert.deepStrictEqual(yield* replica.get("canary"), Option.some("alive"))

      const switchMaster = { at: Infinity }
      yield* Effect.forkScoped(Stream.runForEach(sentinel.events, (e) =>
        Effect.sync(() => {
          if (e.channel === "+switch-master") switchMaster.at = Math.min(switchMaster.at, e.receivedAt)
        })))
      const history: Array<Op> = []
      const pstats = emptyPipelineStats()
      const stop = { done: false }
      const reads = { ok: 0, wrong: 0, errors: new Map<string, number>() }
      const pipes = yield* Effect.forkChild(pipelineLoad(redis, 3, 5, history, pstats, stop, 15_000))
      const reader = yield* Effect.forkChild(Effect.gen(function*() {
        while (!stop.done) {
          const exit = yield* Effect.exit(replica.get("canary"))
          const error = errorOf(exit)
          if (error !== undefined) {
            const k = `${error.reason._tag}/${error.outcome}`
            reads.errors.set(k, (reads.errors.get(k) ?? 0) + 1)
            yield* Effect.sleep("5 millis")
          } else if (exit._tag === "Success" && Option.isSome(exit.value) && exit.value.value === "alive") reads.ok++
          else reads.wrong++
        }
      }))
      yield* Effect.sleep("1 second")

      const faultAt = Date.now()
      const { from, to } = yield* group.failover
      const agreedAt = Date.now()
      // Keep the load on while the demoted primary still answers as master,
      // until the sentinels have reconfigured it and it is in sync.
      yield* group.awaitReplicasInSync
      const inSyncAt = Date.now()
      stop.done = true
      yield* Fiber.join(pipes)
      yield* Fiber.join(reader)

      const state = yield* sentinel.state
      const sw = state.switches[0]
      assert.isDefined(sw, "the client switched primaries")
      // The client may pass through an interim view; it must end on the true primary.
      assert.strictEqual(state.switches[state.switches.length - 1].to, `127.0.0.1:${to.port}`)
      const evidenceAt = Math.min(sw.evidenceAt, switchMaster.at)
      console.log(
        `[sentinel switch] SENTINEL FAILOVER at +0; evidence (${sw.evidence}) at +${sw.evidenceAt - faultAt} ms; +switch-master at +${
          switchMaster.at - faultAt
        } ms; client on ${sw.to} at +${sw.switchedAt - faultAt} ms; sentinels agreed at +${agreedAt - faultAt} ms; old primary ${from.port} in sync as a replica at +${
          inSyncAt - faultAt
        } ms`
      )
      const lists = yield* finalRead(redis, ["pl"])
      const report = analyse("switch pipelines", history, lists, evidenceAt, sw.switchedAt)
      const moved = pstats.spans.filter((s) => s.ok && s.start < evidenceAt && s.end >= sw.switchedAt).length
      const { spans: _spans, ...pipelines } = pstats
      console.log(`[sentinel switch] pipelines ${JSON.stringify({ ...pipelines, movedWholly: moved })}`)
      console.log(
        `[sentinel switch] replica reads during the switch: ok ${reads.ok}, wrong ${reads.wrong}, errors ${
          JSON.stringify(Object.fromEntries(reads.errors))
        }`
      )
      assert.strictEqual(pstats.hung, 0, "no pipeline hung")
      assert.strictEqual(report.duplicates, 0, "no duplicates")
      assert.strictEqual(report.phantoms, 0, "no phantoms")
      assert.strictEqual(report.misclassified, 0, "NotSent/Rejected pipeline commands were not applied")
      assert.strictEqual(report.lost_ack_client, 0, "no acked pipeline command lost after the client had evidence")
      assert.isTrue(Number.isFinite(report.recovery_ms_first_ok_after_evidence), "pipelines succeed after the switch")
      assert.strictEqual(reads.wrong, 0, "every replica read saw the canary")
      assert.strictEqual(reads.errors.size, 0, "replica reads kept working through the switch")

      // The new topology: `to` is the primary; `from` and the other replica serve reads.
      const replicas = group.nodes.filter((n) => n !== to)
      const rounds: Array<string> = []
      const started = Date.now()
      let served: Array<number> = []
      let onPrimary = -1
      while (Date.now() - started < 15_000) {
        for (const n of group.nodes) yield* n.cli("CONFIG", "RESETSTAT")
        for (let i = 0; i < 40; i++) assert.deepStrictEqual(yield* replica.get("canary"), Option.some("alive"))
        served = []
        for (const n of replicas) served.push(callsOf(yield* n.info("commandstats"), "get"))
        onPrimary = callsOf(yield* to.info("commandstats"), "get")
        rounds.push(`${replicas.map((n, i) => `${n.port}:${served[i]}`).join(" ")} primary ${to.port}:${onPrimary}`)
        if (onPrimary === 0 && served.every((c) => c > 0)) break
        yield* Effect.sleep("250 millis")
      }
      console.log(`[sentinel switch] GETs after the switch, per round (${Date.now() - started} ms): ${rounds.join(" | ")}`)
      assert.strictEqual(onPrimary, 0, "no read went to the new primary")
      for (const c of served) assert.isAbove(c, 0, "every replica of the new topology served reads")
    }).pipe(Effect.scoped), 90_000)
})
