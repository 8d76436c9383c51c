/**
 * Tracing and metrics against real servers, exported the way an application
 * would: spans through `effect/observability`'s OTLP tracer (JSON over HTTP,
 * `fetch`) to an OTLP receiver inside the test (a `node:http` server on
 * 127.0.0.1 that keeps every POSTed body), metrics read by
 * `PrometheusMetrics.format`.
 *
 * - standalone: the spans of a GET, a pipeline, a transaction and a failed
 *   command, with their conventions' names and attributes; the metrics of the
 *   same, of a blocking command, and of a CLIENT KILL (`track` over
 *   `redis.events`: a disconnect, then a reconnect; pub/sub resubscribes
 *   and gaps);
 * - cluster: a MOVED redirect is one GET span with two attempts and one
 *   redirect, and the redirect and the refresh it causes are counted;
 * - sentinel: a failover is counted as a sentinel switch;
 * - secrets: with a password and an ACL user, every exported span and the
 *   whole Prometheus text are searched for the passwords (never there) and
 *   for a stored value (there only with `recordArguments`).
 */
import { assert, describe, it } from "@effect/vitest"
import * as NodeSentinel from "@redis-effect/node/NodeSentinel"
import * as NodeTransport from "@redis-effect/node/NodeTransport"
import * as Cluster from "@redis-effect/redis/Cluster"
import * as Command from "@redis-effect/redis/Command"
import * as Commands from "@redis-effect/redis/Commands"
import * as Metrics from "@redis-effect/redis/Metrics"
import * as Redis from "@redis-effect/redis/Redis"
import * as Standalone from "@redis-effect/redis/Standalone"
import * as Tracing from "@redis-effect/redis/Tracing"
import { RedisCluster } from "@redis-effect/testing"
import * as RedisSentinel from "@redis-effect/testing/RedisSentinel"
import * as RedisServer from "@redis-effect/testing/RedisServer"
import * as Context from "effect/Context"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"
import * as FetchHttpClient from "effect/http/FetchHttpClient"
import * as Layer from "effect/Layer"
import * as Metric from "effect/Metric"
import * as OtlpSerialization from "effect/observability/OtlpSerialization"
import * as OtlpTracer from "effect/observability/OtlpTracer"
import * as PrometheusMetrics from "effect/observability/PrometheusMetrics"
import * as Option from "effect/Option"
import * as Stream from "effect/Stream"
import * as Http from "node:http"

// -----------------------------------------------------------------------------
// an OTLP receiver and Effect's exporter
// -----------------------------------------------------------------------------

interface ExportedSpan {
  readonly name: string
  readonly kind: number
  readonly attributes: Record<string, unknown>
  readonly events: ReadonlyArray<{ readonly name: string; readonly attributes: Record<string, unknown> }>
  readonly status: { readonly code: number; readonly message?: string }
}

// OTLP/JSON attributes are `{ key, value: { stringValue | intValue | … } }`.
const flatten = (attributes: ReadonlyArray<{ key: string; value: Record<string, unknown> }>) =>
  Object.fromEntries(attributes.map(({ key, value }) => {
    const [kind, v] = Object.entries(value)[0]
    return [key, kind === "intValue" ? Number(v) : v]
  }))

/** A `node:http` server on 127.0.0.1 that keeps every body POSTed to it. */
const otlpReceiver = Effect.acquireRelease(
  Effect.callback<{ readonly server: Http.Server; readonly url: string; readonly bodies: Array<string> }>((resume) => {
    const bodies: Array<string> = []
    const server = Http.createServer((request, response) => {
      const chunks: Array<Buffer> = []
      request.on("data", (chunk: Buffer) => chunks.push(chunk))
      request.on("end", () => {
        bodies.push(Buffer.concat(chunks).toString("utf8"))
        response.writeHead(200, { "content-type": "application/json" })
        response.end("{}")
      })
    })
    server.listen(0, "127.0.0.1", () => {
      const { port } = server.address() as { port: number }
      resume(Effect.succeed({ server, url: `http://127.0.0.1:${port}/v1/traces`, bodies }))
    })
  }),
  ({ server }) =>
    Effect.callback<void>((resume) => {
      server.close(() => resume(Effect.void))
    })
).pipe(Effect.map(({ bodies, url }) => ({
  url,
  /** Every body received, as text (for the secrets search). */
  raw: () => bodies.join("\n"),
  spans: (): Array<ExportedSpan> =>
    bodies.flatMap((body) =>
      (JSON.parse(body).resourceSpans as Array<any>).flatMap((r) =>
        (r.scopeSpans as Array<any>).flatMap((s) =>
          (s.spans as Array<any>).map((span) => ({
            name: span.name,
            kind: span.kind,
            attributes: flatten(span.attributes),
            events: (span.events as Array<any>).map((e) => ({ name: e.name, attributes: flatten(e.attributes) })),
            status: span.status
          }))
        )
      )
    )
})))

