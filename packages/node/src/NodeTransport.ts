/**
 * The Node.js `Transport`: TCP, TLS and unix-socket connections through
 * `@effect/platform-node`'s `NodeSocket`.
 *
 * It only dials. Handshake, framing and reconnects belong to `Connection`
 * in the core package.
 *
 * @since 0.1.0
 */
import * as NodeSocket from "@effect/platform-node/NodeSocket"
import { Transport } from "@redis-effect/redis/Transport"
import type * as RedisConfig from "@redis-effect/redis/RedisConfig"
import * as Duration from "effect/Duration"
import * as Layer from "effect/Layer"
import * as Redacted from "effect/Redacted"

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

// How much Node may buffer from the kernel before it stops reading. NodeSocket
// reads in paused mode, so a small mark throttles the server on large replies.
// large-get (100 KB values, 100 in flight) against ioredis with
// autopipelining, 5 rounds each on this 2-core box: 64 KiB 0.77x, 256 KiB
// 0.70x, 1 MiB 0.99x, 4 MiB 1.01x, 16 MiB 1.12x (BENCHMARKS.md). It bounds
// memory only when replies arrive faster than they are parsed; ordinary
// traffic buffers far less.
const READ_HIGH_WATER_MARK = 16 * 1024 * 1024

/**
 * Maps connection options onto `net.connect` / `tls.connect` options.
 *
 * @category constructors
 * @since 0.1.0
 */
export const open = (options: RedisConfig.ConnectionOptions) => {
  const openTimeout = options.connectTimeout ?? Duration.seconds(10)
  const endpoint = options.endpoint
  // Replies are read in batches of whatever the kernel has; 4096 chunks a pull
  // is NodeSocket's default and never the limit at these rates.
  if (endpoint._tag === "Unix") {
    // `readableHighWaterMark` reaches net.Socket's Duplex constructor; the
    // IPC overload of NetConnectOpts just does not declare it.
    return NodeSocket.makeNet({ path: endpoint.path, openTimeout, ...{ readableHighWaterMark: READ_HIGH_WATER_MARK } })
  }
  const keepAliveMs = options.keepAlive === undefined ? 30_000 : Duration.toMillis(Duration.fromInputUnsafe(options.keepAlive))
  const common = {
    host: endpoint.host,
    port: endpoint.port,
    noDelay: options.noDelay ?? true,
    keepAlive: keepAliveMs > 0,
    keepAliveInitialDelay: keepAliveMs,
    openTimeout,
    readableHighWaterMark: READ_HIGH_WATER_MARK
  }
  const tls = options.tls
  if (tls === undefined) return NodeSocket.makeNet(common)
  const ca = tls.ca === undefined ? undefined : Array.isArray(tls.ca) ? tls.ca.map(toBuffer) : [toBuffer(tls.ca as string | Uint8Array)]
  return NodeSocket.makeTls({
    ...common,
    ...(ca === undefined ? {} : { ca }),
    ...(tls.cert === undefined ? {} : { cert: toBuffer(tls.cert) }),
    ...(tls.key === undefined ? {} : { key: toBuffer(Redacted.value(tls.key)) }),
    // SNI must be a host name, not an IP address (Node warns otherwise).
    servername: tls.servername ?? (/^[\d.]+$|:/.test(endpoint.host) ? "" : endpoint.host),
    rejectUnauthorized: tls.rejectUnauthorized ?? true
  })
}

/**
 * Provides `Transport` with Node sockets.
 *
 * @category layers
 * @since 0.1.0
 */
export const layer: Layer.Layer<Transport> = Layer.succeed(Transport)({ open, decodeUtf8, allocate })
