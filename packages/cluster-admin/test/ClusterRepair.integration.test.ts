/**
 * ClusterAdmin's info, call, setTimeout, fix, addNode as a replica of the
 * primary with fewest replicas, and removeNode of a killed node, against
 * real cluster-enabled servers, with `redis-cli --cluster check` as the
 * independent oracle after every change. One cluster of 3 primaries is
 * broken by hand (a half-done migration, a migration that never reached its
 * target, slots nobody serves, a slot only its owner dropped) and fixed.
 */
import { assert, describe, it } from "@effect/vitest"
import * as NodeTransport from "@redis-effect/node/NodeTransport"
import * as ClusterAdmin from "@redis-effect/cluster-admin/ClusterAdmin"
import * as ClusterSlot from "@redis-effect/redis/ClusterSlot"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Stream from "effect/Stream"
import { addressOf, expectCliOk, keysInSlot, makeServers, redisCliCheck, type ServersShape } from "./oracle.ts"

class Servers extends Context.Service<Servers, ServersShape>()("test/cluster-admin/Repair") {}

const serverAt = (servers: ServersShape, address: string) => servers.nodes.find((n) => addressOf(n) === address)!


// A slot well inside a primary's widest range. Earlier tests on the shared
// cluster may leave a primary owning a lone slot among its ranges, and
// primaries are listed by node id (random), so "first range + 10" or "last
// range - 5" could name another node's slot.
const insideWidest = (ranges: ReadonlyArray<readonly [number, number]>): number => {
  const widest = ranges.reduce((w, r) => (r[1] - r[0] > w[1] - w[0] ? r : w))
  return widest[0] + Math.floor((widest[1] - widest[0]) / 2)
}

