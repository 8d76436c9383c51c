/**
 * redis-py parity of the cluster client (`RedisCluster`, `ClusterNode`)
 * against real Redis Clusters: `readonly`/`readwrite` switched at run time
 * from any starting policy, on connections that exist and on new ones;
 * `getNode` and `nodeFor(key, { replica: true })`; the `random` target over
 * every node; the default node chosen at start; keyless fan-out combined by
 * the server's COMMAND tips (DBSIZE summed, SCRIPT EXISTS and-ed); cross-slot
 * DEL/EXISTS/UNLINK/TOUCH/MSET split inside pipelines; bad options refused
 * at layer build; then, on a cluster of its own, target-node commands that
 * re-resolve their nodes when a primary dies under them.
 *
 * Timings are printed, not asserted.
 */
import { assert, describe, it } from "@effect/vitest"
import { NodeTransport } from "@redis-effect/node"
import * as NodeCluster from "@redis-effect/node/NodeCluster"
import * as Cluster from "@redis-effect/redis/Cluster"
import * as Commands from "@redis-effect/redis/Commands"
import * as RedisError from "@redis-effect/redis/RedisError"
import type * as TopologyEvent from "@redis-effect/redis/TopologyEvent"
import { RedisCluster } from "@redis-effect/testing"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as Schedule from "effect/Schedule"
import * as Stream from "effect/Stream"

const clientOf = (cluster: RedisCluster.RedisClusterHandle, options?: Partial<Cluster.Options>) =>
  Cluster.make({ nodes: [`127.0.0.1:${cluster.startupNodes[0].port}`], ...options }).pipe(
    Effect.provide(NodeTransport.layer)
  )

const commandCalls = (info: Record<string, string>, command: string): number => {
  const line = info[`cmdstat_${command}`]
  const m = line === undefined ? null : /calls=(\d+)/.exec(line)
  return m === null ? 0 : Number(m[1])
}

// Calls of `command` served by the given nodes since their last CONFIG RESETSTAT.
const callsOn = (nodes: ReadonlyArray<RedisCluster.ClusterNode>, command = "get") =>
  Effect.map(
    Effect.forEach(nodes, (n) => Effect.map(n.info("commandstats"), (i) => commandCalls(i, command))),
    (counts) => counts.reduce((a, b) => a + b, 0)
  )

const resetStats = (nodes: ReadonlyArray<RedisCluster.ClusterNode>) =>
  Effect.forEach(nodes, (n) => n.cli("CONFIG", "RESETSTAT"), { discard: true })

// Until the replicas have every write the key's primary acknowledged (WAIT).
const awaitReplicated = (cluster: RedisCluster.RedisClusterHandle, key: string) =>
  Effect.gen(function*() {
    const owner = yield* cluster.slotOwner(yield* cluster.keyslot(key))
    const replicas = (yield* cluster.replicasOf(owner)).length
    yield* owner.cli("WAIT", String(replicas), "2000")
  })

const failureOf = (exit: Exit.Exit<unknown, unknown>): RedisError.RedisError => {
  assert.isTrue(Exit.isFailure(exit), "expected a failure")
  const found = RedisError.failureOf(exit as Exit.Exit<unknown, RedisError.RedisError>)
  assert.isDefined(found)
  return found!
}

