/**
 * Redis Cluster: the `Cluster` service and the layer that provides it
 * together with `Redis.Redis`, so a program written against `Redis` runs
 * unchanged on a cluster.
 *
 * `make` wires the cluster's modules; each is one concept with its own
 * tests:
 *
 * - `ClusterNodes`: a `Pool` per node (a `NodeRegistry`), the node
 *   connection options and their read-only mode (`readonly`/`readwrite`
 *   switch it at run time), topology queries, a `Redis` bound to one node;
 * - `ClusterTopology`: the snapshot of slots and shards, refreshes, MOVED
 *   patches; `ClusterEvents` turns its refreshes into `redis.events`;
 * - `ClusterRouter`: a slot to a node by the read-from policy, and the
 *   default node of keyless commands (a primary chosen at start);
 * - `ClusterExecutor`: MOVED, ASK and retries (`Delivery.decide`), pipelines
 *   grouped per node, dedicated connections on a migrating slot;
 * - `ClusterDispatch` and `CommandTable`: where a command goes (its keys, a
 *   fan-out by the server's request and response policies);
 * - `ClusterFanOut`: commands on target nodes, re-resolved when the
 *   topology changes under them; `ClusterMultiKey`: non-atomic multi-key
 *   commands split by slot, in pipelines too; `ClusterScan`: cluster-wide SCAN;
 *   `ClusterPubSub`: subscriptions that follow their slot's owner.
 *
 * What a caller may rely on under redirects and failovers is in
 * docs/GUARANTEES.md; the flow of a command in docs/ARCHITECTURE.md.
 *
 * @since 0.1.0
 */
import * as Context from "effect/Context"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import type * as Exit from "effect/Exit"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as Schedule from "effect/Schedule"
import type * as Scope from "effect/Scope"
import type * as Stream from "effect/Stream"
import * as Address from "../Address.ts"
import * as ClientCache from "../ClientCache.ts"
import type { Command } from "../Command.ts"
import * as Cmd from "../Command.ts"
import type * as Commands from "../Commands.ts"
import * as Middleware from "../Middleware.ts"
import * as Pool from "../Pool.ts"
import * as PubSub from "../PubSub.ts"
import * as Redis from "../Redis.ts"
import * as RedisConfig from "../RedisConfig.ts"
import * as RedisError from "../RedisError.ts"
import type { Arg } from "../Resp.ts"
import { Transport } from "../Transport.ts"
import * as ClusterDispatch from "./ClusterDispatch.ts"
import * as ClusterEvents from "./ClusterEvents.ts"
import * as ClusterExecutor from "./ClusterExecutor.ts"
import * as ClusterFanOut from "./ClusterFanOut.ts"
import * as ClusterMultiKey from "./ClusterMultiKey.ts"
import * as ClusterNodes from "./ClusterNodes.ts"
import * as ClusterPubSub from "./ClusterPubSub.ts"
import * as ClusterRouter from "./ClusterRouter.ts"
import * as ClusterScan from "./ClusterScan.ts"
import * as ClusterSlot from "./ClusterSlot.ts"
import * as ClusterTopology from "./ClusterTopology.ts"
import * as View from "./ClusterView.ts"
import * as CommandTable from "./CommandTable.ts"

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
    readonly nodes?: ReadonlyArray<string | Address.Address> | undefined
    /** Where reads go (default `"primary"`). */
    readonly readFrom?: ClusterRouter.ReadFrom | undefined
    /** Refuse a topology that does not cover every slot (default true). */
    readonly requireFullCoverage?: boolean | undefined
    /** Use the nodes the cluster reports for later refreshes, not only the startup list (default true). */
    readonly dynamicStartupNodes?: boolean | undefined
    /** Rewrites the addresses the cluster announces (NAT, port forwarding). */
    readonly addressRemap?: ClusterNodes.Remap | undefined
    /** Redirects (MOVED/ASK) one command may follow (default 5). */
    readonly maxRedirects?: number | undefined
    /** The bound of each subscription's unread messages (see `PubSub.BufferOptions`). */
    readonly subscriptionBuffer?: PubSub.BufferOptions | undefined
    /** Retry of TRYAGAIN, CLUSTERDOWN, LOADING, lost connections (default `defaultRetry`). */
    readonly retry?: Schedule.Schedule<unknown, RedisError.RedisError> | undefined
    /** Refresh the topology every N MOVED replies as well (redis-py's `reinitialize_steps`); off by default. */
    readonly reinitializeSteps?: number | undefined
    /** Refresh the topology periodically by this schedule; off by default. */
    readonly periodicRefresh?: Schedule.Schedule<unknown> | undefined
    /** Least time between two refreshes in ms (default 100). */
    readonly minRefreshInterval?: number | undefined
    /**
     * How many nodes a topology refresh asks at once (default 3): it takes
     * the consensus of the first round that gives a usable view, so a
     * refresh of a 100-node cluster costs 3 queries, not 100. A round with
     * no usable view is followed by one twice as wide.
     */
    readonly topologySampleSize?: number | undefined
  }

