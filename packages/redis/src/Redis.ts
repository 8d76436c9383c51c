/**
 * The `Redis` service: the one service user code needs, whatever the
 * topology. Standalone, Cluster and Sentinel layers all provide it.
 *
 * It is generic at its core — `execute(command)`, `pipeline(commands)`,
 * `transaction(commands)` — and every typed method (`get`, `hset`, `xadd`,
 * ...) is a thin builder: `redis.get(k)` is `execute(Commands.get(k))`.
 * On top of that it offers what needs more than one command: optimistic
 * `watch` transactions, SCAN families as `Stream`s, Lua scripts by EVALSHA,
 * a distributed lock, pub/sub (text or bytes) and MONITOR as `Stream`s, and
 * the protocol the connection negotiated.
 *
 * A topology plugs in through a small `Backend` (how to send one command, a
 * pipeline, and how to borrow a dedicated connection); `fromBackend` builds
 * the whole service from it. This module is the service type and that
 * facade only: it opens no socket and holds no recipe. Transactions are in
 * `Transaction`, the lock in `Lock`, MONITOR in `Monitor`, scripts in
 * `Script`, resends in `Delivery`, and the single-server client in
 * `Standalone` (docs/ARCHITECTURE.md, "How a command flows").
 *
 * @since 0.1.0
 */
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Option from "effect/Option"
import type * as Schedule from "effect/Schedule"
import type * as Scope from "effect/Scope"
import * as Stream from "effect/Stream"
import type { Command, Result } from "./Command.ts"
import * as Cmd from "./Command.ts"
import * as Commands from "./Commands.ts"
import * as Parsers from "./commands/parsers.ts"
import type * as Connection from "./Connection.ts"
import * as Lock from "./Lock.ts"
import type * as Middleware from "./Middleware.ts"
import * as Monitor from "./Monitor.ts"
import type * as PubSub from "./PubSub.ts"
import * as RedisError from "./RedisError.ts"
import type { Arg, RespValue } from "./Resp.ts"
import * as Script from "./Script.ts"
import type * as TopologyEvent from "./TopologyEvent.ts"
import * as Transaction from "./Transaction.ts"

// -----------------------------------------------------------------------------
// backend
// -----------------------------------------------------------------------------

/**
 * What a topology must provide for `fromBackend` to build a `Redis` service.
 *
 * @category backend
 * @since 0.1.0
 */
export interface Backend {
  /** Sends one ordinary (non-blocking, stateless) command. */
  readonly execute: <A>(command: Command<A>) => Effect.Effect<A, RedisError.RedisError>
  /** Sends commands as a pipeline; one `Exit` per command, in order. */
  readonly executeAll: (
    commands: ReadonlyArray<Command<unknown>>
  ) => Effect.Effect<Array<Exit.Exit<unknown, RedisError.RedisError>>>
  /**
   * Runs `f` on a dedicated connection to the node that serves `keys` (any
   * node when there are none): blocking commands, MULTI/EXEC, WATCH.
   */
  readonly withDedicated: <A, E, R>(
    keys: ReadonlyArray<Arg>,
    f: (connection: Connection.Connection) => Effect.Effect<A, E, R>
  ) => Effect.Effect<A, E | RedisError.RedisError, R>
  /** Subscriptions (channels, patterns, shard channels). */
  readonly pubsub: PubSub.PubSub
  /**
   * Every key, for `scanStream`. Optional: by default one SCAN cursor on the
   * node that keyless commands go to; a cluster walks every primary.
   */
  readonly scanStream?: ((options?: Commands.ScanOptions) => Stream.Stream<string, RedisError.RedisError>) | undefined
  /** Topology and connection events (`Redis.events`); none if absent. */
  readonly events?: Stream.Stream<TopologyEvent.TopologyEvent> | undefined
  /**
   * The protocol (2 or 3) the handshake settled on, once connected.
   * Optional: without it `Redis.protocol` fails `NotSupported`.
   */
  readonly protocol?: Effect.Effect<2 | 3, RedisError.RedisError> | undefined
  /** Opens a fresh connection for MONITOR (to the node serving no key in particular). */
  readonly monitorConnection: (
    onPush: (value: RespValue) => void
  ) => Effect.Effect<Connection.Connection, RedisError.RedisError, Scope.Scope>
}

// -----------------------------------------------------------------------------
// typed methods
// -----------------------------------------------------------------------------

type CommandConstructors = typeof Commands

/**
 * One method per command constructor of `Commands`, returning its reply.
 *
 * @category models
 * @since 0.1.0
 */
