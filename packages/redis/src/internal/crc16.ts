/**
 * CRC16 as the Redis Cluster specification defines it for key slots: the
 * XMODEM variant (polynomial 0x1021, initial value 0, no reflection, no final
 * xor; "123456789" → 0x31C3).
 *
 * Pure and allocation-free after the table is built at module load. Hash tags
 * and the `mod 16384` live in `ClusterSlot`; this file only checksums bytes.
 *
 * @internal
 */

/**
 * The 256-entry table of the byte-at-a-time algorithm: `TABLE[b]` is the CRC
 * of the byte `b` shifted through the register on its own. A `Uint16Array`
 * keeps the entries unboxed, so a lookup is one load. Exported so that
 * `ClusterSlot` can hash ASCII char codes straight from a string.
 *
 * @internal
 */
export const TABLE: Uint16Array = (() => {
  const table = new Uint16Array(256)
  for (let i = 0; i < 256; i++) {
    let crc = i << 8
    for (let bit = 0; bit < 8; bit++) {
      crc = (crc & 0x8000) !== 0 ? (crc << 1) ^ 0x1021 : crc << 1
    }
    table[i] = crc & 0xffff
  }
  return table
})()

/**
 * The CRC16-XMODEM of `bytes[start, end)` (the whole array by default).
 *
 * @internal
 */
export const crc16 = (bytes: Uint8Array, start: number = 0, end: number = bytes.length): number => {
  let crc = 0
  for (let i = start; i < end; i++) {
    crc = ((crc << 8) ^ TABLE[((crc >>> 8) ^ bytes[i]) & 0xff]) & 0xffff
  }
  return crc
}

