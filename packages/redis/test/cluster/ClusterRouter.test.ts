/**
 * `ClusterRouter` over hand-built snapshots: the slot of a command, the node
 * of a keyed write (always the primary), of a read under every read-from
 * policy, and of a keyless command (primaries in turn).
 *
 * A router has one round-robin counter shared by every policy, so the tests
 * assert what a run of consecutive picks covers, not where it starts.
 */
import { assert, describe, it } from "@effect/vitest"
import * as ClusterRouter from "../../src/cluster/ClusterRouter.ts"
import * as ClusterSlot from "../../src/cluster/ClusterSlot.ts"
import type * as ClusterTopology from "../../src/cluster/ClusterTopology.ts"
import * as Command from "../../src/Command.ts"
import * as Commands from "../../src/Commands.ts"
import type { NodeInfo, Shard, View } from "../../src/cluster/ClusterView.ts"
import { slotTable } from "../../src/cluster/ClusterView.ts"

type Snapshot = ClusterTopology.Snapshot

const node = (
  port: number,
  role: NodeInfo["role"] = "primary",
  health: NodeInfo["health"] = "online"
): NodeInfo => ({ id: `id-${port}`, host: "127.0.0.1", port, role, health })

const replica = (port: number, health: NodeInfo["health"] = "online") => node(port, "replica", health)

const shard = (
  ranges: ReadonlyArray<readonly [number, number]>,
  primary: NodeInfo,
  replicas: ReadonlyArray<NodeInfo> = []
): Shard => ({ ranges, primary, replicas })

const snapshotOf = (view: View): Snapshot => ({
  epoch: 1,
  view,
  table: slotTable(view),
  trigger: "startup",
  refreshedAt: 0
})

/** One shard owning every slot. */
const oneShard = (primary: NodeInfo, replicas: ReadonlyArray<NodeInfo> = []) =>
  snapshotOf({ shards: [shard([[0, 16383]], primary, replicas)] })

const read = Commands.get("k")
const write = Commands.set("k", "v")
const slot = ClusterSlot.keyslot("k")

const ports = (nodes: ReadonlyArray<NodeInfo | undefined>) => nodes.map((n) => n?.port)

/** `n` consecutive routes of `command`. */
const picks = (
  router: ClusterRouter.Router,
  snapshot: Snapshot,
  command: Command.Command<unknown>,
  n: number,
  at = slot
) => Array.from({ length: n }, () => router.route(snapshot, command, at))

// -----------------------------------------------------------------------------
// slotOf
// -----------------------------------------------------------------------------

describe("ClusterRouter.slotOf", () => {
  it("a command without keys has slot -1", () => {
    assert.strictEqual(ClusterRouter.slotOf(Commands.ping()), -1)
    assert.strictEqual(ClusterRouter.slotOf(Commands.dbsize()), -1)
    assert.strictEqual(ClusterRouter.slotOf(Command.make(["CUSTOM"], Command.Reply.raw)), -1)
  })

  it("one key: its CRC16 slot, hash tags included", () => {
    assert.strictEqual(ClusterRouter.slotOf(Commands.get("foo")), 12182)
    assert.strictEqual(ClusterRouter.slotOf(Commands.get("{user1000}.following")), ClusterSlot.keyslot("user1000"))
    assert.strictEqual(ClusterRouter.slotOf(Commands.incr("")), 0)
  })

  it("n keys in one slot: that slot", () => {
    const keys = ["{user:1}:name", "{user:1}:mail", "{user:1}:age"]
    assert.strictEqual(ClusterRouter.slotOf(Commands.mget(keys)), ClusterSlot.keyslot("user:1"))
    assert.strictEqual(ClusterRouter.slotOf(Commands.mget(["foo", "foo"])), 12182)
  })

  it("keys in different slots: -2 (CROSSSLOT)", () => {
    assert.notStrictEqual(ClusterSlot.keyslot("a"), ClusterSlot.keyslot("b"))
    assert.strictEqual(ClusterRouter.slotOf(Commands.mget(["a", "b"])), -2)
    assert.strictEqual(ClusterRouter.slotOf(Commands.mget(["{t}a", "{t}b", "c"])), -2)
  })
})

