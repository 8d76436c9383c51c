/**
 * The cluster client at scale: a 100-node Redis Cluster on loopback (50
 * primaries x 1 replica, `maxmemory 16mb` each) and what the NodeCluster
 * client costs and does on it. Not part of `npm test`: it takes several
 * minutes and most of a 2-core machine (docs/SCALE.md has the figures).
 *
 * Run:
 *
 *   node bench/cluster-scale.ts
 *   node bench/cluster-scale.ts --phases start,refresh --no-peers
 *   node bench/cluster-scale.ts --primaries 50 --replicas 1 --node-timeout 2000 --writers 50 \
 *     --reshard-primaries 10 --reshard-slots 1000 --json /tmp/cluster-scale.json
 *
 * It creates the cluster with `RedisCluster.make` from `@redis-effect/testing`
 * (timed: starting the nodes, `redis-cli --cluster create` and the settle
 * wait), then runs the phases (`--phases`, default all four):
 *
 * - `start`: from `Layer.build(NodeCluster.layer({ nodes: [one seed] }))` to
 *   the first acknowledged command, three times with a fresh client; the
 *   client's heap and RSS after it (after a forced GC) and after one command
 *   on every primary, and the same for ten clients at once, divided by ten
 *   (one client is within the noise); the commands and connections the
 *   nodes saw (`INFO commandstats` and `INFO stats` deltas summed over every
 *   node). The same for ioredis' and node-redis' cluster clients unless
 *   `--no-peers`.
 * - `refresh`: how a topology refresh is made (`ClusterTopology`: a round of
 *   `sampleSize` = 3 nodes picked at random, each on a short-lived connection
 *   with its handshake, `CLUSTER SHARDS`), what one costs on the nodes
 *   (command and connection deltas over 20 refreshes, minus an idle
 *   baseline of the same length), the size of the `CLUSTER SHARDS` reply at
 *   this size (RESP3, as the client reads it, and RESP2) and the client's CPU
 *   to decode and parse it; the same three-node round made with raw sockets
 *   (to tell the client's time from the nodes'); and what asking every node
 *   would cost.
 * - `kill`, `--kills` (default 3) times: `--writers` (default 50)
 *   unique-append writers (W1 of docs/GUARANTEES.md) over 1024 keys; one
 *   primary is SIGKILLed (its `kill`; one raw `CLUSTER NODES` poll every
 *   100 ms timestamps the promotion, so that the harness does not compete
 *   with the client for CPU in the measured window); caller errors by
 *   reason, split into writes in flight on the killed shard at the kill,
 *   writes to the killed shard started after it, and writes to other
 *   shards; recovery time; lost and duplicated writes. The killed node is
 *   restarted afterwards and rejoins as a replica.
 * - `reshard`: the same load over 4096 keys while `--reshard-slots` (1000)
 *   slots move across `--reshard-primaries` (10) primaries: each of the
 *   first five gives 200 slots to one of the other five, in moves of 100,
 *   each a `redis-cli --cluster reshard` (MIGRATE in batches of 10 keys);
 *   caller errors (should be 0), lost, duplicates, the MOVED/ASK/TRYAGAIN
 *   replies and `CLUSTER SHARDS` calls the nodes counted meanwhile, and any
 *   failover the cluster made by itself. The moves run redis-cli directly,
 *   one process at a time, and settle once at the end: the fixture's
 *   `reshard` settles after every move by polling every node with three
 *   redis-cli processes at once (300 per poll, 8.7 s a round at this size),
 *   and two of three runs with it stopped at a failed move, one of them
 *   because primaries had failed over by themselves mid-reshard ("Please
 *   use SETSLOT only with masters"); `--fixture-reshard` uses it anyway.
 *
 * Every process (the nodes, `redis-cli`) lives in an Effect scope and is
 * stopped when the script ends, whether it succeeded or not.
 */
import * as NodeCluster from "@redis-effect/node/NodeCluster"
import * as Cluster from "@redis-effect/redis/Cluster"
import * as ClusterSlot from "@redis-effect/redis/ClusterSlot"
import * as ClusterView from "@redis-effect/redis/ClusterView"
import * as Redis from "@redis-effect/redis/Redis"
import * as RedisError from "@redis-effect/redis/RedisError"
import * as Resp from "@redis-effect/redis/Resp"
import * as RedisCluster from "@redis-effect/testing/RedisCluster"
import * as Cause from "effect/Cause"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"
import * as Layer from "effect/Layer"
import * as Scope from "effect/Scope"
import { Cluster as IORedisCluster } from "ioredis"
import * as ChildProcess from "node:child_process"
import * as Fs from "node:fs"
import * as Net from "node:net"
import * as Os from "node:os"
import * as V8 from "node:v8"
import * as Vm from "node:vm"
import { createCluster } from "redis"
import { parseArgs, rawCommands } from "./common.ts"

const args = parseArgs(process.argv.slice(2))
const PRIMARIES = Number(args.get("primaries") ?? 50)
const REPLICAS = Number(args.get("replicas") ?? 1)
const NODE_TIMEOUT = Number(args.get("node-timeout") ?? 2000)
const MAXMEMORY = args.get("maxmemory") ?? "16mb"
const WRITERS = Number(args.get("writers") ?? 50)
const RESHARD_PRIMARIES = Number(args.get("reshard-primaries") ?? 10)
const RESHARD_SLOTS = Number(args.get("reshard-slots") ?? 1000)
const PHASES = new Set((args.get("phases") ?? "start,refresh,kill,reshard").split(","))
const PEERS = !args.has("no-peers")
/** Move slots with the fixture's `reshard` (settle wait after each move) instead of redis-cli directly. */
const FIXTURE_RESHARD = args.has("fixture-reshard")
const KILLS = Number(args.get("kills") ?? 3)
const STARTS = 3
const REFRESHES = 20
const REFRESH_GAP_MILLIS = 200

