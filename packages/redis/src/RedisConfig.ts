/**
 * Options of a Redis client: where to connect, how to authenticate, and the
 * policies (reconnect, retry, timeouts, offline queue) as `Schedule`s and
 * numbers with exported defaults. Also parses `redis://`, `rediss://` and
 * `unix://` URLs (with their query options: `protocol`, timeouts, `ssl_*`,
 * `client_name`), reads options from `Config` (passwords as `Redacted`),
 * and checks every option once, when a layer is built (`validate`), so a
 * bad value fails with `InvalidArgument` naming it instead of at the first
 * connect.
 *
 * Pure: nothing here connects or reads a file (`tls.caFile` is read by the
 * transport when it dials). `Connection` and the layers consume these.
 *
 * @since 0.1.0
 */
import * as Config from "effect/Config"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Redacted from "effect/Redacted"
import * as Schedule from "effect/Schedule"
import type { Command } from "./Command.ts"
import * as RedisError from "./RedisError.ts"

// -----------------------------------------------------------------------------
// endpoints and credentials
// -----------------------------------------------------------------------------

/**
 * Where a server listens: TCP host and port, or a unix socket path.
 *
 * @category models
 * @since 0.1.0
 */
export type Endpoint =
  | { readonly _tag: "Tcp"; readonly host: string; readonly port: number }
  | { readonly _tag: "Unix"; readonly path: string }

/**
 * @category constructors
 * @since 0.1.0
 */
export const tcp = (host: string, port: number): Endpoint => ({ _tag: "Tcp", host, port })

/**
 * @category constructors
 * @since 0.1.0
 */
export const unix = (path: string): Endpoint => ({ _tag: "Unix", path })

/**
 * `host:port` or the socket path, for errors and logs (never credentials).
 *
 * @category formatting
 * @since 0.1.0
 */
export const formatEndpoint = (endpoint: Endpoint): string =>
  endpoint._tag === "Unix"
    ? endpoint.path
    : endpoint.host.includes(":")
    ? `[${endpoint.host}]:${endpoint.port}`
    : `${endpoint.host}:${endpoint.port}`

/**
 * TLS settings. PEM strings or bytes (the key `Redacted`), or paths to PEM
 * files that the transport reads on every dial (so a renewed certificate is
 * picked up by the next reconnect).
 *
 * @category models
 * @since 0.1.0
 */
export interface TlsOptions {
  readonly ca?: string | Uint8Array | ReadonlyArray<string | Uint8Array> | undefined
  readonly cert?: string | Uint8Array | undefined
  readonly key?: Redacted.Redacted<string | Uint8Array> | undefined
  /** A PEM file of trusted CAs (redis-py `ssl_ca_certs`); instead of `ca`. */
  readonly caFile?: string | undefined
  /** A PEM file of the client certificate (redis-py `ssl_certfile`); instead of `cert`. */
  readonly certFile?: string | undefined
  /** A PEM file of the client key (redis-py `ssl_keyfile`); instead of `key`. */
  readonly keyFile?: string | undefined
  /** Decrypts an encrypted client key (redis-py `ssl_password`). */
  readonly passphrase?: Redacted.Redacted<string> | undefined
  /** The lowest TLS version to accept (redis-py `ssl_min_version`); the platform's default otherwise. */
  readonly minVersion?: TlsVersion | undefined
  /** OpenSSL cipher list for TLS 1.2 and below (redis-py `ssl_ciphers`). */
  readonly ciphers?: string | undefined
  /** Name checked against the certificate and sent as SNI (defaults to the host). */
  readonly servername?: string | undefined
  /** Set to false only for tests: it disables certificate verification. */
  readonly rejectUnauthorized?: boolean | undefined
}

/**
 * @category models
 * @since 0.1.0
 */
export type TlsVersion = "TLSv1" | "TLSv1.1" | "TLSv1.2" | "TLSv1.3"

const TLS_VERSIONS: ReadonlyArray<TlsVersion> = ["TLSv1", "TLSv1.1", "TLSv1.2", "TLSv1.3"]

/**
 * What a connection's `onConnect` gets: the new session, after the
 * handshake and before any queued command. `send` writes on that session
 * directly (the offline queue is not open yet), so `CLIENT TRACKING`,
 * `CLIENT NO-EVICT` or a `CONFIG`-dependent check run before the first
 * user command.
 *
 * @category models
 * @since 0.1.0
 */