export type CommandMethods = {
  readonly [K in keyof CommandConstructors as CommandConstructors[K] extends (...args: any) => Command<any> ? K : never]:
    CommandConstructors[K] extends (...args: infer P) => Command<infer A>
      ? (...args: P) => Effect.Effect<A, RedisError.RedisError>
      : never
}

// `set` is overloaded (its reply depends on `get: true`); a mapped type keeps
// only the last overload, so spell both out.
interface OverloadedMethods {
  readonly set: {
    (
      key: Arg,
      value: Arg,
      options: Commands.SetOptions & { readonly get: true }
    ): Effect.Effect<Option.Option<string>, RedisError.RedisError>
    (
      key: Arg,
      value: Arg,
      options?: Commands.SetOptions & { readonly get?: false | undefined }
    ): Effect.Effect<boolean, RedisError.RedisError>
  }
}

/**
 * The replies of a tuple of commands.
 *
 * @category models
 * @since 0.1.0
 */
export type Results<C extends ReadonlyArray<Command<any>>> = { -readonly [K in keyof C]: Result<C[K]> }

/**
 * The Redis service.
 *
 * @category models
 * @since 0.1.0
 */
export interface RedisShape extends Omit<CommandMethods, keyof OverloadedMethods | keyof ServiceMethods>, OverloadedMethods, ServiceMethods {}

/**
 * The methods of `Redis` that are more than one command.
 *
 * @category models
 * @since 0.1.0
 */
