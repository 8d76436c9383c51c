import { assert, describe, it } from "@effect/vitest"
import * as Option from "effect/Option"
import * as Commands from "../../src/Commands.ts"
import type * as Redis from "../../src/Redis.ts"
import { RespMap } from "../../src/Resp.ts"
import { bytes, expectCommand, expectInvalid, RO, W, WI } from "./helpers.ts"

describe("hashes", () => {
  it("hset: one signature, so both call forms survive as a Redis method", () => {
    // `Redis` derives each method's parameters from its constructor with a
    // mapped type, which keeps only the last overload of a function.
    const calls: ReadonlyArray<Parameters<Redis.CommandMethods["hset"]>> = [["h", "f", "v"], ["h", { f: "v" }], ["h", [["f", "v"]]]]
    for (const [key, ...fields] of calls) expectCommand(Commands.hset(key, ...fields), ["HSET", "h", "f", "v"], ["h"], WI)
    // A type-level check only (tsc fails if the call type-checks): a field needs its value.
    // @ts-expect-error
    void (() => Commands.hset("h", "f"))
  })

  it("hset: one field, a record or pairs", () => {
    expectCommand(Commands.hset("h", "f", "v"), ["HSET", "h", "f", "v"], ["h"], WI)
    expectCommand(Commands.hset("h", { a: "1", b: 2 }), ["HSET", "h", "a", "1", "b", 2], ["h"], WI)
    expectCommand(Commands.hset("h", [["a", "1"]]), ["HSET", "h", "a", "1"], ["h"], WI)
    expectInvalid(Commands.hset("h", {}))
  })

  it("hget / hmget", () => {
    expectCommand(Commands.hget("h", "f"), ["HGET", "h", "f"], ["h"], RO)
    const m = Commands.hmget("h", ["a", "b"])
    expectCommand(m, ["HMGET", "h", "a", "b"], ["h"], RO)
    assert.deepStrictEqual(m.decode([null, "2"]), [Option.none(), Option.some("2")])
    expectInvalid(Commands.hmget("h", []))
  })

  it("hgetall: RESP2 flat array and RESP3 map give the same record", () => {
    const cmd = Commands.hgetall("h")
    const expected = { a: "1", b: "2" }
    assert.deepStrictEqual(cmd.decode(["a", "1", "b", "2"]), expected)
    assert.deepStrictEqual(cmd.decode(new RespMap(["a", "1", "b", "2"])), expected)
    assert.deepStrictEqual(cmd.decode([]), {})
  })

  it("hgetallBytes: field names as strings, values as bytes", () => {
    const cmd = Commands.hgetallBytes("h")
    assert.isTrue(cmd.binary)
    const m = cmd.decode(new RespMap([bytes("a"), new Uint8Array([1, 2])]))
    assert.deepStrictEqual(m.get("a"), new Uint8Array([1, 2]))
  })

  it("hincrby is not idempotent; hincrbyfloat needs a finite number", () => {
    expectCommand(Commands.hincrby("h", "f", 2), ["HINCRBY", "h", "f", 2], ["h"], W)
    expectInvalid(Commands.hincrbyfloat("h", "f", Infinity))
    assert.strictEqual(Commands.hincrbyfloat("h", "f", 1).decode("2.5"), 2.5)
  })

  it("hrandfieldWithValues: flat (RESP2) and nested (RESP3) pairs", () => {
    const cmd = Commands.hrandfieldWithValues("h", -2)
    expectCommand(cmd, ["HRANDFIELD", "h", -2, "WITHVALUES"], ["h"], RO)
    assert.deepStrictEqual(cmd.decode(["a", "1", "b", "2"]), [["a", "1"], ["b", "2"]])
    assert.deepStrictEqual(cmd.decode([["a", "1"], ["b", "2"]]), [["a", "1"], ["b", "2"]])
  })

  it("hscan: one page of pairs", () => {
    const cmd = Commands.hscan("h", 0, { match: "f*", count: 10 })
    expectCommand(cmd, ["HSCAN", "h", 0, "MATCH", "f*", "COUNT", 10], ["h"], RO)
    assert.deepStrictEqual(cmd.decode(["0", ["f", "v"]]), { cursor: "0", items: [["f", "v"]] })
  })

  it("hdel accepts one field or many", () => {
    expectCommand(Commands.hdel("h", "f"), ["HDEL", "h", "f"], ["h"], WI)
    expectCommand(Commands.hdel("h", ["f", "g"]), ["HDEL", "h", "f", "g"], ["h"], WI)
    expectInvalid(Commands.hdel("h", []))
  })
})
