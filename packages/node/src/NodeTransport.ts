/**
 * The Node.js `Transport`: TCP, TLS and unix-socket connections over
 * `node:net` / `node:tls`, each read handed on in the socket's own callback,
 * plain TCP and unix sockets reading through Node's `onread` (see
 * `internal/socket.ts` for how, and why not `@effect/platform-node`'s
 * `NodeSocket`).
 *
 * It only dials. Handshake, framing and reconnects belong to `Connection`
 * in the core package.
 *
 * @since 0.1.0
 */
import * as RedisConfig from "@redis-effect/redis/RedisConfig"
import * as RedisError from "@redis-effect/redis/RedisError"
import { Transport } from "@redis-effect/redis/Transport"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Redacted from "effect/Redacted"
import type * as Socket from "effect/socket/Socket"
import * as Fs from "node:fs"
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
 * Uninitialised memory for large reply bodies and large string arguments:
 * the decoder (or the encoder) overwrites every byte at once, so
 * zero-filling (what `new Uint8Array` does) is wasted work. Above 4 KiB
 * `Buffer.allocUnsafe` never uses the shared pool, so the buffer is owned by
 * the reply (or the argument) alone.
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
 * Whether this Node can set the keepalive probe interval and count
 * (`socket.setKeepAlive({ interval, count })`, Node 24.19 and later; older
 * versions take the initial delay only and ignore the rest).
 *
 * @category keepalive
 * @since 0.1.0
 */
export const keepAliveProbesSupported: boolean = Net.Socket.prototype.setKeepAlive.length >= 3

/**
 * The keepalive a TCP or TLS socket gets once connected: on or off, the
 * initial delay, and the probe interval and count (the options', or with
 * `probeDefaults` the defaults of `RedisConfig` for those not given). Pure.
 *
 * @category keepalive
 * @since 0.1.0
 */
export const keepAliveOf = (
  options: RedisConfig.ConnectionOptions,
  probeDefaults = false
): Net.SetKeepAliveOptions => {
  const initialDelay = Duration.toMillis(
    options.keepAlive === undefined ? RedisConfig.defaultKeepAlive : Duration.fromInputUnsafe(options.keepAlive)
  )
  const out: { enable: boolean; initialDelay: number; interval?: number; count?: number } = {
    enable: initialDelay > 0,
    initialDelay
  }
  const interval = options.keepAliveInterval ?? (probeDefaults ? RedisConfig.defaultKeepAliveInterval : undefined)
  if (interval !== undefined) out.interval = Duration.toMillis(Duration.fromInputUnsafe(interval))
  const count = options.keepAliveCount ?? (probeDefaults ? RedisConfig.defaultKeepAliveCount : undefined)
  if (count !== undefined) out.count = count
  return out
}

const wantsProbes = (options: RedisConfig.ConnectionOptions) =>
  options.keepAliveInterval !== undefined || options.keepAliveCount !== undefined

const PROBES_UNSUPPORTED = `keepAliveInterval and keepAliveCount need Node >= 24.19 (this is ${process.version}): ` +
  "its socket.setKeepAlive takes only the initial delay"

/**
 * Checks what only the platform can: keepalive probe settings this Node
 * cannot apply fail `NotSupported`, TLS files that cannot be read fail
 * `InvalidArgument` naming the option. `NodeClient` layers run it when they
 * are built; `open` refuses the same at dial time for anyone else.
 *
 * @category validation
 * @since 0.1.0
 */
export const validate = (options: RedisConfig.ConnectionOptions): Effect.Effect<void, RedisError.RedisError> =>
  Effect.suspend(() => {
    if (wantsProbes(options) && options.endpoint._tag === "Tcp" && !keepAliveProbesSupported) {
      return Effect.fail(RedisError.notSupported(PROBES_UNSUPPORTED))
    }
    for (const name of ["caFile", "certFile", "keyFile"] as const) {
      const path = options.tls?.[name]
      if (path === undefined) continue
      try {
        Fs.accessSync(path, Fs.constants.R_OK)
      } catch (e) {
        return Effect.fail(RedisError.invalidArgument(`tls.${name} cannot be read: ${e instanceof Error ? e.message : String(e)}`))
      }
    }
    return Effect.void
  })

