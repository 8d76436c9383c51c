/**
 * The connections of a cluster client to its nodes: one `Pool` per node in
 * a `NodeRegistry` (opened on first use, closed when the topology drops the
 * node once its in-flight commands are answered: `drainTimeout`), the
 * connection options every node shares, the short-lived
 * connection a topology query uses, and a `Redis` bound to one node.
 *
 * Read-only mode (READONLY on every node connection, so replicas serve
 * reads) is one cell per client: handshakes read it at every connect, and
 * `setReadOnly` switches it at run time, sending READONLY or READWRITE on
 * the shared connection of every open node.
 *
 * `send` is on the hot path: it finds the node's pool synchronously
 * (`registry.lookup`), remembering per address object which pool it found,
 * so a routed command builds no `host:port` string.
 *
 * Nothing here routes, follows redirects or retries (`ClusterExecutor`), and
 * nothing decides which nodes exist (`ClusterTopology`; `follow` only
 * applies its snapshots).
 *
 * @since 0.1.0
 */
import type * as Context from "effect/Context"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Schedule from "effect/Schedule"
import type * as Scope from "effect/Scope"
import * as Stream from "effect/Stream"
import * as Address from "../Address.ts"
import type { Command } from "../Command.ts"
import * as Commands from "../Commands.ts"
import * as Connection from "../Connection.ts"
import * as Middleware from "../Middleware.ts"
import * as NodeRegistry from "../NodeRegistry.ts"
import * as Pool from "../Pool.ts"
import type * as PubSub from "../PubSub.ts"
import * as Redis from "../Redis.ts"
import * as RedisConfig from "../RedisConfig.ts"
import * as RedisError from "../RedisError.ts"
import type { RespValue } from "../Resp.ts"
import { Transport } from "../Transport.ts"
import type * as ClusterRouter from "./ClusterRouter.ts"
import type * as ClusterTopology from "./ClusterTopology.ts"
import * as View from "./ClusterView.ts"

// -----------------------------------------------------------------------------
// options
// -----------------------------------------------------------------------------

/**
 * Reconnect to a node for as long as it belongs to the cluster (its pool is
 * closed when a refresh drops it): exponential from 50 ms, capped at 1 s.
 *
 * @category defaults
 * @since 0.1.0
 */
export const defaultReconnect: Schedule.Schedule<unknown, RedisError.RedisError> = Schedule.exponential("50 millis").pipe(
  Schedule.modifyDelay(({ duration }) => Effect.succeed(Duration.min(duration, Duration.seconds(1)))),
  Schedule.jittered,
  Schedule.setInputType<RedisError.RedisError>(),
  Schedule.while(({ input }) => !RedisConfig.isPermanent(input))
)

/**
 * How long the shared connection of a node that left the topology keeps
 * the commands still awaiting its replies before it is closed (see
 * `NodeRegistry`'s draining): 10 s, the longest a primary pauses writes
 * during a coordinated `CLUSTER FAILOVER` (the server's manual-failover
 * timeout, 5 s, times its pause multiplier, 2).
 *
 * A node drops out of the view in the middle of a coordinated failover:
 * once its replica claims the slots, the old primary is briefly a primary
 * without slots (`CLUSTER SHARDS` lists it in a shard of its own, `CLUSTER
 * SLOTS` not at all) while it still holds our writes, paused. They are
 * answered MOVED once it learns it is a replica, a few milliseconds later,
 * and the executor follows. A dead node is not waited for: its connection
 * loses its session (the dead-peer watcher, `commandTimeout`) and the drain
 * ends there.
 *
 * @category defaults
 * @since 0.1.0
 */
export const drainTimeout: Duration.Duration = Duration.seconds(10)

/**
 * Whether node connections are in read-only mode (`READONLY`: a replica
 * serves reads of its slots): one mutable cell per client, read by every
 * handshake and switched by `Nodes.setReadOnly` (`Cluster.readonly` /
 * `readwrite`).
 *
 * @category models
 * @since 0.1.0
 */
export interface ReadOnlyMode {
  on: boolean
}

/**
 * What a node connection may override of the shared options.
 *
 * @category models
 * @since 0.1.0
 */
export interface NodeDefaults {
  readonly offline?: RedisConfig.ConnectionOptions["offline"] | undefined
  readonly reconnect?: RedisConfig.ConnectionOptions["reconnect"] | undefined
  readonly flush?: RedisConfig.ConnectionOptions["flush"] | undefined
  /** Send READONLY on connect while `on` (reads may go to replicas). */
  readonly readOnly: ReadOnlyMode
}