export interface ConnectSession {
  readonly endpoint: Endpoint
  /** The protocol the handshake settled on. */
  readonly protocol: 2 | 3
  /** Sends one command on the new session and waits for its reply. */
  readonly send: <A>(command: Command<A>) => Effect.Effect<A, RedisError.RedisError>
}

/**
 * What a connection authenticates with.
 *
 * @category models
 * @since 0.1.0
 */
export interface Credentials {
  readonly username?: string | undefined
  readonly password: Redacted.Redacted<string>
}

// -----------------------------------------------------------------------------
// options
// -----------------------------------------------------------------------------

/**
 * What happens to commands issued while the connection is down.
 *
 * - `queue`: hold up to `maxLength` commands until the connection is back or
 *   the reconnect schedule gives up (then they fail `NotSent`).
 * - `fail`: fail them at once with `ConnectionError` / `NotSent`.
 *
 * @category models
 * @since 0.1.0
 */
export type OfflinePolicy =
  | { readonly _tag: "queue"; readonly maxLength: number }
  | { readonly _tag: "fail" }

/**
 * Options of one logical connection (and of every connection a pool opens).
 *
 * @category models
 * @since 0.1.0
 */
export interface ConnectionOptions {
  readonly endpoint: Endpoint
  readonly tls?: TlsOptions | undefined
  readonly username?: string | undefined
  readonly password?: Redacted.Redacted<string> | undefined
  /** Run on every connect and reconnect: rotated passwords and tokens work. Wins over username/password. */
  readonly credentials?: Effect.Effect<Credentials, RedisError.RedisError> | undefined
  readonly database?: number | undefined
  readonly clientName?: string | undefined
  /** 3 (default) sends `HELLO 3` and falls back to RESP2 when the server refuses it. */
  readonly protocol?: 2 | 3 | undefined
  /** Send `CLIENT SETINFO LIB-NAME/LIB-VER` (errors ignored). Default true. */
  readonly setInfo?: boolean | undefined
  /** The `LIB-NAME` sent with CLIENT SETINFO (default `redis-effect`): printable ASCII, no spaces. */
  readonly libName?: string | undefined
  /** The `LIB-VER` sent with CLIENT SETINFO (default this package's version): printable ASCII, no spaces. */
  readonly libVersion?: string | undefined
  /**
   * Runs after every handshake (connect and reconnect), before queued
   * commands are written (redis-py `redis_connect_func`). Its failure fails
   * that connect attempt; the reconnect schedule decides what follows. It
   * counts against `connectTimeout`. Every connection of the client runs it
   * (shared, dedicated, subscriber, MONITOR).
   */
  readonly onConnect?: ((session: ConnectSession) => Effect.Effect<void, RedisError.RedisError>) | undefined
  /** Send `READONLY` after connecting (cluster replicas). */
  readonly readOnly?: boolean | undefined
  readonly connectTimeout?: Duration.Input | undefined
  /** No reply within this time fails the command `Timeout`/`Unknown` and replaces the connection. Off by default. */
  readonly commandTimeout?: Duration.Input | undefined
  /**
   * Dead-peer detection. When the oldest command awaiting a reply has seen no
   * byte from the server for this long, the connection asks the server on a
   * new, short-lived connection whether it is alive (a `PING`; any reply,
   * even an error such as `BUSY` or `NOAUTH`, counts). If that probe gets
   * nothing within `probeTimeout`, the peer is dead: the commands in flight
   * fail `Timeout`/`Unknown` (reads and idempotent commands are resent
   * after the reconnect, up to `maxResends`) and the connection reconnects.
   * A slow or blocking command on a server that answers the probe is left
   * alone. Default 5 s (`defaultStallTimeout`); 0 turns detection off.
   */
  readonly stallTimeout?: Duration.Input | undefined
  /** How long the dead-peer probe (connect and first reply) may take. Default 3 s (`defaultProbeTimeout`). */
  readonly probeTimeout?: Duration.Input | undefined
  /** TCP keepalive initial delay; 0 disables. Default 30 s (`defaultKeepAlive`). */
  readonly keepAlive?: Duration.Input | undefined
  /**
   * Between unanswered keepalive probes (TCP_KEEPINTVL), whole seconds.
   * Default 10 s (`defaultKeepAliveInterval`) where the platform can set it,
   * the OS default otherwise.
   */
  readonly keepAliveInterval?: Duration.Input | undefined
  /**
   * Unanswered probes before the peer is declared dead (TCP_KEEPCNT), 1–127.
   * Default 3 (`defaultKeepAliveCount`) where the platform can set it, the
   * OS default otherwise.
   */
  readonly keepAliveCount?: number | undefined
  readonly noDelay?: boolean | undefined
  /** PING an idle connection this often to find dead peers early. Off by default. */
  readonly healthCheckInterval?: Duration.Input | undefined
  /** Between reconnect attempts. The first attempt after a loss is immediate. */
  readonly reconnect?: Schedule.Schedule<unknown, RedisError.RedisError> | undefined
  readonly offline?: OfflinePolicy | undefined
  /** How many times a resendable (read or idempotent) command is resent after the connection was lost under it. */
  readonly maxResends?: number | undefined
  readonly maxBulkLength?: number | undefined
  readonly maxDepth?: number | undefined
  /**
   * When the commands issued meanwhile leave in one socket write.
   * `"task"` (the default for one server): at the end of the current task,
   * so a reply batch turns into the next request batch at once.
   * `"ioTurn"` (the default for a cluster's node connections): after the
   * event loop has handled every socket that was readable, so when replies
   * from one node wake callers whose next commands go to several nodes, each
   * node still gets one write per loop turn instead of one per read. It
   * costs a little per flush where there is only one connection.
   */
  readonly flush?: "task" | "ioTurn" | undefined
}

