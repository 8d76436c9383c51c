import { assert, describe, it } from "@effect/vitest"
import * as Option from "effect/Option"
import * as Commands from "../../src/Commands.ts"
import { RespMap } from "../../src/Resp.ts"
import { bytes, expectCommand, expectInvalid, RO, W, WI } from "./helpers.ts"

describe("strings", () => {
  it("get: argv, keys, readonly, optional string", () => {
    const cmd = Commands.get("k")
    expectCommand(cmd, ["GET", "k"], ["k"], RO)
    assert.isFalse(cmd.binary)
    assert.deepStrictEqual(cmd.decode("v"), Option.some("v"))
    assert.deepStrictEqual(cmd.decode(bytes("v")), Option.some("v"))
    assert.deepStrictEqual(cmd.decode(null), Option.none())
  })

  it("getBytes: binary, bytes out", () => {
    const cmd = Commands.getBytes("k")
    assert.isTrue(cmd.binary)
    assert.deepStrictEqual(cmd.decode(new Uint8Array([0, 255])), Option.some(new Uint8Array([0, 255])))
  })

  it("set: plain is an idempotent write returning true on OK", () => {
    const cmd = Commands.set("k", "v")
    expectCommand(cmd, ["SET", "k", "v"], ["k"], WI)
    assert.isTrue(cmd.decode("OK"))
    assert.isFalse(cmd.decode(null))
  })

  it("set: options go on the wire; NX and XX make it a write that is not resent", () => {
    // A resent SET NX that already ran answers "not set": same data, wrong
    // reply (a lock would think someone else holds it). So NX/XX are W.
    expectCommand(Commands.set("k", "v", { ex: 60, nx: true }), ["SET", "k", "v", "NX", "EX", 60], ["k"], W)
    expectCommand(Commands.set("k", 1, { xx: true, keepTtl: true }), ["SET", "k", 1, "XX", "KEEPTTL"], ["k"], W)
    expectCommand(Commands.set("k", "v", { pxat: 1700000000000 }), ["SET", "k", "v", "PXAT", 1700000000000], ["k"], WI)
  })

  it("set with get: not idempotent, returns the old value", () => {
    const cmd = Commands.set("k", "v", { get: true })
    expectCommand(cmd, ["SET", "k", "v", "GET"], ["k"], W)
    const old: Option.Option<string> = cmd.decode("old")
    assert.deepStrictEqual(old, Option.some("old"))
    assert.deepStrictEqual(cmd.decode(null), Option.none())
  })

  it("set: conflicting or bad options are invalid", () => {
    expectInvalid(Commands.set("k", "v", { nx: true, xx: true }), /nx and xx/)
    expectInvalid(Commands.set("k", "v", { ex: 1, px: 1000 }))
    expectInvalid(Commands.set("k", "v", { ex: 1, keepTtl: true }))
    expectInvalid(Commands.set("k", "v", { ex: 0 }))
    expectInvalid(Commands.set("k", "v", { px: 1.5 }))
  })

  it("set: each expiry goes on the wire; a bad value is named before a conflict", () => {
    expectCommand(Commands.set("k", "v", { exat: 9 }), ["SET", "k", "v", "EXAT", 9], ["k"], WI)
    expectCommand(Commands.set("k", "v", { pxat: 9 }), ["SET", "k", "v", "PXAT", 9], ["k"], WI)
    expectInvalid(Commands.set("k", "v", { pxat: -1 }), /^pxat must be a positive integer, got -1$/)
    expectInvalid(Commands.set("k", "v", { ex: 1, exat: 0 }), /^exat must be a positive integer/)
    expectInvalid(Commands.set("k", "v", { px: 1, pxat: 2 }), /^at most one of ex, px, exat, pxat/)
  })

  it("getex: persist and expiry are exclusive", () => {
    expectCommand(Commands.getex("k"), ["GETEX", "k"], ["k"], WI)
    expectCommand(Commands.getex("k", { persist: true }), ["GETEX", "k", "PERSIST"], ["k"], WI)
    expectInvalid(Commands.getex("k", { persist: true, ex: 5 }))
  })

  it("mget: keys are routed, nils become None", () => {
    const cmd = Commands.mget(["a", "b"])
    expectCommand(cmd, ["MGET", "a", "b"], ["a", "b"], RO)
    assert.deepStrictEqual(cmd.decode(["1", null]), [Option.some("1"), Option.none()])
    expectInvalid(Commands.mget([]))
    assert.isTrue(Commands.mgetBytes(["a"]).binary)
  })

  it("mset: record and pairs; empty is invalid", () => {
    expectCommand(Commands.mset({ a: "1", b: 2 }), ["MSET", "a", "1", "b", 2], ["a", "b"], WI)
    expectCommand(Commands.msetnx([["a", "1"]]), ["MSETNX", "a", "1"], ["a"], WI)
    expectInvalid(Commands.mset({}))
  })

  it("counters: incr is not idempotent, increments must be integers", () => {
    expectCommand(Commands.incr("n"), ["INCR", "n"], ["n"], W)
    expectCommand(Commands.incrby("n", -3), ["INCRBY", "n", -3], ["n"], W)
    expectInvalid(Commands.incrby("n", 1.5))
    expectInvalid(Commands.incrbyfloat("n", NaN))
    const f = Commands.incrbyfloat("n", 0.5)
    assert.strictEqual(f.decode("10.5"), 10.5)
    assert.strictEqual(f.decode(10.5), 10.5)
  })

  it("lcsIdx decodes the RESP2 flat and RESP3 map shapes", () => {
    const cmd = Commands.lcsIdx("a", "b", { minMatchLen: 2, withMatchLen: true })
    expectCommand(cmd, ["LCS", "a", "b", "IDX", "MINMATCHLEN", 2, "WITHMATCHLEN"], ["a", "b"], RO)
    const matches = [[[4, 7], [5, 8], 4]]
    const expected: Commands.LcsIdx = { matches: [{ key1: [4, 7], key2: [5, 8], length: 4 }], length: 6 }
    assert.deepStrictEqual(cmd.decode(["matches", matches, "len", 6]), expected)
    assert.deepStrictEqual(cmd.decode(new RespMap(["matches", matches, "len", 6])), expected)
  })

  it("ranges need integers", () => {
    expectCommand(Commands.getrange("k", 0, -1), ["GETRANGE", "k", 0, -1], ["k"], RO)
    expectInvalid(Commands.getrange("k", 0, 1.5))
    expectInvalid(Commands.setrange("k", -1, "x"))
    expectInvalid(Commands.setex("k", 0, "v"))
  })
})
