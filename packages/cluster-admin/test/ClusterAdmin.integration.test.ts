/**
 * ClusterAdmin (the `redis-cli --cluster` operations) against real
 * cluster-enabled redis-server processes. `redis-cli --cluster check` is the
 * independent oracle after every change. One cluster is grown step by step
 * (create 3x1, check, reshard under load, add an empty primary and
 * rebalance, add a replica, remove nodes); a 3-primary cluster with a
 * password covers MIGRATE with AUTH, BUSYKEY, wrong credentials and a killed
 * primary; a few loose servers cover refused input and a create that runs
 * out of time. Tests assert invariants and print what they measure (no
 * timing is asserted).
 */
import { assert, describe, it } from "@effect/vitest"
import * as NodeTransport from "@redis-effect/node/NodeTransport"
import * as Cluster from "@redis-effect/redis/Cluster"
import * as ClusterAdmin from "@redis-effect/cluster-admin/ClusterAdmin"
import * as ClusterSlot from "@redis-effect/redis/ClusterSlot"
import type * as Redis from "@redis-effect/redis/Redis"
import type * as RedisError from "@redis-effect/redis/RedisError"
import * as RedisServer from "@redis-effect/testing/RedisServer"
import * as ChildProcess from "node:child_process"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"
import * as Layer from "effect/Layer"
import * as Scope from "effect/Scope"

// -----------------------------------------------------------------------------
// fixtures
// -----------------------------------------------------------------------------

/** Empty cluster-enabled servers (the same settings as the RedisCluster fixture), and a way to start more. */
interface ServersShape {
  readonly nodes: ReadonlyArray<RedisServer.RedisServerHandle>
  /** Starts another node that lives as long as the fixture. */
  readonly spawn: (options?: { readonly clusterEnabled?: boolean }) => Effect.Effect<RedisServer.RedisServerHandle, RedisServer.ServerError>
  readonly password: string | undefined
}

const makeServers = (count: number, password?: string) =>
  Effect.gen(function*() {
    const scope = yield* Effect.scope
    const spawn = (options: { readonly clusterEnabled?: boolean } = {}) =>
      RedisServer.make({
        ...(password === undefined ? {} : { password }),
        extraArgs: options.clusterEnabled === false ? [] : [
          "--cluster-enabled", "yes",
          // Relative to --dir, which is the server's own directory.
          "--cluster-config-file", "nodes.conf",
          "--cluster-node-timeout", "2000",
          "--repl-diskless-sync-delay", "0"
        ]
      }).pipe(Scope.provide(scope))
    const nodes = yield* Effect.forEach(Array.from({ length: count }), () => spawn(), { concurrency: "unbounded" })
    return { nodes, spawn, password } satisfies ServersShape
  })

class Six extends Context.Service<Six, ServersShape>()("test/cluster-admin/Six") {}
class Secured extends Context.Service<Secured, ServersShape>()("test/cluster-admin/Secured") {}
class Loose extends Context.Service<Loose, ServersShape>()("test/cluster-admin/Loose") {}
const PASSWORD = "admin-test-secret"

const addressOf = (server: RedisServer.RedisServerHandle) => `127.0.0.1:${server.port}`

// -----------------------------------------------------------------------------
// the oracle: redis-cli --cluster check
// -----------------------------------------------------------------------------

interface CliCheck {
  readonly ok: boolean
  readonly output: string
}

