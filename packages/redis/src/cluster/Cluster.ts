/**
 * Redis Cluster: the `Cluster` service and the layer that provides it
 * together with `Redis.Redis`, so a program written against `Redis` runs
 * unchanged on a cluster.
 *
 * Each node gets a `Pool` (a shared multiplexed connection plus dedicated
 * ones), opened on first use. A command's keys give its slot; the router
 * picks the node; the reply may be a redirect:
 *
 * - `MOVED`: the slot is patched at once, a refresh is requested, and the
 *   command goes to the new owner (it never ran, so this is always safe).
 * - `ASK`: `ASKING` and the command go to the target in one write; no patch.
 *   A transaction or blocking command refused with ASK runs once on the
 *   target, ASKING written before each of its requests (before MULTI, the
 *   flag holds for the whole transaction).
 * - `TRYAGAIN`, `CLUSTERDOWN`, `LOADING`, `MASTERDOWN`, `READONLY` and lost
 *   connections go through the retry `Schedule` — writes only when they are
 *   known not to have run or are idempotent — and request a refresh.
 *
 * Redirects have a budget (`maxRedirects`); what still fails surfaces as a
 * typed `Moved`, `Ask`, `TryAgain`, `ClusterDown`, ... reason.
 *
 * Also here: commands on target nodes (primaries, replicas, all, random,
 * one node) with per-node results and the response policies of COMMAND
 * DOCS, non-atomic multi-key commands split by slot, pipelines grouped per
 * node, and cluster-wide SCAN.
 *
 * @since 0.1.0
 */
import * as Context from "effect/Context"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as Schedule from "effect/Schedule"
import * as Scope from "effect/Scope"
import * as Stream from "effect/Stream"
import type { Command } from "../Command.ts"
import * as Cmd from "../Command.ts"
import * as ClusterRouter from "./ClusterRouter.ts"
import * as ClusterSlot from "./ClusterSlot.ts"
import * as ClusterTopology from "./ClusterTopology.ts"
import * as Commands from "../Commands.ts"
import * as Connection from "../Connection.ts"
import * as Delivery from "../Delivery.ts"
import * as View from "./ClusterView.ts"
import * as Pool from "../Pool.ts"
import * as PubSub from "../PubSub.ts"
import * as Redis from "../Redis.ts"
import * as RedisConfig from "../RedisConfig.ts"
import * as RedisError from "../RedisError.ts"
import type { Arg, RespValue } from "../Resp.ts"
import { Transport } from "../Transport.ts"

// -----------------------------------------------------------------------------
// options
// -----------------------------------------------------------------------------

/**
 * Options of a cluster client. Connection options (password, TLS,
 * credentials, timeouts, ...) apply to every node, discovered ones included.
 *
 * @category models
 * @since 0.1.0
 */
export type Options =
  & Omit<RedisConfig.ClientOptions, "database" | "path" | "endpoint">
  & Pool.PoolOptions
  & {
    /** Startup nodes: `"host:port"` strings or objects. `url` / `host` + `port` add one more. */
    readonly nodes?: ReadonlyArray<string | ClusterTopology.Address> | undefined
    /** Where reads go (default `"primary"`). */
    readonly readFrom?: ClusterRouter.ReadFrom | undefined
    /** Refuse a topology that does not cover every slot (default true). */
    readonly requireFullCoverage?: boolean | undefined
    /** Use the nodes the cluster reports for later refreshes, not only the startup list (default true). */
    readonly dynamicStartupNodes?: boolean | undefined
    /** Rewrites the addresses the cluster announces (NAT, port forwarding). */
    readonly addressRemap?:
      | ((address: ClusterTopology.Address) => ClusterTopology.Address)
      | Readonly<Record<string, string | ClusterTopology.Address>>
      | undefined
    /** Redirects (MOVED/ASK) one command may follow (default 5). */
    readonly maxRedirects?: number | undefined
    /** Retry of TRYAGAIN, CLUSTERDOWN, LOADING, lost connections (default `defaultRetry`). */
    readonly retry?: Schedule.Schedule<unknown, RedisError.RedisError> | undefined
    /** Refresh the topology every N MOVED replies as well (redis-py's `reinitialize_steps`); off by default. */
    readonly reinitializeSteps?: number | undefined
    /** Refresh the topology periodically by this schedule; off by default. */
    readonly periodicRefresh?: Schedule.Schedule<unknown> | undefined
    /** Least time between two refreshes in ms (default 100). */
    readonly minRefreshInterval?: number | undefined
  }

/**
 * The default retry of cluster commands: exponential from 25 ms with jitter,
 * capped at 1 s, at most 12 attempts (about 4 s: longer than a failover
 * with `cluster-node-timeout 2000`).
 *
 * @category defaults
 * @since 0.1.0
 */
export const defaultRetry: Schedule.Schedule<unknown, RedisError.RedisError> = Schedule.exponential("25 millis").pipe(
  Schedule.modifyDelay(({ duration }) => Effect.succeed(Duration.min(duration, Duration.seconds(1)))),
  Schedule.jittered,
  Schedule.upTo({ times: 12 }),
  Schedule.setInputType<RedisError.RedisError>()
)

// -----------------------------------------------------------------------------
// the service
// -----------------------------------------------------------------------------

/**
 * Which nodes a keyless command runs on.
 *
 * @category models
 * @since 0.1.0
 */
export type Target =
  | "primaries"
  | "replicas"
  | "all"
  | "random"
  | ClusterTopology.Address
  | ReadonlyArray<ClusterTopology.Address>

/**
 * What only a cluster has.
 *
 * @category models
 * @since 0.1.0
 */
