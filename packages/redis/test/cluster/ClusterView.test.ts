/**
 * Topology replies as data: `CLUSTER SHARDS` and `CLUSTER SLOTS` replies
 * captured from redis-server 7.0.15 (`fixtures/cluster/*.resp2|resp3`, the
 * exact bytes the server sent) and hand-built from the documented format;
 * then signatures, consensus, coverage and the slot table.
 *
 * The fixtures:
 * - `cluster-1node-*`: one node after `CLUSTER ADDSLOTSRANGE 0 16383`, which
 *   has met nobody and so reports an empty `ip`/`endpoint`.
 * - `cluster-3node-*`: primaries :27101 (0-7999, 9001-11999, replica :27103)
 *   and :27102 (8000-9000, 12000-16383), asked on :27101.
 * - `cluster-3node-replica-failed-*`: the same after the replica was killed
 *   and marked FAIL (Redis 7.0 says health `fail`; CLUSTER SLOTS drops it).
 */
import { assert, describe, it } from "@effect/vitest"
import * as Fs from "node:fs"
import { UnexpectedReply } from "../../src/Command.ts"
import * as ClusterSlot from "../../src/cluster/ClusterSlot.ts"
import {
  address,
  consensus,
  coverage,
  mapAddresses,
  type NodeInfo,
  nodes,
  parseClusterNodes,
  parseClusterShards,
  parseClusterSlots,
  type Shard,
  signature,
  slotTable,
  type View
} from "../../src/cluster/ClusterView.ts"
import { Decoder, Incomplete, RespMap, type RespValue } from "../../src/Resp.ts"

const fixture = (name: string, binary = false): RespValue => {
  const decoder = new Decoder()
  decoder.feed(Fs.readFileSync(new URL(`../fixtures/cluster/${name}`, import.meta.url)))
  const reply = decoder.next(binary)
  if (reply === Incomplete) throw new Error(`fixture ${name} is incomplete`)
  assert.strictEqual(decoder.next(binary), Incomplete, `fixture ${name} holds one reply`)
  return reply
}

const origin = { host: "10.0.0.9", port: 7000 }

const ID1 = "2fedcdaeb8d8702a2d2bd015022edd9c303c3506"
const ID2 = "a8e29ddeae786387d3fef3dd70157237b1c21561"
const ID3 = "93c487c162f5bc7779da6b71de9204efeaa9d2fc"

const node = (
  id: string,
  port: number,
  role: NodeInfo["role"] = "primary",
  health: NodeInfo["health"] = "online",
  host = "127.0.0.1"
): NodeInfo => ({ id, host, port, role, health })

const shard = (
  ranges: ReadonlyArray<readonly [number, number]>,
  primary: NodeInfo,
  replicas: ReadonlyArray<NodeInfo> = []
): Shard => ({ ranges, primary, replicas })

/** The 3-node fixture as a View. */
const threeNodes = (replicaHealth: NodeInfo["health"] = "online"): View => ({
  shards: [
    shard([[0, 7999], [9001, 11999]], node(ID1, 27101), [node(ID3, 27103, "replica", replicaHealth)]),
    shard([[8000, 9000], [12000, 16383]], node(ID2, 27102))
  ]
})

const throwsUnexpected = (f: () => unknown): void => {
  assert.throws(f, UnexpectedReply)
}

// -----------------------------------------------------------------------------
// captured replies
// -----------------------------------------------------------------------------