export interface ServiceMethods {
  /** Sends any command. Blocking commands get a dedicated connection automatically. */
  readonly execute: <A>(command: Command<A>) => Effect.Effect<A, RedisError.RedisError>
  /**
   * Sends commands in one round trip (not atomic) and returns their
   * replies; fails with the first failure. Calls made by `Script.command`
   * that meet NOSCRIPT are replayed as EVAL (after the rest of the pipeline).
   */
  readonly pipeline: <const C extends ReadonlyArray<Command<any>>>(
    commands: C
  ) => Effect.Effect<Results<C>, RedisError.RedisError>
  /** Like `pipeline`, but one `Exit` per command: no command's failure hides another's reply. */
  readonly pipelineExits: (
    commands: ReadonlyArray<Command<unknown>>
  ) => Effect.Effect<Array<Exit.Exit<unknown, RedisError.RedisError>>>
  /**
   * Runs commands atomically in MULTI/EXEC on a dedicated connection. A
   * command refused at queue time fails it all with `ExecAbort` (nothing
   * ran); in a cluster a refusal by redirect is followed once and, if it
   * persists, surfaces as `Moved` or `Ask` with outcome `Rejected`. The
   * scripts of calls made by `Script.command` are loaded before MULTI.
   */
  readonly transaction: <const C extends ReadonlyArray<Command<any>>>(
    commands: C
  ) => Effect.Effect<Results<C>, RedisError.RedisError>
  /**
   * An optimistic transaction: WATCH `keys`, run `body` (which may read through
   * its context), then EXEC what it returns. A conflicting write by someone
   * else makes EXEC return nil; then it all runs again by `retry` (default:
   * `Transaction.defaultWatchRetry`, up to 10 more attempts). When retries
   * run out it fails with `ExecAbort` and `watchConflict: true`.
   */
  readonly watch: <const C extends ReadonlyArray<Command<any>>, E, R>(
    keys: ReadonlyArray<Arg>,
    body: (tx: Transaction.WatchContext) => Effect.Effect<C, E, R>,
    options?: { readonly retry?: Schedule.Schedule<unknown, RedisError.RedisError> | undefined }
  ) => Effect.Effect<Results<C>, E | RedisError.RedisError, R>
  /** Every key matching the options, one SCAN page at a time. */
  readonly scanStream: (options?: Commands.ScanOptions) => Stream.Stream<string, RedisError.RedisError>
  /** Every field and value of a hash (HSCAN). */
  readonly hscanStream: (
    key: Arg,
    options?: { readonly match?: string; readonly count?: number }
  ) => Stream.Stream<readonly [string, string], RedisError.RedisError>
  /** Every member of a set (SSCAN). */
  readonly sscanStream: (
    key: Arg,
    options?: { readonly match?: string; readonly count?: number }
  ) => Stream.Stream<string, RedisError.RedisError>
  /** Every member and score of a sorted set (ZSCAN). */
  readonly zscanStream: (
    key: Arg,
    options?: { readonly match?: string; readonly count?: number }
  ) => Stream.Stream<{ readonly member: string; readonly score: number }, RedisError.RedisError>
  /** Runs a Lua script by EVALSHA, loading it with EVAL on NOSCRIPT. */
  readonly runScript: <A = RespValue>(
    script: Script.Script<A>,
    keys: ReadonlyArray<Arg>,
    args?: ReadonlyArray<Arg>
  ) => Effect.Effect<A, RedisError.RedisError>
  /**
   * Acquires a lock (`Lock.acquire`: SET NX PX, owner-checked release,
   * `blocking`/`blockingTimeout`/`pollInterval`, `locked`/`owned`/`extend`/
   * `reacquire`); released when the scope closes.
   */
  readonly lock: (name: string, options: Lock.LockOptions) => Effect.Effect<Lock.Lock, RedisError.RedisError, Scope.Scope>
  /**
   * Messages published to channels. Resubscribes after a reconnect. The
   * names may be followed by the subscription's buffer options
   * (`{ bufferSize, strategy }`, over the client's `subscriptionBuffer`): a
   * consumer that falls `bufferSize` messages behind loses messages (the
   * newest by default), counted in `pubsubDropped`.
   */
  readonly subscribe: (
    ...channels: SubscribeArgs<string>
  ) => Stream.Stream<PubSub.Message, RedisError.RedisError>
  /** Messages published to channels matching patterns. */
  readonly psubscribe: (
    ...patterns: SubscribeArgs<string>
  ) => Stream.Stream<PubSub.Message, RedisError.RedisError>
  /**
   * `subscribe` with a `Gap` event wherever messages may have been missed
   * (reconnect, failover, and `overflow`: the consumer fell `bufferSize`
   * behind; the gap says how many were dropped).
   */
  readonly subscribeWithGaps: (
    ...channels: SubscribeArgs<string>
  ) => Stream.Stream<PubSub.Event, RedisError.RedisError>
  /** `psubscribe` with gap events. */
  readonly psubscribeWithGaps: (
    ...patterns: SubscribeArgs<string>
  ) => Stream.Stream<PubSub.Event, RedisError.RedisError>
  /** `ssubscribe` with gap events (a cluster failover or slot migration moved the subscription). */
  readonly ssubscribeWithGaps: (
    ...channels: SubscribeArgs<string>
  ) => Stream.Stream<PubSub.Event, RedisError.RedisError>
  /** Messages on shard channels (SSUBSCRIBE). */
  readonly ssubscribe: (
    ...channels: SubscribeArgs<string>
  ) => Stream.Stream<PubSub.Message, RedisError.RedisError>
  /**
   * `subscribe` with channels and payloads as bytes, for data that is not
   * UTF-8; names may be given as bytes too. On a subscriber connection of
   * its own. A topology without binary pub/sub fails it `NotSupported`.
   */
  readonly subscribeBytes: (
    ...channels: SubscribeArgs<string | Uint8Array>
  ) => Stream.Stream<PubSub.BinaryMessage, RedisError.RedisError>
  /** `psubscribe` with bytes. */
  readonly psubscribeBytes: (
    ...patterns: SubscribeArgs<string | Uint8Array>
  ) => Stream.Stream<PubSub.BinaryMessage, RedisError.RedisError>
  /** `ssubscribe` with bytes. */
  readonly ssubscribeBytes: (
    ...channels: SubscribeArgs<string | Uint8Array>
  ) => Stream.Stream<PubSub.BinaryMessage, RedisError.RedisError>
  /**
   * The protocol (2 or 3) the connection negotiated: 3 unless the options
   * asked for 2 or the server refused `HELLO 3`. Waits for the connection.
   */
  readonly protocol: Effect.Effect<2 | 3, RedisError.RedisError>
  /** The server's MONITOR feed, on a connection of its own. */
  readonly monitor: Stream.Stream<Monitor.MonitorEvent, RedisError.RedisError>
  /**
   * How many (re)subscribe rounds the subscriber connection has done (0
   * before the first subscription). Pub/sub is at-most-once: when this
   * number grows while a stream runs, the connection was lost and
   * re-established, and messages published in between were missed.
   */
  readonly pubsubGeneration: Effect.Effect<number>
  /**
   * How many messages subscriptions have dropped because their consumer
   * fell `bufferSize` behind, since the client started (each subscription
   * counts its own drops; 0 on a topology that does not count them).
   */
  readonly pubsubDropped: Effect.Effect<number>
  /** Runs `f` with a dedicated connection (for commands that change connection state). */
  readonly withConnection: <A, E, R>(
    f: (connection: Connection.Connection) => Effect.Effect<A, E, R>
  ) => Effect.Effect<A, E | RedisError.RedisError, R>
  /**
   * What the client observes of its topology, from the moment of
   * subscription: nodes added and removed, slots moved, failovers, sentinel
   * switches, refreshes, and each node's connection lifecycle.
   */
  readonly events: Stream.Stream<TopologyEvent.TopologyEvent>
}

