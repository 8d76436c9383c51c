/**
 * One logical, multiplexed connection to one Redis server.
 *
 * Many fibers share it: every command issued in the same tick leaves in one
 * socket write (auto-pipelining) and replies are matched to callers in
 * order. It performs the handshake (`HELLO 3` with AUTH and SETNAME, falling
 * back to RESP2; `SELECT`; `CLIENT SETINFO`; `READONLY`; the user's
 * `onConnect`), reconnects by a `Schedule`, holds commands issued while it
 * is down in a bounded offline queue, and routes RESP3 push messages (and,
 * for subscriber or MONITOR connections, every unsolicited frame) to a
 * handler apart from replies.
 *
 * It does not route by key, pick nodes or retry server errors: that is the
 * client's and the router's job. It does not resend a command that may have
 * reached the server unless the command is a read or marked idempotent.
 *
 * A ready connection watches its peer (`internal/liveness.ts`): one timer
 * per connection enforces `commandTimeout` and, by default, detects a dead
 * peer (a frozen process, a half-open connection) when the oldest command
 * awaiting a reply has seen no byte for `stallTimeout`, by probing the
 * server on a side connection; a dead peer ends the session like a lost
 * socket. `healthCheckInterval` PINGs idle connections.
 *
 * **Gotchas**
 *
 * Interrupting a caller never desynchronizes the connection: a written
 * command keeps its place in the reply queue and its reply is read and
 * dropped. A command whose caller was interrupted before it was written
 * (still in the batch, or in the offline queue) is dropped, not written;
 * one written is not recalled. At most once holds either way.
 *
 * **Details** (hot path)
 *
 * Per command: one `Command` object, one queue entry, one `Effect.callback`
 * (no abort signal, no canceler, no timer), resumed with an `Exit` straight
 * from the parse loop. Dead-peer detection adds one counter increment per
 * read batch, nothing per command. docs/ARCHITECTURE.md ("What a command may cost")
 * prices each Effect construct on this path; anything per command beyond
 * this costs 0.1–5 µs against a budget of about 1.9 µs.
 *
 * The module is laid out by concern: `internal/Multiplexer.ts` holds the
 * state and the per-command path (FIFO, joined writes, reply matching,
 * offline queue, resend rule); `internal/handshake.ts` what is sent on
 * connect; here, `make` wires them, and `session` / `lifecycle` run the
 * connect-serve-reconnect loop with the watchers of a ready session.
 *
 * @since 0.1.0
 */
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"
import * as Latch from "effect/Latch"
import * as Scope from "effect/Scope"
import type * as Socket from "effect/socket/Socket"
import type { Command } from "./Command.ts"
import * as Handshake from "./internal/handshake.ts"
import * as Liveness from "./internal/liveness.ts"
import { connectionError, exitError, Multiplexer, socketFailure } from "./internal/Multiplexer.ts"
import * as RedisConfig from "./RedisConfig.ts"
import * as RedisError from "./RedisError.ts"
import type * as Resp from "./Resp.ts"
import { Transport } from "./Transport.ts"

/**
 * The library name and version sent with `CLIENT SETINFO`.
 *
 * @category constants
 * @since 0.1.0
 */
export const LIB_NAME = Handshake.LIB_NAME

/**
 * @category constants
 * @since 0.1.0
 */
export const LIB_VERSION = Handshake.LIB_VERSION

/**
 * Where a connection is in its life.
 *
 * @category models
 * @since 0.1.0
 */
export type Status = "connecting" | "ready" | "reconnecting" | "failed" | "closed"

/**
 * One multiplexed connection.
 *
 * @category models
 * @since 0.1.0
 */