const now = (): number => performance.now()
const ms = (from: number, to: number = now()) => Math.round(to - from)
const median = (xs: ReadonlyArray<number>) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]
const round1 = (x: number) => Math.round(x * 10) / 10
/** Median, 90th percentile and maximum, in tenths. */
const spread = (xs: ReadonlyArray<number>) => {
  const sorted = [...xs].sort((a, b) => a - b)
  return { median: round1(median(sorted)), p90: round1(sorted[Math.floor(sorted.length * 0.9)]), max: round1(sorted.at(-1)!) }
}

// A forced GC before each memory reading, without asking for `--expose-gc`.
V8.setFlagsFromString("--expose-gc")
const gc = Vm.runInNewContext("gc") as () => void

interface Memory {
  readonly heapUsed: number
  readonly rss: number
  readonly external: number
}
const memory = (): Memory => {
  gc()
  gc()
  const m = process.memoryUsage()
  return { heapUsed: m.heapUsed, rss: m.rss, external: m.external }
}
const mib = (bytes: number) => Math.round((bytes / 1048576) * 10) / 10
const memoryDelta = (a: Memory, b: Memory) => ({
  heapMiB: mib(b.heapUsed - a.heapUsed),
  rssMiB: mib(b.rss - a.rss),
  externalMiB: mib(b.external - a.external)
})

// -----------------------------------------------------------------------------
// what the nodes counted: INFO commandstats / stats / errorstats, summed
// -----------------------------------------------------------------------------

type Counters = Map<string, number>

const bulk = (reply: Buffer) => reply.toString("utf8", reply.indexOf("\r\n") + 2, reply.length - 2)

/** `cmd:<name>` calls, `err:<code>` counts and `connections`, summed over the live nodes. */
const counters = (cluster: RedisCluster.RedisClusterHandle): Effect.Effect<Counters> =>
  Effect.gen(function*() {
    const live = yield* Effect.filter(cluster.nodes, (n) => n.isAlive)
    const replies = yield* Effect.forEach(
      live,
      (n) =>
        Effect.promise(() =>
          rawCommands(n.port, [["INFO", "commandstats"], ["INFO", "stats"], ["INFO", "errorstats"]]).catch(() => [])
        ),
      { concurrency: "unbounded" }
    )
    const out: Counters = new Map()
    const add = (k: string, v: number) => out.set(k, (out.get(k) ?? 0) + v)
    for (const reply of replies) {
      if (reply.length < 3) continue
      for (const line of bulk(reply[0]).split("\r\n")) {
        const m = /^cmdstat_([^:]+):calls=(\d+)/.exec(line)
        if (m !== null) add(`cmd:${m[1]}`, Number(m[2]))
      }
      const connections = /total_connections_received:(\d+)/.exec(bulk(reply[1]))
      if (connections !== null) add("connections", Number(connections[1]))
      for (const line of bulk(reply[2]).split("\r\n")) {
        const m = /^errorstat_([^:]+):count=(\d+)/.exec(line)
        if (m !== null) add(`err:${m[1]}`, Number(m[2]))
      }
    }
    return out
  })

/**
 * `after - before`, without what the measuring itself and replication
 * cause: INFO and REPLCONF calls, and the one connection per node of the
 * `after` reading.
 */
const delta = (before: Counters, after: Counters, nodes: number): Record<string, number> => {
  const out: Record<string, number> = {}
  for (const [k, v] of after) {
    if (k === "cmd:info" || k === "cmd:replconf") continue
    const d = v - (before.get(k) ?? 0) - (k === "connections" ? nodes : 0)
    if (d !== 0) out[k] = d
  }
  return out
}

const liveCount = (cluster: RedisCluster.RedisClusterHandle) =>
  Effect.map(Effect.filter(cluster.nodes, (n) => n.isAlive), (l) => l.length)

// -----------------------------------------------------------------------------
// raw RESP3 exchanges, to size the topology replies
// -----------------------------------------------------------------------------

interface Exchanged {
  readonly value: Resp.RespValue
  /** Bytes of this reply on the wire. */
  readonly bytes: number
  /** The reply's own bytes. */
  readonly raw: Buffer
}

/** Writes the commands on a fresh connection and decodes every reply with the client's decoder. */
const exchange = (port: number, commands: ReadonlyArray<ReadonlyArray<string>>): Promise<Array<Exchanged>> =>
  new Promise((resolve, reject) => {
    const socket = Net.connect({ host: "127.0.0.1", port })
    const decoder = new Resp.Decoder()
    const out: Array<Exchanged> = []
    const chunks: Array<Buffer> = []
    let fed = 0
    let consumed = 0
    socket.on("error", reject)
    socket.on("connect", () => {
      for (const c of commands) socket.write(Resp.encodeCommand(c))
    })
    socket.on("data", (chunk: Buffer) => {
      chunks.push(chunk)
      decoder.feed(chunk)
      fed += chunk.length
      for (;;) {
        const value = decoder.next(false)
        if (value === Resp.Incomplete) break
        const end = fed - decoder.buffered
        const all = Buffer.concat(chunks)
        out.push({ value, bytes: end - consumed, raw: all.subarray(all.length - (fed - consumed), all.length - (fed - end)) })
        consumed = end
        if (out.length === commands.length) {
          socket.end()
          resolve(out)
          return
        }
      }
    })
  })

