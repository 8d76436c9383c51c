/**
 * Key slots: CRC16 golden values, hash tag rules with slots confirmed by
 * `CLUSTER KEYSLOT` on Redis 7.0, and properties tying the string, number
 * and byte paths together. The integration test
 * `test/cluster-keyslot.integration.test.ts` compares thousands more keys
 * with a live server.
 */
import { assert, describe, it } from "@effect/vitest"
import { Schema } from "effect"
import * as ClusterSlot from "../../src/cluster/ClusterSlot.ts"
import { crc16 } from "../../src/internal/crc16.ts"

const te = new TextEncoder()

/** The bit-by-bit CRC16-XMODEM, straight from the definition: the table must agree with it. */
const crc16Bitwise = (bytes: Uint8Array): number => {
  let crc = 0
  for (const byte of bytes) {
    crc ^= byte << 8
    for (let bit = 0; bit < 8; bit++) crc = (crc & 0x8000) !== 0 ? ((crc << 1) ^ 0x1021) & 0xffff : (crc << 1) & 0xffff
  }
  return crc
}

describe("crc16", () => {
  it("matches the golden values of the cluster specification", () => {
    assert.strictEqual(crc16(te.encode("123456789")), 0x31c3)
    assert.strictEqual(crc16(new Uint8Array(0)), 0)
    assert.strictEqual(crc16(te.encode("A")), 0x58e5)
  })

  it("hashes the given range only", () => {
    const bytes = te.encode("xx123456789yy")
    assert.strictEqual(crc16(bytes, 2, 11), 0x31c3)
    assert.strictEqual(crc16(bytes, 5, 5), 0)
  })

  it.prop("agrees with the bit-by-bit definition", [Schema.Uint8Array], ([bytes]) => {
    assert.strictEqual(crc16(bytes), crc16Bitwise(bytes))
  })
})

describe("keyslot", () => {
  // Every expected slot below was read from `CLUSTER KEYSLOT` on redis-server 7.0.15.
  const golden: ReadonlyArray<readonly [string, number]> = [
    ["foo", 12182],
    ["somekey", 11058],
    ["foo{hash_tag}", 2515],
    ["bar{hash_tag}", 2515],
    ["", 0],
    // the first `{`, then the first `}` after it
    ["foo{bar}{zap}", 5061],
    ["bar", 5061],
    ["}foo{bar}", 5061],
    // the tag is `{bar`
    ["foo{{bar}}zap", 4015],
    ["{bar", 4015],
    // an empty tag: the whole key is hashed, later braces are not looked at
    ["foo{}{bar}", 8363],
    ["{}", 15257],
    // no closing brace: the whole key
    ["{foo", 13308],
    ["foo{", 7673],
    ["foo}", 15679],
    ["{user1000}.following", 3443],
    ["user1000", 3443],
    // UTF-8
    ["héllo", 11061],
    ["{héllo}x", 11061],
    ["日本語", 12788],
    ["😀", 2959],
    ["{😀}a", 2959],
    // a lone surrogate goes on the wire as U+FFFD (EF BF BD)
    ["\ud800", 13381]
  ]

  for (const [key, slot] of golden) {
    it(`${JSON.stringify(key)} → ${slot}`, () => {
      assert.strictEqual(ClusterSlot.keyslot(key), slot)
      assert.strictEqual(ClusterSlot.keyslot(te.encode(key)), slot)
    })
  }

  it("hashes numbers as the decimal text they are sent as", () => {
    assert.strictEqual(ClusterSlot.keyslot(123), 5970)
    assert.strictEqual(ClusterSlot.keyslot(-5), 5708)
    assert.strictEqual(ClusterSlot.keyslot(1.5), 12682)
    // beyond 2^53 the exact digits are sent, not String()'s rounding
    assert.strictEqual(ClusterSlot.keyslot(2 ** 60), 8486)
    assert.strictEqual(ClusterSlot.keyslot(0), ClusterSlot.keyslot("0"))
    assert.strictEqual(ClusterSlot.keyslot(-0), ClusterSlot.keyslot("0"))
  })

  it("hashes binary keys byte by byte, tags included", () => {
    // 0xff 0x00 { 0x80 }: the tag is the single byte 0x80
    assert.strictEqual(ClusterSlot.keyslot(new Uint8Array([0xff, 0x00, 0x7b, 0x80, 0x7d])), 4488)
    assert.strictEqual(ClusterSlot.keyslot(new Uint8Array([0x80])), 4488)
    assert.strictEqual(ClusterSlot.keyslot(new Uint8Array(0)), 0)
    assert.strictEqual(ClusterSlot.keyslot(new Uint8Array([0x7b, 0x7d])), 15257)
  })

  it("is always a slot", () => {
    for (let i = 0; i < 2000; i++) {
      const slot = ClusterSlot.keyslot(`key:${i}`)
      assert.isTrue(Number.isInteger(slot) && slot >= 0 && slot < ClusterSlot.SLOTS)
    }
  })

  it.prop(
    "{tag} + anything hashes like the tag alone (non-empty tags without braces)",
    [Schema.String, Schema.String, Schema.String],
    ([rawTag, before, after]) => {
      const stripped = rawTag.replace(/[{}]/g, "")
      const tag = stripped === "" ? "t" : stripped
      const prefix = before.replace(/\{/g, "")
      const expected = ClusterSlot.keyslot(tag)
      assert.strictEqual(ClusterSlot.keyslot(`{${tag}}${after}`), expected)
      assert.strictEqual(ClusterSlot.keyslot(`${prefix}{${tag}}${after}`), expected)
      assert.strictEqual(ClusterSlot.keyslot(te.encode(`${prefix}{${tag}}${after}`)), expected)
    }
  )

  it.prop("a string and its UTF-8 bytes share a slot", [Schema.String], ([key]) => {
    assert.strictEqual(ClusterSlot.keyslot(key), ClusterSlot.keyslot(te.encode(key)))
  })

  it.prop("an integer and its decimal text share a slot", [Schema.Int], ([n]) => {
    assert.strictEqual(ClusterSlot.keyslot(n), ClusterSlot.keyslot(String(n)))
  })
})

describe("slotOfKeys", () => {
  it("is -1 without keys", () => {
    assert.strictEqual(ClusterSlot.slotOfKeys([]), -1)
  })

  it("is the slot of a single key", () => {
    assert.strictEqual(ClusterSlot.slotOfKeys(["foo"]), 12182)
  })

  it("is the common slot of keys that share a tag, whatever their types", () => {
    assert.strictEqual(ClusterSlot.slotOfKeys(["{user1000}.following", "{user1000}.followers", "user1000"]), 3443)
    assert.strictEqual(ClusterSlot.slotOfKeys(["{123}a", 123, te.encode("x{123}")]), 5970)
  })

  it("is -2 across slots", () => {
    assert.strictEqual(ClusterSlot.slotOfKeys(["foo", "bar"]), -2)
    assert.strictEqual(ClusterSlot.slotOfKeys(["{a}1", "{a}2", "{b}3"]), -2)
  })
})