/**
 * The connection options of the node at an address: the shared ones with
 * the node's endpoint and the cluster's defaults.
 *
 * `readOnly` is a getter over the client's `ReadOnlyMode`: the handshake
 * reads `options.readOnly` at every connect, so a connection opened or
 * reconnected after `readonly`/`readwrite` follows the switch in its own
 * handshake (no extra round trip). A copy made by spreading the options
 * (`{ ...options }`) freezes the value of that moment.
 *
 * @category options
 * @since 0.1.0
 */
export const connectionOptions = (base: RedisConfig.ConnectionOptions, defaults: NodeDefaults) =>
(a: Address.Address): RedisConfig.ConnectionOptions => {
  const mode = defaults.readOnly
  return {
    ...base,
    endpoint: RedisConfig.tcp(a.host, a.port),
    // A node that is down fails commands at once (NotSent) instead of
    // queueing them: the executor retries them elsewhere once the topology
    // refresh has seen the failover. The connection keeps reconnecting
    // (capped backoff) for as long as the node is in the topology.
    offline: defaults.offline ?? { _tag: "fail" },
    reconnect: defaults.reconnect ?? defaultReconnect,
    // READONLY is harmless on a primary and needed on a replica; a node's
    // role changes with failovers, so every connection sends it while reads
    // may go to replicas.
    get readOnly() {
      return mode.on
    },
    // Replies from one node wake commands for every node: one write per node
    // per event-loop turn, not per read.
    flush: defaults.flush ?? "ioTurn"
  }
}

// The `addressRemap` option lives in Address.ts (the sentinel client uses it
// too); re-exported for the cluster's options.
export type Remap = Address.Remap
export const remapper = Address.remapper
export const remapProblem = Address.remapProblem

// -----------------------------------------------------------------------------
// the nodes
// -----------------------------------------------------------------------------

/**
 * @category models
 * @since 0.1.0
 */
export interface Nodes {
  readonly registry: NodeRegistry.NodeRegistry
  /** The connection options of a node. */
  readonly options: (address: Address.Address) => RedisConfig.ConnectionOptions
  /** Sends one command on the node's shared connection (hot path). */
  readonly send: <A>(address: Address.Address, command: Command<A>) => Effect.Effect<A, RedisError.RedisError>
  /** Sends commands in one write on the node's shared connection. */
  readonly sendAll: (address: Address.Address, commands: ReadonlyArray<Command<unknown>>) => Effect.Effect<Middleware.Exits>
  /** Runs `f` on a dedicated connection of the node. */
  readonly dedicated: <A, E, R>(
    address: Address.Address,
    f: (connection: Connection.Connection) => Effect.Effect<A, E, R>
  ) => Effect.Effect<A, E | RedisError.RedisError, R>
  /** Reads the node's view of the cluster on a connection of its own, closed after. */
  readonly query: (address: Address.Address) => Effect.Effect<View.View, RedisError.RedisError>
  /** A fresh connection to the node whose every frame goes to `onPush` (MONITOR). */
  readonly feed: (
    address: Address.Address,
    onPush: (value: RespValue) => void
  ) => Effect.Effect<Connection.Connection, RedisError.RedisError, Scope.Scope>
  /**
   * Switches read-only mode: new connections and reconnects follow at once
   * (their handshake reads the mode), and READONLY / READWRITE is sent on
   * the shared connection of every open node.
   */
  readonly setReadOnly: (on: boolean) => Effect.Effect<void>
}

/**
 * @category models
 * @since 0.1.0
 */
export interface NodesOptions {
  readonly options: (address: Address.Address) => RedisConfig.ConnectionOptions
  /** Dedicated connections per node and idle time; `middleware` is ignored (see `middleware`). */
  readonly pool: Pool.PoolOptions
  /** The client's resolved middleware: every node connection's writes pass its wire hooks. */
  readonly middleware: Middleware.Middleware | undefined
  /** Rewrites the addresses topology replies announce. */
  readonly remap: (address: Address.Address) => Address.Address
  readonly transport: Context.Service.Shape<typeof Transport>
  /** The mode `options` reads (`connectionOptions(base, { readOnly })`). */
  readonly readOnly: ReadOnlyMode
}

/**
 * Builds the nodes of a client; their pools live in the current scope.
 *
 * @category constructors
 * @since 0.1.0
 */
