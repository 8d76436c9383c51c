/**
 * Shared fixtures of the cluster-admin integration tests: empty
 * cluster-enabled servers (started with `@redis-effect/testing`) and the
 * independent oracle, `redis-cli --cluster check`.
 */
import { assert } from "@effect/vitest"
import * as RedisServer from "@redis-effect/testing/RedisServer"
import * as ChildProcess from "node:child_process"
import * as Effect from "effect/Effect"
import * as Scope from "effect/Scope"

/** Empty cluster-enabled servers, and a way to start more for the fixture's lifetime. */
export interface ServersShape {
  readonly nodes: ReadonlyArray<RedisServer.RedisServerHandle>
  readonly spawn: () => Effect.Effect<RedisServer.RedisServerHandle, RedisServer.ServerError>
}

export const makeServers = (count: number) =>
  Effect.gen(function*() {
    const scope = yield* Effect.scope
    const spawn = () =>
      RedisServer.make({
        extraArgs: [
          "--cluster-enabled", "yes",
          "--cluster-config-file", "nodes.conf",
          "--cluster-node-timeout", "2000",
          "--repl-diskless-sync-delay", "0"
        ]
      }).pipe(Scope.provide(scope))
    const nodes = yield* Effect.forEach(Array.from({ length: count }), () => spawn(), { concurrency: "unbounded" })
    return { nodes, spawn } satisfies ServersShape
  })

export const addressOf = (server: RedisServer.RedisServerHandle) => `127.0.0.1:${server.port}`

export interface CliCheck {
  readonly ok: boolean
  readonly output: string
}

/** `redis-cli --cluster check`; ok = all slots covered and no [ERR]/[WARNING]. */
export const redisCliCheck = (address: string): Effect.Effect<CliCheck> =>
  Effect.callback<CliCheck>((resume) => {
    ChildProcess.execFile("redis-cli", ["--cluster", "check", address], { timeout: 30_000 }, (_error, stdout, stderr) => {
      const output = `${stdout}${stderr}`.replace(/\x1b\[[0-9;]*m/g, "")
      const ok = /\[OK\] All 16384 slots covered/.test(output) && !/\[(ERR|WARNING)\]/.test(output)
      resume(Effect.succeed({ ok, output }))
    })
  })

/** The oracle may lag a change by a gossip round or two: allow a few seconds. */
export const expectCliOk = (address: string) =>
  Effect.gen(function*() {
    let last: CliCheck | undefined
    for (let i = 0; i < 20; i++) {
      last = yield* redisCliCheck(address)
      if (last.ok) return last
      yield* Effect.sleep("250 millis")
    }
    return assert.fail(`redis-cli --cluster check reports problems:\n${last?.output}`)
  })

/** `count` distinct keys hashing to `slot`, with a prefix. */
export const keysInSlot = (keyslot: (key: string) => number, slot: number, count: number, prefix: string) => {
  const out: Array<string> = []
  for (let i = 0; out.length < count; i++) if (keyslot(`${prefix}:${i}`) === slot) out.push(`${prefix}:${i}`)
  return out
}