// -----------------------------------------------------------------------------
// W1 over the cluster
// -----------------------------------------------------------------------------

interface Op {
  readonly key: string
  readonly slot: number
  readonly value: string
  readonly start: number
  end: number
  /** undefined while in flight, "ok", or `<reason>/<outcome>`. */
  outcome: string | undefined
}

interface Load {
  readonly history: Array<Op>
  readonly keys: ReadonlyArray<string>
  readonly stop: () => void
  readonly fiber: Fiber.Fiber<void>
}

const startLoad = (redis: Redis.RedisShape, prefix: string, tags: number) =>
  Effect.gen(function*() {
    const keys = Array.from({ length: tags }, (_, i) => `${prefix}:{${i}}`)
    const slots = keys.map((k) => ClusterSlot.keyslot(k))
    const history: Array<Op> = []
    let stopped = false
    const fiber = yield* Effect.forkChild(Effect.forEach(
      Array.from({ length: WRITERS }, (_, w) => w),
      (w) =>
        Effect.gen(function*() {
          for (let seq = 0; !stopped; seq++) {
            const k = (w * 7919 + seq) % tags
            const op: Op = { key: keys[k], slot: slots[k], value: `${w}:${seq}`, start: now(), end: 0, outcome: undefined }
            history.push(op)
            const exit = yield* Effect.exit(redis.rpush(op.key, op.value))
            op.end = now()
            if (Exit.isSuccess(exit)) op.outcome = "ok"
            else {
              const e = RedisError.failureOf(exit)
              op.outcome = RedisError.isRedisError(e) ? `${e.reason._tag}/${e.outcome}` : "defect"
              yield* Effect.sleep("10 millis")
            }
          }
        }),
      { concurrency: "unbounded", discard: true }
    ))
    return { history, keys, stop: () => (stopped = true), fiber } satisfies Load
  })

/** Stops the load, waits for the writers (bounded), reads every list back and checks it. */
const finishLoad = (redis: Redis.RedisShape, load: Load) =>
  Effect.gen(function*() {
    load.stop()
    const joined = yield* Effect.timeoutOption(Fiber.join(load.fiber), 30_000)
    if (joined._tag === "None") yield* Fiber.interrupt(load.fiber)
    const present = new Map<string, number>()
    const lists = yield* Effect.forEach(load.keys, (k) => Effect.map(redis.lrange(k, 0, -1), (vs) => [k, vs] as const), {
      concurrency: 50
    })
    for (const [k, vs] of lists) for (const v of vs) present.set(`${k}|${v}`, (present.get(`${k}|${v}`) ?? 0) + 1)
    const acked = load.history.filter((o) => o.outcome === "ok")
    const lost = acked.filter((o) => !present.has(`${o.key}|${o.value}`))
    const errors: Record<string, number> = {}
    for (const o of load.history) if (o.outcome !== undefined && o.outcome !== "ok") errors[o.outcome] = (errors[o.outcome] ?? 0) + 1
    return {
      writes: load.history.length,
      acked: acked.length,
      lost,
      duplicates: [...present.values()].filter((n) => n > 1).length,
      unsettled: load.history.filter((o) => o.outcome === undefined).length,
      errors
    }
  })

// -----------------------------------------------------------------------------
// phases
// -----------------------------------------------------------------------------

const clusterLayer = (seed: number) => NodeCluster.layer({ nodes: [`127.0.0.1:${seed}`] })

/** One command on every primary: opens the client's connection to each. */
const touchAllPrimaries = (set: (key: string) => Promise<unknown> | Effect.Effect<unknown, unknown>) => {
  // One key per 64-slot stride covers every primary of a 50-way split.
  const keys = Array.from({ length: 2048 }, (_, i) => `scale:touch:{${i}}`)
  return Effect.forEach(keys, (k) => {
    const r = set(k)
    return Effect.isEffect(r) ? Effect.ignore(r) : Effect.promise(() => Promise.resolve(r).catch(() => undefined))
  }, { concurrency: 50, discard: true })
}

