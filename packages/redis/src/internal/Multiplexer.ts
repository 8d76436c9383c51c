/**
 * The multiplexer under one `Connection`: its state and its hot path.
 *
 * It owns the two queues every command passes through: the outbox (queued,
 * not yet written) and the in-flight FIFO (written, awaiting a reply).
 * `send` pushes an entry on the outbox; the first send of a tick schedules
 * one flush, which encodes the whole outbox into one buffer (or one list of
 * chunks, when arguments are large) and writes it once: from the flush
 * itself when the transport can write at once and the writer fiber is
 * parked, else by waking the writer fiber. The read side decodes replies
 * incrementally and resumes the head of the in-flight FIFO with an `Exit`:
 * inside the transport's read callback when it pushes its reads
 * (`Transport.DirectReader`, reading a large body straight into the
 * decoder's buffer), else in a reader fiber that pulls. It also holds
 * the offline-queue policy (what a send does while the connection is down),
 * the resend rule applied to the in-flight FIFO when a session ends, and the
 * direct write path of the handshake (`exchange`).
 *
 * It does not dial, shake hands, reconnect or watch for timeouts and dead
 * peers: `Connection.ts` runs those as fibers in the connection's scope over
 * this state, `internal/handshake.ts` says what a handshake sends and
 * `internal/liveness.ts` how a session is watched.
 *
 * **Details** (hot path)
 *
 * Per command: one `Entry`, one push on the outbox, one `Effect.callback`
 * (no abort signal, no canceler, no timer), resumed with an `Exit` straight
 * from the parse loop. The entry remembers its caller's fiber
 * (`Fiber.getCurrent`, a property read) and the encoder skips an entry
 * whose caller has exited (`pollUnsafe`, a field read): a caller
 * interrupted before its command was written gets it dropped, at no cost
 * measurable per command; a canceler on the callback would have cost about
 * a third more CPU per command. Per read, one counter increment (`reads`)
 * feeds dead-peer detection; with a pushing transport no fiber suspends per
 * read, so a command sent alone suspends its caller's fiber and nothing
 * else. The state is the fields of one class and the hot path its methods,
 * so per-command code reads its state through `this` exactly as a closure
 * reads its variables: no object, closure, Effect or indirection per
 * command beyond the above. docs/ARCHITECTURE.md ("What a command may
 * cost") prices each Effect construct on this path; anything
 * per command beyond this costs 0.1–5 µs against a budget of about 1.9 µs.
 *
 * @internal
 */
import * as Deferred from "effect/Deferred"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"
import type * as Socket from "effect/socket/Socket"
import type { Command } from "../Command.ts"
import * as Cmd from "../Command.ts"
import type { ConnectionStats, Hooks, Status } from "../Connection.ts"
import * as Delivery from "../Delivery.ts"
import * as RedisConfig from "../RedisConfig.ts"
import * as RedisError from "../RedisError.ts"
import * as Resp from "../Resp.ts"
import { listenOf, type ReadSink, type Transport, writeNowOf } from "../Transport.ts"
import { Fifo } from "./Fifo.ts"
import { decodeReply } from "./replyDecoders.ts"

type Resume = (exit: Exit.Exit<any, RedisError.RedisError>) => void

/** A reply for each command, in order. */
type Replies = Array<Exit.Exit<unknown, RedisError.RedisError>>

