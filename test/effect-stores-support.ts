/**
 * Pieces of the Effect-store integration tests: one layer per topology
 * (a real standalone server, a 3x1 cluster, a Sentinel group) that provides
 * this client's `Redis`, Effect's `Redis` from `EffectRedis.layer`, and a
 * `Topology` service for what differs (INFO commandstats of every node, a
 * disruption of subscriber connections); and small helpers.
 */
import * as NodeClient from "@redis-effect/node/NodeClient"
import * as NodeCluster from "@redis-effect/node/NodeCluster"
import * as NodeSentinel from "@redis-effect/node/NodeSentinel"
import * as EffectRedis from "@redis-effect/redis/EffectRedis"
import type * as Redis from "@redis-effect/redis/Redis"
import * as RedisCluster from "@redis-effect/testing/RedisCluster"
import * as RedisSentinel from "@redis-effect/testing/RedisSentinel"
import * as RedisServer from "@redis-effect/testing/RedisServer"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import type * as EffectRedisService from "effect/persistence/Redis"
import { optionsFor } from "./sentinel-support.ts"

export type TopologyName = "standalone" | "cluster" | "sentinel"

/** What a test needs to know about the servers behind the client. */
export class Topology extends Context.Service<Topology, {
  readonly name: TopologyName
  /** `INFO commandstats` of every data node (primaries and replicas). */
  readonly commandstats: Effect.Effect<ReadonlyArray<Record<string, string>>, unknown>
  /** Drops the client's subscriber connections (standalone, cluster) or fails the primary over (Sentinel). */
  readonly disrupt: Effect.Effect<void, unknown>
  /** Cluster: moves the slot of `key` (with its keys) to another primary. Elsewhere: nothing. */
  readonly moveSlotOf: (key: string) => Effect.Effect<void, unknown>
}>()("test/effect-stores/Topology") {}

export type Env = Redis.Redis | EffectRedisService.Redis | Topology

const withEffectRedis = <E, R>(client: Layer.Layer<Redis.Redis, E, R>) =>
  Layer.provideMerge(EffectRedis.layer, client)

const stats = (node: RedisServer.RedisServerHandle) => node.info("commandstats")

/** A standalone server and a client on it. */
export const standalone: Layer.Layer<Env, unknown> = Layer.unwrap(Effect.gen(function*() {
  const server = yield* RedisServer.RedisServer
  return Layer.merge(
    withEffectRedis(NodeClient.layer({ url: server.url })),
    Layer.succeed(Topology)({
      name: "standalone",
      commandstats: Effect.map(stats(server), (s) => [s]),
      disrupt: Effect.asVoid(server.clientKill("TYPE", "pubsub")),
      moveSlotOf: () => Effect.void
    })
  )
})).pipe(Layer.provide(RedisServer.layer()))

/** A 3x1 cluster (3 primaries, 1 replica each) and a cluster client. */
export const cluster: Layer.Layer<Env, unknown> = Layer.unwrap(Effect.gen(function*() {
  const fixture = yield* RedisCluster.RedisCluster
  const nodes = fixture.startupNodes.map((n) => `${n.host}:${n.port}`)
  return Layer.merge(
    withEffectRedis(NodeCluster.layer({ nodes: [nodes[0]] })),
    Layer.succeed(Topology)({
      name: "cluster",
      commandstats: Effect.forEach(fixture.nodes, stats),
      disrupt: Effect.forEach(fixture.nodes, (n) => n.clientKill("TYPE", "pubsub"), { discard: true }),
      moveSlotOf: (key) =>
        Effect.gen(function*() {
          const slot = yield* fixture.keyslot(key)
          const from = yield* fixture.slotOwner(slot)
          const to = (yield* fixture.primaries).find((n) => n.port !== from.port)!
          yield* fixture.migrateSlots({ from, to, slots: [slot] })
        })
    })
  )
})).pipe(Layer.provide(RedisCluster.layer()))

/** A Sentinel group (1 primary, 2 replicas, 3 sentinels) and a client of its primary. */
export const sentinel: Layer.Layer<Env, unknown> = Layer.unwrap(Effect.gen(function*() {
  const group = yield* RedisSentinel.RedisSentinel
  return Layer.merge(
    withEffectRedis(NodeSentinel.layerMaster(optionsFor(group))),
    Layer.succeed(Topology)({
      name: "sentinel",
      commandstats: Effect.forEach(group.nodes, stats),
      disrupt: Effect.asVoid(group.failover),
      moveSlotOf: () => Effect.void
    })
  )
})).pipe(Layer.provide(RedisSentinel.layer()))

/** The calls of one command (`cmdstat_<name>`, e.g. `command|getkeys`) summed over every node. */
export const callsOf = (all: ReadonlyArray<Record<string, string>>, name: string): number =>
  all.reduce((sum, info) => {
    const m = /calls=(\d+)/.exec(info[`cmdstat_${name}`] ?? "")
    return sum + (m === null ? 0 : Number(m[1]))
  }, 0)

/** `count` keys `${base}:<i>` that hash to as many different slots as they can (no tag). */
export const spread = (base: string, count: number): Array<string> => Array.from({ length: count }, (_, i) => `${base}:${i}`)
