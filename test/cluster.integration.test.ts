/**
 * The cluster client against a real 3x1 Redis Cluster (docs/GUARANTEES.md, 4):
 * routing, redirects, replicas, fan-out, non-atomic multi-key, pipelines,
 * transactions, SCAN and pub/sub on one shared cluster; then live
 * resharding, CLUSTER FAILOVER and a killed primary under load, each on a
 * cluster of its own. Fault tests assert invariants (no error reaches a
 * caller while the cluster can serve, no acknowledged write lost, no
 * duplicate) and print what they measure.
 */
import { assert, describe, it } from "@effect/vitest"
import { NodeTransport } from "@redis-effect/node"
import * as Cluster from "@redis-effect/redis/Cluster"
import * as ClusterSlot from "@redis-effect/redis/ClusterSlot"
import * as Commands from "@redis-effect/redis/Commands"
import * as Redis from "@redis-effect/redis/Redis"
import * as RedisError from "@redis-effect/redis/RedisError"
import { RedisCluster } from "@redis-effect/testing"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"
import * as Latch from "effect/Latch"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
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

// A load of unique appends and reads spread over all slots, recording what
// was acknowledged and every error a caller saw.
const workload = (redis: Redis.RedisShape, workers: number) => {
  const acked = new Set<string>()
  const errors: Record<string, number> = {}
  let stop = false
  let lastError = 0
  const run = Effect.all(
    Array.from({ length: workers }, (_, w) =>
      Effect.gen(function*() {
        for (let seq = 0; !stop; seq++) {
          const key = `log:{${(w * 7919 + seq) % 512}}`
          const value = `${w}:${seq}`
          const exit = yield* Effect.exit(redis.rpush(key, [value]))
          if (Exit.isSuccess(exit)) acked.add(`${key}|${value}`)
          else {
            const e = RedisError.failureOf(exit)!
            const k = `${e.reason._tag}/${e.outcome}`
            errors[k] = (errors[k] ?? 0) + 1
            lastError = Date.now()
            yield* Effect.sleep("10 millis")
          }
          if (seq % 4 === 0) yield* Effect.exit(redis.get(`canary:{${seq % 512}}`))
        }
      })
    ),
    { concurrency: "unbounded", discard: true }
  )
  return {
    acked,
    errors,
    lastError: () => lastError,
    start: Effect.forkChild(run),
    stop: () => {
      stop = true
    }
  }
}

// A fresh 3x1 cluster, a client, and `workers` writers running for 300 ms.
const clusterUnderLoad = (workers: number) =>
  Effect.gen(function*() {
    const cluster = yield* RedisCluster.make()
    const { redis } = yield* clientOf(cluster)
    const load = workload(redis, workers)
    const fiber = yield* load.start
    yield* Effect.sleep("300 millis")
    return { cluster, redis, load, fiber }
  })

const verify = (redis: Redis.RedisShape, acked: ReadonlySet<string>) =>
  Effect.gen(function*() {
    const keys = new Set([...acked].map((a) => a.split("|")[0]))
    const stored = new Map<string, number>()
    for (const key of keys) {
      const items = yield* redis.lrange(key, 0, -1)
      for (const item of items) stored.set(`${key}|${item}`, (stored.get(`${key}|${item}`) ?? 0) + 1)
    }
    const lost = [...acked].filter((a) => !stored.has(a)).length
    const duplicates = [...stored.values()].filter((n) => n > 1).length
    return { lost, duplicates, stored: stored.size }
  })