/**
 * Whether a failed connect will fail the same way every time, so reconnecting
 * is pointless: wrong credentials, or a handshake the server cannot do
 * (client-side caching over RESP2). Every default reconnect schedule stops
 * on it.
 *
 * @category defaults
 * @since 0.1.0
 */
export const isPermanent = (error: RedisError.RedisError): boolean =>
  error.reason._tag === "AuthError" || error.reason._tag === "NotSupported"

/**
 * The default reconnect policy: exponential from 50 ms, capped at 2 s, with
 * jitter, and at most 20 attempts (about 30 s) before pending commands fail.
 * The next command after giving up starts a new round.
 *
 * @category defaults
 * @since 0.1.0
 */
export const defaultReconnect: Schedule.Schedule<unknown, RedisError.RedisError> = Schedule.exponential("50 millis")
  .pipe(
    Schedule.modifyDelay(({ duration }) => Effect.succeed(Duration.min(duration, Duration.seconds(2)))),
    Schedule.jittered,
    Schedule.upTo({ times: 20 }),
    Schedule.setInputType<RedisError.RedisError>(),
    Schedule.while(({ input }) => !isPermanent(input))
  )

/**
 * @category defaults
 * @since 0.1.0
 */
export const defaultOffline: OfflinePolicy = { _tag: "queue", maxLength: 100_000 }

/**
 * @category defaults
 * @since 0.1.0
 */
export const defaultConnectTimeout: Duration.Duration = Duration.seconds(10)

/**
 * @category defaults
 * @since 0.1.0
 */
export const defaultMaxResends = 3

/**
 * How long the oldest outstanding command may see no byte from the server
 * before the connection probes it (`ConnectionOptions.stallTimeout`). It
 * equals Redis's default `busy-reply-threshold`: by the time a probe goes
 * out, a server busy in a long script or function already answers `BUSY`,
 * so the probe finds it alive.
 *
 * @category defaults
 * @since 0.1.0
 */
export const defaultStallTimeout: Duration.Duration = Duration.seconds(5)

/**
 * How long the dead-peer probe may take (`ConnectionOptions.probeTimeout`).
 * With `defaultStallTimeout`, a frozen server (SIGSTOP, a dropped network
 * path, a proxy that stopped forwarding) is declared dead at most 9 s after
 * the last byte it sent; a server that cannot answer anyone for longer than
 * about 8 s (`DEBUG SLEEP`, a huge `KEYS`) is treated the same way.
 *
 * @category defaults
 * @since 0.1.0
 */
export const defaultProbeTimeout: Duration.Duration = Duration.seconds(3)

/**
 * TCP keepalive initial delay (`ConnectionOptions.keepAlive`).
 *
 * @category defaults
 * @since 0.1.0
 */
