/**
 * `npm start`: a short tour of redis-effect on an embedded topology.
 *
 * It starts a throwaway redis-server on a free loopback port (with
 * `@redis-effect/testing`), runs one program against it through the
 * `Redis` service, prints what each step does, and stops the server.
 * Nothing here is needed to use the library; it shows the API in use.
 */
import { NodeClient } from "@redis-effect/node"
import { Commands, Redis, RedisError, Script } from "@redis-effect/redis"
import { RedisServer } from "@redis-effect/testing"
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

const main = Effect.gen(function*() {
  yield* Console.log("redis-effect tour: starting a local redis-server…")
  const server = yield* RedisServer.make()
  yield* Console.log(`server on 127.0.0.1:${server.port}`)
  yield* tour.pipe(Effect.provide(NodeClient.layer({ host: "127.0.0.1", port: server.port, clientName: "tour" })))
  yield* Console.log("\ndone; stopping the server.")
}).pipe(Effect.scoped)

Effect.runPromise(main).then(
  () => process.exit(0),
  (error) => {
    console.error(RedisError.isRedisError(error) ? error.message : error)
    process.exit(1)
  }
)

