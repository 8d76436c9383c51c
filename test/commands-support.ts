/**
 * Shared fixtures of the data-type command integration tests
 * (`commands-*.integration.test.ts`): a client layer over the file's
 * `RedisServer` for RESP2 or RESP3, unique key names, binary test values,
 * and the check that a refused command fails with `InvalidArgument` /
 * `NotSent` and never reaches the server.
 *
 * Not a test file itself; nothing here starts a server.
 */
import { assert } from "@effect/vitest"
import { Effect, Layer } from "effect"
import { NodeClient } from "@redis-effect/node"
import type * as Redis from "@redis-effect/redis/Redis"
import type * as RedisError from "@redis-effect/redis/RedisError"
import * as RedisServer from "@redis-effect/testing/RedisServer"

/** Both protocols; suites loop over them. */
export const protocols = [2, 3] as const

/** A `Redis` client of the file's server, speaking `protocol`. */
export const clientLayer = (protocol: 2 | 3): Layer.Layer<Redis.Redis, RedisError.RedisError, RedisServer.RedisServer> =>
  Layer.unwrap(Effect.map(RedisServer.RedisServer, (server) => NodeClient.layer({ url: server.url, protocol })))

let counter = 0

/**
 * A fresh key namer: every call of `keys(protocol)` gives a prefix no other
 * test uses, so tests sharing a server never see each other's keys.
 */
export const keys = (protocol: 2 | 3) => {
  const prefix = `p${protocol}:${++counter}`
  return (name: string): string => `${prefix}:${name}`
}

/** Every byte value 0..255 once: invalid UTF-8, NUL, CR and LF included. */
export const ALL_BYTES: Uint8Array = Uint8Array.from({ length: 256 }, (_, i) => i)

/** `ALL_BYTES` reversed: a second binary value distinct from the first. */
export const ALL_BYTES_REVERSED: Uint8Array = Uint8Array.from({ length: 256 }, (_, i) => 255 - i)

const utf8 = new TextEncoder()

/** UTF-8 bytes of a string. */
export const bytes = (s: string): Uint8Array => utf8.encode(s)

/** Sorts byte arrays (for replies in server order, such as set members). */
export const sortBytes = (xs: ReadonlyArray<Uint8Array>): Array<Uint8Array> =>
  [...xs].sort((a, b) => Buffer.compare(Buffer.from(a), Buffer.from(b)))

/** How many times the server ran `command` (lower case, `object|encoding` for subcommands). */
export const calls = (command: string): Effect.Effect<number, unknown, RedisServer.RedisServer> =>
  Effect.gen(function*() {
    const server = yield* RedisServer.RedisServer
    const stats = yield* server.info("commandstats")
    const line = stats[`cmdstat_${command}`]
    if (line === undefined) return 0
    const m = /calls=(\d+)/.exec(line)
    return m === null ? 0 : Number(m[1])
  })

/**
 * Runs each refused command and checks it fails with `InvalidArgument` and
 * outcome `NotSent`, and that the server saw no call of `command`.
 */
export const expectRefused = (
  command: string,
  effects: ReadonlyArray<Effect.Effect<unknown, RedisError.RedisError>>
): Effect.Effect<void, unknown, RedisServer.RedisServer> =>
  Effect.gen(function*() {
    const before = yield* calls(command)
    for (const [i, effect] of effects.entries()) {
      const error = yield* Effect.flip(effect)
      assert.strictEqual(error.reason._tag, "InvalidArgument", `case ${i}: ${error.message}`)
      assert.strictEqual(error.outcome, "NotSent", `case ${i}`)
    }
    assert.strictEqual(yield* calls(command), before, `${command} reached the server`)
  })