export const defaultKeepAlive: Duration.Duration = Duration.seconds(30)

/**
 * Between unanswered TCP keepalive probes (`ConnectionOptions.keepAliveInterval`).
 * With `defaultKeepAlive` and `defaultKeepAliveCount`, an idle connection
 * whose peer vanished (a half-open connection after a network loss) is
 * closed by the OS after about 60 s, before a command is written to it.
 *
 * @category defaults
 * @since 0.1.0
 */
export const defaultKeepAliveInterval: Duration.Duration = Duration.seconds(10)

/**
 * Unanswered TCP keepalive probes before the OS closes the connection
 * (`ConnectionOptions.keepAliveCount`).
 *
 * @category defaults
 * @since 0.1.0
 */
export const defaultKeepAliveCount = 3

// -----------------------------------------------------------------------------
// URLs
// -----------------------------------------------------------------------------

/**
 * The options a URL carries.
 *
 * @category models
 * @since 0.1.0
 */
export interface UrlOptions {
  readonly endpoint: Endpoint
  readonly tls?: TlsOptions | undefined
  readonly username?: string | undefined
  readonly password?: Redacted.Redacted<string> | undefined
  readonly database?: number | undefined
  readonly clientName?: string | undefined
  readonly protocol?: 2 | 3 | undefined
  readonly connectTimeout?: Duration.Duration | undefined
  readonly commandTimeout?: Duration.Duration | undefined
  readonly healthCheckInterval?: Duration.Duration | undefined
}

// A query duration: a number of seconds as redis-py reads them ("5", "0.5"),
// or with a unit ("500ms", "2s").
const queryDuration = (text: string): Duration.Duration | undefined => {
  const m = /^(\d+(?:\.\d+)?)(ms|s)?$/.exec(text)
  if (m === null) return undefined
  const n = Number(m[1])
  return m[2] === "ms" ? Duration.millis(n) : Duration.millis(n * 1000)
}

// The query names of each option: redis-py's first (what a user coming
// from it writes), then ours.
const TIMEOUT_PARAMS = [
  ["connectTimeout", ["socket_connect_timeout", "connect_timeout", "connectTimeout"]],
  ["commandTimeout", ["socket_timeout", "command_timeout", "commandTimeout"]],
  ["healthCheckInterval", ["health_check_interval", "healthCheckInterval"]]
] as const

const TLS_PARAMS = ["ssl_cert_reqs", "ssl_ca_certs", "ssl_certfile", "ssl_keyfile", "ssl_password", "ssl_min_version", "ssl_ciphers"]

type Query = { readonly options: Partial<UrlOptions> } | { readonly error: string }

/** The query options other than credentials and the database. Pure. */
const queryOptions = (params: URLSearchParams, tlsScheme: boolean): Query => {
  const out: Record<string, unknown> = {}
  const protocolParam = params.get("protocol")
  if (protocolParam !== null) {
    if (protocolParam !== "2" && protocolParam !== "3") return { error: "protocol must be 2 or 3" }
    out.protocol = Number(protocolParam)
  }
  const clientName = params.get("name") ?? params.get("clientName") ?? params.get("client_name")
  if (clientName !== null) out.clientName = clientName
  for (const [option, names] of TIMEOUT_PARAMS) {
    const name = names.find((n) => params.has(n))
    if (name === undefined) continue
    const value = queryDuration(params.get(name)!)
    if (value === undefined) return { error: `${name} must be a number of seconds (or end in ms or s)` }
    out[option] = value
  }
  const tlsNames = TLS_PARAMS.filter((n) => params.has(n))
  if (tlsNames.length > 0) {
    if (!tlsScheme) return { error: `${tlsNames[0]} needs a TLS URL (rediss://)` }
    const tls = tlsQuery(params)
    if ("error" in tls) return tls
    out.tls = tls.tls
  }
  return { options: out as Partial<UrlOptions> }
}