export const make = (config: NodesOptions): Effect.Effect<Nodes, never, Scope.Scope> =>
  Effect.gen(function*() {
    const { options, remap, transport } = config
    // The middleware was resolved once by the client; the registry opens
    // pools from whichever fiber first needs a node, so the context's
    // `Middlewares` is pinned here rather than read from that fiber.
    const poolOptions: Pool.PoolOptions = {
      ...config.pool,
      middleware: config.middleware === undefined ? [] : [config.middleware]
    }
    const registry = yield* NodeRegistry.make(
      (node, hooks) =>
        Pool.make(options(Address.parse(node)!), poolOptions, hooks).pipe(
          Effect.provideService(Transport, transport),
          Effect.provideService(Middleware.Middlewares, [])
        ),
      { drainTimeout }
    )

    // Hot path: the router hands out the same NodeInfo objects until the
    // next refresh, so each one remembers its pool. A closed pool is no
    // longer what the registry holds under its key: the entry is refreshed.
    // About 30 ns per command against about 185 ns for formatting
    // `host:port` and looking it up (Node 24, 10M lookups over 3 nodes).
    const known = new WeakMap<Address.Address, { readonly key: string; readonly pool: Pool.Pool }>()
    const poolNow = (a: Address.Address): Pool.Pool | undefined => {
      const hit = known.get(a)
      if (hit !== undefined && registry.lookup(hit.key) === hit.pool) return hit.pool
      const key = Address.format(a)
      const pool = registry.lookup(key)
      if (pool !== undefined) known.set(a, { key, pool })
      return pool
    }
    const pool = (a: Address.Address): Effect.Effect<Pool.Pool> => {
      const now = poolNow(a)
      return now !== undefined ? Effect.succeed(now) : registry.get(Address.format(a))
    }

    const send = <A>(a: Address.Address, command: Command<A>): Effect.Effect<A, RedisError.RedisError> => {
      const now = poolNow(a)
      return now !== undefined
        ? now.shared.send(command)
        : Effect.flatMap(registry.get(Address.format(a)), (p) => p.shared.send(command))
    }

    // Topology queries use a short-lived connection: a dead startup node must
    // not leave a reconnecting pool behind.
    const queryOptions = (a: Address.Address): RedisConfig.ConnectionOptions => ({
      ...options(a),
      readOnly: false,
      offline: { _tag: "fail" },
      reconnect: Schedule.recurs(0).pipe(Schedule.setInputType<RedisError.RedisError>()),
      clientName: undefined,
      setInfo: false
    })
    const query = (a: Address.Address): Effect.Effect<View.View, RedisError.RedisError> =>
      Effect.scoped(Effect.gen(function*() {
        const connection = yield* Connection.make(queryOptions(a)).pipe(Effect.provideService(Transport, transport))
        yield* connection.awaitReady
        const parse = (reply: RespValue, f: typeof View.parseClusterShards) =>
          Effect.try({
            try: () => View.mapAddresses(f(reply, a), remap),
            catch: (e) => RedisError.make(new RedisError.ProtocolError({ message: String(e) }), "Unknown", "CLUSTER")
          })
        const shards = yield* Effect.exit(connection.send(Commands.raw(["CLUSTER", "SHARDS"])))
        if (Exit.isSuccess(shards)) return yield* parse(shards.value, View.parseClusterShards)
        const slots = yield* connection.send(Commands.raw(["CLUSTER", "SLOTS"]))
        return yield* parse(slots, View.parseClusterSlots)
      }))

    return {
      registry,
      options,
      send,
      sendAll: (a, commands) => Effect.flatMap(pool(a), (p) => p.shared.sendAll(commands)),
      dedicated: (a, f) => Effect.flatMap(pool(a), (p) => p.withDedicated(f)),
      query,
      feed: (a, onPush) => Connection.makeFeed(options(a), onPush).pipe(Effect.provideService(Transport, transport)),
      setReadOnly: (on) =>
        Effect.suspend(() => {
          // The mode first: a connection that reconnects from now on says
          // READONLY (or not) in its own handshake.
          config.readOnly.on = on
          const command = on ? READONLY : READWRITE
          return Effect.forEach(registry.nodes(), (key) => {
            const open = registry.lookup(key)
            return open === undefined ? Effect.void : switchMode(open.shared, command)
          }, { concurrency: "unbounded", discard: true })
        })
    }
  })

const READONLY = Commands.readonly()
const READWRITE = Commands.readwrite()

