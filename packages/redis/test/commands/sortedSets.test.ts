import { assert, describe, it } from "@effect/vitest"
import * as Option from "effect/Option"
import * as Commands from "../../src/Commands.ts"
import { isResendable } from "../../src/Command.ts"
import type * as Redis from "../../src/Redis.ts"
import { expectCommand, expectInvalid, BW, RO, W, WI } from "./helpers.ts"

describe("sortedSets", () => {
  it("zadd: options, infinite scores as +inf/-inf, idempotent", () => {
    expectCommand(
      Commands.zadd("z", [{ score: 1, member: "a" }, { score: Infinity, member: "b" }], { xx: true, gt: true, ch: true }),
      ["ZADD", "z", "XX", "GT", "CH", 1, "a", "+inf", "b"],
      ["z"],
      WI
    )
    expectCommand(Commands.zadd("z", { score: -Infinity, member: "c" }), ["ZADD", "z", "-inf", "c"], ["z"], WI)
  })

  it("zadd: NaN, empty and conflicting options are invalid", () => {
    expectInvalid(Commands.zadd("z", { score: NaN, member: "a" }), /NaN/)
    expectInvalid(Commands.zadd("z", []))
    expectInvalid(Commands.zadd("z", { score: 1, member: "a" }, { nx: true, xx: true }))
    expectInvalid(Commands.zadd("z", { score: 1, member: "a" }, { gt: true, lt: true }))
    expectInvalid(Commands.zadd("z", { score: 1, member: "a" }, { nx: true, gt: true }))
  })

  it("zaddIncr is not idempotent and may return None", () => {
    const cmd = Commands.zaddIncr("z", 2, "a", { nx: true })
    expectCommand(cmd, ["ZADD", "z", "NX", "INCR", 2, "a"], ["z"], W)
    assert.deepStrictEqual(cmd.decode(null), Option.none())
    assert.deepStrictEqual(cmd.decode(3), Option.some(3))
  })

  it("zscore: RESP2 bulk string and RESP3 double", () => {
    const cmd = Commands.zscore("z", "a")
    expectCommand(cmd, ["ZSCORE", "z", "a"], ["z"], RO)
    assert.deepStrictEqual(cmd.decode("1.5"), Option.some(1.5))
    assert.deepStrictEqual(cmd.decode(1.5), Option.some(1.5))
    assert.deepStrictEqual(cmd.decode("inf"), Option.some(Infinity))
    assert.deepStrictEqual(cmd.decode(null), Option.none())
    assert.deepStrictEqual(Commands.zmscore("z", ["a", "b"]).decode(["1", null]), [Option.some(1), Option.none()])
  })

  it("zrange, zrangestore: one signature, so every call form survives as a Redis method", () => {
    // `Redis` derives each method's parameters from its constructor with a
    // mapped type, which keeps only the last overload of a function. These
    // arrays type-check only while every form is in the method type.
    const ranges: ReadonlyArray<Parameters<Redis.CommandMethods["zrange"]>> = [
      ["z", 0, -1],
      ["z", 0, -1, { rev: true }],
      ["z", "(1", "+inf", { by: "SCORE", rev: true, limit: { offset: 0, count: 2 } }],
      ["z", "[a", "(c", { by: "LEX" }]
    ]
    for (const [key, ...range] of ranges) assert.isUndefined(Commands.zrange(key, ...range).invalid)
    const stores: ReadonlyArray<Parameters<Redis.CommandMethods["zrangestore"]>> = [
      ["d", "z", 0, -1],
      ["d", "z", 1, 2, { by: "SCORE" }],
      ["d", "z", "-", "+", { by: "LEX" }]
    ]
    for (const [destination, source, ...range] of stores) {
      assert.isUndefined(Commands.zrangestore(destination, source, ...range).invalid)
    }
    // @ts-expect-error lex bounds need `by: "LEX"`
    expectInvalid(Commands.zrange("z", "[a", "[b"), /rank bounds must be numbers/)
    // @ts-expect-error rank bounds do not go with `by: "LEX"`
    expectInvalid(Commands.zrangeWithScores("z", 0, 1, { by: "LEX" }))
  })

  it("zrange: by rank, score, lex; limit only with by", () => {
    expectCommand(Commands.zrange("z", 0, -1), ["ZRANGE", "z", 0, -1], ["z"], RO)
    expectCommand(
      Commands.zrange("z", "(1", Infinity, { by: "SCORE", limit: { offset: 0, count: 5 } }),
      ["ZRANGE", "z", "(1", "+inf", "BYSCORE", "LIMIT", 0, 5],
      ["z"],
      RO
    )
    expectCommand(Commands.zrange("z", "[b", "-", { by: "LEX", rev: true }), ["ZRANGE", "z", "[b", "-", "BYLEX", "REV"], [
      "z"
    ], RO)
    expectInvalid(Commands.zrange("z", 0, 1.5))
    expectInvalid(Commands.zrange("z", NaN, 1, { by: "SCORE" }))
  })

  it("zrangeWithScores: RESP2 flat and RESP3 nested pairs", () => {
    const cmd = Commands.zrangeWithScores("z", 0, -1)
    expectCommand(cmd, ["ZRANGE", "z", 0, -1, "WITHSCORES"], ["z"], RO)
    const expected = [{ member: "a", score: 1 }, { member: "b", score: 2.5 }]
    assert.deepStrictEqual(cmd.decode(["a", "1", "b", "2.5"]), expected)
    assert.deepStrictEqual(cmd.decode([["a", 1], ["b", 2.5]]), expected)
    assert.deepStrictEqual(cmd.decode([]), [])
  })

  it("zrangeBytes is binary", () => {
    const cmd = Commands.zrangeBytes("z", 0, 1)
    assert.isTrue(cmd.binary)
    assert.deepStrictEqual(cmd.decode([new Uint8Array([1])]), [new Uint8Array([1])])
  })

  it("zrangestore routes destination then source", () => {
    expectCommand(Commands.zrangestore("d", "s", 0, 10), ["ZRANGESTORE", "d", "s", 0, 10], ["d", "s"], WI)
  })

  it("legacy ranges", () => {
    expectCommand(
      Commands.zrevrangebyscore("z", "+inf", 0, { limit: { offset: 1, count: 2 } }),
      ["ZREVRANGEBYSCORE", "z", "+inf", 0, "LIMIT", 1, 2],
      ["z"],
      RO
    )
    expectCommand(Commands.zrangebylex("z", "-", "+"), ["ZRANGEBYLEX", "z", "-", "+"], ["z"], RO)
    expectCommand(Commands.zremrangebyrank("z", 0, 1), ["ZREMRANGEBYRANK", "z", 0, 1], ["z"], W)
    expectCommand(Commands.zremrangebyscore("z", -Infinity, "(5"), ["ZREMRANGEBYSCORE", "z", "-inf", "(5"], ["z"], WI)
  })

  it("zpopmin: single pair (RESP3 flat) and several (nested)", () => {
    const cmd = Commands.zpopmin("z")
    expectCommand(cmd, ["ZPOPMIN", "z"], ["z"], W)
    assert.isFalse(isResendable(cmd))
    assert.deepStrictEqual(cmd.decode(["a", 1]), [{ member: "a", score: 1 }])
    assert.deepStrictEqual(Commands.zpopmax("z", 2).decode([["a", 2], ["b", 1]]), [
      { member: "a", score: 2 },
      { member: "b", score: 1 }
    ])
    assert.deepStrictEqual(cmd.decode([]), [])
  })

  it("bzpopmin: blocking, keyed scored member", () => {
    const cmd = Commands.bzpopmin(["a", "b"], 0)
    expectCommand(cmd, ["BZPOPMIN", "a", "b", 0], ["a", "b"], BW)
    assert.deepStrictEqual(cmd.decode(["a", "m", "1"]), Option.some({ key: "a", value: { member: "m", score: 1 } }))
    assert.deepStrictEqual(cmd.decode(null), Option.none())
  })

  it("zmpop / bzmpop: nested pairs in both protocols", () => {
    const cmd = Commands.zmpop(["a"], "MAX", { count: 2 })
    expectCommand(cmd, ["ZMPOP", 1, "a", "MAX", "COUNT", 2], ["a"], W)
    assert.deepStrictEqual(
      cmd.decode(["a", [["m", "2"], ["n", "1"]]]),
      Option.some({ key: "a", value: [{ member: "m", score: 2 }, { member: "n", score: 1 }] })
    )
    expectCommand(Commands.bzmpop(1, ["a", "b"], "MIN"), ["BZMPOP", 1, 2, "a", "b", "MIN"], ["a", "b"], BW)
  })

  it("zunionstore: weights must match keys; destination routed", () => {
    expectCommand(
      Commands.zunionstore("d", ["a", "b"], { weights: [1, 2], aggregate: "MAX" }),
      ["ZUNIONSTORE", "d", 2, "a", "b", "WEIGHTS", 1, 2, "AGGREGATE", "MAX"],
      ["d", "a", "b"],
      WI
    )
    expectInvalid(Commands.zunionstore("d", ["a", "b"], { weights: [1] }))
    expectInvalid(Commands.zinter(["a"], { weights: [NaN] }))
    expectCommand(Commands.zinterWithScores(["a", "b"]), ["ZINTER", 2, "a", "b", "WITHSCORES"], ["a", "b"], RO)
    expectCommand(Commands.zdiffstore("d", ["a"]), ["ZDIFFSTORE", "d", 1, "a"], ["d", "a"], WI)
    expectInvalid(Commands.zunion([]))
  })

  it("zscan: flat member/score page", () => {
    const cmd = Commands.zscan("z", "0")
    assert.deepStrictEqual(cmd.decode(["3", ["a", "1"]]), { cursor: "3", items: [{ member: "a", score: 1 }] })
  })

  it("zrandmemberWithScores: nested pairs in RESP3", () => {
    const cmd = Commands.zrandmemberWithScores("z", 2)
    expectCommand(cmd, ["ZRANDMEMBER", "z", 2, "WITHSCORES"], ["z"], RO)
    assert.deepStrictEqual(cmd.decode([["a", 1]]), [{ member: "a", score: 1 }])
  })
})