describe("captured replies (redis-server 7.0.15)", () => {
  for (const protocol of ["resp2", "resp3"] as const) {
    for (const binary of [false, true]) {
      const mode = `${protocol}${binary ? ", bytes" : ""}`

      it(`1 node, CLUSTER SHARDS (${mode}): the empty endpoint becomes the origin host`, () => {
        const view = parseClusterShards(fixture(`cluster-1node-shards.${protocol}`, binary), origin)
        assert.deepStrictEqual(view, {
          shards: [shard([[0, 16383]], node(ID1, 27101, "primary", "online", origin.host))]
        })
      })

      it(`1 node, CLUSTER SLOTS (${mode}): same view as CLUSTER SHARDS`, () => {
        const slots = parseClusterSlots(fixture(`cluster-1node-slots.${protocol}`, binary), origin)
        const shards = parseClusterShards(fixture(`cluster-1node-shards.${protocol}`, binary), origin)
        assert.deepStrictEqual(slots, shards)
        assert.strictEqual(signature(slots), signature(shards))
      })

      it(`3 nodes, CLUSTER SHARDS (${mode}): two ranges per shard, one replica`, () => {
        const view = parseClusterShards(fixture(`cluster-3node-shards.${protocol}`, binary), origin)
        assert.deepStrictEqual(view, threeNodes())
      })

      it(`3 nodes, CLUSTER SLOTS (${mode}): the ranges of each primary merge into one shard`, () => {
        const view = parseClusterSlots(fixture(`cluster-3node-slots.${protocol}`, binary), origin)
        assert.deepStrictEqual(view, threeNodes())
      })

      it(`3 nodes, failed replica (${mode}): SHARDS keeps it as failed, SLOTS drops it`, () => {
        const shards = parseClusterShards(fixture(`cluster-3node-replica-failed-shards.${protocol}`, binary), origin)
        assert.deepStrictEqual(shards, threeNodes("failed"))
        const slots = parseClusterSlots(fixture(`cluster-3node-replica-failed-slots.${protocol}`, binary), origin)
        assert.deepStrictEqual(slots, {
          shards: [
            shard([[0, 7999], [9001, 11999]], node(ID1, 27101)),
            shard([[8000, 9000], [12000, 16383]], node(ID2, 27102))
          ]
        })
      })
    }
  }

  it("RESP2 and RESP3 replies give the same view", () => {
    for (const name of ["cluster-1node-shards", "cluster-3node-shards", "cluster-3node-replica-failed-shards"]) {
      assert.deepStrictEqual(
        parseClusterShards(fixture(`${name}.resp2`), origin),
        parseClusterShards(fixture(`${name}.resp3`), origin)
      )
    }
  })
})

// -----------------------------------------------------------------------------
// CLUSTER SHARDS, hand-built
// -----------------------------------------------------------------------------

/** A CLUSTER SHARDS node as RESP3 (a map) or RESP2 (a flat array). */
const shardsNode = (fields: Record<string, RespValue>, resp3: boolean): RespValue => {
  const flat = Object.entries(fields).flat()
  return resp3 ? new RespMap(flat) : flat
}

const shardsEntry = (slots: ReadonlyArray<number>, nodes: ReadonlyArray<RespValue>, resp3: boolean): RespValue => {
  const flat: Array<RespValue> = ["slots", slots, "nodes", nodes]
  return resp3 ? new RespMap(flat) : flat
}

const fullNode = (id: string, port: number, extra: Record<string, RespValue> = {}): Record<string, RespValue> => ({
  id,
  port,
  ip: "10.1.0.1",
  endpoint: "10.1.0.1",
  role: "master",
  "replication-offset": 72156,
  health: "online",
  ...extra
})

