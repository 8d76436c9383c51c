/**
 * The `Redis` service: the one service user code needs, whatever the
 * topology. Standalone, Cluster and Sentinel layers all provide it.
 *
 * It is generic at its core — `execute(command)`, `pipeline(commands)`,
 * `transaction(commands)` — and every typed method (`get`, `hset`, `xadd`,
 * ...) is a thin builder: `redis.get(k)` is `execute(Commands.get(k))`.
 * On top of that it offers what needs more than one command: optimistic
 * `watch` transactions retried by a `Schedule`, SCAN families as `Stream`s,
 * Lua scripts loaded once and run by EVALSHA, a distributed lock, pub/sub
 * and MONITOR as `Stream`s.
 *
 * A topology plugs in through a small `Backend` (how to send one command, a
 * pipeline, and how to borrow a dedicated connection); `fromBackend` builds
 * the whole service from it. This module does not open sockets itself.
 *
 * @since 0.1.0
 */
import * as Cause from "effect/Cause"
import * as Context from "effect/Context"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as Queue from "effect/Queue"
import * as Schedule from "effect/Schedule"
import type * as Scope from "effect/Scope"
import * as Stream from "effect/Stream"
import type { Command, Result } from "./Command.ts"
import * as Cmd from "./Command.ts"
import * as Commands from "./Commands.ts"
import * as Connection from "./Connection.ts"
import * as Pool from "./Pool.ts"
import * as PubSub from "./PubSub.ts"
import * as RedisConfig from "./RedisConfig.ts"
import * as RedisError from "./RedisError.ts"
import type { Arg, RespValue } from "./Resp.ts"
import { RespError } from "./Resp.ts"
import { Transport } from "./Transport.ts"
import * as Script from "./Script.ts"
import type * as TopologyEvent from "./TopologyEvent.ts"
import type * as Middleware from "./Middleware.ts"

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
 * The body of an optimistic transaction: it reads through `tx` (on the
 * connection that holds the WATCH) and returns the commands to run
 * atomically.
 *
 * @category models
 * @since 0.1.0
 */
export interface WatchContext {
  readonly execute: <A>(command: Command<A>) => Effect.Effect<A, RedisError.RedisError>
}

/**
 * A held lock.
 *
 * @category models
 * @since 0.1.0
 */
export interface Lock {
  readonly name: string
  readonly token: string
  /** Releases the lock if this holder still owns it; returns whether it did. */
  readonly release: Effect.Effect<boolean, RedisError.RedisError>
  /** Extends the lock's time to live if this holder still owns it. */
  readonly extend: (ttl: Duration.Input) => Effect.Effect<boolean, RedisError.RedisError>
}

/**
 * @category models
 * @since 0.1.0
 */
export interface LockOptions {
  /** How long the lock lives unless released or extended. */
  readonly ttl: Duration.Input
  /** How to retry while someone else holds it (default: every 50 ms with jitter, for 10 s). */
  readonly retry?: Schedule.Schedule<unknown, RedisError.RedisError> | undefined
}

/**
 * One line of the MONITOR feed.
 *
 * @category models
 * @since 0.1.0
 */