export interface ClusterShape {
  /** The topology now. */
  readonly topology: Effect.Effect<ClusterTopology.Snapshot>
  /** Every new topology snapshot. */
  readonly changes: Stream.Stream<ClusterTopology.Snapshot>
  /** Refreshes the topology now. */
  readonly refresh: Effect.Effect<ClusterTopology.Snapshot, RedisError.RedisError>
  readonly nodes: Effect.Effect<ReadonlyArray<View.NodeInfo>>
  readonly primaries: Effect.Effect<ReadonlyArray<View.NodeInfo>>
  readonly replicas: Effect.Effect<ReadonlyArray<View.NodeInfo>>
  /** The slot of a key (CRC16 with hash tags, exactly as the server). */
  readonly keyslot: (key: Arg) => number
  /** The node that serves a key (its primary, or a replica by the read-from policy when `replica` is set). */
  readonly nodeFor: (key: Arg, options?: { readonly replica?: boolean }) => Effect.Effect<View.NodeInfo, RedisError.RedisError>
  /** A `Redis` client bound to one node (no routing, no redirects). */
  readonly node: (address: ClusterTopology.Address) => Redis.RedisShape
  /** Runs a command on target nodes; one result per node address. */
  readonly onNodes: <A>(
    target: Target,
    command: Command<A>
  ) => Effect.Effect<Map<string, Exit.Exit<A, RedisError.RedisError>>>
  /** Runs a command on target nodes and fails if any failed (all-succeeded policy). */
  readonly onAll: <A>(target: Target, command: Command<A>) => Effect.Effect<Array<A>, RedisError.RedisError>
  readonly mgetNonAtomic: (keys: ReadonlyArray<Arg>) => Effect.Effect<Array<Option.Option<string>>, RedisError.RedisError>
  readonly msetNonAtomic: (
    pairs: ReadonlyArray<readonly [Arg, Arg]> | Readonly<Record<string, Arg>>
  ) => Effect.Effect<void, RedisError.RedisError>
  readonly delNonAtomic: (keys: ReadonlyArray<Arg>) => Effect.Effect<number, RedisError.RedisError>
  readonly unlinkNonAtomic: (keys: ReadonlyArray<Arg>) => Effect.Effect<number, RedisError.RedisError>
  readonly existsNonAtomic: (keys: ReadonlyArray<Arg>) => Effect.Effect<number, RedisError.RedisError>
  readonly touchNonAtomic: (keys: ReadonlyArray<Arg>) => Effect.Effect<number, RedisError.RedisError>
  /** Every key of the cluster, primary by primary. */
  readonly scanStream: (options?: Commands.ScanOptions) => Stream.Stream<string, RedisError.RedisError>
  /** The node keyless commands go to, if one was set. */
  readonly defaultNode: Effect.Effect<Option.Option<View.NodeInfo>>
  /** Sends keyless commands to this node (`undefined`: spread them over the primaries again). */
  readonly setDefaultNode: (address: ClusterTopology.Address | undefined) => Effect.Effect<void, RedisError.RedisError>
  /** Send reads to replicas by the configured policy (or `replica` if it was `primary`). */
  readonly readonly: Effect.Effect<void>
  /** Send every read to primaries. */
  readonly readwrite: Effect.Effect<void>
}

/**
 * The Cluster service tag.
 *
 * @category services
 * @since 0.1.0
 */
export class Cluster extends Context.Service<Cluster, ClusterShape>()("@redis-effect/redis/Cluster") {}

// -----------------------------------------------------------------------------
// implementation
// -----------------------------------------------------------------------------

interface NodeEntry {
  readonly address: string
  readonly pool: Pool.Pool
  pubsub: PubSub.PubSub | undefined
}

const parseAddress = (input: string | ClusterTopology.Address): ClusterTopology.Address | undefined => {
  if (typeof input !== "string") return input
  const colon = input.lastIndexOf(":")
  if (colon <= 0) return undefined
  let host = input.slice(0, colon)
  if (host.startsWith("[") && host.endsWith("]")) host = host.slice(1, -1)
  const port = Number(input.slice(colon + 1))
  return Number.isInteger(port) && port > 0 && port < 65536 ? { host, port } : undefined
}

// Aggregation of keyless commands sent to every primary (COMMAND DOCS
// response policies of the commands whose request policy is all_shards).
// Keyed by the command's first word: this mirrors server metadata, it does
// not decide routing of keyed commands.
type Aggregate = "sum" | "concat" | "allSucceeded" | "logicalAnd" | "any"
const fanOut: Readonly<Record<string, Aggregate>> = {
  DBSIZE: "sum",
  KEYS: "concat",
  FLUSHALL: "allSucceeded",
  FLUSHDB: "allSucceeded",
  SCRIPT: "allSucceeded",
  FUNCTION: "allSucceeded",
  CONFIG: "allSucceeded",
  WAIT: "any"
}

const aggregate = (how: Aggregate, values: ReadonlyArray<unknown>): unknown => {
  switch (how) {
    case "sum":
      return values.reduce((a: number, b) => a + (b as number), 0)
    case "concat":
      return values.flatMap((v) => v as ReadonlyArray<unknown>)
    case "logicalAnd":
      return (values[0] as ReadonlyArray<boolean>).map((_, i) => values.every((v) => (v as ReadonlyArray<boolean>)[i]))
    case "allSucceeded":
    case "any":
      return values[0]
  }
}

// Reconnect to a node for as long as it belongs to the cluster (its pool is
// closed when a refresh drops it): exponential from 50 ms, capped at 1 s.
const nodeReconnect: Schedule.Schedule<unknown, RedisError.RedisError> = Schedule.exponential("50 millis").pipe(
  Schedule.modifyDelay(({ duration }) => Effect.succeed(Duration.min(duration, Duration.seconds(1)))),
  Schedule.jittered,
  Schedule.setInputType<RedisError.RedisError>(),
  Schedule.while(({ input }) => input.reason._tag !== "AuthError")
)

const ASKING = Cmd.unsafeMake("ASKING", ["ASKING"], [], Cmd.Flags.NO_KEYS, Cmd.Reply.ok)

const redirectsOf = (error: RedisError.RedisError) => error.reason._tag === "Moved" || error.reason._tag === "Ask"

/**
 * Connects to the cluster and builds the `Redis` and `Cluster` services.
 *
 * @category constructors
 * @since 0.1.0
 */