describe("parseClusterShards", () => {
  for (const resp3 of [false, true]) {
    const form = resp3 ? "RESP3" : "RESP2"

    it(`${form}: the documented example`, () => {
      const reply: RespValue = [
        shardsEntry([0, 5460], [
          shardsNode(fullNode("e10b7051d6bf2d5febd39a2be297bbaea6084111", 30001, { hostname: "host-1.redis.example.com" }), resp3),
          shardsNode(fullNode("1901f5962d865341e81c85f9f596b1e7160c35ce", 30006, { role: "replica", ip: "10.1.0.6", endpoint: "10.1.0.6" }), resp3)
        ], resp3),
        shardsEntry([10923, 16383], [
          shardsNode(fullNode("fd20502fe1b32fc32c15b69b0a9537551f162f1f", 30003, { ip: "10.1.0.3", endpoint: "10.1.0.3" }), resp3)
        ], resp3),
        shardsEntry([5461, 10922], [
          shardsNode(fullNode("c9d3c26ce0b4e8e3d24fd0ea6a8f1bd3b2c8e3f9", 30002, { ip: "10.1.0.2", endpoint: "10.1.0.2" }), resp3)
        ], resp3)
      ]
      const view = parseClusterShards(reply, origin)
      assert.deepStrictEqual(view.shards.map((s) => [s.ranges, address(s.primary), s.replicas.map(address)]), [
        [[[0, 5460]], "10.1.0.1:30001", ["10.1.0.6:30006"]],
        [[[5461, 10922]], "10.1.0.2:30002", []],
        [[[10923, 16383]], "10.1.0.3:30003", []]
      ])
      assert.strictEqual(coverage(view), ClusterSlot.SLOTS)
    })

    it(`${form}: "?" endpoint → origin host; empty endpoint → ip; nothing known → origin host`, () => {
      const reply: RespValue = [
        shardsEntry([0, 99], [
          shardsNode(fullNode("a", 1, { endpoint: "?", ip: "10.1.0.1" }), resp3),
          shardsNode(fullNode("b", 2, { role: "replica", endpoint: "", ip: "10.1.0.2" }), resp3),
          shardsNode(fullNode("c", 3, { role: "replica", endpoint: "", ip: "" }), resp3),
          shardsNode(fullNode("d", 4, { role: "replica", endpoint: null, ip: "?" }), resp3),
          shardsNode(fullNode("e", 5, { role: "replica", endpoint: "node-5.example", ip: "10.1.0.5" }), resp3)
        ], resp3)
      ]
      const [only] = parseClusterShards(reply, origin).shards
      assert.strictEqual(address(only.primary), "10.0.0.9:1")
      assert.deepStrictEqual(only.replicas.map(address), [
        "10.1.0.2:2",
        "10.0.0.9:3",
        "10.0.0.9:4",
        "node-5.example:5"
      ])
    })

    it(`${form}: replica health online / fail / failed / loading / unknown / missing`, () => {
      const reply: RespValue = [
        shardsEntry([0, 16383], [
          shardsNode(fullNode("p", 1), resp3),
          shardsNode(fullNode("r1", 2, { role: "replica", health: "online" }), resp3),
          shardsNode(fullNode("r2", 3, { role: "replica", health: "fail" }), resp3),
          shardsNode(fullNode("r3", 4, { role: "replica", health: "failed" }), resp3),
          shardsNode(fullNode("r4", 5, { role: "replica", health: "loading" }), resp3),
          shardsNode(fullNode("r5", 6, { role: "replica", health: "something-new" }), resp3),
          shardsNode({ id: "r6", port: 7, ip: "10.1.0.7", endpoint: "10.1.0.7", role: "slave" }, resp3)
        ], resp3)
      ]
      const [only] = parseClusterShards(reply, origin).shards
      assert.deepStrictEqual(only.replicas.map((r) => [r.id, r.role, r.health]), [
        ["r1", "replica", "online"],
        ["r2", "replica", "failed"],
        ["r3", "replica", "failed"],
        ["r4", "replica", "loading"],
        ["r5", "replica", "failed"],
        ["r6", "replica", "online"]
      ])
    })

    it(`${form}: TLS-only nodes use tls-port; port wins when both are there`, () => {
      const tlsOnly = fullNode("a", 1)
      delete tlsOnly.port
      const reply: RespValue = [
        shardsEntry([0, 10], [shardsNode({ ...tlsOnly, "tls-port": 6380 }, resp3)], resp3),
        shardsEntry([11, 20], [shardsNode(fullNode("b", 6379, { "tls-port": 6380 }), resp3)], resp3)
      ]
      assert.deepStrictEqual(parseClusterShards(reply, origin).shards.map((s) => s.primary.port), [6380, 6379])
    })

    it(`${form}: shards without slots or without a primary are left out`, () => {
      const reply: RespValue = [
        shardsEntry([], [shardsNode(fullNode("empty", 1), resp3)], resp3),
        shardsEntry([0, 16383], [shardsNode(fullNode("orphan", 2, { role: "replica" }), resp3)], resp3),
        shardsEntry([], [], resp3)
      ]
      assert.deepStrictEqual(parseClusterShards(reply, origin), { shards: [] })
    })

    it(`${form}: two primaries in one shard: the online one is the primary`, () => {
      const reply: RespValue = [
        shardsEntry([0, 16383], [
          shardsNode(fullNode("old", 1, { health: "fail" }), resp3),
          shardsNode(fullNode("new", 2), resp3),
          shardsNode(fullNode("r", 3, { role: "replica" }), resp3)
        ], resp3)
      ]
      const [only] = parseClusterShards(reply, origin).shards
      assert.strictEqual(only.primary.id, "new")
      assert.deepStrictEqual(only.replicas.map((r) => r.id), ["r"])
    })

    it(`${form}: a failed primary with slots is kept, marked failed`, () => {
      const reply: RespValue = [shardsEntry([0, 16383], [shardsNode(fullNode("p", 1, { health: "fail" }), resp3)], resp3)]
      assert.strictEqual(parseClusterShards(reply, origin).shards[0].primary.health, "failed")
    })

    it(`${form}: ranges are sorted and adjacent ranges merged; unknown fields are ignored`, () => {
      const reply: RespValue = [
        shardsEntry([200, 300, 0, 99, 100, 150], [shardsNode(fullNode("p", 1, { "future-field": [1, 2] }), resp3)], resp3)
      ]
      assert.deepStrictEqual(parseClusterShards(reply, origin).shards[0].ranges, [[0, 150], [200, 300]])
    })
  }

  it("accepts slots sent as bulk strings and bigints", () => {
    const reply: RespValue = [["slots", ["0", 10n], "nodes", [Object.entries(fullNode("p", 1)).flat()]]]
    assert.deepStrictEqual(parseClusterShards(reply, origin).shards[0].ranges, [[0, 10]])
  })

  it("throws UnexpectedReply on malformed input", () => {
    const good = Object.entries(fullNode("p", 1)).flat()
    throwsUnexpected(() => parseClusterShards("OK", origin))
    throwsUnexpected(() => parseClusterShards(null, origin))
    throwsUnexpected(() => parseClusterShards([42], origin))
    throwsUnexpected(() => parseClusterShards([["slots", [0, 10], "nodes"]], origin))
    throwsUnexpected(() => parseClusterShards([["slots", [0], "nodes", [good]]], origin))
    throwsUnexpected(() => parseClusterShards([["slots", [0, 16384], "nodes", [good]]], origin))
    throwsUnexpected(() => parseClusterShards([["slots", [-1, 5], "nodes", [good]]], origin))
    throwsUnexpected(() => parseClusterShards([["slots", [10, 5], "nodes", [good]]], origin))
    throwsUnexpected(() => parseClusterShards([["slots", ["x", 5], "nodes", [good]]], origin))
    throwsUnexpected(() => parseClusterShards([["slots", [0, 5], "nodes", [["port", 1, "role", "master"]]]], origin))
    throwsUnexpected(() => parseClusterShards([["slots", [0, 5], "nodes", [["id", "p", "role", "master"]]]], origin))
    throwsUnexpected(() => parseClusterShards([["slots", [0, 5], "nodes", [["id", "p", "port", 1]]]], origin))
    throwsUnexpected(() =>
      parseClusterShards([["slots", [0, 5], "nodes", [["id", "p", "port", 1, "role", "boss"]]]], origin)
    )
    throwsUnexpected(() =>
      parseClusterShards([["slots", [0, 5], "nodes", [["id", "p", "port", 70000, "role", "master"]]]], origin)
    )
    throwsUnexpected(() => parseClusterShards([["slots", [0, 5], "nodes", [["id", "p", "port"]]]], origin))
  })
})