export interface MonitorEvent {
  readonly time: number
  readonly database: number
  readonly client: string
  readonly args: ReadonlyArray<string>
  readonly raw: string
}

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
  /** Sends commands in one round trip (not atomic) and returns their replies; fails with the first failure. */
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
   * persists, surfaces as `Moved` or `Ask` with outcome `Rejected`.
   */
  readonly transaction: <const C extends ReadonlyArray<Command<any>>>(
    commands: C
  ) => Effect.Effect<Results<C>, RedisError.RedisError>
  /**
   * An optimistic transaction: WATCH `keys`, run `body` (which may read through
   * its context), then EXEC what it returns. A conflicting write by someone
   * else makes EXEC return nil; then it all runs again by `retry` (default:
   * up to 10 attempts). When retries run out it fails with `ExecAbort` and
   * `watchConflict: true`.
   */
  readonly watch: <const C extends ReadonlyArray<Command<any>>, E, R>(
    keys: ReadonlyArray<Arg>,
    body: (tx: WatchContext) => Effect.Effect<C, E, R>,
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
  /** Acquires a lock (SET NX PX + a release script); released when the scope closes. */
  readonly lock: (name: string, options: LockOptions) => Effect.Effect<Lock, RedisError.RedisError, Scope.Scope>
  /** Messages published to channels. Resubscribes after a reconnect. */
  readonly subscribe: (
    ...channels: ReadonlyArray<string>
  ) => Stream.Stream<PubSub.Message, RedisError.RedisError>
  /** Messages published to channels matching patterns. */
  readonly psubscribe: (
    ...patterns: ReadonlyArray<string>
  ) => Stream.Stream<PubSub.Message, RedisError.RedisError>
  /** `subscribe` with a `Gap` event wherever messages may have been missed (reconnect, failover). */
  readonly subscribeWithGaps: (
    ...channels: ReadonlyArray<string>
  ) => Stream.Stream<PubSub.Event, RedisError.RedisError>
  /** `psubscribe` with gap events. */
  readonly psubscribeWithGaps: (
    ...patterns: ReadonlyArray<string>
  ) => Stream.Stream<PubSub.Event, RedisError.RedisError>
  /** `ssubscribe` with gap events (a cluster failover or slot migration moved the subscription). */
  readonly ssubscribeWithGaps: (
    ...channels: ReadonlyArray<string>
  ) => Stream.Stream<PubSub.Event, RedisError.RedisError>
  /** Messages on shard channels (SSUBSCRIBE). */
  readonly ssubscribe: (
    ...channels: ReadonlyArray<string>
  ) => Stream.Stream<PubSub.Message, RedisError.RedisError>
  /** The server's MONITOR feed, on a connection of its own. */
  readonly monitor: Stream.Stream<MonitorEvent, RedisError.RedisError>
  /**
   * How many (re)subscribe rounds the subscriber connection has done (0
   * before the first subscription). Pub/sub is at-most-once: when this
   * number grows while a stream runs, the connection was lost and
   * re-established, and messages published in between were missed.
   */
  readonly pubsubGeneration: Effect.Effect<number>
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

const multi = Cmd.unsafeMake("MULTI", ["MULTI"], [], Cmd.Flags.CONNECTION_STATE, Cmd.Reply.ok)
const discard = Cmd.unsafeMake("DISCARD", ["DISCARD"], [], Cmd.Flags.CONNECTION_STATE, Cmd.Reply.ok)
const unwatch = Cmd.unsafeMake("UNWATCH", ["UNWATCH"], [], Cmd.Flags.CONNECTION_STATE, Cmd.Reply.ok)
const execCommand = (binary: boolean) => Cmd.unsafeMake("EXEC", ["EXEC"], [], Cmd.Flags.CONNECTION_STATE, Cmd.Reply.raw, binary)

const firstFailure = (exits: ReadonlyArray<Exit.Exit<unknown, RedisError.RedisError>>) => {
  for (const exit of exits) if (Exit.isFailure(exit)) return exit
  return undefined
}

/**
 * The default retry of `watch` on a conflict: up to 10 more attempts, 5 ms
 * apart with jitter.
 *
 * @category defaults
 * @since 0.1.0
 */
export const defaultWatchRetry: Schedule.Schedule<unknown, RedisError.RedisError> = Schedule.spaced("5 millis").pipe(
  Schedule.jittered,
  Schedule.upTo({ times: 10 }),
  Schedule.setInputType<RedisError.RedisError>(),
  Schedule.while(({ input }) => input.reason._tag === "ExecAbort" && input.reason.watchConflict)
)

const defaultLockRetry: Schedule.Schedule<unknown, RedisError.RedisError> = Schedule.spaced("50 millis").pipe(
  Schedule.jittered,
  Schedule.upTo({ times: 200 }),
  Schedule.setInputType<RedisError.RedisError>()
)

const releaseScript = Script.make(
  "if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) else return 0 end",
  Cmd.Reply.boolean
)
const extendScript = Script.make(
  "if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('pexpire', KEYS[1], ARGV[2]) else return 0 end",
  Cmd.Reply.boolean
)

const lockHeld = (name: string) =>
  RedisError.make(new RedisError.ReplyError({ code: "LOCKED", message: `lock ${name} is held by another owner` }), "Rejected", "SET")

const parseMonitorLine = (raw: string): MonitorEvent | undefined => {
  // 1339518083.107412 [0 127.0.0.1:60866] "keys" "*"
  const m = /^(\d+(?:\.\d+)?) \[(\d+) ([^\]]*)\] (.*)$/.exec(raw)
  if (m === null) return undefined
  const args: Array<string> = []
  const re = /"((?:[^"\\]|\\.)*)"/g
  let a: RegExpExecArray | null
  while ((a = re.exec(m[4])) !== null) {
    args.push(a[1].replace(/\\x([0-9a-fA-F]{2})|\\(.)/g, (_, hex: string | undefined, ch: string | undefined) =>
      hex !== undefined ? String.fromCharCode(parseInt(hex, 16)) : ch === "n" ? "\n" : ch === "r" ? "\r" : ch === "t" ? "\t" : ch ?? ""))
  }
  return { time: Number(m[1]), database: Number(m[2]), client: m[3], args, raw }
}