// -----------------------------------------------------------------------------
// writes and the primary policy
// -----------------------------------------------------------------------------

describe("ClusterRouter writes", () => {
  const snapshot = oneShard(node(7001), [replica(7002), replica(7003)])
  const policies: ReadonlyArray<ClusterRouter.ReadFrom> = [
    "primary",
    "primaryPreferred",
    "replica",
    "replicaPreferred",
    "roundRobin",
    "randomReplica",
    (s) => s.replicas[0]
  ]

  it("a write goes to the primary under every read-from policy", () => {
    for (const policy of policies) {
      const router = ClusterRouter.make(policy)
      assert.deepStrictEqual(ports(picks(router, snapshot, write, 6)), [7001, 7001, 7001, 7001, 7001, 7001])
      assert.deepStrictEqual(ports(picks(router, snapshot, Commands.incr("k"), 3)), [7001, 7001, 7001])
    }
  })

  it("a write goes to the primary even when the primary is marked failed", () => {
    const router = ClusterRouter.make("primaryPreferred")
    const failed = oneShard(node(7001, "primary", "failed"), [replica(7002)])
    assert.strictEqual(router.route(failed, write, slot)?.port, 7001)
  })

  it("keyed commands go to the shard that owns their slot", () => {
    const router = ClusterRouter.make("primary")
    const snapshot = snapshotOf({
      shards: [shard([[0, 8191]], node(7001)), shard([[8192, 16383]], node(7002))]
    })
    assert.strictEqual(router.route(snapshot, Commands.get("foo"), 12182)?.port, 7002)
    assert.strictEqual(router.route(snapshot, Commands.set("foo", "v"), 12182)?.port, 7002)
    assert.strictEqual(router.route(snapshot, Commands.get("x"), 0)?.port, 7001)
    assert.strictEqual(router.route(snapshot, Commands.get("x"), 8191)?.port, 7001)
    assert.strictEqual(router.route(snapshot, Commands.get("x"), 8192)?.port, 7002)
  })

  it("a slot no shard serves routes nowhere", () => {
    const router = ClusterRouter.make("replica")
    const partial = snapshotOf({ shards: [shard([[0, 100]], node(7001), [replica(7002)])] })
    assert.isUndefined(router.route(partial, write, 101))
    assert.isUndefined(router.route(partial, read, 16383))
  })
})

// -----------------------------------------------------------------------------
// read-from policies
// -----------------------------------------------------------------------------

