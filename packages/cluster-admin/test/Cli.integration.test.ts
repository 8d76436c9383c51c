/**
 * The `redis-effect` tool run as a subprocess (the `node_modules/.bin`
 * link `npm install` creates, as `npx redis-effect` runs it) against real
 * cluster-enabled servers, with `redis-cli --cluster check` as the
 * independent oracle after each change, and its exit codes: 0 done, 1
 * problems or a failed/declined operation, 2 usage errors and refused input.
 */
import { assert, describe, it } from "@effect/vitest"
import * as ClusterSlot from "@redis-effect/redis/ClusterSlot"
import * as ChildProcess from "node:child_process"
import * as Path from "node:path"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import { addressOf, expectCliOk, keysInSlot, makeServers, redisCliCheck, type ServersShape } from "./oracle.ts"

class Servers extends Context.Service<Servers, ServersShape>()("test/cluster-admin/Cli") {}

const bin = Path.resolve(import.meta.dirname, "../../../node_modules/.bin/redis-effect")

interface Run {
  readonly code: number
  readonly stdout: string
  readonly stderr: string
}

const tool = (args: ReadonlyArray<string>, input = ""): Effect.Effect<Run> =>
  Effect.callback<Run>((resume) => {
    const child = ChildProcess.execFile(bin, [...args], { timeout: 90_000 }, (error, stdout, stderr) => {
      const code = error === null ? 0 : typeof error.code === "number" ? error.code : -1
      resume(Effect.succeed({ code, stdout, stderr }))
    })
    child.stdin?.end(input)
  })

const expectCode = (run: Run, code: number) =>
  assert.strictEqual(run.code, code, `exit ${run.code}\nstdout: ${run.stdout}\nstderr: ${run.stderr}`)

