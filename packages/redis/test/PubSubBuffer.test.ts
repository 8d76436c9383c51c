/**
 * The bounded buffer of a subscription (`internal/SubscriptionBuffer.ts`)
 * and what the `PubSub`/`Redis` surface makes of it:
 *
 * - pure: `dropping` keeps the oldest run and marks the tail, `sliding`
 *   keeps the newest and marks the head; runs of drops merge into one gap
 *   at the place the messages went missing; gap events are never dropped;
 *   without a gap function drops are only counted; a random mix of offers
 *   and takes keeps every invariant (delivered + dropped = offered, order,
 *   each gap's count equal to the jump in sequence numbers, bounded size).
 * - effectful: the stream over a buffer (`pull`) waits for an offer, takes
 *   whole batches, and a consumer that sleeps (`TestClock`) gets the first
 *   `capacity` messages then one overflow gap; the trailing gap comes even
 *   when nothing is published after the drops.
 * - `Redis.fromBackend` splits the trailing buffer options off the names
 *   and reads `pubsubDropped` from the backend; `PubSub.make` refuses bad
 *   buffer options before it opens anything.
 */
import { assert, describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"
import * as Stream from "effect/Stream"
import { TestClock } from "effect/testing"
import { pull, type Strategy, SubscriptionBuffer } from "../src/internal/SubscriptionBuffer.ts"
import * as PubSub from "../src/PubSub.ts"
import * as Redis from "../src/Redis.ts"
import * as RedisConfig from "../src/RedisConfig.ts"
import * as RedisError from "../src/RedisError.ts"
import { Transport } from "../src/Transport.ts"

interface Gap {
  readonly gap: number
}
type Item = number | Gap | string

const gapOf = (dropped: number): Gap => ({ gap: dropped })
const withGaps = (capacity: number, strategy: Strategy) => new SubscriptionBuffer<number | string, Gap | string>(capacity, strategy, gapOf)
const offerRange = (buffer: SubscriptionBuffer<number | string, unknown>, from: number, to: number) => {
  let dropped = 0
  for (let i = from; i <= to; i++) if (buffer.offer(i)) dropped++
  return dropped
}

describe("SubscriptionBuffer: dropping", () => {
  it("under capacity nothing is dropped and order is kept", () => {
    const buffer = withGaps(3, "dropping")
    assert.strictEqual(offerRange(buffer, 1, 3), 0)
    assert.deepStrictEqual(buffer.takeAll(), [1, 2, 3])
    assert.strictEqual(buffer.size, 0)
    assert.strictEqual(buffer.dropped, 0)
  })

  it("keeps the oldest run; one gap at the tail counts the newcomers dropped", () => {
    const buffer = withGaps(3, "dropping")
    assert.strictEqual(offerRange(buffer, 1, 5), 2)
    assert.deepStrictEqual(buffer.takeAll(), [1, 2, 3, { gap: 2 }])
    assert.strictEqual(buffer.dropped, 2)
  })

  it("after a take the buffer fills again and a new run gets its own gap", () => {
    const buffer = withGaps(2, "dropping")
    offerRange(buffer, 1, 4)
    assert.deepStrictEqual(buffer.takeAll(), [1, 2, { gap: 2 }])
    offerRange(buffer, 5, 9)
    assert.deepStrictEqual(buffer.takeAll(), [5, 6, { gap: 3 }])
    assert.strictEqual(buffer.dropped, 5)
  })

  it("a gap event is never dropped nor counted against the capacity", () => {
    const buffer = withGaps(2, "dropping")
    offerRange(buffer, 1, 2)
    buffer.offerGap("reconnect")
    offerRange(buffer, 3, 4)
    assert.deepStrictEqual(buffer.takeAll(), [1, 2, "reconnect", { gap: 2 }])
  })

  it("without a gap function drops are only counted", () => {
    const buffer = new SubscriptionBuffer<number, never>(3, "dropping")
    assert.strictEqual(offerRange(buffer, 1, 10), 7)
    assert.deepStrictEqual(buffer.takeAll(), [1, 2, 3])
    assert.strictEqual(buffer.dropped, 7)
  })
})

describe("SubscriptionBuffer: sliding", () => {
  it("keeps the newest; one gap at the head counts the oldest dropped", () => {
    const buffer = withGaps(3, "sliding")
    assert.strictEqual(offerRange(buffer, 1, 5), 2)
    assert.deepStrictEqual(buffer.takeAll(), [{ gap: 2 }, 3, 4, 5])
  })

  it("a gap event at the head stays first; the overflow gap follows it", () => {
    const buffer = withGaps(2, "sliding")
    buffer.offerGap("reconnect")
    offerRange(buffer, 1, 5)
    assert.deepStrictEqual(buffer.takeAll(), ["reconnect", { gap: 3 }, 4, 5])
  })

  it("a gap event between messages keeps its place while older messages go", () => {
    const buffer = withGaps(3, "sliding")
    offerRange(buffer, 1, 2)
    buffer.offerGap("reconnect")
    offerRange(buffer, 3, 5)
    // 1 and 2 went; the reconnect came after them, so the overflow gap is first.
    assert.deepStrictEqual(buffer.takeAll(), [{ gap: 2 }, "reconnect", 3, 4, 5])
  })

  it("a long run stays one gap and the buffer stays small (the dead prefix is compacted)", () => {
    const buffer = withGaps(3, "sliding")
    offerRange(buffer, 1, 100_000)
    assert.strictEqual(buffer.size, 4)
    assert.deepStrictEqual(buffer.takeAll(), [{ gap: 99_997 }, 99_998, 99_999, 100_000])
  })

  it("without a gap function drops are only counted", () => {
    const buffer = new SubscriptionBuffer<number, never>(3, "sliding")
    offerRange(buffer, 1, 10)
    assert.deepStrictEqual(buffer.takeAll(), [8, 9, 10])
    assert.strictEqual(buffer.dropped, 7)
  })
})

// A small deterministic generator (mulberry32), so a failure replays.
const random = (seed: number) => () => {
  seed |= 0
  seed = (seed + 0x6D2B79F5) | 0
  let t = Math.imul(seed ^ (seed >>> 15), 1 | seed)
  t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t
  return ((t ^ (t >>> 14)) >>> 0) / 4294967296
}

describe("SubscriptionBuffer: invariants under a random mix of offers and takes", () => {
  for (const strategy of ["dropping", "sliding"] as const) {
    it(`${strategy}: delivered + dropped = offered, in order, each gap equal to the jump it covers`, () => {
      for (let seed = 1; seed <= 50; seed++) {
        const next = random(seed)
        const capacity = 1 + Math.floor(next() * 20)
        const buffer = withGaps(capacity, strategy)
        let offered = 0
        const taken: Array<Item> = []
        for (let step = 0; step < 2000; step++) {
          if (next() < 0.8) buffer.offer(++offered)
          else taken.push(...buffer.takeAll())
          assert.isAtMost(buffer.size, capacity + 1, `seed ${seed}`)
        }
        taken.push(...buffer.takeAll())
        let expected = 1
        let delivered = 0
        let dropped = 0
        for (const item of taken) {
          if (typeof item === "number") {
            assert.strictEqual(item, expected, `seed ${seed}: order`)
            expected++
            delivered++
          } else if (typeof item === "object") {
            assert.isAbove(item.gap, 0)
            expected += item.gap
            dropped += item.gap
          }
        }
        assert.strictEqual(delivered + dropped, offered, `seed ${seed}`)
        assert.strictEqual(dropped, buffer.dropped, `seed ${seed}`)
      }
    })
  }
})

describe("SubscriptionBuffer.pull", () => {
  it.effect("waits for an offer, then takes the whole batch", () =>
    Effect.gen(function*() {
      const buffer = withGaps(10, "dropping")
      const fiber = yield* Effect.forkChild(pull(buffer))
      yield* Effect.yieldNow
      assert.isDefined(buffer.waiter)
      buffer.offer(1)
      buffer.offer(2)
      assert.deepStrictEqual(yield* Fiber.join(fiber), [1, 2])
      buffer.offer(3)
      assert.deepStrictEqual(yield* pull(buffer), [3])
    }))

  it.effect("an interrupted pull leaves no waiter behind", () =>
    Effect.gen(function*() {
      const buffer = withGaps(10, "dropping")
      const fiber = yield* Effect.forkChild(pull(buffer))
      yield* Effect.yieldNow
      yield* Fiber.interrupt(fiber)
      assert.isUndefined(buffer.waiter)
    }))

  it.effect("a consumer that sleeps gets the oldest run, then the gap, even when nothing follows the drops", () =>
    Effect.gen(function*() {
      const buffer = withGaps(5, "dropping")
      const seen: Array<Item> = []
      const fiber = yield* Stream.fromPull(Effect.succeed(pull(buffer))).pipe(
        Stream.runForEach((item) => Effect.andThen(Effect.sync(() => seen.push(item)), Effect.sleep("10 millis"))),
        Effect.forkChild
      )
      yield* Effect.yieldNow
      // A burst while the consumer is busy with the first message.
      offerRange(buffer, 1, 1)
      yield* Effect.yieldNow
      offerRange(buffer, 2, 1000)
      yield* TestClock.adjust("1 second")
      assert.deepStrictEqual(seen, [1, 2, 3, 4, 5, 6, { gap: 994 }])
      assert.strictEqual(buffer.dropped, 994)
      yield* Fiber.interrupt(fiber)
    }))
})

describe("PubSub.bufferProblem", () => {
  it("accepts positive integers and the two strategies", () => {
    assert.isUndefined(PubSub.bufferProblem(undefined))
    assert.isUndefined(PubSub.bufferProblem({ bufferSize: 1, strategy: "sliding" }))
    assert.isUndefined(PubSub.bufferProblem({ strategy: "dropping" }))
  })

  it("refuses zero, fractions, infinity and unknown strategies", () => {
    for (const bufferSize of [0, -1, 1.5, Number.POSITIVE_INFINITY, Number.NaN]) {
      assert.isDefined(PubSub.bufferProblem({ bufferSize }), String(bufferSize))
    }
    assert.isDefined(PubSub.bufferProblem({ strategy: "suspend" as never }))
  })
})

// A transport that must not be used: the checks run before any connection.
const noTransport = Transport.of({ open: () => Effect.die("no connection expected") })

const failureOf = <A>(stream: Stream.Stream<A, RedisError.RedisError>) =>
  Effect.map(Effect.exit(Stream.runDrain(stream)), (exit) => {
    assert.isTrue(Exit.isFailure(exit))
    return RedisError.failureOf(exit as Exit.Exit<never, RedisError.RedisError>)
  })

describe("PubSub.make: buffer options", () => {
  it.effect("a subscribe call with a bad bufferSize fails InvalidArgument/NotSent before connecting", () =>
    Effect.gen(function*() {
      const pubsub = yield* PubSub.make({ endpoint: RedisConfig.tcp("127.0.0.1", 1) })
      const error = yield* failureOf(pubsub.subscribe("channel", ["a"], { bufferSize: 0 }))
      assert.strictEqual(error?.reason._tag, "InvalidArgument")
      assert.strictEqual(error?.outcome, "NotSent")
      assert.strictEqual(pubsub.dropped?.(), 0)
    }).pipe(Effect.scoped, Effect.provideService(Transport, noTransport)))

  it.effect("a bad client-wide subscriptionBuffer fails validate and every subscription", () =>
    Effect.gen(function*() {
      const options: PubSub.Options = { endpoint: RedisConfig.tcp("127.0.0.1", 1), subscriptionBuffer: { bufferSize: -3 } }
      const invalid = yield* Effect.flip(PubSub.validate(options))
      assert.strictEqual(invalid.reason._tag, "InvalidArgument")
      const pubsub = yield* PubSub.make(options)
      const error = yield* failureOf(pubsub.subscribeEvents!("channel", ["a"]))
      assert.strictEqual(error?.reason._tag, "InvalidArgument")
      assert.include(error?.message ?? "", "bufferSize")
    }).pipe(Effect.scoped, Effect.provideService(Transport, noTransport)))
})

describe("Redis.fromBackend: subscribe arguments", () => {
  const recording = (dropped?: () => number) => {
    const calls: Array<{ method: string; kind: PubSub.Kind; names: ReadonlyArray<unknown>; buffer: unknown }> = []
    const record = (method: string) => (kind: PubSub.Kind, names: ReadonlyArray<unknown>, buffer?: PubSub.BufferOptions) => {
      calls.push({ method, kind, names, buffer })
      return Stream.empty
    }
    const pubsub: PubSub.PubSub = {
      subscribe: record("subscribe"),
      subscribeEvents: record("subscribeEvents"),
      subscribeBytes: record("subscribeBytes"),
      generation: () => 0,
      dropped
    }
    const redis = Redis.fromBackend({
      execute: () => Effect.die("unused"),
      executeAll: () => Effect.die("unused"),
      withDedicated: () => Effect.die("unused"),
      pubsub,
      monitorConnection: () => Effect.die("unused")
    })
    return { redis, calls }
  }

  it("a trailing options object is the buffer; names stay names", () => {
    const { calls, redis } = recording()
    redis.subscribe("a", "b", { bufferSize: 5 })
    redis.psubscribeWithGaps("p:*", { strategy: "sliding" })
    redis.ssubscribe("s")
    const bytes = new Uint8Array([0xff])
    redis.subscribeBytes(bytes, "c", { bufferSize: 7, strategy: "sliding" })
    redis.ssubscribeBytes(bytes)
    assert.deepStrictEqual(calls, [
      { method: "subscribe", kind: "channel", names: ["a", "b"], buffer: { bufferSize: 5 } },
      { method: "subscribeEvents", kind: "pattern", names: ["p:*"], buffer: { strategy: "sliding" } },
      { method: "subscribe", kind: "shard", names: ["s"], buffer: undefined },
      { method: "subscribeBytes", kind: "channel", names: [bytes, "c"], buffer: { bufferSize: 7, strategy: "sliding" } },
      { method: "subscribeBytes", kind: "shard", names: [bytes], buffer: undefined }
    ])
  })

  it.effect("pubsubDropped reads the backend's count, 0 when it keeps none", () =>
    Effect.gen(function*() {
      let n = 3
      assert.strictEqual(yield* recording(() => n).redis.pubsubDropped, 3)
      n = 4
      assert.strictEqual(yield* recording(() => n).redis.pubsubDropped, 4)
      assert.strictEqual(yield* recording().redis.pubsubDropped, 0)
    }))
})
