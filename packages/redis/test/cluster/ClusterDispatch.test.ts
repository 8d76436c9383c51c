/**
 * `ClusterDispatch`: where one command goes, over a fake executor and
 * fan-out that record what they were asked, and a command table loaded from
 * a fake `COMMAND` fetch: keyed commands to their slot without reading the
 * table, keyless ones by policy, raw ones by the server's key positions (or
 * COMMAND GETKEYS), and the fallback when the table cannot be read.
 */
import { assert, describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import type { Command } from "../../src/Command.ts"
import * as Commands from "../../src/Commands.ts"
import * as ClusterDispatch from "../../src/cluster/ClusterDispatch.ts"
import type * as ClusterExecutor from "../../src/cluster/ClusterExecutor.ts"
import type * as ClusterFanOut from "../../src/cluster/ClusterFanOut.ts"
import * as ClusterSlot from "../../src/cluster/ClusterSlot.ts"
import * as CommandTable from "../../src/cluster/CommandTable.ts"
import * as RedisError from "../../src/RedisError.ts"
import type { RespValue } from "../../src/Resp.ts"

// A trimmed `COMMAND` reply of redis-server 7.0 (RESP2).
const commandReply: RespValue = [
  ["dbsize", 1, ["readonly", "fast"], 0, 0, 0, [], ["request_policy:all_shards", "response_policy:agg_sum"], [], []],
  ["ping", -1, ["fast"], 0, 0, 0, [], [], [], []],
  ["get", 2, ["readonly", "fast"], 1, 1, 1, [], [], [], []],
  ["eval", -3, ["noscript", "movablekeys"], 0, 0, 0, [], [], [], []]
]

const setup = (fetch: Effect.Effect<RespValue, RedisError.RedisError>) =>
  Effect.gen(function*() {
    const toSlot: Array<string> = []
    const fannedOut: Array<string> = []
    let fetches = 0
    const executor = {
      execute: <A>(command: Command<A>, slot: number) =>
        Effect.sync(() => {
          toSlot.push(`${command.args.map(String).join(" ")} @${slot}`)
          // COMMAND GETKEYS answers the keys of EVAL's argv.
          return (command.args[1] === "GETKEYS" ? [String(command.args[5])] : "ok") as A
        })
    } as unknown as ClusterExecutor.Executor
    const fanOut = {
      run: <A>(command: Command<A>, policy: CommandTable.Policy) =>
        Effect.sync(() => {
          fannedOut.push(`${command.name} ${policy.request}/${policy.response}`)
          return "combined" as A
        })
    } as unknown as ClusterFanOut.FanOut
    const commands = yield* CommandTable.loader(Effect.suspend(() => (fetches++, fetch)))
    const execute = ClusterDispatch.make({ executor, fanOut, commands })
    return { execute, toSlot, fannedOut, fetches: () => fetches }
  })

const lost = RedisError.make(new RedisError.ConnectionError({ message: "lost" }), "NotSent")

describe("ClusterDispatch with the server's table", () => {
  it.effect("a keyed command goes to its slot and never reads the table", () =>
    Effect.gen(function*() {
      const { execute, fetches, toSlot } = yield* setup(Effect.succeed(commandReply))
      yield* execute(Commands.get("user:1"))
      assert.deepStrictEqual(toSlot, [`GET user:1 @${ClusterSlot.keyslot("user:1")}`])
      assert.strictEqual(fetches(), 0)
    }))

  it.effect("keys of several slots, and invalid commands, fail before anything is sent", () =>
    Effect.gen(function*() {
      const { execute, toSlot } = yield* setup(Effect.succeed(commandReply))
      const cross = yield* Effect.flip(execute(Commands.mget(["a", "b"])))
      assert.strictEqual(cross.reason._tag, "CrossSlot")
      assert.strictEqual(cross.outcome, "NotSent")
      const invalid = yield* Effect.flip(execute(Commands.mget([])))
      assert.strictEqual(invalid.reason._tag, "InvalidArgument")
      assert.deepStrictEqual(toSlot, [])
    }))

  it.effect("a keyless command fans out by its tips; the table is read once", () =>
    Effect.gen(function*() {
      const { execute, fannedOut, fetches, toSlot } = yield* setup(Effect.succeed(commandReply))
      assert.strictEqual(yield* execute(Commands.dbsize()), "combined" as unknown as number)
      yield* execute(Commands.dbsize())
      assert.deepStrictEqual(fannedOut, ["DBSIZE allShards/aggSum", "DBSIZE allShards/aggSum"])
      assert.deepStrictEqual(toSlot, [])
      assert.strictEqual(fetches(), 1)
    }))

  it.effect("a keyless command without tips goes to one node", () =>
    Effect.gen(function*() {
      const { execute, fannedOut, toSlot } = yield* setup(Effect.succeed(commandReply))
      yield* execute(Commands.echo("hi"))
      yield* execute(Commands.ping())
      assert.deepStrictEqual(toSlot, ["ECHO hi @-1", "PING @-1"])
      assert.deepStrictEqual(fannedOut, [])
    }))

  it.effect("ALL_NODES commands fan out to every primary", () =>
    Effect.gen(function*() {
      const { execute, fannedOut } = yield* setup(Effect.succeed(commandReply))
      yield* execute(Commands.flushall())
      assert.deepStrictEqual(fannedOut, ["FLUSHALL allShards/allSucceeded"])
    }))

  it.effect("a raw command without declared keys is routed by the server's key positions", () =>
    Effect.gen(function*() {
      const { execute, toSlot } = yield* setup(Effect.succeed(commandReply))
      yield* execute(Commands.raw(["GET", "raw:7"]))
      assert.deepStrictEqual(toSlot, [`GET raw:7 @${ClusterSlot.keyslot("raw:7")}`])
    }))

  it.effect("movable keys are asked with COMMAND GETKEYS, then the command goes to their slot", () =>
    Effect.gen(function*() {
      const { execute, toSlot } = yield* setup(Effect.succeed(commandReply))
      yield* execute(Commands.raw(["EVAL", "return 1", "1", "raw:7"]))
      assert.deepStrictEqual(toSlot, [
        "COMMAND GETKEYS EVAL return 1 1 raw:7 @-1",
        `EVAL return 1 1 raw:7 @${ClusterSlot.keyslot("raw:7")}`
      ])
    }))
})

describe("ClusterDispatch without the server's table", () => {
  it.effect("the fallback policies still fan out, keyless commands go to one node", () =>
    Effect.gen(function*() {
      const { execute, fannedOut, toSlot } = yield* setup(Effect.fail(lost))
      assert.strictEqual(yield* execute(Commands.dbsize()), "combined" as unknown as number)
      yield* execute(Commands.ping())
      assert.deepStrictEqual(fannedOut, ["DBSIZE allShards/aggSum"])
      assert.deepStrictEqual(toSlot, ["PING @-1"])
    }))

  it.effect("a raw command whose keys only the table knows fails with the table's failure", () =>
    Effect.gen(function*() {
      const { execute, fetches, toSlot } = yield* setup(Effect.fail(lost))
      const error = yield* Effect.flip(execute(Commands.raw(["GET", "raw:7"])))
      assert.strictEqual(error, lost)
      assert.deepStrictEqual(toSlot, [])
      // A transient failure: the next keyless command asks again.
      yield* Effect.flip(execute(Commands.raw(["GET", "raw:8"])))
      assert.strictEqual(fetches(), 2)
    }))
})
