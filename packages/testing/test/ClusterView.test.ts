/**
 * The pure core of the cluster fixture: `CLUSTER NODES` parsing and the
 * settle rule, fed with scripted replies (no server).
 */
import { assert, describe, it } from "@effect/vitest"
import * as Result from "effect/Result"
import * as View from "../src/internal/cluster/view.ts"
import { ServerError } from "../src/ServerError.ts"

// A 3×1 cluster: a, b, c primaries; d, e, f their replicas.
const settledLines = [
  "a 127.0.0.1:30001@40001 master - 0 0 1 connected 0-5460",
  "b 127.0.0.1:30002@40002 master - 0 0 2 connected 5461-10922",
  "c 127.0.0.1:30003@40003 master - 0 0 3 connected 10923-16383",
  "d 127.0.0.1:30004@40004 slave a 0 0 1 connected",
  "e 127.0.0.1:30005@40005 slave b 0 0 2 connected",
  "f 127.0.0.1:30006@40006 slave c 0 0 3 connected"
]

/** `id`'s CLUSTER NODES: `lines`, with `myself` on its own line. */
const nodesReply = (id: string, lines: ReadonlyArray<string>) =>
  lines.map((line) => line.startsWith(`${id} `) ? line.replace(/ (master|slave) /, " myself,$1 ") : line).join("\n")

const probe = (
  id: string,
  lines: ReadonlyArray<string> = settledLines,
  overrides: { readonly clusterState?: string; readonly linkStatus?: string } = {}
): View.Probe => {
  const view = View.parseClusterNodes(nodesReply(id, lines))
  const isReplica = view.find((e) => e.id === id)?.primaryId !== undefined
  return {
    id,
    name: `node-${id}`,
    answer: Result.succeed({
      clusterInfo: { cluster_state: overrides.clusterState ?? "ok" },
      view,
      replication: isReplica
        ? { role: "slave", master_link_status: overrides.linkStatus ?? "up" }
        : { role: "master" }
    })
  }
}

const ids = ["a", "b", "c", "d", "e", "f"]

describe("ClusterView", () => {
  it("parseClusterNodes reads myself, hostnames and single slots", () => {
    const [a, b] = View.parseClusterNodes(
      "a 127.0.0.1:30001@40001,node-a myself,master - 0 0 7 connected 5 7-9\r\nb :0@0 master,noaddr - 0 0 0 disconnected\r\n"
    )
    assert.deepStrictEqual(a!.flags, ["myself", "master"])
    assert.strictEqual(a!.configEpoch, 7)
    assert.strictEqual(a!.linkState, "connected")
    assert.deepStrictEqual(a!.slots, [[5, 5], [7, 9]])
    assert.strictEqual(View.slotCount(a!.slots), 4)
    assert.isTrue(View.ownsSlot(a!, 8))
    assert.isFalse(View.ownsSlot(a!, 6))
    assert.strictEqual(b!.host, "")
    assert.strictEqual(b!.port, 0)
  })

  it("a cluster whose live nodes agree and cover every slot is settled", () => {
    const { problems, views } = View.disagreements(ids.map((id) => probe(id)))
    assert.deepStrictEqual(problems, [])
    assert.strictEqual(views.size, 6)
    assert.isTrue(View.isPrimaryNow(views, "a"))
    assert.isFalse(View.isPrimaryNow(views, "d"))
  })

  it("a dead node flagged fail does not count; a live one does", () => {
    // `c` was killed and `f` promoted: the survivors still list `c`, flagged fail.
    const afterFailover = [
      ...settledLines.slice(0, 2),
      "c 127.0.0.1:30003@40003 master,fail - 0 0 3 disconnected",
      ...settledLines.slice(3, 5),
      "f 127.0.0.1:30006@40006 master - 0 0 4 connected 10923-16383"
    ]
    const survivors = ["a", "b", "d", "e", "f"]
    assert.deepStrictEqual(View.disagreements(survivors.map((id) => probe(id, afterFailover))).problems, [])
    // Had `c` still been alive, the fail flag would keep the cluster unsettled.
    const withC = View.disagreements([...survivors, "c"].map((id) => probe(id, afterFailover))).problems
    assert.include(withC.join("; "), "node-a flags c fail")
  })

  it("names every problem: silence, state, replica link, coverage, disagreement", () => {
    const silent: View.Probe = { id: "b", name: "node-b", answer: Result.fail(new ServerError({ message: "timeout" })) }
    const uncovered = settledLines.map((line) => line.replace("10923-16383", "10923-16000"))
    const demoted = settledLines.map((line) => line.startsWith("f ") ? line.replace("slave c", "slave a") : line)
    const { problems, views } = View.disagreements([
      probe("a", uncovered),
      silent,
      probe("c", demoted, { clusterState: "fail" }),
      probe("d", uncovered, { linkStatus: "down" })
    ])
    assert.deepStrictEqual(problems, [
      "live primaries cover 16001 of 16384 slots",
      "node-b does not answer: timeout",
      "node-c cluster_state:fail",
      "node-c disagrees about roles or slots",
      "node-d master_link_status:down"
    ])
    assert.deepStrictEqual([...views.keys()], ["a", "c", "d"])
  })

  it("a live node missing from a view is reported", () => {
    const { problems } = View.disagreements(["a", "b", "c", "d", "e", "f", "g"].map((id) => probe(id)))
    assert.include(problems, "node-a does not know g")
  })
})
