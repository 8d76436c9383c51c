/**
 * Bounded subscriptions against a real redis-server: a million messages
 * published to subscribers whose consumers sleep. The client's memory
 * stays under a bound set by the buffer size (sampled with
 * `process.memoryUsage()` while it runs), every dropped message is
 * reported (an `overflow` gap whose count is exactly the jump in sequence
 * numbers it covers: delivered + dropped = published), a plain `subscribe`
 * stream is bounded too (its drops counted in `pubsubDropped`), and a fast
 * subscription on the same connection keeps receiving while the slow ones
 * overflow. A `sliding` buffer asked for on the subscribe call keeps the
 * newest messages and reports the drops before them. The measured numbers
 * are printed.
 */
import { assert, describe, it } from "@effect/vitest"
import * as Commands from "@redis-effect/redis/Commands"
import type * as PubSub from "@redis-effect/redis/PubSub"
import * as Redis from "@redis-effect/redis/Redis"
import type * as RedisError from "@redis-effect/redis/RedisError"
import * as Effect from "effect/Effect"
import * as Stream from "effect/Stream"
import { eventually, extraClient, key, serverWithClient } from "./redis-helpers.ts"

const PUBLISHED = 1_000_000
const BATCH = 10_000
const BUFFER = 1_000
// Two slow subscriptions: each holds at most BUFFER waiting plus one batch
// of BUFFER in its consumer's hands. A KiB per message is far more than a
// short message costs; the slack covers the young generation's garbage
// (the parse loop allocates per frame) and the test's own bookkeeping.
// Unbounded (bufferSize 2 000 000), the same run measured +178 MiB of heap
// and +239 MiB of rss; bounded, +13 MiB and +19 MiB.
const HEAP_BOUND = 64 * 1024 * 1024 + 2 * 2 * BUFFER * 1024
const RSS_BOUND = 128 * 1024 * 1024

// Publishes ARGV[2]..ARGV[3] (the sequence numbers) to ARGV[1], server-side.
const BURST = "for i = tonumber(ARGV[2]), tonumber(ARGV[3]) do redis.call('PUBLISH', ARGV[1], i) end return 0"

// Published until every consumer has one: then each stream is listening.
const WARM = "warm"

const mib = (bytes: number) => `${(bytes / 1024 / 1024).toFixed(1)} MiB`

/**
 * A consumer of a gap stream that sleeps 1 ms per message: counts what it
 * gets and checks each overflow gap against the jump in sequence numbers
 * it covers (both strategies keep the order of what they keep).
 */
const slowGapConsumer = (stream: Stream.Stream<PubSub.Event, RedisError.RedisError>) =>
  Effect.gen(function*() {
    const seen = { warm: false, delivered: 0, dropped: 0, gaps: 0, next: 1, last: 0, misplaced: 0, otherGaps: 0 }
    yield* Effect.forkScoped(Stream.runForEach(stream, (event) => {
      if (event.kind === "gap") {
        return Effect.sync(() => {
          if (event.reason !== "overflow" || event.dropped === undefined) {
            seen.otherGaps++
            return
          }
          seen.gaps++
          seen.dropped += event.dropped
          seen.next += event.dropped
        })
      }
      if (event.payload === WARM) return Effect.sync(() => (seen.warm = true))
      return Effect.andThen(
        Effect.sync(() => {
          const n = Number(event.payload)
          if (n !== seen.next) seen.misplaced++
          seen.next = n + 1
          seen.last = n
          seen.delivered++
        }),
        Effect.sleep("1 millis")
      )
    }))
    return seen
  })