export interface Connection {
  readonly endpoint: RedisConfig.Endpoint
  /** Sends one command and waits for its reply. */
  readonly send: <A>(command: Command<A>) => Effect.Effect<A, RedisError.RedisError>
  /**
   * Sends commands back to back in one write (a pipeline) and returns one
   * `Exit` per command, in order. Fails only if none could be queued.
   */
  readonly sendAll: (
    commands: ReadonlyArray<Command<unknown>>
  ) => Effect.Effect<Array<Exit.Exit<unknown, RedisError.RedisError>>>
  /**
   * Writes a command that gets no reply of its own (SUBSCRIBE and friends on a
   * subscriber connection: their confirmations arrive as pushes).
   */
  readonly sendNoReply: (args: ReadonlyArray<Resp.Arg>) => Effect.Effect<void, RedisError.RedisError>
  /** The current status. */
  readonly status: () => Status
  /** The protocol the current session speaks (2 or 3), once connected. */
  readonly protocol: () => 2 | 3
  /** Completes when the connection is ready, or fails with why it could not connect. */
  readonly awaitReady: Effect.Effect<void, RedisError.RedisError>
  /** Drops the current socket (pending commands fail or are resent) and reconnects. */
  readonly reconnect: Effect.Effect<void>
  /** Counters for tests and metrics. */
  readonly stats: () => ConnectionStats
}

/**
 * @category models
 * @since 0.1.0
 */
export interface ConnectionStats {
  readonly connects: number
  readonly inFlight: number
  readonly queued: number
  readonly writes: number
  readonly commandsWritten: number
}

/**
 * Extra behaviour for special-purpose connections (subscribers, MONITOR).
 *
 * @category models
 * @since 0.1.0
 */
export interface Hooks {
  /** Receives RESP3 pushes and every frame that arrives while no reply is awaited. */
  readonly onPush?: ((value: Resp.RespValue) => void) | undefined
  /** Runs after each handshake, before queued commands are written (resubscribe here). */
  readonly onConnect?: ((connection: Connection) => Effect.Effect<void, RedisError.RedisError>) | undefined
  /** Told when a session ends (for gap events). */
  readonly onDisconnect?: ((error: RedisError.RedisError) => void) | undefined
  /**
   * Receives the RESP3 pushes of an ordinary connection (one without
   * `onPush`): `invalidate` from CLIENT TRACKING, for one. Unlike `onPush`
   * it does not change how replies are matched to commands.
   */
  readonly onServerPush?: ((value: Resp.RespPush) => void) | undefined
  /**
   * Frames that arrive while no reply is awaited (pushes; pub/sub arrays on
   * RESP2) keep their bulk strings as `Uint8Array` instead of decoding them
   * as UTF-8: the binary subscriber. Replies to commands are unaffected.
   */
  readonly pushesAsBytes?: boolean | undefined
}

/**
 * Both sets of hooks: each callback of `a`, then the one of `b`.
 *
 * @category combinators
 * @since 0.1.0
 */
export const mergeHooks = (a: Hooks | undefined, b: Hooks | undefined): Hooks | undefined => {
  if (a === undefined) return b
  if (b === undefined) return a
  const both = <F extends (...args: Array<any>) => void>(f: F | undefined, g: F | undefined) =>
    f === undefined ? g : g === undefined ? f : ((...args: Parameters<F>) => {
      f(...args)
      g(...args)
    }) as F
  return {
    onPush: both(a.onPush, b.onPush),
    onDisconnect: both(a.onDisconnect, b.onDisconnect),
    onServerPush: both(a.onServerPush, b.onServerPush),
    pushesAsBytes: a.pushesAsBytes === true || b.pushesAsBytes === true,
    onConnect: a.onConnect === undefined
      ? b.onConnect
      : b.onConnect === undefined
      ? a.onConnect
      : (c) => Effect.andThen(a.onConnect!(c), b.onConnect!(c))
  }
}

// -----------------------------------------------------------------------------
// wiring
// -----------------------------------------------------------------------------

/**
 * Opens a connection. It starts dialling at once, in the background; commands
 * issued before it is ready wait in the offline queue. Closing the scope fails
 * every pending command and closes the socket.
 *
 * @category constructors
 * @since 0.1.0
 */
