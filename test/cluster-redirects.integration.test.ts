/**
 * Cluster redirects and retries against scripted mock servers: a MOVED loop
 * ends at the redirect budget, ASK sends ASKING and the command back to back
 * on one connection, TRYAGAIN and CLUSTERDOWN go through the retry schedule,
 * and a write whose reply never comes is not sent twice.
 *
 * Each mock answers the handshake and `CLUSTER SLOTS` itself (a one-node
 * cluster: the mock owns every slot); `CLUSTER SHARDS` gets
 * `-ERR unknown command`, so the client falls back to `CLUSTER SLOTS`.
 */
import { assert, describe, it } from "@effect/vitest"
import { NodeTransport } from "@redis-effect/node"
import * as Cluster from "@redis-effect/redis/Cluster"
import * as ClusterSlot from "@redis-effect/redis/ClusterSlot"
import type * as RedisError from "@redis-effect/redis/RedisError"
import { MockServer } from "@redis-effect/testing"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import * as Schedule from "effect/Schedule"

const client = (port: number, options: Omit<Cluster.Options, "nodes"> = {}) =>
  Cluster.make({ nodes: [`127.0.0.1:${port}`], ...options }).pipe(
    Effect.map(({ redis }) => redis),
    Effect.provide(NodeTransport.layer)
  )

/** A short retry: every 10 ms, `times` more attempts. */
const quickRetry = (times: number) =>
  Schedule.spaced("10 millis").pipe(Schedule.upTo({ times }), Schedule.setInputType<RedisError.RedisError>())

const count = (mock: MockServer.MockServerHandle, name: string) =>
  Effect.map(mock.received, (all) => all.filter((argv) => argv[0]?.toUpperCase() === name).length)

const slot = ClusterSlot.keyslot("k")

describe("MOVED", () => {
  it.live("a MOVED loop ends after the redirect budget with a Moved error", () =>
    Effect.gen(function*() {
      const mock = yield* MockServer.make((cmd) =>
        cmd.name === "GET" ? `-MOVED ${ClusterSlot.keyslot(cmd.argv[1])} 127.0.0.1:${cmd.port}\r\n` : undefined
      )
      const redis = yield* client(mock.port)
      const error = yield* Effect.flip(redis.get("k"))
      assert.strictEqual(error.reason._tag, "Moved")
      const moved = error.reason as RedisError.Moved
      assert.strictEqual(moved.slot, slot)
      assert.strictEqual(moved.port, mock.port)
      // The default budget is 5 redirects: 6 sends in all, never unbounded.
      assert.strictEqual(yield* count(mock, "GET"), 6)
    }).pipe(Effect.scoped))

  it.live("maxRedirects: 2 bounds the loop at 3 sends", () =>
    Effect.gen(function*() {
      const mock = yield* MockServer.make((cmd) =>
        cmd.name === "GET" ? `-MOVED ${ClusterSlot.keyslot(cmd.argv[1])} 127.0.0.1:${cmd.port}\r\n` : undefined
      )
      const redis = yield* client(mock.port, { maxRedirects: 2 })
      const error = yield* Effect.flip(redis.get("k"))
      assert.strictEqual(error.reason._tag, "Moved")
      assert.strictEqual(yield* count(mock, "GET"), 3)
    }).pipe(Effect.scoped))

  it.live("a MOVED to another node is followed there", () =>
    Effect.gen(function*() {
      const target = yield* MockServer.make((cmd) => cmd.name === "GET" ? MockServer.bulk("from-target") : undefined)
      const source = yield* MockServer.make((cmd) =>
        cmd.name === "GET" ? `-MOVED ${ClusterSlot.keyslot(cmd.argv[1])} 127.0.0.1:${target.port}\r\n` : undefined
      )
      const redis = yield* client(source.port)
      assert.deepStrictEqual(yield* redis.get("k"), Option.some("from-target"))
      assert.strictEqual(yield* count(source, "GET"), 1)
      assert.strictEqual(yield* count(target, "GET"), 1)
    }).pipe(Effect.scoped))
})

