/**
 * Metrics, opt-in, with `effect/Metric`: a `Middleware` that measures what
 * callers run, `track` that folds a client's `events` into connection and
 * topology metrics, and `countGaps` for pub/sub streams. Any exporter that
 * reads Effect's metric registry shows them (`effect/observability`'s
 * `PrometheusMetrics`, `OtlpMetrics`).
 *
 * The metrics (the prefix is `redis` by default):
 *
 * | name | kind | labels | from |
 * | --- | --- | --- | --- |
 * | `redis_command_duration_seconds` | histogram | command, outcome | `middleware` |
 * | `redis_command_errors_total` | counter | command, reason | `middleware` |
 * | `redis_commands_in_flight` | gauge | | `middleware` |
 * | `redis_batch_duration_seconds` | histogram | kind, outcome | `middleware` |
 * | `redis_batch_commands_total` | counter | kind | `middleware` |
 * | `redis_redirects_total` | counter | kind (moved, ask) | `middleware` |
 * | `redis_dedicated_acquire_seconds` | histogram | kind (blocking, transaction) | `middleware` |
 * | `redis_connections_open` | gauge | | `track` |
 * | `redis_disconnects_total`, `redis_reconnects_total` | counter | node | `track` |
 * | `redis_topology_refreshes_total` | counter | trigger, changed | `track` |
 * | `redis_topology_node_changes_total` | counter | change (added, removed) | `track` |
 * | `redis_slots_moved_total`, `redis_failovers_total` | counter | | `track` |
 * | `redis_sentinel_switches_total` | counter | master | `track` |
 * | `redis_pubsub_resubscribes_total` | counter | | `track` |
 * | `redis_pubsub_gaps_total` | counter | reason, subscription | `countGaps` |
 *
 * `outcome` is `ok`, or what became of a failed command: `rejected` (the
 * server refused it), `not_sent`, `unknown` (written, no reply), or
 * `interrupted` / `defect`. Labels hold command names, reason tags and node
 * addresses only: never an argument, a key or a credential.
 *
 * **What it cannot see**: the time a caller waits for a dedicated connection
 * is measured for blocking commands and transactions (from the caller's
 * hook to the write on the borrowed connection); `withConnection` and
 * `watch` run no caller-level hook, so their waits are not measured.
 * `redis_connections_open` counts the nodes whose connection this tracker saw
 * become ready: connections that were ready before `track` subscribed count
 * from their next reconnect.
 *
 * **Cost**: nothing when not installed. Installed: per command, two clock
 * reads, the in-flight gauge up and down and one histogram update (the
 * metric objects of a command name are built once), about a microsecond of
 * CPU (`bench/middleware.ts` measures it); per write, one `tapError`.
 * Labels are few and bounded: command names, reason tags, outcomes, node
 * addresses.
 *
 * It exports nothing (that is the exporter reading the registry), and
 * `track` forks its fibers into the caller's scope only.
 *
 * @since 0.1.0
 */
import * as Cause from "effect/Cause"
import * as Clock from "effect/Clock"
import type * as Context from "effect/Context"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import type * as Fiber from "effect/Fiber"
import type * as Layer from "effect/Layer"
import * as Metric from "effect/Metric"
import * as Schedule from "effect/Schedule"
import type * as Scope from "effect/Scope"
import * as Stream from "effect/Stream"
import type * as ClientCache from "./ClientCache.ts"
import type { Command } from "./Command.ts"
import * as Cmd from "./Command.ts"
import * as Middleware from "./Middleware.ts"
import type * as PubSub from "./PubSub.ts"
import * as RedisError from "./RedisError.ts"
import type * as TopologyEvent from "./TopologyEvent.ts"

// -----------------------------------------------------------------------------
// options
// -----------------------------------------------------------------------------

/**
 * @category models
 * @since 0.1.0
 */
export interface Options {
  /** Prefix of every metric name, joined with `_` (default `redis`; `""` for none). */
  readonly prefix?: string | undefined
  /** Histogram bucket bounds, in seconds (default `defaultBoundaries`). */
  readonly boundaries?: ReadonlyArray<number> | undefined
  /** Labels added to every metric (a client's name, say). */
  readonly attributes?: Readonly<Record<string, string>> | undefined
}

