/**
 * Why `Resp.ts` copies large bodies in 2 KiB pieces (`copyPieces`).
 *
 *     node bench/memcpy-alignment.ts
 *
 * Copies 60,000 bytes between two Node buffers with `Uint8Array#set`, the
 * source offset a chosen distance past the destination offset (modulo
 * 4 KiB; each cell at two absolute offsets), in one piece and in pieces of
 * 4 KiB and 2 KiB, and prints microseconds per copy. The two buffers are
 * allocated alike, so on the machines seen the allocator aligned them alike
 * and offset distances are address distances.
 * On the project's bench machine (x86-64, glibc 2.36) one piece takes
 * 1.5-2.5 us at most distances and 20-30 us at 1 to 15 bytes: glibc's
 * memcpy uses `rep movsb` above 2 KiB, and that instruction stalls when its
 * loads alias its earlier stores within a 4 KiB page. A body's first bytes
 * sit about 10 bytes into the read buffer (after `$<length>\r\n`), so
 * whether a client lands there depends on where the allocator put the two
 * buffers, which JavaScript cannot see. In 2 KiB pieces every distance
 * costs about 4 us.
 */
const read = Buffer.allocUnsafe(65536 + 8192).fill(1)
const body = Buffer.allocUnsafe(131072 + 8192).fill(1)
const size = 60_000
const rounds = 3_000

const time = (source: number, target: number, piece: number): number => {
  const started = performance.now()
  for (let r = 0; r < rounds; r++) {
    for (let at = 0; at < size; at += piece) {
      const n = Math.min(piece, size - at)
      body.set(new Uint8Array(read.buffer, read.byteOffset + source + at, n), target + at)
    }
  }
  return ((performance.now() - started) / rounds) * 1000
}

console.log("| source offset - destination offset (mod 4 KiB) | one piece, us | 4 KiB pieces, us | 2 KiB pieces, us |")
console.log("|---|---|---|---|")
for (const distance of [0, 3, 11, 15, 16, 32, 64, 2048, 4096 + 11]) {
  // The same distance at two absolute places, to show it is the distance that counts.
  const cells = [size, 4096, 2048].map((piece) =>
    `${time(distance + 32, 32, piece).toFixed(1)} / ${time(distance + 1024, 1024, piece).toFixed(1)}`
  )
  console.log(`| ${distance} | ${cells.join(" | ")} |`)
}