describe("a shared 3x1 cluster", () => {
  it.layer(RedisCluster.layer(), { excludeTestServices: true })("routing and services", (it) => {
    it.effect("connects from one startup node and sees 3 primaries and 3 replicas", () =>
      Effect.gen(function*() {
        const cluster = yield* RedisCluster.RedisCluster
        const { cluster: c } = yield* clientOf(cluster)
        assert.strictEqual((yield* c.primaries).length, 3)
        assert.strictEqual((yield* c.replicas).length, 3)
        const snapshot = yield* c.topology
        assert.strictEqual(snapshot.table.owner.filter((o) => o < 0).length, 0)
      }).pipe(Effect.scoped))

    it.effect("an unreachable startup node is skipped; none reachable names every node tried", () =>
      Effect.gen(function*() {
        const cluster = yield* RedisCluster.RedisCluster
        const { cluster: c } = yield* Cluster.make({ nodes: ["127.0.0.1:1", `127.0.0.1:${cluster.startupNodes[1].port}`] })
          .pipe(Effect.provide(NodeTransport.layer))
        assert.strictEqual((yield* c.primaries).length, 3)
        const error = yield* Effect.flip(
          Cluster.make({ nodes: ["127.0.0.1:1", "127.0.0.1:2"], connectTimeout: "500 millis" }).pipe(Effect.provide(NodeTransport.layer))
        )
        assert.strictEqual(error.reason._tag, "ConnectionError")
        assert.include(error.message, "127.0.0.1:1")
        assert.include(error.message, "127.0.0.1:2")
      }).pipe(Effect.scoped))

    it.effect("10k keys written through the client land on the node that owns their slot", () =>
      Effect.gen(function*() {
        const cluster = yield* RedisCluster.RedisCluster
        const { redis, cluster: c } = yield* clientOf(cluster)
        yield* Effect.forEach(Array.from({ length: 10_000 }, (_, i) => i), (i) => redis.set(`route:${i}`, String(i)), {
          concurrency: 100,
          discard: true
        })
        for (const i of [0, 1, 17, 999, 4242, 9999]) {
          const key = `route:${i}`
          const owner = yield* cluster.slotOwner(yield* cluster.keyslot(key))
          assert.strictEqual(yield* owner.cli("GET", key), String(i))
          const node = yield* c.nodeFor(key)
          assert.strictEqual(node.port, owner.port)
          assert.strictEqual(c.keyslot(key), ClusterSlot.keyslot(key))
        }
        assert.deepStrictEqual(yield* redis.get("route:4242"), Option.some("4242"))
      }).pipe(Effect.scoped))

    it.effect("multi-key: same slot goes through, cross-slot fails before sending; non-atomic variants split by slot", () =>
      Effect.gen(function*() {
        const cluster = yield* RedisCluster.RedisCluster
        const { redis, cluster: c } = yield* clientOf(cluster)
        yield* redis.mset([["{u1}:a", "1"], ["{u1}:b", "2"]])
        assert.deepStrictEqual(yield* redis.mget(["{u1}:a", "{u1}:b"]), [Option.some("1"), Option.some("2")])
        const cross = yield* Effect.flip(redis.mget(["a", "b"]))
        assert.strictEqual(cross.reason._tag, "CrossSlot")
        assert.strictEqual(cross.outcome, "NotSent")
        const keys = Array.from({ length: 200 }, (_, i) => `nonatomic:${i}`)
        yield* c.msetNonAtomic(keys.map((k, i) => [k, String(i)] as const))
        const values = yield* c.mgetNonAtomic([...keys, "nonatomic:missing"])
        assert.deepStrictEqual(values.slice(0, 3), [Option.some("0"), Option.some("1"), Option.some("2")])
        assert.isTrue(Option.isNone(values[200]))
        assert.strictEqual(yield* c.existsNonAtomic(keys), 200)
        assert.strictEqual(yield* c.touchNonAtomic(keys.slice(0, 10)), 10)
        assert.strictEqual(yield* c.delNonAtomic(keys.slice(0, 100)), 100)
        assert.strictEqual(yield* c.unlinkNonAtomic(keys), 100)
      }).pipe(Effect.scoped))

    it.effect("raw commands without declared keys are routed by COMMAND key positions (and GETKEYS for movable keys)", () =>
      Effect.gen(function*() {
        const cluster = yield* RedisCluster.RedisCluster
        const { redis } = yield* clientOf(cluster)
        // MOVED would hide a wrong route: count them on the servers.
        yield* redis.execute(Commands.raw(["COMMAND", "COUNT"]))
        for (const p of yield* cluster.primaries) yield* p.cli("CONFIG", "RESETSTAT")
        for (let i = 0; i < 20; i++) {
          assert.strictEqual(yield* redis.execute(Commands.raw(["SET", `raw:${i}`, String(i)])), "OK")
        }
        for (let i = 0; i < 20; i++) {
          const owner = yield* cluster.slotOwner(yield* cluster.keyslot(`raw:${i}`))
          assert.strictEqual(yield* owner.cli("GET", `raw:${i}`), String(i))
        }
        const viaEval = yield* redis.execute(Commands.raw(["EVAL", "return redis.call('get', KEYS[1])", "1", "raw:7"]))
        assert.strictEqual(viaEval, "7")
        const cross = yield* Effect.flip(redis.execute(Commands.raw(["MGET", "raw:1", "raw:2"])))
        assert.strictEqual(cross.reason._tag, "CrossSlot")
        for (const p of yield* cluster.primaries) {
          const stats = yield* p.info("errorstats")
          assert.isUndefined(stats["errorstat_MOVED"], `MOVED on ${p.port}`)
        }
      }).pipe(Effect.scoped))

    it.effect("pipelines across slots are grouped per node and come back in order", () =>
      Effect.gen(function*() {
        const cluster = yield* RedisCluster.RedisCluster
        const { redis } = yield* clientOf(cluster)
        const commands = Array.from({ length: 300 }, (_, i) => Commands.set(`pipe:${i}`, String(i)))
        const acks = yield* redis.pipeline(commands)
        assert.isTrue(acks.every((a) => a === true))
        const values = yield* redis.pipeline(Array.from({ length: 300 }, (_, i) => Commands.get(`pipe:${i}`)))
        values.forEach((v, i) => assert.deepStrictEqual(v, Option.some(String(i))))
      }).pipe(Effect.scoped))

    it.effect("transactions and WATCH on one slot; a cross-slot transaction is refused", () =>
      Effect.gen(function*() {
        const cluster = yield* RedisCluster.RedisCluster
        const { redis } = yield* clientOf(cluster)
        const [n, v] = yield* redis.transaction([Commands.incr("{acct}:n"), Commands.get("{acct}:n")])
        assert.strictEqual(n, 1)
        assert.deepStrictEqual(v, Option.some("1"))
        const [ok] = yield* redis.watch(["{acct}:n"], (tx) =>
          Effect.map(tx.execute(Commands.get("{acct}:n")), (cur) => [Commands.set("{acct}:n", String(Number(Option.getOrElse(cur, () => "0")) + 10))]))
        assert.isTrue(ok)
        assert.deepStrictEqual(yield* redis.get("{acct}:n"), Option.some("11"))
        const error = yield* Effect.flip(redis.transaction([Commands.incr("x1"), Commands.incr("x2")]))
        assert.strictEqual(error.reason._tag, "CrossSlot")
      }).pipe(Effect.scoped))

    it.effect("fan-out: DBSIZE sums every primary; onNodes gives per-node results; SCAN covers every primary", () =>
      Effect.gen(function*() {
        const cluster = yield* RedisCluster.RedisCluster
        const { redis, cluster: c } = yield* clientOf(cluster)
        yield* c.msetNonAtomic(Array.from({ length: 90 }, (_, i) => [`fan:${i}`, "x"] as const))
        let expected = 0
        for (const p of yield* cluster.primaries) expected += Number(yield* p.cli("DBSIZE"))
        assert.strictEqual(yield* redis.dbsize(), expected)
        const pings = yield* c.onNodes("all", Commands.ping())
        assert.strictEqual(pings.size, 6)
        for (const exit of pings.values()) assert.isTrue(Exit.isSuccess(exit))
        const keys = yield* c.scanStream({ match: "fan:*", count: 50 }).pipe(Stream.runCollect)
        assert.strictEqual(new Set(keys).size, 90)
        assert.strictEqual(keys.length, 90)
        // The Redis service's scanStream walks every primary too.
        const viaRedis = yield* redis.scanStream({ match: "fan:*", count: 50 }).pipe(Stream.runCollect)
        assert.strictEqual(new Set(viaRedis).size, 90)
      }).pipe(Effect.scoped))

    it.effect("reads from replicas hit replicas (INFO commandstats); readwrite() moves them back", () =>
      Effect.gen(function*() {
        const cluster = yield* RedisCluster.RedisCluster
        const { redis, cluster: c } = yield* clientOf(cluster, { readFrom: "replica" })
        yield* redis.set("replica-read", "v")
        const replicas = yield* cluster.replicas
        yield* Effect.forEach(replicas, (r) => r.cli("CONFIG", "RESETSTAT"), { discard: true })
        // Replication is asynchronous: poll until the replica has the key.
        let seen = Option.none<string>()
        for (let i = 0; i < 100 && Option.isNone(seen); i++) {
          seen = yield* redis.get("replica-read")
          if (Option.isNone(seen)) yield* Effect.sleep("20 millis")
        }
        assert.deepStrictEqual(seen, Option.some("v"))
        yield* Effect.forEach(Array.from({ length: 50 }), () => redis.get("replica-read"), { discard: true })
        let onReplicas = 0
        for (const r of replicas) onReplicas += commandCalls(yield* r.info("commandstats"), "get")
        assert.isAtLeast(onReplicas, 50)
        yield* c.readwrite
        for (const r of replicas) yield* r.cli("CONFIG", "RESETSTAT")
        yield* Effect.forEach(Array.from({ length: 20 }), () => redis.get("replica-read"), { discard: true })
        let after = 0
        for (const r of replicas) after += commandCalls(yield* r.info("commandstats"), "get")
        assert.strictEqual(after, 0)
      }).pipe(Effect.scoped))

    it.effect("lowestLatency reads go to a measured node; a default node takes keyless commands", () =>
      Effect.gen(function*() {
        const cluster = yield* RedisCluster.RedisCluster
        const { redis, cluster: c } = yield* clientOf(cluster, { readFrom: "lowestLatency" })
        yield* redis.set("latency-key", "v")
        for (let i = 0; i < 50; i++) {
          const v = yield* redis.get("latency-key")
          if (Option.isNone(v)) yield* Effect.sleep("10 millis")
        }
        const owner = yield* cluster.slotOwner(yield* cluster.keyslot("latency-key"))
        const replicas = yield* cluster.replicasOf(owner)
        let served = commandCalls(yield* owner.info("commandstats"), "get")
        for (const r of replicas) served += commandCalls(yield* r.info("commandstats"), "get")
        assert.isAtLeast(served, 50)
        const [first] = yield* c.primaries
        yield* c.setDefaultNode(first)
        assert.deepStrictEqual(Option.map(yield* c.defaultNode, (n) => n.port), Option.some(first.port))
        const target = cluster.nodes.find((n) => n.port === first.port)!
        const before = commandCalls(yield* target.info("commandstats"), "echo")
        for (let i = 0; i < 10; i++) yield* redis.echo("to the default node")
        assert.strictEqual(commandCalls(yield* target.info("commandstats"), "echo") - before, 10)
        const bad = yield* Effect.flip(c.setDefaultNode({ host: "127.0.0.1", port: 1 }))
        assert.strictEqual(bad.reason._tag, "InvalidArgument")
      }).pipe(Effect.scoped))

    it.effect("pub/sub and sharded pub/sub deliver", () =>
      Effect.gen(function*() {
        const cluster = yield* RedisCluster.RedisCluster
        const { redis } = yield* clientOf(cluster)
        const classic = yield* redis.subscribe("news").pipe(Stream.take(1), Stream.runCollect, Effect.forkChild)
        const sharded = yield* redis.ssubscribe("{shard}:events").pipe(Stream.take(1), Stream.runCollect, Effect.forkChild)
        for (let i = 0; i < 50; i++) {
          yield* Effect.sleep("20 millis")
          const a = yield* redis.publish("news", "hello")
          const b = yield* redis.spublish("{shard}:events", "sharded")
          if (a > 0 && b > 0) break
        }
        assert.strictEqual((yield* Fiber.join(classic))[0].payload, "hello")
        assert.strictEqual((yield* Fiber.join(sharded))[0].payload, "sharded")
      }).pipe(Effect.scoped))

    it.effect("a stepwise migration: ASK during MIGRATING, MOVED after; no redirect reaches the caller", () =>
      Effect.gen(function*() {
        const cluster = yield* RedisCluster.RedisCluster
        const { redis } = yield* clientOf(cluster)
        const key = "migrating:{m}"
        const slot = yield* cluster.keyslot(key)
        yield* redis.set(key, "before")
        const from = yield* cluster.slotOwner(slot)
        const to = (yield* cluster.primaries).find((p) => p.port !== from.port)!
        yield* cluster.beginMigration({ from, to, slot })
        yield* cluster.migrateKeys({ from, to, slot })
        // The key now lives on the target: the source answers ASK.
        assert.deepStrictEqual(yield* redis.get(key), Option.some("before"))
        assert.isTrue(yield* redis.set("migrating:{m}:new", "x"))
        yield* cluster.finishMigration({ from, to, slot })
        assert.deepStrictEqual(yield* redis.get(key), Option.some("before"))
        const owner = yield* cluster.slotOwner(slot)
        assert.strictEqual(owner.port, to.port)
        assert.strictEqual(yield* to.cli("GET", "migrating:{m}:new"), "x")
      }).pipe(Effect.scoped))

    it.effect("a transaction and a blocking pop on a slot whose keys already left run on the importing node (ASKING before MULTI)", () =>
      Effect.gen(function*() {
        const cluster = yield* RedisCluster.RedisCluster
        const { redis } = yield* clientOf(cluster)
        const counter = "tx:{ask}"
        const queue = "queue:{ask}"
        const slot = yield* cluster.keyslot(counter)
        yield* redis.set(counter, "1")
        const from = yield* cluster.slotOwner(slot)
        const to = (yield* cluster.primaries).find((p) => p.port !== from.port)!
        yield* cluster.beginMigration({ from, to, slot })
        yield* cluster.migrateKeys({ from, to, slot })
        // The source no longer has the key: queued at the source, the
        // transaction would be refused with ASK and EXECABORT.
        const [incremented, read] = yield* redis.transaction([Commands.incr(counter), Commands.get(counter)])
        assert.strictEqual(incremented, 2)
        assert.deepStrictEqual(read, Option.some("2"))
        // A new key of the slot goes to the target (ASK), and a blocking pop
        // on its dedicated connection follows the same way.
        yield* redis.rpush(queue, ["job"])
        const popped = yield* redis.execute(Commands.blpop(queue, 1))
        assert.deepStrictEqual(Option.map(popped, (p) => p.value), Option.some("job"))
        yield* cluster.finishMigration({ from, to, slot })
        assert.strictEqual(yield* to.cli("GET", counter), "2")
      }).pipe(Effect.scoped))
  })
})

