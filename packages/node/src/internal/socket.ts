/**
 * A `Socket` over a `net.Socket` / `tls.TLSSocket` that reads in flowing mode.
 *
 * `@effect/platform-node`'s NodeSocket reads in paused mode: it waits for
 * `readable` (emitted on the next tick) and calls `read()`, which on Node 24
 * concatenates everything buffered into one new Buffer. For Redis that is an
 * extra copy of every large reply and an extra tick per reply batch. Here each
 * `data` chunk is queued as it arrives and handed to the parked `pull` at
 * once, in the same callback; the decoder copies a large body exactly once,
 * into its final buffer. Backpressure: the socket is paused while more than
 * `highWaterMark` bytes wait unread, and resumed by the next `pull`.
 *
 * It dials when the reader is acquired (so dial errors surface there, as the
 * `Transport` contract says) and does not support `upgrade`: TLS is chosen
 * up front with the connection's `tls` option.
 *
 * @internal
 */
import * as Effect from "effect/Effect"
import * as Socket from "effect/socket/Socket"
import type * as Net from "node:net"
import type * as Tls from "node:tls"

type Chunks = [Uint8Array, ...Array<Uint8Array>]
type Resume = (effect: Effect.Effect<Chunks, Socket.SocketError>) => void

const openError = (kind: "Unknown" | "Timeout", cause: unknown) =>
  new Socket.SocketError({ reason: new Socket.SocketOpenError({ kind, cause }) })

const closeError = (code: number) => new Socket.SocketError({ reason: new Socket.SocketCloseError({ code }) })

/**
 * @param connect starts the dial (`net.createConnection` or `tls.connect`)
 * @param readyEvent the event that says the socket is usable
 * @param openTimeoutMs bounds the dial (TCP connect and, for TLS, the handshake)
 * @param highWaterMark unread bytes above which the socket is paused
 */
export const make = (options: {
  readonly connect: () => Net.Socket | Tls.TLSSocket
  readonly readyEvent: "connect" | "secureConnect"
  readonly openTimeoutMs: number
  readonly highWaterMark: number
}): Socket.Socket => {
  let conn: Net.Socket | undefined

  const reader: Socket.Socket["reader"] = Effect.gen(function*() {
    // Unread chunks, their size, the parked pull and the terminal error.
    let queue: Array<Uint8Array> = []
    let queued = 0
    let paused = false
    let waiter: Resume | undefined
    let error: Socket.SocketError | undefined

    const deliver = () => {
      const resume = waiter
      if (resume === undefined) return
      if (queue.length > 0) {
        waiter = undefined
        const chunks = queue as Chunks
        queue = []
        queued = 0
        if (paused && error === undefined) {
          paused = false
          conn!.resume()
        }
        resume(Effect.succeed(chunks))
      } else if (error !== undefined) {
        waiter = undefined
        resume(Effect.fail(error))
      }
    }
    const onData = (chunk: Uint8Array) => {
      queue.push(chunk)
      queued += chunk.length
      if (queued > options.highWaterMark && waiter === undefined && !paused) {
        paused = true
        conn!.pause()
      }
      deliver()
    }
    // End of stream: bytes already received are delivered before the error.
    const onEnd = () => {
      error ??= closeError(1000)
      deliver()
    }
    const onError = (cause: Error) => {
      error ??= new Socket.SocketError({ reason: new Socket.SocketReadError({ cause }) })
      deliver()
    }
    const onClose = (hadError: boolean) => {
      error ??= closeError(hadError ? 1006 : 1000)
      deliver()
    }

    yield* Effect.acquireRelease(
      Effect.callback<Net.Socket, Socket.SocketError>((resume) => {
        const c = options.connect()
        conn = c
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
          c.on("data", onData)
          c.on("end", onEnd)
          c.on("error", onError)
          c.on("close", onClose)
          resume(Effect.succeed(c))
        })
        return Effect.sync(() => {
          settled = true
          clearTimeout(timer)
          c.destroy()
        })
      }),
      (c) =>
        Effect.sync(() => {
          // Wake a pull parked in another fiber before the socket goes.
          error ??= closeError(1006)
          queue = []
          deliver()
          c.destroy()
        })
    )

    const pull = Effect.callback<Chunks, Socket.SocketError>((resume) => {
      waiter = resume
      deliver()
      if (waiter !== resume) return
      return Effect.sync(() => {
        if (waiter === resume) waiter = undefined
      })
    })
    return { pull, upgrade: Socket.SocketUpgradeError.unsupported }
  })

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

  const write = (chunk: Uint8Array | string | Socket.CloseEvent): Effect.Effect<void, Socket.SocketError> =>
    Effect.suspend(() => {
      const c = conn
      if (c === undefined || c.destroyed) return notOpen
      if (Socket.isCloseEvent(chunk)) {
        c.destroy(chunk.code > 1000 ? new Error(`closed with code ${chunk.code}`) : undefined)
        return Effect.void
      }
      return writeOne(c, chunk)
    })

  const writeAll = (chunks: ReadonlyArray<Uint8Array | string>): Effect.Effect<void, Socket.SocketError> =>
    Effect.suspend(() => {
      const c = conn
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

  const writer: Socket.Socket["writer"] = Effect.acquireRelease(
    Effect.succeed<Socket.Writer>({ write, writeAll }),
    () =>
      Effect.sync(() => {
        if (conn !== undefined && !conn.writableEnded) conn.end()
      })
  )

  return Socket.make({ reader, writer })
}