export const make = (
  options: Options
): Effect.Effect<{ readonly redis: Redis.RedisShape; readonly cluster: ClusterShape }, RedisError.RedisError, Scope.Scope | Transport> =>
  Effect.gen(function*() {
    const scope = yield* Effect.scope
    const transport = yield* Transport
    // Connection options shared by every node (the endpoint is set per node).
    const base = yield* RedisConfig.resolve(options)
    const startup: Array<ClusterTopology.Address> = []
    for (const n of options.nodes ?? []) {
      const a = parseAddress(n)
      if (a === undefined) return yield* Effect.fail(RedisError.invalidArgument(`invalid cluster node address ${String(n)}`))
      startup.push(a)
    }
    if (options.url !== undefined || options.host !== undefined || options.port !== undefined || startup.length === 0) {
      if (base.endpoint._tag === "Tcp") startup.push({ host: base.endpoint.host, port: base.endpoint.port })
    }
    const remap = options.addressRemap
    const mapAddress = (a: ClusterTopology.Address): ClusterTopology.Address => {
      if (remap === undefined) return a
      if (typeof remap === "function") return remap(a)
      const hit = remap[View.address(a)]
      if (hit === undefined) return a
      return typeof hit === "string" ? parseAddress(hit) ?? a : hit
    }
    const maxRedirects = options.maxRedirects ?? 5
    const retrySchedule = options.retry ?? defaultRetry
    const router = ClusterRouter.make(options.readFrom ?? "primary")
    const configuredReadFrom = options.readFrom ?? "primary"
    const nodeOptions = (a: ClusterTopology.Address): RedisConfig.ConnectionOptions => ({
      ...base,
      endpoint: RedisConfig.tcp(a.host, a.port),
      // A node that is down fails commands at once (NotSent) instead of
      // queueing them: the router retries them elsewhere once the topology
      // refresh has seen the failover. The connection keeps reconnecting
      // (capped backoff) for as long as the node is in the topology.
      offline: options.offline ?? { _tag: "fail" },
      reconnect: options.reconnect ?? nodeReconnect,
      // READONLY is harmless on a primary and needed on a replica; a node's
      // role changes with failovers, so every connection sends it when reads
      // may go to replicas.
      readOnly: ClusterRouter.usesReplicas(configuredReadFrom) || options.readOnly === true,
      // Replies from one node wake commands for every node: one write per
      // node per event-loop turn, not per read.
      flush: options.flush ?? "ioTurn"
    })

    // --- nodes -------------------------------------------------------------
    const nodes = new Map<string, NodeEntry>()
    const nodeScopes = new Map<string, Scope.Closeable>()
    const openNode = (a: ClusterTopology.Address): Effect.Effect<NodeEntry> =>
      Effect.suspend(() => {
        const key = View.address(a)
        const existing = nodes.get(key)
        if (existing !== undefined) return Effect.succeed(existing)
        return Effect.gen(function*() {
          const nodeScope = yield* Scope.fork(scope)
          const pool = yield* Pool.make(nodeOptions(a), options).pipe(
            Scope.provide(nodeScope),
            Effect.provideService(Transport, transport)
          )
          // Another fiber may have opened it meanwhile: keep the first.
          const raced = nodes.get(key)
          if (raced !== undefined) {
            yield* Scope.close(nodeScope, Exit.void)
            return raced
          }
          const entry: NodeEntry = { address: key, pool, pubsub: undefined }
          nodes.set(key, entry)
          nodeScopes.set(key, nodeScope)
          return entry
        })
      })

    // Topology queries use a short-lived connection: a dead startup node must
    // not leave a reconnecting pool behind.
    const query = (a: ClusterTopology.Address): Effect.Effect<View.View, RedisError.RedisError> =>
      Effect.scoped(Effect.gen(function*() {
        const connection = yield* Connection.make({
          ...nodeOptions(a),
          readOnly: false,
          offline: { _tag: "fail" },
          reconnect: Schedule.recurs(0).pipe(Schedule.setInputType<RedisError.RedisError>()),
          clientName: undefined,
          setInfo: false
        }).pipe(Effect.provideService(Transport, transport))
        yield* connection.awaitReady
        const shards = yield* Effect.exit(connection.send(Commands.raw(["CLUSTER", "SHARDS"])))
        const parse = (reply: RespValue, f: typeof View.parseClusterShards) =>
          Effect.try({
            try: () => remapView(f(reply, a)),
            catch: (e) => RedisError.make(new RedisError.ProtocolError({ message: String(e) }), "Unknown", "CLUSTER")
          })
        if (Exit.isSuccess(shards)) return yield* parse(shards.value, View.parseClusterShards)
        const slots = yield* connection.send(Commands.raw(["CLUSTER", "SLOTS"]))
        return yield* parse(slots, View.parseClusterSlots)
      }))

    const remapNode = (n: View.NodeInfo): View.NodeInfo => {
      const m = mapAddress(n)
      return m.host === n.host && m.port === n.port ? n : { ...n, host: m.host, port: m.port }
    }
    const remapView = (view: View.View): View.View =>
      remap === undefined
        ? view
        : { shards: view.shards.map((s) => ({ ...s, primary: remapNode(s.primary), replicas: s.replicas.map(remapNode) })) }

    const topology = yield* ClusterTopology.make({
      startupNodes: startup.map(mapAddress),
      query,
      requireFullCoverage: options.requireFullCoverage,
      dynamicStartupNodes: options.dynamicStartupNodes,
      minRefreshInterval: options.minRefreshInterval,
      runFork: (effect) => {
        Effect.runFork(Effect.forkIn(effect, scope))
      }
    })

    // Close the pools of nodes that left the cluster.
    yield* topology.changes.pipe(
      Stream.runForEach((snapshot) =>
        Effect.suspend(() => {
          const live = new Set<string>()
          for (const s of snapshot.view.shards) for (const n of [s.primary, ...s.replicas]) live.add(View.address(n))
          const closing: Array<Effect.Effect<void>> = []
          for (const [key, nodeScope] of nodeScopes) {
            if (!live.has(key)) {
              nodes.delete(key)
              nodeScopes.delete(key)
              closing.push(Scope.close(nodeScope, Exit.void))
            }
          }
          return Effect.all(closing, { discard: true })
        })
      ),
      Effect.forkIn(scope)
    )
    if (options.periodicRefresh !== undefined) {
      yield* Effect.forkIn(
        Effect.repeat(Effect.ignore(Effect.suspend(() => topology.refresh("periodic"))), options.periodicRefresh),
        scope
      )
    }

    let movedSinceRefresh = 0
    const noteMoved = () => {
      movedSinceRefresh++
      if (options.reinitializeSteps !== undefined && movedSinceRefresh >= options.reinitializeSteps) {
        movedSinceRefresh = 0
        topology.requestRefresh("moved")
      }
    }

    // --- routing -------------------------------------------------------------
    const addressFor = (command: Command<unknown>, slot: number): ClusterTopology.Address | undefined => {
      if (slot >= 0 && topology.patchCount() > 0) {
        const patched = topology.patched(slot)
        if (patched !== undefined) return patched
      }
      return router.route(topology.current(), command, slot)
    }

    const uncovered = (slot: number) =>
      RedisError.make(new RedisError.ClusterDown({ message: `no node serves slot ${slot}` }), "NotSent")
    const crossSlot = (command: Command<unknown>) =>
      RedisError.make(
        new RedisError.CrossSlot({ message: `the keys of ${command.name} hash to different slots` }),
        "NotSent",
        command.name
      )

    // Hot path: the router returns the same NodeInfo objects until the next
    // refresh, so remember each one's entry instead of building "host:port"
    // for every command. A closed node is dropped from `nodes`; its cached
    // entry is then ignored.
    const entryCache = new WeakMap<object, NodeEntry>()
    const sendTo = <A>(a: ClusterTopology.Address, command: Command<A>): Effect.Effect<A, RedisError.RedisError> => {
      let entry = entryCache.get(a)
      if (entry === undefined || nodes.get(entry.address) !== entry) {
        entry = nodes.get(View.address(a))
        if (entry !== undefined) entryCache.set(a, entry)
      }
      return entry !== undefined
        ? entry.pool.shared.send(command)
        : Effect.flatMap(openNode(a), (e) => e.pool.shared.send(command))
    }

    const askTo = <A>(a: ClusterTopology.Address, command: Command<A>): Effect.Effect<A, RedisError.RedisError> =>
      Effect.flatMap(openNode(a), (e) =>
        Effect.flatMap(e.pool.shared.sendAll([ASKING, command]), (exits) => exits[1] as Exit.Exit<A, RedisError.RedisError>))

    // A connection that sends ASKING in the same write before every request
    // (for `withDedicated` on a migrating slot). The ASKING replies are
    // dropped; a refused ASKING fails the request it preceded.
    const asking = (c: Connection.Connection): Connection.Connection => ({
      ...c,
      send: (command) => Effect.flatMap(c.sendAll([ASKING, command]), (exits) => askingFirst(exits, 1)),
      sendAll: (commands) =>
        Effect.map(c.sendAll([ASKING, ...commands]), (exits) => {
          const head = exits[0]
          return Exit.isFailure(head) ? exits.slice(1).map(() => head) : exits.slice(1)
        })
    })
    const askingFirst = <A>(exits: ReadonlyArray<Exit.Exit<unknown, RedisError.RedisError>>, i: number) =>
      (Exit.isFailure(exits[0]) ? exits[0] : exits[i]) as Exit.Exit<A, RedisError.RedisError>

    // One attempt, following redirects within the budget.
    const attempt = <A>(command: Command<A>, slot: number, redirects: number): Effect.Effect<A, RedisError.RedisError> => {
      const a = addressFor(command, slot)
      if (a === undefined) {
        topology.requestRefresh("uncovered-slot")
        return Effect.fail(uncovered(slot))
      }
      return Effect.catch(sendTo(a, command), (error) => onRedirect(command, slot, redirects, error))
    }

    const onRedirect = <A>(
      command: Command<A>,
      slot: number,
      redirects: number,
      error: RedisError.RedisError
    ): Effect.Effect<A, RedisError.RedisError> => {
      const reason = error.reason
      if (reason._tag === "Moved") {
        const target = mapAddress({ host: reason.host, port: reason.port })
        topology.patchSlot(reason.slot, target)
        noteMoved()
        topology.requestRefresh("moved")
        if (redirects >= maxRedirects) return Effect.fail(error)
        return attempt(command, slot, redirects + 1)
      }
      if (reason._tag === "Ask") {
        topology.requestRefresh("ask")
        if (redirects >= maxRedirects) return Effect.fail(error)
        const target = mapAddress({ host: reason.host, port: reason.port })
        return Effect.catch(askTo(target, command), (e) => onRedirect(command, slot, redirects + 1, e))
      }
      switch (reason._tag) {
        case "ConnectionError":
        case "Timeout":
          topology.requestRefresh("connection-failures")
          break
        case "ClusterDown":
        case "TryAgain":
          topology.requestRefresh("cluster-down")
          break
        case "ReadOnly":
        case "MasterDown":
          topology.requestRefresh("readonly")
          break
      }
      return Effect.fail(error)
    }

    // One `catch` on the success path: redirects are followed, then what
    // still fails goes through the retry schedule if it is safe to.
    const executeSlot = <A>(command: Command<A>, slot: number): Effect.Effect<A, RedisError.RedisError> => {
      const a = addressFor(command, slot)
      if (a === undefined) return attemptWithRetry(command, slot)
      return Effect.catch(sendTo(a, command), (error) =>
        Effect.catch(onRedirect(command, slot, 0, error), (e) => retryFrom(command, slot, e)))
    }
    const attemptWithRetry = <A>(command: Command<A>, slot: number) =>
      Effect.catch(attempt(command, slot, 0), (e) => retryFrom(command, slot, e))
    const retryFrom = <A>(command: Command<A>, slot: number, error: RedisError.RedisError) =>
      retryable(command, error)
        ? Delivery.retryAfter(error, () => attempt(command, slot, 0), {
          schedule: retrySchedule,
          while: (e) => retryable(command, e) || redirectsOf(e)
        })
        : Effect.fail(error)
    const retryable = (command: Command<unknown>, error: RedisError.RedisError) =>
      Delivery.isRetry(command, error, "nodes")

    // --- fan-out to target nodes -------------------------------------------------
    const targetNodes = (target: Target): ReadonlyArray<ClusterTopology.Address> => {
      const shards = topology.current().view.shards
      if (target === "primaries") return shards.map((s) => s.primary)
      if (target === "replicas") return shards.flatMap((s) => s.replicas.filter((r) => r.health !== "failed"))
      if (target === "all") return shards.flatMap((s) => [s.primary, ...s.replicas.filter((r) => r.health !== "failed")])
      if (target === "random") {
        const all = shards.map((s) => s.primary)
        return all.length === 0 ? [] : [all[Math.floor(Math.random() * all.length)]]
      }
      if (Array.isArray(target)) return target as ReadonlyArray<ClusterTopology.Address>
      return [target as ClusterTopology.Address]
    }

    const onNodes = <A>(target: Target, command: Command<A>) =>
      Effect.map(
        Effect.forEach(targetNodes(target), (a) => Effect.map(Effect.exit(sendTo(a, command)), (exit) => [View.address(a), exit] as const), {
          concurrency: "unbounded"
        }),
        (pairs) => new Map(pairs)
      )

    const onAll = <A>(target: Target, command: Command<A>): Effect.Effect<Array<A>, RedisError.RedisError> =>
      Effect.flatMap(onNodes(target, command), (results): Effect.Effect<Array<A>, RedisError.RedisError> => {
        const out: Array<A> = []
        for (const exit of results.values()) {
          if (Exit.isFailure(exit)) return exit as Exit.Exit<never, RedisError.RedisError>
          out.push(exit.value)
        }
        return Effect.succeed(out)
      })

    // lowestLatency: PING every node every 2 s and hand the round trips to the
    // router (one fiber per cluster, not per command).
    if (configuredReadFrom === "lowestLatency") {
      const measure = Effect.gen(function*() {
        const all = topology.current().view.shards.flatMap((s) => [s.primary, ...s.replicas])
        const pairs = yield* Effect.forEach(all, (n) =>
          Effect.gen(function*() {
            const started = performance.now()
            const exit = yield* Effect.exit(Effect.timeout(sendTo(n, Commands.ping()), "1 second"))
            return [View.address(n), Exit.isSuccess(exit) ? performance.now() - started : Infinity] as const
          }), { concurrency: "unbounded" })
        router.setLatencies(new Map(pairs))
      })
      yield* measure
      yield* Effect.forkIn(Effect.forever(Effect.andThen(Effect.sleep("2 seconds"), measure)), scope)
    }

    // --- command metadata (the seed's command cache) ----------------------------
    // Typed commands carry their keys. Raw, module and custom commands built
    // without keys get them from COMMAND's key positions, loaded once from
    // one node; commands with movable keys ask COMMAND GETKEYS each time.
    interface KeySpec {
      readonly first: number
      readonly last: number
      readonly step: number
      readonly movable: boolean
    }
    let commandTable: Effect.Effect<Map<string, KeySpec>, RedisError.RedisError> | undefined
    const loadCommandTable = Effect.gen(function*() {
      const a = targetNodes("random")[0]
      if (a === undefined) return yield* Effect.fail(uncovered(0))
      const reply = yield* sendTo(a, Commands.raw(["COMMAND"]))
      const table = new Map<string, KeySpec>()
      for (const entry of Cmd.Reply.items(reply)) {
        const fields = Cmd.Reply.items(entry)
        const flags = Cmd.Reply.items(fields[2]).map((f) => Cmd.Reply.string(f))
        table.set(Cmd.Reply.string(fields[0]).toUpperCase(), {
          first: Cmd.Reply.integer(fields[3]),
          last: Cmd.Reply.integer(fields[4]),
          step: Cmd.Reply.integer(fields[5]),
          movable: flags.includes("movablekeys")
        })
      }
      return table
    })
    const keysFromMetadata = (command: Command<unknown>): Effect.Effect<ReadonlyArray<Arg>, RedisError.RedisError> =>
      Effect.gen(function*() {
        commandTable ??= yield* Effect.cached(loadCommandTable)
        const spec = (yield* commandTable).get(command.name)
        if (spec === undefined || (spec.first === 0 && !spec.movable)) return []
        if (spec.movable) {
          const a = targetNodes("random")[0]
          if (a === undefined) return []
          return yield* sendTo(a, Cmd.unsafeMake("COMMAND", ["COMMAND", "GETKEYS", ...command.args], [], Cmd.Flags.NO_KEYS, Cmd.Reply.array(Cmd.Reply.string)))
        }
        const args = command.args
        const last = spec.last < 0 ? args.length + spec.last : spec.last
        const keys: Array<Arg> = []
        for (let i = spec.first; i <= last && i < args.length; i += Math.max(1, spec.step)) keys.push(args[i])
        return keys
      })

    // --- execute ------------------------------------------------------------------
    const execute = <A>(command: Command<A>): Effect.Effect<A, RedisError.RedisError> => {
      if (command.invalid !== undefined) return Effect.fail(RedisError.invalidArgument(command.invalid, command.name))
      if (
        command.keys.length === 0 && (command.flags & (Cmd.Flags.NO_KEYS | Cmd.Flags.ALL_NODES)) === 0 &&
        fanOut[command.name] === undefined
      ) {
        return Effect.flatMap(keysFromMetadata(command), (keys) => {
          const slot = keys.length === 0 ? -1 : ClusterSlot.slotOfKeys(keys)
          if (slot === -2) return Effect.fail(crossSlot(command))
          return executeSlot(command, slot)
        })
      }
      const slot = ClusterRouter.slotOf(command)
      if (slot >= 0) return executeSlot(command, slot)
      if (slot === -2) return Effect.fail(crossSlot(command))
      const how = (command.flags & Cmd.Flags.ALL_NODES) !== 0 ? fanOut[command.name] ?? "allSucceeded" : fanOut[command.name]
      if (how !== undefined && how !== "any") {
        return Effect.map(onAll("primaries", command), (values) => aggregate(how, values) as A)
      }
      return executeSlot(command, -1)
    }

    // Pipelines: group by node, one sendAll per node, reassemble in order;
    // commands answered with a redirect or a retryable error go again on
    // their own through `execute`.
    const executeAll = (
      commands: ReadonlyArray<Command<unknown>>
    ): Effect.Effect<Array<Exit.Exit<unknown, RedisError.RedisError>>> =>
      Effect.gen(function*() {
        const results = new Array<Exit.Exit<unknown, RedisError.RedisError>>(commands.length)
        const groups = new Map<string, { address: ClusterTopology.Address; indexes: Array<number> }>()
        const later: Array<number> = []
        commands.forEach((command, i) => {
          if (command.invalid !== undefined) {
            results[i] = Exit.fail(RedisError.invalidArgument(command.invalid, command.name))
            return
          }
          const slot = ClusterRouter.slotOf(command)
          if (slot === -2) {
            results[i] = Exit.fail(crossSlot(command))
            return
          }
          const a = slot === -1 ? undefined : addressFor(command, slot)
          if (a === undefined || (slot === -1 && fanOut[command.name] !== undefined)) {
            later.push(i)
            return
          }
          const key = View.address(a)
          const group = groups.get(key) ?? { address: a, indexes: [] }
          group.indexes.push(i)
          groups.set(key, group)
        })
        yield* Effect.forEach([...groups.values()], (group) =>
          Effect.gen(function*() {
            const entry = yield* Effect.exit(openNode(group.address))
            if (Exit.isFailure(entry)) {
              later.push(...group.indexes)
              return
            }
            const exits = yield* entry.value.pool.shared.sendAll(group.indexes.map((i) => commands[i]))
            exits.forEach((exit, j) => {
              const i = group.indexes[j]
              if (Exit.isFailure(exit)) {
                const error = (exit.cause.reasons.find((r) => r._tag === "Fail") as { readonly error?: RedisError.RedisError } | undefined)?.error
                if (error !== undefined && (redirectsOf(error) || retryable(commands[i], error))) {
                  later.push(i)
                  return
                }
              }
              results[i] = exit
            })
          }), { concurrency: "unbounded", discard: true })
        yield* Effect.forEach(later, (i) => Effect.map(Effect.exit(execute(commands[i])), (exit) => {
          results[i] = exit
        }), { concurrency: "unbounded", discard: true })
        return results
      })

    const withDedicated = <A, E, R>(
      keys: ReadonlyArray<Arg>,
      f: (connection: Connection.Connection) => Effect.Effect<A, E, R>
    ): Effect.Effect<A, E | RedisError.RedisError, R> => {
      const slot = keys.length === 0 ? -1 : ClusterSlot.slotOfKeys(keys)
      if (slot === -2) {
        return Effect.fail(RedisError.make(
          new RedisError.CrossSlot({ message: "the keys of a transaction or blocking command must share a slot" }),
          "NotSent"
        ))
      }
      const once = Effect.suspend(() => {
        const a = addressFor(Commands.ping(), slot)
        if (a === undefined) return Effect.fail(uncovered(slot))
        return Effect.flatMap(openNode(a), (entry) => entry.pool.withDedicated(f))
      })
      // The slot is being migrated and a key already left: run `f` once on
      // the importing node, with ASKING before each request. ASKING sent
      // right before MULTI holds for the whole transaction (the server keeps
      // the flag while the client is in MULTI), so a queued transaction or a
      // blocking command runs there in full; nothing ran on the source.
      const onTarget = (target: ClusterTopology.Address) =>
        Effect.flatMap(openNode(target), (entry) => entry.pool.withDedicated((c) => f(asking(c))))
      // A slot that moved is refused as a whole (MOVED at queue time):
      // refresh and run once more on the new owner.
      return Effect.catchIf(
        once,
        (e): e is RedisError.RedisError => RedisError.isRedisError(e) && redirectsOf(e),
        (e) => {
          if (e.reason._tag === "Ask") {
            topology.requestRefresh("ask")
            return onTarget(mapAddress({ host: e.reason.host, port: e.reason.port }))
          }
          return Effect.andThen(topology.refresh("moved"), once)
        }
      )
    }

    // --- pub/sub ----------------------------------------------------------------
    const pubsubFor = (a: ClusterTopology.Address): Effect.Effect<PubSub.PubSub> =>
      Effect.flatMap(openNode(a), (entry) =>
        entry.pubsub !== undefined
          ? Effect.succeed(entry.pubsub)
          : Effect.map(
            // A subscriber queues while it (re)connects: its SUBSCRIBEs must
            // wait for the connection, not fail fast like routed commands.
            PubSub.make({ ...nodeOptions(a), offline: RedisConfig.defaultOffline }, {
              onDisconnect: () => topology.requestRefresh("connection-failures"),
              // A shard channel's slot moved away: the refresh gives the
              // stream its new owner.
              onServerUnsubscribe: () => topology.requestRefresh("moved")
            }).pipe(
              Scope.provide(nodeScopes.get(entry.address) ?? scope),
              Effect.provideService(Transport, transport)
            ),
            (ps) => {
              entry.pubsub ??= ps
              return entry.pubsub
            }
          ))

    // A subscription lives on the primary of its slot (the first channel's
    // slot for classic channels: their messages reach every node, so this
    // only spreads the load). When a refresh gives that slot another owner —
    // a failover, a migration — the stream switches to the new owner: it
    // subscribes there and unsubscribes from the old one. Every switch counts
    // as a gap in `generation`.
    let switches = 0
    const subscribeFollowing = (
      kind: PubSub.Kind,
      names: ReadonlyArray<string>,
      slot: number,
      gaps: boolean
    ): Stream.Stream<PubSub.Event, RedisError.RedisError> =>
      topology.changes.pipe(
        Stream.map((snapshot) => {
          const owner = router.route(snapshot, Commands.ping(), slot)
          return owner === undefined ? "" : View.address(owner)
        }),
        Stream.changes,
        Stream.zipWithIndex,
        Stream.switchMap(([address, index]) => {
          if (index > 0) switches++
          const a = address === "" ? undefined : parseAddress(address)
          if (a === undefined) return Stream.fail(uncovered(slot))
          const here: Stream.Stream<PubSub.Event, RedisError.RedisError> = Stream.unwrap(
            Effect.map(pubsubFor(a), (ps) =>
              gaps && ps.subscribeEvents !== undefined ? ps.subscribeEvents(kind, names) : ps.subscribe(kind, names))
          )
          const gap: PubSub.Gap = { kind: "gap", reason: "moved", subscription: kind, names }
          return gaps && index > 0 ? Stream.concat(Stream.succeed(gap), here) : here
        })
      )
    const crossShard = (kind: PubSub.Kind, slot: number) =>
      kind === "shard" && slot === -2
        ? Stream.fail(RedisError.make(
          new RedisError.CrossSlot({ message: "shard channels of one SSUBSCRIBE must share a slot" }),
          "NotSent",
          "SSUBSCRIBE"
        ))
        : undefined

    const pubsub: PubSub.PubSub = {
      subscribe: (kind, names) => {
        const slot = ClusterSlot.slotOfKeys(names)
        return crossShard(kind, slot) ??
          (subscribeFollowing(kind, names, slot < 0 ? 0 : slot, false) as Stream.Stream<PubSub.Message, RedisError.RedisError>)
      },
      subscribeEvents: (kind, names) => {
        const slot = ClusterSlot.slotOfKeys(names)
        return crossShard(kind, slot) ?? subscribeFollowing(kind, names, slot < 0 ? 0 : slot, true)
      },
      generation: () => {
        let sum = switches
        for (const entry of nodes.values()) sum += entry.pubsub?.generation() ?? 0
        return sum
      }
    }

    // While a subscriber connection is down, keep refreshing the topology
    // (rate-limited) so a failover is noticed even when no command flows.
    yield* Effect.forkIn(
      Effect.forever(Effect.andThen(Effect.sleep("250 millis"), Effect.sync(() => {
        for (const entry of nodes.values()) {
          const status = entry.pubsub?.status?.()
          if (status !== undefined && status !== "ready" && status !== "closed") {
            topology.requestRefresh("connection-failures")
            return
          }
        }
      }))),
      scope
    )

    // SCAN has no cluster-wide cursor, and keys move while a reshard runs.
    // The walk tracks slots: each primary is scanned for the slots it owned
    // when its walk began, and a slot counts as done only when, at the end
    // of that walk, the same node still owns it and is not migrating it.
    // Slots that moved or were migrating are scanned again on their owner in
    // the next round. Keys emitted from a slot that is not settled yet are
    // remembered, per slot, so a key that moved is not emitted twice (nor one
    // that SCAN itself repeats); a slot's keys are forgotten once it is
    // settled. Memory: the keys of the node being walked, not of the whole
    // key space.
    const MAX_SCAN_ROUNDS = 100
    interface ScanWalk {
      readonly primary: View.NodeInfo
      readonly slots: Set<number>
      cursor: string
    }
    interface ScanState {
      readonly done: Set<number>
      /** Keys emitted per slot, for slots not yet done. */
      readonly seen: Map<number, Set<string>>
      readonly queue: Array<ScanWalk>
      current: ScanWalk | undefined
      round: number
    }
    const migratingSlots = (primary: View.NodeInfo): Effect.Effect<Set<number>, RedisError.RedisError> =>
      Effect.map(sendTo(primary, Cmd.unsafeMake("CLUSTER", ["CLUSTER", "NODES"], [], Cmd.Flags.NO_KEYS, Cmd.Reply.string)), (text) => {
        const out = new Set<number>()
        const myself = text.split("\n").find((line) => line.split(" ")[2]?.includes("myself"))
        if (myself !== undefined) for (const m of myself.matchAll(/\[(\d+)->-/g)) out.add(Number(m[1]))
        return out
      })
    const scanStep = (
      state: ScanState,
      scanOptions: Commands.ScanOptions | undefined
    ): Effect.Effect<readonly [ReadonlyArray<string>, Option.Option<ScanState>], RedisError.RedisError> =>
      Effect.gen(function*() {
        if (state.current === undefined) {
          if (state.queue.length === 0) {
            if (state.done.size === ClusterSlot.SLOTS) return [[], Option.none()] as const
            if (++state.round > MAX_SCAN_ROUNDS) {
              return yield* Effect.fail(RedisError.make(
                new RedisError.TryAgain({ message: `cluster SCAN: slots kept moving for ${MAX_SCAN_ROUNDS} rounds` }),
                "NotSent",
                "SCAN"
              ))
            }
            // A round after the first waits a little: a migration is running.
            if (state.round > 1) yield* Effect.sleep("50 millis")
            const { table } = state.round > 1 ? yield* topology.refresh("manual") : topology.current()
            const byShard = new Map<number, Set<number>>()
            for (let slot = 0; slot < ClusterSlot.SLOTS; slot++) {
              if (state.done.has(slot)) continue
              const owner = table.owner[slot]
              if (owner < 0) continue
              const set = byShard.get(owner) ?? new Set<number>()
              set.add(slot)
              byShard.set(owner, set)
            }
            if (byShard.size === 0) return yield* Effect.fail(uncovered(-1))
            for (const [index, slots] of byShard) state.queue.push({ primary: table.shards[index].primary, slots, cursor: "0" })
          }
          state.current = state.queue.shift()
        }
        const walk = state.current!
        const page = yield* sendTo(walk.primary, Commands.scan(walk.cursor, scanOptions))
        const keys: Array<string> = []
        for (const key of page.items) {
          const slot = ClusterSlot.keyslot(key)
          if (!walk.slots.has(slot)) continue
          let emitted = state.seen.get(slot)
          if (emitted === undefined) state.seen.set(slot, emitted = new Set())
          else if (emitted.has(key)) continue
          emitted.add(key)
          keys.push(key)
        }
        if (page.cursor !== "0") {
          walk.cursor = page.cursor
          return [keys, Option.some(state)] as const
        }
        // The walk of this node is over: which of its slots are settled?
        const after = yield* topology.refresh("manual")
        const migrating = yield* migratingSlots(walk.primary)
        const me = View.address(walk.primary)
        for (const slot of walk.slots) {
          const owner = after.table.owner[slot]
          if (owner >= 0 && View.address(after.table.shards[owner].primary) === me && !migrating.has(slot)) {
            state.done.add(slot)
            state.seen.delete(slot)
          }
        }
        state.current = undefined
        return [keys, Option.some(state)] as const
      })
    const scanAll = (scanOptions?: Commands.ScanOptions): Stream.Stream<string, RedisError.RedisError> =>
      Stream.unwrap(Effect.sync(() =>
        Stream.paginate<ScanState, string, RedisError.RedisError>(
          { done: new Set(), seen: new Map(), queue: [], current: undefined, round: 0 },
          (state) => scanStep(state, scanOptions)
        )
      ))

    const backend: Redis.Backend = {
      execute,
      executeAll,
      withDedicated,
      pubsub,
      scanStream: scanAll,
      monitorConnection: (onPush) =>
        Effect.gen(function*() {
          const a = targetNodes("random")[0]
          if (a === undefined) return yield* Effect.fail(uncovered(0))
          return yield* Connection.makeFeed(nodeOptions(a), onPush).pipe(Effect.provideService(Transport, transport))
        })
    }
    const redis = Redis.fromBackend(backend)

    // --- non-atomic multi-key --------------------------------------------------
    const bySlot = <A>(keys: ReadonlyArray<A>, keyOf: (a: A) => Arg) => {
      const groups = new Map<number, Array<number>>()
      keys.forEach((k, i) => {
        const slot = ClusterSlot.keyslot(keyOf(k))
        const g = groups.get(slot)
        if (g === undefined) groups.set(slot, [i])
        else g.push(i)
      })
      return groups
    }
    const countAcross = (build: (keys: ReadonlyArray<Arg>) => Command<number>) => (keys: ReadonlyArray<Arg>) =>
      Effect.map(
        Effect.forEach([...bySlot(keys, (k) => k).values()], (indexes) => execute(build(indexes.map((i) => keys[i]))), {
          concurrency: "unbounded"
        }),
        (counts) => counts.reduce((a, b) => a + b, 0)
      )

    const single = (a: ClusterTopology.Address): Redis.RedisShape => {
      const key = View.address(a)
      const pool = Effect.map(openNode(a), (e) => e.pool)
      return Redis.fromBackend({
        execute: (command) => Effect.flatMap(pool, (p) => p.shared.send(command)),
        executeAll: (commands) => Effect.flatMap(Effect.orDie(pool), (p) => p.shared.sendAll(commands)),
        withDedicated: (_keys, f) => Effect.flatMap(pool, (p) => p.withDedicated(f)),
        pubsub: {
          subscribe: (kind, names) => Stream.unwrap(Effect.map(pubsubFor(a), (ps) => ps.subscribe(kind, names))),
          generation: () => nodes.get(key)?.pubsub?.generation() ?? 0,
          status: () => nodes.get(key)?.pubsub?.status?.() ?? "closed"
        },
        monitorConnection: (onPush) =>
          Connection.makeFeed(nodeOptions(a), onPush).pipe(Effect.provideService(Transport, transport))
      })
    }

    const cluster: ClusterShape = {
      topology: Effect.sync(() => topology.current()),
      changes: topology.changes,
      refresh: Effect.suspend(() => topology.refresh("manual")),
      nodes: Effect.sync(() => topology.current().view.shards.flatMap((s) => [s.primary, ...s.replicas])),
      primaries: Effect.sync(() => topology.current().view.shards.map((s) => s.primary)),
      replicas: Effect.sync(() => topology.current().view.shards.flatMap((s) => s.replicas)),
      keyslot: ClusterSlot.keyslot,
      nodeFor: (key, opts) =>
        Effect.suspend(() => {
          const slot = ClusterSlot.keyslot(key)
          const probe = opts?.replica === true ? Commands.get(key) : Commands.set(key, "")
          const snapshot = topology.current()
          const node = router.route(snapshot, probe as Command<unknown>, slot)
          return node === undefined ? Effect.fail(uncovered(slot)) : Effect.succeed(node)
        }),
      node: single,
      onNodes,
      onAll,
      mgetNonAtomic: (keys) =>
        Effect.gen(function*() {
          const out = new Array<Option.Option<string>>(keys.length)
          yield* Effect.forEach([...bySlot(keys, (k) => k).values()], (indexes) =>
            Effect.map(execute(Commands.mget(indexes.map((i) => keys[i]))), (values) => {
              values.forEach((v, j) => {
                out[indexes[j]] = v
              })
            }), { concurrency: "unbounded", discard: true })
          return out
        }),
      msetNonAtomic: (input) => {
        const pairs: ReadonlyArray<readonly [Arg, Arg]> = Array.isArray(input)
          ? input as ReadonlyArray<readonly [Arg, Arg]>
          : Object.entries(input as Record<string, Arg>)
        return Effect.forEach([...bySlot(pairs, (p) => p[0]).values()], (indexes) =>
          execute(Commands.mset(indexes.map((i) => pairs[i]) as Array<readonly [Arg, Arg]>)), {
          concurrency: "unbounded",
          discard: true
        })
      },
      delNonAtomic: countAcross((keys) => Commands.del(keys)),
      unlinkNonAtomic: countAcross((keys) => Commands.unlink(keys)),
      existsNonAtomic: countAcross((keys) => Commands.exists(keys)),
      touchNonAtomic: countAcross((keys) => Commands.touch(keys)),
      scanStream: scanAll,
      defaultNode: Effect.sync(() => Option.fromNullishOr(router.defaultNode())),
      setDefaultNode: (target) =>
        Effect.suspend(() => {
          if (target === undefined) return Effect.sync(() => router.setDefaultNode(undefined))
          const key = View.address(target)
          const node = topology.current().view.shards.flatMap((s) => [s.primary, ...s.replicas]).find((n) =>
            View.address(n) === key
          )
          return node === undefined
            ? Effect.fail(RedisError.invalidArgument(`${key} is not a node of this cluster`))
            : Effect.sync(() => router.setDefaultNode(node))
        }),
      readonly: Effect.sync(() => router.setReadFrom(configuredReadFrom === "primary" ? "replica" : configuredReadFrom)),
      readwrite: Effect.sync(() => router.setReadFrom("primary"))
    }
    return { redis, cluster }
  })

/**
 * A layer providing both `Redis.Redis` (routed across the cluster) and
 * `Cluster.Cluster`. Needs a `Transport` (`@redis-effect/node` has one).
 *
 * @category layers
 * @since 0.1.0
 */
export const layer = (options: Options): Layer.Layer<Redis.Redis | Cluster, RedisError.RedisError, Transport> =>
  Layer.effectContext(
    Effect.map(make(options), ({ cluster, redis }) =>
      Context.make(Redis.Redis, Redis.Redis.of(redis)).pipe(Context.add(Cluster, Cluster.of(cluster))))
  )