/** Effect's OTLP tracer, posting JSON to `url` with `fetch`; it flushes when its layer closes. */
const otlpTracing = (url: string) =>
  OtlpTracer.layer({ url, exportInterval: "200 millis", resource: { serviceName: "observability-test" } }).pipe(
    Layer.provide([OtlpSerialization.layerJson, FetchHttpClient.layer])
  )

/** A fresh metric registry for one test. */
const isolatedMetrics = <A, E, R>(self: Effect.Effect<A, E, R>) =>
  Effect.provideService(self, Metric.MetricRegistry, new Map())

/** Waits (up to `within`) until `check` holds. */
const eventually = <E, R>(check: Effect.Effect<boolean, E, R>, within: Duration.Input = "10 seconds") =>
  Effect.gen(function*() {
    const deadline = Date.now() + Duration.toMillis(Duration.fromInputUnsafe(within))
    while (!(yield* check)) {
      if (Date.now() > deadline) return yield* Effect.die("condition not reached in time")
      yield* Effect.sleep("50 millis")
    }
  })

const prometheus = PrometheusMetrics.format()
const has = (line: string) => Effect.map(prometheus, (text) => text.includes(line))

// -----------------------------------------------------------------------------
// standalone
// -----------------------------------------------------------------------------

describe("standalone", () => {
  it.live("spans of a GET, a pipeline, a transaction and an error reach an OTLP receiver", () =>
    Effect.gen(function*() {
      const receiver = yield* otlpReceiver
      const server = yield* RedisServer.make()
      yield* Effect.scoped(Effect.gen(function*() {
        const redis = yield* Standalone.make({ port: server.port, middleware: Tracing.middleware({ database: 0 }) })
        yield* redis.set("user:1", "ada")
        yield* redis.get("user:1")
        yield* redis.pipeline([Commands.incr("n"), Commands.get("n"), Commands.set("m", "1")])
        yield* redis.transaction([Commands.incr("t"), Commands.incr("t")])
        yield* redis.rpush("a-list", ["x"])
        yield* Effect.flip(redis.incr("a-list"))
        yield* Effect.withSpan(redis.get("user:1"), "handler")
      })).pipe(Effect.provide(Layer.merge(otlpTracing(receiver.url), NodeTransport.layer)))

      const spans = receiver.spans()
      const one = (name: string) => {
        const found = spans.filter((s) => s.name === name)
        assert.isAtLeast(found.length, 1, `a span named ${name}`)
        return found[0]
      }
      const get = one("GET")
      assert.strictEqual(get.kind, 3, "client")
      assert.deepInclude(get.attributes, {
        "db.system.name": "redis",
        "db.operation.name": "GET",
        "db.namespace": "0",
        "server.address": "127.0.0.1",
        "server.port": server.port,
        "redis.attempts": 1
      })
      assert.notProperty(get.attributes, "db.query.text")
      assert.strictEqual(get.status.code, 1, "ok")

      const pipeline = one("PIPELINE")
      assert.deepInclude(pipeline.attributes, { "db.operation.name": "PIPELINE", "db.operation.batch.size": 3, "redis.attempts": 1 })
      const transaction = one("MULTI INCR")
      assert.deepInclude(transaction.attributes, { "db.operation.batch.size": 2, "server.port": server.port })

      const failed = spans.filter((s) => s.name === "INCR")[0]
      assert.deepInclude(failed.attributes, {
        "error.type": "ReplyError",
        "redis.error.outcome": "Rejected",
        "db.response.status_code": "WRONGTYPE"
      })
      assert.strictEqual(failed.status.code, 2, "error")

      // A command inside the caller's span is its child: both were exported.
      assert.isTrue(spans.some((s) => s.name === "handler"))
    }).pipe(Effect.scoped))

  it.live("metrics in the Prometheus text: durations, errors, batches, dedicated waits, and a CLIENT KILL's reconnect", () =>
    Effect.gen(function*() {
      const server = yield* RedisServer.make()
      const redis = yield* Standalone.make({ port: server.port, middleware: Metrics.middleware() }).pipe(
        Effect.provide(NodeTransport.layer)
      )
      yield* Metrics.track(redis, { pubsubInterval: "100 millis" })
      yield* redis.set("k", "v")
      yield* redis.get("k")
      yield* redis.pipeline([Commands.get("k"), Commands.get("k")])
      yield* redis.transaction([Commands.incr("t")])
      yield* redis.rpush("a-list", ["x"])
      yield* Effect.flip(redis.incr("a-list"))
      yield* redis.execute(Commands.blpop("empty", 0.05))

      // Pub/sub: a subscription with gap events, counted by countGaps.
      const gaps = yield* redis.subscribeWithGaps("news").pipe(
        Metrics.countGaps(),
        Stream.filter((e) => e.kind === "gap"),
        Stream.take(1),
        Stream.runCollect,
        Effect.forkChild
      )
      yield* eventually(Effect.map(redis.pubsubGeneration, (g) => g === 1))

      // Every client connection of the server: the shared one reconnects
      // (Disconnected, then Ready), the subscriber resubscribes.
      yield* server.clientKill("TYPE", "normal")
      yield* server.clientKill("TYPE", "pubsub")
      yield* eventually(has(`redis_reconnects_total{node="127.0.0.1:${server.port}"} 1`))
      yield* eventually(has("redis_pubsub_resubscribes_total 1"))
      yield* Fiber.join(gaps)

      const text = yield* prometheus
      for (
        const line of [
          `redis_command_duration_seconds_count{command="GET",outcome="ok"} 1`,
          `redis_command_duration_seconds_count{command="SET",outcome="ok"} 1`,
          `redis_command_duration_seconds_count{command="INCR",outcome="rejected"} 1`,
          `redis_command_errors_total{command="INCR",reason="ReplyError"} 1`,
          `redis_batch_duration_seconds_count{kind="pipeline",outcome="ok"} 1`,
          `redis_batch_duration_seconds_count{kind="transaction",outcome="ok"} 1`,
          `redis_batch_commands_total{kind="pipeline"} 2`,
          `redis_dedicated_acquire_seconds_count{kind="blocking"} 1`,
          `redis_dedicated_acquire_seconds_count{kind="transaction"} 1`,
          `redis_commands_in_flight 0`,
          `redis_disconnects_total{node="127.0.0.1:${server.port}"} 1`,
          `redis_connections_open 1`,
          `redis_pubsub_gaps_total{reason="reconnect",subscription="channel"} 1`,
          `# TYPE redis_command_duration_seconds histogram`
        ]
      ) assert.include(text, line)
    }).pipe(Effect.scoped, isolatedMetrics))
})

