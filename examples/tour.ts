/**
 * `npm start`: a short tour of redis-effect on an embedded topology.
 *
 * It starts a throwaway redis-server on a free loopback port (with
 * `@redis-effect/testing`), runs one program against it through the
 * `Redis` service, prints what each step does, and stops the server.
 * Nothing here is needed to use the library; it shows the API in use.
 */
import { NodeClient, NodeCluster, NodeSentinel } from "@redis-effect/node"
import { Cluster, Commands, Redis, RedisConfig, RedisError, Script, Sentinel } from "@redis-effect/redis"
import { RedisCluster, RedisSentinel, RedisServer } from "@redis-effect/testing"
import { Console, Effect, Fiber, Option, Stream } from "effect"

const step = (title: string) => Console.log(`\n— ${title}`)

const tour = Effect.gen(function*() {
  const redis = yield* Redis.Redis

  yield* step("strings, with options as objects and absent values as Option")
  yield* redis.set("user:1", "ada", { ex: 60 })
  const name = yield* redis.get("user:1")
  const missing = yield* redis.get("user:404")
  yield* Console.log(`get user:1 -> ${Option.getOrElse(name, () => "?")}; get user:404 -> ${Option.isNone(missing) ? "none" : "?"}`)

  yield* step("auto-pipelining: 10,000 concurrent INCRs share a handful of socket writes")
  const started = performance.now()
  yield* Effect.forEach(Array.from({ length: 10_000 }), () => redis.incr("visits"), { concurrency: 100, discard: true })
  yield* Console.log(`visits = ${Option.getOrElse(yield* redis.get("visits"), () => "0")} in ${(performance.now() - started).toFixed(0)} ms`)

  yield* step("an explicit pipeline returns a typed tuple")
  const [n, current] = yield* redis.pipeline([Commands.incr("n"), Commands.get("n")])
  yield* Console.log(`incr n -> ${n}; get n -> ${Option.getOrElse(current, () => "?")}`)

  yield* step("a MULTI/EXEC transaction, and an optimistic WATCH transaction")
  const [a, b] = yield* redis.transaction([Commands.hset("account:1", { balance: "100" }), Commands.hincrby("account:1", "balance", -30)])
  yield* Console.log(`hset -> ${a} field(s); balance after debit -> ${b}`)
  const [doubled] = yield* redis.watch(["n"], (tx) =>
    Effect.map(tx.execute(Commands.get("n")), (v) => [Commands.set("n", String(Number(Option.getOrElse(v, () => "0")) * 2))]))
  yield* Console.log(`watch n, then set n = 2n -> ${doubled}; n = ${Option.getOrElse(yield* redis.get("n"), () => "?")}`)

  yield* step("typed errors: recover from one reason, keep the others")
  yield* redis.lpush("a-list", ["x"])
  const recovered = yield* redis.incr("a-list").pipe(
    Effect.catchReason("RedisError", "ReplyError", (reason) => Effect.succeed(`recovered from ${reason.code}`))
  )
  yield* Console.log(`incr on a list -> ${recovered}`)
  const refused = yield* Effect.flip(redis.zadd("scores", [{ score: NaN, member: "m" }]))
  yield* Console.log(`zadd with a NaN score -> ${refused.reason._tag} (${refused.outcome}): nothing was sent`)

  yield* step("SCAN as a Stream")
  yield* Effect.forEach(Array.from({ length: 25 }, (_, i) => i), (i) => redis.set(`scan:${i}`, String(i)), { discard: true })
  const keys = yield* redis.scanStream({ match: "scan:*", count: 10 }).pipe(Stream.runCollect)
  yield* Console.log(`scanned ${keys.length} keys matching scan:*`)

  yield* step("Lua by EVALSHA, loaded on first use")
  const bump = Script.make("return redis.call('incrby', KEYS[1], ARGV[1])", (r) => Number(r))
  yield* Console.log(`script incrby 5 -> ${yield* redis.runScript(bump, ["scripted"], [5])}`)

  yield* step("a distributed lock, released when its scope closes")
  yield* Effect.scoped(Effect.gen(function*() {
    const lock = yield* redis.lock("lock:report", { ttl: "5 seconds" })
    yield* Console.log(`holding ${lock.name}; ttl left ${yield* redis.pttl("lock:report")} ms`)
  }))
  yield* Console.log(`after the scope: exists = ${yield* redis.exists(["lock:report"])}`)

  yield* step("pub/sub as a Stream")
  const listener = yield* redis.subscribe("news").pipe(Stream.take(2), Stream.runCollect, Effect.forkChild)
  yield* Effect.sleep("50 millis")
  yield* redis.publish("news", "hello")
  yield* redis.publish("news", "world")
  const messages = yield* Fiber.join(listener)
  yield* Console.log(`received: ${messages.map((m) => m.payload).join(", ")}`)

  yield* step("blocking commands run on their own connection")
  const waiter = yield* redis.blpop(["jobs"], 2).pipe(Effect.forkChild)
  yield* Console.log(`while BLPOP waits, PING -> ${yield* redis.ping()}`)
  yield* redis.rpush("jobs", ["job-1"])
  const job = yield* Fiber.join(waiter)
  yield* Console.log(`BLPOP -> ${Option.match(job, { onNone: () => "timeout", onSome: (j) => `${j.key}: ${j.value}` })}`)
})