// Sends the mode's command on an open connection. One that is not ready
// (reconnecting) refuses it unsent: its handshake may have read the mode
// just before the switch, so it gets the command once it is ready. A node
// that stays down is left to its next handshake, which reads the new mode.
const switchMode = (connection: Connection.Connection, command: Command<void>): Effect.Effect<void> =>
  Effect.ignore(Effect.catch(connection.send(command), (error) =>
    error.outcome === "NotSent"
      ? Effect.andThen(Effect.timeout(connection.awaitReady, "2 seconds"), connection.send(command))
      : Effect.fail(error)))

/**
 * Applies every topology snapshot to the node state of a client, on a fiber
 * of the scope: each `retain` is given the addresses of the snapshot's nodes
 * and closes what belongs to a node that left (the node pools drain first:
 * see `drainTimeout`).
 *
 * @category lifecycle
 * @since 0.1.0
 */
export const follow = (
  topology: ClusterTopology.Topology,
  retain: ReadonlyArray<(live: ReadonlySet<string>) => Effect.Effect<void>>
): Effect.Effect<void, never, Scope.Scope> =>
  Effect.asVoid(Effect.forkScoped(Stream.runForEach(topology.changes, (snapshot) =>
    Effect.suspend(() => {
      const live = new Set(View.nodes(snapshot.view).map(Address.format))
      return Effect.forEach(retain, (f) => f(live), { discard: true })
    }))))

/**
 * For the `lowestLatency` read-from policy: PINGs every node now and then
 * every 2 s on a fiber of the scope (one fiber per client, not per command),
 * and hands the round trips to the router. A node that does not answer
 * within 1 s counts as infinitely far.
 *
 * @category lifecycle
 * @since 0.1.0
 */
export const measureLatency = (
  nodes: Nodes,
  topology: ClusterTopology.Topology,
  router: ClusterRouter.Router
): Effect.Effect<void, never, Scope.Scope> => {
  const measure = Effect.gen(function*() {
    const pairs = yield* Effect.forEach(View.nodes(topology.current().view), (n) =>
      Effect.gen(function*() {
        const started = performance.now()
        const exit = yield* Effect.exit(Effect.timeout(nodes.send(n, PING), "1 second"))
        return [Address.format(n), Exit.isSuccess(exit) ? performance.now() - started : Infinity] as const
      }), { concurrency: "unbounded" })
    router.setLatencies(new Map(pairs))
  })
  return Effect.andThen(measure, Effect.asVoid(Effect.forkScoped(Effect.forever(Effect.andThen(Effect.sleep("2 seconds"), measure)))))
}

const PING = Commands.ping()

/**
 * redis-py's `replace_default_node`: when the shared connection of the
 * default node the client chose drops, another primary (at random) takes
 * keyless commands at once, and a topology refresh is asked for. A default
 * node the user set is left alone. Runs on a fiber of the scope.
 *
 * @category lifecycle
 * @since 0.1.0
 */
export const replaceDefaultOnDisconnect = (
  registry: NodeRegistry.NodeRegistry,
  topology: ClusterTopology.Topology,
  router: ClusterRouter.Router
): Effect.Effect<void, never, Scope.Scope> =>
  Effect.asVoid(Effect.forkScoped(Stream.runForEach(registry.events, (event) =>
    Effect.sync(() => {
      if (event._tag !== "Disconnected" || router.defaultIsUsers()) return
      const current = router.defaultNode(topology.current())
      if (current === undefined || Address.format(current) !== event.node) return
      router.chooseDefaultNode(topology.current(), current)
      topology.requestRefresh("connection-failures")
    }))))

/**
 * A `Redis` bound to one node: no routing, no redirects, no retries; its
 * subscriptions use the node's own subscriber connection.
 *
 * @category constructors
 * @since 0.1.0
 */
export const client = (
  nodes: Nodes,
  pubsub: {
    readonly forNode: (address: Address.Address) => Effect.Effect<PubSub.PubSub>
    readonly ofNode: (address: Address.Address) => PubSub.PubSub | undefined
  },
  middleware: Middleware.Middleware | undefined,
  a: Address.Address
): Redis.RedisShape =>
  Redis.fromBackend({
    execute: (command) => nodes.send(a, command),
    executeAll: (commands) => nodes.sendAll(a, commands),
    withDedicated: (_keys, f) => nodes.dedicated(a, f),
    pubsub: {
      subscribe: (kind, names) => Stream.unwrap(Effect.map(pubsub.forNode(a), (ps) => ps.subscribe(kind, names))),
      generation: () => pubsub.ofNode(a)?.generation() ?? 0,
      status: () => pubsub.ofNode(a)?.status?.() ?? "closed"
    },
    monitorConnection: (onPush) => nodes.feed(a, onPush)
  }, middleware)