export const make = (
  options: RedisConfig.ConnectionOptions,
  hooks?: Hooks
): Effect.Effect<Connection, never, Scope.Scope | Transport> =>
  Effect.gen(function*() {
    const transport = yield* Transport
    const scope = yield* Effect.scope
    const mux = new Multiplexer(options, transport, hooks)
    const self: Connection = {
      endpoint: options.endpoint,
      send: mux.send,
      sendAll: mux.sendAll,
      sendNoReply: mux.sendNoReply,
      status: () => mux.status,
      protocol: () => mux.protocol,
      awaitReady: mux.awaitReady,
      reconnect: Effect.sync(() =>
        mux.killSession?.(RedisError.make(connectionError(mux.endpoint, "reconnect requested"), "Unknown"))
      ),
      stats: () => mux.stats()
    }
    yield* Scope.addFinalizer(scope, Effect.sync(() => mux.close()))
    // The one background fiber of a connection, in its scope: every
    // session's fibers are forked into that session's own scope below it.
    yield* Effect.forkIn(lifecycle(mux, options, hooks, session(mux, options, transport, hooks, self)), scope)
    return self
  })

/**
 * A connection of its own for a feed such as MONITOR: every unsolicited frame
 * goes to `onPush`; it fails fast when down and never resends. Ready when it
 * is returned.
 *
 * @category constructors
 * @since 0.1.0
 */
export const makeFeed = (
  options: RedisConfig.ConnectionOptions,
  onPush: (value: Resp.RespValue) => void
): Effect.Effect<Connection, RedisError.RedisError, Scope.Scope | Transport> =>
  Effect.tap(make({ ...options, offline: { _tag: "fail" }, maxResends: 0 }, { onPush }), (c) => c.awaitReady)

// -----------------------------------------------------------------------------
// sessions and the lifecycle (once per connect; nothing here runs per command)
// -----------------------------------------------------------------------------

class SessionLost {
  readonly error: RedisError.RedisError
  /** How long the session was ready, in milliseconds. */
  readonly lifetime: number
  constructor(error: RedisError.RedisError, lifetime: number) {
    this.error = error
    this.lifetime = lifetime
  }
}

/** How one session ends: the first error that killed it, and a latch opened then. */
interface SessionEnd {
  readonly lost: Latch.Latch
  readonly error: () => RedisError.RedisError | undefined
  readonly kill: (error: RedisError.RedisError) => void
}

const sessionEnd = (mux: Multiplexer): SessionEnd => {
  const lost = Latch.makeUnsafe(false)
  let error: RedisError.RedisError | undefined
  const kill = (cause: RedisError.RedisError) => {
    error ??= cause
    // Stop flushing at once: whatever is still in the outbox waits for
    // the next session instead of being written to a dead socket.
    if (mux.status === "ready") mux.status = "reconnecting"
    lost.openUnsafe()
  }
  mux.killSession = kill
  return { lost, error: () => error, kill }
}

// Connects, shakes hands, then serves until the socket dies. Fails with
// the connect/handshake error (so the reconnect schedule applies), or
// succeeds with SessionLost once a ready session ends.
const session = (
  mux: Multiplexer,
  options: RedisConfig.ConnectionOptions,
  transport: Transport["Service"],
  hooks: Hooks | undefined,
  self: Connection
): Effect.Effect<SessionLost, RedisError.RedisError> =>
  Effect.scoped(Effect.gen(function*() {
    const socket = yield* transport.open(options)
    const reader = yield* Effect.mapError(socket.reader, (e) => socketFailure(mux.endpoint, e, "NotSent"))
    const w = yield* socket.writer
    mux.startSession()
    const end = sessionEnd(mux)
    const readFiber = yield* Effect.forkScoped(
      Effect.catch(mux.readLoop(reader), (error) => Effect.sync(() => end.kill(error)))
    )
    yield* shakeHands(mux, options, w, end)
    if (hooks?.onConnect !== undefined) {
      const hookExit = yield* Effect.exit(hooks.onConnect(self))
      if (Exit.isFailure(hookExit)) return yield* Effect.fail(exitError(hookExit))
    }
    return yield* serve(mux, options, transport, w, end, readFiber)
  }))