/**
 * @category models
 * @since 0.1.0
 */
export interface TrackOptions extends Options {
  /** How often `pubsubGeneration` is read (default 5 s). */
  readonly pubsubInterval?: Duration.Input | undefined
}

/**
 * Bucket bounds for command durations, in seconds: 100 µs to 10 s (the
 * OpenTelemetry database bounds, with finer ones below 1 ms, where most
 * Redis commands fall).
 *
 * @category defaults
 * @since 0.1.0
 */
export const defaultBoundaries: ReadonlyArray<number> = [
  0.0001,
  0.00025,
  0.0005,
  0.001,
  0.0025,
  0.005,
  0.01,
  0.025,
  0.05,
  0.1,
  0.25,
  0.5,
  1,
  2.5,
  5,
  10
]

// -----------------------------------------------------------------------------
// pure policy
// -----------------------------------------------------------------------------

/**
 * The `outcome` label of a finished command.
 *
 * @category models
 * @since 0.1.0
 */
export type Outcome = "ok" | "rejected" | "not_sent" | "unknown" | "interrupted" | "defect"

const OUTCOMES: ReadonlyArray<Outcome> = ["ok", "rejected", "not_sent", "unknown", "interrupted", "defect"]

const errorOutcome = (error: RedisError.RedisError): number =>
  error.outcome === "Rejected" ? 1 : error.outcome === "NotSent" ? 2 : 3

// The outcome as an index into OUTCOMES (the hot path indexes arrays, not maps).
const outcomeIndex = (exit: Exit.Exit<unknown, unknown>): number => {
  if (Exit.isSuccess(exit)) return 0
  const error = RedisError.failureOf(exit)
  if (error !== undefined) return RedisError.isRedisError(error) ? errorOutcome(error) : 3
  return Cause.hasInterruptsOnly(exit.cause) ? 4 : 5
}

/**
 * The outcome of a command's exit: `ok`, the `RedisError`'s outcome in
 * snake case, or `interrupted` / `defect`.
 *
 * @category policy
 * @since 0.1.0
 */
export const outcomeOf = (exit: Exit.Exit<unknown, unknown>): Outcome => OUTCOMES[outcomeIndex(exit)]

/**
 * The outcome of a pipeline that completed: its first failed command's, or
 * `ok`.
 *
 * @category policy
 * @since 0.1.0
 */
export const pipelineOutcome = (exits: Middleware.Exits): Outcome => {
  const error = RedisError.firstFailure(exits)
  return error === undefined ? "ok" : OUTCOMES[errorOutcome(error)]
}

/**
 * What became of one node's connection, seen from a stream of events: which
 * nodes are up, and which were lost (so that the next `Ready` is a
 * reconnect). Pure state machine: `apply` says what to count.
 *
 * @category policy
 * @since 0.1.0
 */
export class ConnectionState {
  private readonly up = new Set<string>()
  private readonly lost = new Set<string>()
  /** How many nodes are up. */
  get open(): number {
    return this.up.size
  }
  /** Applies one node event; returns `"reconnect"` or `"disconnect"` when that is what it was. */
  apply(event: TopologyEvent.TopologyEvent & { readonly _tag: "Connection" }): "reconnect" | "disconnect" | undefined {
    const { node } = event.event
    switch (event.event._tag) {
      case "Ready": {
        this.up.add(node)
        return this.lost.delete(node) ? "reconnect" : undefined
      }
      case "Disconnected": {
        this.up.delete(node)
        this.lost.add(node)
        return "disconnect"
      }
      case "Closed": {
        this.up.delete(node)
        this.lost.delete(node)
        return undefined
      }
      default:
        return undefined
    }
  }
}

/**
 * How many resubscribe rounds happened between two readings of
 * `pubsubGeneration` (the first round, the initial subscribe, is not one).
 *
 * @category policy
 * @since 0.1.0
 */
export const resubscribes = (before: number, after: number): number => Math.max(0, after - Math.max(before, 1))

// -----------------------------------------------------------------------------
// instruments
// -----------------------------------------------------------------------------