describe("ClusterRouter read-from policies", () => {
  it("primary: every read on the primary", () => {
    const router = ClusterRouter.make("primary")
    const snapshot = oneShard(node(7001), [replica(7002), replica(7003)])
    assert.deepStrictEqual(ports(picks(router, snapshot, read, 4)), [7001, 7001, 7001, 7001])
  })

  it("primaryPreferred: the primary while it is not failed", () => {
    const router = ClusterRouter.make("primaryPreferred")
    const snapshot = oneShard(node(7001), [replica(7002)])
    assert.deepStrictEqual(ports(picks(router, snapshot, read, 3)), [7001, 7001, 7001])
    // "loading" is not "failed".
    const loading = oneShard(node(7001, "primary", "loading"), [replica(7002)])
    assert.strictEqual(router.route(loading, read, slot)?.port, 7001)
  })

  it("primaryPreferred with a failed primary: its healthy replicas in turn", () => {
    const router = ClusterRouter.make("primaryPreferred")
    const snapshot = oneShard(node(7001, "primary", "failed"), [replica(7002), replica(7003, "failed"), replica(7004)])
    const got = ports(picks(router, snapshot, read, 6))
    assert.notInclude(got, 7001)
    assert.notInclude(got, 7003)
    assert.deepStrictEqual(got.filter((p) => p === 7002).length, 3)
    assert.deepStrictEqual(got.filter((p) => p === 7004).length, 3)
    // Alternating, not two in a row.
    for (let i = 1; i < got.length; i++) assert.notStrictEqual(got[i], got[i - 1])
  })

  it("primaryPreferred with a failed primary and no healthy replica: the primary anyway", () => {
    const router = ClusterRouter.make("primaryPreferred")
    assert.strictEqual(router.route(oneShard(node(7001, "primary", "failed")), read, slot)?.port, 7001)
    assert.strictEqual(
      router.route(oneShard(node(7001, "primary", "failed"), [replica(7002, "failed")]), read, slot)?.port,
      7001
    )
  })

  for (const policy of ["replica", "replicaPreferred"] as const) {
    it(`${policy}: replicas in turn, never the primary while a replica is healthy`, () => {
      const router = ClusterRouter.make(policy)
      const snapshot = oneShard(node(7001), [replica(7002), replica(7003), replica(7004)])
      const got = ports(picks(router, snapshot, read, 9))
      assert.notInclude(got, 7001)
      for (const p of [7002, 7003, 7004]) assert.strictEqual(got.filter((x) => x === p).length, 3)
      // Each window of three covers all three replicas.
      for (let i = 0; i + 3 <= got.length; i++) assert.strictEqual(new Set(got.slice(i, i + 3)).size, 3)
    })

    it(`${policy}: failed replicas are skipped; loading ones are still used`, () => {
      const router = ClusterRouter.make(policy)
      const snapshot = oneShard(node(7001), [replica(7002, "failed"), replica(7003, "loading"), replica(7004)])
      const got = ports(picks(router, snapshot, read, 6))
      assert.deepStrictEqual([...new Set(got)].sort(), [7003, 7004])
    })

    it(`${policy}: falls back to the primary with no replicas or only failed ones`, () => {
      const router = ClusterRouter.make(policy)
      assert.deepStrictEqual(ports(picks(router, oneShard(node(7001)), read, 3)), [7001, 7001, 7001])
      const allFailed = oneShard(node(7001), [replica(7002, "failed"), replica(7003, "failed")])
      assert.deepStrictEqual(ports(picks(router, allFailed, read, 3)), [7001, 7001, 7001])
    })
  }

  it("roundRobin: the primary and its healthy replicas in turn", () => {
    const router = ClusterRouter.make("roundRobin")
    const snapshot = oneShard(node(7001), [replica(7002), replica(7003), replica(7004, "failed")])
    const got = ports(picks(router, snapshot, read, 9))
    for (const p of [7001, 7002, 7003]) assert.strictEqual(got.filter((x) => x === p).length, 3)
    assert.notInclude(got, 7004)
    for (let i = 0; i + 3 <= got.length; i++) assert.strictEqual(new Set(got.slice(i, i + 3)).size, 3)
    // Alone, the primary takes every read.
    assert.deepStrictEqual(ports(picks(router, oneShard(node(7001)), read, 2)), [7001, 7001])
  })

  it("randomReplica: only healthy replicas, each of them some of the time", () => {
    const router = ClusterRouter.make("randomReplica")
    const snapshot = oneShard(node(7001), [replica(7002), replica(7003), replica(7004, "failed")])
    const got = ports(picks(router, snapshot, read, 200))
    assert.deepStrictEqual([...new Set(got)].sort(), [7002, 7003])
  })

  it("randomReplica: the primary when no replica is healthy", () => {
    const router = ClusterRouter.make("randomReplica")
    assert.strictEqual(router.route(oneShard(node(7001)), read, slot)?.port, 7001)
    assert.strictEqual(router.route(oneShard(node(7001), [replica(7002, "failed")]), read, slot)?.port, 7001)
  })

  it("a custom function picks among the shard's nodes, given the shard and the slot", () => {
    const seen: Array<[number, number]> = []
    const router = ClusterRouter.make((s, at) => {
      seen.push([s.primary.port, at])
      return s.replicas[s.replicas.length - 1] ?? s.primary
    })
    const snapshot = snapshotOf({
      shards: [shard([[0, 8191]], node(7001), [replica(7011), replica(7012)]), shard([[8192, 16383]], node(7002))]
    })
    assert.strictEqual(router.route(snapshot, read, 5)?.port, 7012)
    assert.strictEqual(router.route(snapshot, read, 9000)?.port, 7002)
    assert.deepStrictEqual(seen, [[7001, 5], [7002, 9000]])
    // Writes never ask it.
    router.route(snapshot, write, 5)
    assert.strictEqual(seen.length, 2)
  })
})

