/**
 * A `Socket` over a `net.Socket` / `tls.TLSSocket` that reads as bytes arrive.
 *
 * `@effect/platform-node`'s NodeSocket reads in paused mode: it waits for
 * `readable` (emitted on the next tick) and calls `read()`, which on Node 24
 * concatenates everything buffered into one new Buffer. For Redis that is an
 * extra copy of every large reply and an extra tick per reply batch. Here
 * each read is handed on in the socket's own callback: to a listening sink
 * (`Transport.DirectReader`, how a connection reads: no fiber wakes per
 * read), or queued for a parked `pull`. Plain TCP and unix sockets are
 * dialled with Node's `onread`, so a listened socket reads into one buffer
 * shared by the process, or straight into the buffer the sink names (the
 * rest of a large reply body), and allocates nothing per read.
 * Backpressure for `pull`: the socket is paused while more than
 * `highWaterMark` bytes wait unread, and resumed by the next `pull`; a sink
 * takes every read at once.
 *
 * It dials when the reader is acquired (so dial errors surface there, as the
 * `Transport` contract says) and does not support `upgrade`: TLS is chosen
 * up front with the connection's `tls` option.
 *
 * @internal
 */
import * as Effect from "effect/Effect"
import * as Socket from "effect/socket/Socket"
import type { DirectReader, DirectWriter, ReadSink } from "@redis-effect/redis/Transport"
import type * as Net from "node:net"
import type * as Tls from "node:tls"

type Chunks = [Uint8Array, ...Array<Uint8Array>]
type Resume = (effect: Effect.Effect<Chunks, Socket.SocketError>) => void

const openError = (kind: "Unknown" | "Timeout", cause: unknown) =>
  new Socket.SocketError({ reason: new Socket.SocketOpenError({ kind, cause }) })

const closeError = (code: number) => new Socket.SocketError({ reason: new Socket.SocketCloseError({ code }) })

/** How to dial, and the read side's bound. */
export interface Options {
  /**
   * Starts the dial (`net.createConnection` or `tls.connect`); a throw fails
   * the dial. A plain TCP or unix socket should be given `onread` (the
   * socket then reads into the buffers it names, and emits no `data`); TLS
   * ignores it and emits `data`.
   */
  readonly connect: (onread: Net.OnReadOpts) => Net.Socket | Tls.TLSSocket
  /** The event that says the socket is usable. */
  readonly readyEvent: "connect" | "secureConnect"
  /** Runs once the socket is usable, before the first read (keepalive probes). */
  readonly configure?: ((socket: Net.Socket) => void) | undefined
  /** Bounds the dial (TCP connect and, for TLS, the handshake). */
  readonly openTimeoutMs: number
  /** Unread bytes above which the socket is paused. */
  readonly highWaterMark: number
}

// The dialled socket, shared by the reader (which dials) and the writer.
interface Link {
  conn: Net.Socket | undefined
}

/** A flowing-mode `Socket`: it dials when its reader is acquired. */
export const make = (options: Options): Socket.Socket => {
  const link: Link = { conn: undefined }
  return Socket.make({ reader: reader(options, link), writer: writer(link) })
}

// -----------------------------------------------------------------------------
// the read side
// -----------------------------------------------------------------------------

// The size of the buffer plain TCP and unix sockets read into while their
// bytes are pushed to a sink (Node's own reads allocate this much).
const READ_BUFFER_SIZE = 64 * 1024

// One buffer for every listened socket of the process. Safe because a read
// and its callback are one synchronous step (libuv allocates, reads, then
// calls back, for one socket at a time), and a sink copies what it keeps
// before its callback returns: no byte of one read is alive when the next
// read, of any socket, lands. So a connection holds no read buffer of its
// own, idle or busy.
let sharedReadBuffer: Uint8Array | undefined
const readBuffer = (): Uint8Array => (sharedReadBuffer ??= Buffer.allocUnsafe(READ_BUFFER_SIZE))

/**
 * Unread chunks, their size, the parked pull, the listening sink and the
 * terminal error of one socket; its arrow fields are the socket's
 * listeners and `onread` callbacks.
 *
 * Two ways out. `pull` takes the chunks queued so far, or parks until some
 * arrive; `onData` hands them to a parked pull at once. `listen`
 * (`Transport.DirectReader`) hands each read to a sink inside the read
 * callback itself. A socket dialled with `onread` (plain TCP and unix
 * sockets) then reads every time into the process's one read buffer, or
 * into the buffer the sink names (a large reply's body), and allocates
 * nothing per read; while nobody listens it reads into a fresh buffer each
 * time, since queued chunks must not share memory.
 */
class Inbox {
  private queue: Array<Uint8Array> = []
  private queued = 0
  private paused = false
  private waiter: Resume | undefined = undefined
  private sink: ReadSink | undefined = undefined
  private ended: ((effect: Effect.Effect<void, Socket.SocketError>) => void) | undefined = undefined
  private error: Socket.SocketError | undefined = undefined
  conn: Net.Socket | undefined = undefined
  private readonly highWaterMark: number
  /** The sink's buffer the pending read goes to, if it named one. */
  private target: Uint8Array | undefined = undefined