/**
 * The default retry of cluster commands: exponential from 25 ms with jitter,
 * capped at 1 s, at most 12 attempts: 25 + 50 + … + 800 ms, then 1 s six
 * times, about 7.6 s in all (±20% jitter). That outlasts a failover with
 * `cluster-node-timeout 2000` (a replica promoted 4–5 s after its primary
 * died, docs/SCALE.md); with a much larger node timeout, give a longer
 * `retry`, or writes queued for the dead shard fail before the promotion.
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
export type Target = ClusterFanOut.Target

/**
 * What only a cluster has (the non-atomic multi-key commands, `mgetNonAtomic`
 * and the rest, come from `ClusterMultiKey.MultiKey`).
 *
 * @category models
 * @since 0.1.0
 */
export interface ClusterShape extends ClusterMultiKey.MultiKey {
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
  /**
   * The node that serves a key: its primary; with `replica: true` one of its
   * replicas whatever the read-from policy (the policy's pick when it is a
   * replica, else the replicas in turn; redis-py's
   * `get_node_from_key(key, replica=True)`). A slot whose shard has no
   * healthy replica fails `ClusterDown`.
   */
  readonly nodeFor: (key: Arg, options?: { readonly replica?: boolean }) => Effect.Effect<View.NodeInfo, RedisError.RedisError>
  /**
   * A node of the cluster by `host` and `port`, by name (`"host:port"`), by
   * address or by node id; `none` when the topology has no such node
   * (redis-py's `get_node`). Opens no connection.
   */
  readonly getNode: {
    (host: string, port: number): Effect.Effect<Option.Option<View.NodeInfo>>
    (node: string | Address.Address): Effect.Effect<Option.Option<View.NodeInfo>>
  }
  /** A `Redis` client bound to one node (no routing, no redirects). */
  readonly node: (address: Address.Address) => Redis.RedisShape
  /** Runs a command on target nodes; one result per node address. */
  readonly onNodes: <A>(
    target: Target,
    command: Command<A>
  ) => Effect.Effect<Map<string, Exit.Exit<A, RedisError.RedisError>>>
  /** Runs a command on target nodes and fails if any failed (all-succeeded policy). */
  readonly onAll: <A>(target: Target, command: Command<A>) => Effect.Effect<Array<A>, RedisError.RedisError>
  /** Every key of the cluster, primary by primary. */
  readonly scanStream: (options?: Commands.ScanOptions) => Stream.Stream<string, RedisError.RedisError>
  /**
   * The node keyless commands go to: a primary the client chose at random
   * when it started (redis-py's default node), chosen again when it fails
   * over, leaves or drops its connection; or the one `setDefaultNode` set.
   * `none` only after `setDefaultNode(undefined)`.
   */
  readonly defaultNode: Effect.Effect<Option.Option<View.NodeInfo>>
  /**
   * Sends keyless commands to this node of the cluster (kept until it
   * leaves the cluster); `undefined`: spread them over the primaries in
   * turn. An address that is not a node of the cluster fails `InvalidArgument`.
   */
  readonly setDefaultNode: (address: Address.Address | undefined) => Effect.Effect<void, RedisError.RedisError>
  /**
   * Reads go to replicas: READONLY on every node connection (open ones now,
   * new ones and reconnects in their handshake), then the configured
   * read-from policy, or `replica` if it was `primary`.
   */
  readonly readonly: Effect.Effect<void>
  /** Every read goes to the primaries, and READWRITE on every node connection. */
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
// make
// -----------------------------------------------------------------------------

// The startup nodes: `nodes`, plus the endpoint of `url` / `host` + `port`
// (which is also the default, 127.0.0.1:6379, when nothing is given).
const startupNodes = (
  options: Options,
  base: RedisConfig.ConnectionOptions
): Effect.Effect<Array<Address.Address>, RedisError.RedisError> => {
  const startup: Array<Address.Address> = []
  for (const n of options.nodes ?? []) {
    const a = Address.parse(n)
    if (a === undefined) return Effect.fail(RedisError.invalidArgument(`invalid cluster node address ${String(n)}`))
    startup.push(a)
  }
  const endpointGiven = options.url !== undefined || options.host !== undefined || options.port !== undefined
  if ((endpointGiven || startup.length === 0) && base.endpoint._tag === "Tcp") {
    startup.push({ host: base.endpoint.host, port: base.endpoint.port })
  }
  return Effect.succeed(startup)
}

// The node a routed command goes to now: a MOVED patch of its slot if there
// is one, else the router's pick on the current snapshot. Hot path: one
// counter read when nothing is patched.
const routeOf = (topology: ClusterTopology.Topology, router: ClusterRouter.Router) =>
(command: Command<unknown>, slot: number): Address.Address | undefined => {
  if (slot >= 0 && topology.patchCount() > 0) {
    const patched = topology.patched(slot)
    if (patched !== undefined) return patched
  }
  return router.route(topology.current(), command, slot)
}

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
    const transport = yield* Transport
    yield* validate(options)
    const middleware = yield* Middleware.resolve(options.middleware)
    // Connection options shared by every node (the endpoint is set per node).
    const base = yield* RedisConfig.resolve(options)
    const startup = yield* startupNodes(options, base)
    const readFrom = options.readFrom ?? "primary"
    const router = ClusterRouter.make(readFrom)
    const remap = ClusterNodes.remapper(options.addressRemap)
    const readOnly: ClusterNodes.ReadOnlyMode = { on: ClusterRouter.usesReplicas(readFrom) || options.readOnly === true }

