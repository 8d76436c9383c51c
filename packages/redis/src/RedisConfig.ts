/**
 * Options of a Redis client: where to connect, how to authenticate, and the
 * policies (reconnect, retry, timeouts, offline queue) as `Schedule`s and
 * numbers with exported defaults. Also parses `redis://`, `rediss://` and
 * `unix://` URLs and reads options from `Config` (passwords as `Redacted`).
 *
 * Pure: nothing here connects. `Connection` and the layers consume these.
 *
 * @since 0.1.0
 */
import * as Config from "effect/Config"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Redacted from "effect/Redacted"
import * as Schedule from "effect/Schedule"
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
 * TLS settings. PEM strings or bytes; the key is `Redacted`.
 *
 * @category models
 * @since 0.1.0
 */
export interface TlsOptions {
  readonly ca?: string | Uint8Array | ReadonlyArray<string | Uint8Array> | undefined
  readonly cert?: string | Uint8Array | undefined
  readonly key?: Redacted.Redacted<string | Uint8Array> | undefined
  /** Name checked against the certificate and sent as SNI (defaults to the host). */
  readonly servername?: string | undefined
  /** Set to false only for tests: it disables certificate verification. */
  readonly rejectUnauthorized?: boolean | undefined
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
  /** Send `READONLY` after connecting (cluster replicas). */
  readonly readOnly?: boolean | undefined
  readonly connectTimeout?: Duration.Input | undefined
  /** No reply within this time fails the command `Timeout`/`Unknown` and replaces the connection. Off by default. */
  readonly commandTimeout?: Duration.Input | undefined
  /** TCP keepalive initial delay; 0 disables. Default 30 s. */
  readonly keepAlive?: Duration.Input | undefined
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
    // Wrong credentials do not fix themselves: stop at once.
    Schedule.while(({ input }) => input.reason._tag !== "AuthError")
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
}

/**
 * Parses `redis://[user[:password]@]host[:port][/db][?protocol=2&name=x]`,
 * `rediss://...` (TLS) and `unix:///path/to.sock?db=1&password=...`.
 * Fails with `InvalidArgument` (the message never repeats the password).
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
    const protocolParam = params.get("protocol")
    const protocol = protocolParam === "2" ? 2 : protocolParam === "3" ? 3 : undefined
    if (protocolParam !== null && protocol === undefined) return fail("protocol must be 2 or 3")
    const clientName = params.get("name") ?? params.get("clientName") ?? undefined
    const parseDb = (s: string | null | undefined): number | undefined | "bad" => {
      if (s === null || s === undefined || s === "") return undefined
      // Decimal digits only: Number() would also take "0x10", "1e1", "+1".
      return /^\d{1,9}$/.test(s) ? Number(s) : "bad"
    }
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
        const tls = url.protocol === "rediss:" || url.protocol === "valkeys:"
        return Effect.succeed(compact({
          endpoint: tcp(host, port),
          tls: tls ? {} : undefined,
          username,
          password,
          database: db,
          clientName,
          protocol
        }))
      }
      case "unix:": {
        const path = decode(url.pathname)
        if (path === "" || path === "/") return fail("it names no socket path")
        const db = parseDb(params.get("db"))
        if (db === "bad") return fail("the database must be a non-negative integer")
        return Effect.succeed(compact({ endpoint: unix(path), username, password, database: db, clientName, protocol }))
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
    return compact({ ...fromUrl, ...compact(rest), endpoint, password: pw }) as ConnectionOptions
  })

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
