/**
 * `ClusterScan` over a fake two-node cluster (a key store, SCAN pages of two
 * keys, `CLUSTER NODES` text) and a fake topology: every key once; a slot
 * that was migrating when its node's walk ended, or had moved away though the
 * topology did not know yet, is walked again on its new owner without
 * emitting a key twice; and `migratingSlots` reads the node's own
 * `CLUSTER NODES` line.
 */
import { assert, describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"
import * as Stream from "effect/Stream"
import { TestClock } from "effect/testing"
import type * as Address from "../../src/Address.ts"
import type { Command } from "../../src/Command.ts"
import * as ClusterScan from "../../src/cluster/ClusterScan.ts"
import * as ClusterSlot from "../../src/cluster/ClusterSlot.ts"
import type * as ClusterTopology from "../../src/cluster/ClusterTopology.ts"
import type { NodeInfo, View } from "../../src/cluster/ClusterView.ts"
import { parseClusterNodes, slotTable } from "../../src/cluster/ClusterView.ts"
import type * as RedisError from "../../src/RedisError.ts"

const node = (port: number): NodeInfo => ({ id: `id${port}`, host: "127.0.0.1", port, role: "primary", health: "online" })

const split = (moved: ReadonlyArray<number> = []): View => {
  // 7001 serves 0-8191 but the `moved` slots, which 7002 serves.
  const a: Array<readonly [number, number]> = []
  let start = 0
  for (const slot of [...moved].sort((x, y) => x - y)) {
    if (slot > start) a.push([start, slot - 1])
    start = slot + 1
  }
  a.push([start, 8191])
  return {
    shards: [
      { ranges: a, primary: node(7001), replicas: [] },
      { ranges: [...moved.map((s) => [s, s] as const), [8192, 16383]], primary: node(7002), replicas: [] }
    ]
  }
}

const snapshot = (view: View, epoch: number): ClusterTopology.Snapshot => ({
  epoch,
  view,
  table: slotTable(view),
  trigger: "manual",
  refreshedAt: 0
})

/** A fake cluster: keys live on a port; SCAN pages two keys at a time. */
const fakeCluster = (keys: ReadonlyArray<string>) => {
  const store = new Map<string, number>(keys.map((k) => [k, ClusterSlot.keyslot(k) < 8192 ? 7001 : 7002]))
  let view = split()
  // What the nodes print in `CLUSTER NODES`; the topology (`view`) may lag it.
  let nodesView = view
  let epoch = 1
  const migrating = new Map<number, string>()
  /** Runs once a node's walk has sent its last page (before the walk checks its slots). */
  let onWalkEnd: (port: number) => void = () => {}
  const scans: Array<string> = []
  let refreshes = 0
  /** Runs before each refresh answers, with its number. */
  let onRefresh: (n: number) => void = () => {}
  const topology = {
    current: () => snapshot(view, epoch),
    refresh: () =>
      Effect.sync(() => {
        onRefresh(++refreshes)
        return snapshot(view, epoch)
      })
  } as unknown as ClusterTopology.Topology
  const send = <A>(a: Address.Address, command: Command<A>): Effect.Effect<A, RedisError.RedisError> =>
    Effect.sync(() => {
      if (command.name === "CLUSTER") {
        const own = [...migrating].filter(() => a.port === 7001).map(([slot, to]) => `[${slot}->-${to}]`)
        const ranges = (port: number) =>
          nodesView.shards.find((s) => s.primary.port === port)!.ranges.map(([l, h]) => l === h ? `${l}` : `${l}-${h}`)
        const text = [
          `id7001 127.0.0.1:7001@17001 ${a.port === 7001 ? "myself," : ""}master - 0 0 1 connected ${ranges(7001).join(" ")} ${own.join(" ")}`,
          `id7002 127.0.0.1:7002@17002 ${a.port === 7002 ? "myself," : ""}master - 0 0 2 connected ${ranges(7002).join(" ")}`
        ].join("\n")
        return command.decode(text)
      }
      const cursor = Number(command.args[1])
      scans.push(`${a.port}:${cursor}`)
      const mine = [...store].filter(([, port]) => port === a.port).map(([k]) => k).sort()
      const page = mine.slice(cursor, cursor + 2)
      const next = cursor + 2 >= mine.length ? "0" : String(cursor + 2)
      if (next === "0") onWalkEnd(a.port)
      return command.decode([next, page])
    })
  return {
    scan: ClusterScan.make({ send, topology }).scan,
    scans,
    store,
    migrating,
    setView: (next: View) => {
      view = nodesView = next
      epoch++
    },
    /** The nodes' own lines change; the topology still shows the old view. */
    setNodesView: (next: View) => {
      nodesView = next
    },
    onWalkEnd: (f: (port: number) => void) => {
      onWalkEnd = f
    },
    onRefresh: (f: (n: number) => void) => {
      onRefresh = f
    }
  }
}

const keysOn = (low: boolean, n: number) => {
  const out: Array<string> = []
  for (let i = 0; out.length < n; i++) if ((ClusterSlot.keyslot(`key:${i}`) < 8192) === low) out.push(`key:${i}`)
  return out
}

/**
 * Six keys on 7001 and three on 7002; `moveKeys` moves the slot of the
 * first 7001 key to 7002 with that key (emitted already when a walk of 7001
 * ends) and a new key of the slot, and `during` calls it, once, as 7001's
 * walk ends.
 */
const slotMovingOff7001 = (during: (moveKeys: () => void) => void) => {
  const low = keysOn(true, 6)
  const slot = ClusterSlot.keyslot(low[0])
  const added = `{${low[0]}}:new`
  const cluster = fakeCluster([...low, ...keysOn(false, 3)])
  cluster.onWalkEnd((port) => {
    if (port !== 7001 || cluster.store.get(low[0]) === 7002) return
    during(() => {
      cluster.store.set(low[0], 7002)
      cluster.store.set(added, 7002)
    })
  })
  return { cluster, slot, moved: low[0], added }
}

/**
 * Runs the whole scan, moving the TestClock on (a round after the first
 * waits 50 ms), and checks that no key came twice.
 */
const scanOnce = (cluster: ReturnType<typeof fakeCluster>) =>
  Effect.gen(function*() {
    const fiber = yield* Effect.forkChild(Stream.runCollect(cluster.scan()))
    for (let i = 0; i < 10 && fiber.pollUnsafe() === undefined; i++) {
      for (let j = 0; j < 10; j++) yield* Effect.yieldNow
      yield* TestClock.adjust(50)
    }
    const seen = yield* Fiber.join(fiber)
    assert.strictEqual(new Set(seen).size, seen.length, `a key was emitted twice: ${seen.join(",")}`)
    return seen
  })

describe("ClusterScan", () => {
  it.effect("every key of every primary, once", () =>
    Effect.gen(function*() {
      const keys = [...keysOn(true, 5), ...keysOn(false, 4)]
      const cluster = fakeCluster(keys)
      const seen = yield* Stream.runCollect(cluster.scan())
      assert.sameMembers([...seen], keys)
      assert.strictEqual(seen.length, keys.length)
    }))

  it.effect("a slot migrating at the end of its node's walk is walked again on its new owner, no key twice", () =>
    Effect.gen(function*() {
      // While 7001 finishes its walk, the slot starts migrating: its key
      // already emitted moves to 7002, and a new key of the slot lands there.
      const { added, cluster, moved, slot } = slotMovingOff7001((moveKeys) => {
        cluster.migrating.set(slot, "b7002")
        moveKeys()
      })
      // The first refresh plans the second round, after the migration finished.
      cluster.onRefresh((n) => {
        if (n !== 1) return
        cluster.migrating.clear()
        cluster.setView(split([slot]))
      })
      const seen = yield* scanOnce(cluster)
      assert.include(seen, moved)
      assert.include(seen, added)
      assert.strictEqual(seen.length, 6 + 3 + 1)
      // The second round walked only 7002, for the one slot.
      assert.isTrue(cluster.scans.filter((s) => s === "7002:0").length >= 2)
    }))

  it.effect("a slot that moved away during its node's walk is walked again though the topology has not heard yet", () =>
    Effect.gen(function*() {
      // The whole move happens during 7001's walk: its keys (one already
      // emitted, one new) are on 7002, 7001 and 7002 say so, and the
      // topology, a majority of nodes learning by gossip, still says 7001.
      const { added, cluster, slot } = slotMovingOff7001((moveKeys) => {
        moveKeys()
        cluster.setNodesView(split([slot]))
      })
      // Gossip reaches the majority by the second refresh.
      cluster.onRefresh((n) => {
        if (n === 2) cluster.setView(split([slot]))
      })
      const seen = yield* scanOnce(cluster)
      assert.include(seen, added)
      assert.strictEqual(seen.length, 6 + 3 + 1)
    }))

  it("ownsSlot: the ranges of the line", () => {
    const [entry] = parseClusterNodes("a1 127.0.0.1:7001@17001 myself,master - 0 0 1 connected 0-100 200 300-301")
    assert.deepStrictEqual([0, 100, 101, 200, 201, 300, 301, 302].map((s) => ClusterScan.ownsSlot(entry, s)), [
      true, true, false, true, false, true, true, false
    ])
  })

  it("migratingSlots: the slots of the node's own line only", () => {
    const text = [
      "a1 127.0.0.1:7001@17001 myself,master - 0 0 1 connected 0-100 [7->-b2] [9->-b2] [12-<-b2]",
      "b2 127.0.0.1:7002@17002 master - 0 0 2 connected 101-16383 [50->-a1]"
    ].join("\n")
    assert.deepStrictEqual([...ClusterScan.migratingSlots(parseClusterNodes(text))], [7, 9])
    assert.deepStrictEqual([...ClusterScan.migratingSlots(parseClusterNodes(text.split("\n")[1]))], [])
  })
})