/**
 * Builds the Redis service over a backend.
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
    return backend.executeAll(commands)
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

  // MULTI, the commands, EXEC in one write on one connection. EXEC's array
  // holds each command's reply (or its error) in order.
  const runTransaction = <const C extends ReadonlyArray<Command<any>>>(
    connection: Connection.Connection,
    commands: C
  ): Effect.Effect<Results<C>, RedisError.RedisError> =>
    Effect.gen(function*() {
      for (const c of commands) {
        if (c.invalid !== undefined) {
          yield* connection.send(discard).pipe(Effect.ignore)
          return yield* Effect.fail(RedisError.invalidArgument(c.invalid, c.name))
        }
        if ((c.flags & (REFUSED | DEDICATED)) !== 0 && (c.flags & Cmd.Flags.BLOCKING) === 0) {
          return yield* Effect.fail(RedisError.invalidArgument(`${c.name} cannot run inside MULTI`, c.name))
        }
      }
      const binary = commands.some((c) => c.binary)
      const exits = yield* connection.sendAll([multi, ...commands.map(asQueued), execCommand(binary)])
      const execExit = exits[exits.length - 1]
      // A command refused at queue time makes EXEC fail with EXECABORT,
      // whose text only says "previous errors". Keep the ExecAbort reason
      // (nothing ran: that is what the caller must know) and add the
      // refused command's own error, which says why.
      if (Exit.isFailure(execExit)) {
        for (let i = 1; i < exits.length - 1; i++) {
          const e = exits[i]
          if (Exit.isFailure(e)) {
            const queued = Cause.findErrorOption(e.cause)
            // A cluster redirect (MOVED/ASK at queue time) stays a redirect,
            // so the cluster client can follow it; it is Rejected: nothing ran.
            if (
              Option.isSome(queued) && RedisError.isRedisError(queued.value) &&
              (queued.value.reason._tag === "Moved" || queued.value.reason._tag === "Ask")
            ) return yield* Effect.fail(queued.value)
            const why = Option.isSome(queued) && RedisError.isRedisError(queued.value)
              ? queued.value.message
              : "refused at queue time"
            return yield* Effect.fail(RedisError.make(
              new RedisError.ExecAbort({
                message: `EXEC ran nothing: command ${i} (${commands[i - 1].name}) was refused: ${why}`,
                watchConflict: false
              }),
              "Rejected",
              "EXEC"
            ))
          }
        }
      }
      if (Exit.isFailure(exits[0])) return yield* (exits[0] as Exit.Exit<never, RedisError.RedisError>)
      if (Exit.isFailure(execExit)) return yield* (execExit as Exit.Exit<never, RedisError.RedisError>)
      const reply = execExit.value as RespValue
      if (reply === null) {
        return yield* Effect.fail(RedisError.make(
          new RedisError.ExecAbort({ message: "a watched key changed: EXEC ran nothing", watchConflict: true }),
          "Rejected",
          "EXEC"
        ))
      }
      const items = Cmd.Reply.items(reply)
      const out = new Array<unknown>(commands.length)
      for (let i = 0; i < commands.length; i++) {
        const item = items[i]
        const c = commands[i]
        if (item instanceof RespError) {
          return yield* Effect.fail(RedisError.make(RedisError.classify(item.message), "Rejected", c.name))
        }
        try {
          out[i] = c.decode(item)
        } catch (e) {
          return yield* Effect.fail(RedisError.make(new RedisError.ProtocolError({ message: String(e) }), "Unknown", c.name))
        }
      }
      return out as Results<C>
    }) as Effect.Effect<Results<C>, RedisError.RedisError>

  const allKeys = (commands: ReadonlyArray<Command<any>>) => commands.flatMap((c) => c.keys)

  const transaction = <const C extends ReadonlyArray<Command<any>>>(commands: C) =>
    batchHook === undefined
      ? backend.withDedicated(allKeys(commands), (c) => runTransaction(c, commands))
      : batchHook("transaction", commands, backend.withDedicated(allKeys(commands), (c) => runTransaction(c, commands)))

  const watch = <const C extends ReadonlyArray<Command<any>>, E, R>(
    keys: ReadonlyArray<Arg>,
    body: (tx: WatchContext) => Effect.Effect<C, E, R>,
    options?: { readonly retry?: Schedule.Schedule<unknown, RedisError.RedisError> | undefined }
  ): Effect.Effect<Results<C>, E | RedisError.RedisError, R> => {
    if (keys.length === 0) return Effect.fail(RedisError.invalidArgument("watch needs at least one key", "WATCH"))
    const once = backend.withDedicated(keys, (connection) =>
      Effect.gen(function*() {
        yield* connection.send(Commands.watch(keys))
        const commands = yield* body({ execute: (c) => connection.send(c) })
        if (commands.length === 0) {
          yield* connection.send(unwatch)
          return [] as unknown as Results<C>
        }
        return yield* runTransaction(connection, commands)
      }))
    // Only WATCH conflicts go through the schedule; every other failure (the
    // body's own errors included) is carried past it in the success channel.
    const isConflict = (e: unknown): e is RedisError.RedisError =>
      RedisError.isRedisError(e) && e.reason._tag === "ExecAbort" && e.reason.watchConflict
    const attempt = Effect.matchEffect(once, {
      onFailure: (e) => (isConflict(e) ? Effect.fail(e) : Effect.succeed(Exit.fail(e) as Exit.Exit<Results<C>, E | RedisError.RedisError>)),
      onSuccess: (a) => Effect.succeed(Exit.succeed(a) as Exit.Exit<Results<C>, E | RedisError.RedisError>)
    })
    return Effect.flatten(Effect.retry(attempt, options?.retry ?? defaultWatchRetry))
  }

  const scanLike = <A>(page: (cursor: string) => Command<Commands.ScanPage<A>>) =>
    Stream.paginate("0", (cursor: string) =>
      Effect.map(execute(page(cursor)), (p) =>
        [p.items, p.cursor === "0" ? Option.none<string>() : Option.some(p.cursor)] as const))

  const runScript = <A>(script: Script.Script<A>, keys: ReadonlyArray<Arg>, args: ReadonlyArray<Arg> = []) =>
    Effect.catchIf(
      execute(Cmd.map(Commands.evalsha(script.sha1, keys, args), script.decode)),
      (e) => e.reason._tag === "NoScript",
      // EVAL loads the script as it runs it: later calls find it by SHA.
      () => execute(Cmd.map(Commands.evalScript(script.source, keys, args), script.decode))
    )

  const lock = (name: string, options: LockOptions): Effect.Effect<Lock, RedisError.RedisError, Scope.Scope> => {
    const ttlMs = Duration.toMillis(Duration.fromInputUnsafe(options.ttl))
    if (!(ttlMs > 0)) return Effect.fail(RedisError.invalidArgument("lock ttl must be positive", "SET"))
    const token = `${Date.now().toString(36)}-${Math.random().toString(36).slice(2)}-${Math.random().toString(36).slice(2)}`
    const tryAcquire = Effect.flatMap(
      execute(Commands.set(name, token, { px: Math.ceil(ttlMs), nx: true })),
      (ok) => (ok ? Effect.void : Effect.fail(lockHeld(name)))
    )
    const held: Lock = {
      name,
      token,
      release: runScript(releaseScript, [name], [token]),
      extend: (ttl) => runScript(extendScript, [name], [token, Math.ceil(Duration.toMillis(Duration.fromInputUnsafe(ttl)))])
    }
    return Effect.acquireRelease(
      Effect.as(Effect.retry(tryAcquire, {
        schedule: options.retry ?? defaultLockRetry,
        while: (e) => e.reason._tag === "ReplyError" && e.reason.code === "LOCKED"
      }), held),
      (l) => Effect.ignore(l.release)
    )
  }

  const monitor = Stream.callback<MonitorEvent, RedisError.RedisError>((queue) =>
    Effect.gen(function*() {
      const connection = yield* backend.monitorConnection((value) => {
        if (typeof value !== "string") return
        const event = parseMonitorLine(value)
        if (event !== undefined) Queue.offerUnsafe(queue, event)
      })
      yield* connection.send(Cmd.unsafeMake("MONITOR", ["MONITOR"], [], Cmd.Flags.CONNECTION_STATE, Cmd.Reply.ok))
    })
  )

  // A backend without gap events still serves the stream, with messages only.
  const withGaps = (kind: PubSub.Kind, names: ReadonlyArray<string>): Stream.Stream<PubSub.Event, RedisError.RedisError> =>
    backend.pubsub.subscribeEvents?.(kind, names) ?? backend.pubsub.subscribe(kind, names)

  const methods: Record<string, unknown> = {}
  for (const [name, build] of Object.entries(Commands)) {
    // `parseInfo`, `parseClientList` are pure parsers, not command builders.
    if (typeof build !== "function" || name.startsWith("parse")) continue
    methods[name] = (...args: Array<unknown>) => execute((build as (...a: Array<unknown>) => Command<unknown>)(...args))
  }

  return {
    ...(methods as unknown as CommandMethods & OverloadedMethods),
    execute,
    pipeline,
    pipelineExits,
    transaction,
    watch,
    scanStream: backend.scanStream ?? ((options) => scanLike((cursor) => Commands.scan(cursor, options))),
    hscanStream: (key, options) => scanLike((cursor) => Commands.hscan(key, cursor, options)),
    sscanStream: (key, options) => scanLike((cursor) => Commands.sscan(key, cursor, options)),
    zscanStream: (key, options) => scanLike((cursor) => Commands.zscan(key, cursor, options)),
    runScript,
    lock,
    subscribe: (...channels) => backend.pubsub.subscribe("channel", channels),
    psubscribe: (...patterns) => backend.pubsub.subscribe("pattern", patterns),
    ssubscribe: (...channels) => backend.pubsub.subscribe("shard", channels),
    subscribeWithGaps: (...channels) => withGaps("channel", channels),
    psubscribeWithGaps: (...patterns) => withGaps("pattern", patterns),
    ssubscribeWithGaps: (...channels) => withGaps("shard", channels),
    monitor,
    pubsubGeneration: Effect.sync(() => backend.pubsub.generation()),
    withConnection: (f) => backend.withDedicated([], f),
    events: backend.events ?? Stream.empty
  }
}

// A command inside MULTI answers +QUEUED; its real reply comes in EXEC's array.
const asQueued = (c: Command<any>): Command<unknown> =>
  Cmd.unsafeMake(c.name, c.args, c.keys, c.flags, Cmd.Reply.raw, false)

// -----------------------------------------------------------------------------
// standalone
// -----------------------------------------------------------------------------

/**
 * Options of a standalone client.
 *
 * @category models
 * @since 0.1.0
 */
