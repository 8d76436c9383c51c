/**
 * `node examples/effect-app.ts`: one small Effect application — a signup
 * endpoint with a per-key rate limit that queues a welcome email for a
 * worker — on a local 3x1 Redis Cluster and then on a Sentinel group, each
 * failing over in the middle of the traffic.
 *
 * The application code (`signup`, `worker`, `traffic`) does not know the
 * topology: it uses Effect's `RateLimiter` and `PersistedQueue`
 * (`effect/persistence`) over `EffectRedis.layer`, and every Redis command
 * is a span (`Tracing.layer`, with the hash slot recorded) under the
 * request's own span. Only `clientOn`
 * and the failover differ per topology. The prefixes carry hash tags, which
 * keeps Effect's multi-key scripts in one slot on the cluster.
 *
 * The spans are kept in memory by a tracer made here (an application would
 * export them, e.g. with `effect/observability`'s OTLP tracer, as
 * `examples/observability.ts` shows). Servers are started with
 * `@redis-effect/testing` and stopped at the end.
 */
import { NodeCluster, NodeSentinel } from "@redis-effect/node"
import type { Redis } from "@redis-effect/redis"
import * as EffectRedis from "@redis-effect/redis/EffectRedis"
import * as Tracing from "@redis-effect/redis/Tracing"
import { RedisCluster, RedisSentinel } from "@redis-effect/testing"
import { Console, Effect, Fiber, Layer, Schema, Tracer } from "effect"
import { PersistedQueue, RateLimiter } from "effect/persistence"

// -----------------------------------------------------------------------------
// the application
// -----------------------------------------------------------------------------

const Welcome = Schema.Struct({ user: Schema.String })

const Stores = Layer.mergeAll(
  RateLimiter.layer.pipe(Layer.provide(RateLimiter.layerStoreRedis({ prefix: "{signup-limits}:" }))),
  PersistedQueue.layer.pipe(Layer.provide(PersistedQueue.layerStoreRedis({ prefix: "{signup-jobs}:", pollInterval: "20 millis" })))
)

interface Tally {
  accepted: Set<string>
  limited: number
  failed: number
  sent: Map<string, number>
}

/** `POST /signup`: 20 signups per second per API key, then a welcome email queued. */
const signup = (apiKey: string, user: string, tally: Tally) =>
  Effect.gen(function*() {
    const limiter = yield* RateLimiter.RateLimiter
    const emails = yield* PersistedQueue.make({ name: "welcome", schema: Welcome })
    yield* limiter.consume({ key: apiKey, limit: 20, window: "1 second", algorithm: "token-bucket", onExceeded: "fail" })
    yield* emails.offer({ user })
    tally.accepted.add(user)
  }).pipe(
    Effect.withSpan("POST /signup", { attributes: { "api.key": apiKey } }),
    Effect.catchTag("RateLimiterError", (e) =>
      Effect.sync(() => {
        if (e.reason._tag === "RateLimitExceeded") tally.limited++
        else tally.failed++
      })),
    Effect.catch(() => Effect.sync(() => tally.failed++))
  )

/** Takes welcome emails and "sends" them; a job whose handler fails is retried by the queue. */
const worker = (tally: Tally) =>
  Effect.gen(function*() {
    const emails = yield* PersistedQueue.make({ name: "welcome", schema: Welcome })
    yield* Effect.forever(Effect.ignore(emails.take((job) =>
      Effect.sync(() => tally.sent.set(job.user, (tally.sent.get(job.user) ?? 0) + 1)).pipe(Effect.withSpan("send welcome email"))
    )))
  })

/** Three API keys for three seconds; "greedy" asks far more often than its limit allows. */
const traffic = (tally: Tally) =>
  Effect.forEach(["alpha", "beta", "greedy"], (apiKey) =>
    Effect.gen(function*() {
      const every = apiKey === "greedy" ? 5 : 60
      for (let i = 0; i * every < 3000; i++) {
        yield* Effect.forkChild(signup(apiKey, `${apiKey}-${i}`, tally))
        yield* Effect.sleep(every)
      }
    }), { concurrency: "unbounded", discard: true })

// -----------------------------------------------------------------------------
// running it, with a failover in the middle
// -----------------------------------------------------------------------------

/** A tracer that keeps every span (Effect's own span type), to print a few. */
const recording = () => {
  const spans: Array<Tracer.NativeSpan> = []
  const tracer = Tracer.make({
    span(options) {
      const span = new Tracer.NativeSpan(options)
      spans.push(span)
      return span
    }
  })
  return { spans, layer: Layer.succeed(Tracer.Tracer)(tracer) }
}