// -----------------------------------------------------------------------------
// CLUSTER SLOTS, hand-built
// -----------------------------------------------------------------------------

describe("parseClusterSlots", () => {
  it("merges the ranges of one primary and the replicas listed with them", () => {
    const reply: RespValue = [
      [0, 5460, ["10.1.0.1", 30001, "A", new RespMap([])], ["10.1.0.4", 30004, "D", new RespMap([])]],
      [5461, 10922, ["10.1.0.2", 30002, "B"], ["10.1.0.5", 30005, "E"]],
      [10923, 12000, ["10.1.0.1", 30001, "A"], ["10.1.0.4", 30004, "D"], ["10.1.0.6", 30006, "F"]],
      [12001, 16383, ["10.1.0.3", 30003, "C", new RespMap(["hostname", "host-3"])]]
    ]
    const view = parseClusterSlots(reply, origin)
    assert.deepStrictEqual(view.shards.map((s) => [s.primary.id, s.ranges, s.replicas.map((r) => r.id)]), [
      ["A", [[0, 5460], [10923, 12000]], ["D", "F"]],
      ["B", [[5461, 10922]], ["E"]],
      ["C", [[12001, 16383]], []]
    ])
    assert.isTrue(view.shards.every((s) => s.replicas.every((r) => r.role === "replica" && r.health === "online")))
    assert.strictEqual(coverage(view), ClusterSlot.SLOTS)
  })

  it("adjacent ranges of one primary become one range", () => {
    const reply: RespValue = [
      [100, 199, ["h", 1, "A"]],
      [0, 99, ["h", 1, "A"]],
      [300, 400, ["h", 1, "A"]]
    ]
    assert.deepStrictEqual(parseClusterSlots(reply, origin).shards[0].ranges, [[0, 199], [300, 400]])
  })

  it("null, empty and ? hosts become the origin host, with the node's own port", () => {
    const reply: RespValue = [
      [0, 10, [null, 1, "A"], ["", 2, "B"], ["?", 3, "C"]],
      [11, 20, ["::1", 4, "D"]]
    ]
    const view = parseClusterSlots(reply, origin)
    assert.deepStrictEqual(view.shards.map((s) => [s.primary, ...s.replicas].map(address)), [
      ["10.0.0.9:1", "10.0.0.9:2", "10.0.0.9:3"],
      ["[::1]:4"]
    ])
  })

  it("without node ids (before Redis 3.2), primaries are told apart by address", () => {
    const reply: RespValue = [
      [0, 10, ["h", 1]],
      [11, 20, ["h", 2]],
      [21, 30, ["h", 1]]
    ]
    const view = parseClusterSlots(reply, origin)
    assert.deepStrictEqual(view.shards.map((s) => [address(s.primary), s.primary.id, s.ranges]), [
      ["h:1", "", [[0, 10], [21, 30]]],
      ["h:2", "", [[11, 20]]]
    ])
  })

  it("an empty reply is an empty view", () => {
    assert.deepStrictEqual(parseClusterSlots([], origin), { shards: [] })
  })

  it("throws UnexpectedReply on malformed input", () => {
    throwsUnexpected(() => parseClusterSlots("OK", origin))
    throwsUnexpected(() => parseClusterSlots([[0, 10]], origin))
    throwsUnexpected(() => parseClusterSlots([[0, 10, "h"]], origin))
    throwsUnexpected(() => parseClusterSlots([[0, 10, ["h"]]], origin))
    throwsUnexpected(() => parseClusterSlots([[0, 16384, ["h", 1, "A"]]], origin))
    throwsUnexpected(() => parseClusterSlots([[10, 0, ["h", 1, "A"]]], origin))
    throwsUnexpected(() => parseClusterSlots([[0, 10, ["h", "port", "A"]]], origin))
    throwsUnexpected(() => parseClusterSlots([[0, 10, ["h", 1, "A"], "not-a-node"]], origin))
  })
})

