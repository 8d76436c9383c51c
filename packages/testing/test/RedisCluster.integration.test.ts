/**
 * RedisCluster against real redis-server 7.0 processes. Each test builds its
 * own 3×1 cluster (about 1.5 s) because most of them change the topology.
 * `it.live`: failover and promotion take seconds of real time.
 */
import { assert, describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Scope from "effect/Scope"
import { run } from "../src/internal/process.ts"
import * as RedisCluster from "../src/RedisCluster.ts"

/** Milliseconds taken by `effect`, logged so that the run shows the timings. */
const timed = <A, E, R>(label: string, effect: Effect.Effect<A, E, R>) =>
  Effect.gen(function*() {
    const start = Date.now()
    const a = yield* effect
    console.log(`RedisCluster ${label}: ${Date.now() - start} ms`)
    return a
  })

/** redis-server processes on these ports (redis-server retitles itself `redis-server 127.0.0.1:P [cluster]`). */
const countNodeProcesses = (ports: ReadonlyArray<number>) =>
  Effect.map(
    run("pgrep", ["-c", "-f", `^redis-server 127\\.0\\.0\\.1:(${ports.join("|")}) `]),
    (result) => Number(result.stdout.trim())
  )

describe("RedisCluster.parseClusterNodes", () => {
  it("parses roles, slot ranges and open slots", () => {
    const text = [
      "aaa 127.0.0.1:30001@40001 myself,master - 0 0 1 connected 0-5460 7000 [12182->-ccc] [99-<-bbb]",
      "bbb 127.0.0.1:30002@40002,host master,fail - 0 0 2 disconnected",
      "ccc 127.0.0.1:30004@40004 slave aaa 0 0 1 connected",
      ""
    ].join("\n")
    const [a, b, c] = RedisCluster.parseClusterNodes(text)
    assert.deepStrictEqual(a!.slots, [[0, 5460], [7000, 7000]])
    assert.deepStrictEqual(a!.migrating, [{ slot: 12182, to: "ccc" }])
    assert.deepStrictEqual(a!.importing, [{ slot: 99, from: "bbb" }])
    assert.strictEqual(a!.port, 30001)
    assert.strictEqual(a!.busPort, 40001)
    assert.deepStrictEqual(b!.flags, ["master", "fail"])
    assert.strictEqual(b!.host, "127.0.0.1")
    assert.strictEqual(b!.primaryId, undefined)
    assert.strictEqual(c!.primaryId, "aaa")
  })
})

describe("RedisCluster", () => {
  it.live("a 3×1 cluster covers every slot, keys land on their owner, and the scope stops every node", () =>
    Effect.gen(function*() {
      // A child of the test's scope: closed by hand below, and by the test
      // itself if an assertion fails first.
      const scope = yield* Scope.fork(yield* Effect.scope)
      const cluster = yield* timed("create 3×1", RedisCluster.make().pipe(Scope.provide(scope)))
      const ports = cluster.nodes.map((n) => n.port)
      assert.strictEqual(cluster.nodes.length, 6)
      assert.deepStrictEqual(cluster.startupNodes.map((n) => n.port), ports)
      assert.strictEqual(yield* countNodeProcesses(ports), 6)
      assert.strictEqual((yield* cluster.primaries).length, 3)
      assert.strictEqual((yield* cluster.replicas).length, 3)
      for (const node of cluster.nodes) assert.match(node.id, /^[0-9a-f]{40}$/)

      const report = yield* cluster.check
      assert.match(report, /All 16384 slots covered/)
      const view = yield* cluster.clusterNodes()
      const covered = view.filter((e) => e.flags.includes("master"))
        .flatMap((e) => e.slots).reduce((n, [a, b]) => n + b - a + 1, 0)
      assert.strictEqual(covered, RedisCluster.SLOTS)

      // Through `redis-cli -c` on one node; each key must be on its slot's owner.
      const entry = cluster.nodes[0]!
      for (const key of ["foo", "bar", "baz", "{user:1}a", "{user:1}b", "x"]) {
        assert.strictEqual(yield* entry.cli("-c", "SET", key, `v-${key}`), "OK")
        const slot = yield* cluster.keyslot(key)
        const owner = yield* cluster.slotOwner(slot)
        assert.strictEqual(yield* owner.role, "primary")
        assert.strictEqual(yield* owner.cli("GET", key), `v-${key}`)
        for (const other of yield* cluster.primaries) {
          if (other.id === owner.id) continue
          const moved = yield* other.cli("GET", key).pipe(Effect.flip)
          assert.include(moved.message, `MOVED ${slot} 127.0.0.1:${owner.port}`)
        }
      }
      assert.strictEqual(yield* cluster.keyslot("foo"), 12182)

      const pids = cluster.nodes.map((n) => n.pid)
      yield* timed("teardown", Scope.close(scope, Exit.void))
      assert.strictEqual(yield* countNodeProcesses(ports), 0)
      for (const pid of pids) assert.isFalse(processAlive(pid))
    }))

  it.live("failover swaps roles; killPrimary promotes the replica; restartNode brings it back as a replica", () =>
    Effect.gen(function*() {
      const cluster = yield* RedisCluster.make()
      const primary = (yield* cluster.primaries)[0]!
      const [replica] = yield* cluster.replicasOf(primary)
      assert.strictEqual(yield* primary.cli("-c", "SET", "{failover}k", "1"), "OK")

      const promoted = yield* timed("failover", cluster.failover())
      assert.strictEqual(promoted.id, replica!.id)
      assert.strictEqual(yield* promoted.role, "primary")
      assert.strictEqual(yield* primary.role, "replica")
      assert.deepStrictEqual((yield* cluster.replicasOf(promoted)).map((n) => n.id), [primary.id])

      // Kill the new primary: the old one, now its replica, takes over again.
      const survivor = yield* timed("kill → promotion", cluster.killPrimary(promoted))
      assert.strictEqual(survivor.id, primary.id)
      assert.isFalse(yield* promoted.isAlive)
      assert.strictEqual(yield* survivor.role, "primary")
      assert.strictEqual((yield* cluster.primaries).length, 3)
      const slot = yield* cluster.keyslot("{failover}k")
      const owner = yield* cluster.slotOwner(slot)
      assert.strictEqual(yield* owner.cli("GET", "{failover}k"), "1")

      yield* timed("restart → rejoined", cluster.restartNode(promoted))
      assert.strictEqual(yield* promoted.role, "replica")
      assert.deepStrictEqual((yield* cluster.replicasOf(survivor)).map((n) => n.id), [promoted.id])
      yield* cluster.check
    }).pipe(Effect.scoped))

  it.live("slot migration, stepwise with ASK while MIGRATING, then whole; reshard moves N slots", () =>
    Effect.gen(function*() {
      const cluster = yield* RedisCluster.make()
      const slot = yield* cluster.keyslot("{mig}")
      const from = yield* cluster.slotOwner(slot)
      const to = (yield* cluster.primaries).find((p) => p.id !== from.id)!
      const keys = Array.from({ length: 25 }, (_, i) => `{mig}${i}`)
      for (const key of keys) yield* from.cli("SET", key, key)

      yield* cluster.beginMigration({ from, to, slot })
      // Existing keys are still served by the source; absent ones are ASKed away.
      assert.strictEqual(yield* from.cli("GET", "{mig}0"), "{mig}0")
      const absent = yield* from.cli("GET", "{mig}absent").pipe(Effect.flip)
      assert.include(absent.message, `ASK ${slot} 127.0.0.1:${to.port}`)
      const moved = yield* cluster.migrateKeys({ from, to, slot, pipeline: 7 })
      assert.strictEqual(moved, keys.length)
      // Moved keys are now ASKed too, while the slot is still MIGRATING.
      const ask = yield* from.cli("GET", "{mig}0").pipe(Effect.flip)
      assert.include(ask.message, `ASK ${slot} 127.0.0.1:${to.port}`)
      const open = yield* cluster.check.pipe(Effect.flip)
      assert.match(open.message, /open slot|migrating/i)
      yield* timed("finishMigration", cluster.finishMigration({ from, to, slot }))
      assert.strictEqual((yield* cluster.slotOwner(slot)).id, to.id)
      assert.strictEqual(yield* to.cli("GET", "{mig}24"), "{mig}24")
      const movedAway = yield* from.cli("GET", "{mig}24").pipe(Effect.flip)
      assert.include(movedAway.message, `MOVED ${slot} 127.0.0.1:${to.port}`)

      // The whole thing in one call, back again, with a neighbouring empty slot.
      const neighbour = slot === 0 ? 1 : slot - 1
      const neighbourOwner = yield* cluster.slotOwner(neighbour)
      yield* timed(
        "migrateSlots (2 slots)",
        cluster.migrateSlots({ from: to, to: from, slots: neighbourOwner.id === to.id ? [slot, neighbour] : [slot] })
      )
      assert.strictEqual((yield* cluster.slotOwner(slot)).id, from.id)
      assert.strictEqual(yield* from.cli("GET", "{mig}3"), "{mig}3")
      assert.strictEqual(yield* from.cli("DBSIZE"), String(keys.length))
      yield* cluster.check

      const reshardTo = (yield* cluster.primaries).find((p) => p.id !== from.id)!
      const slots = yield* timed("reshard 100 slots", cluster.reshard({ from, to: reshardTo, count: 100 }))
      assert.strictEqual(slots.length, 100)
      for (const s of [slots[0]!, slots[99]!]) assert.strictEqual((yield* cluster.slotOwner(s)).id, reshardTo.id)
      yield* cluster.check
    }).pipe(Effect.scoped))

  it.live("addNode (primary and replica) and removeNode", () =>
    Effect.gen(function*() {
      const cluster = yield* RedisCluster.make()
      const first = (yield* cluster.primaries)[0]!

      const fresh = yield* timed("addNode (primary)", cluster.addNode())
      assert.strictEqual(cluster.nodes.length, 7)
      assert.strictEqual(yield* fresh.role, "primary")
      for (const node of cluster.nodes) {
        const view = yield* cluster.clusterNodes(node)
        assert.isTrue(view.some((e) => e.id === fresh.id))
      }
      const replica = yield* timed("addNode (replica)", cluster.addNode({ asReplicaOf: fresh }))
      assert.strictEqual(yield* replica.role, "replica")
      assert.deepStrictEqual((yield* cluster.replicasOf(fresh)).map((n) => n.id), [replica.id])

      // A primary with slots or replicas cannot be removed.
      const slots = yield* cluster.reshard({ from: first, to: fresh, count: 10 })
      assert.strictEqual(slots.length, 10)
      const busy = yield* cluster.removeNode(fresh).pipe(Effect.flip)
      assert.match(busy.message, /owns 10 slots/)

      yield* timed("removeNode (replica)", cluster.removeNode(replica))
      assert.isFalse(yield* replica.isAlive)
      yield* cluster.reshard({ from: fresh, to: first, count: 10 })
      yield* timed("removeNode (empty primary)", cluster.removeNode(fresh))
      assert.isFalse(yield* fresh.isAlive)
      assert.strictEqual(cluster.nodes.length, 6)
      const view = yield* cluster.clusterNodes()
      assert.strictEqual(view.length, 6)
      yield* cluster.check
    }).pipe(Effect.scoped))

  it.live("password: nodes require AUTH, replicas sync with masterauth, MIGRATE authenticates", () =>
    Effect.gen(function*() {
      const cluster = yield* RedisCluster.make({ password: "clu ster\"pw" })
      const node = cluster.nodes[0]!
      const noAuth = yield* node.cliAs({}, "PING").pipe(Effect.flip)
      assert.match(noAuth.message, /NOAUTH/)
      const slot = yield* cluster.keyslot("{pw}")
      const from = yield* cluster.slotOwner(slot)
      const to = (yield* cluster.primaries).find((p) => p.id !== from.id)!
      yield* from.cli("SET", "{pw}a", "1")
      yield* cluster.migrateSlots({ from, to, slots: [slot] })
      assert.strictEqual(yield* to.cli("GET", "{pw}a"), "1")
    }).pipe(Effect.scoped))
})

const processAlive = (pid: number): boolean => {
  try {
    process.kill(pid, 0)
    return true
  } catch {
    return false
  }
}