const startPhase = (cluster: RedisCluster.RedisClusterHandle) =>
  Effect.gen(function*() {
    const seed = cluster.startupNodes[0].port
    const nodes = yield* liveCount(cluster)
    const runs: Array<Record<string, unknown>> = []
    for (let i = 0; i < STARTS; i++) {
      const result = yield* Effect.scoped(Effect.gen(function*() {
        const m0 = memory()
        const c0 = yield* counters(cluster)
        const t0 = now()
        const context = yield* Layer.build(clusterLayer(seed))
        const built = now()
        const redis = Context.get(context, Redis.Redis)
        yield* redis.set("scale:first", "1")
        const first = now()
        const m1 = memory()
        const c1 = yield* counters(cluster)
        yield* touchAllPrimaries((k) => redis.set(k, "1"))
        const m2 = memory()
        return {
          layerMs: ms(t0, built),
          firstCommandMs: ms(t0, first),
          memoryAfterFirst: memoryDelta(m0, m1),
          memoryAfterAllPrimaries: memoryDelta(m0, m2),
          startupOnNodes: delta(c0, c1, nodes)
        }
      }))
      runs.push(result)
      console.log(`  redis-effect start ${i + 1}: ${JSON.stringify(result)}`)
    }
    // One client's memory is within the noise of a GC'd heap: ten at once, divided.
    const tenClients = yield* Effect.scoped(Effect.gen(function*() {
      const m0 = memory()
      for (let i = 0; i < 10; i++) {
        const context = yield* Layer.build(clusterLayer(seed))
        const redis = Context.get(context, Redis.Redis)
        yield* touchAllPrimaries((k) => redis.set(k, "1"))
      }
      const d = memoryDelta(m0, memory())
      const tenth = (x: number) => Math.round(x * 10) / 100
      return { heapMiB: tenth(d.heapMiB), rssMiB: tenth(d.rssMiB), externalMiB: tenth(d.externalMiB) }
    }))
    console.log(`  redis-effect memory per client, 10 clients connected to every primary: ${JSON.stringify(tenClients)}`)
    const peers: Record<string, unknown> = {}
    if (PEERS) {
      peers.ioredis = yield* Effect.scoped(Effect.gen(function*() {
        const m0 = memory()
        const c0 = yield* counters(cluster)
        const t0 = now()
        const client = yield* Effect.acquireRelease(
          Effect.sync(() => new IORedisCluster([{ host: "127.0.0.1", port: seed }])),
          (c) => Effect.sync(() => c.disconnect())
        )
        client.on("error", () => undefined)
        yield* Effect.promise(() => client.set("scale:first", "1"))
        const first = now()
        const m1 = memory()
        const c1 = yield* counters(cluster)
        yield* touchAllPrimaries((k) => client.set(k, "1"))
        const m2 = memory()
        return {
          firstCommandMs: ms(t0, first),
          memoryAfterFirst: memoryDelta(m0, m1),
          memoryAfterAllPrimaries: memoryDelta(m0, m2),
          startupOnNodes: delta(c0, c1, nodes)
        }
      }))
      console.log(`  ioredis start: ${JSON.stringify(peers.ioredis)}`)
      peers["node-redis"] = yield* Effect.scoped(Effect.gen(function*() {
        const m0 = memory()
        const c0 = yield* counters(cluster)
        const t0 = now()
        const client = yield* Effect.acquireRelease(
          Effect.sync(() => {
            const c = createCluster({ rootNodes: [{ socket: { host: "127.0.0.1", port: seed } }] })
            c.on("error", () => undefined)
            return c
          }),
          (c) => Effect.sync(() => c.destroy())
        )
        yield* Effect.promise(() => client.connect())
        yield* Effect.promise(() => client.set("scale:first", "1"))
        const first = now()
        const m1 = memory()
        const c1 = yield* counters(cluster)
        yield* touchAllPrimaries((k) => client.set(k, "1"))
        const m2 = memory()
        return {
          firstCommandMs: ms(t0, first),
          memoryAfterFirst: memoryDelta(m0, m1),
          memoryAfterAllPrimaries: memoryDelta(m0, m2),
          startupOnNodes: delta(c0, c1, nodes)
        }
      }))
      console.log(`  node-redis start: ${JSON.stringify(peers["node-redis"])}`)
    }
    return { runs, medianFirstCommandMs: median(runs.map((r) => r.firstCommandMs as number)), memoryPerClientOf10: tenClients, peers }
  })

