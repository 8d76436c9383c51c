import { assert, describe, it } from "@effect/vitest"
import * as Option from "effect/Option"
import { Flags } from "../../src/Command.ts"
import { RespMap } from "../../src/Resp.ts"
import * as S from "../../src/commands/streams.ts"

describe("streams", () => {
  describe("XADD", () => {
    it("defaults the id to * and keeps field order", () => {
      const c = S.xadd("s", { a: "1", b: 2 })
      assert.deepStrictEqual(c.args, ["XADD", "s", "*", "a", "1", "b", 2])
      assert.deepStrictEqual(c.keys, ["s"])
      assert.strictEqual(c.name, "XADD")
      assert.strictEqual(c.flags, Flags.WRITE)
      assert.strictEqual(c.invalid, undefined)
      assert.strictEqual(c.decode("1-0"), "1-0")
    })

    it("writes NOMKSTREAM, trimming with ~ and LIMIT, and an explicit id", () => {
      const c = S.xaddNoMkStream("s", [["f", "v"]], {
        id: "5-1",
        trim: { strategy: "MAXLEN", mode: "~", threshold: 1000, limit: 10 }
      })
      assert.deepStrictEqual(c.args, ["XADD", "s", "NOMKSTREAM", "MAXLEN", "~", 1000, "LIMIT", 10, "5-1", "f", "v"])
      assert.deepStrictEqual(c.decode(null), Option.none())
      assert.deepStrictEqual(c.decode("5-1"), Option.some("5-1"))
    })

    it("writes MINID with =", () => {
      const c = S.xadd("s", { f: "v" }, { trim: { strategy: "MINID", mode: "=", threshold: "10-0" } })
      assert.deepStrictEqual(c.args, ["XADD", "s", "MINID", "=", "10-0", "*", "f", "v"])
    })

    it("refuses an empty entry, LIMIT without ~ and NaN", () => {
      assert.isString(S.xadd("s", {}).invalid)
      assert.isString(S.xadd("s", []).invalid)
      assert.isString(S.xadd("s", { f: 1 }, { trim: { strategy: "MAXLEN", threshold: 1, limit: 5 } }).invalid)
      assert.isString(S.xadd("s", { f: NaN }).invalid)
      assert.isString(S.xadd("s", { f: 1 }, { trim: { strategy: "MAXLEN", threshold: -1 } }).invalid)
    })
  })

  it("XTRIM is idempotent only when exact", () => {
    const exact = S.xtrim("s", { strategy: "MAXLEN", threshold: 10 })
    assert.deepStrictEqual(exact.args, ["XTRIM", "s", "MAXLEN", 10])
    assert.strictEqual(exact.flags, Flags.WRITE | Flags.IDEMPOTENT)
    const approx = S.xtrim("s", { strategy: "MAXLEN", mode: "~", threshold: 10 })
    assert.strictEqual(approx.flags, Flags.WRITE)
  })

  it("XDEL, XLEN, XACK", () => {
    assert.deepStrictEqual(S.xdel("s", ["1-0", "2-0"]).args, ["XDEL", "s", "1-0", "2-0"])
    assert.isString(S.xdel("s", []).invalid)
    assert.strictEqual(S.xlen("s").flags, Flags.READONLY)
    const ack = S.xack("s", "g", ["1-0"])
    assert.deepStrictEqual(ack.args, ["XACK", "s", "g", "1-0"])
    assert.strictEqual(ack.flags, Flags.WRITE | Flags.IDEMPOTENT)
    assert.isString(S.xack("s", "g", []).invalid)
  })

  it("XRANGE/XREVRANGE decode entries, nil fields as {}", () => {
    const c = S.xrange("s", "-", "+", { count: 2 })
    assert.deepStrictEqual(c.args, ["XRANGE", "s", "-", "+", "COUNT", 2])
    assert.deepStrictEqual(c.decode([["1-0", ["a", "1", "b", "2"]], ["2-0", null]]), [
      { id: "1-0", fields: { a: "1", b: "2" } },
      { id: "2-0", fields: {} }
    ])
    assert.deepStrictEqual(S.xrevrange("s").args, ["XREVRANGE", "s", "+", "-"])
    assert.isString(S.xrevrange("s", "+", "-", { count: -1 }).invalid)
  })

  it("a field named __proto__ stays a field", () => {
    const [e] = S.xrange("s").decode([["1-0", ["__proto__", "x"]]])
    assert.strictEqual(Object.getPrototypeOf(e.fields), Object.prototype)
    assert.deepStrictEqual(Object.keys(e.fields), ["__proto__"])
  })

  describe("XREAD", () => {
    it("puts streams then ids, keys are the streams, BLOCK makes it blocking", () => {
      const c = S.xread({ a: "0", b: "$" }, { count: 10, block: 0 })
      assert.deepStrictEqual(c.args, ["XREAD", "COUNT", 10, "BLOCK", 0, "STREAMS", "a", "b", "0", "$"])
      assert.deepStrictEqual(c.keys, ["a", "b"])
      assert.strictEqual(c.flags, Flags.READONLY | Flags.BLOCKING)
      assert.strictEqual(S.xread([["a", "0"]]).flags, Flags.READONLY)
    })

    it("refuses no streams and negative COUNT/BLOCK", () => {
      assert.isString(S.xread({}).invalid)
      assert.isString(S.xread([]).invalid)
      assert.isString(S.xread({ a: "0" }, { count: -1 }).invalid)
      assert.isString(S.xread({ a: "0" }, { block: NaN }).invalid)
    })

    it("decodes RESP2 arrays, RESP3 maps and nil", () => {
      const c = S.xread({ a: "0" })
      const entries = [["1-0", ["f", "v"]]]
      const expected = Option.some([{ stream: "a", entries: [{ id: "1-0", fields: { f: "v" } }] }])
      assert.deepStrictEqual(c.decode([["a", entries]]), expected)
      assert.deepStrictEqual(c.decode(new RespMap(["a", entries])), expected)
      assert.deepStrictEqual(c.decode(null), Option.none())
    })
  })

  it("XREADGROUP writes GROUP, NOACK and keeps deleted entries as null", () => {
    const c = S.xreadgroup("g", "c1", { s: ">" }, { count: 1, block: 100, noack: true })
    assert.deepStrictEqual(c.args, [
      "XREADGROUP", "GROUP", "g", "c1", "COUNT", 1, "BLOCK", 100, "NOACK", "STREAMS", "s", ">"
    ])
    assert.deepStrictEqual(c.keys, ["s"])
    assert.strictEqual(c.flags, Flags.WRITE | Flags.BLOCKING)
    assert.deepStrictEqual(
      c.decode(new RespMap(["s", [["1-0", null]]])),
      Option.some([{ stream: "s", entries: [{ id: "1-0", fields: null }] }])
    )
    assert.strictEqual(S.xreadgroup("g", "c", { s: ">" }).flags, Flags.WRITE)
  })

  it("XGROUP subcommands", () => {
    const create = S.xgroupCreate("s", "g", "0", { mkstream: true, entriesRead: 5 })
    assert.deepStrictEqual(create.args, ["XGROUP", "CREATE", "s", "g", "0", "MKSTREAM", "ENTRIESREAD", 5])
    assert.strictEqual(create.name, "XGROUP")
    assert.deepStrictEqual(create.keys, ["s"])
    assert.strictEqual(create.flags, Flags.WRITE)
    assert.deepStrictEqual(S.xgroupCreate("s", "g").args, ["XGROUP", "CREATE", "s", "g", "$"])
    assert.deepStrictEqual(S.xgroupSetId("s", "g", "$").args, ["XGROUP", "SETID", "s", "g", "$"])
    const setId = S.xgroupSetId("s", "g", "$", { entriesRead: -1 })
    assert.deepStrictEqual(setId.args, ["XGROUP", "SETID", "s", "g", "$", "ENTRIESREAD", -1])
    assert.strictEqual(setId.flags, Flags.WRITE | Flags.IDEMPOTENT)
    assert.match(S.xgroupSetId("s", "g", "$", { entriesRead: -2 }).invalid!, /^XGROUP SETID ENTRIESREAD must be/)
    assert.match(S.xgroupCreate("s", "g", "$", { entriesRead: 1.5 }).invalid!, /^XGROUP CREATE ENTRIESREAD must be/)
    const destroy = S.xgroupDestroy("s", "g")
    assert.strictEqual(destroy.flags, Flags.WRITE | Flags.IDEMPOTENT)
    assert.strictEqual(destroy.decode(1), true)
    assert.strictEqual(destroy.decode(0), false)
    assert.deepStrictEqual(S.xgroupCreateConsumer("s", "g", "c").args, ["XGROUP", "CREATECONSUMER", "s", "g", "c"])
    assert.strictEqual(S.xgroupDelConsumer("s", "g", "c").decode(3), 3)
  })

  it("XPENDING summary decodes nils and consumers", () => {
    const c = S.xpending("s", "g")
    assert.deepStrictEqual(c.decode([0, null, null, null]), {
      count: 0, lowest: Option.none(), highest: Option.none(), consumers: []
    })
    assert.deepStrictEqual(c.decode([3, "1-0", "3-0", [["alice", "2"], ["bob", "1"]]]), {
      count: 3,
      lowest: Option.some("1-0"),
      highest: Option.some("3-0"),
      consumers: [{ name: "alice", pending: 2 }, { name: "bob", pending: 1 }]
    })
  })

  it("XPENDING extended form", () => {
    const c = S.xpendingRange("s", "g", { idle: 1000, count: 10, consumer: "alice" })
    assert.deepStrictEqual(c.args, ["XPENDING", "s", "g", "IDLE", 1000, "-", "+", 10, "alice"])
    assert.deepStrictEqual(c.decode([["1-0", "alice", 1500, 2]]), [
      { id: "1-0", consumer: "alice", idle: 1500, deliveries: 2 }
    ])
    assert.isString(S.xpendingRange("s", "g", { count: -5 }).invalid)
  })

  it("XCLAIM options and JUSTID", () => {
    const c = S.xclaim("s", "g", "c", 60000, ["1-0"], { idle: 0, retryCount: 3, force: true, lastId: "9-0" })
    assert.deepStrictEqual(c.args, [
      "XCLAIM", "s", "g", "c", 60000, "1-0", "IDLE", 0, "RETRYCOUNT", 3, "FORCE", "LASTID", "9-0"
    ])
    assert.deepStrictEqual(c.decode([["1-0", ["f", "v"]], ["2-0", null]]), [
      { id: "1-0", fields: { f: "v" } },
      { id: "2-0", fields: null }
    ])
    const j = S.xclaimJustId("s", "g", "c", 0, ["1-0"])
    assert.deepStrictEqual(j.args, ["XCLAIM", "s", "g", "c", 0, "1-0", "JUSTID"])
    assert.deepStrictEqual(j.decode(["1-0"]), ["1-0"])
    assert.isString(S.xclaim("s", "g", "c", -1, ["1-0"]).invalid)
    assert.isString(S.xclaim("s", "g", "c", 0, []).invalid)
  })

  it("XAUTOCLAIM decodes Redis 6 and 7 replies", () => {
    const c = S.xautoclaim("s", "g", "c", 100, "0-0", { count: 5 })
    assert.deepStrictEqual(c.args, ["XAUTOCLAIM", "s", "g", "c", 100, "0-0", "COUNT", 5])
    assert.deepStrictEqual(c.decode(["0-0", [["1-0", ["f", "v"]]], ["2-0"]]), {
      next: "0-0",
      claimed: [{ id: "1-0", fields: { f: "v" } }],
      deleted: ["2-0"]
    })
    assert.deepStrictEqual(c.decode(["3-0", []]), { next: "3-0", claimed: [], deleted: [] })
    const j = S.xautoclaimJustId("s", "g", "c", 100)
    assert.deepStrictEqual(j.args, ["XAUTOCLAIM", "s", "g", "c", 100, "0-0", "JUSTID"])
    assert.deepStrictEqual(j.decode(["0-0", ["1-0"], []]).claimed, ["1-0"])
  })

  it("XINFO STREAM decodes RESP2 and RESP3 alike", () => {
    const flat = [
      "length", 2, "radix-tree-keys", 1, "radix-tree-nodes", 2, "last-generated-id", "2-0",
      "max-deleted-entry-id", "0-0", "entries-added", 2, "recorded-first-entry-id", "1-0", "groups", 1,
      "first-entry", ["1-0", ["a", "1"]], "last-entry", ["2-0", ["b", "2"]]
    ]
    const c = S.xinfoStream("s")
    const r2 = c.decode(flat)
    const r3 = c.decode(new RespMap(flat))
    assert.deepStrictEqual(r2, r3)
    assert.strictEqual(r2.length, 2)
    assert.deepStrictEqual(r2.lastEntry, Option.some({ id: "2-0", fields: { b: "2" } }))
    assert.deepStrictEqual(r2.entriesAdded, Option.some(2))
    const empty = c.decode(["length", 0, "radix-tree-keys", 0, "radix-tree-nodes", 1, "last-generated-id", "0-0", "groups", 0, "first-entry", null, "last-entry", null])
    assert.deepStrictEqual(empty.firstEntry, Option.none())
    assert.deepStrictEqual(empty.maxDeletedEntryId, Option.none())
  })

  it("XINFO GROUPS and CONSUMERS", () => {
    const groups = S.xinfoGroups("s").decode([
      new RespMap(["name", "g", "consumers", 1, "pending", 2, "last-delivered-id", "2-0", "entries-read", 2, "lag", null])
    ])
    assert.deepStrictEqual(groups, [{
      name: "g", consumers: 1, pending: 2, lastDeliveredId: "2-0", entriesRead: Option.some(2), lag: Option.none()
    }])
    const consumers = S.xinfoConsumers("s", "g")
    assert.deepStrictEqual(consumers.args, ["XINFO", "CONSUMERS", "s", "g"])
    assert.deepStrictEqual(consumers.decode([["name", "c", "pending", 0, "idle", 5]]), [
      { name: "c", pending: 0, idle: 5, inactive: Option.none() }
    ])
  })

  it("XSETID", () => {
    const c = S.xsetid("s", "5-0", { entriesAdded: 5, maxDeletedId: "3-0" })
    assert.deepStrictEqual(c.args, ["XSETID", "s", "5-0", "ENTRIESADDED", 5, "MAXDELETEDID", "3-0"])
    assert.strictEqual(c.flags, Flags.WRITE | Flags.IDEMPOTENT)
  })
})
