/**
 * `ClusterFanOut`: the nodes a target names, how replies combine by
 * response policy, and running a command on every shard over a fake `send`
 * (one send per node, one result per node).
 */
import { assert, describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Option from "effect/Option"
import * as Schedule from "effect/Schedule"
import * as Address from "../../src/Address.ts"
import type { Command } from "../../src/Command.ts"
import * as Cmd from "../../src/Command.ts"
import * as Commands from "../../src/Commands.ts"
import * as ClusterFanOut from "../../src/cluster/ClusterFanOut.ts"
import type { NodeInfo, View } from "../../src/cluster/ClusterView.ts"
import * as RedisError from "../../src/RedisError.ts"

const node = (port: number, role: NodeInfo["role"] = "primary", health: NodeInfo["health"] = "online"): NodeInfo => ({
  id: `id-${port}`,
  host: "127.0.0.1",
  port,
  role,
  health
})

const view: View = {
  shards: [
    { ranges: [[0, 8191]], primary: node(7001), replicas: [node(7003, "replica"), node(7005, "replica", "failed")] },
    { ranges: [[8192, 16383]], primary: node(7002), replicas: [node(7004, "replica")] }
  ]
}

const ports = (addresses: ReadonlyArray<Address.Address>) => addresses.map((a) => a.port)

describe("ClusterFanOut.targets", () => {
  it("primaries, replicas and all (failed replicas left out), random, given addresses", () => {
    assert.deepStrictEqual(ports(ClusterFanOut.targets(view, "primaries")), [7001, 7002])
    assert.deepStrictEqual(ports(ClusterFanOut.targets(view, "replicas")), [7003, 7004])
    assert.deepStrictEqual(ports(ClusterFanOut.targets(view, "all")), [7001, 7003, 7002, 7004])
    const random = ClusterFanOut.targets(view, "random")
    assert.strictEqual(random.length, 1)
    // redis-py's RANDOM: any node, primaries and (healthy) replicas alike.
    assert.include([7001, 7002, 7003, 7004], random[0].port)
    const seen = new Set(Array.from({ length: 400 }, () => ClusterFanOut.targets(view, "random")[0].port))
    assert.deepStrictEqual([...seen].sort(), [7001, 7002, 7003, 7004])
    assert.deepStrictEqual(ports(ClusterFanOut.targets(view, { host: "h", port: 1 })), [1])
    assert.deepStrictEqual(ports(ClusterFanOut.targets(view, [{ host: "h", port: 1 }, { host: "h", port: 2 }])), [1, 2])
    assert.deepStrictEqual(ClusterFanOut.targets({ shards: [] }, "random"), [])
  })
})

describe("ClusterFanOut.aggregate", () => {
  it("sums, minimum, maximum", () => {
    assert.strictEqual(ClusterFanOut.aggregate("aggSum", [3, 4, 5]), 12)
    assert.strictEqual(ClusterFanOut.aggregate("aggMin", [3, 1, 5]), 1)
    assert.strictEqual(ClusterFanOut.aggregate("aggMax", [3, 1, 5]), 5)
  })

  it("logical and / or, element by element for arrays (SCRIPT EXISTS)", () => {
    assert.deepStrictEqual(ClusterFanOut.aggregate("aggLogicalAnd", [[true, true, false], [true, false, false]]), [
      true,
      false,
      false
    ])
    assert.deepStrictEqual(ClusterFanOut.aggregate("aggLogicalOr", [[true, false, false], [false, false, true]]), [
      true,
      false,
      true
    ])
    assert.strictEqual(ClusterFanOut.aggregate("aggLogicalAnd", [1, 1]), true)
    assert.strictEqual(ClusterFanOut.aggregate("aggLogicalOr", [0, 0]), false)
  })

  it("default: arrays concatenated (KEYS); otherwise the first non-empty reply (RANDOMKEY)", () => {
    assert.deepStrictEqual(ClusterFanOut.aggregate("default", [["a"], [], ["b", "c"]]), ["a", "b", "c"])
    assert.deepStrictEqual(ClusterFanOut.aggregate("default", [Option.none(), Option.some("k"), Option.some("j")]), Option.some("k"))
    assert.deepStrictEqual(ClusterFanOut.aggregate("default", [Option.none(), Option.none()]), Option.none())
    assert.strictEqual(ClusterFanOut.aggregate("default", [null, "x"]), "x")
  })

  it("allSucceeded, oneSucceeded: the first reply", () => {
    assert.strictEqual(ClusterFanOut.aggregate("allSucceeded", ["OK", "OK"]), "OK")
    assert.strictEqual(ClusterFanOut.aggregate("oneSucceeded", ["OK", "x"]), "OK")
  })
})

describe("ClusterFanOut.make", () => {
  const fake = (answer: (port: number, command: Command<unknown>) => Effect.Effect<unknown, RedisError.RedisError>) => {
    const sent: Array<string> = []
    const fanOut = ClusterFanOut.make({
      send: <A>(a: Address.Address, command: Command<A>) =>
        Effect.suspend(() => {
          sent.push(`${Address.format(a)} ${command.name}`)
          return answer(a.port, command) as Effect.Effect<A, RedisError.RedisError>
        }),
      view: () => view
    })
    return { fanOut, sent }
  }
  const notBusy = RedisError.make(new RedisError.ReplyError({ code: "NOTBUSY", message: "NOTBUSY" }), "Rejected")

  it.effect("onNodes: one send and one result per node, by address", () =>
    Effect.gen(function*() {
      const { fanOut, sent } = fake((port) => port === 7004 ? Effect.fail(notBusy) : Effect.succeed(`pong ${port}`))
      const results = yield* fanOut.onNodes("all", Commands.ping())
      assert.deepStrictEqual([...results.keys()], ["127.0.0.1:7001", "127.0.0.1:7003", "127.0.0.1:7002", "127.0.0.1:7004"])
      assert.deepStrictEqual(results.get("127.0.0.1:7003"), Exit.succeed("pong 7003"))
      assert.isTrue(Exit.isFailure(results.get("127.0.0.1:7004")!))
      assert.strictEqual(sent.length, 4)
    }))

  it.effect("run: every primary, replies combined by the response policy", () =>
    Effect.gen(function*() {
      const { fanOut, sent } = fake((port) => Effect.succeed(port === 7001 ? 10 : 32))
      assert.strictEqual(yield* fanOut.run(Commands.dbsize(), { request: "allShards", response: "aggSum" }), 42)
      assert.deepStrictEqual(sent, ["127.0.0.1:7001 DBSIZE", "127.0.0.1:7002 DBSIZE"])
    }))

  it.effect("run: allNodes includes the replicas", () =>
    Effect.gen(function*() {
      const { fanOut, sent } = fake(() => Effect.succeed("OK"))
      yield* fanOut.run(Commands.raw(["CONFIG", "SET", "x", "y"]), { request: "allNodes", response: "allSucceeded" })
      assert.strictEqual(sent.length, 4)
    }))

  it.effect("run: all must succeed unless the policy is oneSucceeded", () =>
    Effect.gen(function*() {
      const { fanOut } = fake((port) => port === 7002 ? Effect.fail(notBusy) : Effect.succeed("OK"))
      const error = yield* Effect.flip(fanOut.run(Commands.flushall(), { request: "allShards", response: "allSucceeded" }))
      assert.strictEqual(error, notBusy)
      const killed = yield* fanOut.run(Commands.raw(["SCRIPT", "KILL"]), { request: "allShards", response: "oneSucceeded" })
      assert.strictEqual(killed, "OK")
    }))

  it.effect("run: oneSucceeded fails with a node's failure when every node failed", () =>
    Effect.gen(function*() {
      const { fanOut } = fake(() => Effect.fail(notBusy))
      const error = yield* Effect.flip(fanOut.run(Commands.raw(["SCRIPT", "KILL"]), { request: "allShards", response: "oneSucceeded" }))
      assert.strictEqual(error, notBusy)
    }))
})

describe("ClusterFanOut.make: re-resolving the target", () => {
  const lost = RedisError.make(new RedisError.ConnectionError({ message: "lost" }), "NotSent")
  const lostUnknown = RedisError.make(new RedisError.ConnectionError({ message: "lost" }), "Unknown")
  const failedOver: View = {
    shards: [
      { ranges: [[0, 8191]], primary: node(7003), replicas: [node(7001, "replica", "failed")] },
      { ranges: [[8192, 16383]], primary: node(7002), replicas: [node(7004, "replica")] }
    ]
  }
  const threeRetries = Schedule.recurs(3).pipe(Schedule.setInputType<RedisError.RedisError>())

  // `now` is the view; a send to 7001 fails `error` and makes the cluster fail over.
  const failingOver = (error: RedisError.RedisError) => {
    let now = view
    const sent: Array<string> = []
    const refreshes: Array<string> = []
    const fanOut = ClusterFanOut.make({
      send: <A>(a: Address.Address, command: Command<A>) =>
        Effect.suspend(() => {
          sent.push(`${a.port} ${command.name}`)
          if (a.port === 7001) {
            now = failedOver
            return Effect.fail(error)
          }
          return Effect.succeed(a.port as A)
        }),
      view: () => now,
      retry: threeRetries,
      requestRefresh: (trigger) => refreshes.push(trigger),
      triggerOf: () => "connection-failures"
    })
    return { fanOut, sent, refreshes }
  }

  it.effect("a primary lost under a read: refresh asked, the new primary answers; nodes that answered are not asked again", () =>
    Effect.gen(function*() {
      const { fanOut, refreshes, sent } = failingOver(lost)
      const results = yield* fanOut.onNodes("primaries", Commands.dbsize())
      assert.deepStrictEqual([...results.keys()].sort(), ["127.0.0.1:7002", "127.0.0.1:7003"])
      assert.deepStrictEqual(results.get("127.0.0.1:7003"), Exit.succeed(7003))
      assert.deepStrictEqual(sent, ["7001 DBSIZE", "7002 DBSIZE", "7003 DBSIZE"])
      assert.deepStrictEqual(refreshes, ["connection-failures"])
      assert.strictEqual(yield* fanOut.run(Commands.dbsize(), { request: "allShards", response: "aggSum" }), 7002 + 7003)
    }))

  it.effect("a write that may have run is not sent again: that node's failure is its result", () =>
    Effect.gen(function*() {
      const { fanOut, sent } = failingOver(lostUnknown)
      const write = Cmd.unsafeMake("SWAPDB", ["SWAPDB", 0, 1], [], Cmd.Flags.WRITE | Cmd.Flags.NO_KEYS, Cmd.Reply.ok)
      const results = yield* fanOut.onNodes("primaries", write)
      assert.strictEqual(RedisError.failureOf(results.get("127.0.0.1:7001")!), lostUnknown)
      assert.deepStrictEqual(sent, ["7001 SWAPDB", "7002 SWAPDB"])
    }))

  it.effect("a node that keeps failing: its last failure once the schedule runs out", () =>
    Effect.gen(function*() {
      const sent: Array<number> = []
      const fanOut = ClusterFanOut.make({
        send: <A>(a: Address.Address) =>
          Effect.suspend(() => (sent.push(a.port), a.port === 7002 ? Effect.fail(lost) : Effect.succeed("PONG" as A))),
        view: () => view,
        retry: threeRetries
      })
      const results = yield* fanOut.onNodes({ host: "127.0.0.1", port: 7002 }, Commands.ping())
      assert.strictEqual(RedisError.failureOf(results.get("127.0.0.1:7002")!), lost)
      assert.deepStrictEqual(sent, [7002, 7002, 7002, 7002])
    }))

  it.effect("without a retry schedule each node gets exactly one send", () =>
    Effect.gen(function*() {
      let sends = 0
      const fanOut = ClusterFanOut.make({ send: () => Effect.suspend(() => (sends++, Effect.fail(lost))), view: () => view })
      const results = yield* fanOut.onNodes("all", Commands.ping())
      assert.strictEqual(results.size, 4)
      assert.strictEqual(sends, 4)
    }))
})
