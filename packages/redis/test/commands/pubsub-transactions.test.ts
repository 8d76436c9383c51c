import { assert, describe, it } from "@effect/vitest"
import * as Option from "effect/Option"
import { Flags, needsDedicated } from "../../src/Command.ts"
import { RespError, RespMap } from "../../src/Resp.ts"
import * as P from "../../src/commands/pubsub.ts"
import * as T from "../../src/commands/transactions.ts"

describe("pubsub", () => {
  it("PUBLISH is keyless and not resendable; SPUBLISH routes by channel", () => {
    const p = P.publish("news", "hi")
    assert.deepStrictEqual(p.args, ["PUBLISH", "news", "hi"])
    assert.deepStrictEqual(p.keys, [])
    assert.strictEqual(p.flags, Flags.NO_KEYS)
    assert.strictEqual(p.decode(2), 2)
    const s = P.spublish("news", "hi")
    assert.deepStrictEqual(s.keys, ["news"])
    assert.strictEqual(s.flags & Flags.NO_KEYS, 0)
  })

  it("PUBSUB introspection", () => {
    assert.deepStrictEqual(P.pubsubChannels("n*").args, ["PUBSUB", "CHANNELS", "n*"])
    assert.deepStrictEqual(P.pubsubChannels().decode(["a", "b"]), ["a", "b"])
    const numsub = P.pubsubNumsub(["a", "b"])
    assert.strictEqual(numsub.name, "PUBSUB")
    assert.deepStrictEqual(numsub.decode(["a", 1, "b", 0]), { a: 1, b: 0 })
    assert.deepStrictEqual(numsub.decode(new RespMap(["a", 1])), { a: 1 })
    assert.strictEqual(P.pubsubNumpat().decode(3), 3)
    assert.deepStrictEqual(P.pubsubShardchannels().args, ["PUBSUB", "SHARDCHANNELS"])
    assert.deepStrictEqual(P.pubsubShardnumsub(["x"]).keys, ["x"])
  })

  it("subscriber-mode commands carry PUBSUB and decode raw", () => {
    const s = P.subscribe(["a", "b"])
    assert.deepStrictEqual(s.args, ["SUBSCRIBE", "a", "b"])
    assert.strictEqual(s.flags & Flags.PUBSUB, Flags.PUBSUB)
    assert.isTrue(needsDedicated(s))
    assert.isString(P.subscribe([]).invalid)
    assert.isString(P.psubscribe([]).invalid)
    assert.isString(P.ssubscribe([]).invalid)
    assert.deepStrictEqual(P.unsubscribe().args, ["UNSUBSCRIBE"])
    assert.deepStrictEqual(P.punsubscribe(["n*"]).args, ["PUNSUBSCRIBE", "n*"])
    const ss = P.ssubscribe(["x"])
    assert.deepStrictEqual(ss.keys, ["x"])
    assert.strictEqual(ss.flags, Flags.PUBSUB)
    assert.deepStrictEqual(P.sunsubscribe().keys, [])
  })
})

describe("transactions", () => {
  it("all carry CONNECTION_STATE and are not NO_KEYS", () => {
    for (const c of [T.multi(), T.exec(), T.discard(), T.watch(["k"]), T.unwatch()]) {
      assert.strictEqual(c.flags, Flags.CONNECTION_STATE)
      assert.isTrue(needsDedicated(c))
    }
  })

  it("WATCH lists its keys and refuses none", () => {
    const w = T.watch(["a", "b"])
    assert.deepStrictEqual(w.args, ["WATCH", "a", "b"])
    assert.deepStrictEqual(w.keys, ["a", "b"])
    assert.isString(T.watch([]).invalid)
  })

  it("EXEC returns the raw replies; nil is a WATCH conflict", () => {
    const e = T.exec()
    const err = new RespError("ERR boom")
    assert.deepStrictEqual(e.decode(["OK", 1, err]), Option.some(["OK", 1, err]))
    assert.deepStrictEqual(e.decode(null), Option.none())
  })
})
