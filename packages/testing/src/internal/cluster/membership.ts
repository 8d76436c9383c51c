/**
 * Who is in a cluster fixture: creating the cluster from freshly started
 * nodes with `redis-cli --cluster create`, adding a node (`add-node`, as an
 * empty primary or as a replica) and removing one (`del-node`, or `CLUSTER
 * FORGET` everywhere when it is dead). Each waits until the cluster has
 * settled with the change visible.
 *
 * Slots are not moved here (`migration.ts`): a node is removed only once it
 * owns none and no replica follows it.
 *
 * @internal
 */
import * as Effect from "effect/Effect"
import type { ClusterNode, RedisClusterHandle } from "../../RedisCluster.ts"
import type { ServerError } from "../../ServerError.ts"
import { freePort } from "../../Ports.ts"
import { fail, type Fleet } from "./fleet.ts"
import type { Settler } from "./settle.ts"
import { slotCount } from "./view.ts"

/**
 * Starts a node on each port and joins them: `create` makes the first
 * `ports.length / (1 + replicasPerPrimary)` addresses primaries (when the
 * hosts are all the same, it keeps the given order) and the rest their
 * replicas. Returns once the cluster has settled and `check` passes.
 */
export const create = (
  fleet: Fleet,
  { awaitCheck, settle }: Settler,
  ports: ReadonlyArray<number>,
  replicasPerPrimary: number
): Effect.Effect<void, ServerError> =>
  Effect.gen(function*() {
    yield* fleet.start(ports)
    yield* fleet.cli.cluster([
      "create",
      ...ports.map((p) => `127.0.0.1:${p}`),
      "--cluster-replicas", String(replicasPerPrimary),
      "--cluster-yes"
    ])
    yield* settle("create")
    yield* awaitCheck
  })

export const make = (
  fleet: Fleet,
  { settle }: Settler
): Pick<RedisClusterHandle, "addNode" | "removeNode"> => ({
  addNode: (options = {}) =>
    Effect.gen(function*() {
      const [seed] = yield* fleet.alive
      if (seed === undefined) return yield* fail("RedisCluster.addNode: no live node to join")
      // One port in, one node out.
      const node = (yield* fleet.start([yield* freePort]))[0]!
      const primary = options.asReplicaOf
      yield* fleet.cli.cluster([
        "add-node", `127.0.0.1:${node.port}`, `127.0.0.1:${seed.port}`,
        ...(primary === undefined ? [] : ["--cluster-slave", "--cluster-master-id", primary.id])
      ])
      yield* settle(`adding 127.0.0.1:${node.port}`, (views) => {
        if (primary === undefined) return undefined
        const own = views.get(node.id)?.find((e) => e.id === node.id)
        return own?.primaryId === primary.id ? undefined : `127.0.0.1:${node.port} does not replicate ${primary.id} yet`
      })
      return node
    }),

  removeNode: (node: ClusterNode) =>
    Effect.gen(function*() {
      if (!fleet.nodes.includes(node)) {
        return yield* fail(`RedisCluster.removeNode: 127.0.0.1:${node.port} is not in this cluster`)
      }
      const others = (yield* fleet.alive).filter((n) => n !== node)
      const [seed] = others
      if (seed === undefined) return yield* fail("RedisCluster.removeNode: no other live node")
      const view = yield* fleet.clusterNodes(seed)
      const entry = view.find((e) => e.id === node.id)
      if (entry !== undefined && slotCount(entry.slots) > 0) {
        return yield* fail(`RedisCluster.removeNode: 127.0.0.1:${node.port} still owns ${slotCount(entry.slots)} slots`)
      }
      const dependents = view.filter((e) => e.primaryId === node.id && !e.flags.includes("fail"))
      if (dependents.length > 0) {
        return yield* fail(`RedisCluster.removeNode: 127.0.0.1:${node.port} still has replicas; remove them first`)
      }
      if (yield* node.isAlive) {
        yield* fleet.cli.cluster(["del-node", `127.0.0.1:${seed.port}`, node.id])
      } else {
        // del-node wants to reach the node it deletes; a dead one is just forgotten.
        for (const other of others) yield* other.cli("CLUSTER", "FORGET", node.id)
      }
      yield* fleet.remove(node)
      yield* settle(`removing 127.0.0.1:${node.port}`, (views) => {
        for (const v of views.values()) {
          if (v.some((e) => e.id === node.id)) return `${node.id} is still known`
        }
        return undefined
      })
    })
})
