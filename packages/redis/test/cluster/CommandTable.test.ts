/**
 * `CommandTable`: parsing a `COMMAND INFO` reply (captured from
 * redis-server 7.0: key positions, tips with request and response policies,
 * subcommands; and a Redis 6 entry without tips), the order of authority of
 * `policyOf` (the command's flags, the server's tips, the fallback), key
 * positions, and the loader (once, single-flight, refusals kept, transient
 * failures forgotten).
 */
import { assert, describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"
import * as Latch from "effect/Latch"
import * as Cmd from "../../src/Command.ts"
import * as Commands from "../../src/Commands.ts"
import * as CommandTable from "../../src/cluster/CommandTable.ts"
import * as RedisError from "../../src/RedisError.ts"
import type { RespValue } from "../../src/Resp.ts"

// `COMMAND INFO dbsize get eval script nosuchcommand` from redis-server
// 7.0.15 (RESP2), SCRIPT's subcommands cut to three.
const reply: RespValue = [
  ["dbsize", 1, ["readonly", "fast"], 0, 0, 0, ["@keyspace", "@read", "@fast"], [
    "request_policy:all_shards",
    "response_policy:agg_sum"
  ], [], []],
  ["get", 2, ["readonly", "fast"], 1, 1, 1, ["@read", "@string", "@fast"], [], [[
    "flags",
    ["RO", "access"],
    "begin_search",
    ["type", "index", "spec", ["index", 1]],
    "find_keys",
    ["type", "range", "spec", ["lastkey", 0, "keystep", 1, "limit", 0]]
  ]], []],
  ["eval", -3, ["noscript", "stale", "skip_monitor", "no_mandatory_keys", "movablekeys"], 0, 0, 0, [
    "@slow",
    "@scripting"
  ], [], [], []],
  ["script", -2, [], 0, 0, 0, ["@slow"], [], [], [
    ["script|exists", -3, ["noscript"], 0, 0, 0, ["@slow", "@scripting"], [
      "request_policy:all_shards",
      "response_policy:agg_logical_and"
    ], [], []],
    ["script|help", 2, ["loading", "stale"], 0, 0, 0, ["@slow", "@scripting"], [], [], []],
    ["script|load", 3, ["noscript", "stale"], 0, 0, 0, ["@slow", "@scripting"], [
      "request_policy:all_nodes",
      "response_policy:all_succeeded"
    ], [], []]
  ]],
  null
]

// A Redis 6 entry: no tips, no key specs, no subcommands.
const redis6: RespValue = [["mset", -3, ["write", "denyoom"], 1, -1, 2, ["@write", "@string", "@slow"]]]

const table = CommandTable.parseCommandInfo(reply)

/** The policy alone (`policyOf` may return the table's entry itself). */
const policyOf = (command: Cmd.Command<unknown>, t: CommandTable.Table | undefined): CommandTable.Policy => {
  const { request, response } = CommandTable.policyOf(command, t)
  return { request, response }
}

describe("CommandTable.parseCommandInfo", () => {
  it("reads names (upper case), key positions and policies; skips null entries", () => {
    assert.deepStrictEqual([...table.keys()], ["DBSIZE", "GET", "EVAL", "SCRIPT"])
    const dbsize = table.get("DBSIZE")!
    assert.strictEqual(dbsize.request, "allShards")
    assert.strictEqual(dbsize.response, "aggSum")
    assert.deepStrictEqual(table.get("GET")!.keys, { first: 1, last: 1, step: 1, movable: false })
    assert.strictEqual(table.get("GET")!.request, "default")
    assert.isTrue(table.get("EVAL")!.keys.movable)
  })

  it("keeps subcommands under their own name, with their own policies", () => {
    const script = table.get("SCRIPT")!
    assert.strictEqual(script.request, "default")
    assert.deepStrictEqual([...script.subcommands!.keys()], ["EXISTS", "HELP", "LOAD"])
    assert.strictEqual(script.subcommands!.get("EXISTS")!.response, "aggLogicalAnd")
    assert.strictEqual(script.subcommands!.get("LOAD")!.request, "allNodes")
  })

  it("reads a Redis 6 entry (no tips) as the default policy", () => {
    const mset = CommandTable.parseCommandInfo(redis6).get("MSET")!
    assert.deepStrictEqual(mset.keys, { first: 1, last: -1, step: 2, movable: false })
    assert.strictEqual(mset.request, "default")
    assert.strictEqual(mset.response, "default")
    assert.isUndefined(mset.subcommands)
  })

  it("throws UnexpectedReply on a malformed entry", () => {
    assert.throws(() => CommandTable.parseCommandInfo([["get", 2]]), Cmd.UnexpectedReply)
    assert.throws(() => CommandTable.parseCommandInfo("OK"), Cmd.UnexpectedReply)
  })
})

describe("CommandTable.parseTips", () => {
  it("maps every documented policy and ignores other tips and unknown values", () => {
    assert.deepStrictEqual(CommandTable.parseTips(["nondeterministic_output", "request_policy:all_nodes"]), {
      request: "allNodes",
      response: "default"
    })
    assert.deepStrictEqual(CommandTable.parseTips(["request_policy:multi_shard", "response_policy:agg_min"]), {
      request: "multiShard",
      response: "aggMin"
    })
    assert.deepStrictEqual(CommandTable.parseTips(["request_policy:special", "response_policy:one_succeeded"]), {
      request: "special",
      response: "oneSucceeded"
    })
    assert.deepStrictEqual(CommandTable.parseTips(["response_policy:agg_max"]).response, "aggMax")
    assert.deepStrictEqual(CommandTable.parseTips(["response_policy:agg_logical_or"]).response, "aggLogicalOr")
    assert.strictEqual(CommandTable.parseTips(["request_policy:everywhere", "response_policy:vote"]), CommandTable.defaultPolicy)
    assert.strictEqual(CommandTable.parseTips([]), CommandTable.defaultPolicy)
  })
})

describe("CommandTable.policyOf", () => {
  it("the server's tips, by subcommand when there is one", () => {
    assert.deepStrictEqual(policyOf(Commands.dbsize(), table), { request: "allShards", response: "aggSum" })
    assert.deepStrictEqual(policyOf(Commands.raw(["SCRIPT", "exists", "abc"]), table), {
      request: "allShards",
      response: "aggLogicalAnd"
    })
    // A subcommand the table does not list: the container's policy.
    assert.deepStrictEqual(policyOf(Commands.raw(["SCRIPT", "FLUSH"]), table), CommandTable.defaultPolicy)
  })

  it("ALL_NODES on the command means every primary; the response policy still comes from the tips", () => {
    const flagged = Cmd.unsafeMake("SCRIPT", ["SCRIPT", "LOAD", "return 1"], [], Cmd.Flags.NO_KEYS | Cmd.Flags.ALL_NODES, Cmd.Reply.string)
    assert.deepStrictEqual(policyOf(flagged, table), { request: "allShards", response: "allSucceeded" })
    const unknown = Cmd.unsafeMake("NOPE", ["NOPE"], [], Cmd.Flags.ALL_NODES, Cmd.Reply.ok)
    assert.deepStrictEqual(policyOf(unknown, table), { request: "allShards", response: "allSucceeded" })
    assert.deepStrictEqual(policyOf(unknown, undefined), { request: "allShards", response: "allSucceeded" })
  })

  it("the fallback when the server gave no table, or does not know the command", () => {
    assert.deepStrictEqual(policyOf(Commands.dbsize(), undefined), { request: "allShards", response: "aggSum" })
    assert.deepStrictEqual(policyOf(Commands.keys("*"), undefined), { request: "allShards", response: "default" })
    assert.deepStrictEqual(policyOf(Commands.keys("*"), table), { request: "allShards", response: "default" })
    assert.deepStrictEqual(policyOf(Commands.ping(), undefined), CommandTable.defaultPolicy)
  })

  it("fansOut: every shard or node, with combinable replies", () => {
    assert.isTrue(CommandTable.fansOut({ request: "allShards", response: "aggSum" }))
    assert.isTrue(CommandTable.fansOut({ request: "allNodes", response: "default" }))
    assert.isFalse(CommandTable.fansOut({ request: "allShards", response: "special" }))
    assert.isFalse(CommandTable.fansOut({ request: "multiShard", response: "aggSum" }))
    assert.isFalse(CommandTable.fansOut(CommandTable.defaultPolicy))
  })
})

describe("CommandTable.keysOf", () => {
  it("reads fixed key positions: first, last (negative from the end), step", () => {
    const mset = CommandTable.parseCommandInfo(redis6).get("MSET")!
    assert.deepStrictEqual(CommandTable.keysOf(Commands.raw(["MSET", "a", "1", "b", "2"]), mset.keys), ["a", "b"])
    assert.deepStrictEqual(CommandTable.keysOf(Commands.raw(["GET", "k"]), table.get("GET")!.keys), ["k"])
    assert.deepStrictEqual(CommandTable.keysOf(Commands.raw(["DBSIZE"]), table.get("DBSIZE")!.keys), [])
  })
})

describe("CommandTable.loader", () => {
  it.effect("fetches once for concurrent callers and keeps the table", () =>
    Effect.gen(function*() {
      let fetches = 0
      const gate = yield* Latch.make(false)
      const loader = yield* CommandTable.loader(Effect.andThen(gate.await, Effect.sync(() => (fetches++, reply))))
      assert.isUndefined(loader.current())
      const fibers = yield* Effect.forEach([1, 2, 3], () => Effect.forkChild(loader.load))
      yield* Effect.yieldNow
      yield* gate.open
      const tables = yield* Fiber.joinAll(fibers)
      assert.strictEqual(fetches, 1)
      assert.strictEqual(tables[0], tables[2])
      assert.strictEqual(loader.current(), tables[0])
      yield* loader.load
      assert.strictEqual(fetches, 1)
    }))

  it.effect("a transient failure is forgotten: the next use fetches again", () =>
    Effect.gen(function*() {
      let fetches = 0
      const loader = yield* CommandTable.loader(Effect.suspend(() =>
        ++fetches === 1
          ? Effect.fail(RedisError.make(new RedisError.ConnectionError({ message: "lost" }), "NotSent"))
          : Effect.succeed(reply)
      ))
      const error = yield* Effect.flip(loader.load)
      assert.strictEqual(error.reason._tag, "ConnectionError")
      assert.isUndefined(loader.current())
      yield* loader.load
      assert.strictEqual(fetches, 2)
      assert.isDefined(loader.current())
    }))

  it.effect("a refusal by the server is kept: the next use does not ask again", () =>
    Effect.gen(function*() {
      let fetches = 0
      const noPerm = RedisError.make(new RedisError.ReplyError({ code: "NOPERM", message: "NOPERM no COMMAND" }), "Rejected", "COMMAND")
      const loader = yield* CommandTable.loader(Effect.suspend(() => (fetches++, Effect.fail(noPerm))))
      yield* Effect.flip(loader.load)
      const again = yield* Effect.flip(loader.load)
      assert.strictEqual(again, noPerm)
      assert.strictEqual(fetches, 1)
    }))
})