/**
 * The arguments of a subscribe method: names, optionally followed by the
 * subscription's buffer options.
 *
 * @category models
 * @since 0.1.0
 */
export type SubscribeArgs<N> = ReadonlyArray<N> | readonly [...ReadonlyArray<N>, PubSub.BufferOptions]

// A trailing plain object is the buffer options; names are strings or bytes.
const splitArgs = <N>(args: SubscribeArgs<N>): readonly [ReadonlyArray<N>, PubSub.BufferOptions | undefined] => {
  const last: unknown = args[args.length - 1]
  return typeof last === "object" && last !== null && !(last instanceof Uint8Array)
    ? [args.slice(0, -1) as ReadonlyArray<N>, last as PubSub.BufferOptions]
    : [args as ReadonlyArray<N>, undefined]
}

/**
 * The Redis service tag.
 *
 * @category services
 * @since 0.1.0
 */
export class Redis extends Context.Service<Redis, RedisShape>()("@redis-effect/redis/Redis") {}

// -----------------------------------------------------------------------------
// fromBackend
// -----------------------------------------------------------------------------

const DEDICATED = Cmd.Flags.BLOCKING
const REFUSED = Cmd.Flags.CONNECTION_STATE | Cmd.Flags.PUBSUB

// `Commands` exports command constructors and, from `commands/parsers.ts`,
// pure parsers (`parseInfo`, ...): every export but those is a method.
const PARSERS: ReadonlySet<string> = new Set(Object.keys(Parsers))

// One method per command constructor: `redis.get(k)` is `execute(Commands.get(k))`.
const commandMethods = (
  execute: <A>(command: Command<A>) => Effect.Effect<A, RedisError.RedisError>
): CommandMethods & OverloadedMethods => {
  const methods: Record<string, unknown> = {}
  for (const [name, build] of Object.entries(Commands)) {
    if (typeof build !== "function" || PARSERS.has(name)) continue
    methods[name] = (...args: Array<unknown>) => execute((build as (...a: Array<unknown>) => Command<unknown>)(...args))
  }
  return methods as unknown as CommandMethods & OverloadedMethods
}

// The first failed exit itself (not only its error), so the caller sees the
// whole cause.
const firstFailure = (exits: ReadonlyArray<Exit.Exit<unknown, RedisError.RedisError>>) => {
  for (const exit of exits) if (Exit.isFailure(exit)) return exit
  return undefined
}

/**
 * Builds the Redis service over a backend. `middleware` (from
 * `Middleware.resolve`) wraps what a caller runs: `execute` around each
 * command, `batch` around each pipeline and transaction; without one the
 * methods are the unwrapped functions themselves.
 *
 * @category constructors
 * @since 0.1.0
 */
