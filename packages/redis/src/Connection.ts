/**
 * One logical, multiplexed connection to one Redis server.
 *
 * Many fibers share it: every command issued in the same tick leaves in one
 * socket write (auto-pipelining) and replies are matched to callers in
 * order. It performs the handshake (`HELLO 3` with AUTH and SETNAME, falling
 * back to RESP2; `SELECT`; `CLIENT SETINFO`; `READONLY`), reconnects by a
 * `Schedule`, holds commands issued while it is down in a bounded offline
 * queue, and routes RESP3 push messages (and, for subscriber or MONITOR
 * connections, every unsolicited frame) to a handler apart from replies.
 *
 * It does not route by key, pick nodes or retry server errors: that is the
 * client's and the router's job. It does not resend a command that may have
 * reached the server unless the command is a read or marked idempotent.
 *
 * **Gotchas**
 *
 * Interrupting a caller never desynchronizes the connection: a written
 * command keeps its place in the reply queue and its reply is read and
 * dropped. A command interrupted before it was written is still written (it
 * is already in the batch); at-most-once holds either way.
 *
 * **Details** (hot path)
 *
 * Per command: one `Command` object, one queue entry, one `Effect.callback`
 * (no abort signal, no canceler, no timer), resumed with an `Exit` straight
 * from the parse loop. The design table in DESIGN.md prices each Effect
 * construct on this path; anything per command beyond this costs 0.1–5 µs
 * against a budget of about 1.9 µs.
 *
 * @since 0.1.0
 */
import * as Cause from "effect/Cause"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"
import * as Latch from "effect/Latch"
import * as Redacted from "effect/Redacted"
import * as Scope from "effect/Scope"
import type * as Socket from "effect/socket/Socket"
import type { Command } from "./Command.ts"
import * as Cmd from "./Command.ts"
import { Fifo } from "./internal/Fifo.ts"
import * as RedisConfig from "./RedisConfig.ts"
import * as RedisError from "./RedisError.ts"
import * as Resp from "./Resp.ts"
import { Transport } from "./Transport.ts"

/**
 * The library name and version sent with `CLIENT SETINFO`.
 *
 * @category constants
 * @since 0.1.0
 */
export const LIB_NAME = "redis-effect"

/**
 * @category constants
 * @since 0.1.0
 */
export const LIB_VERSION = "0.1.0"

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
    onConnect: a.onConnect === undefined
      ? b.onConnect
      : b.onConnect === undefined
      ? a.onConnect
      : (c) => Effect.andThen(a.onConnect!(c), b.onConnect!(c))
  }
}

// -----------------------------------------------------------------------------
// internals
// -----------------------------------------------------------------------------

type Resume = (exit: Exit.Exit<any, RedisError.RedisError>) => void

// One per command. A class keeps every entry on one hidden class.
class Entry {
  command: Command<any>
  resume: Resume
  resends: number
  sentAt: number
  /** Written, but no reply will come for it (SUBSCRIBE on a subscriber connection). */
  noReply: boolean
  constructor(command: Command<any>, resume: Resume, noReply: boolean) {
    this.command = command
    this.resume = resume
    this.resends = 0
    this.sentAt = 0
    this.noReply = noReply
  }
}

const ignoreResume: Resume = () => {}

// When a connection flushes its outbox (`ConnectionOptions.flush`).
// `setImmediate` runs after the I/O callbacks of the current event-loop turn:
// on a cluster, where the replies from one node wake callers whose next
// commands go to all the others, a flush at the end of each task made up to
// one write per node per *read*; this makes one per node per turn. Cluster
// GET at 100 in flight: 5.9 -> 4.5-5.1 us of client CPU per command while the
// loops below still yielded every turn, within noise of "task" since; on one
// standalone connection it cost ~10% more CPU per command (BENCHMARKS.md).
// Runtimes without `setImmediate` flush at the end of the current task.
const afterIoTurn: (f: () => void) => void = typeof globalThis.setImmediate === "function"
  ? (f) => {
    globalThis.setImmediate(f)
  }
  : queueMicrotask

