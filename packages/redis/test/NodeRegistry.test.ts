/**
 * NodeRegistry with a fake `open`: opening is single-flight per node,
 * `retain`/`remove`/`replace` close pools (their scopes run their
 * finalizers), and the lifecycle events and RESP3 pushes that reach a node's
 * hooks come out of `events` and `pushes` with the node's address.
 */
import { assert, describe, it } from "@effect/vitest"
import type * as Connection from "@redis-effect/redis/Connection"
import * as NodeRegistry from "@redis-effect/redis/NodeRegistry"
import type * as Pool from "@redis-effect/redis/Pool"
import * as RedisError from "@redis-effect/redis/RedisError"
import { RespPush } from "@redis-effect/redis/Resp"
import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"
import * as Stream from "effect/Stream"
import * as TestClock from "effect/testing/TestClock"

interface Opened {
  readonly node: string
  readonly hooks: Connection.Hooks
  closed: boolean
}

// A registry whose pools are plain objects; each open is recorded with its
// hooks, and its scope's finalizer marks it closed.
const fixture = Effect.gen(function*() {
  const opened: Array<Opened> = []
  const registry = yield* NodeRegistry.make((node, hooks) =>
    Effect.gen(function*() {
      const record: Opened = { node, hooks, closed: false }
      opened.push(record)
      yield* Effect.addFinalizer(() => Effect.sync(() => (record.closed = true)))
      // Let other fibers run while this one opens, so a race can happen.
      yield* Effect.yieldNow
      return { shared: { protocol: () => 3 } as unknown as Connection.Connection, withDedicated: () => Effect.die("unused") } as unknown as Pool.Pool
    })
  )
  return { opened, registry }
})

describe("NodeRegistry", () => {
  it.effect("opens a node once when many fibers ask at the same time", () =>
    Effect.gen(function*() {
      const { opened, registry } = yield* fixture
      const pools = yield* Effect.all(Array.from({ length: 20 }, () => registry.get("127.0.0.1:7000")), {
        concurrency: "unbounded"
      })
      assert.strictEqual(opened.length, 1)
      assert.isTrue(pools.every((p) => p === pools[0]))
      assert.strictEqual(registry.lookup("127.0.0.1:7000"), pools[0])
      assert.isUndefined(registry.lookup("127.0.0.1:7001"))
    }).pipe(Effect.scoped))

  it.effect("retain closes the nodes left out; replace opens a new pool in place of the old one", () =>
    Effect.gen(function*() {
      const { opened, registry } = yield* fixture
      yield* registry.get("a:1")
      yield* registry.get("b:2")
      yield* registry.get("c:3")
      yield* registry.retain(new Set(["b:2"]))
      assert.deepStrictEqual(opened.map((o) => [o.node, o.closed]), [["a:1", true], ["b:2", false], ["c:3", true]])
      assert.deepStrictEqual(registry.nodes(), ["b:2"])
      const before = registry.lookup("b:2")
      const after = yield* registry.replace("b:2")
      assert.notStrictEqual(after, before)
      assert.isTrue(opened[1].closed)
      assert.strictEqual(opened.length, 4)
    }).pipe(Effect.scoped))

  it.effect("events carry each node's lifecycle; pushes carry its server pushes", () =>
    Effect.gen(function*() {
      const { opened, registry } = yield* fixture
      const events = yield* Effect.forkScoped(Stream.runCollect(Stream.take(registry.events, 5)))
      const pushes = yield* Effect.forkScoped(Stream.runCollect(Stream.take(registry.pushes, 1)))
      yield* Effect.yieldNow
      yield* registry.get("n:1")
      const hooks = opened[0].hooks
      yield* hooks.onConnect!({ protocol: () => 3 } as unknown as Connection.Connection)
      hooks.onDisconnect!(RedisError.make(new RedisError.ConnectionError({ message: "reset" }), "Unknown"))
      const push = new RespPush(["invalidate", ["k"]])
      hooks.onServerPush!(push)
      yield* registry.replace("n:1")
      const tags = Array.from(yield* Fiber.join(events), (e) => `${e._tag}:${e.node}`)
      assert.deepStrictEqual(tags, ["Opened:n:1", "Ready:n:1", "Disconnected:n:1", "Closed:n:1", "Opened:n:1"])
      const [got] = yield* Fiber.join(pushes)
      assert.strictEqual(got.node, "n:1")
      assert.strictEqual(got.value, push)
    }).pipe(Effect.scoped))

  describe("draining (drainTimeout)", () => {
    // Pools whose shared connection reports what the test sets.
    const draining = (drainTimeout: number) =>
      Effect.gen(function*() {
        const wire = { status: "ready" as "ready" | "connecting", inFlight: 0 }
        const closed: Array<string> = []
        const registry = yield* NodeRegistry.make((node) =>
          Effect.gen(function*() {
            yield* Effect.addFinalizer(() => Effect.sync(() => closed.push(node)))
            const shared = { status: () => wire.status, stats: () => ({ inFlight: wire.inFlight, queued: 0 }) }
            return { shared } as unknown as Pool.Pool
          }), { drainTimeout })
        return { wire, closed, registry }
      })

    it.effect("a removed node leaves the registry at once; its pool closes once nothing awaits a reply", () =>
      Effect.gen(function*() {
        const { closed, registry, wire } = yield* draining(10_000)
        yield* registry.get("old:1")
        wire.inFlight = 2
        yield* registry.retain(new Set())
        assert.isUndefined(registry.lookup("old:1"))
        assert.deepStrictEqual(registry.nodes(), [])
        yield* TestClock.adjust("100 millis")
        assert.deepStrictEqual(closed, [], "still owes two replies")
        wire.inFlight = 0
        yield* TestClock.adjust("10 millis")
        assert.deepStrictEqual(closed, ["old:1"])
      }).pipe(Effect.scoped))

    it.effect("a lost session ends the drain; a drain that never ends is cut at the bound; nothing in flight closes at once", () =>
      Effect.gen(function*() {
        const { closed, registry, wire } = yield* draining(1_000)
        yield* registry.get("a:1")
        wire.inFlight = 1
        yield* registry.remove("a:1")
        wire.status = "connecting"
        yield* TestClock.adjust("10 millis")
        assert.deepStrictEqual(closed, ["a:1"])

        wire.status = "ready"
        yield* registry.get("b:2")
        yield* registry.remove("b:2")
        yield* TestClock.adjust("999 millis")
        assert.deepStrictEqual(closed, ["a:1"])
        yield* TestClock.adjust("20 millis")
        assert.deepStrictEqual(closed, ["a:1", "b:2"])

        wire.inFlight = 0
        yield* registry.get("c:3")
        yield* registry.remove("c:3")
        assert.deepStrictEqual(closed, ["a:1", "b:2", "c:3"])
      }).pipe(Effect.scoped))
  })
})