export type Options = RedisConfig.ClientOptions & Pool.PoolOptions & {
  /**
   * Retry of failures that are safe to retry (`LOADING`, `BUSY`, `TRYAGAIN`,
   * `MASTERDOWN`, lost connections) for commands that never ran or may run
   * twice. Default: `defaultRetry`.
   */
  readonly retry?: Schedule.Schedule<unknown, RedisError.RedisError> | undefined
}

/**
 * The default retry: up to 5 attempts, exponential from 20 ms with jitter,
 * only for retryable reasons, and only when the command is known not to have
 * run (`NotSent`/`Rejected`) or is a read or idempotent.
 *
 * @category defaults
 * @since 0.1.0
 */
export const defaultRetry: Schedule.Schedule<unknown, RedisError.RedisError> = Schedule.exponential("20 millis").pipe(
  Schedule.jittered,
  Schedule.upTo({ times: 5 }),
  Schedule.setInputType<RedisError.RedisError>()
)

/**
 * Whether a failure of `command` may be retried without risking a second
 * execution.
 *
 * @category retry
 * @since 0.1.0
 */
export const isSafeToRetry = (command: Command<unknown>, error: RedisError.RedisError): boolean => {
  if (!error.reason.isRetryable) return false
  switch (error.reason._tag) {
    case "ReadOnly":
    case "ConnectionError":
    case "Timeout":
      if (error.outcome === "Unknown") return Cmd.isResendable(command)
      return true
    case "Moved":
    case "Ask":
    case "ExecAbort":
    case "MasterNotFound":
      return false
    default:
      return error.outcome !== "Unknown" || Cmd.isResendable(command)
  }
}