const connectionError = (endpoint: RedisConfig.Endpoint, message: string, cause?: unknown) =>
  new RedisError.ConnectionError(
    cause === undefined
      ? { message, address: RedisConfig.formatEndpoint(endpoint) }
      : { message, address: RedisConfig.formatEndpoint(endpoint), cause }
  )

const socketMessage = (error: Socket.SocketError): string => {
  const reason = error.reason
  const cause = "cause" in reason ? reason.cause : undefined
  const detail = cause instanceof Error ? cause.message : ""
  switch (reason._tag) {
    case "SocketOpenError":
      return reason.kind === "Timeout" ? "connect timed out" : `connect failed${detail ? `: ${detail}` : ""}`
    case "SocketCloseError":
      return `connection closed (code ${reason.code})`
    default:
      return `${reason._tag}${detail ? `: ${detail}` : ""}`
  }
}

class SessionLost {
  readonly error: RedisError.RedisError
  /** How long the session was ready, in milliseconds. */
  readonly lifetime: number
  constructor(error: RedisError.RedisError, lifetime: number) {
    this.error = error
    this.lifetime = lifetime
  }
}

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
    const endpoint = options.endpoint
    const address = RedisConfig.formatEndpoint(endpoint)
    const offline = options.offline ?? RedisConfig.defaultOffline
    const maxResends = options.maxResends ?? RedisConfig.defaultMaxResends
    const reconnectSchedule = options.reconnect ?? RedisConfig.defaultReconnect
    const commandTimeoutMs = options.commandTimeout === undefined
      ? 0
      : Duration.toMillis(Duration.fromInputUnsafe(options.commandTimeout))
    const onPush = hooks?.onPush
    const onServerPush = hooks?.onServerPush
    const later = options.flush === "ioTurn" ? afterIoTurn : queueMicrotask
    const connectTimeout = Duration.fromInputUnsafe(options.connectTimeout ?? RedisConfig.defaultConnectTimeout)

    // --- state (lives only inside this closure) ---
    let status: Status = "connecting"
    let protocol: 2 | 3 = 3
    let lastError: RedisError.RedisError | undefined
    // Commands not yet written, and written commands awaiting replies.
    const outbox = new Fifo<Entry>()
    const pending = new Fifo<Entry>()
    let decoder = new Resp.Decoder(decoderOptions(options, transport))
    const encoder = new Resp.Encoder()
    let flushScheduled = false
    let writerWake: ((e: Effect.Effect<void>) => void) | undefined
    let demandWake: ((e: Effect.Effect<void>) => void) | undefined
    let killSession: ((error: RedisError.RedisError) => void) | undefined
    const readyWaiters: Array<(exit: Exit.Exit<void, RedisError.RedisError>) => void> = []
    let stats = { connects: 0, writes: 0, commandsWritten: 0 }

    const setReady = () => {
      status = "ready"
      lastError = undefined
      for (const w of readyWaiters.splice(0)) w(Exit.void)
      scheduleFlush()
    }

    // --- the write side ---------------------------------------------------
    // Sends join the outbox; the first one schedules one flush that wakes the
    // writer fiber, which encodes the whole outbox into one buffer and writes
    // it once. Callers resumed synchronously by the parse loop enqueue their
    // next command before the flush runs, so a reply batch turns into one
    // request batch (with `flush: "ioTurn"`, the replies of every connection
    // read in this loop turn do).
    function scheduleFlush() {
      if (flushScheduled || status !== "ready") return
      flushScheduled = true
      later(wakeWriter)
    }
    function wakeWriter() {
      flushScheduled = false
      const wake = writerWake
      if (wake !== undefined) {
        writerWake = undefined
        wake(Effect.void)
      }
    }
    const waitForWork = Effect.callback<void>((resume) => {
      if (outbox.length > 0 && status === "ready") resume(Effect.void)
      else writerWake = resume
    })

    const encodeOutbox = (): Uint8Array | undefined => {
      let count = 0
      const now = commandTimeoutMs > 0 ? performance.now() : 0
      let entry: Entry | undefined
      while ((entry = outbox.shift()) !== undefined) {
        encoder.write(entry.command.args)
        if (entry.noReply) continue
        entry.sentAt = now
        pending.push(entry)
        count++
      }
      if (encoder.length === 0) return undefined
      stats.writes++
      stats.commandsWritten += count
      return encoder.take()
    }

    // Both loops park on their own (`waitForWork`, `pull`) whenever there is
    // nothing to do, so they skip `forever`'s yield to the scheduler after
    // each turn: that yield cost a scheduler round trip per write and per
    // read batch, and left the writer unparked when the next flush came.
    const writerLoop = (w: Socket.Writer) =>
      Effect.forever(
        Effect.flatMap(waitForWork, () => {
          const bytes = encodeOutbox()
          return bytes === undefined ? Effect.void : w.write(bytes)
        }),
        { disableYield: true }
      )

    // --- the read side ----------------------------------------------------
    const failEntry = (entry: Entry, error: RedisError.RedisError) => entry.resume(Exit.fail(error))

    const dispatch = (value: Resp.RespValue): void => {
      if (value instanceof Resp.RespPush) {
        if (onPush !== undefined) onPush(value)
        else onServerPush?.(value)
        return
      }
      const entry = pending.shift()
      if (entry === undefined) {
        if (onPush !== undefined) return onPush(value)
        throw new Resp.RespProtocolError("a reply arrived while no command was waiting for one")
      }
      const command = entry.command
      if (value instanceof Resp.RespError) {
        entry.resume(Exit.fail(RedisError.make(RedisError.classify(value.message), "Rejected", command.name)))
        return
      }
      let decoded: unknown
      try {
        decoded = command.decode(value)
      } catch (e) {
        // The framing is intact: only this reply had the wrong shape. It ran,
        // so the outcome is Unknown from the caller's point of view.
        const message = e instanceof Error ? e.message : String(e)
        entry.resume(
          Exit.fail(RedisError.make(new RedisError.ProtocolError({ message }), "Unknown", command.name))
        )
        return
      }
      entry.resume(Exit.succeed(decoded))
    }

    const onChunks = (chunks: ReadonlyArray<Uint8Array | string>): Effect.Effect<void, RedisError.RedisError> => {
      try {
        for (let i = 0; i < chunks.length; i++) {
          const chunk = chunks[i]
          decoder.feed(typeof chunk === "string" ? new TextEncoder().encode(chunk) : chunk)
          while (true) {
            const head = pending.peek()
            const value = decoder.next(head !== undefined && head.command.binary)
            if (value === Resp.Incomplete) break
            dispatch(value)
          }
        }
        return Effect.void
      } catch (e) {
        const message = e instanceof Error ? e.message : String(e)
        return Effect.fail(
          RedisError.make(new RedisError.ProtocolError({ message: `${message} (from ${address})` }), "Unknown")
        )
      }
    }

    const readLoop = (pull: Effect.Effect<ReadonlyArray<Uint8Array | string>, Socket.SocketError>) =>
      Effect.forever(
        Effect.flatMap(
          Effect.mapError(pull, (e) => RedisError.make(connectionError(endpoint, socketMessage(e), e), "Unknown")),
          onChunks
        ),
        { disableYield: true }
      )

    // --- sending ----------------------------------------------------------
    const enqueue = (entry: Entry): RedisError.RedisError | undefined => {
      switch (status) {
        case "ready":
          outbox.push(entry)
          scheduleFlush()
          return undefined
        case "closed":
          return RedisError.make(new RedisError.Closed({ message: `connection to ${address} is closed` }), "NotSent")
        default: {
          // `fail` is for a connection that was up and went down; during the
          // first connect commands wait (a fresh connection is not an outage).
          if (offline._tag === "fail" && status !== "connecting") return offlineError()
          // A failed connection reconnects when a command needs it.
          if (status === "failed") wakeDemand()
          const maxLength = offline._tag === "queue" ? offline.maxLength : RedisConfig.defaultOffline._tag === "queue"
            ? RedisConfig.defaultOffline.maxLength
            : 0
          if (outbox.length >= maxLength) {
            return RedisError.make(
              connectionError(endpoint, `offline queue is full (${maxLength} commands)`),
              "NotSent"
            )
          }
          outbox.push(entry)
          return undefined
        }
      }
    }
    const offlineError = () =>
      RedisError.make(
        lastError?.reason ?? connectionError(endpoint, "not connected"),
        "NotSent"
      )

    const send = <A>(command: Command<A>): Effect.Effect<A, RedisError.RedisError> => {
      if (command.invalid !== undefined) {
        return Effect.fail(RedisError.invalidArgument(command.invalid, command.name))
      }
      return Effect.callback<A, RedisError.RedisError>((resume) => {
        const error = enqueue(new Entry(command, resume, false))
        if (error !== undefined) resume(Exit.fail(error))
      })
    }

    const sendAll = (
      commands: ReadonlyArray<Command<unknown>>
    ): Effect.Effect<Array<Exit.Exit<unknown, RedisError.RedisError>>> =>
      Effect.callback((resume) => {
        const n = commands.length
        const results = new Array<Exit.Exit<unknown, RedisError.RedisError>>(n)
        let remaining = n
        if (n === 0) return resume(Effect.succeed(results))
        for (let i = 0; i < n; i++) {
          const command = commands[i]
          const settle: Resume = (exit) => {
            results[i] = exit
            if (--remaining === 0) resume(Effect.succeed(results))
          }
          if (command.invalid !== undefined) {
            settle(Exit.fail(RedisError.invalidArgument(command.invalid, command.name)))
            continue
          }
          const error = enqueue(new Entry(command, settle, false))
          if (error !== undefined) settle(Exit.fail(error))
        }
      })

    const sendNoReply = (args: ReadonlyArray<Resp.Arg>): Effect.Effect<void, RedisError.RedisError> =>
      Effect.suspend(() => {
        const command = Cmd.unsafeMake(String(args[0]).toUpperCase(), args, [], Cmd.Flags.PUBSUB, Cmd.Reply.raw)
        const error = enqueue(new Entry(command, ignoreResume, true))
        return error === undefined ? Effect.void : Effect.fail(error)
      })

    // --- handshake --------------------------------------------------------
    // Sent through the normal reply queue, but written directly: the outbox
    // holds user commands until the session is ready.
    const direct = <A>(w: Socket.Writer, command: Command<A>): Effect.Effect<A, RedisError.RedisError> =>
      Effect.callback<A, RedisError.RedisError>((resume) => {
        pending.push(new Entry(command, resume, false))
        encoder.write(command.args)
        const bytes = encoder.take()
        Effect.runFork(
          Effect.catch(w.write(bytes), (e) => Effect.sync(() => killSession?.(
            RedisError.make(connectionError(endpoint, socketMessage(e), e), "Unknown")
          )))
        )
      })

    const handshakeCommand = (args: ReadonlyArray<Resp.Arg>) => Cmd.unsafeMake(String(args[0]), args, [], 0, Cmd.Reply.raw)

    const handshake = (w: Socket.Writer): Effect.Effect<void, RedisError.RedisError> =>
      Effect.gen(function*() {
        let username = options.username
        let password = options.password
        if (options.credentials !== undefined) {
          const creds = yield* Effect.mapError(options.credentials, (e) =>
            RedisError.make(
              new RedisError.AuthError({ message: `credentials provider failed: ${e.reason._tag}` }),
              "NotSent"
            ))
          username = creds.username
          password = creds.password
        }
        const authArgs = password === undefined ? [] : ["AUTH", username ?? "default", Redacted.value(password)]
        const asAuthError = (error: RedisError.RedisError): RedisError.RedisError =>
          error.reason._tag === "AuthError" || error.reason._tag === "ReplyError" && /NOPERM|WRONGPASS|NOAUTH/.test(error.reason.code)
            ? RedisError.make(new RedisError.AuthError({ message: authMessage(error) }), "Rejected", "AUTH")
            : error
        protocol = 2
        let namedInHello = false
        if ((options.protocol ?? 3) === 3) {
          const helloArgs: Array<Resp.Arg> = ["HELLO", 3, ...authArgs]
          if (options.clientName !== undefined) helloArgs.push("SETNAME", options.clientName)
          const hello = yield* Effect.exit(direct(w, handshakeCommand(helloArgs)))
          if (Exit.isSuccess(hello)) {
            protocol = 3
            namedInHello = true
          } else {
            const error = exitError(hello)
            // Servers before 6.0 do not know HELLO; NOPROTO: RESP3 refused.
            const unknown = error.reason._tag === "ReplyError" &&
              (error.reason.code === "NOPROTO" || /unknown command/i.test(error.reason.message))
            if (!unknown) return yield* Effect.fail(asAuthError(error))
          }
        }
        if (protocol === 2 && password !== undefined) {
          const args = username === undefined ? ["AUTH", Redacted.value(password)] : authArgs
          yield* Effect.mapError(direct(w, handshakeCommand(args)), asAuthError)
        }
        const setup: Array<Effect.Effect<unknown, RedisError.RedisError>> = []
        if (!namedInHello && options.clientName !== undefined) {
          setup.push(direct(w, handshakeCommand(["CLIENT", "SETNAME", options.clientName])))
        }
        if (options.database !== undefined && options.database !== 0) {
          setup.push(direct(w, handshakeCommand(["SELECT", options.database])))
        }
        if (options.readOnly === true) setup.push(direct(w, handshakeCommand(["READONLY"])))
        if (options.setInfo !== false) {
          // Redis < 7.2 does not know SETINFO: ignore its errors.
          setup.push(Effect.ignore(direct(w, handshakeCommand(["CLIENT", "SETINFO", "LIB-NAME", LIB_NAME]))))
          setup.push(Effect.ignore(direct(w, handshakeCommand(["CLIENT", "SETINFO", "LIB-VER", LIB_VERSION]))))
        }
        yield* Effect.all(setup, { concurrency: "unbounded", discard: true })
      })

    // --- sessions and the lifecycle ---------------------------------------
    const failPending = (error: RedisError.RedisError) => {
      // Written commands: resend reads and idempotent writes (they go back to
      // the front of the outbox, in order); everything else may have run, so
      // its outcome is Unknown.
      const written = pending.drain()
      const resend: Array<Entry> = []
      for (const entry of written) {
        if (Cmd.isResendable(entry.command) && entry.resends < maxResends) {
          entry.resends++
          resend.push(entry)
        } else {
          failEntry(entry, RedisError.make(error.reason, "Unknown", entry.command.name))
        }
      }
      outbox.unshiftAll(resend)
    }
    const failOutbox = (error: RedisError.RedisError) => {
      for (const entry of outbox.drain()) failEntry(entry, RedisError.make(error.reason, "NotSent", entry.command.name))
    }

    // Connects, shakes hands, then serves until the socket dies. Fails with
    // the connect/handshake error (so the reconnect schedule applies), or
    // succeeds with SessionLost once a ready session ends.
    const session = Effect.gen(function*() {
      const socket = yield* transport.open(options)
      const reader = yield* Effect.mapError(socket.reader, (e) =>
        RedisError.make(connectionError(endpoint, socketMessage(e), e), "NotSent"))
      const w = yield* socket.writer
      decoder = new Resp.Decoder(decoderOptions(options, transport))
      encoder.take()
      const lost = Latch.makeUnsafe(false)
      let lostError: RedisError.RedisError | undefined
      killSession = (error) => {
        lostError ??= error
        // Stop flushing at once: whatever is still in the outbox waits for
        // the next session instead of being written to a dead socket.
        if (status === "ready") status = "reconnecting"
        lost.openUnsafe()
      }
      const readFiber = yield* Effect.forkScoped(
        Effect.catch(readLoop(reader.pull), (error) => Effect.sync(() => killSession?.(error)))
      )
      // connectTimeout bounds the handshake too: a peer that accepts the TCP
      // connection but never answers HELLO must not hang the connect.
      const handshakeFiber = yield* Effect.forkScoped(Effect.timeoutOrElse(handshake(w), {
        duration: connectTimeout,
        orElse: () =>
          Effect.fail(RedisError.make(
            new RedisError.Timeout({
              message: `handshake with ${address} got no reply within ${Duration.toMillis(connectTimeout)} ms`,
              millis: Duration.toMillis(connectTimeout)
            }),
            "NotSent"
          ))
      }))
      const handshakeExit = yield* Effect.raceFirst(
        Fiber.await(handshakeFiber),
        Effect.as(lost.await, Exit.fail(lostError ?? RedisError.make(connectionError(endpoint, "connection lost during handshake"), "Unknown")))
      )
      if (Exit.isFailure(handshakeExit)) {
        const error = lostError ?? exitError(handshakeExit)
        failPending(RedisError.make(error.reason, "Unknown"))
        return yield* Effect.fail(error)
      }
      if (hooks?.onConnect !== undefined) {
        const hookExit = yield* Effect.exit(hooks.onConnect(self))
        if (Exit.isFailure(hookExit)) return yield* Effect.fail(exitError(hookExit))
      }
      stats.connects++
      const writerFiber = yield* Effect.forkScoped(
        Effect.catch(writerLoop(w), (e) =>
          Effect.sync(() => killSession?.(RedisError.make(connectionError(endpoint, socketMessage(e), e), "Unknown"))))
      )
      const started = Date.now()
      setReady()
      if (commandTimeoutMs > 0) yield* Effect.forkScoped(watchTimeouts)
      if (options.healthCheckInterval !== undefined) yield* Effect.forkScoped(healthCheck(options.healthCheckInterval))
      yield* lost.await
      yield* Fiber.interrupt(writerFiber)
      yield* Fiber.interrupt(readFiber)
      const error = lostError ?? RedisError.make(connectionError(endpoint, "connection lost"), "Unknown")
      return new SessionLost(error, Date.now() - started)
    }).pipe(Effect.scoped)

    const lifecycle = Effect.gen(function*() {
      while (true) {
        if (status !== "connecting") status = "reconnecting"
        const exit = yield* Effect.exit(Effect.retry(
          offline._tag === "fail"
            // With `fail`, a failed attempt releases what waited for it (the
            // first connect included) and later commands fail at once.
            ? Effect.tapError(session, (error) =>
              Effect.sync(() => {
                status = "reconnecting"
                failOutbox(error)
              }))
            : session,
          reconnectSchedule
        ))
        if (Exit.isSuccess(exit)) {
          const lost = exit.value
          status = "reconnecting"
          hooks?.onDisconnect?.(lost.error)
          failPending(lost.error)
          // A session that dies right after the handshake counts as a failed
          // attempt, so a server that accepts and drops cannot spin us.
          if (lost.lifetime < 100) yield* Effect.sleep("100 millis")
          continue
        }
        const error = exitError(exit)
        lastError = error
        status = "failed"
        failPending(error)
        failOutbox(error)
        for (const w of readyWaiters.splice(0)) w(Exit.fail(error))
        hooks?.onDisconnect?.(error)
        // Wait for the next command before trying again.
        yield* Effect.callback<void>((resume) => {
          if (outbox.length > 0) resume(Effect.void)
          else demandWake = resume
        })
        status = "reconnecting"
      }
    })
    const wakeDemand = () => {
      const wake = demandWake
      if (wake !== undefined) {
        demandWake = undefined
        wake(Effect.void)
      }
    }

    // One timer per connection, not per command: it looks at the oldest
    // written command only (replies come in order, so it is the late one).
    const watchTimeouts = Effect.gen(function*() {
      const period = Math.max(10, Math.min(1000, commandTimeoutMs / 4))
      while (true) {
        yield* Effect.sleep(Duration.millis(period))
        const head = pending.peek()
        if (head !== undefined && (head.command.flags & Cmd.Flags.BLOCKING) === 0 && head.sentAt > 0 &&
          performance.now() - head.sentAt > commandTimeoutMs) {
          killSession?.(RedisError.make(
            new RedisError.Timeout({ message: `no reply from ${address} within ${commandTimeoutMs} ms`, millis: commandTimeoutMs }),
            "Unknown"
          ))
        }
      }
    })

    const healthCheck = (interval: Duration.Input) =>
      Effect.gen(function*() {
        const ping = Cmd.unsafeMake("PING", ["PING"], [], Cmd.Flags.READONLY, Cmd.Reply.raw)
        while (true) {
          yield* Effect.sleep(interval)
          if (pending.length > 0 || outbox.length > 0 || onPush !== undefined) continue
          const result = yield* Effect.timeoutOption(Effect.exit(send(ping)), interval)
          if (result._tag === "None") {
            killSession?.(RedisError.make(
              new RedisError.Timeout({
                message: `health check PING to ${address} got no reply`,
                millis: Duration.toMillis(Duration.fromInputUnsafe(interval))
              }),
              "Unknown"
            ))
          }
        }
      })

    const self: Connection = {
      endpoint,
      send,
      sendAll,
      sendNoReply,
      status: () => status,
      protocol: () => protocol,
      awaitReady: Effect.callback<void, RedisError.RedisError>((resume) => {
        if (status === "ready") return resume(Effect.void)
        if (status === "closed") {
          return resume(Effect.fail(RedisError.make(new RedisError.Closed({ message: "connection closed" }), "NotSent")))
        }
        if (status === "failed") wakeDemand()
        readyWaiters.push(resume)
      }),
      reconnect: Effect.sync(() =>
        killSession?.(RedisError.make(connectionError(endpoint, "reconnect requested"), "Unknown"))
      ),
      stats: () => ({ ...stats, inFlight: pending.length, queued: outbox.length })
    }

    yield* Scope.addFinalizer(
      scope,
      Effect.sync(() => {
        status = "closed"
        const error = RedisError.make(new RedisError.Closed({ message: `connection to ${address} closed` }), "Unknown")
        for (const entry of pending.drain()) failEntry(entry, error)
        failOutbox(RedisError.make(error.reason, "NotSent"))
        for (const w of readyWaiters.splice(0)) w(Exit.fail(RedisError.make(error.reason, "NotSent")))
      })
    )
    yield* Effect.forkIn(lifecycle, scope)
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

const decoderOptions = (
  options: RedisConfig.ConnectionOptions,
  platform: Transport["Service"]
): Resp.DecoderOptions => {
  const out: {
    maxBulkLength?: number
    maxDepth?: number
    decodeUtf8?: (bytes: Uint8Array, start: number, end: number) => string
    allocate?: (size: number) => Uint8Array
  } = {}
  if (platform.decodeUtf8 !== undefined) out.decodeUtf8 = platform.decodeUtf8
  if (platform.allocate !== undefined) out.allocate = platform.allocate
  if (options.maxBulkLength !== undefined) out.maxBulkLength = options.maxBulkLength
  if (options.maxDepth !== undefined) out.maxDepth = options.maxDepth
  return out
}

const exitError = (exit: Exit.Exit<unknown, RedisError.RedisError>): RedisError.RedisError => {
  if (Exit.isFailure(exit)) {
    const found = Cause.findErrorOption(exit.cause)
    if (found._tag === "Some") return found.value
  }
  return RedisError.make(new RedisError.ConnectionError({ message: "interrupted" }), "Unknown")
}

const authMessage = (error: RedisError.RedisError): string =>
  // The server's text never contains the password; keep it, it says why.
  (error.reason as { readonly message?: string }).message ?? error.reason._tag