const refreshPhase = (cluster: RedisCluster.RedisClusterHandle, client: Cluster.ClusterShape) =>
  Effect.gen(function*() {
    const seed = cluster.startupNodes[0].port
    const nodes = yield* liveCount(cluster)

    // The reply, as the client reads it (RESP3 after HELLO 3) and in RESP2.
    const [hello, shards3] = yield* Effect.promise(() => exchange(seed, [["HELLO", "3"], ["CLUSTER", "SHARDS"]]))
    const [shards2, slots2] = yield* Effect.promise(() => exchange(seed, [["CLUSTER", "SHARDS"], ["CLUSTER", "SLOTS"]]))
    const [nodesReply] = yield* Effect.promise(() => exchange(seed, [["CLUSTER", "NODES"]]))
    const origin = { host: "127.0.0.1", port: seed }
    // Decoding and parsing one reply, as `ClusterNodes.query` does.
    const rounds = 200
    const decodeStart = now()
    let view: ClusterView.View | undefined
    for (let i = 0; i < rounds; i++) {
      const d = new Resp.Decoder()
      d.feed(shards3.raw)
      const v = d.next(false)
      if (v === Resp.Incomplete) throw new Error("CLUSTER SHARDS reply incomplete")
      view = ClusterView.parseClusterShards(v, origin)
    }
    const decodeParseMicros = Math.round(((now() - decodeStart) * 1000) / rounds)
    // What `install` does with a view that changed: signature and slot table.
    const installStart = now()
    for (let i = 0; i < rounds; i++) {
      ClusterView.signature(view!)
      ClusterView.slotTable(view!)
    }
    const installMicros = Math.round(((now() - installStart) * 1000) / rounds)

    // An idle baseline as long as the refreshes take, then the refreshes.
    const b0 = yield* counters(cluster)
    yield* Effect.sleep(REFRESHES * REFRESH_GAP_MILLIS)
    const b1 = yield* counters(cluster)
    const times: Array<number> = []
    const c0 = yield* counters(cluster)
    for (let i = 0; i < REFRESHES; i++) {
      yield* Effect.sleep(REFRESH_GAP_MILLIS)
      const t = now()
      yield* client.refresh
      times.push(now() - t)
    }
    const c1 = yield* counters(cluster)
    // The same round without the client: three random nodes, HELLO 3 and
    // CLUSTER SHARDS on fresh connections, concurrently. Slow client refreshes
    // with fast raw rounds would point at the client.
    const live = yield* Effect.filter(cluster.nodes, (n) => n.isAlive)
    const rawTimes: Array<number> = []
    for (let i = 0; i < REFRESHES; i++) {
      yield* Effect.sleep(REFRESH_GAP_MILLIS)
      const sample = [...live].sort(() => Math.random() - 0.5).slice(0, 3)
      const t = now()
      yield* Effect.promise(() => Promise.all(sample.map((n) => exchange(n.port, [["HELLO", "3"], ["CLUSTER", "SHARDS"]]))))
      rawTimes.push(now() - t)
    }
    const baseline = delta(b0, b1, nodes)
    const during = delta(c0, c1, nodes)
    const perRefresh: Record<string, number> = {}
    for (const k of new Set([...Object.keys(during), ...Object.keys(baseline)])) {
      // PING: primaries ping their replicas through replication (about 50 in 4 s here).
      if (k === "cmd:ping") continue
      const v = ((during[k] ?? 0) - (baseline[k] ?? 0)) / REFRESHES
      if (Math.abs(v) >= 0.05) perRefresh[k] = Math.round(v * 100) / 100
    }

    // For comparison: every node asked at once (HELLO 3 + CLUSTER SHARDS on a fresh connection each).
    const allStart = now()
    const all = yield* Effect.promise(() =>
      Promise.all(live.map((n) => exchange(n.port, [["HELLO", "3"], ["CLUSTER", "SHARDS"]])))
    )
    const askAllMs = ms(allStart)
    const askAllBytes = all.reduce((s, [h, r]) => s + h.bytes + r.bytes, 0)

    return {
      how: "ClusterTopology.reader: candidates = every node of the current view + the seeds, shuffled; rounds of sampleSize = 3 " +
        "(Cluster.make does not expose it), concurrently, each on a fresh connection (handshake, CLUSTER SHARDS, close); " +
        "the first round with an acceptable view wins by consensus",
      replyBytes: {
        helloResp3: hello.bytes,
        clusterShardsResp3: shards3.bytes,
        clusterShardsResp2: shards2.bytes,
        clusterSlotsResp2: slots2.bytes,
        clusterNodes: nodesReply.bytes
      },
      decodeAndParseMicros: decodeParseMicros,
      signatureAndSlotTableMicros: installMicros,
      refreshMs: spread(times),
      refreshEachMs: times.map(Math.round),
      rawThreeNodeRoundMs: spread(rawTimes),
      perRefreshOnNodes: perRefresh,
      idleBaseline: baseline,
      askEveryNode: { nodes: live.length, ms: askAllMs, bytes: askAllBytes }
    }
  })

/** The primary that owns every one of `slots` in the view of the node on `port`, by raw CLUSTER NODES. */
const ownerOf = (port: number, slots: ReadonlyArray<number>) =>
  Effect.promise(() =>
    rawCommands(port, [["CLUSTER", "NODES"]]).then(
      ([reply]) => {
        const entries = RedisCluster.parseClusterNodes(bulk(reply))
        return entries.find((e) =>
          e.flags.includes("master") && !e.flags.includes("fail") &&
          slots.every((s) => e.slots.some(([a, b]) => s >= a && s <= b))
        )
      },
      () => undefined
    )
  )

const killOnce = (cluster: RedisCluster.RedisClusterHandle, redis: Redis.RedisShape, round: number) =>
  Effect.gen(function*() {
    const primaries = yield* cluster.primaries
    const victim = primaries[primaries.length - 1 - round]
    const entry = (yield* cluster.clusterNodes()).find((e) => e.id === victim.id)!
    const victimSlots = new Set<number>()
    for (const [a, b] of entry.slots) for (let s = a; s <= b; s++) victimSlots.add(s)
    const replicas = yield* cluster.replicasOf(victim)
    const survivor = cluster.startupNodes.find((n) => n.port !== victim.port && !replicas.some((r) => r.port === n.port))!
    const sample = [...victimSlots].slice(0, 1)

    const load = yield* startLoad(redis, `kill${round}`, 1024)
    yield* Effect.sleep("1 second")
    const killAt = now()
    yield* victim.kill
    const killed = now()
    console.log(`  killed 127.0.0.1:${victim.port} (${victimSlots.size} slots) after ${ms(killAt, killed)} ms`)

    // The server's failover, timestamped by one light poll.
    let promotedAt: number | undefined
    let recoveredAt: number | undefined
    const deadline = killAt + 60_000
    while (now() < deadline) {
      if (promotedAt === undefined) {
        const owner = yield* ownerOf(survivor.port, sample)
        if (owner !== undefined && owner.id !== victim.id) promotedAt = now()
      }
      if (recoveredAt === undefined) {
        const ok = load.history.find((o) => o.start >= killed && o.outcome === "ok" && victimSlots.has(o.slot))
        if (ok !== undefined) recoveredAt = ok.end
      }
      if (promotedAt !== undefined && recoveredAt !== undefined && now() > Math.max(promotedAt, recoveredAt) + 2000) break
      yield* Effect.sleep("100 millis")
    }
    const checked = yield* finishLoad(redis, load)

    const classes: Record<string, Record<string, number>> = {
      inFlightOnKilledShard: {},
      startedAfterKillOnKilledShard: {},
      otherShards: {}
    }
    let lastError = 0
    for (const o of load.history) {
      if (o.outcome === undefined || o.outcome === "ok") continue
      lastError = Math.max(lastError, o.end)
      const cls = !victimSlots.has(o.slot)
        ? classes.otherShards
        : o.start < killed
        ? classes.inFlightOnKilledShard
        : classes.startedAfterKillOnKilledShard
      cls[o.outcome] = (cls[o.outcome] ?? 0) + 1
    }
    // Acknowledged by the killed primary just before the kill and never
    // replicated: the server's loss (asynchronous replication).
    const lostServer = checked.lost.filter((o) => victimSlots.has(o.slot) && o.end <= killed).length
    // Acks per second around the kill.
    const timeline: Array<number> = []
    for (let s = -1; s < 10; s++) {
      timeline.push(load.history.filter((o) => o.outcome === "ok" && o.end >= killAt + s * 1000 && o.end < killAt + (s + 1) * 1000).length)
    }

    const restartStart = now()
    yield* cluster.restartNode(victim)
    const restartMs = ms(restartStart)
    return {
      killed: `127.0.0.1:${victim.port}`,
      killedSlots: victimSlots.size,
      promotionMs: promotedAt === undefined ? undefined : ms(killAt, promotedAt),
      firstAckOnKilledShardMs: recoveredAt === undefined ? undefined : ms(killAt, recoveredAt),
      lastCallerErrorMs: lastError === 0 ? undefined : ms(killAt, lastError),
      writes: checked.writes,
      acked: checked.acked,
      errors: classes,
      lostAcked: checked.lost.length,
      lostAckedServer: lostServer,
      lostAckedClient: checked.lost.length - lostServer,
      duplicates: checked.duplicates,
      unsettled: checked.unsettled,
      acksPerSecondFromMinus1s: timeline,
      restartAndRejoinMs: restartMs
    }
  })

