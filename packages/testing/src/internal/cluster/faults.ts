/**
 * The node faults of a cluster fixture: a manual failover, a primary crash
 * (SIGKILL, then wait for a replica to be promoted), and restarting a node
 * on its port with its cluster config. Each waits until the cluster has
 * settled again and the change it made is visible.
 *
 * Slot migration and membership changes live in `migration.ts` and
 * `membership.ts`; network faults are not simulated here (pause a node, or
 * use `FaultProxy`).
 *
 * @internal
 */
import * as Effect from "effect/Effect"
import type { ClusterNode, RedisClusterHandle } from "../../RedisCluster.ts"
import type { ServerError } from "../../ServerError.ts"
import { fail, type Fleet } from "./fleet.ts"
import type { Settler } from "./settle.ts"
import { isPrimaryNow } from "./view.ts"

export const make = (
  fleet: Fleet,
  { settle }: Settler
): Pick<RedisClusterHandle, "failover" | "killPrimary" | "restartNode"> => {
  const firstPrimary: Effect.Effect<ClusterNode, ServerError> = Effect.gen(function*() {
    const [primary] = yield* fleet.withRole("primary")
    return primary === undefined ? yield* fail("RedisCluster: no live primary") : primary
  })

  const someReplica: Effect.Effect<ClusterNode, ServerError> = Effect.gen(function*() {
    const primary = yield* firstPrimary
    const [r] = yield* fleet.replicasOf(primary)
    return r === undefined ? yield* fail(`RedisCluster.failover: 127.0.0.1:${primary.port} has no live replica`) : r
  })

  return {
    failover: (replica) =>
      Effect.gen(function*() {
        const target = replica ?? (yield* someReplica)
        yield* target.cli("CLUSTER", "FAILOVER")
        yield* settle(
          `failover to 127.0.0.1:${target.port}`,
          (views) => isPrimaryNow(views, target.id) ? undefined : `127.0.0.1:${target.port} is not a primary yet`
        )
        return target
      }),

    killPrimary: (primary) =>
      Effect.gen(function*() {
        const victim = primary ?? (yield* firstPrimary)
        const candidates = yield* fleet.replicasOf(victim)
        if (candidates.length === 0) {
          return yield* fail(`RedisCluster.killPrimary: 127.0.0.1:${victim.port} has no live replica to promote`)
        }
        yield* victim.kill
        let promoted: ClusterNode | undefined
        yield* settle(`promotion after killing 127.0.0.1:${victim.port}`, (views) => {
          promoted = candidates.find((c) => isPrimaryNow(views, c.id))
          return promoted === undefined ? "no replica of the killed primary is a primary yet" : undefined
        })
        return promoted!
      }),

    restartNode: (node) =>
      Effect.gen(function*() {
        yield* node.restart
        yield* settle(`restart of 127.0.0.1:${node.port}`)
      })
  }
}