describe("faults under load", () => {
  it.live("live resharding with 50 writers: no error reaches a caller, every acknowledged write is readable", () =>
    Effect.gen(function*() {
      const { cluster, redis, load, fiber } = yield* clusterUnderLoad(50)
      const [a, b] = yield* cluster.primaries
      const started = Date.now()
      const moved = yield* cluster.reshard({ from: a, to: b, count: 200 })
      const took = Date.now() - started
      yield* Effect.sleep("200 millis")
      load.stop()
      yield* Fiber.join(fiber)
      const result = yield* verify(redis, load.acked)
      console.log(`reshard of ${moved.length} slots in ${took} ms: acked ${load.acked.size}, errors`, load.errors, result)
      assert.deepStrictEqual(load.errors, {})
      assert.strictEqual(result.lost, 0)
      assert.strictEqual(result.duplicates, 0)
      assert.isAbove(load.acked.size, 500)
    }).pipe(Effect.scoped), { timeout: 120_000 })

  it.live("CLUSTER FAILOVER under load: the client follows; nothing acknowledged lost, no duplicates", () =>
    Effect.gen(function*() {
      const { cluster, redis, load, fiber } = yield* clusterUnderLoad(20)
      const started = Date.now()
      yield* cluster.failover()
      const serverDone = Date.now()
      yield* Effect.sleep("1 second")
      load.stop()
      yield* Fiber.join(fiber)
      const result = yield* verify(redis, load.acked)
      const recovered = load.lastError() === 0 ? 0 : load.lastError() - started
      console.log(`CLUSTER FAILOVER: server ${serverDone - started} ms; last caller error at +${recovered} ms; acked ${load.acked.size}, errors`, load.errors, result)
      assert.strictEqual(result.lost, 0)
      assert.strictEqual(result.duplicates, 0)
    }).pipe(Effect.scoped), { timeout: 120_000 })

  it.live("a killed primary under load: recovers without a restart; errors and recovery time reported", () =>
    Effect.gen(function*() {
      const { cluster, redis, load, fiber } = yield* clusterUnderLoad(20)
      const started = Date.now()
      yield* cluster.killPrimary()
      const promoted = Date.now()
      yield* Effect.sleep("1500 millis")
      const before = load.acked.size
      yield* Effect.sleep("500 millis")
      load.stop()
      yield* Fiber.join(fiber)
      const progress = load.acked.size - before
      const result = yield* verify(redis, load.acked)
      const lastError = load.lastError() === 0 ? 0 : load.lastError() - started
      console.log(
        `kill primary: promotion after ${promoted - started} ms; last caller error at +${lastError} ms (server failover + ${Math.max(0, lastError - (promoted - started))} ms); ` +
          `acked ${load.acked.size}, errors`,
        load.errors,
        result
      )
      // Writes acked by the killed primary that never reached its replica are
      // the server's loss (async replication), not the client's: reported above.
      assert.isAbove(progress, 0)
      assert.strictEqual(result.duplicates, 0)
    }).pipe(Effect.scoped), { timeout: 120_000 })
})