export const fromBackend = (backend: Backend, middleware?: Middleware.Middleware | undefined): RedisShape => {
  const executeDirect = <A>(command: Command<A>): Effect.Effect<A, RedisError.RedisError> => {
    // Hot path: one bit test, then straight to the backend.
    if ((command.flags & (DEDICATED | REFUSED)) === 0) return backend.execute(command)
    if (command.invalid !== undefined) return Effect.fail(RedisError.invalidArgument(command.invalid, command.name))
    if ((command.flags & REFUSED) !== 0) {
      return Effect.fail(RedisError.invalidArgument(
        `${command.name} changes connection state; use transaction/watch/subscribe/monitor/withConnection instead`,
        command.name
      ))
    }
    return backend.withDedicated(command.keys, (c) => c.send(command))
  }
  // Decided once: without a middleware `execute` is `executeDirect` itself.
  const executeHook = middleware?.execute
  const execute: <A>(command: Command<A>) => Effect.Effect<A, RedisError.RedisError> = executeHook === undefined
    ? executeDirect
    : (command) => executeHook(command, executeDirect(command))
  const batchHook = middleware?.batch

  const pipelineExitsDirect = (commands: ReadonlyArray<Command<unknown>>) => {
    for (const c of commands) {
      if ((c.flags & (DEDICATED | REFUSED)) !== 0 && c.invalid === undefined) {
        return Effect.succeed(commands.map((c) =>
          (c.flags & (DEDICATED | REFUSED)) !== 0
            ? Exit.fail(RedisError.invalidArgument(`${c.name} cannot run in a pipeline (blocking or connection state)`, c.name))
            : Exit.fail(RedisError.invalidArgument("pipeline refused: it holds a blocking or connection-state command", c.name))
        ))
      }
    }
    // One more step per pipeline (not per command): calls of
    // `Script.command` that met NOSCRIPT are replayed as EVAL.
    return Effect.flatMap(backend.executeAll(commands), (exits) => Script.replayNoScript(backend.executeAll, commands, exits))
  }
  const pipelineExits = batchHook === undefined
    ? pipelineExitsDirect
    : (commands: ReadonlyArray<Command<unknown>>) => batchHook("pipeline", commands, pipelineExitsDirect(commands))

  const pipeline = <const C extends ReadonlyArray<Command<any>>>(commands: C) =>
    Effect.flatMap(pipelineExits(commands), (exits) => {
      const failed = firstFailure(exits)
      if (failed !== undefined) return failed as Exit.Exit<never, RedisError.RedisError>
      return Effect.succeed(exits.map((e) => (e as Exit.Success<unknown>).value) as unknown as Results<C>)
    })

  const runTransaction = <const C extends ReadonlyArray<Command<any>>>(commands: C) =>
    backend.withDedicated(Transaction.keysOf(commands), (c) => Transaction.runTransaction(c, commands))
  const transaction = <const C extends ReadonlyArray<Command<any>>>(commands: C) =>
    batchHook === undefined
      ? runTransaction(commands)
      : batchHook("transaction", commands, runTransaction(commands))

  const scanLike = <A>(page: (cursor: string) => Command<Commands.ScanPage<A>>) =>
    Stream.paginate("0", (cursor: string) =>
      Effect.map(execute(page(cursor)), (p) =>
        [p.items, p.cursor === "0" ? Option.none<string>() : Option.some(p.cursor)] as const))

  const runScript = <A>(script: Script.Script<A>, keys: ReadonlyArray<Arg>, args?: ReadonlyArray<Arg>) =>
    Script.run(execute, script, keys, args)
  const lockRunner: Lock.Runner = { execute, runScript }

  const pubsub = backend.pubsub
  const plain = (kind: PubSub.Kind, args: SubscribeArgs<string>) => {
    const [names, buffer] = splitArgs(args)
    return pubsub.subscribe(kind, names, buffer)
  }
  const bytes = (kind: PubSub.Kind, args: SubscribeArgs<string | Uint8Array>) => {
    const [names, buffer] = splitArgs(args)
    return pubsub.subscribeBytes?.(kind, names, buffer) ??
      Stream.fail(RedisError.notSupported("binary pub/sub is not supported on this topology yet", "SUBSCRIBE"))
  }
  // A backend without gap events still serves the stream, with messages only.
  const withGaps = (kind: PubSub.Kind, args: SubscribeArgs<string>): Stream.Stream<PubSub.Event, RedisError.RedisError> => {
    const [names, buffer] = splitArgs(args)
    return pubsub.subscribeEvents?.(kind, names, buffer) ?? pubsub.subscribe(kind, names, buffer)
  }

  return {
    ...commandMethods(execute),
    execute,
    pipeline,
    pipelineExits,
    transaction,
    watch: (keys, body, options) => Transaction.watch(backend.withDedicated, keys, body, options),
    scanStream: backend.scanStream ?? ((options) => scanLike((cursor) => Commands.scan(cursor, options))),
    hscanStream: (key, options) => scanLike((cursor) => Commands.hscan(key, cursor, options)),
    sscanStream: (key, options) => scanLike((cursor) => Commands.sscan(key, cursor, options)),
    zscanStream: (key, options) => scanLike((cursor) => Commands.zscan(key, cursor, options)),
    runScript,
    lock: (name, options) => Lock.acquire(lockRunner, name, options),
    subscribe: (...channels) => plain("channel", channels),
    psubscribe: (...patterns) => plain("pattern", patterns),
    ssubscribe: (...channels) => plain("shard", channels),
    subscribeWithGaps: (...channels) => withGaps("channel", channels),
    psubscribeWithGaps: (...patterns) => withGaps("pattern", patterns),
    ssubscribeWithGaps: (...channels) => withGaps("shard", channels),
    subscribeBytes: (...channels) => bytes("channel", channels),
    psubscribeBytes: (...patterns) => bytes("pattern", patterns),
    ssubscribeBytes: (...channels) => bytes("shard", channels),
    protocol: backend.protocol ??
      Effect.fail(RedisError.notSupported("the negotiated protocol is not reported on this topology yet")),
    monitor: Monitor.stream(backend.monitorConnection),
    pubsubGeneration: Effect.sync(() => pubsub.generation()),
    pubsubDropped: Effect.sync(() => pubsub.dropped?.() ?? 0),
    withConnection: (f) => backend.withDedicated([], f),
    events: backend.events ?? Stream.empty
  }
}