// -----------------------------------------------------------------------------
// keyless commands and setReadFrom
// -----------------------------------------------------------------------------

describe("ClusterRouter keyless commands and setReadFrom", () => {
  it("a keyless command goes to the primaries in turn, never a replica", () => {
    const router = ClusterRouter.make("replica")
    const snapshot = snapshotOf({
      shards: [
        shard([[0, 5000]], node(7001), [replica(7011)]),
        shard([[5001, 10000]], node(7002), [replica(7012)]),
        shard([[10001, 16383]], node(7003), [replica(7013)])
      ]
    })
    const got = ports(picks(router, snapshot, Commands.ping(), 9, -1))
    for (const p of [7001, 7002, 7003]) assert.strictEqual(got.filter((x) => x === p).length, 3)
    for (let i = 0; i + 3 <= got.length; i++) assert.strictEqual(new Set(got.slice(i, i + 3)).size, 3)
  })

  it("a keyless command with no shards routes nowhere", () => {
    const router = ClusterRouter.make("primary")
    assert.isUndefined(router.route(snapshotOf({ shards: [] }), Commands.ping(), -1))
  })

  it("setReadFrom changes where the next reads go", () => {
    const router = ClusterRouter.make("primary")
    const snapshot = oneShard(node(7001), [replica(7002)])
    assert.strictEqual(router.readFrom(), "primary")
    assert.strictEqual(router.route(snapshot, read, slot)?.port, 7001)
    router.setReadFrom("replica")
    assert.strictEqual(router.readFrom(), "replica")
    assert.deepStrictEqual(ports(picks(router, snapshot, read, 3)), [7002, 7002, 7002])
    assert.strictEqual(router.route(snapshot, write, slot)?.port, 7001)
    const custom: ClusterRouter.ReadFrom = (s) => s.primary
    router.setReadFrom(custom)
    assert.strictEqual(router.readFrom(), custom)
    assert.strictEqual(router.route(snapshot, read, slot)?.port, 7001)
    router.setReadFrom("primary")
    assert.strictEqual(router.route(snapshot, read, slot)?.port, 7001)
  })

  it("usesReplicas is false only for primary", () => {
    assert.isFalse(ClusterRouter.usesReplicas("primary"))
    for (const p of ["primaryPreferred", "replica", "replicaPreferred", "roundRobin", "randomReplica"] as const) {
      assert.isTrue(ClusterRouter.usesReplicas(p))
    }
    assert.isTrue(ClusterRouter.usesReplicas((s) => s.primary))
  })
})

// -----------------------------------------------------------------------------
// replicaFor and the default node
// -----------------------------------------------------------------------------

describe("ClusterRouter.replicaFor", () => {
  it("a replica of the slot's shard under every policy, primary included (redis-py get_node_from_key replica=True)", () => {
    const snapshot = oneShard(node(7001), [replica(7002), replica(7003)])
    for (const policy of ["primary", "primaryPreferred", "roundRobin", "lowestLatency", "replica"] as const) {
      const router = ClusterRouter.make(policy)
      const got = ports(Array.from({ length: 6 }, () => router.replicaFor(snapshot, slot)))
      assert.isTrue(got.every((p) => p === 7002 || p === 7003), `${policy}: ${got}`)
      assert.strictEqual(new Set(got).size, 2, `${policy} spreads over the replicas`)
    }
  })

  it("the policy's own pick when it is a replica; failed replicas never; none without a healthy replica", () => {
    const snapshot = oneShard(node(7001), [replica(7002, "failed"), replica(7003)])
    const router = ClusterRouter.make((s) => s.replicas[1])
    assert.deepStrictEqual(ports(Array.from({ length: 3 }, () => router.replicaFor(snapshot, slot))), [7003, 7003, 7003])
    assert.deepStrictEqual(ports([ClusterRouter.make("primary").replicaFor(snapshot, slot)]), [7003])
    assert.isUndefined(ClusterRouter.make("replica").replicaFor(oneShard(node(7001), [replica(7002, "failed")]), slot))
    assert.isUndefined(ClusterRouter.make("replica").replicaFor(snapshotOf({ shards: [] }), slot))
  })
})