// What only a cluster has: slots, nodes, fan-out and non-atomic multi-key.
const clusterTour = Effect.gen(function*() {
  const cluster = yield* Cluster.Cluster
  const redis = yield* Redis.Redis
  yield* step("cluster: keys hash to slots, slots to nodes")
  const node = yield* cluster.nodeFor("user:1")
  yield* Console.log(`keyslot(user:1) = ${cluster.keyslot("user:1")}, served by ${node.host}:${node.port}`)
  yield* Console.log(`{user:1}:name and {user:1}:email share slot ${cluster.keyslot("{user:1}:email")}: one MGET may read both`)
  const cross = yield* Effect.flip(redis.mget(["a", "b"]))
  yield* Console.log(`MGET a b -> ${cross.reason._tag} (${cross.outcome}); mgetNonAtomic splits by slot instead:`)
  yield* cluster.msetNonAtomic([["a", "1"], ["b", "2"]])
  const values = yield* cluster.mgetNonAtomic(["a", "b"])
  yield* Console.log(`mgetNonAtomic a b -> ${values.map((v) => Option.getOrElse(v, () => "?")).join(", ")}`)
  yield* Console.log(`DBSIZE sums ${(yield* cluster.primaries).length} primaries -> ${yield* redis.dbsize()}`)
})

// What Sentinel adds: discovery, and following a failover.
const sentinelTour = (group: RedisSentinel.RedisSentinelHandle) =>
  Effect.gen(function*() {
    const sentinel = yield* Sentinel.Sentinel
    const redis = yield* Redis.Redis
    yield* step("sentinel: discovery and failover following")
    const master = yield* sentinel.discoverMaster(group.masterName)
    const replicas = yield* sentinel.discoverReplicas(group.masterName)
    yield* Console.log(`master ${RedisConfig.formatEndpoint(master)}; ${replicas.length} replicas`)
    yield* redis.set("before-failover", "1")
    const started = Date.now()
    const { to } = yield* group.failover
    yield* Console.log(`SENTINEL FAILOVER done after ${Date.now() - started} ms; new primary on port ${to.port}`)
    yield* redis.set("after-failover", "2")
    yield* Console.log(`writes follow the new primary: after-failover = ${yield* to.cli("GET", "after-failover")}`)
  })

const main = Effect.gen(function*() {
  yield* Console.log("redis-effect tour: starting a local redis-server…")
  yield* Effect.scoped(Effect.gen(function*() {
    const server = yield* RedisServer.make()
    yield* Console.log(`server on 127.0.0.1:${server.port}`)
    yield* tour.pipe(Effect.provide(NodeClient.layer({ host: "127.0.0.1", port: server.port, clientName: "tour" })))
  }))

  yield* Console.log("\n=== the same program on a local 3x1 Redis Cluster (only the layer changes) ===")
  yield* Effect.scoped(Effect.gen(function*() {
    const cluster = yield* RedisCluster.make()
    const nodes = cluster.startupNodes.map((n) => `${n.host}:${n.port}`)
    yield* Console.log(`cluster nodes: ${nodes.join(", ")}`)
    yield* Effect.andThen(tour, clusterTour).pipe(Effect.provide(NodeCluster.layer({ nodes: [nodes[0]], clientName: "tour" })))
  }))
  yield* Console.log("\n=== and through a local Sentinel group (1 primary, 2 replicas, 3 sentinels) ===")
  yield* Effect.scoped(Effect.gen(function*() {
    const group = yield* RedisSentinel.make()
    const sentinels = group.sentinelAddresses.map((a) => `${a.host}:${a.port}`)
    yield* Console.log(`sentinels: ${sentinels.join(", ")}; service ${group.masterName}`)
    yield* Effect.andThen(tour, sentinelTour(group)).pipe(
      Effect.provide(NodeSentinel.layerMaster({ sentinels, masterName: group.masterName, clientName: "tour" }))
    )
  }))
  yield* Console.log("\ndone; every server stopped.")
})

Effect.runPromise(main).then(
  () => process.exit(0),
  (error) => {
    console.error(RedisError.isRedisError(error) ? error.message : error)
    process.exit(1)
  }
)