const clientOn = <E>(client: Layer.Layer<Redis.Redis, E>) =>
  Layer.provideMerge(Stores, Layer.provideMerge(EffectRedis.layer, client.pipe(Layer.provide(Tracing.layer({ slots: true })))))

const run = (label: string, failover: Effect.Effect<string, unknown>) =>
  Effect.gen(function*() {
    const tally: Tally = { accepted: new Set(), limited: 0, failed: 0, sent: new Map() }
    const workers = yield* Effect.forkChild(Effect.all([worker(tally), worker(tally)], { concurrency: 2 }))
    const load = yield* Effect.forkChild(traffic(tally))
    yield* Effect.sleep("1 second")
    const started = Date.now()
    const what = yield* failover
    yield* Console.log(`${label}: ${what} in ${Date.now() - started} ms, while requests kept coming`)
    yield* Fiber.join(load)
    // Let the workers finish what was queued.
    for (let i = 0; i < 100 && [...tally.accepted].some((u) => !tally.sent.has(u)); i++) yield* Effect.sleep("50 millis")
    yield* Fiber.interrupt(workers)
    const unsent = [...tally.accepted].filter((u) => !tally.sent.has(u)).length
    const twice = [...tally.sent.values()].filter((n) => n > 1).length
    yield* Console.log(
      `${label}: ${tally.accepted.size} signups accepted, ${tally.limited} rate-limited, ${tally.failed} failed; ` +
        `${tally.sent.size} emails sent, ${unsent} accepted but not sent, ${twice} sent twice`
    )
  })

const printTrace = (spans: ReadonlyArray<Tracer.NativeSpan>) =>
  Effect.gen(function*() {
    const request = spans.find((s) => s.name === "POST /signup" && spans.some((c) => c.parent._tag === "Some" && c.parent.value === s))
    if (request === undefined) return
    yield* Console.log(`  one request's trace: "${request.name}" (api.key=${request.attributes.get("api.key")})`)
    for (const child of spans.filter((s) => s.parent._tag === "Some" && s.parent.value === request)) {
      const shown = ["db.operation.name", "server.port", "redis.cluster.slot", "redis.attempts"]
        .filter((k) => child.attributes.get(k) !== undefined)
        .map((k) => `${k}=${child.attributes.get(k)}`)
      yield* Console.log(`    └ "${child.name}" ${shown.join(" ")}`)
    }
    const byName = new Map<string, number>()
    for (const s of spans) byName.set(s.name, (byName.get(s.name) ?? 0) + 1)
    yield* Console.log(`  spans by name: ${[...byName].map(([n, c]) => `${n} x${c}`).join(", ")}`)
  })

const main = Effect.gen(function*() {
  yield* Console.log("=== a local 3x1 Redis Cluster; CLUSTER FAILOVER of the queue's primary mid-traffic ===")
  yield* Effect.scoped(Effect.gen(function*() {
    const cluster = yield* RedisCluster.make()
    const { spans, layer } = recording()
    const failover = Effect.gen(function*() {
      const owner = yield* Effect.flatMap(cluster.keyslot("{signup-jobs}:x"), cluster.slotOwner)
      const [replica] = yield* cluster.replicasOf(owner)
      const promoted = yield* cluster.failover(replica)
      return `CLUSTER FAILOVER ${owner.port} -> ${promoted.port}`
    })
    yield* run("cluster", failover).pipe(
      Effect.provide(clientOn(NodeCluster.layer({ nodes: [`127.0.0.1:${cluster.startupNodes[0].port}`] }))),
      Effect.provide(layer)
    )
    yield* printTrace(spans)
  }))

  yield* Console.log("\n=== the same application on a Sentinel group; SENTINEL FAILOVER mid-traffic ===")
  yield* Effect.scoped(Effect.gen(function*() {
    const group = yield* RedisSentinel.make()
    const { spans, layer } = recording()
    const failover = Effect.map(group.failover, ({ from, to }) => `SENTINEL FAILOVER ${from.port} -> ${to.port}`)
    yield* run("sentinel", failover).pipe(
      Effect.provide(clientOn(NodeSentinel.layerMaster({ sentinels: group.sentinelAddresses, masterName: group.masterName }))),
      Effect.provide(layer)
    )
    yield* printTrace(spans)
  }))
  yield* Console.log("\ndone; every server stopped.")
})

Effect.runPromise(main).then(
  () => process.exit(0),
  (error) => {
    console.error(error)
    process.exit(1)
  }
)