describe("ClusterAdmin repair and inspection", () => {
  it.layer(Layer.effect(Servers)(makeServers(4)), { excludeTestServices: true })("a 3-primary cluster", (it) => {
    it.effect("create, then info counts keys, slots and replicas", () =>
      Effect.gen(function*() {
        const servers = yield* Servers
        const seed = addressOf(servers.nodes[0]!)
        yield* ClusterAdmin.create({ nodes: servers.nodes.slice(0, 3).map(addressOf) })
        yield* expectCliOk(seed)
        const report = yield* ClusterAdmin.checkOrFail(seed)
        const p0 = report.primaries[0]!
        const keys = keysInSlot(ClusterSlot.keyslot, p0.ranges[0]![0], 7, "info")
        for (const k of keys) yield* serverAt(servers, p0.address).cli("SET", k, "v")
        const info = yield* ClusterAdmin.info(seed)
        console.log("info", JSON.stringify(info.totals))
        assert.strictEqual(info.totals.primaries, 3)
        assert.strictEqual(info.totals.slots, 16384)
        assert.strictEqual(info.totals.replicas, 0)
        assert.strictEqual(info.totals.keys, 7)
        assert.strictEqual(info.primaries.find((p) => p.id === p0.id)!.keys, 7)
      }).pipe(Effect.provide(NodeTransport.layer)), { timeout: 90_000 })

    it.effect("call runs a command on every node and reports each reply or error", () =>
      Effect.gen(function*() {
        const servers = yield* Servers
        const seed = addressOf(servers.nodes[0]!)
        const pongs = yield* ClusterAdmin.call({ node: seed, command: ["PING"] })
        assert.strictEqual(pongs.length, 3)
        assert.isTrue(pongs.every((r) => r.ok && r.reply === "PONG"))
        const bad = yield* ClusterAdmin.call({ node: seed, command: ["NO-SUCH-COMMAND"] })
        assert.isTrue(bad.every((r) => !r.ok && /unknown command/i.test(r.error)), JSON.stringify(bad))
        const replicas = yield* ClusterAdmin.call({ node: seed, command: ["PING"], nodes: "replicas" })
        assert.strictEqual(replicas.length, 0)
      }).pipe(Effect.provide(NodeTransport.layer)))

    it.effect("setTimeout sets cluster-node-timeout on every node (and persists it where it can)", () =>
      Effect.gen(function*() {
        const servers = yield* Servers
        const seed = addressOf(servers.nodes[0]!)
        const result = yield* ClusterAdmin.setTimeout({ node: seed, nodeTimeout: "3 seconds" })
        console.log("setTimeout", JSON.stringify(result.nodes.map((n) => [n.address, n.persisted, n.error])))
        assert.isTrue(result.ok)
        assert.strictEqual(result.millis, 3000)
        for (const n of servers.nodes.slice(0, 3)) {
          assert.include(yield* n.cli("CONFIG", "GET", "cluster-node-timeout"), "3000")
        }
        const tooSmall = yield* Effect.flip(ClusterAdmin.setTimeout({ node: seed, nodeTimeout: 5 }))
        assert.strictEqual(tooSmall.reason._tag, "InvalidArgument")
        yield* ClusterAdmin.setTimeout({ node: seed, nodeTimeout: 2000 })
        yield* expectCliOk(seed)
      }).pipe(Effect.provide(NodeTransport.layer)))

    it.effect("fix finishes a half-done migration (both ends open, some keys moved)", () =>
      Effect.gen(function*() {
        const servers = yield* Servers
        const seed = addressOf(servers.nodes[0]!)
        const report = yield* ClusterAdmin.checkOrFail(seed)
        const [a, b] = report.primaries
        const source = serverAt(servers, a!.address)
        const target = serverAt(servers, b!.address)
        const slot = insideWidest(a!.ranges)
        const keys = keysInSlot(ClusterSlot.keyslot, slot, 20, "half")
        for (const k of keys) yield* source.cli("SET", k, k)
        yield* target.cli("CLUSTER", "SETSLOT", String(slot), "IMPORTING", a!.id)
        yield* source.cli("CLUSTER", "SETSLOT", String(slot), "MIGRATING", b!.id)
        yield* source.cli("MIGRATE", "127.0.0.1", String(target.port), "", "0", "5000", "KEYS", ...keys.slice(0, 5))
        assert.isFalse((yield* redisCliCheck(seed)).ok)

        const events: Array<ClusterAdmin.Progress> = []
        const fixed = yield* ClusterAdmin.fix({ node: seed, onProgress: (p) => Effect.sync(() => events.push(p)) })
        console.log("fix:", fixed.actions.map((a) => a.message))
        assert.isTrue(fixed.actions.some((x) => x.kind === "FinishedMigration"), JSON.stringify(fixed.actions))
        assert.isTrue(fixed.report.ok, JSON.stringify(fixed.report.problems))
        assert.strictEqual(yield* target.cli("CLUSTER", "COUNTKEYSINSLOT", String(slot)), "20")
        assert.strictEqual(yield* source.cli("CLUSTER", "COUNTKEYSINSLOT", String(slot)), "0")
        assert.isTrue(events.some((e) => e.keys === 15), JSON.stringify(events))
        yield* expectCliOk(seed)
      }).pipe(Effect.provide(NodeTransport.layer)), { timeout: 60_000 })

    it.effect("fix rolls back a migration that never reached its target", () =>
      Effect.gen(function*() {
        const servers = yield* Servers
        const seed = addressOf(servers.nodes[0]!)
        const report = yield* ClusterAdmin.checkOrFail(seed)
        const [, b, c] = report.primaries
        const owner = serverAt(servers, b!.address)
        const slot = insideWidest(b!.ranges)
        const keys = keysInSlot(ClusterSlot.keyslot, slot, 4, "rollback")
        for (const k of keys) yield* owner.cli("SET", k, k)
        yield* owner.cli("CLUSTER", "SETSLOT", String(slot), "MIGRATING", c!.id)
        assert.isFalse((yield* redisCliCheck(seed)).ok)
        const fixed = yield* ClusterAdmin.fix({ node: seed })
        console.log("fix:", fixed.actions.map((a) => a.message))
        assert.deepStrictEqual(fixed.actions.map((a) => a.kind), ["RolledBack"])
        assert.strictEqual(yield* owner.cli("CLUSTER", "COUNTKEYSINSLOT", String(slot)), "4")
        yield* expectCliOk(seed)
      }).pipe(Effect.provide(NodeTransport.layer)), { timeout: 60_000 })

    it.effect("fix covers uncovered slots: to the node holding their keys, else to a primary", () =>
      Effect.gen(function*() {
        const servers = yield* Servers
        const seed = addressOf(servers.nodes[0]!)
        const report = yield* ClusterAdmin.checkOrFail(seed)
        const [a, , c] = report.primaries
        const holder = serverAt(servers, c!.address)
        const withKeys = c!.ranges[c!.ranges.length - 1]![1]
        const empty = a!.ranges[a!.ranges.length - 1]![1]
        const keys = keysInSlot(ClusterSlot.keyslot, withKeys, 3, "uncovered")
        for (const k of keys) yield* holder.cli("SET", k, k)
        for (const p of report.primaries) {
          yield* serverAt(servers, p.address).cli("CLUSTER", "DELSLOTS", String(withKeys), String(empty))
        }
        const cli = yield* redisCliCheck(seed)
        assert.match(cli.output, /Not all 16384 slots are covered/)
        const fixed = yield* ClusterAdmin.fix({ node: seed })
        console.log("fix:", fixed.actions.map((a) => a.message))
        assert.isTrue(fixed.report.ok, JSON.stringify(fixed.report.problems))
        const after = yield* ClusterAdmin.checkOrFail(seed)
        const ownerOf = (slot: number) => after.primaries.find((p) => p.ranges.some(([x, y]) => slot >= x && slot <= y))!
        assert.strictEqual(ownerOf(withKeys).id, c!.id)
        assert.isDefined(ownerOf(empty))
        assert.strictEqual(yield* holder.cli("CLUSTER", "COUNTKEYSINSLOT", String(withKeys)), "3")
        yield* expectCliOk(seed)
        // Nothing left to fix: no action.
        assert.strictEqual((yield* ClusterAdmin.fix({ node: seed })).actions.length, 0)
      }).pipe(Effect.provide(NodeTransport.layer)), { timeout: 60_000 })

    it.effect("a slot only its owner dropped: check from every node reports it uncovered, as redis-cli does; fix gives it back", () =>
      Effect.gen(function*() {
        const servers = yield* Servers
        const seed = addressOf(servers.nodes[0]!)
        const report = yield* ClusterAdmin.checkOrFail(seed)
        // An owner other than the seed, so the seed still names it.
        const owner = report.primaries.find((p) => p.address !== seed)!
        const slot = insideWidest(owner.ranges)
        const keys = keysInSlot(ClusterSlot.keyslot, slot, 2, "dropped")
        for (const k of keys) yield* serverAt(servers, owner.address).cli("SET", k, k)
        yield* serverAt(servers, owner.address).cli("CLUSTER", "DELSLOTS", String(slot))
        for (const p of report.primaries) {
          const cli = yield* redisCliCheck(p.address)
          assert.match(cli.output, /Not all 16384 slots are covered/, p.address)
          const ours = yield* ClusterAdmin.check(p.address)
          assert.isFalse(ours.ok, p.address)
          const uncovered = ours.problems.find((x) => x._tag === "UncoveredSlots")
          assert.deepStrictEqual(uncovered?._tag === "UncoveredSlots" ? uncovered.ranges : undefined, [[slot, slot]], p.address)
        }
        const fixed = yield* ClusterAdmin.fix({ node: seed })
        console.log("fix:", fixed.actions.map((a) => a.message))
        assert.isTrue(fixed.report.ok, JSON.stringify(fixed.report.problems))
        const after = yield* ClusterAdmin.checkOrFail(seed)
        const ownerOf = after.primaries.find((p) => p.ranges.some(([x, y]) => slot >= x && slot <= y))!
        assert.strictEqual(ownerOf.id, owner.id, "given back to the node holding its keys")
        // Its keys are there (not a count of the slot's keys: the tests of this
        // group share one cluster, and another may have written to the slot).
        for (const k of keys) assert.strictEqual(yield* serverAt(servers, owner.address).cli("GET", k), k)
        yield* expectCliOk(seed)
      }).pipe(Effect.provide(NodeTransport.layer)), { timeout: 60_000 })

    it.effect("reshard reports progress as a Stream ending with its result", () =>
      Effect.gen(function*() {
        const servers = yield* Servers
        const seed = addressOf(servers.nodes[0]!)
        const report = yield* ClusterAdmin.checkOrFail(seed)
        const to = report.primaries[2]!
        const events = yield* Stream.runCollect(
          ClusterAdmin.progress((onProgress) => ClusterAdmin.reshard({ node: seed, to: to.id, slots: 5, pipeline: 3, migrateTimeout: "10 seconds", onProgress }))
        )
        const last = events[events.length - 1]!
        assert.strictEqual(last._tag, "Done")
        const slotsDone = events.filter((e): e is ClusterAdmin.Progress => e._tag === "Progress").map((e) => e.done)
        assert.strictEqual(Math.max(...slotsDone), 5)
        yield* expectCliOk(seed)
      }).pipe(Effect.provide(NodeTransport.layer)), { timeout: 60_000 })

    it.effect("addNode as a replica picks the primary with fewest replicas; removeNode forgets a killed node", () =>
      Effect.gen(function*() {
        const servers = yield* Servers
        const seed = addressOf(servers.nodes[0]!)
        const first = yield* ClusterAdmin.addNode({ node: addressOf(servers.nodes[3]!), existing: seed, asReplica: true })
        assert.strictEqual(first.role, "replica")
        const extra = yield* servers.spawn()
        const second = yield* ClusterAdmin.addNode({ node: addressOf(extra), existing: seed, asReplica: true })
        assert.strictEqual(second.role, "replica")
        assert.notStrictEqual(second.primaryId, first.primaryId)
        const withReplicas = yield* ClusterAdmin.checkOrFail(seed)
        assert.deepStrictEqual(withReplicas.primaries.map((p) => p.replicas.length).sort(), [0, 1, 1])
        yield* expectCliOk(seed)

        yield* extra.kill
        const removed = yield* ClusterAdmin.removeNode({ node: addressOf(extra), existing: seed })
        assert.isTrue(removed.unreachable)
        assert.strictEqual(removed.id, second.id)
        const after = yield* ClusterAdmin.checkOrFail(seed)
        assert.isFalse(after.nodes.some((n) => n.id === second.id))
        yield* expectCliOk(seed)
      }).pipe(Effect.provide(NodeTransport.layer)), { timeout: 90_000 })
  })
})