const tlsQuery = (params: URLSearchParams): { readonly tls: TlsOptions } | { readonly error: string } => {
  const tls: Record<string, unknown> = {}
  const reqs = params.get("ssl_cert_reqs")
  if (reqs !== null) {
    // redis-py: none skips verification; optional and required verify.
    if (reqs !== "none" && reqs !== "optional" && reqs !== "required") {
      return { error: "ssl_cert_reqs must be none, optional or required" }
    }
    tls.rejectUnauthorized = reqs !== "none"
  }
  const copy = [["ssl_ca_certs", "caFile"], ["ssl_certfile", "certFile"], ["ssl_keyfile", "keyFile"], ["ssl_ciphers", "ciphers"]]
  for (const [param, option] of copy) {
    const value = params.get(param)
    if (value === null) continue
    if (value === "") return { error: `${param} is empty` }
    tls[option] = value
  }
  const password = params.get("ssl_password")
  if (password !== null) tls.passphrase = Redacted.make(password)
  const minVersion = params.get("ssl_min_version")
  if (minVersion !== null) {
    // redis-py spells them as Python's enum: TLSv1_2.
    const version = minVersion.replace("_", ".") as TlsVersion
    if (!TLS_VERSIONS.includes(version)) return { error: `ssl_min_version must be one of ${TLS_VERSIONS.join(", ")}` }
    tls.minVersion = version
  }
  return { tls: tls as TlsOptions }
}

/**
 * Parses `redis://[user[:password]@]host[:port][/db][?options]`,
 * `rediss://...` (TLS) and `unix:///path/to.sock?db=1&password=...`.
 * Query options: `protocol` (2 or 3), `name` / `client_name`, `db`,
 * `username`, `password`; the timeouts `socket_connect_timeout` /
 * `connect_timeout`, `socket_timeout` / `command_timeout` and
 * `health_check_interval` (seconds, as redis-py reads them, or ending in
 * `ms` / `s`); on `rediss://` only, `ssl_cert_reqs`, `ssl_ca_certs`,
 * `ssl_certfile`, `ssl_keyfile`, `ssl_password`, `ssl_min_version` and
 * `ssl_ciphers`. Other query parameters are ignored. Fails with
 * `InvalidArgument` (the message never repeats a password).
 *
 * @category urls
 * @since 0.1.0
 */
export const parseUrl = (input: string): Effect.Effect<UrlOptions, RedisError.RedisError> =>
  Effect.suspend(() => {
    const fail = (why: string) => Effect.fail(RedisError.invalidArgument(`invalid Redis URL: ${why}`))
    let url: URL
    try {
      url = new URL(input)
    } catch {
      return fail("it does not parse as a URL")
    }
    const params = url.searchParams
    const decode = (s: string) => {
      try {
        return decodeURIComponent(s)
      } catch {
        return s
      }
    }
    const username = url.username === "" ? params.get("username") ?? undefined : decode(url.username)
    const rawPassword = url.password === "" ? params.get("password") ?? undefined : decode(url.password)
    const password = rawPassword === undefined ? undefined : Redacted.make(rawPassword)
    const parseDb = (s: string | null | undefined): number | undefined | "bad" => {
      if (s === null || s === undefined || s === "") return undefined
      // Decimal digits only: Number() would also take "0x10", "1e1", "+1".
      return /^\d{1,9}$/.test(s) ? Number(s) : "bad"
    }
    const tlsScheme = url.protocol === "rediss:" || url.protocol === "valkeys:"
    const query = queryOptions(params, tlsScheme)
    if ("error" in query) return fail(query.error)
    switch (url.protocol) {
      case "redis:":
      case "rediss:":
      case "valkey:":
      case "valkeys:": {
        if (url.hostname === "") return fail("it names no host")
        const port = url.port === "" ? 6379 : Number(url.port)
        const db = parseDb(url.pathname.length > 1 ? url.pathname.slice(1) : params.get("db"))
        if (db === "bad") return fail("the database must be a non-negative integer")
        const host = url.hostname.startsWith("[") ? url.hostname.slice(1, -1) : url.hostname
        return Effect.succeed(compact({
          ...query.options,
          endpoint: tcp(host, port),
          tls: tlsScheme ? query.options.tls ?? {} : undefined,
          username,
          password,
          database: db
        }))
      }
      case "unix:": {
        const path = decode(url.pathname)
        if (path === "" || path === "/") return fail("it names no socket path")
        const db = parseDb(params.get("db"))
        if (db === "bad") return fail("the database must be a non-negative integer")
        return Effect.succeed(compact({ ...query.options, endpoint: unix(path), username, password, database: db }))
      }
      default:
        return fail(`unsupported scheme ${url.protocol} (use redis://, rediss:// or unix://)`)
    }
  })