describe("cluster SCAN across a reshard", () => {
  it.live("a slow SCAN while 300 slots move returns every key exactly once", () =>
    Effect.gen(function*() {
      const cluster = yield* RedisCluster.make()
      const { redis } = yield* clientOf(cluster)
      const keys = Array.from({ length: 6000 }, (_, i) => `scan:${i}`)
      yield* Effect.forEach(keys, (k) => redis.set(k, "x"), { concurrency: 100, discard: true })
      const seen: Array<string> = []
      // The test means something only if the walk spans the reshard: it goes
      // slowly while slots move, and cannot finish before the reshard has
      // (it waits at 80% of the keys), however slow the machine is.
      const reshardDone = Latch.makeUnsafe(false)
      const scanning = yield* redis.scanStream({ match: "scan:*", count: 10 }).pipe(
        Stream.tap((k) => Effect.sync(() => seen.push(k))),
        Stream.tap(() =>
          seen.length === 4800 ? reshardDone.await : seen.length % 100 === 0 ? Effect.sleep("15 millis") : Effect.void
        ),
        Stream.runDrain,
        Effect.forkChild
      )
      yield* Effect.sleep("200 millis")
      const [a, b, c] = yield* cluster.primaries
      const moved1 = yield* cluster.reshard({ from: a, to: b, count: 150 })
      const moved2 = yield* cluster.reshard({ from: c, to: a, count: 150 })
      const spanned = scanning.pollUnsafe() === undefined
      const emittedBeforeEnd = seen.length
      reshardDone.openUnsafe()
      yield* Fiber.join(scanning)
      assert.isTrue(spanned, "the SCAN was still running when the reshard finished")
      assert.isBelow(emittedBeforeEnd, keys.length)
      const unique = new Set(seen)
      console.log(`cluster SCAN during reshard of ${moved1.length + moved2.length} slots: ${seen.length} keys emitted, ${unique.size} unique of ${keys.length}`)
      assert.strictEqual(unique.size, keys.length)
      assert.strictEqual(seen.length, keys.length)
    }).pipe(Effect.scoped), { timeout: 120_000 })
})

