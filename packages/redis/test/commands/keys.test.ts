import { assert, describe, it } from "@effect/vitest"
import * as Option from "effect/Option"
import * as Commands from "../../src/Commands.ts"
import { bytes, expectCommand, expectInvalid, RO, RO_NK, W, WI } from "./helpers.ts"

describe("keys", () => {
  it("del/unlink/exists accept one key or many; none is invalid", () => {
    expectCommand(Commands.del("a"), ["DEL", "a"], ["a"], WI)
    expectCommand(Commands.del(["a", "b"]), ["DEL", "a", "b"], ["a", "b"], WI)
    expectCommand(Commands.unlink(["a"]), ["UNLINK", "a"], ["a"], WI)
    expectCommand(Commands.exists(["a", "b"]), ["EXISTS", "a", "b"], ["a", "b"], RO)
    expectInvalid(Commands.del([]))
    expectInvalid(Commands.exists([]))
  })

  it("expire: condition, Date, booleans from integers", () => {
    const cmd = Commands.expire("k", 10, "GT")
    expectCommand(cmd, ["EXPIRE", "k", 10, "GT"], ["k"], WI)
    assert.isTrue(cmd.decode(1))
    assert.isFalse(cmd.decode(0))
    expectCommand(Commands.expireat("k", new Date(1_700_000_000_500)), ["EXPIREAT", "k", 1_700_000_000], ["k"], WI)
    expectCommand(Commands.pexpireat("k", new Date(5)), ["PEXPIREAT", "k", 5], ["k"], WI)
    expectInvalid(Commands.expire("k", 1.5))
  })

  it("rename routes both keys and is not idempotent", () => {
    expectCommand(Commands.rename("a", "b"), ["RENAME", "a", "b"], ["a", "b"], W)
    expectCommand(Commands.copy("a", "b", { replace: true }), ["COPY", "a", "b", "REPLACE"], ["a", "b"], WI)
  })

  it("keyless commands carry NO_KEYS", () => {
    expectCommand(Commands.keys("user:*"), ["KEYS", "user:*"], [], RO_NK)
    expectCommand(Commands.randomkey(), ["RANDOMKEY"], [], RO_NK)
  })

  it("scan: one page with options, cursor as a string", () => {
    const cmd = Commands.scan("0", { match: "a*", count: 100, type: "hash" })
    expectCommand(cmd, ["SCAN", "0", "MATCH", "a*", "COUNT", 100, "TYPE", "hash"], [], RO_NK)
    assert.deepStrictEqual(cmd.decode(["17", ["a1", "a2"]]), { cursor: "17", items: ["a1", "a2"] })
    expectInvalid(Commands.scan("0", { count: 0 }))
  })

  it("dump is binary; restore is idempotent only with replace", () => {
    const d = Commands.dump("k")
    expectCommand(d, ["DUMP", "k"], ["k"], RO)
    assert.isTrue(d.binary)
    assert.deepStrictEqual(d.decode(null), Option.none())
    const payload = bytes("x")
    expectCommand(Commands.restore("k", 0, payload), ["RESTORE", "k", 0, payload], ["k"], W)
    expectCommand(Commands.restore("k", 0, payload, { replace: true }), ["RESTORE", "k", 0, payload, "REPLACE"], ["k"], WI)
    expectInvalid(Commands.restore("k", 0, payload, { idleTime: 1, freq: 1 }))
  })

  it("object subcommands route by key and tolerate nil", () => {
    const cmd = Commands.objectEncoding("k")
    expectCommand(cmd, ["OBJECT", "ENCODING", "k"], ["k"], RO)
    assert.strictEqual(cmd.name, "OBJECT")
    assert.deepStrictEqual(cmd.decode("listpack"), Option.some("listpack"))
    assert.deepStrictEqual(Commands.objectFreq("k").decode(null), Option.none())
  })

  it("sort: options, sortStore routes the destination, sortRo reads", () => {
    expectCommand(
      Commands.sort("l", { by: "w_*", limit: { offset: 0, count: 10 }, get: ["#", "o_*"], order: "DESC", alpha: true }),
      ["SORT", "l", "BY", "w_*", "LIMIT", 0, 10, "GET", "#", "GET", "o_*", "DESC", "ALPHA"],
      ["l"],
      WI
    )
    expectCommand(Commands.sortStore("l", "d"), ["SORT", "l", "STORE", "d"], ["l", "d"], WI)
    const ro = Commands.sortRo("l")
    expectCommand(ro, ["SORT_RO", "l"], ["l"], RO)
    assert.deepStrictEqual(ro.decode(["1", null]), [Option.some("1"), Option.none()])
  })

  it("type and ttl decode simple replies", () => {
    assert.strictEqual(Commands.type("k").decode("none"), "none")
    assert.strictEqual(Commands.ttl("k").decode(-2), -2)
  })
})