describe("parity: cluster", () => {
  it.layer(RedisCluster.layer(), { excludeTestServices: true })("a shared 3x1 cluster", (it) => {
    it.effect("readonly on a client built with readFrom primary sends reads to replicas, on old and new connections", () =>
      Effect.gen(function*() {
        const cluster = yield* RedisCluster.RedisCluster
        const { cluster: c, redis } = yield* clientOf(cluster)
        yield* redis.set("ro:key", "v")
        yield* awaitReplicated(cluster, "ro:key")
        // Connections to every node exist before the switch (read-write ones).
        yield* c.onAll("all", Commands.ping())
        const replicas = yield* cluster.replicas
        const primaries = yield* cluster.primaries
        yield* c.readonly
        yield* resetStats([...replicas, ...primaries])
        for (let i = 0; i < 30; i++) assert.deepStrictEqual(yield* redis.get("ro:key"), Option.some("v"))
        const onReplicas = yield* callsOn(replicas)
        const onPrimaries = yield* callsOn(primaries)
        console.log(`[parity readonly] after readonly: ${onReplicas} GETs on replicas, ${onPrimaries} on primaries`)
        assert.strictEqual(onReplicas, 30)
        assert.strictEqual(onPrimaries, 0)
        // New connections: the replicas drop every client; the reconnects are read-only too.
        yield* Effect.forEach(replicas, (r) => r.cli("CLIENT", "KILL", "TYPE", "normal"), { discard: true })
        yield* resetStats(replicas)
        for (let i = 0; i < 30; i++) assert.deepStrictEqual(yield* redis.get("ro:key"), Option.some("v"))
        assert.strictEqual(yield* callsOn(replicas), 30)
        // readwrite: back to primaries, READWRITE on the replica connections.
        yield* c.readwrite
        yield* resetStats([...replicas, ...primaries])
        for (let i = 0; i < 20; i++) yield* redis.get("ro:key")
        assert.strictEqual(yield* callsOn(replicas), 0)
        assert.strictEqual(yield* callsOn(primaries), 20)
        const owner = yield* cluster.slotOwner(yield* cluster.keyslot("ro:key"))
        const [itsReplica] = yield* cluster.replicasOf(owner)
        // The replica's connection itself is read-write again: it redirects.
        const moved = failureOf(yield* Effect.exit(c.node(itsReplica).get("ro:key")))
        assert.strictEqual(moved.reason._tag, "Moved")
        // And once more read-only: the switch works both ways, any number of times.
        yield* c.readonly
        yield* resetStats(replicas)
        for (let i = 0; i < 20; i++) yield* redis.get("ro:key")
        assert.strictEqual(yield* callsOn(replicas), 20)
        assert.deepStrictEqual(yield* c.node(itsReplica).get("ro:key"), Option.some("v"))
      }).pipe(Effect.scoped))

    it.effect("readwrite then readonly on a client built with readFrom replica", () =>
      Effect.gen(function*() {
        const cluster = yield* RedisCluster.RedisCluster
        const { cluster: c, redis } = yield* clientOf(cluster, { readFrom: "replica" })
        yield* redis.set("ro:other", "w")
        yield* awaitReplicated(cluster, "ro:other")
        const replicas = yield* cluster.replicas
        const owner = yield* cluster.slotOwner(yield* cluster.keyslot("ro:other"))
        const [itsReplica] = yield* cluster.replicasOf(owner)
        assert.deepStrictEqual(yield* c.node(itsReplica).get("ro:other"), Option.some("w"))
        yield* c.readwrite
        yield* resetStats(replicas)
        for (let i = 0; i < 10; i++) yield* redis.get("ro:other")
        assert.strictEqual(yield* callsOn(replicas), 0)
        assert.strictEqual(failureOf(yield* Effect.exit(c.node(itsReplica).get("ro:other"))).reason._tag, "Moved")
        yield* c.readonly
        yield* resetStats(replicas)
        for (let i = 0; i < 10; i++) yield* redis.get("ro:other")
        assert.strictEqual(yield* callsOn(replicas), 10)
      }).pipe(Effect.scoped))

    it.effect("getNode by host and port, name, address or id, none when absent (no connection); nodeFor replica under readFrom primary", () =>
      Effect.gen(function*() {
        const cluster = yield* RedisCluster.RedisCluster
        const { cluster: c, redis } = yield* clientOf(cluster)
        const events: Array<TopologyEvent.TopologyEvent> = []
        yield* Effect.forkScoped(Stream.runForEach(redis.events, (e) => Effect.sync(() => events.push(e))))
        const [replica] = yield* cluster.replicas
        const byHostPort = yield* c.getNode("127.0.0.1", replica.port)
        assert.isTrue(Option.isSome(byHostPort))
        const info = Option.getOrThrow(byHostPort)
        assert.strictEqual(info.role, "replica")
        assert.strictEqual(info.id, replica.id)
        assert.deepStrictEqual(yield* c.getNode(`127.0.0.1:${replica.port}`), byHostPort)
        assert.deepStrictEqual(yield* c.getNode({ host: "127.0.0.1", port: replica.port }), byHostPort)
        assert.deepStrictEqual(yield* c.getNode(replica.id), byHostPort)
        assert.isTrue(Option.isNone(yield* c.getNode("127.0.0.1", 1)))
        assert.isTrue(Option.isNone(yield* c.getNode("127.0.0.1:1")))
        assert.isTrue(Option.isNone(yield* c.getNode("no-such-id")))
        yield* Effect.sleep("100 millis")
        assert.isFalse(JSON.stringify(events).includes("127.0.0.1:1\""), "no connection to an unknown address")
        // nodeFor: the primary by default; a replica of it with replica: true, whatever the policy.
        for (const key of ["alpha", "beta", "gamma"]) {
          const owner = yield* cluster.slotOwner(yield* cluster.keyslot(key))
          assert.strictEqual((yield* c.nodeFor(key)).port, owner.port)
          const r = yield* c.nodeFor(key, { replica: true })
          assert.strictEqual(r.role, "replica")
          assert.include((yield* cluster.replicasOf(owner)).map((n) => n.port), r.port)
        }
      }).pipe(Effect.scoped))

    it.effect("random targets any node, replicas included; a default primary is chosen at start and takes keyless commands", () =>
      Effect.gen(function*() {
        const cluster = yield* RedisCluster.RedisCluster
        const { cluster: c, redis } = yield* clientOf(cluster)
        const replicaPorts = new Set((yield* cluster.replicas).map((r) => r.port))
        const seen = new Set<string>()
        for (let i = 0; i < 60; i++) for (const key of (yield* c.onNodes("random", Commands.ping())).keys()) seen.add(key)
        const ports = [...seen].map((k) => Number(k.split(":")[1]))
        assert.isTrue(ports.some((p) => replicaPorts.has(p)), `random reached a replica: ${ports}`)
        assert.isTrue(ports.some((p) => !replicaPorts.has(p)), `random reached a primary: ${ports}`)
        const chosen = yield* c.defaultNode
        assert.isTrue(Option.isSome(chosen), "a default node from the start")
        const d = Option.getOrThrow(chosen)
        assert.strictEqual(d.role, "primary")
        const target = cluster.nodes.find((n) => n.port === d.port)!
        yield* resetStats(cluster.nodes)
        for (let i = 0; i < 10; i++) yield* redis.echo("to the default node")
        assert.strictEqual(yield* callsOn([target], "echo"), 10)
        assert.strictEqual(yield* callsOn(cluster.nodes, "echo"), 10)
      }).pipe(Effect.scoped))

    it.effect("keyless fan-out by the server's COMMAND tips: DBSIZE summed, SCRIPT EXISTS and-ed over the primaries", () =>
      Effect.gen(function*() {
        const cluster = yield* RedisCluster.RedisCluster
        const { cluster: c, redis } = yield* clientOf(cluster)
        yield* redis.flushall()
        yield* c.msetNonAtomic(Array.from({ length: 30 }, (_, i) => [`tips:${i}`, "x"] as const))
        let expected = 0
        for (const p of yield* cluster.primaries) expected += Number(yield* p.cli("DBSIZE"))
        assert.strictEqual(expected, 30)
        assert.strictEqual(yield* redis.dbsize(), 30)
        // The static table would answer SCRIPT EXISTS from one node; the
        // server's tip (agg_logical_and) asks every primary.
        yield* redis.scriptFlush()
        const [first] = yield* c.primaries
        const sha = yield* c.node(first).scriptLoad("return 'tips'")
        const unknown = "0".repeat(40)
        for (let i = 0; i < 5; i++) assert.deepStrictEqual(yield* redis.scriptExists([sha, unknown]), [false, false])
        assert.strictEqual(yield* redis.scriptLoad("return 'tips'"), sha)
        assert.deepStrictEqual(yield* redis.scriptExists([sha, unknown]), [true, false])
        for (const p of yield* cluster.primaries) assert.strictEqual(yield* p.cli("SCRIPT", "EXISTS", sha), "1")
      }).pipe(Effect.scoped))

    it.effect("binary subscriptions (classic and sharded) deliver payloads that are not UTF-8; redis.protocol is 3", () =>
      Effect.gen(function*() {
        const cluster = yield* RedisCluster.RedisCluster
        const { redis } = yield* clientOf(cluster)
        assert.strictEqual(yield* redis.protocol, 3)
        const payload = new Uint8Array([0xff, 0x00, 0xfe, 0x80])
        const classic = yield* Stream.take(redis.subscribeBytes("bin:{c}"), 1).pipe(Stream.runCollect, Effect.forkChild)
        const sharded = yield* Stream.take(redis.ssubscribeBytes("bin:{s}"), 1).pipe(Stream.runCollect, Effect.forkChild)
        // Publish until each subscription has heard one message. A classic
        // PUBLISH goes to the default node and reaches the subscriber through
        // the cluster bus, so its reply (receivers on that node) may stay 0:
        // wait for the subscriber instead.
        const publisher = yield* Effect.forkChild(Effect.forever(Effect.andThen(
          Effect.all([redis.publish("bin:{c}", payload), redis.execute(Commands.spublish("bin:{s}", payload))]),
          Effect.sleep("20 millis")
        )))
        const [a] = yield* Fiber.join(classic)
        const [b] = yield* Fiber.join(sharded)
        yield* Fiber.interrupt(publisher)
        assert.deepStrictEqual([...a.payload], [...payload])
        assert.deepStrictEqual([...b.payload], [...payload])
        assert.strictEqual(new TextDecoder().decode(b.channel), "bin:{s}")
      }).pipe(Effect.scoped))

    it.effect("cross-slot DEL, EXISTS, UNLINK, TOUCH and MSET inside a pipeline are split by slot and their replies recombined", () =>
      Effect.gen(function*() {
        const cluster = yield* RedisCluster.RedisCluster
        const { redis } = yield* clientOf(cluster)
        const keys = Array.from({ length: 20 }, (_, i) => `split:${i}`)
        assert.isAbove(new Set(yield* Effect.forEach(keys, (k) => cluster.keyslot(k))).size, 3)
        const [set, exists, touched, get, del, existsAfter, unlinked] = yield* redis.pipeline([
          Commands.mset(keys.map((k, i) => [k, String(i)] as const)),
          Commands.exists([...keys, "split:missing"]),
          Commands.touch(keys.slice(0, 5)),
          Commands.get("split:7"),
          Commands.del(keys.slice(0, 10)),
          Commands.exists(keys),
          Commands.unlink(keys)
        ])
        assert.isUndefined(set)
        assert.strictEqual(exists, 20)
        assert.strictEqual(touched, 5)
        assert.deepStrictEqual(get, Option.some("7"))
        assert.strictEqual(del, 10)
        assert.strictEqual(existsAfter, 10)
        assert.strictEqual(unlinked, 10)
        for (const k of keys) {
          const owner = yield* cluster.slotOwner(yield* cluster.keyslot(k))
          assert.strictEqual(yield* owner.cli("EXISTS", k), "0")
        }
        // Outside a pipeline, and for MGET, keys of several slots are still refused before sending.
        assert.strictEqual(failureOf(yield* Effect.exit(redis.del(keys))).reason._tag, "CrossSlot")
        const [mget] = yield* redis.pipelineExits([Commands.mget(keys)])
        assert.strictEqual(failureOf(mget).reason._tag, "CrossSlot")
      }).pipe(Effect.scoped))
  })

  describe("bad options fail the layer build with InvalidArgument naming the option", () => {
    const BAD: ReadonlyArray<readonly [Partial<Cluster.Options>, string]> = [
      [{ readFrom: "replicas" as never }, "readFrom"],
      [{ maxRedirects: -1 }, "maxRedirects"],
      [{ reinitializeSteps: 0 }, "reinitializeSteps"],
      [{ addressRemap: { "10.0.0.1:7000": "nowhere" } }, "addressRemap"]
    ]
    it.live("each one, before anything is dialled", () =>
      Effect.gen(function*() {
        for (const [options, name] of BAD) {
          const exit = yield* Effect.exit(Layer.build(NodeCluster.layer({ nodes: ["127.0.0.1:1"], ...options })).pipe(Effect.scoped))
          const error = failureOf(exit)
          assert.strictEqual(error.reason._tag, "InvalidArgument", name)
          assert.include(error.message, name)
        }
      }))
  })

  describe("target-node commands on a cluster of their own", () => {
    it.live("keyless commands and fan-outs re-resolve their nodes when a primary dies under them", () =>
      Effect.gen(function*() {
        const cluster = yield* RedisCluster.make({ nodeTimeoutMillis: 1000 })
        const { cluster: c, redis } = yield* clientOf(cluster, {
          retry: Schedule.spaced("100 millis").pipe(Schedule.upTo({ times: 80 }), Schedule.setInputType<RedisError.RedisError>())
        })
        assert.strictEqual((yield* c.onAll("primaries", Commands.dbsize())).length, 3)
        // The default node dies: keyless commands move to another primary at once.
        const d = Option.getOrThrow(yield* c.defaultNode)
        const victim = cluster.nodes.find((n) => n.port === d.port)!
        const killed = yield* Effect.forkChild(cluster.killPrimary(victim))
        yield* Effect.sleep("100 millis")
        const started = Date.now()
        assert.strictEqual(yield* redis.echo("still here"), "still here")
        const echoMillis = Date.now() - started
        const now = Option.getOrThrow(yield* c.defaultNode)
        assert.notStrictEqual(now.port, d.port)
        assert.strictEqual(now.role, "primary")
        const promoted = yield* Fiber.join(killed)
        // Another primary dies under a fan-out: its shard's new primary answers instead.
        const [other] = (yield* cluster.primaries).filter((p) => p.port !== promoted.port)
        const killedToo = yield* Effect.forkChild(cluster.killPrimary(other))
        yield* Effect.sleep("100 millis")
        const fanStarted = Date.now()
        const results = yield* c.onNodes("primaries", Commands.dbsize())
        const fanMillis = Date.now() - fanStarted
        const promotedToo = yield* Fiber.join(killedToo)
        console.log(
          `[parity re-resolve] ECHO after the default node died: ${echoMillis} ms; DBSIZE on the primaries across a failover: ${fanMillis} ms`
        )
        assert.strictEqual(results.size, 3)
        for (const exit of results.values()) assert.isTrue(Exit.isSuccess(exit))
        assert.isTrue(results.has(`127.0.0.1:${promotedToo.port}`), "the promoted replica answered")
        assert.isFalse(results.has(`127.0.0.1:${other.port}`), "the dead primary is not a result")
        assert.isNumber(yield* redis.dbsize())
      }).pipe(Effect.scoped), 120_000)
  })
})