describe("ASK", () => {
  it.live("ASK: ASKING and the command go back to back on one connection of the target", () =>
    Effect.gen(function*() {
      // Per connection of B, in order: every command B saw.
      const log = new Map<number, Array<string>>()
      const b = yield* MockServer.make(
        MockServer.orElse(
          (cmd) => {
            const seen = log.get(cmd.connection.id) ?? []
            log.set(cmd.connection.id, seen)
            const previous = seen[seen.length - 1]
            seen.push(cmd.name)
            if (cmd.name !== "GET") return undefined
            // A real migrating target refuses the key without ASKING first.
            return previous === "ASKING" ? MockServer.bulk("migrated") : `-MOVED ${ClusterSlot.keyslot(cmd.argv[1])} 127.0.0.1:1\r\n`
          },
          MockServer.handshake()
        ),
        { handshake: false }
      )
      const a = yield* MockServer.make((cmd) =>
        cmd.name === "GET" ? `-ASK ${ClusterSlot.keyslot(cmd.argv[1])} 127.0.0.1:${b.port}\r\n` : undefined
      )
      const redis = yield* client(a.port)
      assert.deepStrictEqual(yield* redis.get("k"), Option.some("migrated"))
      assert.strictEqual(yield* count(a, "GET"), 1)
      const withGet = [...log.values()].filter((names) => names.includes("GET"))
      assert.strictEqual(withGet.length, 1, "GET reached B on one connection")
      const names = withGet[0]
      const i = names.indexOf("GET")
      assert.strictEqual(names[i - 1], "ASKING", `B saw ${names.join(", ")}`)
      assert.strictEqual(names.filter((n) => n === "GET").length, 1)
      // ASK patches nothing: the next GET goes to A again.
      assert.deepStrictEqual(yield* redis.get("k"), Option.some("migrated"))
      assert.strictEqual(yield* count(a, "GET"), 2)
    }).pipe(Effect.scoped))
})

describe("TRYAGAIN and CLUSTERDOWN", () => {
  it.live("TRYAGAIN twice then success: a read succeeds", () =>
    Effect.gen(function*() {
      let gets = 0
      const mock = yield* MockServer.make((cmd) => {
        if (cmd.name !== "GET") return undefined
        gets++
        return gets <= 2 ? "-TRYAGAIN Multiple keys request during rehashing of slot\r\n" : MockServer.bulk("v")
      })
      const redis = yield* client(mock.port, { retry: quickRetry(5) })
      assert.deepStrictEqual(yield* redis.get("k"), Option.some("v"))
      assert.strictEqual(yield* count(mock, "GET"), 3)
    }).pipe(Effect.scoped))

  it.live("TRYAGAIN twice then success: a non-idempotent write (INCR) is retried too (Rejected: it never ran)", () =>
    Effect.gen(function*() {
      let incrs = 0
      const mock = yield* MockServer.make((cmd) => {
        if (cmd.name !== "INCR") return undefined
        incrs++
        return incrs <= 2 ? "-TRYAGAIN Multiple keys request during rehashing of slot\r\n" : ":1\r\n"
      })
      const redis = yield* client(mock.port, { retry: quickRetry(5) })
      assert.strictEqual(yield* redis.incr("k"), 1)
      assert.strictEqual(yield* count(mock, "INCR"), 3)
    }).pipe(Effect.scoped))

  it.live("TRYAGAIN beyond the retry schedule surfaces as TryAgain/Rejected", () =>
    Effect.gen(function*() {
      const mock = yield* MockServer.make((cmd) =>
        cmd.name === "GET" ? "-TRYAGAIN Multiple keys request during rehashing of slot\r\n" : undefined
      )
      const redis = yield* client(mock.port, { retry: quickRetry(2) })
      const error = yield* Effect.flip(redis.get("k"))
      assert.strictEqual(error.reason._tag, "TryAgain")
      assert.strictEqual(error.outcome, "Rejected")
      // The first attempt and 2 retries, as `Effect.retry` with this schedule would.
      assert.strictEqual(yield* count(mock, "GET"), 3)
    }).pipe(Effect.scoped))

  it.live("CLUSTERDOWN on every attempt fails ClusterDown after the retry schedule", () =>
    Effect.gen(function*() {
      const mock = yield* MockServer.make((cmd) =>
        cmd.name === "GET" ? "-CLUSTERDOWN The cluster is down\r\n" : undefined
      )
      const redis = yield* client(mock.port, { retry: quickRetry(3) })
      const started = Date.now()
      const error = yield* Effect.flip(redis.get("k"))
      const waited = Date.now() - started
      assert.strictEqual(error.reason._tag, "ClusterDown")
      // The first attempt and 3 retries.
      assert.strictEqual(yield* count(mock, "GET"), 4)
      assert.isBelow(waited, 5_000)
    }).pipe(Effect.scoped))
})

describe("a reply that never comes", () => {
  it.live("a write whose reply never comes fails Timeout/Unknown after commandTimeout and is not sent again", () =>
    Effect.gen(function*() {
      const mock = yield* MockServer.make((cmd) => cmd.name === "INCR" ? MockServer.hang : undefined)
      const redis = yield* client(mock.port, { commandTimeout: "300 millis", retry: quickRetry(5) })
      const error = yield* Effect.flip(redis.incr("k"))
      assert.strictEqual(error.reason._tag, "Timeout")
      assert.strictEqual(error.outcome, "Unknown")
      // Give a wrongful retry the time to show up.
      yield* Effect.sleep("300 millis")
      assert.strictEqual(yield* count(mock, "INCR"), 1)
    }).pipe(Effect.scoped))
})