  constructor(highWaterMark: number) {
    this.highWaterMark = highWaterMark
  }

  private deliver(): void {
    const resume = this.waiter
    if (resume === undefined) return
    if (this.queue.length > 0) {
      this.waiter = undefined
      const chunks = this.queue as Chunks
      this.queue = []
      this.queued = 0
      this.resumeReading()
      resume(Effect.succeed(chunks))
    } else if (this.error !== undefined) {
      this.waiter = undefined
      resume(Effect.fail(this.error))
    }
  }

  private resumeReading(): void {
    if (this.paused && this.error === undefined) {
      this.paused = false
      this.conn?.resume()
    }
  }

  readonly onData = (chunk: Uint8Array): boolean => {
    const sink = this.sink
    if (sink !== undefined) return sink.onBytes(chunk) || this.stop()
    // A chunk of the reused buffer (read just after a sink stopped) is
    // copied before it waits in the queue.
    this.queue.push(chunk.buffer === sharedReadBuffer?.buffer ? new Uint8Array(chunk) : chunk)
    this.queued += chunk.length
    if (this.queued > this.highWaterMark && this.waiter === undefined && !this.paused) {
      this.paused = true
      this.conn?.pause()
    }
    this.deliver()
    return true
  }

  /** `onread.buffer`: where the next read goes. */
  readonly nextBuffer = (): Uint8Array => {
    const sink = this.sink
    if (sink === undefined) {
      this.target = undefined
      return Buffer.allocUnsafe(READ_BUFFER_SIZE)
    }
    const target = sink.readTarget()
    this.target = target
    return target ?? readBuffer()
  }

  /** `onread.callback`: `n` bytes were read into `buf`. */
  readonly onRead = (n: number, buf: Uint8Array): boolean => {
    const target = this.target
    if (target !== undefined && buf === target) {
      this.target = undefined
      return this.sink === undefined || this.sink.onTargetFilled(n) || this.stop()
    }
    return this.onData(buf.subarray(0, n))
  }

  // The sink asked to stop: `listen` completes, later bytes queue.
  private stop(): boolean {
    const ended = this.ended
    this.sink = undefined
    this.ended = undefined
    ended?.(Effect.void)
    return true
  }

  /** Terminal: whoever pulls or listens learns of `error` after the bytes already received. */
  private terminate(error: Socket.SocketError): void {
    this.error ??= error
    this.deliver()
    const ended = this.ended
    if (ended !== undefined) {
      this.sink = undefined
      this.ended = undefined
      ended(Effect.fail(this.error))
    }
  }

  // End of stream: bytes already received are delivered before the error.
  readonly onEnd = (): void => this.terminate(closeError(1000))

  readonly onError = (cause: Error): void =>
    this.terminate(new Socket.SocketError({ reason: new Socket.SocketReadError({ cause }) }))

  readonly onClose = (hadError: boolean): void => this.terminate(closeError(hadError ? 1006 : 1000))

  /** The reader's `pull`: the chunks queued so far, or parks until some arrive. */
  readonly pull: Effect.Effect<Chunks, Socket.SocketError> = Effect.callback<Chunks, Socket.SocketError>((resume) => {
    this.waiter = resume
    this.deliver()
    if (this.waiter !== resume) return
    return Effect.sync(() => {
      if (this.waiter === resume) this.waiter = undefined
    })
  })

  /** The reader's `listen` (`Transport.DirectReader`). */
  readonly listen = (sink: ReadSink): Effect.Effect<void, Socket.SocketError> =>
    Effect.callback<void, Socket.SocketError>((resume) => {
      if (this.sink !== undefined) {
        resume(Effect.die(new Error("a socket reader takes one listener at a time")))
        return
      }
      // What arrived before: in order, before any new read.
      const queued = this.queue
      this.queue = []
      this.queued = 0
      for (let i = 0; i < queued.length; i++) {
        if (!sink.onBytes(queued[i])) {
          this.queue = queued.slice(i + 1)
          for (const chunk of this.queue) this.queued += chunk.length
          resume(Effect.void)
          return
        }
      }
      if (this.error !== undefined) {
        resume(Effect.fail(this.error))
        return
      }
      this.sink = sink
      this.ended = resume
      this.resumeReading()
      return Effect.sync(() => {
        if (this.ended === resume) {
          this.sink = undefined
          this.ended = undefined
        }
      })
    })

  /** The reader's release: wakes a pull parked in another fiber, then destroys the socket. */
  close(): void {
    this.queue = []
    this.terminate(closeError(1006))
    this.conn?.destroy()
  }
}

/**
 * Dials, bounded by `openTimeoutMs`; once the socket is ready its listeners
 * feed a new `Inbox`. Interrupting the dial destroys the socket.
 */
