/**
 * Key → hash slot, exactly as a Redis Cluster node computes it.
 *
 * A cluster splits the key space into 16384 slots; the slot of a key is
 * `CRC16(key) mod 16384`, where only the hash tag is hashed when the key has
 * one (`{user:1}:name` and `{user:1}:email` share a slot). `CLUSTER KEYSLOT`
 * on a real server is the reference these functions are tested against.
 *
 * Every function is pure. Nothing here knows which node owns a slot: that is
 * the topology's job.
 *
 * @since 0.1.0
 */
import { crc16, TABLE } from "../internal/crc16.ts"
import type { Arg } from "../Resp.ts"

/**
 * The number of hash slots in a Redis Cluster (fixed by the protocol).
 *
 * @category constants
 * @since 0.1.0
 */
export const SLOTS = 16384

const OPEN = 0x7b // {
const CLOSE = 0x7d // }
const MASK = SLOTS - 1

const utf8 = new TextEncoder()

/**
 * The CRC16 of the UTF-8 encoding of `s[from, to)`. ASCII is hashed char code
 * by char code with no allocation; the first char ≥ 0x80 makes it encode the
 * rest of the range once and carry on from the CRC reached so far (a lone
 * surrogate becomes U+FFFD, as on the wire: the command encoder uses UTF-8
 * with replacement too).
 */
const crcOfString = (s: string, from: number, to: number): number => {
  const table = TABLE
  let crc = 0
  for (let i = from; i < to; i++) {
    const c = s.charCodeAt(i)
    if (c >= 0x80) {
      // `i` starts a code point and `to` is a `}` or the end, so the slice
      // never splits a surrogate pair.
      const rest = utf8.encode(s.slice(i, to))
      for (let j = 0; j < rest.length; j++) crc = ((crc << 8) ^ table[((crc >>> 8) ^ rest[j]) & 0xff]) & 0xffff
      return crc
    }
    crc = ((crc << 8) ^ table[(crc >>> 8) ^ c]) & 0xffff
  }
  return crc
}

/**
 * The slot of a string key. The tag search runs on UTF-16 char codes: `{` and
 * `}` are ASCII and UTF-8 never uses bytes below 0x80 inside a multi-byte
 * sequence, so the tag found here is the one the server finds in the bytes.
 */
const slotOfString = (s: string): number => {
  const n = s.length
  const open = s.indexOf("{")
  if (open !== -1) {
    const close = s.indexOf("}", open + 1)
    // `{}` (empty tag) or no `}` at all: the whole key is hashed.
    if (close > open + 1) return crcOfString(s, open + 1, close) & MASK
  }
  return crcOfString(s, 0, n) & MASK
}

/** The slot of a binary key; the same tag rules on bytes. */
const slotOfBytes = (b: Uint8Array): number => {
  const n = b.length
  let open = 0
  while (open < n && b[open] !== OPEN) open++
  if (open < n) {
    let close = open + 1
    while (close < n && b[close] !== CLOSE) close++
    if (close < n && close > open + 1) return crc16(b, open + 1, close) & MASK
  }
  return crc16(b, 0, n) & MASK
}

/**
 * The decimal text a number argument is sent as. It mirrors the command
 * encoder in `Resp`: safe integers as `String(n)`, larger integers with their
 * exact digits, infinities as `+inf`/`-inf`.
 */
const numberText = (n: number): string =>
  Number.isSafeInteger(n)
    ? String(n)
    : n === Infinity
    ? "+inf"
    : n === -Infinity
    ? "-inf"
    : Number.isInteger(n)
    ? BigInt(n).toString()
    : String(n)

/**
 * The hash slot of a key, `0 ≤ slot < 16384`.
 *
 * **Details**
 *
 * - Strings are hashed as their UTF-8 bytes, numbers as the decimal text
 *   they are sent as, bytes as they are.
 * - Hash tags follow the server exactly: the first `{`, then the first `}`
 *   after it. A non-empty tag between them is hashed alone; an empty `{}`,
 *   or a `{` without a `}`, means the whole key is hashed.
 *
 * **Gotchas**
 *
 * - Only the first `{` counts: `foo{}{bar}` hashes the whole key (slot 8363),
 *   and `foo{{bar}}zap` hashes `{bar`.
 *
 * Hot path: called once per keyed command. ASCII strings, by far the common
 * case, are hashed from their char codes without allocating: about 100 ns
 * for a 20-character key on Node 24, against about 1 µs when the key is
 * first encoded with `TextEncoder`.
 *
 * @example
 * ```ts
 * import * as ClusterSlot from "@redis-effect/redis/ClusterSlot"
 *
 * ClusterSlot.keyslot("foo") // 12182
 * ClusterSlot.keyslot("{user:1}:name") === ClusterSlot.keyslot("user:1") // true
 * ```
 *
 * @category slots
 * @since 0.1.0
 */
export const keyslot = (key: Arg): number => {
  if (typeof key === "string") return slotOfString(key)
  if (typeof key === "number") return slotOfString(numberText(key))
  return slotOfBytes(key)
}

/**
 * The one slot that all `keys` hash to: `-1` when there are no keys, `-2`
 * when they hash to different slots (the server would answer `CROSSSLOT`).
 *
 * @category slots
 * @since 0.1.0
 */
export const slotOfKeys = (keys: ReadonlyArray<Arg>): number | -1 | -2 => {
  const n = keys.length
  if (n === 0) return -1
  const slot = keyslot(keys[0])
  for (let i = 1; i < n; i++) {
    if (keyslot(keys[i]) !== slot) return -2
  }
  return slot
}
