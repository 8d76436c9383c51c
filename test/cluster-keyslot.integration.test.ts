/**
 * `ClusterSlot.keyslot` against the reference: `CLUSTER KEYSLOT` on a real
 * cluster-enabled redis-server, for thousands of generated keys — random
 * ASCII heavy in braces, hash tags, empty tags, unicode (astral planes and
 * lone surrogates included), raw bytes and numbers. The node owns no slots:
 * `CLUSTER KEYSLOT` answers anyway.
 *
 * Keys go through the client as they would in production (strings as
 * UTF-8, numbers as decimal, bytes as they are), batched in pipelines.
 */
import { assert, describe, it } from "@effect/vitest"
import { NodeTransport } from "@redis-effect/node"
import * as ClusterSlot from "@redis-effect/redis/ClusterSlot"
import * as Commands from "@redis-effect/redis/Commands"
import * as Standalone from "@redis-effect/redis/Standalone"
import type { Arg } from "@redis-effect/redis/Resp"
import { RedisServer } from "@redis-effect/testing"
import * as Effect from "effect/Effect"
import * as Fs from "node:fs"
import * as Os from "node:os"
import * as Path from "node:path"

/** A small deterministic PRNG (mulberry32): a failure can be replayed. */
const prng = (seed: number) => {
  let a = seed | 0
  return (): number => {
    a = (a + 0x6d2b79f5) | 0
    let t = Math.imul(a ^ (a >>> 15), 1 | a)
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}

const random = prng(20240611)
const int = (n: number): number => Math.floor(random() * n)

/** Printable ASCII, with braces three times as likely as other characters. */
const asciiChar = (): string => {
  const r = int(100)
  if (r < 10) return "{"
  if (r < 20) return "}"
  return String.fromCharCode(0x20 + int(0x5f))
}
const ascii = (max: number): string => Array.from({ length: int(max + 1) }, asciiChar).join("")
const asciiNoBraces = (max: number): string => ascii(max).replace(/[{}]/g, "")

/** A code point from all planes, braces included; sometimes a lone surrogate. */
const unicodeChar = (): string => {
  const r = int(100)
  if (r < 10) return r < 5 ? "{" : "}"
  if (r < 13) return String.fromCharCode(0xd800 + int(0x800)) // lone surrogate → U+FFFD on the wire
  if (r < 40) return String.fromCodePoint(0x80 + int(0x780)) // 2-byte UTF-8
  if (r < 70) return String.fromCodePoint(0x800 + int(0xd000 - 0x800)) // 3-byte
  if (r < 85) return String.fromCodePoint(0x10000 + int(0x100000)) // 4-byte
  return String.fromCharCode(0x20 + int(0x5f))
}
const unicode = (max: number): string => Array.from({ length: int(max + 1) }, unicodeChar).join("")

const bytes = (max: number): Uint8Array => {
  const out = new Uint8Array(int(max + 1))
  for (let i = 0; i < out.length; i++) {
    const r = int(100)
    out[i] = r < 10 ? 0x7b : r < 20 ? 0x7d : int(256)
  }
  return out
}

const keys = (): Array<Arg> => {
  const out: Array<Arg> = ["", "{}", "{", "}", "}{", "{{}}", "foo{}{bar}", "foo{{bar}}zap", "foo{bar}{zap}"]
  for (let i = 0; i < 2000; i++) out.push(ascii(40))
  for (let i = 0; i < 1000; i++) out.push(`${ascii(10)}{${asciiNoBraces(12) || "t"}}${ascii(10)}`)
  for (let i = 0; i < 500; i++) out.push(`${asciiNoBraces(10)}{}${ascii(20)}`)
  for (let i = 0; i < 1500; i++) out.push(unicode(20))
  for (let i = 0; i < 500; i++) out.push(`${unicode(5).replace(/\{/g, "")}{${unicode(6).replace(/[{}]/g, "") || "é"}}${unicode(5)}`)
  for (let i = 0; i < 1500; i++) out.push(bytes(40))
  for (let i = 0; i < 500; i++) {
    out.push(int(2) === 0 ? int(2 ** 31) - 2 ** 30 : (random() - 0.5) * 1e6)
  }
  out.push(0, -1, 2 ** 53 - 1, 2 ** 60, -(2 ** 62))
  return out
}

/** A temp directory for the cluster config file, removed after the server stops. */
const tempDir = Effect.acquireRelease(
  Effect.sync(() => Fs.mkdtempSync(Path.join(Os.tmpdir(), "redis-effect-keyslot-"))),
  (dir) => Effect.sync(() => Fs.rmSync(dir, { recursive: true, force: true }))
)

const describeKey = (key: Arg): string =>
  key instanceof Uint8Array ? `bytes(${Array.from(key, (b) => b.toString(16).padStart(2, "0")).join(" ")})` : JSON.stringify(key)

describe("ClusterSlot.keyslot against CLUSTER KEYSLOT", () => {
  it.live("agrees with redis-server on every generated key", () =>
    Effect.gen(function*() {
      const dir = yield* tempDir
      const server = yield* RedisServer.make({
        extraArgs: ["--cluster-enabled", "yes", "--cluster-config-file", Path.join(dir, "nodes.conf")]
      })
      assert.strictEqual((yield* server.info("cluster")).cluster_enabled, "1")
      const redis = yield* Standalone.make({ port: server.port }).pipe(Effect.provide(NodeTransport.layer))

      const all = keys()
      const mismatches: Array<string> = []
      const batch = 1000
      for (let from = 0; from < all.length; from += batch) {
        const chunk = all.slice(from, from + batch)
        const replies = yield* redis.pipeline(chunk.map((key) => Commands.raw(["CLUSTER", "KEYSLOT", key])))
        chunk.forEach((key, i) => {
          const expected = replies[i]
          const actual = ClusterSlot.keyslot(key)
          if (actual !== expected) mismatches.push(`${describeKey(key)}: server ${String(expected)}, keyslot ${actual}`)
        })
      }
      assert.deepStrictEqual(mismatches.slice(0, 20), [], `${mismatches.length} of ${all.length} keys disagree`)
      assert.isAbove(all.length, 7000)
    }).pipe(Effect.scoped))
})