const killPhase = (cluster: RedisCluster.RedisClusterHandle, redis: Redis.RedisShape) =>
  Effect.gen(function*() {
    const rounds: Array<Record<string, unknown>> = []
    for (let i = 0; i < KILLS; i++) {
      const r = yield* killOnce(cluster, redis, i)
      console.log(`  kill ${i + 1}: ${JSON.stringify(r)}`)
      rounds.push(r)
    }
    return rounds
  })

/** `CLUSTER NODES` of the node on `port`, parsed, by a raw connection (no redis-cli process). */
const viewOf = (port: number) =>
  Effect.promise(() => rawCommands(port, [["CLUSTER", "NODES"]]).then(([r]) => RedisCluster.parseClusterNodes(bulk(r))))

const isPrimaryEntry = (e: RedisCluster.ClusterNodesEntry) => e.flags.includes("master") && !e.flags.includes("fail")

const slotsOf = (e: RedisCluster.ClusterNodesEntry | undefined): Set<number> => {
  const out = new Set<number>()
  for (const [a, b] of e?.slots ?? []) for (let x = a; x <= b; x++) out.add(x)
  return out
}

/**
 * `redis-cli <argv>` as a child of this process, killed if the fiber is
 * interrupted or after `timeoutMillis`; its exit code and output.
 */