describe("pub/sub across a failover", () => {
  it.live("classic and sharded subscriptions move off a killed primary to the new owner of their slot; the gap is counted", () =>
    Effect.gen(function*() {
      const cluster = yield* RedisCluster.make()
      const { redis } = yield* clientOf(cluster)
      const channel = "{feed}:prices"
      const received: Array<string> = []
      const sharded: Array<string> = []
      yield* redis.subscribe(channel).pipe(Stream.runForEach((m) => Effect.sync(() => received.push(m.payload))), Effect.forkChild)
      const gaps: Array<string> = []
      yield* redis.ssubscribeWithGaps(channel).pipe(
        Stream.runForEach((e) => Effect.sync(() => (e.kind === "gap" ? gaps.push(e.reason) : sharded.push(e.payload)))),
        Effect.forkChild
      )
      const publishUntil = (tag: string, got: () => boolean) =>
        Effect.gen(function*() {
          for (let i = 0; i < 200 && !got(); i++) {
            yield* Effect.exit(redis.publish(channel, `${tag}-${i}`))
            yield* Effect.exit(redis.spublish(channel, `${tag}-${i}`))
            yield* Effect.sleep("50 millis")
          }
        })
      yield* publishUntil("before", () => received.length > 0 && sharded.length > 0)
      assert.isAbove(received.length, 0)
      assert.isAbove(sharded.length, 0)
      const generation = yield* redis.pubsubGeneration
      // Kill the node the subscriptions live on: only a client that moves
      // them hears anything afterwards.
      const owner = yield* cluster.slotOwner(yield* cluster.keyslot(channel))
      const started = Date.now()
      yield* cluster.killPrimary(owner)
      const hasAfter = (xs: ReadonlyArray<string>) => xs.some((p) => p.startsWith("after"))
      yield* publishUntil("after", () => hasAfter(received) && hasAfter(sharded))
      console.log(`pub/sub after the owner was killed: classic ${hasAfter(received)}, sharded ${hasAfter(sharded)} within ${Date.now() - started} ms`)
      assert.isTrue(hasAfter(received))
      assert.isTrue(hasAfter(sharded))
      assert.isAbove(yield* redis.pubsubGeneration, generation)
      assert.include(gaps, "moved", "the sharded stream announced its gap")
    }).pipe(Effect.scoped), { timeout: 120_000 })
})

void Layer