const BLOCKING = Cmd.Flags.BLOCKING

const nameWith = (options: Options) => {
  const prefix = options.prefix ?? "redis"
  return (name: string) => (prefix === "" ? name : `${prefix}_${name}`)
}

const counterOf = (options: Options, name: string, description: string) => {
  const named = nameWith(options)(name)
  const cache = new Map<string, Metric.Counter<number>>()
  // One counter per label set, built on first use.
  return (labels?: Readonly<Record<string, string>>): Metric.Counter<number> => {
    const key = labels === undefined ? "" : JSON.stringify(labels)
    let counter = cache.get(key)
    if (counter === undefined) {
      counter = Metric.counter(named, { description, incremental: true, attributes: { ...options.attributes, ...labels } })
      cache.set(key, counter)
    }
    return counter
  }
}

const histogramOf = (options: Options, name: string, description: string) => {
  const named = nameWith(options)(name)
  const boundaries = options.boundaries ?? defaultBoundaries
  return (labels: Readonly<Record<string, string>>): Metric.Histogram<number> =>
    Metric.histogram(named, { description, boundaries, attributes: { ...options.attributes, ...labels } })
}

const seconds = (clock: Clock.Clock, start: bigint): number => Number(clock.monotonicTimeNanosUnsafe() - start) / 1e9

// -----------------------------------------------------------------------------
// the middleware
// -----------------------------------------------------------------------------

// The metric objects of the middleware, each built once (per label set, on
// first use): the hot path looks them up in arrays and maps, never builds one.
const commandInstruments = (options: Options) => {
  const durationHistogram = histogramOf(options, "command_duration_seconds", "Redis command duration, all attempts")
  const batchHistogram = histogramOf(options, "batch_duration_seconds", "Redis pipeline and transaction duration")
  const acquireHistogram = histogramOf(options, "dedicated_acquire_seconds", "Wait for a dedicated connection")
  const errors = counterOf(options, "command_errors_total", "Redis commands that failed, by reason")
  const batchCommands = counterOf(options, "batch_commands_total", "Commands sent in pipelines and transactions")
  const redirects = counterOf(options, "redirects_total", "MOVED and ASK replies")
  // command name -> histogram per outcome index.
  const durations = new Map<string, Array<Metric.Histogram<number> | undefined>>()
  const batchDurations = new Map<string, Metric.Histogram<number>>()
  return {
    inFlight: Metric.gauge(nameWith(options)("commands_in_flight"), {
      description: "Redis commands started and not finished",
      attributes: options.attributes
    }),
    moved: redirects({ kind: "moved" }),
    ask: redirects({ kind: "ask" }),
    batchCommands: { pipeline: batchCommands({ kind: "pipeline" }), transaction: batchCommands({ kind: "transaction" }) },
    acquire: { blocking: acquireHistogram({ kind: "blocking" }), transaction: acquireHistogram({ kind: "transaction" }) },
    duration: (name: string, outcome: number): Metric.Histogram<number> => {
      let row = durations.get(name)
      if (row === undefined) {
        row = new Array(OUTCOMES.length)
        durations.set(name, row)
      }
      return row[outcome] ??= durationHistogram({ command: name, outcome: OUTCOMES[outcome] })
    },
    batchDuration: (kind: Middleware.BatchKind, outcome: Outcome): Metric.Histogram<number> => {
      const key = `${kind}:${outcome}`
      let histogram = batchDurations.get(key)
      if (histogram === undefined) {
        histogram = batchHistogram({ kind, outcome })
        batchDurations.set(key, histogram)
      }
      return histogram
    },
    countError: (error: unknown, fallback: string, context: Context.Context<never>): void => {
      if (!RedisError.isRedisError(error)) return
      errors({ command: error.command ?? fallback, reason: error.reason._tag }).updateUnsafe(1, context)
    }
  }
}