// -----------------------------------------------------------------------------
// signature, consensus, coverage, slot table
// -----------------------------------------------------------------------------

const reversed = (view: View): View => ({
  shards: view.shards.slice().reverse().map((s) => ({
    ranges: s.ranges.slice().reverse(),
    primary: s.primary,
    replicas: s.replicas.slice().reverse()
  }))
})

const twoReplicas: View = {
  shards: [
    shard([[0, 100], [500, 600]], node("A", 1), [node("R1", 11, "replica"), node("R2", 12, "replica")]),
    shard([[101, 499]], node("B", 2)),
    shard([[601, 16383]], node("C", 3), [node("R3", 13, "replica", "loading")])
  ]
}

describe("signature", () => {
  it("does not depend on the order of shards, ranges or replicas", () => {
    assert.strictEqual(signature(reversed(twoReplicas)), signature(twoReplicas))
    assert.strictEqual(signature(reversed(threeNodes())), signature(threeNodes()))
  })

  it("does not depend on how ranges are split", () => {
    const split: View = { shards: [shard([[0, 10], [11, 16383]], node("A", 1))] }
    const whole: View = { shards: [shard([[0, 16383]], node("A", 1))] }
    assert.strictEqual(signature(split), signature(whole))
  })

  it("changes when a slot moves, a primary changes, or a replica joins, moves or fails", () => {
    const base = signature(threeNodes())
    const moved: View = {
      shards: [
        shard([[0, 7999], [9001, 11998]], node(ID1, 27101), [node(ID3, 27103, "replica")]),
        shard([[8000, 9000], [11999, 16383]], node(ID2, 27102))
      ]
    }
    const failedOver: View = {
      shards: [
        shard([[0, 7999], [9001, 11999]], node(ID3, 27103), [node(ID1, 27101, "replica")]),
        shard([[8000, 9000], [12000, 16383]], node(ID2, 27102))
      ]
    }
    const noReplica: View = {
      shards: [shard([[0, 7999], [9001, 11999]], node(ID1, 27101)), shard([[8000, 9000], [12000, 16383]], node(ID2, 27102))]
    }
    const otherPort: View = {
      shards: [shard([[0, 7999], [9001, 11999]], node(ID1, 27101), [node(ID3, 27104, "replica")]), threeNodes().shards[1]]
    }
    const candidates = [base, signature(moved), signature(failedOver), signature(noReplica), signature(otherPort), signature(threeNodes("failed"))]
    assert.strictEqual(new Set(candidates).size, candidates.length)
  })

  it("is empty for an empty view", () => {
    assert.strictEqual(signature({ shards: [] }), "")
  })
})