// PEM files are read at each dial, so a renewed certificate is used by the
// next reconnect.
const tlsOptionsOf = (
  tls: RedisConfig.TlsOptions,
  host: string,
  common: Net.TcpNetConnectOpts
): Tls.ConnectionOptions => {
  const ca = tls.caFile !== undefined
    ? [Fs.readFileSync(tls.caFile)]
    : tls.ca === undefined
    ? undefined
    : Array.isArray(tls.ca)
    ? tls.ca.map(toBuffer)
    : [toBuffer(tls.ca as string | Uint8Array)]
  const cert = tls.certFile !== undefined ? Fs.readFileSync(tls.certFile) : tls.cert === undefined ? undefined : toBuffer(tls.cert)
  const key = tls.keyFile !== undefined
    ? Fs.readFileSync(tls.keyFile)
    : tls.key === undefined
    ? undefined
    : toBuffer(Redacted.value(tls.key))
  return {
    ...common,
    ...(ca === undefined ? {} : { ca }),
    ...(cert === undefined ? {} : { cert }),
    ...(key === undefined ? {} : { key }),
    ...(tls.passphrase === undefined ? {} : { passphrase: Redacted.value(tls.passphrase) }),
    ...(tls.minVersion === undefined ? {} : { minVersion: tls.minVersion }),
    ...(tls.ciphers === undefined ? {} : { ciphers: tls.ciphers }),
    // SNI must be a host name, not an IP address (Node warns otherwise).
    servername: tls.servername ?? (/^[\d.]+$|:/.test(host) ? "" : host),
    rejectUnauthorized: tls.rejectUnauthorized ?? true
  }
}

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
        connect: (onread) => Net.createConnection({ path: endpoint.path, onread }),
        readyEvent: "connect",
        openTimeoutMs,
        highWaterMark
      })
    }
    // The probe interval and count default to RedisConfig's where this Node
    // can set them (a half-open idle connection is then closed in about a
    // minute); elsewhere the OS defaults stay, silently.
    const keepAlive = keepAliveOf(options, keepAliveProbesSupported)
    const common: Net.TcpNetConnectOpts = {
      host: endpoint.host,
      port: endpoint.port,
      noDelay: options.noDelay ?? true,
      keepAlive: keepAlive.enable ?? false,
      keepAliveInitialDelay: keepAlive.initialDelay ?? 0
    }
    // Probe interval and count exist only on `setKeepAlive`, once connected.
    if (wantsProbes(options) && !keepAliveProbesSupported) {
      return FlowingSocket.make({
        connect: () => {
          throw new Error(PROBES_UNSUPPORTED)
        },
        readyEvent: "connect",
        openTimeoutMs,
        highWaterMark
      })
    }
    const configure = keepAlive.enable === true && keepAliveProbesSupported
      ? (socket: Net.Socket) => socket.setKeepAlive(keepAlive)
      : undefined
    const tls = options.tls
    if (tls === undefined) {
      return FlowingSocket.make({
        connect: (onread) => Net.createConnection({ ...common, onread }),
        readyEvent: "connect",
        configure,
        openTimeoutMs,
        highWaterMark
      })
    }
    return FlowingSocket.make({
      connect: () => Tls.connect(tlsOptionsOf(tls, endpoint.host, common)),
      readyEvent: "secureConnect",
      configure,
      openTimeoutMs,
      highWaterMark
    })
  })

/**
 * Provides `Transport` with Node sockets.
 *
 * @category layers
 * @since 0.1.0
 */
export const layer: Layer.Layer<Transport> = Layer.succeed(Transport)({ open, decodeUtf8, allocate })