// -----------------------------------------------------------------------------
// cluster
// -----------------------------------------------------------------------------

describe("cluster", () => {
  it.layer(RedisCluster.layer(), { excludeTestServices: true })((it) => {
    it.effect("a MOVED redirect: one GET span with two attempts and a redirect; the redirect and the refresh counted", () =>
      Effect.gen(function*() {
        const cluster = yield* RedisCluster.RedisCluster
        const receiver = yield* otlpReceiver
        const key = "moved:{obs}"
        const slot = yield* cluster.keyslot(key)
        const from = yield* cluster.slotOwner(slot)
        const to = (yield* cluster.primaries).find((p) => p.port !== from.port)!

        yield* Effect.scoped(Effect.gen(function*() {
          const { redis } = yield* Cluster.make({
            nodes: [`127.0.0.1:${cluster.startupNodes[0].port}`],
            middleware: [Tracing.middleware({ slots: true }), Metrics.middleware()]
          })
          yield* Metrics.track(redis)
          yield* redis.set(key, "before")
          // The slot moves behind the client's back: its next GET is refused
          // with MOVED by the old owner and answered by the new one.
          yield* cluster.beginMigration({ from, to, slot })
          yield* cluster.migrateKeys({ from, to, slot })
          yield* cluster.finishMigration({ from, to, slot })
          assert.deepStrictEqual(yield* Effect.withSpan(redis.get(key), "after-migration"), Option.some("before"))
          yield* eventually(has(`redis_redirects_total{kind="moved"} 1`))
          yield* eventually(Effect.map(prometheus, (text) => text.includes("redis_topology_refreshes_total{trigger=")))
        })).pipe(Effect.provide(Layer.merge(otlpTracing(receiver.url), NodeTransport.layer)))

        const gets = receiver.spans().filter((s) => s.name === "GET" && s.attributes["redis.redirects"] !== undefined)
        assert.strictEqual(gets.length, 1)
        const [get] = gets
        assert.deepInclude(get.attributes, {
          "redis.attempts": 2,
          "redis.redirects": 1,
          "redis.cluster.slot": slot,
          "server.port": to.port
        })
        assert.deepStrictEqual(get.events.map((e) => [e.name, e.attributes["redis.redirect.kind"], e.attributes["redis.redirect.to"]]), [
          ["redis.redirect", "MOVED", `127.0.0.1:${to.port}`]
        ])
      }).pipe(Effect.scoped, isolatedMetrics))
  })
})

