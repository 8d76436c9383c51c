/**
 * `ClusterExecutor` against a fake cluster: two nodes (`:7001` serves slots
 * 0-8191, `:7002` the rest) whose `send` answers from a script and records
 * every write, under the `TestClock`. MOVED, ASK, TRYAGAIN, CLUSTERDOWN, the
 * redirect budget, the at-most-once rule for writes, pipelines regrouped
 * after MOVED, and a dedicated connection on a migrating slot.
 */
import { assert, describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"
import * as Schedule from "effect/Schedule"
import { TestClock } from "effect/testing"
import * as Address from "../../src/Address.ts"
import type { Command } from "../../src/Command.ts"
import * as Cmd from "../../src/Command.ts"
import * as Commands from "../../src/Commands.ts"
import type * as Connection from "../../src/Connection.ts"
import * as ClusterExecutor from "../../src/cluster/ClusterExecutor.ts"
import * as ClusterSlot from "../../src/cluster/ClusterSlot.ts"
import type * as ClusterTopology from "../../src/cluster/ClusterTopology.ts"
import * as RedisError from "../../src/RedisError.ts"

// -----------------------------------------------------------------------------
// a fake cluster
// -----------------------------------------------------------------------------

const A: Address.Address = { host: "127.0.0.1", port: 7001 }
const B: Address.Address = { host: "127.0.0.1", port: 7002 }

/** Keys of each half of the slots. */
const keyOn = (node: Address.Address, skip = 0): string => {
  for (let i = 0, found = 0; ; i++) {
    const key = `k${i}`
    if ((ClusterSlot.keyslot(key) < 8192) === (node === A) && found++ === skip) return key
  }
}

const moved = (key: string, to: Address.Address) =>
  RedisError.make(new RedisError.Moved({ slot: ClusterSlot.keyslot(key), host: to.host, port: to.port }), "Rejected", "GET")
const ask = (key: string, to: Address.Address) =>
  RedisError.make(new RedisError.Ask({ slot: ClusterSlot.keyslot(key), host: to.host, port: to.port }), "Rejected", "GET")
const tryAgain = () => RedisError.make(new RedisError.TryAgain({ message: "TRYAGAIN" }), "Rejected")
const clusterDown = () => RedisError.make(new RedisError.ClusterDown({ message: "CLUSTERDOWN" }), "Rejected")
const lost = () => RedisError.make(new RedisError.ConnectionError({ message: "connection lost" }), "Unknown")

/** Answers one command on one node: a value, or a failure. */
type Script = (node: string, command: Command<unknown>, call: number) => Effect.Effect<unknown, RedisError.RedisError>

const text = (command: Command<unknown>) => command.args.map(String).join(" ")

const fakeCluster = (script: Script, options: Partial<ClusterExecutor.Io> = {}) => {
  /** Every command sent, as `node: args`, in order. */
  const sent: Array<string> = []
  /** Every write (one `send` or one `sendAll`), as `node: [args, ...]`. */
  const writes: Array<string> = []
  const refreshes: Array<ClusterTopology.Trigger> = []
  const patches = new Map<number, Address.Address>()
  const one = (a: Address.Address, command: Command<unknown>) =>
    Effect.suspend(() => {
      sent.push(`${Address.format(a)}: ${text(command)}`)
      return script(Address.format(a), command, sent.length)
    })
  const io: ClusterExecutor.Io = {
    send: <A>(a: Address.Address, command: Command<A>) =>
      Effect.suspend(() => {
        writes.push(`${Address.format(a)}: [${text(command)}]`)
        return one(a, command) as Effect.Effect<A, RedisError.RedisError>
      }),
    sendAll: (a, commands) =>
      Effect.suspend(() => {
        writes.push(`${Address.format(a)}: [${commands.map(text).join(", ")}]`)
        return Effect.forEach(commands, (c) => Effect.exit(one(a, c)))
      }),
    dedicated: (a, f) =>
      f({
        send: (command) => one(a, command),
        sendAll: (commands) =>
          Effect.suspend(() => {
            writes.push(`${Address.format(a)} (dedicated): [${commands.map(text).join(", ")}]`)
            return Effect.forEach(commands, (c) => Effect.exit(one(a, c)))
          })
      } as Connection.Connection),
    route: (_command, slot) => slot < 0 ? A : patches.get(slot) ?? (slot < 8192 ? A : B),
    patchSlot: (slot, a) => {
      patches.set(slot, a)
    },
    requestRefresh: (trigger) => {
      refreshes.push(trigger)
    },
    retry: Schedule.spaced("100 millis").pipe(Schedule.upTo({ times: 3 }), Schedule.setInputType<RedisError.RedisError>()),
    maxRedirects: 5,
    ...options
  }
  return { executor: ClusterExecutor.make(io), sent, writes, refreshes, patches }
}

// A GET whose reply is the fake's value as it is.
const get = (key: string) => Cmd.unsafeMake("GET", ["GET", key], [key], Cmd.Flags.READONLY, Cmd.Reply.raw)
const slotOf = (key: string) => ClusterSlot.keyslot(key)

/** Lets forked fibers run up to their next suspension. */
const settle = Effect.gen(function*() {
  for (let i = 0; i < 10; i++) yield* Effect.yieldNow
})

// -----------------------------------------------------------------------------
// redirects
// -----------------------------------------------------------------------------

describe("ClusterExecutor redirects", () => {
  it.effect("MOVED: sent at once to the new owner, the slot patched, a refresh requested", () =>
    Effect.gen(function*() {
      const key = keyOn(A)
      const { executor, patches, refreshes, sent } = fakeCluster((node) =>
        node === "127.0.0.1:7001" ? Effect.fail(moved(key, B)) : Effect.succeed("v")
      )
      const value = yield* executor.execute(get(key), slotOf(key))
      assert.strictEqual(value, "v")
      assert.deepStrictEqual(sent, [`127.0.0.1:7001: GET ${key}`, `127.0.0.1:7002: GET ${key}`])
      assert.deepStrictEqual(patches.get(slotOf(key)), B)
      assert.include(refreshes, "moved")
      // The next command of that slot goes to the new owner directly.
      yield* executor.execute(get(key), slotOf(key))
      assert.strictEqual(sent[2], `127.0.0.1:7002: GET ${key}`)
    }))

  it.effect("MOVED is followed without waiting for the retry schedule", () =>
    Effect.gen(function*() {
      const key = keyOn(A)
      const { executor } = fakeCluster((node) => node === "127.0.0.1:7001" ? Effect.fail(moved(key, B)) : Effect.succeed("v"))
      // No clock adjustment: a sleep here would never end.
      const fiber = yield* Effect.forkChild(executor.execute(get(key), slotOf(key)))
      yield* settle
      assert.deepStrictEqual(fiber.pollUnsafe(), Exit.succeed("v"))
    }))

  it.effect("ASK: ASKING and the command go to the target in one write; the slot is not patched", () =>
    Effect.gen(function*() {
      const key = keyOn(A)
      const { executor, patches, refreshes, sent, writes } = fakeCluster((node, command) =>
        node === "127.0.0.1:7001"
          ? Effect.fail(ask(key, B))
          : Effect.succeed(command.name === "ASKING" ? "OK" : "v")
      )
      const value = yield* executor.execute(get(key), slotOf(key))
      assert.strictEqual(value, "v")
      assert.deepStrictEqual(writes, [`127.0.0.1:7001: [GET ${key}]`, `127.0.0.1:7002: [ASKING, GET ${key}]`])
      assert.strictEqual(patches.size, 0)
      assert.deepStrictEqual(refreshes, ["ask"])
      // The slot still belongs to the source: the next command asks it first.
      yield* executor.execute(get(key), slotOf(key))
      assert.strictEqual(sent[sent.length - 3], `127.0.0.1:7001: GET ${key}`)
    }))

  it.effect("the redirect budget exhausted gives the Moved error, after 1 + maxRedirects sends", () =>
    Effect.gen(function*() {
      const key = keyOn(A)
      // Each node sends the command to the other one, forever.
      const { executor, sent } = fakeCluster(
        (node) => Effect.fail(moved(key, node === "127.0.0.1:7001" ? B : A)),
        { maxRedirects: 2 }
      )
      const error = yield* Effect.flip(executor.execute(get(key), slotOf(key)))
      assert.strictEqual(error.reason._tag, "Moved")
      assert.strictEqual((error.reason as RedisError.Moved).slot, slotOf(key))
      assert.strictEqual(sent.length, 3)
    }))

  it.effect("a redirect to the node itself ends at the budget too (a MOVED loop)", () =>
    Effect.gen(function*() {
      const key = keyOn(A)
      const { executor, sent } = fakeCluster(() => Effect.fail(moved(key, A)))
      const error = yield* Effect.flip(executor.execute(get(key), slotOf(key)))
      assert.strictEqual(error.reason._tag, "Moved")
      assert.strictEqual(sent.length, 6, "the default budget of the fake is 5 redirects")
    }))

  it.effect("remap rewrites the address a redirect names", () =>
    Effect.gen(function*() {
      const key = keyOn(A)
      const announced: Address.Address = { host: "10.0.0.2", port: 6379 }
      const { executor, patches, sent } = fakeCluster(
        (node) => node === "127.0.0.1:7001" ? Effect.fail(moved(key, announced)) : Effect.succeed("v"),
        { remap: (a) => (a.host === "10.0.0.2" ? B : a) }
      )
      assert.strictEqual(yield* executor.execute(get(key), slotOf(key)), "v")
      assert.strictEqual(sent[1], `127.0.0.1:7002: GET ${key}`)
      assert.deepStrictEqual(patches.get(slotOf(key)), B)
    }))
})

// -----------------------------------------------------------------------------
// retries
// -----------------------------------------------------------------------------

describe("ClusterExecutor retries", () => {
  it.effect("TRYAGAIN is retried through the schedule, on the clock", () =>
    Effect.gen(function*() {
      const key = keyOn(A)
      const { executor, refreshes, sent } = fakeCluster((_node, _command, call) =>
        call <= 2 ? Effect.fail(tryAgain()) : Effect.succeed("v")
      )
      const fiber = yield* Effect.forkChild(executor.execute(get(key), slotOf(key)))
      yield* settle
      assert.strictEqual(sent.length, 1, "the retry waits for the schedule")
      yield* TestClock.adjust(100)
      yield* settle
      assert.strictEqual(sent.length, 2)
      yield* TestClock.adjust(100)
      assert.strictEqual(yield* Fiber.join(fiber), "v")
      assert.strictEqual(sent.length, 3)
      assert.include(refreshes, "cluster-down")
    }))

  it.effect("TRYAGAIN on a write that never ran (Rejected) is retried too", () =>
    Effect.gen(function*() {
      const key = keyOn(B)
      const { executor, sent } = fakeCluster((_node, _command, call) => call === 1 ? Effect.fail(tryAgain()) : Effect.succeed(1))
      const fiber = yield* Effect.forkChild(executor.execute(Commands.incr(key), slotOf(key)))
      yield* settle
      yield* TestClock.adjust(100)
      assert.strictEqual(yield* Fiber.join(fiber), 1)
      assert.strictEqual(sent.length, 2)
    }))

  it.effect("CLUSTERDOWN on every attempt fails ClusterDown once the schedule is spent", () =>
    Effect.gen(function*() {
      const key = keyOn(A)
      const { executor, refreshes, sent } = fakeCluster(() => Effect.fail(clusterDown()))
      const fiber = yield* Effect.forkChild(Effect.flip(executor.execute(get(key), slotOf(key))))
      yield* settle
      for (let i = 0; i < 5; i++) {
        yield* TestClock.adjust(100)
        yield* settle
      }
      const error = yield* Fiber.join(fiber)
      assert.strictEqual(error.reason._tag, "ClusterDown")
      // The first send and the schedule's 3 retries.
      assert.strictEqual(sent.length, 4)
      assert.include(refreshes, "cluster-down")
    }))

  it.effect("a retry that lands on a MOVED follows it", () =>
    Effect.gen(function*() {
      const key = keyOn(A)
      const { executor, sent } = fakeCluster((node, _command, call) =>
        call === 1 ? Effect.fail(tryAgain()) : node === "127.0.0.1:7001" ? Effect.fail(moved(key, B)) : Effect.succeed("v")
      )
      const fiber = yield* Effect.forkChild(executor.execute(get(key), slotOf(key)))
      yield* settle
      yield* TestClock.adjust(100)
      assert.strictEqual(yield* Fiber.join(fiber), "v")
      assert.deepStrictEqual(sent.map((s) => s.split(":")[1]), ["7001", "7001", "7002"])
    }))

  it.effect("a write whose outcome is Unknown (lost connection) is never sent again", () =>
    Effect.gen(function*() {
      const key = keyOn(A)
      const { executor, refreshes, sent } = fakeCluster(() => Effect.fail(lost()))
      const fiber = yield* Effect.forkChild(Effect.flip(executor.execute(Commands.incr(key), slotOf(key))))
      yield* settle
      yield* TestClock.adjust(10_000)
      const error = yield* Fiber.join(fiber)
      assert.strictEqual(error.reason._tag, "ConnectionError")
      assert.strictEqual(error.outcome, "Unknown")
      assert.strictEqual(sent.length, 1)
      assert.include(refreshes, "connection-failures")
    }))

  it.effect("a read whose outcome is Unknown is sent again", () =>
    Effect.gen(function*() {
      const key = keyOn(A)
      const { executor, sent } = fakeCluster((_node, _command, call) => call === 1 ? Effect.fail(lost()) : Effect.succeed("v"))
      const fiber = yield* Effect.forkChild(executor.execute(get(key), slotOf(key)))
      yield* settle
      yield* TestClock.adjust(100)
      assert.strictEqual(yield* Fiber.join(fiber), "v")
      assert.strictEqual(sent.length, 2)
    }))

  it.effect("an idempotent write whose outcome is Unknown is sent again", () =>
    Effect.gen(function*() {
      const key = keyOn(A)
      const { executor, sent } = fakeCluster((_node, _command, call) => call === 1 ? Effect.fail(lost()) : Effect.succeed(1))
      const fiber = yield* Effect.forkChild(executor.execute(Commands.del([key]), slotOf(key)))
      yield* settle
      yield* TestClock.adjust(100)
      assert.strictEqual(yield* Fiber.join(fiber), 1)
      assert.strictEqual(sent.length, 2)
    }))

  it.effect("a slot no node serves fails ClusterDown after the schedule and asks for a refresh", () =>
    Effect.gen(function*() {
      const { executor, refreshes, sent } = fakeCluster(() => Effect.succeed("v"), { route: () => undefined })
      const fiber = yield* Effect.forkChild(Effect.flip(executor.execute(get("k"), slotOf("k"))))
      yield* settle
      for (let i = 0; i < 5; i++) {
        yield* TestClock.adjust(100)
        yield* settle
      }
      const error = yield* Fiber.join(fiber)
      assert.strictEqual(error.reason._tag, "ClusterDown")
      assert.strictEqual(error.outcome, "NotSent")
      assert.strictEqual(sent.length, 0)
      assert.include(refreshes, "uncovered-slot")
    }))
})

// -----------------------------------------------------------------------------
// pipelines
// -----------------------------------------------------------------------------

describe("ClusterExecutor pipelines", () => {
  it.effect("one write per node, replies back in order", () =>
    Effect.gen(function*() {
      const [a1, b1, a2] = [keyOn(A), keyOn(B), keyOn(A, 1)]
      const { executor, writes } = fakeCluster((_node, command) => Effect.succeed(`v:${command.args[1]}`))
      const exits = yield* executor.executeAll([get(a1), get(b1), get(a2)], () => Effect.die("no resend"))
      assert.deepStrictEqual(exits, [Exit.succeed(`v:${a1}`), Exit.succeed(`v:${b1}`), Exit.succeed(`v:${a2}`)])
      assert.sameMembers(writes, [`127.0.0.1:7001: [GET ${a1}, GET ${a2}]`, `127.0.0.1:7002: [GET ${b1}]`])
    }))

  it.effect("members answered with MOVED are regrouped by their new owner in one more write", () =>
    Effect.gen(function*() {
      const [a1, a2, b1] = [keyOn(A), keyOn(A, 1), keyOn(B)]
      // The slots of a1 and a2 moved to B behind the client's back.
      const { executor, patches, refreshes, writes } = fakeCluster((node, command) => {
        const key = String(command.args[1])
        return node === "127.0.0.1:7001" ? Effect.fail(moved(key, B)) : Effect.succeed(`v:${key}`)
      })
      const resent: Array<string> = []
      const exits = yield* executor.executeAll(
        [get(a1), get(b1), get(a2)],
        (command) => Effect.sync(() => resent.push(text(command)))
      )
      assert.deepStrictEqual(exits, [Exit.succeed(`v:${a1}`), Exit.succeed(`v:${b1}`), Exit.succeed(`v:${a2}`)])
      assert.strictEqual(writes.length, 3)
      assert.sameMembers(writes.slice(0, 2), [`127.0.0.1:7001: [GET ${a1}, GET ${a2}]`, `127.0.0.1:7002: [GET ${b1}]`])
      assert.strictEqual(writes[2], `127.0.0.1:7002: [GET ${a1}, GET ${a2}]`)
      assert.deepStrictEqual(resent, [], "nothing went one by one")
      assert.deepStrictEqual(patches.get(slotOf(a1)), B)
      assert.deepStrictEqual(patches.get(slotOf(a2)), B)
      assert.include(refreshes, "moved")
    }))

  it.effect("members that fail but may be resent (ASK, TRYAGAIN, keyless) go again on their own; others keep their failure", () =>
    Effect.gen(function*() {
      const [a1, a2, a3, b1] = [keyOn(A), keyOn(A, 1), keyOn(A, 2), keyOn(B)]
      const { executor } = fakeCluster((_node, command) => {
        const key = String(command.args[1])
        if (key === a1) return Effect.fail(ask(key, B))
        if (key === a2) return Effect.fail(tryAgain())
        if (command.name === "INCR") return Effect.fail(lost())
        return Effect.succeed(`v:${key}`)
      })
      const resent: Array<string> = []
      const exits = yield* executor.executeAll(
        [get(a1), get(a2), Commands.incr(a3), get(b1), Commands.ping()],
        (command) => Effect.sync(() => (resent.push(text(command)), "again"))
      )
      assert.sameMembers(resent, [`GET ${a1}`, `GET ${a2}`, "PING"])
      assert.deepStrictEqual(exits[0], Exit.succeed("again"))
      assert.deepStrictEqual(exits[1], Exit.succeed("again"))
      assert.strictEqual(RedisError.failureOf(exits[2])?.reason._tag, "ConnectionError", "a write in doubt is not resent")
      assert.deepStrictEqual(exits[3], Exit.succeed(`v:${b1}`))
      assert.deepStrictEqual(exits[4], Exit.succeed("again"))
    }))

  it.effect("a member whose keys hash to different slots fails CrossSlot without being sent", () =>
    Effect.gen(function*() {
      const [a1, b1] = [keyOn(A), keyOn(B)]
      const { executor, sent } = fakeCluster(() => Effect.succeed("v"))
      const exits = yield* executor.executeAll([Commands.mget([a1, b1])], () => Effect.die("no resend"))
      assert.strictEqual(RedisError.failureOf(exits[0])?.reason._tag, "CrossSlot")
      assert.deepStrictEqual(sent, [])
    }))
})

// -----------------------------------------------------------------------------
// dedicated connections
// -----------------------------------------------------------------------------

describe("ClusterExecutor withDedicated", () => {
  it.effect("ASK: the body runs once on the target with ASKING before each request", () =>
    Effect.gen(function*() {
      const key = keyOn(A)
      let runs = 0
      const { executor, refreshes, writes } = fakeCluster((node, command) =>
        node === "127.0.0.1:7001" ? Effect.fail(ask(key, B)) : Effect.succeed(command.name === "ASKING" ? "OK" : "v")
      )
      const value = yield* executor.withDedicated([key], (c) =>
        Effect.suspend(() => {
          runs++
          return c.send(get(key))
        }))
      assert.strictEqual(value, "v")
      assert.strictEqual(runs, 2, "once on the source (refused), once on the target")
      assert.include(writes, `127.0.0.1:7002 (dedicated): [ASKING, GET ${key}]`)
      assert.include(refreshes, "ask")
    }))

  it.effect("MOVED: once more on the owner the MOVED names (patched), not on what a refresh believes", () =>
    Effect.gen(function*() {
      const key = keyOn(A)
      let runs = 0
      // The route never learns of the move (a stale topology): only the
      // MOVED's own address gets the body to B.
      const { executor, patches, refreshes, sent } = fakeCluster(
        (node) => node === "127.0.0.1:7001" ? Effect.fail(moved(key, B)) : Effect.succeed("v"),
        { route: () => A }
      )
      const value = yield* executor.withDedicated([key], (c) =>
        Effect.suspend(() => {
          runs++
          return c.send(get(key))
        }))
      assert.strictEqual(value, "v")
      assert.strictEqual(runs, 2)
      assert.deepStrictEqual(sent, [`127.0.0.1:7001: GET ${key}`, `127.0.0.1:7002: GET ${key}`])
      assert.deepStrictEqual(patches.get(slotOf(key)), B)
      assert.include(refreshes, "moved")
    }))

  it.effect("keys of several slots are refused before anything is sent", () =>
    Effect.gen(function*() {
      const { executor, sent } = fakeCluster(() => Effect.succeed("v"))
      const error = yield* Effect.flip(executor.withDedicated([keyOn(A), keyOn(B)], (c) => c.send(get("x"))))
      assert.strictEqual(error.reason._tag, "CrossSlot")
      assert.deepStrictEqual(sent, [])
    }))
})