const redisCli = (argv: ReadonlyArray<string>, timeoutMillis: number) =>
  Effect.callback<{ readonly code: number | null; readonly output: string }>((resume, signal) => {
    const child = ChildProcess.spawn("redis-cli", argv, { stdio: ["ignore", "pipe", "pipe"], signal, timeout: timeoutMillis })
    let output = ""
    child.stdout.on("data", (d) => (output += d))
    child.stderr.on("data", (d) => (output += d))
    child.on("error", (e) => {
      if (!signal.aborted) resume(Effect.succeed({ code: -1, output: output + String(e) }))
    })
    child.on("close", (code) => {
      if (!signal.aborted) resume(Effect.succeed({ code, output: output.replace(/\x1b\[[0-9;]*m/g, "") }))
    })
  })

/**
 * One move of `count` slots from the primary `fromId` to `toId`, by
 * `redis-cli --cluster reshard` run directly: one process, and no settle
 * wait after it (the fixture's `reshard` polls every node with three
 * redis-cli processes at once, 300 processes per poll here). Ids are
 * resolved again first: a primary that was failed over meanwhile is replaced
 * by the node that took its place. A failed move is followed by
 * `redis-cli --cluster fix` (it closes slots left open) and one more try.
 */
const moveSlots = (cluster: RedisCluster.RedisClusterHandle, fromId: string, toId: string, count: number) =>
  Effect.gen(function*() {
    const seed = (yield* Effect.filter(cluster.nodes, (n) => n.isAlive))[0]
    const failures: Array<string> = []
    for (let attempt = 1; attempt <= 2; attempt++) {
      const view = yield* viewOf(seed.port)
      const current = (id: string) => {
        const e = view.find((x) => x.id === id)
        return e === undefined || isPrimaryEntry(e) ? e : view.find((x) => x.id === e.primaryId)
      }
      const from = current(fromId)
      const to = current(toId)
      if (from === undefined || to === undefined) return { moved: [] as Array<number>, failures: [...failures, "a primary is unknown"] }
      const before = slotsOf(to)
      const run = yield* redisCli([
        "--cluster", "reshard", `127.0.0.1:${from.port}`,
        "--cluster-from", from.id,
        "--cluster-to", to.id,
        "--cluster-slots", String(count),
        "--cluster-yes",
        "--cluster-pipeline", "10"
      ], 300_000)
      const after = slotsOf((yield* viewOf(to.port)).find((x) => x.id === to.id))
      const moved = [...after].filter((x) => !before.has(x))
      if (run.code === 0) return { moved, failures, from: from.port, to: to.port }
      const tail = run.output.trim().split("\n").slice(-2).join(" | ")
      failures.push(`${from.port} -> ${to.port}: ${tail}`)
      console.log(`  redis-cli --cluster reshard ${from.port} -> ${to.port} failed (${moved.length} slots moved): ${tail}; fix, then again`)
      const fix = yield* redisCli(["--cluster", "fix", `127.0.0.1:${seed.port}`, "--cluster-yes"], 300_000)
      if (fix.code !== 0) failures.push(`fix: ${fix.output.trim().split("\n").slice(-1)[0]}`)
      if (attempt === 2) return { moved, failures, from: from.port, to: to.port }
    }
    return { moved: [] as Array<number>, failures }
  })

const reshardPhase = (cluster: RedisCluster.RedisClusterHandle, redis: Redis.RedisShape) =>
  Effect.gen(function*() {
    const nodes = yield* liveCount(cluster)
    // What one settle poll of the fixture costs here (every node probed
    // with three redis-cli calls at once), before the load starts.
    const settleStart = now()
    yield* cluster.awaitSettled
    const settleRoundMs = ms(settleStart)

    // Half of the primaries give, the other half receive: every slot moves
    // once (a ring would move the slots a primary just received again), in
    // moves of at most 100 slots.
    const seed = (yield* Effect.filter(cluster.nodes, (n) => n.isAlive))[0]
    const view0 = yield* viewOf(seed.port)
    const primaries = view0.filter((e) => isPrimaryEntry(e) && e.slots.length > 0)
      .sort((a, b) => a.slots[0][0] - b.slots[0][0])
      .slice(0, RESHARD_PRIMARIES)
    const pairs = Math.floor(primaries.length / 2)
    const movesPerPair = Math.max(1, Math.ceil(RESHARD_SLOTS / pairs / 100))
    const perMove = Math.round(RESHARD_SLOTS / pairs / movesPerPair)
    const primaryIds = (v: ReadonlyArray<RedisCluster.ClusterNodesEntry>) =>
      new Set(v.filter((e) => isPrimaryEntry(e) && e.slots.length > 0).map((e) => e.id))
    const ids0 = primaryIds(view0)

    const load = yield* startLoad(redis, "rs", 4096)
    yield* Effect.sleep("1 second")
    const c0 = yield* counters(cluster)
    const started = now()
    const moves: Array<{ from: number | undefined; to: number | undefined; slots: number; ms: number }> = []
    const moved = new Set<number>()
    const harnessFailures: Array<string> = []
    for (let round = 0; round < movesPerPair; round++) {
      for (let i = 0; i < pairs; i++) {
        const t = now()
        const r = yield* (FIXTURE_RESHARD
          ? Effect.gen(function*() {
            const byId = (id: string) => cluster.nodes.find((n) => n.id === id)!
            const exit = yield* Effect.exit(
              cluster.reshard({ from: byId(primaries[i].id), to: byId(primaries[pairs + i].id), count: perMove, pipeline: 10 })
            )
            return Exit.isSuccess(exit)
              ? { moved: [...exit.value], failures: [] as Array<string>, from: primaries[i].port, to: primaries[pairs + i].port }
              : { moved: [] as Array<number>, failures: [Cause.pretty(exit.cause).slice(-400)] }
          })
          : moveSlots(cluster, primaries[i].id, primaries[pairs + i].id, perMove))
        for (const x of r.moved) moved.add(x)
        harnessFailures.push(...r.failures)
        moves.push({ from: r.from, to: r.to, slots: r.moved.length, ms: ms(t) })
        console.log(`  reshard ${moves.length}: ${r.from} -> ${r.to}, ${r.moved.length} slots in ${ms(t)} ms`)
      }
    }
    const tookMs = ms(started)
    yield* Effect.sleep("500 millis")
    const c1 = yield* counters(cluster)
    const checked = yield* finishLoad(redis, load)
    const during = delta(c0, c1, nodes)
    const keysInMovedSlots = load.keys.filter((k) => moved.has(ClusterSlot.keyslot(k))).length
    // Primaries that changed without anyone asking: failovers the cluster
    // decided by itself (a node too starved of CPU to answer in time).
    const ids1 = primaryIds(yield* viewOf(seed.port))
    const spontaneousFailovers = [...ids0].filter((id) => !ids1.has(id)).length
    const settledAfter = yield* Effect.exit(Effect.andThen(cluster.awaitSettled, cluster.check))
    return {
      driver: FIXTURE_RESHARD ? "fixture reshard" : "redis-cli --cluster reshard, one process, no settle between moves",
      settleRoundMs,
      moves,
      slotsMoved: moves.reduce((a, m) => a + m.slots, 0),
      distinctSlotsMoved: moved.size,
      loadKeysInMovedSlots: keysInMovedSlots,
      tookMs,
      harnessFailures,
      spontaneousFailovers,
      checkAfter: Exit.isSuccess(settledAfter) ? "ok" : Cause.pretty(settledAfter.cause).slice(-300),
      writes: checked.writes,
      acked: checked.acked,
      callerErrors: checked.errors,
      lost: checked.lost.length,
      duplicates: checked.duplicates,
      unsettled: checked.unsettled,
      onNodes: {
        MOVED: during["err:MOVED"] ?? 0,
        ASK: during["err:ASK"] ?? 0,
        TRYAGAIN: during["err:TRYAGAIN"] ?? 0,
        clusterShardsCalls: during["cmd:cluster|shards"] ?? 0,
        asking: during["cmd:asking"] ?? 0,
        connections: during.connections ?? 0
      }
    }
  })

// -----------------------------------------------------------------------------
// main
// -----------------------------------------------------------------------------

/**
 * `RedisCluster.make`, again (up to six attempts, 2 s apart) when a node
 * could not bind its port or its bus port (port + 10000): on a busy machine
 * an outgoing connection can take a port between the fixture's probe and the
 * node's bind, and with 200 ports the odds add up (1 to 3 failed attempts
 * per run here). A failed attempt's nodes are stopped before the next.
 */
const makeCluster = Effect.gen(function*() {
  const outer = yield* Effect.scope
  for (let attempt = 1;; attempt++) {
    const scope = yield* Scope.fork(outer, "sequential")
    const started = now()
    const exit = yield* Effect.exit(RedisCluster.make({
      primaries: PRIMARIES,
      replicasPerPrimary: REPLICAS,
      nodeTimeoutMillis: NODE_TIMEOUT,
      extraArgs: ["--maxmemory", MAXMEMORY, "--maxmemory-policy", "noeviction"],
      readyTimeoutMillis: 180_000
    }).pipe(Scope.provide(scope)))
    if (Exit.isSuccess(exit)) return { cluster: exit.value, attempts: attempt, lastAttemptMs: ms(started) }
    yield* Scope.close(scope, exit)
    const why = Cause.pretty(exit.cause)
    if (attempt >= 6 || !/already in use/.test(why)) return yield* Effect.failCause(exit.cause)
    console.log(`  creating the cluster, attempt ${attempt}: a port was taken meanwhile; again in 2 s`)
    yield* Effect.sleep("2 seconds")
  }
})

const program = Effect.gen(function*() {
  const started = now()
  const nodeCount = PRIMARIES * (1 + REPLICAS)
  console.log(
    `cluster-scale: ${PRIMARIES} primaries x ${REPLICAS} replica(s) = ${nodeCount} nodes, maxmemory ${MAXMEMORY}, ` +
      `cluster-node-timeout ${NODE_TIMEOUT} ms; phases ${[...PHASES].join(",")}; ${Os.cpus().length} CPUs, ` +
      `${mib(Os.totalmem())} MiB, Node ${process.version}, load average ${Os.loadavg().map((l) => l.toFixed(2)).join(" ")}`
  )
  const report: Record<string, unknown> = {
    date: new Date().toISOString(),
    machine: { cpus: Os.cpus().length, model: Os.cpus()[0]?.model, memMiB: mib(Os.totalmem()), node: process.version },
    options: { PRIMARIES, REPLICAS, NODE_TIMEOUT, MAXMEMORY, WRITERS, KILLS, RESHARD_PRIMARIES, RESHARD_SLOTS }
  }

  const t0 = now()
  const { attempts, cluster, lastAttemptMs } = yield* makeCluster
  const createMs = ms(t0)
  const serverMemory = yield* Effect.forEach(cluster.nodes, (n) => Effect.map(n.info("memory"), (i) => Number(i.used_memory_rss)), {
    concurrency: 10
  })
  report.create = {
    ms: lastAttemptMs,
    attempts,
    withFailedAttemptsMs: createMs,
    nodes: cluster.nodes.length,
    nodeRssMiB: { median: mib(median(serverMemory)), total: mib(serverMemory.reduce((a, b) => a + b, 0)) }
  }
  console.log(`created in ${createMs} ms: ${JSON.stringify(report.create)}`)

  if (PHASES.has("start")) {
    console.log("\nstart")
    report.start = yield* startPhase(cluster)
  }

  // One client for the remaining phases.
  const scope = yield* Effect.scope
  const context = yield* Layer.build(clusterLayer(cluster.startupNodes[0].port)).pipe(Scope.provide(scope))
  const redis = Context.get(context, Redis.Redis)
  const client = Context.get(context, Cluster.Cluster)

  if (PHASES.has("refresh")) {
    console.log("\nrefresh")
    report.refresh = yield* refreshPhase(cluster, client)
    console.log(JSON.stringify(report.refresh, null, 2))
  }
  if (PHASES.has("kill")) {
    console.log("\nkill")
    report.kill = yield* killPhase(cluster, redis)
  }
  if (PHASES.has("reshard")) {
    console.log("\nreshard")
    report.reshard = yield* reshardPhase(cluster, redis)
    console.log(JSON.stringify(report.reshard, null, 2))
  }
  report.totalMs = ms(started)
  console.log(`\ntotal ${report.totalMs} ms (stopping ${nodeCount} nodes)`)
  if (args.has("json")) {
    const file = args.get("json")!
    yield* Effect.sync(() => Fs.writeFileSync(file, JSON.stringify(report, null, 2)))
    console.log(`wrote ${file}`)
  }
})

const t = now()
Effect.runPromise(Effect.scoped(program)).then(
  () => {
    console.log(`stopped; ${ms(t)} ms in all`)
    process.exit(0)
  },
  (e) => {
    // redis-cli reports run long: their end says what failed.
    const message = typeof e === "object" && e !== null && "message" in e ? String(e.message) : String(e)
    console.error(message.length > 4000 ? `...${message.slice(-4000)}` : message)
    process.exit(1)
  }
)
