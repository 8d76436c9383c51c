/**
 * Waiting for a cluster fixture to converge: every helper that changes the
 * topology ends by polling the live nodes until they agree (the rule is
 * `view.disagreements`) and any extra condition of its own holds, within
 * `readyTimeoutMillis`. A timeout fails with a `ServerError` that says what
 * was still wrong. Also `redis-cli --cluster check`.
 *
 * Waits use real timers, not the Effect `Clock`: failover takes seconds of
 * real time, and a `TestClock` would never advance. Nothing here changes the
 * cluster.
 *
 * @internal
 */
import * as Effect from "effect/Effect"
import * as RedisServer from "../../RedisServer.ts"
import type { ServerError } from "../../ServerError.ts"
import * as Proc from "../process.ts"
import { fail, type Fleet, nodesOf } from "./fleet.ts"
import { disagreements, type Probe, type ViewCheck } from "./view.ts"

/** The waits of one cluster fixture. */
export interface Settler {
  /** Polls every 100 ms until the cluster has settled and `extra` holds; `what` names the wait in the error. */
  readonly settle: (what: string, extra?: ViewCheck) => Effect.Effect<void, ServerError>
  /** `redis-cli --cluster check`; fails when it reports an error or a warning. Returns its report. */
  readonly check: Effect.Effect<string, ServerError>
  /** `check`, retried every 200 ms until it passes, within the same budget. */
  readonly awaitCheck: Effect.Effect<void, ServerError>
}

/** Asks every live node for its `CLUSTER INFO`, `CLUSTER NODES` and `INFO replication`, concurrently. */
const probeAll = (fleet: Fleet): Effect.Effect<ReadonlyArray<Probe>> =>
  Effect.flatMap(fleet.alive, (live) =>
    Effect.forEach(
      live,
      (node) =>
        Effect.all({
          clusterInfo: Effect.map(node.cli("CLUSTER", "INFO"), RedisServer.parseInfo),
          view: nodesOf(node),
          replication: node.info("replication")
        }).pipe(
          Effect.result,
          Effect.map((answer): Probe => ({ id: node.id, name: `127.0.0.1:${node.port}`, answer }))
        ),
      { concurrency: "unbounded" }
    ))

/** Why the cluster has not settled, or undefined when it has. */
const unsettled = (fleet: Fleet, extra: ViewCheck | undefined): Effect.Effect<string | undefined> =>
  Effect.map(probeAll(fleet), (probes) => {
    const { problems, views } = disagreements(probes)
    if (problems.length === 0) return extra?.(views)
    return problems.join("; ")
  })

export const make = (fleet: Fleet, readyTimeoutMillis: number): Settler => {
  const settle = (what: string, extra?: ViewCheck): Effect.Effect<void, ServerError> =>
    Effect.gen(function*() {
      const deadline = Date.now() + readyTimeoutMillis
      while (true) {
        const why = yield* unsettled(fleet, extra)
        if (why === undefined) return
        if (Date.now() > deadline) {
          return yield* fail(`RedisCluster: ${what}: not settled after ${readyTimeoutMillis} ms: ${why}`)
        }
        yield* Proc.realSleep(100)
      }
    })

  const check = Effect.gen(function*() {
    const [seed] = yield* fleet.alive
    if (seed === undefined) return yield* fail("RedisCluster.check: no live node")
    const report = yield* fleet.cli.cluster(["check", `127.0.0.1:${seed.port}`])
    if (/\[(ERR|WARNING)\]/.test(report)) return yield* fail(`redis-cli --cluster check reported problems:\n${report}`)
    return report
  })

  // `check` can still see a stale view for a moment after settling.
  const awaitCheck = Effect.gen(function*() {
    const deadline = Date.now() + readyTimeoutMillis
    while (true) {
      const result = yield* Effect.result(check)
      if (result._tag === "Success") return
      if (Date.now() > deadline) return yield* Effect.fail(result.failure)
      yield* Proc.realSleep(200)
    }
  })

  return { settle, check, awaitCheck }
}
