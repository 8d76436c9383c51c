/**
 * Redis Sentinel: discovery of the primary and the replicas of a named
 * service, and `Redis` layers that follow failovers (redis-py's
 * `master_for` and `slave_for`).
 *
 * This module is the wiring: the options, the `Sentinel` service, and the
 * layers. The parts live beside it:
 *
 * - `SentinelEvents`: what the sentinels publish, parsed (pure).
 * - `SentinelDiscovery`: asking the sentinels (with the discovery schedule),
 *   the watchers of their events, the `Sentinel` service's state.
 * - `SentinelNodes`: the data-node pools (a `NodeRegistry`) and the PubSub
 *   that follows the node in use.
 * - `SentinelMaster`: the primary, and the switch on a failover (a state
 *   value and a pure transition).
 * - `SentinelReplica`: the healthy replicas, chosen by a policy and
 *   re-checked with `ROLE`.
 *
 * Every layer's fibers (watchers, re-discovery loops, refresh timers,
 * subscription followers) live in the layer's scope. Each `Redis` built here
 * passes the middlewares of its options and context (`Middleware`), and its
 * `events` stream carries the registry's connection events plus
 * `SentinelSwitch` (master), `NodeAdded`/`NodeRemoved` (replicas) and
 * `RefreshDone`.
 *
 * It does not make the server's asynchronous replication safe: writes
 * acknowledged by a primary before any sentinel announced its demotion can
 * still be lost by the server (docs/GUARANTEES.md).
 *
 * @since 0.1.0
 */
import * as Config from "effect/Config"
import * as Context from "effect/Context"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import type * as Exit from "effect/Exit"
import * as Layer from "effect/Layer"
import type * as Redacted from "effect/Redacted"
import type * as Schedule from "effect/Schedule"
import type * as Scope from "effect/Scope"
import type * as Stream from "effect/Stream"
import { type Remap, remapProblem } from "../Address.ts"
import type { Command } from "../Command.ts"
import * as Delivery from "../Delivery.ts"
import * as Middleware from "../Middleware.ts"
import * as Pool from "../Pool.ts"
import * as PubSub from "../PubSub.ts"
import * as Redis from "../Redis.ts"
import type * as Standalone from "../Standalone.ts"
import type * as RedisConfig from "../RedisConfig.ts"
import * as RedisError from "../RedisError.ts"
import type { Transport } from "../Transport.ts"
import * as SentinelDiscovery from "./SentinelDiscovery.ts"
import type { SentinelEvent } from "./SentinelEvents.ts"
import * as SentinelMaster from "./SentinelMaster.ts"
import * as SentinelNodes from "./SentinelNodes.ts"
import * as SentinelReplica from "./SentinelReplica.ts"

/**
 * What the sentinels publish, parsed (see `SentinelEvents`).
 *
 * @category parsing
 * @since 0.1.0
 */
export {
  concerns,
  EVENT_CHANNELS,
  isHealthyReplica,
  parsePromoted,
  parseSwitchMaster,
  type SentinelEvent,
  toRecord
} from "./SentinelEvents.ts"

/**
 * Event times and the discovery schedule (see `SentinelDiscovery`).
 *
 * @category defaults
 * @since 0.1.0
 */
export { defaultDiscoveryRetry, preciseNow } from "./SentinelDiscovery.ts"

// -----------------------------------------------------------------------------
// options and models
// -----------------------------------------------------------------------------

/**
 * How to reach the sentinels of one service.
 *
 * @category models
 * @since 0.1.0
 */
export interface SentinelOptions {
  /** Seed sentinels: `"host:port"` or `{ host, port }`. More are learnt from `SENTINEL SENTINELS`. */
  readonly sentinels: ReadonlyArray<string | { readonly host: string; readonly port: number }>
  /** The service name (`sentinel monitor <name> ...`). */
  readonly masterName: string
  /** Credentials of the sentinels themselves (they may differ from the data nodes'). */
  readonly sentinelUsername?: string | undefined
  readonly sentinelPassword?: Redacted.Redacted<string> | string | undefined
  /** TLS to the sentinels. */
  readonly sentinelTls?: RedisConfig.TlsOptions | undefined
  /** Connect plus answer, per sentinel, during discovery (default 500 ms: "a few hundreds of milliseconds"). */
  readonly sentinelTimeout?: Duration.Input | undefined
  /** A primary counts only when its sentinel sees at least this many other sentinels (default 0). */
  readonly minOtherSentinels?: number | undefined
  /** Retries of a discovery that found nothing (default `defaultDiscoveryRetry`). */
  readonly discoveryRetry?: Schedule.Schedule<unknown, RedisError.RedisError> | undefined
  /** Re-read the state this often even without events (default 10 s). */
  readonly refreshInterval?: Duration.Input | undefined
  /**
   * Rewrites every address a sentinel reports (the primary, replicas, other
   * sentinels, switch announcements) before it is dialled: a function, or a
   * table from reported `host:port` to the address to dial (NAT, containers;
   * redis-py's `force_master_ip` is `(a) => ({ host: ip, port: a.port })`).
   */
  readonly addressRemap?: Remap | undefined
}

