import { assert, describe, it } from "@effect/vitest"
import * as Option from "effect/Option"
import * as Commands from "../../src/Commands.ts"
import { isResendable, needsDedicated } from "../../src/Command.ts"
import { RespSet } from "../../src/Resp.ts"
import { BW, expectCommand, expectInvalid, RO, W, WI } from "./helpers.ts"

describe("lists", () => {
  it("pushes are writes that are not resendable", () => {
    const cmd = Commands.lpush("l", ["a", "b"])
    expectCommand(cmd, ["LPUSH", "l", "a", "b"], ["l"], W)
    assert.isFalse(isResendable(cmd))
    expectCommand(Commands.rpush("l", "a"), ["RPUSH", "l", "a"], ["l"], W)
    expectInvalid(Commands.rpush("l", []))
  })

  it("lpop / lpopCount: nil for a missing key", () => {
    expectCommand(Commands.lpop("l"), ["LPOP", "l"], ["l"], W)
    const c = Commands.lpopCount("l", 2)
    expectCommand(c, ["LPOP", "l", 2], ["l"], W)
    assert.deepStrictEqual(c.decode(["a", "b"]), Option.some(["a", "b"]))
    assert.deepStrictEqual(c.decode(null), Option.none())
    expectInvalid(Commands.rpopCount("l", -1))
  })

  it("lrange and lrangeBytes", () => {
    expectCommand(Commands.lrange("l", 0, -1), ["LRANGE", "l", 0, -1], ["l"], RO)
    const b = Commands.lrangeBytes("l", 0, -1)
    assert.isTrue(b.binary)
    assert.deepStrictEqual(b.decode([new Uint8Array([1])]), [new Uint8Array([1])])
  })

  it("lset is idempotent, linsert is not", () => {
    expectCommand(Commands.lset("l", 0, "x"), ["LSET", "l", 0, "x"], ["l"], WI)
    expectCommand(Commands.linsert("l", "BEFORE", "p", "x"), ["LINSERT", "l", "BEFORE", "p", "x"], ["l"], W)
  })

  it("lpos: rank 0 is invalid; lposCount returns indexes", () => {
    expectCommand(Commands.lpos("l", "x", { rank: -1, maxlen: 10 }), ["LPOS", "l", "x", "RANK", -1, "MAXLEN", 10], [
      "l"
    ], RO)
    expectInvalid(Commands.lpos("l", "x", { rank: 0 }))
    assert.deepStrictEqual(Commands.lposCount("l", "x", 0).decode([1, 3]), [1, 3])
  })

  it("lmove routes source and destination", () => {
    expectCommand(Commands.lmove("a", "b", "LEFT", "RIGHT"), ["LMOVE", "a", "b", "LEFT", "RIGHT"], ["a", "b"], W)
  })

  it("lmpop: numkeys, count, keyed reply", () => {
    const cmd = Commands.lmpop(["a", "b"], "LEFT", { count: 2 })
    expectCommand(cmd, ["LMPOP", 2, "a", "b", "LEFT", "COUNT", 2], ["a", "b"], W)
    assert.deepStrictEqual(cmd.decode(["b", ["x", "y"]]), Option.some({ key: "b", value: ["x", "y"] }))
    assert.deepStrictEqual(cmd.decode(null), Option.none())
    expectInvalid(Commands.lmpop([], "LEFT"))
    expectInvalid(Commands.lmpop("a", "LEFT", { count: 0 }))
  })

  it("blocking pops are flagged BLOCKING and never resent", () => {
    const cmd = Commands.blpop(["a", "b"], 1.5)
    expectCommand(cmd, ["BLPOP", "a", "b", 1.5], ["a", "b"], BW)
    assert.isTrue(needsDedicated(cmd))
    assert.isFalse(isResendable(cmd))
    assert.deepStrictEqual(cmd.decode(["a", "v"]), Option.some({ key: "a", value: "v" }))
    assert.deepStrictEqual(cmd.decode(null), Option.none())
    expectCommand(Commands.brpop("a", 0), ["BRPOP", "a", 0], ["a"], BW)
    expectCommand(Commands.blmove("a", "b", "RIGHT", "LEFT", 0), ["BLMOVE", "a", "b", "RIGHT", "LEFT", 0], ["a", "b"], BW)
    expectCommand(Commands.brpoplpush("a", "b", 1), ["BRPOPLPUSH", "a", "b", 1], ["a", "b"], BW)
    expectCommand(Commands.blmpop(2, "a", "RIGHT"), ["BLMPOP", 2, 1, "a", "RIGHT"], ["a"], BW)
  })

  it("blocking timeouts must be finite and >= 0", () => {
    expectInvalid(Commands.blpop("a", -1))
    expectInvalid(Commands.brpop("a", Infinity))
    expectInvalid(Commands.blmpop(NaN, "a", "LEFT"))
    expectInvalid(Commands.blpop([], 1))
  })

  it("the bytes variants of the multi-key and moving pops are binary, with the same argv", () => {
    const lm = Commands.lmpopBytes(["a", "b"], "LEFT", { count: 2 })
    expectCommand(lm, ["LMPOP", 2, "a", "b", "LEFT", "COUNT", 2], ["a", "b"], W)
    assert.isTrue(lm.binary)
    assert.isFalse(Commands.lmpop("a", "LEFT").binary)
    const blm = Commands.blmpopBytes(0, "a", "RIGHT")
    expectCommand(blm, ["BLMPOP", 0, 1, "a", "RIGHT"], ["a"], BW)
    assert.isTrue(blm.binary)
    const mv = Commands.blmoveBytes("a", "b", "LEFT", "RIGHT", 1)
    expectCommand(mv, ["BLMOVE", "a", "b", "LEFT", "RIGHT", 1], ["a", "b"], BW)
    assert.isTrue(mv.binary)
    assert.isFalse(Commands.blmove("a", "b", "LEFT", "RIGHT", 1).binary)
    expectInvalid(Commands.blmoveBytes("a", "b", "LEFT", "RIGHT", -1), /^timeout must be/)
    expectInvalid(Commands.lmpopBytes([], "LEFT"), /^LMPOP needs at least one key$/)
    expectInvalid(Commands.blmpop(1, "a", "LEFT", { count: 0 }), /^count must be an integer >= 1/)
  })

  it("blpopBytes decodes bytes", () => {
    const cmd = Commands.blpopBytes("a", 0)
    assert.isTrue(cmd.binary)
    assert.deepStrictEqual(cmd.decode(["a", new Uint8Array([9])]), Option.some({ key: "a", value: new Uint8Array([9]) }))
  })

  it("array decoders accept RESP3 sets too", () => {
    assert.deepStrictEqual(Commands.lrange("l", 0, 1).decode(new RespSet(["x"])), ["x"])
  })
})