    const nodes = yield* ClusterNodes.make({
      options: ClusterNodes.connectionOptions(base, {
        offline: options.offline,
        reconnect: options.reconnect,
        flush: options.flush,
        readOnly
      }),
      // One cache for every node (made here from options, if given options).
      pool: { ...options, cache: ClientCache.resolve(options.cache) },
      middleware,
      remap,
      transport,
      readOnly
    })
    const topology = yield* ClusterTopology.make({
      startupNodes: startup.map(remap),
      query: nodes.query,
      requireFullCoverage: options.requireFullCoverage,
      dynamicStartupNodes: options.dynamicStartupNodes,
      minRefreshInterval: options.minRefreshInterval,
      sampleSize: options.topologySampleSize,
      periodicRefresh: options.periodicRefresh
    })
    const pubsub = yield* ClusterPubSub.make({
      topology,
      router,
      options: nodes.options,
      subscriptionBuffer: options.subscriptionBuffer,
      transport
    })
    // Nodes that left the view: close their subscribers, and their pools once
    // what is in flight on them is answered (ClusterNodes.drainTimeout).
    yield* ClusterNodes.follow(topology, [nodes.registry.retain, pubsub.retain])
    if (readFrom === "lowestLatency") yield* ClusterNodes.measureLatency(nodes, topology, router)
    router.chooseDefaultNode(topology.current())
    yield* ClusterNodes.replaceDefaultOnDisconnect(nodes.registry, topology, router)