/**
 * Which replica a command of the replica layer goes to (see
 * `SentinelReplica.ReplicaSelection`).
 *
 * @category models
 * @since 0.1.0
 */
export type ReplicaSelection = SentinelReplica.ReplicaSelection

/**
 * Options of the master and replica layers: the sentinels, plus the options
 * of the data-node connections (credentials, TLS, timeouts, ...).
 *
 * @category models
 * @since 0.1.0
 */
export type Options =
  & SentinelOptions
  & Omit<Standalone.Options, "url" | "host" | "port" | "path" | "endpoint">
  & {
    /** How long a command waits for a verified primary during a switch (default 10 s). */
    readonly switchTimeout?: Duration.Input | undefined
    /**
     * Master layer: how long writes are held once the sentinels selected a
     * replica to promote (`+selected-slave`), waiting for it to answer as
     * primary (default 5 s; 0 turns holding off). Reads go on meanwhile.
     * Held writes go to the new primary, or back to the old one if the
     * failover is aborted or the hold runs out (docs/GUARANTEES.md).
     */
    readonly failoverHold?: Duration.Input | undefined
    /** Replica layer: which ready replica a command goes to (default `"roundRobin"`). */
    readonly replicaSelection?: ReplicaSelection | undefined
    /** Replica layer: how often the replicas in use are asked `ROLE` again (default 10 s). */
    readonly replicaCheckInterval?: Duration.Input | undefined
  }

/**
 * A change of primary as the master layer carried it out.
 *
 * @category models
 * @since 0.1.0
 */
export interface Switch {
  readonly from: string | undefined
  readonly to: string
  /** What made the client stop using `from`: `+switch-master`, `READONLY`, `discovery`, ... */
  readonly evidence: string
  /** When the evidence arrived (`preciseNow`): from then on nothing was sent to `from`. */
  readonly evidenceAt: number
  /** When `to` was verified and commands flowed again (`preciseNow`). */
  readonly switchedAt: number
}

/**
 * What the client knows of the service.
 *
 * @category models
 * @since 0.1.0
 */
export interface State {
  readonly masterName: string
  /** The last verified primary the master layer moved to (undefined before its first discovery). */
  readonly master: RedisConfig.Endpoint | undefined
  readonly replicas: ReadonlyArray<RedisConfig.Endpoint>
  /** Sentinels in the order they are asked. */
  readonly sentinels: ReadonlyArray<RedisConfig.Endpoint>
  readonly lastEvent: SentinelEvent | undefined
  readonly switches: ReadonlyArray<Switch>
}

/**
 * The Sentinel service.
 *
 * @category models
 * @since 0.1.0
 */
export interface SentinelShape {
  /** The primary of `name` (default: the configured service), verified with `ROLE`. */
  readonly discoverMaster: (name?: string) => Effect.Effect<RedisConfig.Endpoint, RedisError.RedisError>
  /** The healthy replicas of `name`. */
  readonly discoverReplicas: (name?: string) => Effect.Effect<ReadonlyArray<RedisConfig.Endpoint>, RedisError.RedisError>
  /** The current state. */
  readonly state: Effect.Effect<State>
  /** The state, then every change of it. */
  readonly changes: Stream.Stream<State>
  /** Every event any sentinel publishes on the watched channels, from now on. */
  readonly events: Stream.Stream<SentinelEvent>
  /**
   * Sends a command (`Commands.sentinelMasters()`, `sentinelCkquorum(name)`,
   * ...) to the sentinels in asking order until one answers, and gives its
   * reply; a refusal is an answer (redis-py's `execute_command(..., once=True)`).
   * Each sentinel is asked on a connection of its own, within `sentinelTimeout`.
   */
  readonly execute: <A>(command: Command<A>) => Effect.Effect<A, RedisError.RedisError>
  /**
   * Sends a command to every known sentinel at once: one result per
   * sentinel, by `host:port` (redis-py's `execute_command`, e.g. `SENTINEL SET`
   * or `SENTINEL RESET` everywhere).
   */
  readonly executeAll: <A>(command: Command<A>) => Effect.Effect<Map<string, Exit.Exit<A, RedisError.RedisError>>>
}