/**
 * Retries `again` by `schedule` after a first attempt that already failed
 * with `error`. The first failure counts as the schedule's first input, so
 * a schedule of N retries means N more sends, each after its delay.
 *
 * @category retry
 * @since 0.1.0
 */
export const retryAfter = <A>(
  error: RedisError.RedisError,
  again: () => Effect.Effect<A, RedisError.RedisError>,
  options: {
    readonly schedule: Schedule.Schedule<unknown, RedisError.RedisError>
    readonly while: (error: RedisError.RedisError) => boolean
  }
): Effect.Effect<A, RedisError.RedisError> => {
  let replayed = false
  return Effect.retry(
    Effect.suspend(() => {
      if (replayed) return again()
      replayed = true
      return Effect.fail(error)
    }),
    options
  )
}

/**
 * Wraps a single-command sender with the retry policy; the success path adds
 * nothing but one `catch`.
 *
 * @category retry
 * @since 0.1.0
 */
export const withRetry = (
  send: <A>(command: Command<A>) => Effect.Effect<A, RedisError.RedisError>,
  schedule: Schedule.Schedule<unknown, RedisError.RedisError>
) =>
<A>(command: Command<A>): Effect.Effect<A, RedisError.RedisError> =>
  Effect.catch(send(command), (error) =>
    isSafeToRetry(command, error)
      ? retryAfter(error, () => send(command), { schedule, while: (e) => isSafeToRetry(command, e) })
      : Effect.fail(error))