// -----------------------------------------------------------------------------
// sentinel
// -----------------------------------------------------------------------------

describe("sentinel", () => {
  it.live("a failover is a sentinel switch in the metrics", () =>
    Effect.gen(function*() {
      const group = yield* RedisSentinel.make()
      const ctx = yield* Layer.build(NodeSentinel.layerMaster({
        sentinels: group.sentinelAddresses,
        masterName: group.masterName,
        middleware: Metrics.middleware()
      }))
      const redis = Context.get(ctx, Redis.Redis)
      yield* Metrics.track(redis)
      yield* redis.set("before", "1")
      yield* group.failover
      yield* eventually(has(`redis_sentinel_switches_total{master="${group.masterName}"} 1`), "30 seconds")
      yield* redis.set("after", "2")
    }).pipe(Effect.scoped, isolatedMetrics))
})

// -----------------------------------------------------------------------------
// secrets
// -----------------------------------------------------------------------------

describe("secrets", () => {
  const PASSWORD = "default-pass-7f3c9a"
  const ACL_PASSWORD = "acl-pass-51be02"
  const VALUE = "stored-value-d41d8c"

  /** Runs commands carrying VALUE (and AUTH attempts) through both clients; returns every span and the metrics text. */
  const exported = (recordArguments: boolean) =>
    Effect.gen(function*() {
      const receiver = yield* otlpReceiver
      const server = yield* RedisServer.make({
        password: PASSWORD,
        aclUsers: [{ name: "app", password: ACL_PASSWORD, rules: "~* +@all" }]
      })
      const middleware = [Tracing.middleware({ recordArguments }), Metrics.middleware()]
      yield* Effect.scoped(Effect.gen(function*() {
        const asDefault = yield* Standalone.make({ port: server.port, password: PASSWORD, middleware })
        const asApp = yield* Standalone.make({ port: server.port, username: "app", password: ACL_PASSWORD, middleware })
        for (const redis of [asDefault, asApp]) {
          yield* redis.set("secret:key", VALUE)
          yield* redis.get("secret:key")
          yield* redis.pipeline([Commands.set("secret:p", VALUE), Commands.get("secret:p")])
          yield* redis.transaction([Commands.set("secret:t", VALUE)])
          yield* Effect.flip(redis.incr("secret:key"))
          // AUTH by hand: refused before sending on the caller's path, and
          // written on a borrowed connection (a span of its own).
          yield* Effect.flip(redis.execute(Commands.auth(ACL_PASSWORD, "app")))
          yield* redis.withConnection((c) => c.send(Commands.auth(ACL_PASSWORD, "app")))
          // A command the server does not know: its error reply quotes the
          // arguments (with recordArguments on, an argument is recorded as
          // such, so this one runs only with it off).
          if (!recordArguments) yield* Effect.flip(redis.execute(Command.make(["NOSUCHCMD", ACL_PASSWORD], Command.Reply.raw)))
          yield* server.clientKill("TYPE", "normal")
          yield* redis.get("secret:key")
        }
      })).pipe(Effect.provide(Layer.merge(otlpTracing(receiver.url), NodeTransport.layer)))
      return { spans: receiver.raw(), parsed: receiver.spans(), metrics: yield* prometheus }
    }).pipe(Effect.scoped, isolatedMetrics)

  it.live("with recordArguments off, no span and no metric holds a password or a value", () =>
    Effect.gen(function*() {
      const { metrics, parsed, spans } = yield* exported(false)
      assert.isAtLeast(parsed.length, 10, "the spans were exported")
      assert.isTrue(parsed.some((s) => s.name === "NOSUCHCMD" && s.status.code === 2), "the unknown command failed")
      assert.include(metrics, "redis_command_duration_seconds")
      for (const secret of [PASSWORD, ACL_PASSWORD, VALUE]) {
        assert.notInclude(spans, secret)
        assert.notInclude(metrics, secret)
      }
    }))

  it.live("with recordArguments on, values appear in db.query.text; passwords still never", () =>
    Effect.gen(function*() {
      const { metrics, parsed, spans } = yield* exported(true)
      assert.include(spans, VALUE, "the search can see what is exported")
      assert.isTrue(parsed.some((s) => s.attributes["db.query.text"] === "AUTH ? ?"))
      for (const secret of [PASSWORD, ACL_PASSWORD]) {
        assert.notInclude(spans, secret)
        assert.notInclude(metrics, secret)
      }
      assert.notInclude(metrics, VALUE)
    }))
})