const redisCliCheck = (address: string, password?: string): Effect.Effect<CliCheck> =>
  Effect.callback<CliCheck>((resume) => {
    ChildProcess.execFile(
      "redis-cli",
      ["--no-auth-warning", "--cluster", "check", address],
      { env: { ...process.env, ...(password === undefined ? {} : { REDISCLI_AUTH: password }) }, timeout: 30_000 },
      (_error, stdout, stderr) => {
        // redis-cli colours its report even into a pipe.
        const output = `${stdout}${stderr}`.replace(/\x1b\[[0-9;]*m/g, "")
        const ok = /\[OK\] All 16384 slots covered/.test(output) && !/\[(ERR|WARNING)\]/.test(output)
        resume(Effect.succeed({ ok, output }))
      }
    )
  })

/** redis-cli check right after a change can catch a view still spreading by gossip: allow a few seconds. */
const expectCliOk = (address: string, password?: string) =>
  Effect.gen(function*() {
    let last: CliCheck | undefined
    for (let i = 0; i < 20; i++) {
      last = yield* redisCliCheck(address, password)
      if (last.ok) return last
      yield* Effect.sleep("250 millis")
    }
    assert.fail(`redis-cli --cluster check reports problems:\n${last?.output}`)
  })

// -----------------------------------------------------------------------------
// helpers
// -----------------------------------------------------------------------------

const failure = <A>(exit: Exit.Exit<A, RedisError.RedisError>): RedisError.RedisError => {
  if (Exit.isSuccess(exit)) return assert.fail("expected a failure, got a success")
  const reason = exit.cause.reasons.find((r) => r._tag === "Fail") as { readonly error: RedisError.RedisError } | undefined
  return reason === undefined ? assert.fail(`expected a typed failure, got ${String(exit.cause)}`) : reason.error
}

const withinThreshold = (report: ClusterAdmin.CheckReport, threshold: number) => {
  const expected = Math.floor(16384 / report.primaries.length)
  return report.primaries.every((p) => p.slots > 0 && Math.abs(100 - (100 * expected) / p.slots) <= threshold)
}

// A load of unique appends (and reads) through the Cluster client, half of
// it on keys in `hot` slots, recording what was acknowledged and every error
// a caller saw.
const workload = (redis: Redis.RedisShape, workers: number, hot: ReadonlySet<number>) => {
  const hotTags: Array<number> = []
  const coldTags: Array<number> = []
  for (let tag = 0; hotTags.length < 128 || coldTags.length < 128; tag++) {
    const slot = ClusterSlot.keyslot(`{${tag}}`)
    if (hot.has(slot)) {
      if (hotTags.length < 128) hotTags.push(tag)
    } else if (coldTags.length < 128) coldTags.push(tag)
  }
  const acked = new Set<string>()
  const errors: Record<string, number> = {}
  let stop = false
  const run = Effect.all(
    Array.from({ length: workers }, (_, w) =>
      Effect.gen(function*() {
        for (let seq = 0; !stop; seq++) {
          const tags = seq % 2 === 0 ? hotTags : coldTags
          const key = `log:{${tags[(w * 31 + seq) % tags.length]}}`
          const value = `${w}:${seq}`
          const exit = yield* Effect.exit(redis.rpush(key, [value]))
          if (Exit.isSuccess(exit)) acked.add(`${key}|${value}`)
          else {
            const e = failure(exit)
            const k = `${e.reason._tag}/${e.outcome}`
            errors[k] = (errors[k] ?? 0) + 1
            yield* Effect.sleep("10 millis")
          }
          if (seq % 4 === 0) {
            const read = yield* Effect.exit(redis.lrange(key, 0, 0))
            if (Exit.isFailure(read)) {
              const e = failure(read)
              const k = `read:${e.reason._tag}/${e.outcome}`
              errors[k] = (errors[k] ?? 0) + 1
            }
          }
        }
      })
    ),
    { concurrency: "unbounded", discard: true }
  )
  return {
    acked,
    errors,
    start: Effect.forkChild(run),
    stop: () => {
      stop = true
    }
  }
}

const verify = (redis: Redis.RedisShape, acked: ReadonlySet<string>) =>
  Effect.gen(function*() {
    const keys = new Set([...acked].map((a) => a.split("|")[0]!))
    const stored = new Map<string, number>()
    for (const key of keys) {
      for (const item of yield* redis.lrange(key, 0, -1)) {
        stored.set(`${key}|${item}`, (stored.get(`${key}|${item}`) ?? 0) + 1)
      }
    }
    return {
      lost: [...acked].filter((a) => !stored.has(a)).length,
      duplicates: [...stored.values()].filter((n) => n > 1).length
    }
  })

// -----------------------------------------------------------------------------
// pure planning
// -----------------------------------------------------------------------------

describe("ClusterAdmin planning (pure)", () => {
  it("splits the slots like redis-cli create", () => {
    assert.deepStrictEqual(ClusterAdmin.splitSlots(3), [[0, 5460], [5461, 10922], [10923, 16383]])
    const four = ClusterAdmin.splitSlots(4)
    assert.strictEqual(four[3]![1], 16383)
    assert.strictEqual(four.reduce((n, [a, b]) => n + b - a + 1, 0), 16384)
  })

  it("plans a rebalance onto an empty primary and nothing within the threshold", () => {
    const plan = ClusterAdmin.planRebalance([
      { id: "a", slots: 5461, weight: 1 },
      { id: "b", slots: 5462, weight: 1 },
      { id: "c", slots: 5461, weight: 1 },
      { id: "d", slots: 0, weight: 1 }
    ], 2)
    assert.isTrue(plan.needed)
    assert.strictEqual(plan.transfers.filter((t) => t.to === "d").reduce((n, t) => n + t.count, 0), 4096)
    assert.isFalse(ClusterAdmin.planRebalance([
      { id: "a", slots: 5461, weight: 1 },
      { id: "b", slots: 5462, weight: 1 },
      { id: "c", slots: 5461, weight: 1 }
    ], 2).needed)
  })

  it("parses CLUSTER NODES with open slots", () => {
    const [a] = ClusterAdmin.parseClusterNodes(
      "07c3 127.0.0.1:30004@40004,host.example myself,master - 0 1426238316232 2 connected 0-10 12 [13->-292f] [14-<-e7d1]\n"
    )
    assert.deepStrictEqual(a!.slots, [[0, 10], [12, 12]])
    assert.deepStrictEqual(a!.migrating, [{ slot: 13, to: "292f" }])
    assert.deepStrictEqual(a!.importing, [{ slot: 14, from: "e7d1" }])
    assert.strictEqual(a!.hostname, "host.example")
    assert.isTrue(a!.myself)
  })
})

// -----------------------------------------------------------------------------
// one cluster, grown step by step
// -----------------------------------------------------------------------------

describe("ClusterAdmin on a cluster built from six empty servers", () => {
  it.layer(Layer.effect(Six)(makeServers(6)), { excludeTestServices: true })("lifecycle", (it) => {
    it.effect("create: 3 primaries x 1 replica; redis-cli check passes; the report matches", () =>
      Effect.gen(function*() {
        const { nodes } = yield* Six
        const started = Date.now()
        const report = yield* ClusterAdmin.create({ nodes: nodes.map(addressOf), replicasPerPrimary: 1 })
        console.log(`create 3x1: ${Date.now() - started} ms`)
        assert.isTrue(report.ok, report.problems.map((p) => p.message).join("; "))
        assert.deepStrictEqual(report.primaries.map((p) => p.slots).sort(), [5461, 5461, 5462])
        assert.deepStrictEqual(report.primaries.map((p) => p.replicas.length), [1, 1, 1])
        assert.deepStrictEqual(
          report.primaries.map((p) => p.address).sort(),
          nodes.slice(0, 3).map(addressOf).sort()
        )
        assert.strictEqual(report.coveredSlots, 16384)
        yield* expectCliOk(addressOf(nodes[0]!))
        for (const node of nodes) assert.strictEqual((yield* node.info("cluster")).cluster_enabled, "1")
        for (const node of nodes.slice(3)) assert.strictEqual((yield* node.info("replication")).role, "slave")
      }).pipe(Effect.provide(NodeTransport.layer)), { timeout: 90_000 })

    it.effect("check reports an open slot and an uncovered slot, as redis-cli does; checkOrFail fails typed", () =>
      Effect.gen(function*() {
        const { nodes } = yield* Six
        const seed = addressOf(nodes[0]!)
        const before = yield* ClusterAdmin.checkOrFail(seed)
        const [p0, p1] = before.primaries
        const owner = nodes.find((n) => addressOf(n) === p0!.address)!
        const slot = p0!.ranges[0]![0]

        // An open slot: MIGRATING on its owner.
        yield* owner.cli("CLUSTER", "SETSLOT", String(slot), "MIGRATING", p1!.id)
        const open = yield* ClusterAdmin.check(seed)
        const problem = open.problems.find((p) => p._tag === "OpenSlot")
        assert.isDefined(problem, JSON.stringify(open.problems))
        assert.include(problem!.message, `slot ${slot}`)
        assert.isFalse(open.ok)
        const cli = yield* redisCliCheck(seed)
        assert.isFalse(cli.ok)
        assert.match(cli.output, /migrating state/)
        const refused = failure(yield* Effect.exit(ClusterAdmin.checkOrFail(seed)))
        assert.strictEqual(refused.reason._tag, "ClusterCheckFailed")
        assert.strictEqual(refused.isRetryable, false)
        // reshard refuses to work on it.
        const noReshard = failure(yield* Effect.exit(ClusterAdmin.reshard({ node: seed, to: p1!.id, slots: 1 })))
        assert.strictEqual(noReshard.reason._tag, "ClusterCheckFailed")
        yield* owner.cli("CLUSTER", "SETSLOT", String(slot), "STABLE")

        // An uncovered slot: every primary forgets who owns it.
        const last = p0!.ranges[p0!.ranges.length - 1]![1]
        const primaryServers = nodes.filter((n) => before.primaries.some((p) => p.address === addressOf(n)))
        assert.strictEqual(primaryServers.length, 3)
        for (const node of primaryServers) yield* node.cli("CLUSTER", "DELSLOTS", String(last))
        const uncovered = yield* ClusterAdmin.check(seed)
        const hole = uncovered.problems.find((p) => p._tag === "UncoveredSlots")
        assert.isDefined(hole, JSON.stringify(uncovered.problems))
        assert.strictEqual(hole!._tag === "UncoveredSlots" ? hole!.count : 0, 1)
        assert.strictEqual(uncovered.coveredSlots, 16383)
        const cliHole = yield* redisCliCheck(seed)
        assert.match(cliHole.output, /Not all 16384 slots are covered/)

        // Put it back and wait until both checks are clean again.
        yield* owner.cli("CLUSTER", "ADDSLOTS", String(last))
        let healed = false
        for (let i = 0; i < 100 && !healed; i++) {
          healed = (yield* ClusterAdmin.check(seed)).ok
          if (!healed) yield* Effect.sleep("100 millis")
        }
        assert.isTrue(healed, "the cluster healed after ADDSLOTS")
        yield* expectCliOk(seed)
      }).pipe(Effect.provide(NodeTransport.layer)), { timeout: 60_000 })

    it.effect("reshard 300 slots under 30 writers: no caller error, every acknowledged write readable, keys moved", () =>
      Effect.gen(function*() {
        const { nodes } = yield* Six
        const seed = addressOf(nodes[0]!)
        const before = yield* ClusterAdmin.checkOrFail(seed)
        const [from, to] = before.primaries
        // The slots reshard will take: the source's lowest 300.
        const moving = new Set(from!.ranges.flatMap(([a, b]) => Array.from({ length: b - a + 1 }, (_, i) => a + i)).slice(0, 300))
        const { redis } = yield* Cluster.make({ nodes: [seed] })
        // Keys already in the moving slots, so MIGRATE has work to do.
        let preloaded = 0
        for (let tag = 0; preloaded < 2000; tag++) {
          if (!moving.has(ClusterSlot.keyslot(`pre:{${tag}}`))) continue
          yield* redis.set(`pre:{${tag}}`, `v${tag}`)
          preloaded++
        }
        const load = workload(redis, 30, moving)
        const fiber = yield* load.start
        yield* Effect.sleep("300 millis")
        const started = Date.now()
        const result = yield* ClusterAdmin.reshard({ node: seed, from: from!.id, to: to!.id, slots: 300, pipeline: 10 })
        const took = Date.now() - started
        yield* Effect.sleep("300 millis")
        load.stop()
        yield* Fiber.join(fiber)
        const outcome = yield* verify(redis, load.acked)
        // The redirects the servers sent prove the load went through the moving slots.
        let redirects = 0
        for (const node of nodes) {
          const stats = yield* node.info("errorstats")
          for (const code of ["ASK", "MOVED", "TRYAGAIN"]) redirects += Number(/count=(\d+)/.exec(stats[`errorstat_${code}`] ?? "")?.[1] ?? 0)
        }
        console.log(
          `reshard of ${result.moves.length} slots (${result.keys} keys) in ${took} ms under load: acked ${load.acked.size}, redirects ${redirects}, errors`,
          load.errors,
          outcome
        )
        assert.isAbove(redirects, 0)
        assert.strictEqual(result.moves.length, 300)
        assert.deepStrictEqual(new Set(result.moves.map((m) => m.slot)), moving)
        assert.isAtLeast(result.keys, preloaded)
        assert.deepStrictEqual(load.errors, {})
        assert.strictEqual(outcome.lost, 0)
        assert.strictEqual(outcome.duplicates, 0)
        assert.isAbove(load.acked.size, 200)
        const after = yield* ClusterAdmin.checkOrFail(seed)
        assert.strictEqual(after.primaries.find((p) => p.id === to!.id)!.slots, to!.slots + 300)
        assert.strictEqual(after.primaries.find((p) => p.id === from!.id)!.slots, from!.slots - 300)
        // The preloaded keys are readable through the client and live on the target.
        const target = nodes.find((n) => addressOf(n) === to!.address)!
        let tag = 0
        while (!moving.has(ClusterSlot.keyslot(`pre:{${tag}}`))) tag++
        assert.strictEqual(yield* target.cli("GET", `pre:{${tag}}`), `v${tag}`)
        yield* expectCliOk(seed)
      }).pipe(Effect.scoped, Effect.provide(NodeTransport.layer)), { timeout: 180_000 })

    it.effect("addNode of an empty primary, then rebalance with useEmptyPrimaries: every primary within 2%", () =>
      Effect.gen(function*() {
        const { nodes, spawn } = yield* Six
        const seed = addressOf(nodes[0]!)
        const fresh = yield* spawn()
        const added = yield* ClusterAdmin.addNode({ node: addressOf(fresh), existing: seed })
        assert.strictEqual(added.role, "primary")
        const withEmpty = yield* ClusterAdmin.checkOrFail(seed)
        assert.strictEqual(withEmpty.primaries.length, 4)
        assert.strictEqual(withEmpty.primaries.find((p) => p.id === added.id)!.slots, 0)
        yield* expectCliOk(seed)

        // Without useEmptyPrimaries the empty one takes no part.
        const ignored = yield* ClusterAdmin.rebalance({ node: seed, simulate: true })
        assert.isFalse(ignored.transfers.some((t) => t.to === added.id))

        const started = Date.now()
        const result = yield* ClusterAdmin.rebalance({ node: seed, useEmptyPrimaries: true })
        console.log(
          `rebalance onto an empty primary: ${result.moves.length} slots, ${
            result.moves.reduce((n, m) => n + m.keys, 0)
          } keys in ${Date.now() - started} ms; transfers`,
          result.transfers.map((t) => `${t.from.slice(0, 6)}->${t.to.slice(0, 6)}:${t.count}`)
        )
        assert.isTrue(result.needed)
        const after = yield* ClusterAdmin.checkOrFail(seed)
        console.log("slots per primary after rebalance:", after.primaries.map((p) => p.slots))
        assert.isTrue(withinThreshold(after, 2), JSON.stringify(after.primaries.map((p) => p.slots)))
        yield* expectCliOk(seed)
        const again = yield* ClusterAdmin.rebalance({ node: seed, useEmptyPrimaries: true })
        assert.isFalse(again.needed)
        assert.strictEqual(again.moves.length, 0)
        // Weights: twice the weight, twice the target (simulated: nothing moves).
        const weighted = yield* ClusterAdmin.rebalance({ node: seed, weights: { [added.id]: 2 }, simulate: true })
        assert.isTrue(weighted.needed)
        assert.strictEqual(weighted.expected.get(added.id), Math.floor((16384 / 5) * 2))
        assert.strictEqual(weighted.moves.length, 0)
        // What the others give above their floored target (redis-cli hands the rounding surplus to receivers).
        assert.strictEqual(
          weighted.transfers.filter((t) => t.to === added.id).reduce((n, t) => n + t.count, 0),
          3 * (4096 - Math.floor(16384 / 5))
        )
        assert.strictEqual((yield* ClusterAdmin.checkOrFail(seed)).primaries.find((p) => p.id === added.id)!.slots, 4096)
      }).pipe(Effect.provide(NodeTransport.layer)), { timeout: 180_000 })

    it.effect("addNode as a replica; removeNode of that replica, of an empty primary; a primary with slots is refused", () =>
      Effect.gen(function*() {
        const { nodes, spawn } = yield* Six
        const seed = addressOf(nodes[0]!)
        const before = yield* ClusterAdmin.checkOrFail(seed)
        const primary = before.primaries.find((p) => p.replicas.length === 0) ?? before.primaries[0]!

        // A replica.
        const replicaServer = yield* spawn()
        const replica = yield* ClusterAdmin.addNode({ node: addressOf(replicaServer), existing: seed, replicaOf: primary.id })
        assert.strictEqual(replica.role, "replica")
        assert.strictEqual(replica.primaryId, primary.id)
        const withReplica = yield* ClusterAdmin.checkOrFail(seed)
        assert.isTrue(withReplica.primaries.find((p) => p.id === primary.id)!.replicas.some((r) => r.id === replica.id))
        assert.strictEqual((yield* replicaServer.info("replication")).role, "slave")
        yield* expectCliOk(seed)

        // A primary that owns slots is refused, and nothing changes.
        const owner = before.primaries.find((p) => p.slots > 0 && p.address !== seed)!
        const refused = failure(yield* Effect.exit(ClusterAdmin.removeNode({ node: owner.address, existing: seed })))
        assert.strictEqual(refused.reason._tag, "InvalidArgument")
        assert.include(refused.message, "still owns")
        assert.strictEqual((yield* ClusterAdmin.checkOrFail(seed)).nodes.length, withReplica.nodes.length)
        // Nor can the node named as `existing` remove itself.
        const itself = failure(yield* Effect.exit(ClusterAdmin.removeNode({ node: seed, existing: seed })))
        assert.strictEqual(itself.reason._tag, "InvalidArgument")

        // The replica goes; the process stays up, reset to a lone node.
        const removed = yield* ClusterAdmin.removeNode({ node: replica.address, existing: seed })
        assert.strictEqual(removed.id, replica.id)
        const noReplica = yield* ClusterAdmin.checkOrFail(seed)
        assert.isFalse(noReplica.nodes.some((n) => n.id === replica.id))
        assert.isTrue(yield* replicaServer.isAlive)
        assert.strictEqual((yield* replicaServer.info("cluster")).cluster_enabled, "1")
        assert.strictEqual((yield* replicaServer.cli("CLUSTER", "INFO")).includes("cluster_known_nodes:1"), true)
        yield* expectCliOk(seed)

        // An empty primary goes too (by id).
        const emptyServer = yield* spawn()
        const empty = yield* ClusterAdmin.addNode({ node: addressOf(emptyServer), existing: seed })
        yield* ClusterAdmin.removeNode({ node: empty.id, existing: seed })
        const final = yield* ClusterAdmin.checkOrFail(seed)
        assert.isFalse(final.nodes.some((n) => n.id === empty.id))
        assert.isTrue(yield* emptyServer.isAlive)
        assert.include(yield* emptyServer.cli("CLUSTER", "INFO"), "cluster_known_nodes:1")
        yield* expectCliOk(seed)

        // Gossip must not bring the removed nodes back (checked a while later).
        yield* Effect.sleep("3 seconds")
        const later = yield* ClusterAdmin.checkOrFail(seed)
        assert.isFalse(later.nodes.some((n) => n.id === empty.id || n.id === replica.id))
      }).pipe(Effect.provide(NodeTransport.layer)), { timeout: 120_000 })
  })
})

// -----------------------------------------------------------------------------
// a cluster with a password: MIGRATE with AUTH, BUSYKEY, wrong credentials
// -----------------------------------------------------------------------------

describe("ClusterAdmin with a password", () => {
  it.layer(Layer.effect(Secured)(makeServers(3, PASSWORD)), { excludeTestServices: true })("secured", (it) => {
    const connection = { password: PASSWORD }

    it.effect("create without replicas, then reshard with keys (MIGRATE ... AUTH); redis-cli check passes", () =>
      Effect.gen(function*() {
        const { nodes } = yield* Secured
        const seed = addressOf(nodes[0]!)
        // Through the service, with the credentials bound once.
        const admin = yield* ClusterAdmin.make({ connection })
        const report = yield* admin.create({ nodes: nodes.map(addressOf) })
        assert.isTrue(report.ok)
        assert.strictEqual(report.primaries.length, 3)
        yield* expectCliOk(seed, PASSWORD)
        const [a, b] = report.primaries
        const source = nodes.find((n) => addressOf(n) === a!.address)!
        const slot = a!.ranges[0]![0]
        // Keys in one slot, written straight to its owner.
        const keys: Array<string> = []
        for (let i = 0; keys.length < 25; i++) if (ClusterSlot.keyslot(`auth:${i}`) === slot) keys.push(`auth:${i}`)
        for (const k of keys) yield* source.cli("SET", k, k)
        const result = yield* admin.reshard({ node: seed, to: b!.id, slots: [slot], pipeline: 7 })
        assert.strictEqual(result.keys, 25)
        const target = nodes.find((n) => addressOf(n) === b!.address)!
        assert.strictEqual(yield* target.cli("GET", keys[0]!), keys[0]!)
        assert.strictEqual(yield* source.cli("DBSIZE"), "0")
        yield* expectCliOk(seed, PASSWORD)
      }).pipe(Effect.provide(NodeTransport.layer)), { timeout: 90_000 })

    it.effect("BUSYKEY: a different value on the target stops the move; the same value or replace goes through", () =>
      Effect.gen(function*() {
        const { nodes } = yield* Secured
        const seed = addressOf(nodes[0]!)
        const report = yield* ClusterAdmin.checkOrFail(seed, { connection })
        const [a, b] = report.primaries
        const source = nodes.find((n) => addressOf(n) === a!.address)!
        const target = nodes.find((n) => addressOf(n) === b!.address)!
        const slot = a!.ranges[a!.ranges.length - 1]![1]
        let i = 0
        while (ClusterSlot.keyslot(`busy:${i}`) !== slot) i++
        const key = `busy:${i}`
        yield* source.cli("SET", key, "source-value")
        // Plant a key on the target in a slot it does not own: IMPORTING + ASKING, then close the slot again.
        const plant = (value: string) =>
          Effect.gen(function*() {
            yield* target.cli("CLUSTER", "SETSLOT", String(slot), "IMPORTING", a!.id)
            yield* Effect.callback<void>((resume) => {
              const child = ChildProcess.spawn("redis-cli", ["-p", String(target.port), "--no-auth-warning"], {
                env: { ...process.env, REDISCLI_AUTH: PASSWORD }
              })
              child.on("close", () => resume(Effect.void))
              child.stdin.end(`ASKING\nSET ${key} ${value}\n`)
            })
            yield* target.cli("CLUSTER", "SETSLOT", String(slot), "STABLE")
          })

        yield* plant("target-value")
        const busy = failure(yield* Effect.exit(ClusterAdmin.reshard({ node: seed, to: b!.id, slots: [slot], connection })))
        assert.strictEqual(busy.reason._tag, "ReplyError")
        assert.include(busy.message, "BUSYKEY")
        assert.include(busy.message, key)
        assert.strictEqual(busy.outcome, "Rejected")
        // The slot stays open (the safe state) and check says so.
        const open = yield* ClusterAdmin.check(seed, { connection })
        assert.isTrue(open.problems.some((p) => p._tag === "OpenSlot" && p.slot === slot), JSON.stringify(open.problems))
        assert.strictEqual(yield* source.cli("GET", key), "source-value")
        // Close it by hand (what `fix` would do) and go again with the same value on both sides.
        yield* target.cli("CLUSTER", "SETSLOT", String(slot), "STABLE")
        yield* source.cli("CLUSTER", "SETSLOT", String(slot), "STABLE")
        yield* plant("source-value")
        const same = yield* ClusterAdmin.reshard({ node: seed, to: b!.id, slots: [slot], connection })
        assert.strictEqual(same.moves.length, 1)
        yield* expectCliOk(seed, PASSWORD)

        // Back again, then a different value with replace: the source's wins.
        yield* ClusterAdmin.reshard({ node: seed, to: a!.id, slots: [slot], connection })
        yield* plant("stale-value")
        const replaced = yield* ClusterAdmin.reshard({ node: seed, to: b!.id, slots: [slot], connection, replace: true })
        assert.strictEqual(replaced.moves.length, 1)
        assert.strictEqual(yield* target.cli("GET", key), "source-value")
        yield* expectCliOk(seed, PASSWORD)
      }).pipe(Effect.provide(NodeTransport.layer)), { timeout: 90_000 })

    it.effect("a wrong password, or none, is an AuthError naming the node", () =>
      Effect.gen(function*() {
        const { nodes } = yield* Secured
        const seed = addressOf(nodes[0]!)
        const wrong = failure(yield* Effect.exit(ClusterAdmin.check(seed, { connection: { password: "not-it" } })))
        assert.strictEqual(wrong.reason._tag, "AuthError")
        assert.include(wrong.message, seed)
        assert.notInclude(wrong.message, "not-it")
        const none = failure(yield* Effect.exit(ClusterAdmin.check(seed)))
        assert.strictEqual(none.reason._tag, "AuthError")
      }).pipe(Effect.provide(NodeTransport.layer)))

    it.effect("check reports a killed primary as failed and the cluster as down", () =>
      Effect.gen(function*() {
        const { nodes } = yield* Secured
        const seed = addressOf(nodes[0]!)
        const victim = nodes[2]!
        yield* victim.kill
        let report: ClusterAdmin.CheckReport | undefined
        const started = Date.now()
        for (let i = 0; i < 150; i++) {
          report = yield* ClusterAdmin.check(seed, { connection })
          if (report.problems.some((p) => p._tag === "FailedNode" && p.flag === "fail")) break
          yield* Effect.sleep("100 millis")
        }
        console.log(`failure of ${addressOf(victim)} reported after ${Date.now() - started} ms:`, report!.problems.map((p) => p.message))
        const failed = report!.problems.find((p) => p._tag === "FailedNode")
        assert.isDefined(failed)
        assert.strictEqual(failed!._tag === "FailedNode" ? failed!.address : "", addressOf(victim))
        assert.isTrue(report!.problems.some((p) => p._tag === "ClusterStateNotOk"))
        const refused = failure(yield* Effect.exit(ClusterAdmin.checkOrFail(seed, { connection })))
        assert.strictEqual(refused.reason._tag, "ClusterCheckFailed")
        assert.isFalse((yield* redisCliCheck(seed, PASSWORD)).ok)
      }).pipe(Effect.provide(NodeTransport.layer)), { timeout: 60_000 })
  })
})

// -----------------------------------------------------------------------------
// refused input
// -----------------------------------------------------------------------------

describe("ClusterAdmin refuses bad input with typed errors", () => {
  it.layer(Layer.effect(Loose)(makeServers(3)), { excludeTestServices: true })("loose servers", (it) => {
    it.effect("an unreachable node is a ConnectionError naming it", () =>
      Effect.gen(function*() {
        const error = failure(yield* Effect.exit(ClusterAdmin.check("127.0.0.1:1")))
        assert.strictEqual(error.reason._tag, "ConnectionError")
        assert.include(error.message, "127.0.0.1:1")
        const created = failure(
          yield* Effect.exit(ClusterAdmin.create({ nodes: ["127.0.0.1:1", "127.0.0.1:2", "127.0.0.1:3"] }))
        )
        assert.strictEqual(created.reason._tag, "ConnectionError")
      }).pipe(Effect.provide(NodeTransport.layer)))

    it.effect("create refuses a node with keys, a node in a cluster, a non-cluster server, too few primaries; nothing changes", () =>
      Effect.gen(function*() {
        const { nodes, spawn } = yield* Loose
        const addresses = nodes.map(addressOf)
        const tooFew = failure(yield* Effect.exit(ClusterAdmin.create({ nodes: addresses, replicasPerPrimary: 1 })))
        assert.strictEqual(tooFew.reason._tag, "InvalidArgument")
        assert.include(tooFew.message, "at least 3 primaries")

        const dirty = yield* spawn()
        // A lone cluster node serves no slot, so SET would be refused: DEBUG POPULATE writes anyway.
        yield* dirty.cli("DEBUG", "POPULATE", "3")
        const notEmpty = failure(
          yield* Effect.exit(ClusterAdmin.create({ nodes: [...addresses.slice(0, 2), addressOf(dirty)] }))
        )
        assert.strictEqual(notEmpty.reason._tag, "InvalidArgument")
        assert.include(notEmpty.message, addressOf(dirty))
        assert.include(notEmpty.message, "keys")
        // Nothing was assigned anywhere.
        for (const node of nodes) assert.strictEqual((yield* node.info("cluster")).cluster_enabled, "1")
        for (const node of nodes) assert.include(yield* node.cli("CLUSTER", "INFO"), "cluster_slots_assigned:0")

        const standalone = yield* spawn({ clusterEnabled: false })
        const plain = failure(
          yield* Effect.exit(ClusterAdmin.create({ nodes: [...addresses.slice(0, 2), addressOf(standalone)] }))
        )
        assert.strictEqual(plain.reason._tag, "InvalidArgument")
        assert.include(plain.message, "not cluster-enabled")

        // Two of them meet: they are in a cluster now.
        yield* nodes[1]!.cli("CLUSTER", "MEET", "127.0.0.1", String(nodes[2]!.port))
        const member = yield* spawn()
        let joined = false
        for (let i = 0; i < 50 && !joined; i++) {
          joined = (yield* nodes[1]!.cli("CLUSTER", "INFO")).includes("cluster_known_nodes:2")
          if (!joined) yield* Effect.sleep("100 millis")
        }
        const inCluster = failure(
          yield* Effect.exit(ClusterAdmin.create({ nodes: [addresses[0]!, addresses[1]!, addressOf(member)] }))
        )
        assert.strictEqual(inCluster.reason._tag, "InvalidArgument")
        assert.include(inCluster.message, "part of a cluster")

        const badAddress = failure(yield* Effect.exit(ClusterAdmin.create({ nodes: ["nonsense", "a:b", "c"] })))
        assert.strictEqual(badAddress.reason._tag, "InvalidArgument")
      }).pipe(Effect.provide(NodeTransport.layer)))

    it.effect("create that cannot converge within its timeout fails with Timeout, saying what was missing", () =>
      Effect.gen(function*() {
        const { spawn } = yield* Loose
        const fresh = yield* Effect.forEach([1, 2, 3], () => spawn(), { concurrency: "unbounded" })
        // Gossip needs at least one cluster cron tick (100 ms) to spread: 0 ms cannot be met.
        const late = failure(yield* Effect.exit(ClusterAdmin.create({ nodes: fresh.map(addressOf), timeout: 0 })))
        assert.strictEqual(late.reason._tag, "Timeout")
        assert.strictEqual(late.outcome, "Unknown")
        assert.include(late.message, "does not know")
      }).pipe(Effect.provide(NodeTransport.layer)))
  })
})