// Redirects seen on the wire: a single write failed with MOVED/ASK, or the
// replies of a batch written to one node.
const redirectCounters = (instruments: ReturnType<typeof commandInstruments>) => {
  const { ask, moved } = instruments
  const onSendError = (error: RedisError.RedisError) => {
    const tag = error.reason._tag
    if (tag !== "Moved" && tag !== "Ask") return Effect.void
    return Effect.withFiber((fiber) => {
      ;(tag === "Moved" ? moved : ask).updateUnsafe(1, fiber.context)
      return Effect.void
    })
  }
  const onSendAllExits = (exits: Middleware.Exits) => {
    let movedCount = 0
    let askCount = 0
    for (const exit of exits) {
      if (Exit.isSuccess(exit)) continue
      const tag = RedisError.failureOf(exit)?.reason._tag
      if (tag === "Moved") movedCount++
      else if (tag === "Ask") askCount++
    }
    if (movedCount === 0 && askCount === 0) return Effect.void
    return Effect.withFiber((fiber) => {
      if (movedCount > 0) moved.updateUnsafe(movedCount, fiber.context)
      if (askCount > 0) ask.updateUnsafe(askCount, fiber.context)
      return Effect.void
    })
  }
  return { onSendError, onSendAllExits }
}

/**
 * The metrics middleware.
 *
 * @category constructors
 * @since 0.1.0
 */
export const middleware = (options: Options = {}): Middleware.Middleware => {
  const instruments = commandInstruments(options)
  const { acquire, inFlight } = instruments
  const { onSendAllExits, onSendError } = redirectCounters(instruments)

  // Callers waiting for a dedicated connection: the fiber that ran the
  // caller's hook also writes on the borrowed connection, so its first write
  // ends the wait.
  const waiting = new Map<Fiber.Fiber<unknown, unknown>, { readonly start: bigint; readonly kind: "blocking" | "transaction" }>()
  const acquired = (fiber: Fiber.Fiber<unknown, unknown>) => {
    const wait = waiting.get(fiber)
    if (wait === undefined) return
    waiting.delete(fiber)
    acquire[wait.kind].updateUnsafe(seconds(fiber.getRef(Clock.Clock), wait.start), fiber.context)
  }

  const execute = <A>(command: Command<A>, next: Effect.Effect<A, RedisError.RedisError>) =>
    Effect.withFiber<A, RedisError.RedisError>((fiber) => {
      const context = fiber.context
      const clock = fiber.getRef(Clock.Clock)
      const start = clock.monotonicTimeNanosUnsafe()
      inFlight.modifyUnsafe(1, context)
      const blocking = (command.flags & BLOCKING) !== 0
      if (blocking) waiting.set(fiber, { start, kind: "blocking" })
      return Effect.onExit(next, (exit) => {
        inFlight.modifyUnsafe(-1, context)
        if (blocking) waiting.delete(fiber)
        const outcome = outcomeIndex(exit)
        instruments.duration(command.name, outcome).updateUnsafe(seconds(clock, start), context)
        if (outcome !== 0) instruments.countError(RedisError.failureOf(exit), command.name, context)
        return Effect.void
      })
    })

  const batch = <A, E>(kind: Middleware.BatchKind, commands: ReadonlyArray<Command<unknown>>, next: Effect.Effect<A, E>) =>
    Effect.withFiber<A, E>((fiber) => {
      const context = fiber.context
      const clock = fiber.getRef(Clock.Clock)
      const start = clock.monotonicTimeNanosUnsafe()
      const n = commands.length
      inFlight.modifyUnsafe(n, context)
      if (kind === "transaction") waiting.set(fiber, { start, kind: "transaction" })
      return Effect.onExit(next, (exit) => {
        inFlight.modifyUnsafe(-n, context)
        if (kind === "transaction") waiting.delete(fiber)
        let outcome: Outcome
        if (Exit.isSuccess(exit) && kind === "pipeline") {
          // A pipeline: one exit per command, each failure counted by its command.
          const exits = exit.value as Middleware.Exits
          outcome = pipelineOutcome(exits)
          if (outcome !== "ok") {
            for (let i = 0; i < exits.length; i++) instruments.countError(RedisError.failureOf(exits[i]), commands[i]?.name ?? "?", context)
          }
        } else {
          outcome = outcomeOf(exit)
          if (outcome !== "ok") instruments.countError(RedisError.failureOf(exit), kind === "pipeline" ? "PIPELINE" : "MULTI", context)
        }
        instruments.batchDuration(kind, outcome).updateUnsafe(seconds(clock, start), context)
        instruments.batchCommands[kind].updateUnsafe(n, context)
        return Effect.void
      })
    })

  return {
    name: "metrics",
    execute,
    batch,
    // The map is empty unless a caller waits for a dedicated connection: only
    // then does a write look at its fiber.
    send: (_node, _command, next) =>
      waiting.size === 0
        ? Effect.tapError(next, onSendError)
        : Effect.withFiber((fiber) => {
          acquired(fiber)
          return Effect.tapError(next, onSendError)
        }),
    sendAll: (_node, _commands, next) =>
      waiting.size === 0
        ? Effect.tap(next, onSendAllExits)
        : Effect.withFiber((fiber) => {
          acquired(fiber)
          return Effect.tap(next, onSendAllExits)
        })
  }
}