describe("bounded subscriptions", () => {
  it.layer(serverWithClient({}, { subscriptionBuffer: { bufferSize: BUFFER } }), { excludeTestServices: true })(
    "standalone",
    (it) => {
      it.effect(
        "1M messages to consumers that sleep: memory stays bounded, every drop is reported, a fast subscription keeps receiving",
        () =>
          Effect.gen(function*() {
            const redis = yield* Redis.Redis
            const publisher = yield* extraClient()
            const flood = key("flood")
            const side = key("side")

            // The gap stream, with the client's buffer (dropping).
            const slow = yield* slowGapConsumer(redis.subscribeWithGaps(flood))
            // A plain stream on the same channel, as slow: bounded too.
            const plain = { warm: false, delivered: 0 }
            yield* Effect.forkScoped(Stream.runForEach(redis.subscribe(flood), (m) =>
              m.payload === WARM ? Effect.sync(() => (plain.warm = true)) : Effect.andThen(
                Effect.sync(() => {
                  plain.delivered++
                }),
                Effect.sleep("1 millis")
              )))
            // A fast one on the same connection.
            const sideGot: Array<number> = []
            let sideWarm = false
            let slowTotalWhenSideDone = -1
            yield* Effect.forkScoped(Stream.runForEach(redis.subscribe(side), (m) =>
              Effect.sync(() => {
                if (m.payload === WARM) return void (sideWarm = true)
                sideGot.push(Number(m.payload))
                if (sideGot.length === PUBLISHED / BATCH) slowTotalWhenSideDone = slow.delivered + slow.dropped
              })))
            yield* eventually(
              "every stream is listening",
              Effect.andThen(
                Effect.all([publisher.publish(flood, WARM), publisher.publish(side, WARM)]),
                Effect.sync(() => slow.warm && plain.warm && sideWarm)
              )
            )
            const generation = yield* redis.pubsubGeneration
            const droppedBefore = yield* redis.pubsubDropped

            const baseline = process.memoryUsage()
            const peak = { heapUsed: baseline.heapUsed, rss: baseline.rss, samples: 0 }
            yield* Effect.forkScoped(Effect.forever(Effect.andThen(
              Effect.sync(() => {
                const now = process.memoryUsage()
                peak.heapUsed = Math.max(peak.heapUsed, now.heapUsed)
                peak.rss = Math.max(peak.rss, now.rss)
                peak.samples++
              }),
              Effect.sleep("20 millis")
            )))

            const started = Date.now()
            for (let from = 1, b = 0; from <= PUBLISHED; from += BATCH, b++) {
              yield* publisher.execute(Commands.evalScript(BURST, [], [flood, String(from), String(from + BATCH - 1)]))
              yield* publisher.publish(side, String(b))
            }
            const publishedIn = Date.now() - started

            // The fast subscription has everything long before the slow ones
            // are through their buffers.
            yield* eventually("the fast subscription received every message", Effect.sync(() => sideGot.length === PUBLISHED / BATCH), {
              times: 600,
              intervalMs: 50
            })
            yield* eventually(
              "the gap stream accounted for every message",
              Effect.sync(() => slow.delivered + slow.dropped === PUBLISHED),
              { times: 1200, intervalMs: 50 }
            )
            yield* eventually(
              "the plain stream accounted for every message",
              Effect.map(redis.pubsubDropped, (d) => plain.delivered + (d - droppedBefore - slow.dropped) === PUBLISHED),
              { times: 1200, intervalMs: 50 }
            )
            const drainedIn = Date.now() - started
            const pubsubDropped = (yield* redis.pubsubDropped) - droppedBefore

            const measured = {
              published: PUBLISHED,
              bufferSize: BUFFER,
              publishedInMs: publishedIn,
              drainedInMs: drainedIn,
              gapStream: { delivered: slow.delivered, dropped: slow.dropped, overflowGaps: slow.gaps },
              plainStream: { delivered: plain.delivered, dropped: pubsubDropped - slow.dropped },
              pubsubDropped,
              fastStream: { received: sideGot.length, slowTotalWhenItWasDone: slowTotalWhenSideDone },
              heapUsed: {
                baseline: mib(baseline.heapUsed),
                peak: mib(peak.heapUsed),
                growth: mib(peak.heapUsed - baseline.heapUsed),
                bound: mib(HEAP_BOUND)
              },
              rss: {
                baseline: mib(baseline.rss),
                peak: mib(peak.rss),
                growth: mib(peak.rss - baseline.rss),
                bound: mib(RSS_BOUND)
              },
              memorySamples: peak.samples
            }
            console.log(`pubsub-bounded: ${JSON.stringify(measured, null, 2)}`)

            // Bounded memory.
            assert.isAbove(peak.samples, 10, "memory was sampled during the run")
            assert.isBelow(peak.heapUsed - baseline.heapUsed, HEAP_BOUND, "heap growth")
            assert.isBelow(peak.rss - baseline.rss, RSS_BOUND, "rss growth")
            // Every drop reported, at its place; nothing else went missing.
            assert.strictEqual(slow.delivered + slow.dropped, PUBLISHED)
            assert.isAbove(slow.dropped, 0, "a consumer sleeping 1 ms per message cannot keep up")
            assert.isAbove(slow.gaps, 0)
            assert.strictEqual(slow.misplaced, 0, "each gap covers exactly the sequence numbers missing")
            assert.strictEqual(slow.otherGaps, 0, "no reconnect: the server never cut the subscriber off")
            assert.strictEqual(yield* redis.pubsubGeneration, generation)
            // The plain stream is bounded the same way, its drops counted.
            assert.isAbove(pubsubDropped - slow.dropped, 0)
            assert.strictEqual(plain.delivered + (pubsubDropped - slow.dropped), PUBLISHED)
            // The fast subscription was not held behind the slow ones.
            assert.deepStrictEqual(sideGot, Array.from({ length: PUBLISHED / BATCH }, (_, i) => i))
            assert.isBelow(slowTotalWhenSideDone, PUBLISHED, "the fast stream was done before the slow ones drained")
          }),
        180_000
      )

      it.effect("sliding, asked for on the subscribe call: the newest messages are kept, the drops reported before them", () =>
        Effect.gen(function*() {
          const redis = yield* Redis.Redis
          const publisher = yield* extraClient()
          const channel = key("sliding")
          const total = 100_000
          const size = 100
          const slow = yield* slowGapConsumer(redis.subscribeWithGaps(channel, { bufferSize: size, strategy: "sliding" }))
          yield* eventually("listening", Effect.andThen(publisher.publish(channel, WARM), Effect.sync(() => slow.warm)))
          for (let from = 1; from <= total; from += BATCH) {
            yield* publisher.execute(Commands.evalScript(BURST, [], [channel, String(from), String(from + BATCH - 1)]))
          }
          yield* eventually("every message accounted for", Effect.sync(() => slow.delivered + slow.dropped === total), {
            times: 600,
            intervalMs: 50
          })
          console.log(`pubsub-bounded (sliding): ${JSON.stringify({ published: total, bufferSize: size, ...slow })}`)
          assert.strictEqual(slow.misplaced, 0, "each gap covers exactly the sequence numbers missing")
          assert.strictEqual(slow.otherGaps, 0)
          assert.isAbove(slow.dropped, 0)
          // The newest survive: the last message published is the last one seen.
          assert.strictEqual(slow.last, total)
        }))
    }
  )
})