/**
 * @category services
 * @since 0.1.0
 */
export class Sentinel extends Context.Service<Sentinel, SentinelShape>()("@redis-effect/redis/Sentinel") {}

/**
 * Whether a failed command may be sent again to the (new) primary without
 * risking a second execution: `Delivery.decide` for a topology whose
 * commands may move to another node (never written, refused as `READONLY`,
 * or a read or idempotent command).
 *
 * @category retry
 * @since 0.1.0
 */
export const isSafeToResend = (command: Command<unknown>, error: RedisError.RedisError): boolean =>
  Delivery.isRetry(command, error, "nodes")

// -----------------------------------------------------------------------------
// validation
// -----------------------------------------------------------------------------

const durationProblem = (name: string, input: Duration.Input | undefined, orZero = false): string | undefined => {
  if (input === undefined) return undefined
  let d: Duration.Duration
  try {
    d = Duration.fromInputUnsafe(input)
  } catch {
    return `${name} must be a duration`
  }
  if (orZero && Duration.isZero(d)) return undefined
  return Duration.isFinite(d) && Duration.toMillis(d) > 0 ? undefined : `${name} must be a finite, positive duration${orZero ? " or 0" : ""}`
}

/**
 * What is wrong with the Sentinel options, as "`name` must ...", or
 * undefined (the data nodes' connection options are checked by
 * `RedisConfig.resolve`).
 *
 * @category validation
 * @since 0.1.0
 */
export const problemOf = (options: Options): string | undefined => {
  const pool = Pool.problemOf(options)
  if (pool !== undefined) return pool
  const selection = options.replicaSelection
  if (selection !== undefined && typeof selection !== "function" && !SentinelReplica.REPLICA_SELECTIONS.includes(selection)) {
    return `replicaSelection must be a function or one of ${SentinelReplica.REPLICA_SELECTIONS.join(", ")}`
  }
  return remapProblem(options.addressRemap) ??
    durationProblem("replicaCheckInterval", options.replicaCheckInterval) ??
    durationProblem("refreshInterval", options.refreshInterval) ??
    durationProblem("sentinelTimeout", options.sentinelTimeout) ??
    durationProblem("switchTimeout", options.switchTimeout) ??
    durationProblem("failoverHold", options.failoverHold, true) ??
    bufferText(PubSub.bufferProblem(options.subscriptionBuffer))
}

const bufferText = (problem: string | undefined) => (problem === undefined ? undefined : `subscriptionBuffer: ${problem}`)

const validate = (options: Options): Effect.Effect<void, RedisError.RedisError> => {
  const problem = problemOf(options)
  return problem === undefined ? Effect.void : Effect.fail(RedisError.invalidArgument(problem))
}

// -----------------------------------------------------------------------------
// constructors
// -----------------------------------------------------------------------------

type BackendOf = (
  options: Options,
  discovery: SentinelDiscovery.Discovery,
  data: RedisConfig.ConnectionOptions
) => Effect.Effect<Redis.Backend, RedisError.RedisError, Scope.Scope | Transport>

// The discovery, one backend over it, and the Redis facade with the
// caller-level middlewares (the wire-level ones are in the node pools).
const withBackend = (options: Options, backendOf: BackendOf) =>
  Effect.gen(function*() {
    yield* validate(options)
    const data = yield* SentinelNodes.dataOptionsOf(options)
    const discovery = yield* SentinelDiscovery.make(options, data)
    const middleware = yield* Middleware.resolve(options.middleware)
    const backend = yield* backendOf(options, discovery, data)
    return { redis: Redis.fromBackend(backend, middleware), sentinel: discovery.service }
  })

/**
 * The `Redis` service for the primary of a Sentinel-managed service, and the
 * `Sentinel` service it uses.
 *
 * @category constructors
 * @since 0.1.0
 */