/**
 * The metrics middleware for every client built with this layer's context
 * (after those of the client's own `middleware` option).
 *
 * @category layers
 * @since 0.1.0
 */
export const layer = (options: Options = {}): Layer.Layer<Middleware.Middlewares> =>
  Middleware.layer(middleware(options))

// -----------------------------------------------------------------------------
// events
// -----------------------------------------------------------------------------

/**
 * What `track` reads of a client (a `Redis.RedisShape` has both).
 *
 * @category models
 * @since 0.1.0
 */
export interface Trackable {
  readonly events: Stream.Stream<TopologyEvent.TopologyEvent>
  readonly pubsubGeneration: Effect.Effect<number>
}

const eventCounter = (options: Options) => {
  const connections = Metric.gauge(nameWith(options)("connections_open"), {
    description: "Nodes whose connection is ready",
    attributes: options.attributes
  })
  return {
    connections,
    disconnects: counterOf(options, "disconnects_total", "Connections lost"),
    reconnects: counterOf(options, "reconnects_total", "Connections re-established after a loss"),
    refreshes: counterOf(options, "topology_refreshes_total", "Topology refreshes"),
    nodeChanges: counterOf(options, "topology_node_changes_total", "Nodes added to or removed from the topology"),
    slotsMoved: counterOf(options, "slots_moved_total", "Slots that changed owner"),
    failovers: counterOf(options, "failovers_total", "Primary changes observed"),
    switches: counterOf(options, "sentinel_switches_total", "Primary switches named by the sentinels")
  }
}

type EventCounters = ReturnType<typeof eventCounter>

const countEvent = (
  counters: EventCounters,
  state: ConnectionState,
  event: TopologyEvent.TopologyEvent,
  context: Context.Context<never>
): void => {
  switch (event._tag) {
    case "Connection": {
      const what = state.apply(event)
      if (what === "disconnect") counters.disconnects({ node: event.event.node }).updateUnsafe(1, context)
      if (what === "reconnect") counters.reconnects({ node: event.event.node }).updateUnsafe(1, context)
      counters.connections.updateUnsafe(state.open, context)
      return
    }
    case "RefreshDone":
      return counters.refreshes({ trigger: event.trigger, changed: String(event.changed) }).updateUnsafe(1, context)
    case "NodeAdded":
      return counters.nodeChanges({ change: "added" }).updateUnsafe(1, context)
    case "NodeRemoved":
      return counters.nodeChanges({ change: "removed" }).updateUnsafe(1, context)
    case "SlotsMoved": {
      let slots = 0
      for (const [start, end] of event.ranges) slots += end - start + 1
      return counters.slotsMoved().updateUnsafe(slots, context)
    }
    case "FailoverObserved":
      return counters.failovers().updateUnsafe(1, context)
    case "SentinelSwitch":
      return counters.switches({ master: event.masterName }).updateUnsafe(1, context)
  }
}

/**
 * Folds a client's `events` into the connection and topology metrics, and
 * reads its `pubsubGeneration` every `pubsubInterval` to count resubscribe
 * rounds (each one may have lost messages). Runs until the scope closes.
 *
 * @category constructors
 * @since 0.1.0
 */
