/**
 * The Sentinel fixture: it settles, reports its primary, fails over on
 * request, and leaves nothing running.
 */
import { assert, describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Scope from "effect/Scope"
import * as RedisSentinel from "../src/RedisSentinel.ts"
import { processExists } from "./RawClient.ts"

describe("RedisSentinel", () => {
  it.live("settles, fails over, and stops every process with the scope", () =>
    Effect.gen(function*() {
      const scope = yield* Scope.make()
      const group = yield* RedisSentinel.make({ sentinelPassword: "s3ntinel", password: "data-pw" }).pipe(
        Scope.provide(scope)
      )
      assert.strictEqual(group.nodes.length, 3)
      assert.strictEqual(group.sentinels.length, 3)
      const primary = yield* group.currentPrimary
      assert.strictEqual(primary, group.nodes[0])
      assert.strictEqual((yield* primary.cli("ROLE")).split("\n")[0], "master")
      const started = Date.now()
      const { from, to } = yield* group.failover
      console.log(`fixture failover ${from.port} -> ${to.port} in ${Date.now() - started} ms`)
      assert.notStrictEqual(from, to)
      assert.strictEqual((yield* to.cli("ROLE")).split("\n")[0], "master")
      yield* group.killSentinel(2)
      assert.isFalse(yield* group.sentinels[2].isAlive)
      assert.strictEqual(yield* group.currentPrimary, to)
      const pids = [...group.nodes.map((n) => n.pid), ...group.sentinels.map((s) => s.pid)]
      const dirs = group.sentinels.map((s) => s.dir)
      yield* Scope.close(scope, Exit.void)
      for (const pid of pids) assert.isFalse(processExists(pid), `pid ${pid} still running`)
      const Fs = yield* Effect.promise(() => import("node:fs"))
      for (const dir of dirs) assert.isFalse(Fs.existsSync(dir))
    }), 90_000)
})
