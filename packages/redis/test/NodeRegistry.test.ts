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
})