// The handshake runs in a fiber of the session's scope, raced against the
// socket dying (which the reader reports through `end`).
const shakeHands = (
  mux: Multiplexer,
  options: RedisConfig.ConnectionOptions,
  w: Socket.Writer,
  end: SessionEnd
): Effect.Effect<void, RedisError.RedisError, Scope.Scope> =>
  Effect.gen(function*() {
    const handshakeFiber = yield* Effect.forkScoped(Handshake.run(options, (commands) => mux.exchange(w, commands)))
    const handshakeExit = yield* Effect.raceFirst(
      Fiber.await(handshakeFiber),
      Effect.as(
        end.lost.await,
        Exit.fail(end.error() ?? RedisError.make(connectionError(mux.endpoint, "connection lost during handshake"), "Unknown"))
      )
    )
    if (Exit.isFailure(handshakeExit)) {
      const error = end.error() ?? exitError(handshakeExit)
      mux.failPending(RedisError.make(error.reason, "Unknown"))
      return yield* Effect.fail(error)
    }
    mux.protocol = handshakeExit.value
  })

// A ready session: the writer, the watchers, until the socket dies.
const serve = (
  mux: Multiplexer,
  options: RedisConfig.ConnectionOptions,
  transport: Transport["Service"],
  w: Socket.Writer,
  end: SessionEnd,
  readFiber: Fiber.Fiber<unknown, unknown>
): Effect.Effect<SessionLost, never, Scope.Scope> =>
  Effect.gen(function*() {
    mux.counters.connects++
    const writerFiber = yield* Effect.forkScoped(
      Effect.catch(mux.writerLoop(w), (e) => Effect.sync(() => end.kill(socketFailure(mux.endpoint, e, "Unknown"))))
    )
    const started = Date.now()
    mux.setReady()
    const watch = Liveness.settingsOf(options, mux.commandTimeoutMs)
    if (Liveness.watches(watch)) {
      const probe = Liveness.probe(transport, options, watch.probeMs)
      yield* Effect.forkScoped(Liveness.watch(mux, end.kill, watch, probe))
    }
    if (options.healthCheckInterval !== undefined) {
      yield* Effect.forkScoped(Liveness.healthCheck(mux, end.kill, options.healthCheckInterval))
    }
    yield* end.lost.await
    yield* Fiber.interrupt(writerFiber)
    yield* Fiber.interrupt(readFiber)
    const error = end.error() ?? RedisError.make(connectionError(mux.endpoint, "connection lost"), "Unknown")
    return new SessionLost(error, Date.now() - started)
  })

// Sessions one after another, by the reconnect schedule; when it gives up,
// the connection is `failed` until the next command asks for it.
const lifecycle = (
  mux: Multiplexer,
  options: RedisConfig.ConnectionOptions,
  hooks: Hooks | undefined,
  session: Effect.Effect<SessionLost, RedisError.RedisError>
): Effect.Effect<never> =>
  Effect.gen(function*() {
    while (true) {
      if (mux.status !== "connecting") mux.status = "reconnecting"
      const exit = yield* Effect.exit(Effect.retry(
        mux.offline._tag === "fail"
          // With `fail`, a failed attempt releases what waited for it (the
          // first connect included) and later commands fail at once.
          ? Effect.tapError(session, (error) =>
            Effect.sync(() => {
              mux.status = "reconnecting"
              mux.failOutbox(error)
            }))
          : session,
        options.reconnect ?? RedisConfig.defaultReconnect
      ))
      if (Exit.isSuccess(exit)) {
        const lost = exit.value
        mux.status = "reconnecting"
        hooks?.onDisconnect?.(lost.error)
        mux.failPending(lost.error)
        // A session that dies right after the handshake counts as a failed
        // attempt, so a server that accepts and drops cannot spin us.
        if (lost.lifetime < 100) yield* Effect.sleep("100 millis")
        continue
      }
      const error = exitError(exit)
      mux.giveUp(error)
      hooks?.onDisconnect?.(error)
      // Wait for the next command before trying again.
      yield* mux.awaitDemand
      mux.status = "reconnecting"
    }
  })