const dial = (options: Options, link: Link): Effect.Effect<Inbox, Socket.SocketError> =>
  Effect.callback<Inbox, Socket.SocketError>((resume) => {
    const inbox = new Inbox(options.highWaterMark)
    let c: Net.Socket
    try {
      c = options.connect({ buffer: inbox.nextBuffer, callback: inbox.onRead })
    } catch (cause) {
      // Options Node refuses before dialling: an unreadable CA file, a
      // wrong key passphrase, an unknown cipher.
      resume(Effect.fail(openError("Unknown", cause)))
      return
    }
    link.conn = c
    inbox.conn = c
    let settled = false
    const timer = setTimeout(() => {
      if (settled) return
      settled = true
      c.destroy()
      resume(Effect.fail(openError("Timeout", new Error("connection timed out"))))
    }, options.openTimeoutMs)
    const onOpenError = (cause: Error) => {
      if (settled) return
      settled = true
      clearTimeout(timer)
      resume(Effect.fail(openError("Unknown", cause)))
    }
    // Always listened to: an unhandled 'error' event would crash the process.
    c.on("error", onOpenError)
    c.once(options.readyEvent, () => {
      if (settled) return
      settled = true
      clearTimeout(timer)
      c.off("error", onOpenError)
      options.configure?.(c)
      // A socket dialled without `onread` (TLS) emits `data`; one with it does not.
      c.on("data", inbox.onData)
      c.on("end", inbox.onEnd)
      c.on("error", inbox.onError)
      c.on("close", inbox.onClose)
      resume(Effect.succeed(inbox))
    })
    return Effect.sync(() => {
      settled = true
      clearTimeout(timer)
      c.destroy()
    })
  })

const reader = (options: Options, link: Link): Socket.Socket["reader"] =>
  Effect.map(
    Effect.acquireRelease(dial(options, link), (inbox) => Effect.sync(() => inbox.close())),
    (inbox): DirectReader => ({ pull: inbox.pull, listen: inbox.listen, upgrade: Socket.SocketUpgradeError.unsupported })
  )

// -----------------------------------------------------------------------------
// the write side
// -----------------------------------------------------------------------------

const awaitDrain = (c: Net.Socket) =>
  Effect.callback<void, Socket.SocketError>((resume) => {
    const cleanup = () => {
      c.off("drain", onDrain)
      c.off("close", onClose)
    }
    const onDrain = () => {
      cleanup()
      resume(Effect.void)
    }
    const onClose = () => {
      cleanup()
      resume(Effect.fail(
        new Socket.SocketError({ reason: new Socket.SocketWriteError({ cause: new Error("socket closed") }) })
      ))
    }
    c.on("drain", onDrain)
    c.on("close", onClose)
    return Effect.sync(cleanup)
  })

const writeOne = (c: Net.Socket, chunk: Uint8Array | string): Effect.Effect<void, Socket.SocketError> => {
  try {
    return c.write(chunk) ? Effect.void : awaitDrain(c)
  } catch (cause) {
    return Effect.fail(new Socket.SocketError({ reason: new Socket.SocketWriteError({ cause }) }))
  }
}

const notOpen = Effect.fail(
  new Socket.SocketError({ reason: new Socket.SocketWriteError({ cause: new Error("socket is not open") }) })
)

const writer = (link: Link): Socket.Socket["writer"] => {
  const write = (chunk: Uint8Array | string | Socket.CloseEvent): Effect.Effect<void, Socket.SocketError> =>
    Effect.suspend(() => {
      const c = link.conn
      if (c === undefined || c.destroyed) return notOpen
      if (Socket.isCloseEvent(chunk)) {
        c.destroy(chunk.code > 1000 ? new Error(`closed with code ${chunk.code}`) : undefined)
        return Effect.void
      }
      return writeOne(c, chunk)
    })

  const writeAll = (chunks: ReadonlyArray<Uint8Array | string>): Effect.Effect<void, Socket.SocketError> =>
    Effect.suspend(() => {
      const c = link.conn
      if (c === undefined || c.destroyed) return notOpen
      if (chunks.length === 1) return writeOne(c, chunks[0]!)
      let ok = true
      c.cork()
      try {
        for (const chunk of chunks) ok = c.write(chunk) && ok
      } catch (cause) {
        return Effect.fail(new Socket.SocketError({ reason: new Socket.SocketWriteError({ cause }) }))
      } finally {
        c.uncork()
      }
      return ok ? Effect.void : awaitDrain(c)
    })

  // The flush's direct path (`DirectWriter`): only when the write cannot
  // block or fail at once; otherwise the writer fiber's `write` does it.
  const writeNow = (chunks: ReadonlyArray<Uint8Array>): boolean => {
    const c = link.conn
    if (c === undefined || c.destroyed || c.writableNeedDrain || c.writableEnded) return false
    try {
      if (chunks.length === 1) c.write(chunks[0]!)
      else {
        c.cork()
        for (const chunk of chunks) c.write(chunk)
        c.uncork()
      }
    } catch (cause) {
      // Written in part, or not: the session ends (the reader sees the
      // error), and what was in flight fails `Unknown`.
      c.destroy(cause instanceof Error ? cause : new Error(String(cause)))
    }
    return true
  }

  return Effect.acquireRelease(
    Effect.succeed<DirectWriter>({ write, writeAll, writeNow }),
    () =>
      Effect.sync(() => {
        if (link.conn !== undefined && !link.conn.writableEnded) link.conn.end()
      })
  )
}