// One per command. A class keeps every entry on one hidden class.
class Entry {
  command: Command<any>
  resume: Resume
  resends: number
  sentAt: number
  /** Written, but no reply will come for it (SUBSCRIBE on a subscriber connection). */
  noReply: boolean
  /**
   * The fiber that waits for the reply (undefined: nobody waits). Once it
   * has exited, it was interrupted (nothing else resumes it), and an entry
   * still in the outbox is dropped instead of written.
   */
  caller: Fiber.Fiber<unknown, unknown> | undefined
  /**
   * The encoder's buffers that hold this command's large string arguments,
   * handed back for reuse when its reply arrives (`Resp.Encoder.recycle`).
   */
  leases: ReadonlyArray<Uint8Array> | undefined
  constructor(command: Command<any>, resume: Resume, noReply: boolean, caller: Fiber.Fiber<unknown, unknown> | undefined) {
    this.command = command
    this.resume = resume
    this.resends = 0
    this.sentAt = 0
    this.noReply = noReply
    this.caller = caller
    this.leases = undefined
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

// -----------------------------------------------------------------------------
// the connection's errors
// -----------------------------------------------------------------------------

/**
 * A `ConnectionError` naming the endpoint.
 *
 * @internal
 */
export const connectionError = (endpoint: RedisConfig.Endpoint, message: string, cause?: unknown) =>
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

/**
 * A socket failure as the connection reports it.
 *
 * @internal
 */
export const socketFailure = (
  endpoint: RedisConfig.Endpoint,
  error: Socket.SocketError,
  outcome: RedisError.Outcome
): RedisError.RedisError => RedisError.make(connectionError(endpoint, socketMessage(error), error), outcome)

/**
 * The error an `Exit` failed with; an interruption reads as a lost connection.
 *
 * @internal
 */
export const exitError = (exit: Exit.Exit<unknown, RedisError.RedisError>): RedisError.RedisError =>
  RedisError.failureOf(exit) ??
    RedisError.make(new RedisError.ConnectionError({ message: "interrupted" }), "Unknown")

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

// -----------------------------------------------------------------------------
// the multiplexer
// -----------------------------------------------------------------------------

/**
 * One connection's queues, codec and status, with the per-command path.
 * Plain mutable state: it lives inside one connection and never escapes it.
 *
 * @internal
 */
export class Multiplexer {
  // --- configuration (fixed for the connection's life) ---
  readonly endpoint: RedisConfig.Endpoint
  readonly address: string
  readonly offline: RedisConfig.OfflinePolicy
  readonly commandTimeoutMs: number
  private readonly maxResends: number
  private readonly offlineLimit: number
  private readonly onPush: ((value: Resp.RespValue) => void) | undefined
  private readonly onServerPush: ((value: Resp.RespPush) => void) | undefined
  /** Frames that arrive while no reply is awaited decode bulk strings as bytes (binary pub/sub). */
  private readonly unsolicitedBinary: boolean
  private readonly later: (f: () => void) => void
  private readonly decoderOptions: Resp.DecoderOptions

  // --- state ---
  status: Status = "connecting"
  protocol: 2 | 3 = 3
  /** Why the last connect attempt gave up (what offline sends fail with). */
  lastError: RedisError.RedisError | undefined = undefined
  /** Commands not yet written. */
  readonly outbox = new Fifo<Entry>()
  /** Written commands awaiting replies, oldest first. */
  readonly pending = new Fifo<Entry>()
  private decoder: Resp.Decoder
  private readonly encoder: Resp.Encoder
  private flushScheduled = false
  private writerWake: ((e: Effect.Effect<void>) => void) | undefined = undefined
  /** The session writer's direct path, while its writer fiber runs. */
  private writeNow: ((chunks: ReadonlyArray<Uint8Array>) => boolean) | undefined = undefined
  /** Encoded by a flush that could not write them at once: the writer fiber's next write. */
  private encoded: Array<Uint8Array> | undefined = undefined
  private demandWake: ((e: Effect.Effect<void>) => void) | undefined = undefined
  /** Ends the current session (set by each session; a no-op once it ended). */
  killSession: ((error: RedisError.RedisError) => void) | undefined = undefined
  private readonly readyWaiters: Array<(exit: Exit.Exit<void, RedisError.RedisError>) => void> = []
  readonly counters = { connects: 0, writes: 0, commandsWritten: 0 }
  /** Read batches so far: the dead-peer watcher's evidence of progress (`internal/liveness.ts`). */
  reads = 0

  constructor(options: RedisConfig.ConnectionOptions, transport: Transport["Service"], hooks: Hooks | undefined) {
    this.endpoint = options.endpoint
    this.address = RedisConfig.formatEndpoint(options.endpoint)
    this.offline = options.offline ?? RedisConfig.defaultOffline
    this.commandTimeoutMs = options.commandTimeout === undefined
      ? 0
      : Duration.toMillis(Duration.fromInputUnsafe(options.commandTimeout))
    this.maxResends = options.maxResends ?? RedisConfig.defaultMaxResends
    // `fail` still queues during the first connect (see `enqueueOffline`),
    // up to the default queue's bound.
    this.offlineLimit = this.offline._tag === "queue"
      ? this.offline.maxLength
      : RedisConfig.defaultOffline._tag === "queue"
      ? RedisConfig.defaultOffline.maxLength
      : 0
    this.onPush = hooks?.onPush
    this.onServerPush = hooks?.onServerPush
    this.unsolicitedBinary = hooks?.pushesAsBytes === true
    this.later = options.flush === "ioTurn" ? afterIoTurn : queueMicrotask
    this.decoderOptions = decoderOptions(options, transport)
    this.decoder = new Resp.Decoder(this.decoderOptions)
    // Large string arguments are encoded into buffers of their own: the
    // platform's allocator skips zero-filling memory that is overwritten at once.
    this.encoder = new Resp.Encoder(undefined, transport.allocate === undefined ? undefined : { allocate: transport.allocate })
  }

  // --- the write side ---------------------------------------------------
  // Sends join the outbox; the first one schedules one flush that wakes the
  // writer fiber, which encodes the whole outbox and writes it once: one
  // buffer, or, when some arguments are large, the list of chunks
  // `Resp.Encoder` cuts around them (one `writeAll`, one writev on Node).
  // Callers resumed synchronously by the parse loop enqueue their next
  // command before the flush runs, so a reply batch turns into one request
  // batch (with `flush: "ioTurn"`, the replies of every connection read in
  // this loop turn do).
  scheduleFlush(): void {
    if (this.flushScheduled || this.status !== "ready") return
    this.flushScheduled = true
    // Called unbound, as a plain function: `queueMicrotask` must not get
    // this object as its receiver.
    const later = this.later
    later(this.wakeWriter)
  }

  // With a parked writer and a transport that writes at once
  // (`Transport.DirectWriter`), the flush writes from here and the writer
  // stays parked: no fiber resumption per flush. Otherwise (or when the
  // socket cannot take the bytes at once) the writer fiber writes them.
  private readonly wakeWriter = (): void => {
    this.flushScheduled = false
    const wake = this.writerWake
    if (wake === undefined) return
    const writeNow = this.writeNow
    if (writeNow !== undefined && this.status === "ready") {
      const chunks = this.encodeOutbox()
      if (chunks === undefined || writeNow(chunks)) return
      this.encoded = chunks
    }
    this.writerWake = undefined
    wake(Effect.void)
  }

  private readonly waitForWork: Effect.Effect<void> = Effect.callback<void>((resume) => {
    if ((this.outbox.length > 0 || this.encoded !== undefined) && this.status === "ready") resume(Effect.void)
    else this.writerWake = resume
  })

  private encodeOutbox(): Array<Uint8Array> | undefined {
    const encoder = this.encoder
    const outbox = this.outbox
    const pending = this.pending
    let count = 0
    const now = this.commandTimeoutMs > 0 ? performance.now() : 0
    let entry: Entry | undefined
    while ((entry = outbox.shift()) !== undefined) {
      // Its caller was interrupted before it was written: it never runs.
      const caller = entry.caller
      if (caller !== undefined && caller.pollUnsafe() !== undefined) continue
      const leases = encoder.write(entry.command.args)
      // Nothing says when the bytes of a command without a reply have
      // left: its buffers are left to the GC.
      if (entry.noReply) continue
      entry.leases = leases
      entry.sentAt = now
      pending.push(entry)
      count++
    }
    if (encoder.length === 0) return undefined
    this.counters.writes++
    this.counters.commandsWritten += count
    return encoder.takeChunks()
  }

  // Both loops park on their own (`waitForWork`, `pull`) whenever there is
  // nothing to do, so they skip `forever`'s yield to the scheduler after
  // each turn: that yield cost a scheduler round trip per write and per
  // read batch, and left the writer unparked when the next flush came.
  /** The session's writer fiber: one write per flush, until the socket fails. */
  writerLoop(w: Socket.Writer): Effect.Effect<never, Socket.SocketError> {
    const loop = Effect.forever(
      Effect.flatMap(this.waitForWork, () => {
        const encoded = this.encoded
        this.encoded = undefined
        const chunks = encoded ?? this.encodeOutbox()
        // One chunk (no large argument) takes `write`: `writeAll` may cost
        // more per call on some transports (docs/ARCHITECTURE.md).
        return chunks === undefined
          ? Effect.void
          : chunks.length === 1
          ? w.write(chunks[0])
          : w.writeAll(chunks as [Uint8Array, ...Array<Uint8Array>])
      }),
      { disableYield: true }
    )
    return Effect.suspend(() => {
      this.encoded = undefined
      this.writeNow = writeNowOf(w)
      return Effect.ensuring(
        loop,
        Effect.sync(() => {
          this.writeNow = undefined
        })
      )
    })
  }

  // --- the read side ----------------------------------------------------
  private dispatch(value: Resp.RespValue): void {
    if (value instanceof Resp.RespPush) {
      const onPush = this.onPush
      if (onPush !== undefined) onPush(value)
      else this.onServerPush?.(value)
      return
    }
    const entry = this.pending.shift()
    if (entry === undefined) {
      const onPush = this.onPush
      if (onPush !== undefined) return onPush(value)
      throw new Resp.RespProtocolError("a reply arrived while no command was waiting for one")
    }
    if (entry.leases !== undefined) this.recycle(entry, value)
    const command = entry.command
    if (value instanceof Resp.RespError) {
      entry.resume(Exit.fail(RedisError.make(RedisError.classify(value.message), "Rejected", command.name)))
      return
    }
    entry.resume(decodeReply(command, value))
  }

  /**
   * A reply means the server has read the whole command, so the socket is
   * done with the buffers of its large arguments: they can take the next
   * ones. Not after an error, which the server may send before it has read
   * the body (a bulk longer than `proto-max-bulk-len`), closing the
   * connection after it.
   */
  private recycle(entry: Entry, reply: Resp.RespValue): void {
    const leases = entry.leases!
    entry.leases = undefined
    if (!(reply instanceof Resp.RespError)) this.encoder.recycle(leases)
  }

  /**
   * Decodes one read and resumes the callers it answers. Each resumed
   * caller runs on at once, inside this loop, and queues its next command
   * before the next reply is dispatched. Returns the protocol error that
   * ends the session, if the bytes (or a push handler) were bad.
   */
  private decode(chunk: Uint8Array): RedisError.RedisError | undefined {
    const decoder = this.decoder
    const pending = this.pending
    // Read once per read: per reply the test below costs what `&&` did.
    const unsolicitedBinary = this.unsolicitedBinary
    this.reads++
    try {
      decoder.feed(chunk)
      while (true) {
        const head = pending.peek()
        const value = decoder.next(head !== undefined ? head.command.binary : unsolicitedBinary)
        if (value === Resp.Incomplete) break
        this.dispatch(value)
      }
      // Nothing in flight and nothing queued (callers resumed above have
      // already queued their next commands): the connection is idle, and
      // keeps no buffers for large arguments.
      if (pending.length === 0 && this.outbox.length === 0) this.encoder.releaseBuffers()
      return undefined
    } catch (e) {
      const message = e instanceof Error ? e.message : String(e)
      return RedisError.make(new RedisError.ProtocolError({ message: `${message} (from ${this.address})` }), "Unknown")
    }
  }

  private readonly onChunks = (chunks: ReadonlyArray<Uint8Array | string>): Effect.Effect<void, RedisError.RedisError> => {
    for (let i = 0; i < chunks.length; i++) {
      const chunk = chunks[i]
      const error = this.decode(typeof chunk === "string" ? new TextEncoder().encode(chunk) : chunk)
      if (error !== undefined) return Effect.fail(error)
    }
    return Effect.void
  }

  /** What ended a `listen` by returning `false` (a protocol error). */
  private readFailure: RedisError.RedisError | undefined = undefined

  // The push path (`Transport.DirectReader`): the transport's read callback
  // runs the decoder, outside any fiber.
  private readonly sink: ReadSink = {
    onBytes: (chunk) => {
      const error = this.decode(chunk)
      if (error !== undefined) {
        this.readFailure = error
        return false
      }
      // The transport reuses the chunk's memory for its next read.
      this.decoder.release()
      return true
    },
    readTarget: () => this.decoder.readTarget(),
    onTargetFilled: (n) => {
      this.reads++
      this.decoder.targetFilled(n)
      return true
    }
  }

  /**
   * The session's read side, until the socket or the framing fails. With
   * a transport that pushes its reads (`Transport.DirectReader`) the read
   * callback decodes and dispatches, and the reader fiber stays parked for
   * the whole session; otherwise the reader fiber pulls and decodes each
   * batch (one suspension per batch).
   */
  readLoop(reader: Socket.Reader): Effect.Effect<never, RedisError.RedisError> {
    const listen = listenOf(reader)
    if (listen !== undefined) {
      return Effect.suspend(() => {
        this.readFailure = undefined
        return Effect.flatMap(
          Effect.mapError(listen(this.sink), (e) => socketFailure(this.endpoint, e, "Unknown")),
          () => Effect.fail(this.readFailure ?? RedisError.make(connectionError(this.endpoint, "stopped reading"), "Unknown"))
        )
      })
    }
    return Effect.forever(
      Effect.flatMap(Effect.mapError(reader.pull, (e) => socketFailure(this.endpoint, e, "Unknown")), this.onChunks),
      { disableYield: true }
    )
  }

  // --- sending ----------------------------------------------------------
  private enqueue(entry: Entry): RedisError.RedisError | undefined {
    switch (this.status) {
      case "ready":
        this.outbox.push(entry)
        this.scheduleFlush()
        return undefined
      case "closed":
        return RedisError.make(new RedisError.Closed({ message: `connection to ${this.address} is closed` }), "NotSent")
      default:
        return this.enqueueOffline(entry)
    }
  }

  /** The offline policy: a send while the connection is connecting, reconnecting or failed. */
  private enqueueOffline(entry: Entry): RedisError.RedisError | undefined {
    // `fail` is for a connection that was up and went down; during the
    // first connect commands wait (a fresh connection is not an outage).
    if (this.offline._tag === "fail" && this.status !== "connecting") {
      return RedisError.make(this.lastError?.reason ?? connectionError(this.endpoint, "not connected"), "NotSent")
    }
    // A failed connection reconnects when a command needs it.
    if (this.status === "failed") this.wakeDemand()
    if (this.outbox.length >= this.offlineLimit) {
      return RedisError.make(
        connectionError(this.endpoint, `offline queue is full (${this.offlineLimit} commands)`),
        "NotSent"
      )
    }
    this.outbox.push(entry)
    return undefined
  }

  /** `Connection.send`. */
  readonly send = <A>(command: Command<A>): Effect.Effect<A, RedisError.RedisError> => {
    if (command.invalid !== undefined) {
      return Effect.fail(RedisError.invalidArgument(command.invalid, command.name))
    }
    return Effect.callback<A, RedisError.RedisError>((resume) => {
      // `register` runs on the caller's fiber: `getCurrent` is that fiber.
      const error = this.enqueue(new Entry(command, resume, false, Fiber.getCurrent()))
      if (error !== undefined) resume(Exit.fail(error))
    })
  }

  /** `Connection.sendAll`. */
  readonly sendAll = (commands: ReadonlyArray<Command<unknown>>): Effect.Effect<Replies> =>
    Effect.callback((resume) => {
      const n = commands.length
      const results: Replies = new Array(n)
      let remaining = n
      if (n === 0) return resume(Effect.succeed(results))
      const caller = Fiber.getCurrent()
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
        const error = this.enqueue(new Entry(command, settle, false, caller))
        if (error !== undefined) settle(Exit.fail(error))
      }
    })

  /** `Connection.sendNoReply`. */
  readonly sendNoReply = (args: ReadonlyArray<Resp.Arg>): Effect.Effect<void, RedisError.RedisError> =>
    Effect.suspend(() => {
      const command = Cmd.unsafeMake(String(args[0]).toUpperCase(), args, [], Cmd.Flags.PUBSUB, Cmd.Reply.raw)
      const error = this.enqueue(new Entry(command, ignoreResume, true, undefined))
      return error === undefined ? Effect.void : Effect.fail(error)
    })

  /**
   * The handshake's path (once per connect, not per command): writes
   * `commands` in one write, straight to the socket, and waits for their
   * replies, in order. The entries join the in-flight FIFO like any other
   * but skip the outbox, which holds user commands until the session is
   * ready. A failed write ends the session; the entries then fail with the
   * rest of the FIFO.
   */
  exchange(w: Socket.Writer, commands: ReadonlyArray<Command<unknown>>): Effect.Effect<Replies> {
    return Effect.suspend(() => {
      const n = commands.length
      const results: Replies = new Array(n)
      if (n === 0) return Effect.succeed(results)
      const replies = Deferred.makeUnsafe<Replies>()
      let remaining = n
      for (let i = 0; i < n; i++) {
        const command = commands[i]
        this.pending.push(
          new Entry(command, (exit) => {
            results[i] = exit
            if (--remaining === 0) Deferred.doneUnsafe(replies, Exit.succeed(results))
          }, false, undefined)
        )
        this.encoder.write(command.args)
      }
      return Effect.andThen(
        Effect.catch(
          w.write(this.encoder.take()),
          (e) => Effect.sync(() => this.killSession?.(socketFailure(this.endpoint, e, "Unknown")))
        ),
        Deferred.await(replies)
      )
    })
  }

  // --- status transitions (once per connect, reconnect or close) --------

  /** A new socket: a fresh decoder, and nothing half-encoded from the last one. */
  startSession(): void {
    this.decoder = new Resp.Decoder(this.decoderOptions)
    this.encoder.take()
    this.encoder.releaseBuffers()
  }

  setReady(): void {
    this.status = "ready"
    this.lastError = undefined
    for (const w of this.readyWaiters.splice(0)) w(Exit.void)
    this.scheduleFlush()
  }

  /** Resumes a caller with a failure. */
  private failEntry(entry: Entry, error: RedisError.RedisError): void {
    entry.resume(Exit.fail(error))
  }

  /**
   * A session ended. Written commands: resend reads and idempotent writes
   * (`Delivery.mayRunTwice`, up to `maxResends`; they go back to the front
   * of the outbox, in order); everything else may have run, so its outcome
   * is Unknown.
   */
  failPending(error: RedisError.RedisError): void {
    const written = this.pending.drain()
    const resend: Array<Entry> = []
    for (const entry of written) {
      if (Delivery.mayRunTwice(entry.command) && entry.resends < this.maxResends) {
        entry.resends++
        resend.push(entry)
      } else {
        this.failEntry(entry, RedisError.make(error.reason, "Unknown", entry.command.name))
      }
    }
    this.outbox.unshiftAll(resend)
  }

  /** Fails every command not yet written: NotSent. */
  failOutbox(error: RedisError.RedisError): void {
    for (const entry of this.outbox.drain()) {
      this.failEntry(entry, RedisError.make(error.reason, "NotSent", entry.command.name))
    }
  }

  /** The reconnect schedule gave up: fail everything, and whoever waits for ready. */
  giveUp(error: RedisError.RedisError): void {
    this.lastError = error
    this.status = "failed"
    this.failPending(error)
    this.failOutbox(error)
    for (const w of this.readyWaiters.splice(0)) w(Exit.fail(error))
  }

  /** The connection's scope closed. */
  close(): void {
    this.status = "closed"
    const error = RedisError.make(new RedisError.Closed({ message: `connection to ${this.address} closed` }), "Unknown")
    for (const entry of this.pending.drain()) this.failEntry(entry, error)
    this.failOutbox(RedisError.make(error.reason, "NotSent"))
    for (const w of this.readyWaiters.splice(0)) w(Exit.fail(RedisError.make(error.reason, "NotSent")))
  }

  /** Completes once a command waits in the outbox (a failed connection dials again then). */
  readonly awaitDemand: Effect.Effect<void> = Effect.callback<void>((resume) => {
    if (this.outbox.length > 0) resume(Effect.void)
    else this.demandWake = resume
  })

  private wakeDemand(): void {
    const wake = this.demandWake
    if (wake !== undefined) {
      this.demandWake = undefined
      wake(Effect.void)
    }
  }

  /** `Connection.awaitReady`. */
  readonly awaitReady: Effect.Effect<void, RedisError.RedisError> = Effect.callback<void, RedisError.RedisError>(
    (resume) => {
      if (this.status === "ready") return resume(Effect.void)
      if (this.status === "closed") {
        return resume(Effect.fail(RedisError.make(new RedisError.Closed({ message: "connection closed" }), "NotSent")))
      }
      if (this.status === "failed") this.wakeDemand()
      this.readyWaiters.push(resume)
    }
  )

  /** Whether unsolicited frames go to an `onPush` handler (subscriber, MONITOR). */
  get hasPushHandler(): boolean {
    return this.onPush !== undefined
  }

  /** `Connection.stats`. */
  stats(): ConnectionStats {
    return { ...this.counters, inFlight: this.pending.length, queued: this.outbox.length }
  }
}
