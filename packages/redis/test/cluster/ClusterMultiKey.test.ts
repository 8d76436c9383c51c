/**
 * `ClusterMultiKey` inside pipelines: which members split by slot, the
 * per-slot commands they become, and their replies put back together, over
 * a fake `executeAll`.
 */
import { assert, describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as ClusterMultiKey from "../../src/cluster/ClusterMultiKey.ts"
import * as ClusterSlot from "../../src/cluster/ClusterSlot.ts"
import type { Command } from "../../src/Command.ts"
import * as Cmd from "../../src/Command.ts"
import * as Commands from "../../src/Commands.ts"
import * as RedisError from "../../src/RedisError.ts"

// "a", "b" and "c" hash to three different slots; "{a}x" shares "a"'s.
const [A, B, C] = ["a", "b", "c"]
const args = (c: Command<unknown>) => c.args.join(" ")

describe("ClusterMultiKey.split", () => {
  it("the slots differ: DEL, UNLINK, EXISTS, TOUCH and MSET split into one command per slot", () => {
    assert.strictEqual(new Set([A, B, C].map(ClusterSlot.keyslot)).size, 3)
    const del = ClusterMultiKey.split(Commands.del([A, B, "{a}x"]))!
    assert.sameMembers(del.map(args), ["DEL a {a}x", "DEL b"])
    assert.deepStrictEqual(del.find((c) => c.keys.length === 2)?.keys, [A, "{a}x"])
    for (const build of [Commands.unlink, Commands.exists, Commands.touch]) {
      const parts = ClusterMultiKey.split(build([A, B, C]))!
      assert.strictEqual(parts.length, 3)
      assert.isTrue(parts.every((p) => p.flags === build([A]).flags && p.keys.length === 1))
    }
    const mset = ClusterMultiKey.split(Commands.mset([[A, "1"], [B, "2"], ["{a}x", "3"]]))!
    assert.sameMembers(mset.map(args), ["MSET a 1 {a}x 3", "MSET b 2"])
  })

  it("one slot, another command, or an unusual layout: not split", () => {
    assert.isUndefined(ClusterMultiKey.split(Commands.del([A, "{a}x"])))
    assert.isUndefined(ClusterMultiKey.split(Commands.mget([A, B])))
    assert.isUndefined(ClusterMultiKey.split(Commands.msetnx([[A, "1"], [B, "2"]])))
    assert.isUndefined(ClusterMultiKey.split(Commands.get(A)))
    // Keys declared by hand that are not the arguments after the word.
    assert.isUndefined(ClusterMultiKey.split(Cmd.unsafeMake("DEL", ["DEL", "x", A, B], [A, B], 0, Cmd.Reply.integer)))
  })
})

describe("ClusterMultiKey.recombine", () => {
  const lost = RedisError.make(new RedisError.ConnectionError({ message: "lost" }), "Unknown")
  it("counts summed, MSET's OK once, the first failure wins", () => {
    assert.deepStrictEqual(ClusterMultiKey.recombine("DEL", [Exit.succeed(1), Exit.succeed(2)]), Exit.succeed(3))
    assert.deepStrictEqual(ClusterMultiKey.recombine("MSET", [Exit.void, Exit.void]), Exit.void)
    const failed = ClusterMultiKey.recombine("EXISTS", [Exit.succeed(1), Exit.fail(lost)])
    assert.strictEqual(RedisError.failureOf(failed), lost)
  })
})

describe("ClusterMultiKey.pipelined", () => {
  // A fake executeAll: DEL/EXISTS/... answer how many keys they got, MSET OK, GET its key.
  const fake = () => {
    const batches: Array<Array<string>> = []
    const executeAll = (commands: ReadonlyArray<Command<unknown>>, _resend: undefined) =>
      Effect.sync(() => {
        batches.push(commands.map(args))
        return commands.map((c): Exit.Exit<unknown, RedisError.RedisError> =>
          c.name === "MSET" ? Exit.void : c.name === "GET" ? Exit.succeed(c.keys[0]) : Exit.succeed(c.keys.length)
        )
      })
    return { run: ClusterMultiKey.pipelined(executeAll), batches }
  }

  it.effect("split members come back as one reply each, in pipeline order", () =>
    Effect.gen(function*() {
      const { batches, run } = fake()
      const exits = yield* run([
        Commands.get(A),
        Commands.del([A, B, C]),
        Commands.mset([[A, "1"], [B, "2"]]),
        Commands.exists([A, "{a}x"]),
        Commands.get(B)
      ], undefined)
      assert.deepStrictEqual(exits, [Exit.succeed(A), Exit.succeed(3), Exit.void, Exit.succeed(2), Exit.succeed(B)])
      assert.strictEqual(batches.length, 1, "one pipeline")
      assert.strictEqual(batches[0].length, 1 + 3 + 2 + 1 + 1)
    }))

  it.effect("a pipeline with nothing to split is passed on as it is", () =>
    Effect.gen(function*() {
      const commands = [Commands.get(A), Commands.del([A, "{a}x"])]
      let given: ReadonlyArray<Command<unknown>> | undefined
      const run = ClusterMultiKey.pipelined((cs: ReadonlyArray<Command<unknown>>, _: undefined) =>
        Effect.sync(() => {
          given = cs
          return cs.map(() => Exit.void as Exit.Exit<unknown, RedisError.RedisError>)
        })
      )
      yield* run(commands, undefined)
      assert.strictEqual(given, commands)
    }))
})