// exactOptionalPropertyTypes: drop keys whose value is undefined.
const compact = <A extends object>(a: A): A => {
  const out: Record<string, unknown> = {}
  for (const [k, v] of Object.entries(a)) if (v !== undefined) out[k] = v
  return out as A
}

/**
 * The options a user passes to a standalone layer: a URL, an endpoint, or
 * host and port, plus everything else of `ConnectionOptions`. Fields given
 * explicitly win over the URL's.
 *
 * @category models
 * @since 0.1.0
 */
export type ClientOptions =
  & Partial<Omit<ConnectionOptions, "endpoint" | "password">>
  & {
    readonly url?: string | undefined
    readonly host?: string | undefined
    readonly port?: number | undefined
    /** A unix socket path. */
    readonly path?: string | undefined
    readonly endpoint?: Endpoint | undefined
    readonly password?: Redacted.Redacted<string> | string | undefined
  }

/**
 * Resolves user options (URL, host/port, path) into `ConnectionOptions`.
 *
 * @category urls
 * @since 0.1.0
 */
export const resolve = (options: ClientOptions): Effect.Effect<ConnectionOptions, RedisError.RedisError> =>
  Effect.gen(function*() {
    const fromUrl: Partial<UrlOptions> = options.url === undefined ? {} : yield* parseUrl(options.url)
    const { url: _url, host, port, path, endpoint: explicit, password, ...rest } = options
    const endpoint: Endpoint = explicit ??
      (path !== undefined
        ? unix(path)
        : host !== undefined || port !== undefined
        ? tcp(host ?? "127.0.0.1", port ?? 6379)
        : fromUrl.endpoint ?? tcp("127.0.0.1", 6379))
    if (endpoint._tag === "Tcp" && (!Number.isInteger(endpoint.port) || endpoint.port <= 0 || endpoint.port > 65535)) {
      return yield* Effect.fail(RedisError.invalidArgument(`invalid port ${endpoint.port}`))
    }
    const pw = password === undefined
      ? fromUrl.password
      : typeof password === "string"
      ? Redacted.make(password)
      : password
    // The URL's `ssl_*` parameters and an explicit `tls` add up; explicit fields win.
    const tls = fromUrl.tls === undefined || rest.tls === undefined ? rest.tls ?? fromUrl.tls : { ...fromUrl.tls, ...rest.tls }
    return yield* validate(compact({ ...fromUrl, ...compact(rest), endpoint, password: pw, tls }) as ConnectionOptions)
  })

// -----------------------------------------------------------------------------
// validation
// -----------------------------------------------------------------------------

const durationOf = (input: Duration.Input): Duration.Duration | undefined => {
  try {
    return Duration.fromInputUnsafe(input)
  } catch {
    return undefined
  }
}

// Redis refuses CLIENT SETINFO values outside '!'..'~' (no spaces or newlines).
const SETINFO_VALUE = /^[!-~]+$/

/**
 * What is wrong with the options, as "`name` must ...", or undefined. Pure;
 * it checks the options added for redis-py parity (and the ones they depend
 * on), not every field.
 *
 * @category validation
 * @since 0.1.0
 */
export const problemOf = (options: ConnectionOptions): string | undefined => {
  if (options.onConnect !== undefined && typeof options.onConnect !== "function") {
    return "onConnect must be a function returning an Effect"
  }
  for (const name of ["libName", "libVersion"] as const) {
    const value = options[name]
    if (value === undefined) continue
    if (typeof value !== "string" || !SETINFO_VALUE.test(value)) {
      return `${name} must be printable ASCII without spaces (CLIENT SETINFO refuses anything else)`
    }
    if (options.setInfo === false) return `${name} is sent with CLIENT SETINFO, which setInfo: false turns off`
  }
  return keepAliveProblem(options) ?? deadPeerProblem(options) ?? tlsProblem(options.tls)
}

const deadPeerProblem = (options: ConnectionOptions): string | undefined => {
  if (options.stallTimeout !== undefined) {
    const stall = durationOf(options.stallTimeout)
    if (stall === undefined || !Duration.isFinite(stall) || Duration.toMillis(stall) < 0) {
      return "stallTimeout must be a finite, non-negative duration (0 turns dead-peer detection off)"
    }
  }
  if (options.probeTimeout !== undefined) {
    const probe = durationOf(options.probeTimeout)
    if (probe === undefined || !Duration.isFinite(probe) || Duration.toMillis(probe) <= 0) {
      return "probeTimeout must be a finite, positive duration"
    }
  }
  return undefined
}