/**
 * A standalone client: one shared connection, dedicated connections on
 * demand, pub/sub on its own connection.
 *
 * @category constructors
 * @since 0.1.0
 */
export const make = (options: Options): Effect.Effect<RedisShape, RedisError.RedisError, Scope.Scope | Transport> =>
  Effect.gen(function*() {
    const resolved = yield* RedisConfig.resolve(options)
    const pool = yield* Pool.make(resolved, options)
    const transport = yield* Transport
    const pubsub = yield* PubSub.make(resolved).pipe(Effect.provideService(Transport, transport))
    const send = pool.shared.send
    const retrying = withRetry(send, options.retry ?? defaultRetry)
    return fromBackend({
      execute: retrying,
      executeAll: pool.shared.sendAll,
      // An idle pooled connection may have been dropped by the server (CLIENT
      // KILL, timeout) and be reconnecting; dedicated connections refuse
      // commands while offline, so wait until it is back before using it.
      withDedicated: (_keys, f) => pool.withDedicated((c) => Effect.flatMap(c.awaitReady, () => f(c))),
      pubsub,
      monitorConnection: (onPush) =>
        Connection.makeFeed(resolved, onPush).pipe(Effect.provideService(Transport, transport))
    })
  })

/**
 * A layer providing `Redis` for one standalone server. Needs a `Transport`
 * (`@redis-effect/node` provides one).
 *
 * @category layers
 * @since 0.1.0
 */
export const layer = (options: Options): Layer.Layer<Redis, RedisError.RedisError, Transport> =>
  Layer.effect(Redis)(Effect.map(make(options), Redis.of))
