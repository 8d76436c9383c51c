/**
 * redis-py parity of the Sentinel client (`Sentinel`, `master_for`,
 * `slave_for`) against real redis-sentinel processes: `addressRemap` of the
 * addresses sentinels report (NAT: the client dials fault proxies in front
 * of the data nodes, and follows a switch announced with the nodes' own
 * addresses); `Sentinel.execute` / `executeAll` with the typed SENTINEL
 * commands, on one sentinel or on all of them; the replica layer's
 * selection policies (random, lowest latency, a function) and its `ROLE`
 * re-check of the replicas in use; bad options refused at layer build.
 *
 * Timings are printed, not asserted.
 */
import { assert, describe, it } from "@effect/vitest"
import * as NodeSentinel from "@redis-effect/node/NodeSentinel"
import * as NodeTransport from "@redis-effect/node/NodeTransport"
import * as S from "@redis-effect/redis/commands/sentinel"
import * as Redis from "@redis-effect/redis/Redis"
import * as RedisConfig from "@redis-effect/redis/RedisConfig"
import * as RedisError from "@redis-effect/redis/RedisError"
import * as Sentinel from "@redis-effect/redis/Sentinel"
import type * as TopologyEvent from "@redis-effect/redis/TopologyEvent"
import { FaultProxy } from "@redis-effect/testing"
import * as RedisSentinel from "@redis-effect/testing/RedisSentinel"
import type * as RedisServer from "@redis-effect/testing/RedisServer"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as Schedule from "effect/Schedule"
import * as Stream from "effect/Stream"
import { build, optionsFor } from "./sentinel-support.ts"

const servicesOf = (layer: Layer.Layer<Redis.Redis | Sentinel.Sentinel, RedisError.RedisError>) =>
  Effect.map(build(layer), (ctx) => ({
    redis: ctx.mapUnsafe.get(Redis.Redis.key) as Redis.RedisShape,
    sentinel: ctx.mapUnsafe.get(Sentinel.Sentinel.key) as Sentinel.SentinelShape
  }))

const getCalls = (node: RedisServer.RedisServerHandle) =>
  Effect.map(node.info("commandstats"), (stats) => Number(/calls=(\d+)/.exec(stats.cmdstat_get ?? "")?.[1] ?? 0))

const resetStats = (nodes: ReadonlyArray<RedisServer.RedisServerHandle>) =>
  Effect.forEach(nodes, (n) => n.cli("CONFIG", "RESETSTAT"), { discard: true })

// A proxy in front of each data node, and the `addressRemap` table to it.
const proxiesFor = (group: RedisSentinel.RedisSentinelHandle) =>
  Effect.gen(function*() {
    const proxies = new Map<number, FaultProxy.FaultProxyHandle>()
    for (const n of group.nodes) proxies.set(n.port, yield* FaultProxy.make({ target: { host: "127.0.0.1", port: n.port } }))
    const table: Record<string, string> = {}
    for (const [port, p] of proxies) table[`127.0.0.1:${port}`] = `127.0.0.1:${p.port}`
    return { proxies, table }
  })

// Until `check` holds (polled every 50 ms), at most `millis`.
const eventually = (check: Effect.Effect<boolean, unknown>, millis: number, what: string) =>
  Effect.gen(function*() {
    const deadline = Date.now() + millis
    while (!(yield* check)) {
      if (Date.now() > deadline) return assert.fail(`not within ${millis} ms: ${what}`)
      yield* Effect.sleep("50 millis")
    }
  })

