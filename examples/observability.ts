/**
 * `node examples/observability.ts`: tracing and metrics, opt-in, on an
 * embedded redis-server.
 *
 * It starts a throwaway redis-server (with `@redis-effect/testing`) and a
 * small OTLP/HTTP receiver on 127.0.0.1 that prints each span it is sent
 * (standing in for an OpenTelemetry Collector). The client gets both
 * middlewares from a layer (`Tracing.layer`, `Metrics.layer`); spans go out
 * through `effect/observability`'s OTLP tracer (JSON over `fetch`), metrics
 * are printed with its Prometheus formatter. Nothing here is needed to use
 * the library; it shows the API in use.
 */
import { NodeClient } from "@redis-effect/node"
import { Commands, Redis, RedisError } from "@redis-effect/redis"
import * as Metrics from "@redis-effect/redis/Metrics"
import * as Tracing from "@redis-effect/redis/Tracing"
import { RedisServer } from "@redis-effect/testing"
import { Console, Effect, Layer } from "effect"
import * as FetchHttpClient from "effect/http/FetchHttpClient"
import { OtlpSerialization, OtlpTracer, PrometheusMetrics } from "effect/observability"
import * as Http from "node:http"

// An OTLP/HTTP receiver that keeps a line per span it gets: the name, then
// the attributes worth a glance.
const received: Array<string> = []
const receiver = Effect.acquireRelease(
  Effect.callback<Http.Server>((resume) => {
    const server = Http.createServer((request, response) => {
      const chunks: Array<Buffer> = []
      request.on("data", (chunk: Buffer) => chunks.push(chunk))
      request.on("end", () => {
        const body = JSON.parse(Buffer.concat(chunks).toString("utf8"))
        for (const resource of body.resourceSpans) {
          for (const scope of resource.scopeSpans) {
            for (const span of scope.spans) {
              const attributes = Object.fromEntries(
                span.attributes.map((a: any) => [a.key, Object.values(a.value)[0]])
              )
              const shown = ["db.operation.name", "db.operation.batch.size", "server.port", "redis.attempts", "error.type", "db.response.status_code"]
                .filter((k) => attributes[k] !== undefined)
                .map((k) => `${k}=${attributes[k]}`)
              received.push(`span ${JSON.stringify(span.name)} ${shown.join(" ")}`)
            }
          }
        }
        response.writeHead(200, { "content-type": "application/json" })
        response.end("{}")
      })
    })
    server.listen(0, "127.0.0.1", () => resume(Effect.succeed(server)))
  }),
  (server) =>
    Effect.callback<void>((resume) => {
      server.close(() => resume(Effect.void))
    })
)

const program = Effect.gen(function*() {
  const redis = yield* Redis.Redis
  // Connection, topology and pub/sub metrics come from the client's events.
  yield* Metrics.track(redis)

  yield* Console.log("\n— commands (each is one span, and one duration sample)")
  yield* redis.set("user:1", "ada")
  yield* redis.get("user:1")
  yield* redis.pipeline([Commands.incr("visits"), Commands.incr("visits"), Commands.get("visits")])
  yield* redis.transaction([Commands.hset("account:1", { balance: "100" }), Commands.hincrby("account:1", "balance", -30)])
  yield* redis.rpush("a-list", ["x"])
  const error = yield* Effect.flip(redis.incr("a-list"))
  yield* Console.log(`incr on a list -> ${error.reason._tag}`)
  // A command inside the application's own span is its child.
  yield* Effect.withSpan(redis.get("user:1"), "handle-request")
  yield* Effect.forEach(Array.from({ length: 1000 }), () => redis.incr("hits"), { concurrency: 50, discard: true })
})

const main = Effect.gen(function*() {
  const server = yield* RedisServer.make()
  const otlp = yield* receiver
  const { port } = otlp.address() as { port: number }
  yield* Console.log(`redis-server on 127.0.0.1:${server.port}; OTLP receiver on 127.0.0.1:${port}`)

  // Both middlewares for every client built in this layer's context; the
  // metrics one reads what the tracing one put there and adds itself.
  const observability = Metrics.layer().pipe(Layer.provide(Tracing.layer({ database: 0 })))
  const client = NodeClient.layer({ port: server.port, clientName: "observability" }).pipe(Layer.provide(observability))
  const tracer = OtlpTracer.layer({
    url: `http://127.0.0.1:${port}/v1/traces`,
    exportInterval: "500 millis",
    resource: { serviceName: "observability-example" }
  }).pipe(Layer.provide([OtlpSerialization.layerJson, FetchHttpClient.layer]))

  // Closing the tracer's layer flushes the spans still buffered.
  yield* Effect.scoped(Effect.gen(function*() {
    yield* program
    yield* Console.log("\n— a CLIENT KILL: the shared connection reconnects (a disconnect, then a reconnect)")
    yield* server.clientKill("TYPE", "normal")
    yield* Effect.sleep("300 millis")
  })).pipe(Effect.provide(Layer.merge(client, tracer)))

  yield* Console.log(`\n— the receiver got ${received.length} spans; each kind once, with its count:`)
  const counts = new Map<string, number>()
  for (const line of received) counts.set(line, (counts.get(line) ?? 0) + 1)
  for (const [line, n] of counts) yield* Console.log(`  ${line}${n > 1 ? `  (x${n})` : ""}`)

  yield* Console.log("\n— metrics, in the Prometheus text format (an excerpt):")
  const text = yield* PrometheusMetrics.format()
  const excerpt = text.split("\n").filter((line) =>
    line.startsWith("# TYPE redis_") ||
    (line.startsWith("redis_") && !line.includes("_bucket{"))
  )
  yield* Console.log(excerpt.join("\n"))
})

Effect.runPromise(Effect.scoped(main)).then(
  () => process.exit(0),
  (error) => {
    console.error(RedisError.isRedisError(error) ? error.message : error)
    process.exit(1)
  }
)