    const executor = ClusterExecutor.make({
      send: nodes.send,
      sendAll: nodes.sendAll,
      dedicated: nodes.dedicated,
      route: routeOf(topology, router),
      patchSlot: topology.patchSlot,
      requestRefresh: topology.requestRefresh,
      remap,
      retry: options.retry ?? defaultRetry,
      maxRedirects: options.maxRedirects ?? 5,
      reinitializeSteps: options.reinitializeSteps
    })
    const fanOut = ClusterFanOut.make({
      send: nodes.send,
      view: () => topology.current().view,
      retry: options.retry ?? defaultRetry,
      requestRefresh: topology.requestRefresh,
      triggerOf: ClusterExecutor.refreshTrigger
    })
    const commands = yield* CommandTable.loader(Effect.suspend(() => executor.execute(ClusterDispatch.commandInfo, -1)))
    const execute = ClusterDispatch.make({ executor, fanOut, commands })
    const { scan } = ClusterScan.make({ send: nodes.send, topology })

    const executeAll = ClusterMultiKey.pipelined(executor.executeAll)
    const redis = Redis.fromBackend({
      execute,
      executeAll: (batch) => executeAll(batch, execute),
      withDedicated: executor.withDedicated,
      pubsub: pubsub.pubsub,
      scanStream: scan,
      events: ClusterEvents.stream(topology, nodes.registry),
      // The protocol of the default node's shared connection (every node
      // connection negotiates with the same options).
      protocol: Effect.suspend(() => {
        const a = router.route(topology.current(), KEYLESS_PROBE, -1)
        return a === undefined
          ? Effect.fail(ClusterRouter.uncovered(-1))
          : Effect.flatMap(nodes.registry.get(Address.format(a)), (pool) =>
            Effect.andThen(pool.shared.awaitReady, Effect.sync(() => pool.shared.protocol())))
      }),
      // MONITOR watches the default node (redis-py's `monitor()`).
      monitorConnection: (onPush) =>
        Effect.suspend(() => {
          const a = router.route(topology.current(), KEYLESS_PROBE, -1)
          return a === undefined ? Effect.fail(ClusterRouter.uncovered(-1)) : nodes.feed(a, onPush)
        })
    }, middleware)
    const cluster = service({
      topology,
      router,
      readFrom,
      fanOut,
      scan,
      multiKey: ClusterMultiKey.make(execute),
      node: (a) => ClusterNodes.client(nodes, pubsub, middleware, a),
      setReadOnly: nodes.setReadOnly
    })
    return { redis, cluster }
  })

// What `nodeFor` routes: a write (the primary); and what a keyless command is.
const WRITE_PROBE = Cmd.unsafeMake("SET", ["SET"], [], Cmd.Flags.WRITE, Cmd.Reply.raw)
const KEYLESS_PROBE = Cmd.unsafeMake("PING", ["PING"], [], Cmd.Flags.NO_KEYS, Cmd.Reply.raw)

/**
 * What is wrong with the cluster-only options, as "`name` must ...", or
 * undefined (connection options are checked by `RedisConfig.resolve`).
 *
 * @category validation
 * @since 0.1.0
 */
export const problemOf = (options: Options): string | undefined => {
  const pool = Pool.problemOf(options)
  if (pool !== undefined) return pool
  const readFrom = options.readFrom
  if (readFrom !== undefined && typeof readFrom !== "function" && !READ_FROM.has(readFrom)) {
    return `readFrom must be a function or one of ${[...READ_FROM].join(", ")}`
  }
  for (const name of ["maxRedirects", "reinitializeSteps", "minRefreshInterval", "topologySampleSize"] as const) {
    const value = options[name]
    const least = name === "reinitializeSteps" || name === "topologySampleSize" ? 1 : 0
    if (value !== undefined && (!Number.isInteger(value) || value < least)) {
      return `${name} must be an integer of at least ${least}`
    }
  }
  const buffer = PubSub.bufferProblem(options.subscriptionBuffer)
  if (buffer !== undefined) return `subscriptionBuffer: ${buffer}`
  return ClusterNodes.remapProblem(options.addressRemap)
}