const keepAliveProblem = (options: ConnectionOptions): string | undefined => {
  const keepAlive = options.keepAlive === undefined ? undefined : durationOf(options.keepAlive)
  if (options.keepAlive !== undefined && (keepAlive === undefined || !Duration.isFinite(keepAlive) || Duration.toMillis(keepAlive) < 0)) {
    return "keepAlive must be a finite, non-negative duration (0 disables keepalive)"
  }
  if (options.keepAliveInterval !== undefined) {
    const interval = durationOf(options.keepAliveInterval)
    // The socket API counts whole seconds.
    if (interval === undefined || !Duration.isFinite(interval) || Duration.toMillis(interval) < 1000) {
      return "keepAliveInterval must be a finite duration of at least 1 second"
    }
  }
  const count = options.keepAliveCount
  if (count !== undefined && (!Number.isInteger(count) || count < 1 || count > 127)) {
    return "keepAliveCount must be an integer from 1 to 127"
  }
  if ((options.keepAliveInterval !== undefined || count !== undefined) && keepAlive !== undefined && Duration.isZero(keepAlive)) {
    return "keepAliveInterval and keepAliveCount need keepalive on (keepAlive is 0)"
  }
  return undefined
}

const tlsProblem = (tls: TlsOptions | undefined): string | undefined => {
  if (tls === undefined) return undefined
  const pairs = [["ca", "caFile"], ["cert", "certFile"], ["key", "keyFile"]] as const
  for (const [inline, file] of pairs) {
    const path = tls[file]
    if (path === undefined) continue
    if (typeof path !== "string" || path === "") return `tls.${file} must be a non-empty path`
    if (tls[inline] !== undefined) return `give tls.${inline} or tls.${file}, not both`
  }
  if (tls.passphrase !== undefined && !Redacted.isRedacted(tls.passphrase)) {
    return "tls.passphrase must be Redacted (Redacted.make(passphrase))"
  }
  if (tls.passphrase !== undefined && tls.key === undefined && tls.keyFile === undefined) {
    return "tls.passphrase decrypts a client key: give tls.key or tls.keyFile"
  }
  if (tls.minVersion !== undefined && !TLS_VERSIONS.includes(tls.minVersion)) {
    return `tls.minVersion must be one of ${TLS_VERSIONS.join(", ")}`
  }
  if (tls.ciphers !== undefined && (typeof tls.ciphers !== "string" || tls.ciphers.trim() === "")) {
    return "tls.ciphers must be a non-empty OpenSSL cipher list"
  }
  return undefined
}

/**
 * Checks the options (`problemOf`) and returns them, or fails with
 * `InvalidArgument` naming the option. `resolve` runs it, so every layer
 * checks its options when it is built.
 *
 * @category validation
 * @since 0.1.0
 */
export const validate = (options: ConnectionOptions): Effect.Effect<ConnectionOptions, RedisError.RedisError> => {
  const problem = problemOf(options)
  return problem === undefined ? Effect.succeed(options) : Effect.fail(RedisError.invalidArgument(problem))
}

/**
 * Options read from `Config`: `url` (or `host`/`port`), `username`,
 * `password` (`Redacted`), `database`, `clientName`.
 *
 * @category config
 * @since 0.1.0
 */
export const fromEnv = (prefix = "REDIS"): Config.Config<ClientOptions> =>
  Config.all({
    url: Config.String(`${prefix}_URL`).pipe(Config.option),
    host: Config.String(`${prefix}_HOST`).pipe(Config.option),
    port: Config.Port(`${prefix}_PORT`).pipe(Config.option),
    username: Config.String(`${prefix}_USERNAME`).pipe(Config.option),
    password: Config.Redacted(`${prefix}_PASSWORD`).pipe(Config.option),
    database: Config.Int(`${prefix}_DB`).pipe(Config.option),
    clientName: Config.String(`${prefix}_CLIENT_NAME`).pipe(Config.option)
  }).pipe(Config.map((c) => {
    const out: Record<string, unknown> = {}
    for (const [k, v] of Object.entries(c)) if (v._tag === "Some") out[k] = v.value
    return out as ClientOptions
  }))
