/**
 * The Node.js `Transport`: TCP, TLS and unix-socket connections over
 * `node:net` / `node:tls`, read in flowing mode (see `internal/socket.ts` for
 * why not `@effect/platform-node`'s `NodeSocket`).
 *
 * It only dials. Handshake, framing and reconnects belong to `Connection`
 * in the core package.
 *
 * @since 0.1.0
 */
import type * as RedisConfig from "@redis-effect/redis/RedisConfig"
import { Transport } from "@redis-effect/redis/Transport"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Redacted from "effect/Redacted"
import type * as Socket from "effect/socket/Socket"
import * as Net from "node:net"
import * as Tls from "node:tls"
import * as FlowingSocket from "./internal/socket.ts"

const toBuffer = (v: string | Uint8Array): string | Buffer => (typeof v === "string" ? v : Buffer.from(v))

// Buffer's native UTF-8 slice, without allocating a Buffer view per call.
const utf8Slice = (Buffer.prototype as unknown as {
  readonly utf8Slice: (this: Uint8Array, start: number, end: number) => string
}).utf8Slice

/**
 * Decodes `bytes[start, end)` as UTF-8 with Node's native slice.
 *
 * @category decoding
 * @since 0.1.0
 */
export const decodeUtf8 = (bytes: Uint8Array, start: number, end: number): string => utf8Slice.call(bytes, start, end)

/**
 * Uninitialised memory for large reply bodies: the decoder overwrites every
 * byte at once, so zero-filling (what `new Uint8Array` does) is wasted work.
 * Above 4 KiB `Buffer.allocUnsafe` never uses the shared pool, so the buffer
 * is owned by the reply alone.
 *
 * @category decoding
 * @since 0.1.0
 */
export const allocate = (size: number): Uint8Array => Buffer.allocUnsafe(size)

// How many unread bytes may wait before the socket is paused. It bounds
// memory only when replies arrive faster than they are parsed; ordinary
// traffic queues far less. History: with NodeSocket's paused-mode reads this
// was the read high-water mark, and large-get (100 KB values, 100 in flight)
// moved with it from 0.77x (64 KiB) to 1.12x (16 MiB) of ioredis with
// autopipelining (BENCHMARKS.md).
const READ_HIGH_WATER_MARK = 16 * 1024 * 1024

/**
 * Maps connection options onto `net.connect` / `tls.connect` options and
 * returns a socket that dials when its reader is acquired.
 *
 * @category constructors
 * @since 0.1.0
 */
export const open = (options: RedisConfig.ConnectionOptions): Effect.Effect<Socket.Socket> =>
  Effect.sync(() => {
    const openTimeoutMs = Duration.toMillis(Duration.fromInputUnsafe(options.connectTimeout ?? Duration.seconds(10)))
    const endpoint = options.endpoint
    const highWaterMark = READ_HIGH_WATER_MARK
    if (endpoint._tag === "Unix") {
      return FlowingSocket.make({
        connect: () => Net.createConnection({ path: endpoint.path }),
        readyEvent: "connect",
        openTimeoutMs,
        highWaterMark
      })
    }
    const keepAliveMs = options.keepAlive === undefined
      ? 30_000
      : Duration.toMillis(Duration.fromInputUnsafe(options.keepAlive))
    const common = {
      host: endpoint.host,
      port: endpoint.port,
      noDelay: options.noDelay ?? true,
      keepAlive: keepAliveMs > 0,
      keepAliveInitialDelay: keepAliveMs
    }
    const tls = options.tls
    if (tls === undefined) {
      return FlowingSocket.make({ connect: () => Net.createConnection(common), readyEvent: "connect", openTimeoutMs, highWaterMark })
    }
    const ca = tls.ca === undefined
      ? undefined
      : Array.isArray(tls.ca)
      ? tls.ca.map(toBuffer)
      : [toBuffer(tls.ca as string | Uint8Array)]
    const tlsOptions: Tls.ConnectionOptions = {
      ...common,
      ...(ca === undefined ? {} : { ca }),
      ...(tls.cert === undefined ? {} : { cert: toBuffer(tls.cert) }),
      ...(tls.key === undefined ? {} : { key: toBuffer(Redacted.value(tls.key)) }),
      // SNI must be a host name, not an IP address (Node warns otherwise).
      servername: tls.servername ?? (/^[\d.]+$|:/.test(endpoint.host) ? "" : endpoint.host),
      rejectUnauthorized: tls.rejectUnauthorized ?? true
    }
    return FlowingSocket.make({ connect: () => Tls.connect(tlsOptions), readyEvent: "secureConnect", openTimeoutMs, highWaterMark })
  })

/**
 * Provides `Transport` with Node sockets.
 *
 * @category layers
 * @since 0.1.0
 */
export const layer: Layer.Layer<Transport> = Layer.succeed(Transport)({ open, decodeUtf8, allocate })
