/**
 * `ClusterEvents.diff`, the pure diff of two topology views into
 * `TopologyEvent`s (nodes added and removed, slot ranges moved between
 * primaries, failovers), and `ofRefresh`, which adds `RefreshDone`.
 */
import { assert, describe, it } from "@effect/vitest"
import * as ClusterEvents from "../../src/cluster/ClusterEvents.ts"
import type * as ClusterTopology from "../../src/cluster/ClusterTopology.ts"
import type { NodeInfo, Shard, View } from "../../src/cluster/ClusterView.ts"
import { slotTable } from "../../src/cluster/ClusterView.ts"

const node = (port: number, role: NodeInfo["role"] = "primary"): NodeInfo => ({
  id: `id-${port}`,
  host: "127.0.0.1",
  port,
  role,
  health: "online"
})

const shard = (
  ranges: ReadonlyArray<readonly [number, number]>,
  primary: number,
  replicas: ReadonlyArray<number> = []
): Shard => ({ ranges, primary: node(primary), replicas: replicas.map((p) => node(p, "replica")) })

const at = (port: number) => `127.0.0.1:${port}`

/** 7001 (0-8191, replica 7003) and 7002 (8192-16383). */
const base: View = { shards: [shard([[0, 8191]], 7001, [7003]), shard([[8192, 16383]], 7002)] }

describe("ClusterEvents.diff", () => {
  it("the same view gives no event", () => {
    assert.deepStrictEqual(ClusterEvents.diff(base, base), [])
    const reordered: View = { shards: [...base.shards].reverse() }
    assert.deepStrictEqual(ClusterEvents.diff(base, reordered), [])
  })

  it("slots that changed primary are one SlotsMoved per (from, to), as ranges in slot order", () => {
    // 0-99 and 200-299 go to 7002; 16000-16383 come back to 7001.
    const after: View = {
      shards: [
        shard([[100, 199], [300, 8191], [16000, 16383]], 7001, [7003]),
        shard([[0, 99], [200, 299], [8192, 15999]], 7002)
      ]
    }
    assert.deepStrictEqual(ClusterEvents.diff(base, after), [
      { _tag: "SlotsMoved", ranges: [[0, 99], [200, 299]], from: at(7001), to: at(7002) },
      { _tag: "SlotsMoved", ranges: [[16000, 16383]], from: at(7002), to: at(7001) }
    ])
  })

  it("a failover is FailoverObserved, and its slots are not reported as moved", () => {
    const after: View = { shards: [shard([[0, 8191]], 7003, [7001]), shard([[8192, 16383]], 7002)] }
    assert.deepStrictEqual(ClusterEvents.diff(base, after), [{ _tag: "FailoverObserved", from: at(7001), to: at(7003) }])
  })

  it("a killed primary: the replica takes over and the old primary leaves the view", () => {
    const after: View = { shards: [shard([[0, 8191]], 7003), shard([[8192, 16383]], 7002)] }
    assert.deepStrictEqual(ClusterEvents.diff(base, after), [
      { _tag: "FailoverObserved", from: at(7001), to: at(7003) },
      { _tag: "NodeRemoved", node: at(7001) }
    ])
  })

  it("nodes that join or leave are NodeAdded (with their role) and NodeRemoved", () => {
    const grown: View = { shards: [shard([[0, 8191]], 7001, [7003]), shard([[8192, 16383]], 7002, [7004])] }
    assert.deepStrictEqual(ClusterEvents.diff(base, grown), [{ _tag: "NodeAdded", node: at(7004), role: "replica" }])
    assert.deepStrictEqual(ClusterEvents.diff(grown, base), [{ _tag: "NodeRemoved", node: at(7004) }])
  })

  it("a new primary that takes slots: NodeAdded, then SlotsMoved to it", () => {
    const after: View = {
      shards: [shard([[0, 8191]], 7001, [7003]), shard([[8192, 12000]], 7002), shard([[12001, 16383]], 7005)]
    }
    assert.deepStrictEqual(ClusterEvents.diff(base, after), [
      { _tag: "NodeAdded", node: at(7005), role: "primary" },
      { _tag: "SlotsMoved", ranges: [[12001, 16383]], from: at(7002), to: at(7005) }
    ])
  })

  it("slots nobody serves any more move to undefined, and back from undefined", () => {
    const partial: View = { shards: [shard([[0, 8191]], 7001, [7003]), shard([[8192, 16000]], 7002)] }
    assert.deepStrictEqual(ClusterEvents.diff(base, partial), [
      { _tag: "SlotsMoved", ranges: [[16001, 16383]], from: at(7002), to: undefined }
    ])
    assert.deepStrictEqual(ClusterEvents.diff(partial, base), [
      { _tag: "SlotsMoved", ranges: [[16001, 16383]], from: undefined, to: at(7002) }
    ])
  })
})

describe("ClusterEvents.ofRefresh", () => {
  const snapshot = (view: View, epoch: number): ClusterTopology.Snapshot => ({
    epoch,
    view,
    table: slotTable(view),
    trigger: "manual",
    refreshedAt: 0
  })

  it("an unchanged refresh is RefreshDone alone", () => {
    const s = snapshot(base, 1)
    assert.deepStrictEqual(ClusterEvents.ofRefresh({ trigger: "periodic", changed: false, before: s, after: s }), [
      { _tag: "RefreshDone", trigger: "periodic", changed: false }
    ])
  })

  it("a changed refresh is the diff, then RefreshDone", () => {
    const after: View = { shards: [shard([[0, 8191]], 7003, [7001]), shard([[8192, 16383]], 7002)] }
    const events = ClusterEvents.ofRefresh({
      trigger: "moved",
      changed: true,
      before: snapshot(base, 1),
      after: snapshot(after, 2)
    })
    assert.deepStrictEqual(events, [
      { _tag: "FailoverObserved", from: at(7001), to: at(7003) },
      { _tag: "RefreshDone", trigger: "moved", changed: true }
    ])
  })
})