export const track = (redis: Trackable, options: TrackOptions = {}): Effect.Effect<void, never, Scope.Scope> =>
  Effect.suspend(() => {
    const counters = eventCounter(options)
    const state = new ConnectionState()
    const resubscribed = counterOf(options, "pubsub_resubscribes_total", "Pub/sub resubscribe rounds (messages may be lost)")()
    const events = Stream.runForEach(redis.events, (event) =>
      Effect.withFiber((fiber) => {
        countEvent(counters, state, event, fiber.context)
        return Effect.void
      }))
    let last = 0
    const poll = Effect.flatMap(redis.pubsubGeneration, (generation) =>
      Effect.withFiber((fiber) => {
        const n = resubscribes(last, generation)
        last = generation
        if (n > 0) resubscribed.updateUnsafe(n, fiber.context)
        return Effect.void
      }))
    return Effect.flatMap(redis.pubsubGeneration, (generation) => {
      last = generation
      return Effect.andThen(
        Effect.forkScoped(events),
        Effect.forkScoped(Effect.repeat(poll, Schedule.spaced(options.pubsubInterval ?? Duration.seconds(5))))
      )
    })
  }).pipe(Effect.asVoid)

/**
 * The client-side cache's counters as metrics, read from `cache.stats`
 * every `interval` (default 1 s) on a fiber of the scope:
 * `redis_cache_hits_total`, `_misses_total`, `_invalidations_total`,
 * `_evictions_total` (counters) and `redis_cache_entries`, `_bytes`
 * (gauges). Read from the counters the cache keeps anyway, so a hit costs
 * nothing more with metrics on.
 *
 * @category tracking
 * @since 0.1.0
 */
export const trackCache = (
  cache: ClientCache.ClientCache,
  options: Options & { readonly interval?: Duration.Input | undefined } = {}
): Effect.Effect<void, never, Scope.Scope> =>
  Effect.suspend(() => {
    const counters = {
      hits: counterOf(options, "cache_hits_total", "Reads served from the client-side cache")(),
      misses: counterOf(options, "cache_misses_total", "Cacheable reads that went to the server")(),
      invalidations: counterOf(options, "cache_invalidations_total", "Keys the server invalidated (a flush counts once)")(),
      evictions: counterOf(options, "cache_evictions_total", "Entries dropped to stay within maxEntries/maxBytes")()
    }
    const entries = Metric.gauge(nameWith(options)("cache_entries"), {
      description: "Entries in the client-side cache",
      attributes: options.attributes
    })
    const bytes = Metric.gauge(nameWith(options)("cache_bytes"), {
      description: "Bytes of replies held by the client-side cache (approximate)",
      attributes: options.attributes
    })
    let last: ClientCache.Stats = { hits: 0, misses: 0, invalidations: 0, evictions: 0, entries: 0, bytes: 0 }
    const sample = Effect.flatMap(cache.stats, (now) =>
      Effect.withFiber((fiber) => {
        for (const k of ["hits", "misses", "invalidations", "evictions"] as const) {
          if (now[k] > last[k]) counters[k].updateUnsafe(now[k] - last[k], fiber.context)
        }
        entries.updateUnsafe(now.entries, fiber.context)
        bytes.updateUnsafe(now.bytes, fiber.context)
        last = now
        return Effect.void
      }))
    return Effect.asVoid(Effect.forkScoped(Effect.repeat(sample, Schedule.spaced(options.interval ?? Duration.seconds(1)))))
  })

/**
 * Counts the `Gap` events of a subscription made with gap events
 * (`subscribeWithGaps`, …) in `redis_pubsub_gaps_total`, by reason and
 * subscription kind; the stream passes through unchanged.
 *
 * @category combinators
 * @since 0.1.0
 */
export const countGaps = (options: Options = {}) => {
  const gaps = counterOf(options, "pubsub_gaps_total", "Pub/sub gaps: messages may have been missed")
  return <E, R>(self: Stream.Stream<PubSub.Event, E, R>): Stream.Stream<PubSub.Event, E, R> =>
    Stream.tap(self, (event) =>
      event.kind !== "gap" ? Effect.void : Effect.withFiber((fiber) => {
        gaps({ reason: event.reason, subscription: event.subscription }).updateUnsafe(1, fiber.context)
        return Effect.void
      }))
}
