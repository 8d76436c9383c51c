/**
 * A coordinated `CLUSTER FAILOVER` (without FORCE) is invisible to callers:
 * 40 writers append unique values across many slots while the shards fail
 * over one after another, back and forth, and no caller sees an error, no
 * acknowledged value is lost and none is stored twice.
 *
 * What makes this hard: during a manual failover the old primary pauses
 * writes (the server's CLIENT PAUSE WRITE of the failover) with our writes
 * in flight on its connection, then answers them with MOVED once it is a
 * replica. A topology refresh taken in that window can leave the old primary
 * out of the view for a moment (CLUSTER SHARDS lists it as a primary without
 * slots, CLUSTER SLOTS not at all); the client must not close a connection
 * whose writes are still awaiting replies, or they fail `Closed`/`Unknown`.
 */
import { assert, describe, it } from "@effect/vitest"
import { NodeTransport } from "@redis-effect/node"
import * as Cluster from "@redis-effect/redis/Cluster"
import type * as Redis from "@redis-effect/redis/Redis"
import * as RedisError from "@redis-effect/redis/RedisError"
import { RedisCluster } from "@redis-effect/testing"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"
import * as Stream from "effect/Stream"

const WRITERS = 40
const FAILOVERS = 6
// Slots the writers spread over: every shard holds some of them.
const SLOT_TAGS = 1024
// One slot in each of the three shards `redis-cli --cluster create` makes.
const SHARD_SLOTS = [0, 8000, 16000]

// W1 (docs/GUARANTEES.md): each writer appends unique values to keys of its
// own, spread over many slots; every acknowledgement and every caller error
// (by reason and outcome, with its first message) is recorded.
const appendLog = (redis: Redis.RedisShape) => {
  const acked = new Set<string>()
  const failed = new Set<string>()
  const errors: Record<string, number> = {}
  const messages: Record<string, string> = {}
  let stop = false
  const writer = (w: number) =>
    Effect.gen(function*() {
      for (let seq = 0; !stop; seq++) {
        const key = `fo:${w}:{${(w * 7919 + seq) % SLOT_TAGS}}`
        const value = `${w}:${seq}`
        const exit = yield* Effect.exit(redis.rpush(key, [value]))
        if (Exit.isSuccess(exit)) {
          acked.add(`${key}|${value}`)
          continue
        }
        const e = RedisError.failureOf(exit)
        const k = e === undefined ? "defect" : `${e.reason._tag}/${e.outcome}`
        errors[k] = (errors[k] ?? 0) + 1
        messages[k] ??= e === undefined ? String(exit.cause) : (e.reason as { message?: string }).message ?? ""
        failed.add(`${key}|${value}`)
        yield* Effect.sleep("10 millis")
      }
    })
  return {
    acked,
    failed,
    errors,
    messages,
    run: Effect.forEach(Array.from({ length: WRITERS }, (_, w) => w), writer, {
      concurrency: "unbounded",
      discard: true
    }),
    stop: () => {
      stop = true
    }
  }
}

// Reads every list back: acknowledged values missing (lost), values stored
// twice (a resend that had run), and values whose caller saw an error but
// that are stored anyway (a write that failed Unknown and ran).
const verify = (redis: Redis.RedisShape, log: ReturnType<typeof appendLog>) =>
  Effect.gen(function*() {
    const keys = new Set([...log.acked, ...log.failed].map((a) => a.split("|")[0]))
    const stored = new Map<string, number>()
    yield* Effect.forEach(keys, (key) =>
      Effect.map(redis.lrange(key, 0, -1), (items) => {
        for (const item of items) stored.set(`${key}|${item}`, (stored.get(`${key}|${item}`) ?? 0) + 1)
      }), { concurrency: 20, discard: true })
    return {
      lost: [...log.acked].filter((a) => !stored.has(a)).length,
      duplicates: [...stored.values()].filter((n) => n > 1).length,
      failedButStored: [...log.failed].filter((a) => stored.has(a)).length,
      stored: stored.size
    }
  })

describe("CLUSTER FAILOVER is invisible to callers", () => {
  it.live(
    `${FAILOVERS} coordinated failovers under ${WRITERS} writers: no caller error, nothing acknowledged lost, no duplicate`,
    () =>
      Effect.gen(function*() {
        const cluster = yield* RedisCluster.make()
        const { redis } = yield* Cluster.make({ nodes: [`127.0.0.1:${cluster.startupNodes[0].port}`] }).pipe(
          Effect.provide(NodeTransport.layer)
        )
        const t0 = Date.now()
        const at = () => `+${Date.now() - t0} ms`
        // What the client saw of its nodes, for the log when something fails.
        const seen: Array<string> = []
        yield* redis.events.pipe(
          Stream.runForEach((event) =>
            Effect.sync(() => {
              if (event._tag === "Connection") {
                const e = event.event
                if (e._tag === "Closed" || e._tag === "Disconnected") seen.push(`${at()} ${e._tag} ${e.node}`)
              } else if (event._tag === "NodeRemoved" || event._tag === "FailoverObserved") {
                seen.push(`${at()} ${JSON.stringify(event)}`)
              }
            })
          ),
          Effect.forkScoped
        )
        const log = appendLog(redis)
        const load = yield* Effect.forkChild(log.run)
        yield* Effect.sleep("300 millis")

        const timings: Array<string> = []
        const ackedDuring: Array<number> = []
        for (let i = 0; i < FAILOVERS; i++) {
          // Shard by shard (named by a slot each serves), so every primary
          // is demoted once and promoted back once: back and forth.
          const primary = yield* cluster.slotOwner(SHARD_SLOTS[i % SHARD_SLOTS.length])
          const [replica] = yield* cluster.replicasOf(primary)
          assert.isDefined(replica, `127.0.0.1:${primary.port} has a live replica`)
          const before = log.acked.size
          const started = Date.now()
          yield* cluster.failover(replica)
          const took = Date.now() - started
          yield* Effect.sleep("500 millis")
          ackedDuring.push(log.acked.size - before)
          timings.push(`${primary.port}->${replica.port} ${took} ms (+${log.acked.size - before} acked)`)
        }
        log.stop()
        yield* Fiber.join(load)
        const result = yield* verify(redis, log)
        console.log(
          `${FAILOVERS} CLUSTER FAILOVERs under ${WRITERS} writers in ${Date.now() - t0} ms: ${timings.join(", ")}\n` +
            `acked ${log.acked.size}, caller errors ${JSON.stringify(log.errors)} ${JSON.stringify(log.messages)}, ` +
            `${JSON.stringify(result)}\nconnections: ${seen.join("; ") || "none closed or lost"}`
        )
        // The load ran across every failover, so each one met writes in flight.
        for (const n of ackedDuring) assert.isAbove(n, 0)
        assert.deepStrictEqual(log.errors, {})
        assert.strictEqual(result.lost, 0)
        assert.strictEqual(result.duplicates, 0)
      }).pipe(Effect.scoped),
    { timeout: 180_000 }
  )
})