describe("redis-effect cluster (subprocess)", () => {
  it.layer(Layer.effect(Servers)(makeServers(5)), { excludeTestServices: true })("tool", (it) => {
    it.effect("usage errors exit 2; help exits 0", () =>
      Effect.gen(function*() {
        expectCode(yield* tool(["cluster", "--help"]), 0)
        expectCode(yield* tool(["cluster", "import", "127.0.0.1:1"]), 2)
        expectCode(yield* tool(["cluster", "check"]), 2)
        expectCode(yield* tool(["cluster", "create", "127.0.0.1:1"]), 2)
        const unreachable = yield* tool(["cluster", "check", "127.0.0.1:1"])
        expectCode(unreachable, 2)
        assert.include(unreachable.stderr, "127.0.0.1:1")
        const completions = yield* tool(["--completions", "bash"])
        expectCode(completions, 0)
        assert.include(completions.stdout, "redis-effect")
      }), { timeout: 60_000 })

    it.effect("create: declined changes nothing (exit 1); a node given twice is refused (exit 2); --cluster-yes creates", () =>
      Effect.gen(function*() {
        const { nodes } = yield* Servers
        const addresses = nodes.slice(0, 3).map(addressOf)
        const declined = yield* tool(["cluster", "create", ...addresses], "no\n")
        expectCode(declined, 1)
        assert.include(declined.stderr, "Creating a cluster")
        for (const n of nodes) assert.include(yield* n.cli("CLUSTER", "INFO"), "cluster_slots_assigned:0")
        expectCode(yield* tool(["cluster", "create", addresses[0]!, addresses[0]!, addresses[1]!, "--cluster-yes"]), 2)
        const created = yield* tool(["cluster", "create", ...addresses, "--cluster-yes", "--json"])
        expectCode(created, 0)
        assert.isTrue(JSON.parse(created.stdout).ok)
        yield* expectCliOk(addresses[0]!)
        // Not empty any more: refused, exit 2.
        expectCode(yield* tool(["cluster", "create", ...addresses, "--cluster-yes"]), 2)
      }), { timeout: 90_000 })

    it.effect("check, info --json, call, set-timeout", () =>
      Effect.gen(function*() {
        const { nodes } = yield* Servers
        const seed = addressOf(nodes[0]!)
        expectCode(yield* tool(["cluster", "check", seed]), 0)
        const info = yield* tool(["cluster", "info", seed, "--json"])
        expectCode(info, 0)
        assert.strictEqual(JSON.parse(info.stdout).totals.slots, 16384)
        const call = yield* tool(["cluster", "call", seed, "PING", "--json"])
        expectCode(call, 0)
        assert.deepStrictEqual(JSON.parse(call.stdout).map((r: { reply: string }) => r.reply), ["PONG", "PONG", "PONG"])
        expectCode(yield* tool(["cluster", "set-timeout", seed, "2500"]), 0)
        assert.include(yield* nodes[1]!.cli("CONFIG", "GET", "cluster-node-timeout"), "2500")
        expectCode(yield* tool(["cluster", "set-timeout", seed, "5"]), 2)
        yield* expectCliOk(seed)
      }), { timeout: 60_000 })

    it.effect("reshard: bad counts and unknown sources exit 2 with nothing moved; then 20 slots move", () =>
      Effect.gen(function*() {
        const { nodes } = yield* Servers
        const seed = addressOf(nodes[0]!)
        const info = JSON.parse((yield* tool(["cluster", "info", seed, "--json"])).stdout)
        const to = info.primaries[1].id
        expectCode(yield* tool(["cluster", "reshard", seed, "--cluster-to", to, "--cluster-slots", "0", "--cluster-yes"]), 2)
        expectCode(yield* tool(["cluster", "reshard", seed, "--cluster-to", to, "--cluster-slots", "99999", "--cluster-yes"]), 2)
        const noSource = yield* tool(["cluster", "reshard", seed, "--cluster-from", "127.0.0.1:1", "--cluster-to", to, "--cluster-slots", "5", "--cluster-yes"])
        expectCode(noSource, 2)
        assert.include(noSource.stderr, "127.0.0.1:1")
        const moved = yield* tool(["cluster", "reshard", seed, "--cluster-to", to, "--cluster-slots", "20", "--cluster-pipeline", "5", "--cluster-timeout", "10000", "--cluster-yes"])
        expectCode(moved, 0)
        assert.match(moved.stderr, /20\/20 slots/)
        yield* expectCliOk(seed)
      }), { timeout: 60_000 })

    it.effect("fix after a half-done migration: check exits 1 before, fix exits 0, the oracle agrees", () =>
      Effect.gen(function*() {
        const { nodes } = yield* Servers
        const seed = addressOf(nodes[0]!)
        const info = JSON.parse((yield* tool(["cluster", "info", seed, "--json"])).stdout)
        const report = JSON.parse((yield* tool(["cluster", "check", seed, "--json"])).stdout)
        const a = report.primaries[0]
        const b = report.primaries[2]
        void info
        const source = nodes.find((n) => addressOf(n) === a.address)!
        const target = nodes.find((n) => addressOf(n) === b.address)!
        const slot = a.ranges[a.ranges.length - 1][1]
        const keys = keysInSlot(ClusterSlot.keyslot, slot, 10, "cli")
        for (const k of keys) yield* source.cli("SET", k, k)
        yield* target.cli("CLUSTER", "SETSLOT", String(slot), "IMPORTING", a.id)
        yield* source.cli("CLUSTER", "SETSLOT", String(slot), "MIGRATING", b.id)
        yield* source.cli("MIGRATE", "127.0.0.1", String(target.port), "", "0", "5000", "KEYS", ...keys.slice(0, 3))
        expectCode(yield* tool(["cluster", "check", seed]), 1)
        assert.isFalse((yield* redisCliCheck(seed)).ok)
        const fixed = yield* tool(["cluster", "fix", seed, "--cluster-yes"])
        expectCode(fixed, 0)
        assert.include(fixed.stdout, "finished the migration")
        assert.strictEqual(yield* target.cli("CLUSTER", "COUNTKEYSINSLOT", String(slot)), "10")
        yield* expectCliOk(seed)
        expectCode(yield* tool(["cluster", "check", seed]), 0)
      }), { timeout: 60_000 })

    it.effect("add-node --cluster-slave without a primary id, then del-node of the killed replica", () =>
      Effect.gen(function*() {
        const { nodes } = yield* Servers
        const seed = addressOf(nodes[0]!)
        const added = yield* tool(["cluster", "add-node", addressOf(nodes[3]!), seed, "--cluster-slave", "--json"])
        expectCode(added, 0)
        const replica = JSON.parse(added.stdout)
        assert.strictEqual(replica.role, "replica")
        yield* expectCliOk(seed)
        yield* nodes[3]!.kill
        const removed = yield* tool(["cluster", "del-node", seed, replica.id, "--cluster-yes", "--json"])
        expectCode(removed, 0)
        assert.isTrue(JSON.parse(removed.stdout).unreachable)
        yield* expectCliOk(seed)
        const info = JSON.parse((yield* tool(["cluster", "info", seed, "--json"])).stdout)
        assert.strictEqual(info.totals.replicas, 0)
      }), { timeout: 90_000 })
  })
})
