import { assert, describe, it } from "@effect/vitest"
import * as Option from "effect/Option"
import * as Commands from "../../src/Commands.ts"
import { RespSet } from "../../src/Resp.ts"
import { expectCommand, expectInvalid, RO, W, WI } from "./helpers.ts"

describe("sets", () => {
  it("sadd/srem: idempotent writes; empty members invalid", () => {
    expectCommand(Commands.sadd("s", ["a", "b"]), ["SADD", "s", "a", "b"], ["s"], WI)
    expectCommand(Commands.srem("s", "a"), ["SREM", "s", "a"], ["s"], WI)
    expectInvalid(Commands.sadd("s", []))
  })

  it("smembers: RESP2 array and RESP3 set", () => {
    const cmd = Commands.smembers("s")
    expectCommand(cmd, ["SMEMBERS", "s"], ["s"], RO)
    assert.deepStrictEqual(cmd.decode(["a", "b"]), ["a", "b"])
    assert.deepStrictEqual(cmd.decode(new RespSet(["a", "b"])), ["a", "b"])
    assert.deepStrictEqual(Commands.smembersBytes("s").decode(new RespSet(["a"])), [new Uint8Array([97])])
  })

  it("sismember / smismember: integers and RESP3 booleans", () => {
    assert.isTrue(Commands.sismember("s", "a").decode(1))
    assert.isTrue(Commands.sismember("s", "a").decode(true))
    const m = Commands.smismember("s", ["a", "b"])
    expectCommand(m, ["SMISMEMBER", "s", "a", "b"], ["s"], RO)
    assert.deepStrictEqual(m.decode([1, 0]), [true, false])
  })

  it("spop is a plain write; spopCount rejects negative counts", () => {
    expectCommand(Commands.spop("s"), ["SPOP", "s"], ["s"], W)
    expectInvalid(Commands.spopCount("s", -1))
    expectCommand(Commands.srandmemberCount("s", -3), ["SRANDMEMBER", "s", -3], ["s"], RO)
    assert.deepStrictEqual(Commands.srandmember("s").decode(null), Option.none())
  })

  it("algebra: keys routed, stores include the destination", () => {
    expectCommand(Commands.sinter(["a", "b"]), ["SINTER", "a", "b"], ["a", "b"], RO)
    expectCommand(Commands.sunionstore("d", ["a", "b"]), ["SUNIONSTORE", "d", "a", "b"], ["d", "a", "b"], WI)
    expectCommand(Commands.sintercard(["a", "b"], { limit: 5 }), ["SINTERCARD", 2, "a", "b", "LIMIT", 5], ["a", "b"], RO)
    expectCommand(Commands.smove("a", "b", "m"), ["SMOVE", "a", "b", "m"], ["a", "b"], WI)
    expectInvalid(Commands.sdiff([]))
    expectInvalid(Commands.sdiffstore("d", []))
  })

  it("sscan: page from RESP3 set members", () => {
    const cmd = Commands.sscan("s", "0", { count: 5 })
    expectCommand(cmd, ["SSCAN", "s", "0", "COUNT", 5], ["s"], RO)
    assert.deepStrictEqual(cmd.decode(["0", ["a"]]), { cursor: "0", items: ["a"] })
  })
})
