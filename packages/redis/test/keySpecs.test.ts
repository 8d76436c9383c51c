/**
 * `internal/keySpecs.ts`: the keys of commands given as words, and their
 * flags (blocking, connection state, pub/sub, keyless, resendable).
 *
 * The cases are `fixtures/keySpecCases.json`: first-key, all-keys, pairs,
 * numkeys, STREAMS, STORE destinations, containers, keyless and unknown
 * commands, with the keys expected (`null`: unknown, left to the cluster
 * client's own lookup). `test/effect-stores.integration.test.ts` checks the
 * same table against the server's `COMMAND GETKEYS` (except the entries
 * marked `"getkeys": false`: not keys to the server, or not for GETKEYS).
 */
import { assert, describe, it } from "@effect/vitest"
import { Flags } from "../src/Command.ts"
import { flagsOf, keysOf, knows } from "../src/internal/keySpecs.ts"
import { readFileSync } from "node:fs"

interface KeySpecCase {
  readonly args: string
  readonly keys: ReadonlyArray<string> | null
}

const CASES: ReadonlyArray<KeySpecCase> = JSON.parse(
  readFileSync(new URL("./fixtures/keySpecCases.json", import.meta.url), "utf8")
)

describe("keySpecs.keysOf", () => {
  for (const { args, keys } of CASES) {
    it(`${args} -> ${keys === null ? "unknown" : `[${keys.join(", ")}]`}`, () => {
      assert.deepStrictEqual(keysOf(args.split(" ")), keys ?? undefined)
    })
  }

  it("an empty argv is unknown", () => {
    assert.strictEqual(keysOf([]), undefined)
  })

  it("knows commands by name in any case", () => {
    assert.isTrue(knows("evalsha"))
    assert.isTrue(knows("XREADGROUP"))
    assert.isFalse(knows("MIGRATE"))
  })

  it("a numkeys larger than the arguments is unreadable, not truncated", () => {
    assert.strictEqual(keysOf(["FCALL", "f", "2", "k1"]), undefined)
    assert.strictEqual(keysOf(["ZUNIONSTORE", "d", "-1", "a"]), undefined)
  })

  it("an odd count after STREAMS is unreadable", () => {
    assert.strictEqual(keysOf(["XREAD", "STREAMS", "a", "b", "0"]), undefined)
  })
})

describe("keySpecs.flagsOf", () => {
  const has = (args: string, flag: number) => (flagsOf(args.split(" ")) & flag) !== 0

  it("blocking commands, and XREAD only with BLOCK", () => {
    for (const args of ["BLPOP q 0", "BRPOP q 0", "BLMOVE a b LEFT LEFT 0", "BZPOPMIN z 0", "BLMPOP 0 1 q LEFT", "WAIT 1 0"]) {
      assert.isTrue(has(args, Flags.BLOCKING), args)
    }
    assert.isTrue(has("XREAD BLOCK 0 STREAMS s $", Flags.BLOCKING))
    assert.isTrue(has("XREADGROUP GROUP g c block 10 STREAMS s >", Flags.BLOCKING))
    assert.isFalse(has("XREAD STREAMS s 0", Flags.BLOCKING))
    assert.isFalse(has("LPOP q", Flags.BLOCKING))
  })

  it("connection state and pub/sub", () => {
    for (const args of ["MULTI", "EXEC", "WATCH k", "SELECT 1", "HELLO 3", "RESET"]) {
      assert.isTrue(has(args, Flags.CONNECTION_STATE), args)
    }
    for (const args of ["SUBSCRIBE ch", "PSUBSCRIBE p*", "SSUBSCRIBE ch"]) assert.isTrue(has(args, Flags.PUBSUB), args)
    assert.isFalse(has("PUBLISH ch m", Flags.PUBSUB))
  })

  it("keyless commands carry NO_KEYS; keyed and unknown ones do not", () => {
    assert.isTrue(has("PING", Flags.NO_KEYS))
    assert.isTrue(has("SCAN 0", Flags.NO_KEYS))
    assert.isTrue(has("SCRIPT LOAD x", Flags.NO_KEYS))
    assert.isFalse(has("GET k", Flags.NO_KEYS))
    assert.isFalse(has("NOTACOMMAND", Flags.NO_KEYS))
  })

  it("reads and repeatable writes may be resent; never READONLY (primaries only)", () => {
    for (const args of ["GET k", "MGET a b", "HGETALL h", "ZRANGE z 0 -1", "SCAN 0", "KEYS *", "DEL k", "SET k v PX 10"]) {
      assert.isTrue(has(args, Flags.IDEMPOTENT), args)
      assert.isFalse(has(args, Flags.READONLY), args)
    }
    for (const args of ["SET k v NX", "SET k v XX", "SET k v GET", "INCR k", "RPUSH q a", "EVALSHA s 1 k", "NOTACOMMAND"]) {
      assert.isFalse(has(args, Flags.IDEMPOTENT), args)
    }
  })
})