describe("consensus", () => {
  const a = threeNodes()
  const b = threeNodes("failed")
  const partial: View = { shards: [threeNodes().shards[1]] }

  it("is undefined without views", () => {
    assert.isUndefined(consensus([]))
  })

  it("is the only view there is", () => {
    assert.strictEqual(consensus([partial]), partial)
  })

  it("picks the view most nodes report, whatever their order of listing", () => {
    const a2 = reversed(a)
    assert.strictEqual(consensus([b, a, partial, a2]), a)
    assert.strictEqual(consensus([a2, b, a]), a2)
    assert.strictEqual(consensus([b, partial, b, a, a, a]), a)
  })

  it("breaks a tie by coverage, then by which came first", () => {
    // partial covers fewer slots than a: a wins the 1-1 tie even listed second
    assert.strictEqual(consensus([partial, a]), a)
    assert.strictEqual(consensus([partial, partial, a, a]), a)
    // a and b cover the same slots: the first one wins
    assert.strictEqual(consensus([b, a]), b)
    assert.strictEqual(consensus([a, b]), a)
    assert.strictEqual(consensus([b, a, partial]), b)
  })
})

describe("coverage", () => {
  it("counts distinct covered slots", () => {
    assert.strictEqual(coverage({ shards: [] }), 0)
    assert.strictEqual(coverage(threeNodes()), ClusterSlot.SLOTS)
    assert.strictEqual(coverage({ shards: [threeNodes().shards[1]] }), 1001 + 4384)
    assert.strictEqual(coverage({ shards: [shard([[5, 5]], node("A", 1))] }), 1)
    // overlapping claims count once
    assert.strictEqual(coverage({ shards: [shard([[0, 9]], node("A", 1)), shard([[5, 14]], node("B", 2))] }), 15)
  })
})

describe("slotTable", () => {
  it("maps every slot to the index of its shard", () => {
    const view = threeNodes()
    const table = slotTable(view)
    assert.strictEqual(table.owner.length, ClusterSlot.SLOTS)
    assert.strictEqual(table.shards, view.shards)
    for (const [slot, owner] of [[0, 0], [7999, 0], [8000, 1], [9000, 1], [9001, 0], [11999, 0], [12000, 1], [16383, 1]]) {
      assert.strictEqual(table.owner[slot], owner, `slot ${slot}`)
    }
    assert.isTrue(table.owner.every((i) => i === 0 || i === 1))
  })

  it("leaves uncovered slots at -1", () => {
    const table = slotTable({ shards: [shard([[10, 20], [100, 100]], node("A", 1))] })
    let covered = 0
    for (let slot = 0; slot < ClusterSlot.SLOTS; slot++) {
      const expected = (slot >= 10 && slot <= 20) || slot === 100 ? 0 : -1
      assert.strictEqual(table.owner[slot], expected)
      if (expected === 0) covered++
    }
    assert.strictEqual(covered, 12)
    assert.isTrue(slotTable({ shards: [] }).owner.every((i) => i === -1))
  })

  it("routes a key through keyslot to the shard that owns it", () => {
    const table = slotTable(threeNodes())
    // foo → 12182 (second shard), {user1000}.following → 3443 (first shard)
    assert.strictEqual(table.shards[table.owner[ClusterSlot.keyslot("foo")]].primary.port, 27102)
    assert.strictEqual(table.shards[table.owner[ClusterSlot.keyslot("{user1000}.following")]].primary.port, 27101)
  })
})

describe("address", () => {
  it("is host:port, with IPv6 hosts in brackets", () => {
    assert.strictEqual(address({ host: "127.0.0.1", port: 7000 }), "127.0.0.1:7000")
    assert.strictEqual(address({ host: "redis.example", port: 6379 }), "redis.example:6379")
    assert.strictEqual(address({ host: "::1", port: 7000 }), "[::1]:7000")
    assert.strictEqual(address({ host: "fe80::1%eth0", port: 7000 }), "[fe80::1%eth0]:7000")
    assert.strictEqual(address({ host: "[::1]", port: 7000 }), "[::1]:7000")
  })
})