export const makeMaster = (
  options: Options
): Effect.Effect<{ readonly redis: Redis.RedisShape; readonly sentinel: SentinelShape }, RedisError.RedisError, Scope.Scope | Transport> =>
  withBackend(options, SentinelMaster.make)

/**
 * The `Redis` service over the replicas of a Sentinel-managed service: each
 * command goes to a healthy replica chosen by `replicaSelection` (round
 * robin by default); with no replica up, to the primary. Meant for reads: a
 * write fails `READONLY`.
 *
 * @category constructors
 * @since 0.1.0
 */
export const makeReplica = (
  options: Options
): Effect.Effect<{ readonly redis: Redis.RedisShape; readonly sentinel: SentinelShape }, RedisError.RedisError, Scope.Scope | Transport> =>
  withBackend(options, SentinelReplica.make)

// -----------------------------------------------------------------------------
// layers
// -----------------------------------------------------------------------------

/**
 * The `Sentinel` service alone (discovery, state, events). Data-node
 * options (password, TLS) are used to verify primaries with `ROLE`.
 *
 * @category constructors
 * @since 0.1.0
 */
export const make = (options: Options): Effect.Effect<SentinelShape, RedisError.RedisError, Scope.Scope | Transport> =>
  Effect.andThen(
    validate(options),
    Effect.flatMap(
      SentinelNodes.dataOptionsOf(options),
      (data) => Effect.map(SentinelDiscovery.make(options, data), (discovery) => discovery.service)
    )
  )

/**
 * @category layers
 * @since 0.1.0
 */
export const layer = (options: Options): Layer.Layer<Sentinel, RedisError.RedisError, Transport> =>
  Layer.effect(Sentinel)(Effect.map(make(options), Sentinel.of))

/**
 * `Redis` for the primary of `masterName` (redis-py's `master_for`), plus the
 * `Sentinel` service it follows.
 *
 * @category layers
 * @since 0.1.0
 */
export const layerMaster = (options: Options): Layer.Layer<Redis.Redis | Sentinel, RedisError.RedisError, Transport> =>
  Layer.effectContext(Effect.map(makeMaster(options), ({ redis, sentinel }) =>
    Context.make(Redis.Redis, Redis.Redis.of(redis)).pipe(Context.add(Sentinel, Sentinel.of(sentinel)))))

/**
 * `Redis` over the replicas of `masterName` (redis-py's `slave_for`): round
 * robin, falling back to the primary when no replica is up.
 *
 * @category layers
 * @since 0.1.0
 */
export const layerReplica = (options: Options): Layer.Layer<Redis.Redis | Sentinel, RedisError.RedisError, Transport> =>
  Layer.effectContext(Effect.map(makeReplica(options), ({ redis, sentinel }) =>
    Context.make(Redis.Redis, Redis.Redis.of(redis)).pipe(Context.add(Sentinel, Sentinel.of(sentinel)))))

/**
 * `layerMaster` with its options read from `Config`: each field may be a
 * `Config` (e.g. `password: Config.Redacted("REDIS_PASSWORD")`,
 * `sentinelPassword: Config.Redacted("SENTINEL_PASSWORD")`), or the whole
 * record one `Config`.
 *
 * @category layers
 * @since 0.1.0
 */
export const layerMasterConfig = (
  options: Config.Wrap<Options>
): Layer.Layer<Redis.Redis | Sentinel, RedisError.RedisError | Config.ConfigError, Transport> =>
  Layer.unwrap(Effect.map(Config.unwrap(options), layerMaster))

/**
 * `layerReplica` with its options read from `Config`.
 *
 * @category layers
 * @since 0.1.0
 */
export const layerReplicaConfig = (
  options: Config.Wrap<Options>
): Layer.Layer<Redis.Redis | Sentinel, RedisError.RedisError | Config.ConfigError, Transport> =>
  Layer.unwrap(Effect.map(Config.unwrap(options), layerReplica))

/**
 * `layer` (the `Sentinel` service alone) with its options read from `Config`.
 *
 * @category layers
 * @since 0.1.0
 */
export const layerConfig = (
  options: Config.Wrap<Options>
): Layer.Layer<Sentinel, RedisError.RedisError | Config.ConfigError, Transport> =>
  Layer.unwrap(Effect.map(Config.unwrap(options), layer))