const READ_FROM: ReadonlySet<string> = new Set<ClusterRouter.ReadFrom & string>([
  "primary",
  "primaryPreferred",
  "replica",
  "replicaPreferred",
  "roundRobin",
  "randomReplica",
  "lowestLatency"
])

const validate = (options: Options): Effect.Effect<void, RedisError.RedisError> => {
  const problem = problemOf(options)
  return problem === undefined ? Effect.void : Effect.fail(RedisError.invalidArgument(problem))
}

// A node of `view` by address, `host:port` name or node id.
const findNode = (view: View.View, node: string | Address.Address): View.NodeInfo | undefined => {
  const a = Address.parse(node)
  const all = View.nodes(view)
  return a !== undefined ? all.find((n) => Address.equals(n, a)) : all.find((n) => n.id === node)
}

// The Cluster service over the wired modules.
const service = (parts: {
  readonly topology: ClusterTopology.Topology
  readonly router: ClusterRouter.Router
  readonly readFrom: ClusterRouter.ReadFrom
  readonly fanOut: ClusterFanOut.FanOut
  readonly multiKey: ClusterMultiKey.MultiKey
  readonly scan: (options?: Commands.ScanOptions) => Stream.Stream<string, RedisError.RedisError>
  readonly node: (address: Address.Address) => Redis.RedisShape
  readonly setReadOnly: (on: boolean) => Effect.Effect<void>
}): ClusterShape => {
  const { fanOut, readFrom, router, setReadOnly, topology } = parts
  const view = () => topology.current().view
  return {
    topology: Effect.sync(() => topology.current()),
    changes: topology.changes,
    refresh: Effect.suspend(() => topology.refresh("manual")),
    nodes: Effect.sync(() => View.nodes(view())),
    primaries: Effect.sync(() => view().shards.map((s) => s.primary)),
    replicas: Effect.sync(() => view().shards.flatMap((s) => s.replicas)),
    keyslot: ClusterSlot.keyslot,
    nodeFor: (key, opts) =>
      Effect.suspend(() => {
        const slot = ClusterSlot.keyslot(key)
        const snapshot = topology.current()
        if (opts?.replica !== true) {
          const node = router.route(snapshot, WRITE_PROBE, slot)
          return node === undefined ? Effect.fail(ClusterRouter.uncovered(slot)) : Effect.succeed(node)
        }
        const replica = router.replicaFor(snapshot, slot)
        if (replica !== undefined) return Effect.succeed(replica)
        return Effect.fail(
          snapshot.table.owner[slot] < 0
            ? ClusterRouter.uncovered(slot)
            : RedisError.make(new RedisError.ClusterDown({ message: `no healthy replica serves slot ${slot}` }), "NotSent")
        )
      }),
    getNode: (node: string | Address.Address, port?: number) =>
      Effect.sync(() =>
        Option.fromNullishOr(findNode(view(), port === undefined ? node : { host: node as string, port }))
      ),
    node: parts.node,
    onNodes: fanOut.onNodes,
    onAll: fanOut.onAll,
    ...parts.multiKey,
    scanStream: parts.scan,
    defaultNode: Effect.sync(() => Option.fromNullishOr(router.defaultNode(topology.current()))),
    setDefaultNode: (target) =>
      Effect.suspend(() => {
        if (target === undefined) return Effect.sync(() => router.setDefaultNode(undefined))
        const node = View.nodes(view()).find((n) => Address.equals(n, target))
        return node === undefined
          ? Effect.fail(RedisError.invalidArgument(`${Address.format(target)} is not a node of this cluster`))
          : Effect.sync(() => router.setDefaultNode(node))
      }),
    // READONLY on the connections before any read goes to a replica (a
    // replica without it answers MOVED, which would patch the slot back to
    // the primary); READWRITE only once no read goes there any more.
    readonly: Effect.andThen(
      setReadOnly(true),
      Effect.sync(() => router.setReadFrom(readFrom === "primary" ? "replica" : readFrom))
    ),
    readwrite: Effect.andThen(Effect.sync(() => router.setReadFrom("primary")), setReadOnly(false))
  }
}

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