// -----------------------------------------------------------------------------
// CLUSTER NODES
// -----------------------------------------------------------------------------

describe("parseClusterNodes", () => {
  const text = [
    "e7d1eecce10fd6bb5eb35b9f99a514335d9ba9ca 127.0.0.1:30001@40001 myself,master - 0 1426238317000 1 connected 0-5460 5462 [5461->-292f8b365bb7edb5e285caf0b7e6ddc7265d2f4f] [9000-<-67ed2db8d677e59ec4a4cefb06858cf2a1a89fa1]",
    "67ed2db8d677e59ec4a4cefb06858cf2a1a89fa1 [::1]:30002@40002,node-2.example master - 0 1426238316232 2 connected 5463-10922",
    "292f8b365bb7edb5e285caf0b7e6ddc7265d2f4f 127.0.0.1:30003@40003 slave e7d1eecce10fd6bb5eb35b9f99a514335d9ba9ca 0 1426238318243 3 connected",
    "6ec23923021cf3ffec47632106199cb7f496ce01 :0@0 handshake,noaddr - 0 0 0 disconnected",
    ""
  ].join("\n")

  it("reads ids, addresses (IPv6, hostname), roles, slots and open slots", () => {
    const [a, b, c, d] = parseClusterNodes(text)
    assert.strictEqual(a.id, "e7d1eecce10fd6bb5eb35b9f99a514335d9ba9ca")
    assert.deepStrictEqual([a.host, a.port, a.busPort, a.hostname], ["127.0.0.1", 30001, 40001, undefined])
    assert.isTrue(a.myself)
    assert.strictEqual(a.role, "primary")
    assert.deepStrictEqual(a.slots, [[0, 5460], [5462, 5462]])
    assert.deepStrictEqual(a.migrating, [{ slot: 5461, to: "292f8b365bb7edb5e285caf0b7e6ddc7265d2f4f" }])
    assert.deepStrictEqual(a.importing, [{ slot: 9000, from: "67ed2db8d677e59ec4a4cefb06858cf2a1a89fa1" }])
    assert.deepStrictEqual([b.host, b.port, b.hostname, b.myself], ["::1", 30002, "node-2.example", false])
    assert.strictEqual(c.role, "replica")
    assert.strictEqual(c.primaryId, a.id)
    assert.strictEqual(c.linkState, "connected")
    assert.strictEqual(d.role, "unknown")
    assert.strictEqual(d.host, "")
    assert.strictEqual(parseClusterNodes(text).length, 4, "blank lines are skipped")
  })

  it("throws UnexpectedReply on a malformed line", () => {
    assert.throws(() => parseClusterNodes("abc 127.0.0.1:1@2 master"), UnexpectedReply)
    assert.throws(() => parseClusterNodes("abc 127.0.0.1:1@2 master - 0 0 1 connected 16384"), UnexpectedReply)
    assert.throws(() => parseClusterNodes("abc 127.0.0.1:1@2 master - 0 0 1 connected 10-5"), UnexpectedReply)
    assert.throws(() => parseClusterNodes("abc 127.0.0.1:1@2 master - 0 0 1 connected [5->?]"), UnexpectedReply)
  })
})

describe("mapAddresses and nodes", () => {
  it("rewrites every node's address and keeps the nodes it does not change", () => {
    const primary: NodeInfo = { id: "p", host: "10.0.0.1", port: 6379, role: "primary", health: "online" }
    const replica: NodeInfo = { id: "r", host: "127.0.0.1", port: 7002, role: "replica", health: "online" }
    const view: View = { shards: [{ ranges: [[0, 16383]], primary, replicas: [replica] }] }
    const mapped = mapAddresses(view, (a) => (a.host === "10.0.0.1" ? { host: "127.0.0.1", port: 7001 } : a))
    assert.deepStrictEqual(mapped.shards[0].primary, { ...primary, host: "127.0.0.1", port: 7001 })
    assert.strictEqual(mapped.shards[0].replicas[0], replica)
    assert.deepStrictEqual(nodes(mapped).map(address), ["127.0.0.1:7001", "127.0.0.1:7002"])
  })
})
