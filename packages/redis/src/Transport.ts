/**
 * The transport seam: how a connection gets a byte stream to a server.
 *
 * The core package stays platform-agnostic: it speaks to an
 * `effect/socket/Socket`, and whoever provides `Transport` decides how that
 * socket is dialled (TCP, TLS or a unix socket through NodeSocket in
 * `@redis-effect/node`; something else on another runtime). Opening happens
 * when the socket's reader is acquired, so dial errors surface there.
 *
 * @since 0.1.0
 */
import * as Context from "effect/Context"
import type * as Effect from "effect/Effect"
import type * as Socket from "effect/socket/Socket"
import type { ConnectionOptions } from "./RedisConfig.ts"

/**
 * Opens sockets to Redis servers.
 *
 * @category services
 * @since 0.1.0
 */
export class Transport extends Context.Service<Transport, {
  /** A socket to `options.endpoint` (with `options.tls` when set); it dials when its reader is acquired. */
  readonly open: (options: ConnectionOptions) => Effect.Effect<Socket.Socket>
  /**
   * A faster UTF-8 decoder of `bytes[start, end)` than `TextDecoder`, if the
   * platform has one (Node's `Buffer#utf8Slice` halves the cost of a 32-byte
   * bulk reply: 330 → 170 ns in bench/resp-micro.ts).
   */
  readonly decodeUtf8?: ((bytes: Uint8Array, start: number, end: number) => string) | undefined
  /**
   * An allocator of uninitialised memory for large reply bodies and for the
   * encoded form of large string arguments (Node: `Buffer.allocUnsafe`).
   */
  readonly allocate?: ((size: number) => Uint8Array) | undefined
}>()("@redis-effect/redis/Transport") {}

/**
 * A `Socket.Writer` that can also write at once, outside any fiber: the
 * flush of a connection whose writer fiber is parked writes through it and
 * leaves the fiber parked, saving a fiber resumption per flush (one per
 * command when commands go one at a time). `writeNow` returns `false`,
 * having written nothing, when it cannot write at once (the socket is not
 * open, or is waiting for `drain`): the writer fiber then writes, and
 * reports the error or waits. A transport whose writers lack it works
 * unchanged.
 *
 * @category models
 * @since 0.1.0
 */
export interface DirectWriter extends Socket.Writer {
  readonly writeNow: (chunks: ReadonlyArray<Uint8Array>) => boolean
}

/**
 * The writer's `writeNow`, if it has one.
 *
 * @category guards
 * @since 0.1.0
 */
export const writeNowOf = (writer: Socket.Writer): DirectWriter["writeNow"] | undefined => {
  const f = (writer as Partial<DirectWriter>).writeNow
  return typeof f === "function" ? f : undefined
}

/**
 * Where a `DirectReader` hands the bytes it reads. Every method runs inside
 * the transport's own read callback, outside any fiber.
 *
 * @category models
 * @since 0.1.0
 */
export interface ReadSink {
  /**
   * Bytes just read, in order. The transport may reuse `chunk`'s memory for
   * its next read once this returns, so whatever is kept must be copied.
   * Returns `false` to stop reading: `listen` then completes.
   */
  readonly onBytes: (chunk: Uint8Array) => boolean
  /**
   * A buffer the next read may fill directly instead of the transport's
   * own, or `undefined` for the transport's own: the decoder's unfilled
   * remainder of a large reply body, so that body is never copied. Asked
   * before each read; a transport that cannot read into a given buffer
   * never asks.
   */
  readonly readTarget: () => Uint8Array | undefined
  /** `n` bytes were read straight into the last `readTarget`. Returns `false` to stop reading. */
  readonly onTargetFilled: (n: number) => boolean
}

/**
 * A `Socket` reader that can also push what it reads, from the socket's own
 * read callback: the connection then decodes each read and resumes the
 * callers it answers without waking a reader fiber (no fiber suspension per
 * read, one per command fewer when commands go one at a time).
 * `listen` hands the bytes queued so far, then every read, to `sink`; it
 * fails with the socket's end or error, completes when `sink` asks to stop,
 * and detaches the sink when interrupted. One sink at a time. A transport
 * whose readers lack it works unchanged, through `pull`.
 *
 * @category models
 * @since 0.1.0
 */
export interface DirectReader extends Socket.Reader {
  readonly listen: (sink: ReadSink) => Effect.Effect<void, Socket.SocketError>
}

/**
 * The reader's `listen`, if it has one.
 *
 * @category guards
 * @since 0.1.0
 */
export const listenOf = (reader: Socket.Reader): DirectReader["listen"] | undefined => {
  const f = (reader as Partial<DirectReader>).listen
  return typeof f === "function" ? f : undefined
}