describe("ClusterRouter default node", () => {
  const threeShards = (health: NodeInfo["health"] = "online", first = 7001) =>
    snapshotOf({
      shards: [
        shard([[0, 5000]], node(first, "primary", health), [replica(7011)]),
        shard([[5001, 10000]], node(7002), [replica(7012)]),
        shard([[10001, 16383]], node(7003), [replica(7013)])
      ]
    })

  it("chooseDefaultNode: a primary at random; keyless commands all go there", () => {
    const snapshot = threeShards()
    const chosen = new Set<number>()
    for (let i = 0; i < 200; i++) {
      const router = ClusterRouter.make("replica")
      router.chooseDefaultNode(snapshot)
      const d = router.defaultNode(snapshot)!
      assert.include([7001, 7002, 7003], d.port)
      chosen.add(d.port)
      assert.isTrue(picks(router, snapshot, Commands.ping(), 5, -1).every((n) => n?.port === d.port))
    }
    assert.strictEqual(chosen.size, 3, "different clients spread over the primaries")
  })

  it("the client's choice is made again when it fails over or is marked failed; avoid skips a node", () => {
    const router = ClusterRouter.make("primary")
    const before = threeShards()
    router.chooseDefaultNode(before, { host: "127.0.0.1", port: 7002 })
    router.chooseDefaultNode(before, { host: "127.0.0.1", port: 7003 })
    const first = router.defaultNode(before)!
    assert.notStrictEqual(first.port, 7003)
    // Its primary failed: another one takes over.
    const failed = snapshotOf({
      shards: before.view.shards.map((s) =>
        s.primary.port === first.port ? { ...s, primary: { ...s.primary, health: "failed" as const } } : s
      )
    })
    const next = router.defaultNode(failed)!
    assert.notStrictEqual(next.port, first.port)
    assert.strictEqual(next.role, "primary")
    // The same node in a new snapshot: kept, as the new snapshot's entry.
    const again = threeShards()
    const kept = router.defaultNode(again)!
    assert.strictEqual(kept.port, next.port)
    assert.include(again.view.shards.map((s) => s.primary), kept)
  })

  it("the user's default node is kept while it is a node of the cluster, even a replica; replaced when it leaves", () => {
    const router = ClusterRouter.make("primary")
    const snapshot = threeShards()
    router.setDefaultNode(replica(7012))
    assert.isTrue(router.defaultIsUsers())
    router.chooseDefaultNode(snapshot)
    assert.strictEqual(router.defaultNode(snapshot)?.port, 7012, "chooseDefaultNode leaves the user's choice alone")
    assert.strictEqual(router.route(snapshot, Commands.ping(), -1)?.port, 7012)
    const without = snapshotOf({ shards: snapshot.view.shards.map((s) => ({ ...s, replicas: [] })) })
    const replaced = router.defaultNode(without)!
    assert.strictEqual(replaced.role, "primary")
    assert.isFalse(router.defaultIsUsers())
    router.setDefaultNode(undefined)
    assert.isUndefined(router.defaultNode(snapshot))
  })

  it("randomPrimary: healthy primaries first, any primary when none is healthy, nothing without shards", () => {
    const failed = threeShards("failed")
    for (let i = 0; i < 50; i++) assert.notStrictEqual(ClusterRouter.randomPrimary(failed.view, undefined)?.port, 7001)
    const allFailed = oneShard(node(7001, "primary", "failed"))
    assert.strictEqual(ClusterRouter.randomPrimary(allFailed.view, undefined)?.port, 7001)
    assert.strictEqual(ClusterRouter.randomPrimary(allFailed.view, { host: "127.0.0.1", port: 7001 })?.port, 7001)
    assert.isUndefined(ClusterRouter.randomPrimary({ shards: [] }, undefined))
  })
})