describe("parity: sentinel", () => {
  it.layer(RedisSentinel.layer(), { excludeTestServices: true })("a shared group (1 primary, 2 replicas, 3 sentinels)", (it) => {
    it.effect("addressRemap: the primary the sentinels report is dialled through its NAT address", () =>
      Effect.gen(function*() {
        const group = yield* RedisSentinel.RedisSentinel
        const primary = yield* group.currentPrimary
        const { proxies, table } = yield* proxiesFor(group)
        const proxy = proxies.get(primary.port)!
        const { redis, sentinel } = yield* servicesOf(NodeSentinel.layerMaster(optionsFor(group, { addressRemap: table })))
        yield* redis.set("nat:key", "v")
        assert.deepStrictEqual(yield* redis.get("nat:key"), Option.some("v"))
        assert.isAbove(yield* proxy.accepted, 0, "the client dialled the proxy")
        assert.deepStrictEqual((yield* sentinel.state).master, RedisConfig.tcp("127.0.0.1", proxy.port))
        assert.deepStrictEqual(yield* sentinel.discoverMaster(), RedisConfig.tcp("127.0.0.1", proxy.port))
        const replicas = yield* sentinel.discoverReplicas()
        assert.sameMembers(replicas.map((r) => (r as { readonly port: number }).port), (yield* group.currentReplicas).map((r) => proxies.get(r.port)!.port))
        // A function works as well (redis-py's force_master_ip keeps the port; here it moves it).
        const viaFunction = yield* Sentinel.make(optionsFor(group, {
          addressRemap: (a) => a.port === primary.port ? { host: "127.0.0.1", port: proxy.port } : a
        })).pipe(Effect.provide(NodeTransport.layer))
        assert.deepStrictEqual(yield* viaFunction.discoverMaster(), RedisConfig.tcp("127.0.0.1", proxy.port))
      }).pipe(Effect.scoped))

    it.effect("binary subscriptions through the primary deliver payloads that are not UTF-8; redis.protocol is 3", () =>
      Effect.gen(function*() {
        const group = yield* RedisSentinel.RedisSentinel
        const { redis } = yield* servicesOf(NodeSentinel.layerMaster(optionsFor(group)))
        assert.strictEqual(yield* redis.protocol, 3)
        const payload = new Uint8Array([0xff, 0x00, 0xfe, 0x80])
        const fiber = yield* Stream.take(redis.subscribeBytes("bin:sentinel"), 1).pipe(Stream.runCollect, Effect.forkChild)
        yield* Effect.repeat(redis.publish("bin:sentinel", payload), { until: (n) => n >= 1, schedule: Schedule.spaced("20 millis") })
        const [message] = yield* Fiber.join(fiber)
        assert.deepStrictEqual([...message.payload], [...payload])
      }).pipe(Effect.scoped))

    it.effect("Sentinel.execute on one sentinel and executeAll on every one, with the typed SENTINEL commands", () =>
      Effect.gen(function*() {
        const group = yield* RedisSentinel.RedisSentinel
        const name = group.masterName
        const primary = yield* group.currentPrimary
        const sentinel = yield* Sentinel.make(optionsFor(group)).pipe(Effect.provide(NodeTransport.layer))
        const masters = yield* sentinel.execute(S.sentinelMasters())
        assert.include(masters.map((m) => m.name), name)
        const master = yield* sentinel.execute(S.sentinelMaster(name))
        assert.strictEqual(master.port, primary.port)
        assert.strictEqual(master.numReplicas, 2)
        assert.strictEqual(master.numOtherSentinels, 2)
        assert.isFalse(master.down)
        assert.strictEqual((yield* sentinel.execute(S.sentinelReplicas(name))).length, 2)
        assert.strictEqual((yield* sentinel.execute(S.sentinelSentinels(name))).length, 2)
        assert.deepStrictEqual(
          yield* sentinel.execute(S.sentinelGetMasterAddrByName(name)),
          Option.some({ host: "127.0.0.1", port: primary.port })
        )
        assert.deepStrictEqual(yield* sentinel.execute(S.sentinelGetMasterAddrByName("nosuch")), Option.none())
        assert.match(yield* sentinel.execute(S.sentinelCkquorum(name)), /^OK/)
        // A refusal is an answer: the error, not the next sentinel.
        const refused = yield* Effect.flip(sentinel.execute(S.sentinelMaster("nosuch")))
        assert.strictEqual(refused.reason._tag, "ReplyError")
        // executeAll: one result per sentinel.
        const set = yield* sentinel.executeAll(S.sentinelSet(name, { "down-after-milliseconds": 1500 }))
        assert.strictEqual(set.size, 3)
        for (const exit of set.values()) assert.isTrue(Exit.isSuccess(exit))
        for (const exit of (yield* sentinel.executeAll(S.sentinelMaster(name))).values()) {
          assert.strictEqual(Exit.isSuccess(exit) ? exit.value.downAfterMillis : -1, 1500)
        }
        yield* sentinel.executeAll(S.sentinelSet(name, { "down-after-milliseconds": 1000 }))
        for (const exit of (yield* sentinel.executeAll(S.sentinelFlushconfig())).values()) assert.isTrue(Exit.isSuccess(exit))
        // MONITOR, RESET, REMOVE of a second service (the primary under another name).
        const monitored = yield* sentinel.executeAll(S.sentinelMonitor("parity-extra", "127.0.0.1", primary.port, 2))
        for (const exit of monitored.values()) assert.isTrue(Exit.isSuccess(exit))
        for (const exit of (yield* sentinel.executeAll(S.sentinelMasters())).values()) {
          assert.include(Exit.isSuccess(exit) ? exit.value.map((m) => m.name) : [], "parity-extra")
        }
        for (const exit of (yield* sentinel.executeAll(S.sentinelReset("parity-extra"))).values()) {
          assert.deepStrictEqual(exit, Exit.succeed(1))
        }
        for (const exit of (yield* sentinel.executeAll(S.sentinelRemove("parity-extra"))).values()) {
          assert.isTrue(Exit.isSuccess(exit))
        }
        assert.notInclude((yield* sentinel.execute(S.sentinelMasters())).map((m) => m.name), "parity-extra")
        // A dead sentinel first in line: execute moves on, executeAll reports it.
        const withDead = yield* Sentinel.make({ ...optionsFor(group), sentinels: ["127.0.0.1:1", ...group.sentinelAddresses] })
          .pipe(Effect.provide(NodeTransport.layer))
        assert.strictEqual((yield* withDead.execute(S.sentinelMaster(name))).port, primary.port)
        const everywhere = yield* withDead.executeAll(S.sentinelMaster(name))
        assert.isTrue(Exit.isFailure(everywhere.get("127.0.0.1:1")!))
      }).pipe(Effect.scoped))

    it.effect("replica selection: random spreads, a function picks, lowestLatency avoids a slow replica", () =>
      Effect.gen(function*() {
        const group = yield* RedisSentinel.RedisSentinel
        const master = (yield* servicesOf(NodeSentinel.layerMaster(optionsFor(group)))).redis
        yield* master.set("sel:key", "v")
        yield* Effect.ignore(master.wait(2, 2000))
        const replicas = [...(yield* group.currentReplicas)].sort((a, b) => a.port - b.port)
        // random: both replicas serve.
        const random = (yield* servicesOf(NodeSentinel.layerReplica(optionsFor(group, { replicaSelection: "random" })))).redis
        yield* resetStats(replicas)
        for (let i = 0; i < 40; i++) assert.deepStrictEqual(yield* random.get("sel:key"), Option.some("v"))
        const spread = yield* Effect.forEach(replicas, getCalls)
        console.log(`[parity replicas] random: ${spread.join(" / ")} GETs`)
        assert.isTrue(spread.every((n) => n > 0))
        // a function: always the replica with the highest port.
        const last = replicas[replicas.length - 1]
        const chosen = (yield* servicesOf(NodeSentinel.layerReplica(optionsFor(group, {
          replicaSelection: (rs) => [...rs].sort((a, b) => b.port - a.port)[0]
        })))).redis
        yield* resetStats(replicas)
        for (let i = 0; i < 20; i++) yield* chosen.get("sel:key")
        assert.strictEqual(yield* getCalls(last), 20)
        // lowestLatency: the first replica is reached through a proxy adding 40 ms.
        const slow = yield* FaultProxy.make({ target: { host: "127.0.0.1", port: replicas[0].port } })
        yield* slow.setDelay(40)
        const nearest = (yield* servicesOf(NodeSentinel.layerReplica(optionsFor(group, {
          replicaSelection: "lowestLatency",
          addressRemap: { [`127.0.0.1:${replicas[0].port}`]: `127.0.0.1:${slow.port}` }
        })))).redis
        yield* resetStats(replicas)
        for (let i = 0; i < 20; i++) yield* nearest.get("sel:key")
        const served = yield* Effect.forEach(replicas, getCalls)
        console.log(`[parity replicas] lowestLatency with ${replicas[0].port} 40 ms away: ${served.join(" / ")} GETs`)
        assert.deepStrictEqual(served, [0, 20])
      }).pipe(Effect.scoped))

    it.effect("replicas in use are asked ROLE again on a schedule: one that stops answering leaves, and comes back", () =>
      Effect.gen(function*() {
        const group = yield* RedisSentinel.RedisSentinel
        const replicas = [...(yield* group.currentReplicas)].sort((a, b) => a.port - b.port)
        // The client reaches the first replica through a proxy the test can freeze;
        // the sentinels reach it directly and keep listing it as healthy.
        const proxy = yield* FaultProxy.make({ target: { host: "127.0.0.1", port: replicas[0].port } })
        const { redis } = yield* servicesOf(NodeSentinel.layerReplica(optionsFor(group, {
          replicaCheckInterval: "300 millis",
          addressRemap: { [`127.0.0.1:${replicas[0].port}`]: `127.0.0.1:${proxy.port}` }
        })))
        const events: Array<TopologyEvent.TopologyEvent> = []
        yield* Effect.forkScoped(Stream.runForEach(redis.events, (e) => Effect.sync(() => events.push(e))))
        const proxied = `127.0.0.1:${proxy.port}`
        yield* proxy.freeze
        const frozenAt = Date.now()
        // The refresh that removed it, and the RefreshDone that closes it.
        const removal = () => {
          const i = events.findIndex((e) => e._tag === "NodeRemoved" && e.node === proxied)
          return i < 0 ? undefined : events.slice(i).find((e) => e._tag === "RefreshDone")
        }
        yield* eventually(Effect.sync(() => removal() !== undefined), 5000, "the frozen replica left the set")
        const removedAfter = Date.now() - frozenAt
        const done = removal()
        assert.deepStrictEqual(done, { _tag: "RefreshDone", trigger: "role-check", changed: true })
        yield* resetStats(replicas)
        for (let n = 0; n < 10; n++) yield* redis.get("sel:key")
        assert.deepStrictEqual(yield* Effect.forEach(replicas, getCalls), [0, 10])
        yield* proxy.unfreeze
        yield* eventually(
          Effect.sync(() => events.some((e) => e._tag === "NodeAdded" && e.node === proxied)),
          5000,
          "the replica came back"
        )
        console.log(`[parity replicas] ROLE re-check every 300 ms: removed ${removedAfter} ms after the freeze`)
      }).pipe(Effect.scoped))

    it.effect("SENTINEL FAILOVER through execute; a client behind NAT follows the switch to the new primary's NAT address", () =>
      Effect.gen(function*() {
        const group = yield* RedisSentinel.RedisSentinel
        const from = yield* group.currentPrimary
        const { proxies, table } = yield* proxiesFor(group)
        const { redis, sentinel } = yield* servicesOf(NodeSentinel.layerMaster(optionsFor(group, { addressRemap: table })))
        yield* redis.set("nat:before", "1")
        yield* group.awaitReplicasInSync
        yield* sentinel.execute(S.sentinelFailover(group.masterName))
        const to = yield* group.awaitSwitch(from)
        const expected = `127.0.0.1:${proxies.get(to.port)!.port}`
        yield* eventually(
          Effect.map(sentinel.state, (s) => s.switches.at(-1)?.to === expected),
          15_000,
          `the client switched to ${expected}`
        )
        yield* redis.set("nat:after", "2")
        assert.strictEqual(yield* to.cli("GET", "nat:after"), "2")
        assert.isAbove(yield* proxies.get(to.port)!.accepted, 0)
        const sw = (yield* sentinel.state).switches.at(-1)!
        console.log(`[parity failover] ${sw.from} -> ${sw.to} on ${sw.evidence}, verified ${Math.round(sw.switchedAt - sw.evidenceAt)} ms later`)
      }).pipe(Effect.scoped))
  })

  describe("bad options fail the layer build with InvalidArgument naming the option", () => {
    const base: Sentinel.Options = { sentinels: ["127.0.0.1:1"], masterName: "m" }
    const BAD: ReadonlyArray<readonly [Partial<Sentinel.Options>, string]> = [
      [{ replicaSelection: "nearest" as never }, "replicaSelection"],
      [{ replicaCheckInterval: 0 }, "replicaCheckInterval"],
      [{ addressRemap: { "10.0.0.1:6379": "nowhere" } }, "addressRemap"]
    ]
    it.live("each one, on every layer, before anything is dialled", () =>
      Effect.gen(function*() {
        for (const [bad, name] of BAD) {
          for (const layer of [NodeSentinel.layerMaster, NodeSentinel.layerReplica, NodeSentinel.layer]) {
            const exit = yield* Effect.exit(Layer.build(layer({ ...base, ...bad })).pipe(Effect.scoped))
            const error = RedisError.failureOf(exit as Exit.Exit<unknown, RedisError.RedisError>)
            assert.strictEqual(error?.reason._tag, "InvalidArgument", name)
            assert.include(error!.message, name)
          }
        }
      }))
  })
})
