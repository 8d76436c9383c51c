/**
 * A real `redis-server` process on a free loopback port, as a scoped Effect.
 *
 * `make(options)` writes a config file into a fresh temporary directory,
 * spawns `redis-server` bound to 127.0.0.1 with no RDB snapshots, AOF off
 * (unless asked), `DEBUG` allowed from loopback and absolute `--dir`,
 * `--logfile` and `--pidfile` paths, then waits until it answers `PING`.
 * Closing the scope stops it (SIGTERM, SIGKILL after 2 s) and deletes the
 * directory. A `process.on("exit")` safety net SIGKILLs any server still
 * running when the test process exits, so no run leaves orphans behind.
 *
 * The handle carries the fault helpers that integration tests need: `kill`
 * (SIGKILL), `restart` (same port, same options, same directory, so an AOF
 * survives), `pause`/`resume` (SIGSTOP/SIGCONT), and `cli`, `clientKill`,
 * `config`, `info`, which drive the server through `redis-cli`.
 *
 * This module does not use the redis-effect client: everything goes through
 * `redis-cli` child processes, so the fixtures keep working while the client
 * under test is broken. It starts one standalone server; clusters and
 * Sentinel topologies are built from several of them.
 *
 * **Gotchas**
 *
 * - Waits use real timers, not the Effect `Clock`, so the fixtures work
 *   inside `it.effect`, where a `TestClock` is installed.
 * - Secrets (`password`, ACL passwords) go into the config file and into
 *   `REDISCLI_AUTH`, never into a command line that `ps` would show.
 * - With `tls`, the server listens on TLS only (`port 0`, `tls-port P`);
 *   `port` and `tlsPort` are then the same number.
 *
 * @since 0.1.0
 */
import * as Fs from "node:fs"
import * as Os from "node:os"
import * as Path from "node:path"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import type * as Scope from "effect/Scope"
import { freePort } from "./Ports.ts"
import * as Proc from "./internal/process.ts"
import { quote } from "./internal/redisConf.ts"
import * as ServerProcess from "./internal/serverProcess.ts"
import { ServerError } from "./ServerError.ts"
import * as Tls from "./Tls.ts"

export { ServerError } from "./ServerError.ts"

// -----------------------------------------------------------------------------
// options
// -----------------------------------------------------------------------------

/**
 * An ACL user created at startup. `rules` are ACL rules after the password,
 * e.g. `"~* +@all"` or `"~app:* +get +set"`; the user is switched `on` first,
 * so rules may say `off` to create a disabled user.
 *
 * @category options
 * @since 0.1.0
 */
export interface AclUser {
  readonly name: string
  readonly password: string
  readonly rules: string
}

/**
 * TLS settings of a server. `true` in `RedisServerOptions.tls` means all defaults.
 *
 * @category options
 * @since 0.1.0
 */
export interface TlsServerOptions {
  /** Which certificate the server presents. Default `"server"` (valid for localhost and 127.0.0.1). */
  readonly certificate?: Tls.ServerCertificate | undefined
  /** `tls-auth-clients`: `"yes"` demands a client certificate (mTLS). Default `"optional"`. */
  readonly authClients?: "yes" | "optional" | undefined
  /** Certificates to use; by default a fresh PKI is generated in the server's directory. */
  readonly material?: Tls.TlsMaterial | undefined
}

/**
 * How to start a server.
 *
 * @category options
 * @since 0.1.0
 */
export interface RedisServerOptions {
  /** `requirepass`: the password of the `default` user. */
  readonly password?: string | undefined
  /** ACL users to create. */
  readonly aclUsers?: ReadonlyArray<AclUser> | undefined
  /** Listen on TLS only. */
  readonly tls?: boolean | TlsServerOptions | undefined
  /** More `redis-server` arguments, appended last so they override the defaults (e.g. `["--maxclients", "10"]`). */
  readonly extraArgs?: ReadonlyArray<string> | undefined
  /** The port; by default a free one from `Ports.freePort`. */
  readonly port?: number | undefined
  /** `appendonly yes` with `appendfsync always`, so acknowledged writes survive `kill` + `restart`. */
  readonly appendonly?: boolean | undefined
  /** How long to wait for the server to answer PING. Default 10 000 ms. */
  readonly startTimeoutMillis?: number | undefined
}

/**
 * Credentials for `cliAs`. No `user` means the `default` user; no
 * `password` means no AUTH at all.
 *
 * @category models
 * @since 0.1.0
 */
export interface Credentials {
  readonly user?: string | undefined
  readonly password?: string | undefined
}

/**
 * The TLS files a client needs to talk to a TLS server, as PEM text and paths.
 *
 * @category models
 * @since 0.1.0
 */
export interface ServerTls {
  /** The CA that signs the good certificates (what a client should trust). */
  readonly ca: string
  /** The certificate the server presents, and its key. */
  readonly cert: string
  readonly key: string
  /** A client certificate for mTLS, and its key. */
  readonly clientCert: string
  readonly clientKey: string
  readonly caFile: string
  readonly certFile: string
  readonly keyFile: string
  readonly clientCertFile: string
  readonly clientKeyFile: string
  /** Which certificate the server presents. */
  readonly certificate: Tls.ServerCertificate
  /** The whole test PKI, including the certificates this server does not present. */
  readonly material: Tls.TlsMaterial
}

// -----------------------------------------------------------------------------
// handle
// -----------------------------------------------------------------------------

/**
 * A running server and the controls a test needs to hurt it.
 *
 * @category models
 * @since 0.1.0
 */
export interface RedisServerHandle {
  readonly host: "127.0.0.1"
  /** The port clients connect to (the TLS port when `tls` is on). */
  readonly port: number
  /** Set when the server listens on TLS; equal to `port`. */
  readonly tlsPort?: number
  /** `redis://127.0.0.1:P`, or `rediss://`, with `:password@` when `password` is set. */
  readonly url: string
  readonly password?: string
  /** The process id of the current incarnation (changes on `restart`). */
  readonly pid: number
  /** Absolute working directory of the server (config, AOF, log, pidfile, certificates). */
  readonly dir: string
  readonly logFile: string
  readonly pidFile: string
  readonly tls?: ServerTls
  /** The options the server was started with. */
  readonly options: RedisServerOptions

  /** Whether the current process is still alive (a paused one is alive). */
  readonly isAlive: Effect.Effect<boolean>
  /** SIGKILL the server and wait until it has exited. */
  readonly kill: Effect.Effect<void>
  /** SIGTERM the server (SIGKILL after 2 s) and wait until it has exited. */
  readonly stop: Effect.Effect<void>
  /** Stop the server if it runs, start it again on the same port with the same options, and wait until it answers. */
  readonly restart: Effect.Effect<void, ServerError>
  /** SIGSTOP: the server keeps its sockets open but stops answering. */
  readonly pause: Effect.Effect<void>
  /** SIGCONT after `pause`. */
  readonly resume: Effect.Effect<void>
  /**
   * Runs `redis-cli ... args` with the server's own credentials (and TLS
   * files); fails on an error reply or after 10 s (e.g. while paused).
   * Returns stdout, trimmed; multi-line replies come one element per line.
   */
  readonly cli: (...args: ReadonlyArray<string>) => Effect.Effect<string, ServerError>
  /** Like `cli`, with other credentials (`{}` = no AUTH). */
  readonly cliAs: (credentials: Credentials, ...args: ReadonlyArray<string>) => Effect.Effect<string, ServerError>
  /** `CLIENT KILL <filter...>` (e.g. `"TYPE", "normal"`); returns how many connections were killed. */
  readonly clientKill: (...filter: ReadonlyArray<string>) => Effect.Effect<number, ServerError>
  /** `CONFIG SET key value`. */
  readonly config: (key: string, value: string) => Effect.Effect<void, ServerError>
  /** `INFO [section]`, parsed into `field -> value`. */
  readonly info: (section?: string) => Effect.Effect<Record<string, string>, ServerError>
  /** The last `lines` lines of the server log. */
  readonly logTail: (lines?: number) => Effect.Effect<string>
}

/**
 * The server of a test, as a service.
 *
 * @category services
 * @since 0.1.0
 */
export class RedisServer extends Context.Service<RedisServer, RedisServerHandle>()("@redis-effect/testing/RedisServer") {}

// -----------------------------------------------------------------------------
// internals
// -----------------------------------------------------------------------------

const configFile = (options: RedisServerOptions): string => {
  const lines = ["# written by @redis-effect/testing"]
  if (options.password !== undefined) lines.push(`requirepass ${quote(options.password)}`)
  for (const user of options.aclUsers ?? []) {
    const rules = user.rules.split(/\s+/).filter((r) => r.length > 0).map(quote)
    lines.push(["user", quote(user.name), "reset", "on", quote(`>${user.password}`), ...rules].join(" "))
  }
  return lines.join("\n") + "\n"
}

/**
 * Parses the `field:value` lines of an INFO reply; section headers are skipped.
 *
 * @category parsing
 * @since 0.1.0
 */
export const parseInfo = (text: string): Record<string, string> => {
  const out: Record<string, string> = {}
  for (const line of text.split(/\r?\n/)) {
    if (line.length === 0 || line.startsWith("#")) continue
    const colon = line.indexOf(":")
    if (colon > 0) out[line.slice(0, colon)] = line.slice(colon + 1)
  }
  return out
}

/** `options.tls` with `true` spelled out as all defaults, or undefined when TLS is off. */
const tlsOptionsOf = (tls: RedisServerOptions["tls"]): TlsServerOptions | undefined =>
  tls === true ? {} : tls === false || tls === undefined ? undefined : tls

/** The certificates the server presents and a client needs; a fresh PKI in `dir` unless `material` is given. */
const serverTls = (tlsOptions: TlsServerOptions, dir: string): Effect.Effect<ServerTls, ServerError> =>
  Effect.gen(function*() {
    const material = tlsOptions.material ?? (yield* Tls.generateCertificates(Path.join(dir, "tls")))
    const certificate = tlsOptions.certificate ?? "server"
    const presented = material[certificate]
    return {
      ca: material.ca.cert,
      cert: presented.cert,
      key: presented.key,
      clientCert: material.client.cert,
      clientKey: material.client.key,
      caFile: material.ca.certFile,
      certFile: presented.certFile,
      keyFile: presented.keyFile,
      clientCertFile: material.client.certFile,
      clientKeyFile: material.client.keyFile,
      certificate,
      material
    }
  })

/** Where a server keeps its files; all absolute. */
interface ServerFiles {
  readonly dir: string
  readonly confFile: string
  readonly logFile: string
  readonly pidFile: string
}

/** The `redis-server` command line: loopback only, no snapshots, the options' extras last. */
const serverArgs = (
  options: RedisServerOptions,
  port: number,
  files: ServerFiles,
  tls: ServerTls | undefined,
  tlsOptions: TlsServerOptions | undefined
): ReadonlyArray<string> => [
  files.confFile,
  "--bind", "127.0.0.1",
  "--protected-mode", "yes",
  "--port", tls === undefined ? String(port) : "0",
  ...(tls === undefined ? [] : [
    "--tls-port", String(port),
    "--tls-cert-file", tls.certFile,
    "--tls-key-file", tls.keyFile,
    "--tls-ca-cert-file", tls.caFile,
    "--tls-auth-clients", tlsOptions?.authClients ?? "optional"
  ]),
  "--save", "",
  ...(options.appendonly === true ? ["--appendonly", "yes", "--appendfsync", "always"] : ["--appendonly", "no"]),
  "--enable-debug-command", "local",
  "--daemonize", "no",
  // Absolute paths: --dir changes the working directory before the log
  // file is opened, so a relative log file would make startup fail.
  "--dir", files.dir,
  "--logfile", files.logFile,
  "--pidfile", files.pidFile,
  ...(options.extraArgs ?? [])
]

/** The server's own credentials: requirepass, or the password of an ACL user called "default". */
const ownCredentials = (options: RedisServerOptions): Credentials => {
  if (options.password !== undefined) return { password: options.password }
  const defaultUser = options.aclUsers?.find((u) => u.name === "default")
  return defaultUser === undefined ? {} : { password: defaultUser.password }
}

/** `redis-cli` against the server on `port` (with its TLS files), as any user; fails on an error reply. */
const cliFor = (port: number, tls: ServerTls | undefined) =>
(credentials: Credentials, ...cliArgs: ReadonlyArray<string>): Effect.Effect<string, ServerError> => {
  const connection = ["-h", "127.0.0.1", "-p", String(port), "-e", "--no-auth-warning"]
  if (credentials.user !== undefined) connection.push("--user", credentials.user)
  if (tls !== undefined) {
    connection.push("--tls", "--cert", tls.clientCertFile, "--key", tls.clientKeyFile)
    // redis-cli checks the chain and the dates but never the hostname, so
    // the CA works for `server` and `wronghost`; the others are control
    // connections to servers that are broken on purpose.
    if (tls.certificate === "server" || tls.certificate === "wronghost") connection.push("--cacert", tls.caFile)
    else connection.push("--insecure")
  }
  return Proc.run("redis-cli", [...connection, ...cliArgs], {
    env: credentials.password === undefined ? {} : { REDISCLI_AUTH: credentials.password }
  }).pipe(
    Effect.flatMap((result) =>
      result.code === 0
        ? Effect.succeed(result.stdout.trim())
        : Effect.fail(
          new ServerError({
            message: `redis-cli -p ${port} ${cliArgs.join(" ")}: ${
              (result.stderr.trim() || result.stdout.trim() || `exit ${result.code ?? result.signal}`)
            }`
          })
        )
    )
  )
}

/** Whether the server serves commands: PONG, or an auth error, which still proves it is up (LOADING or a refused connection do not). */
const answersPing = (cli: (...args: ReadonlyArray<string>) => Effect.Effect<string, ServerError>): Effect.Effect<boolean> =>
  cli("PING").pipe(
    Effect.map((reply) => reply === "PONG"),
    Effect.catch((error) => Effect.succeed(/NOAUTH|WRONGPASS|NOPERM/.test(error.message)))
  )

// -----------------------------------------------------------------------------
// constructors
// -----------------------------------------------------------------------------

/**
 * Starts a `redis-server` and returns its handle; closing the scope stops it
 * and removes its directory.
 *
 * @category constructors
 * @since 0.1.0
 */
export const make = (
  options: RedisServerOptions = {}
): Effect.Effect<RedisServerHandle, ServerError, Scope.Scope> =>
  Effect.gen(function*() {
    const port = options.port ?? (yield* freePort)
    // The directory is released last: finalizers run in reverse order, and
    // the server must be gone before its files are deleted.
    const dir = yield* Proc.tempDirectory(Path.join(Os.tmpdir(), `redis-effect-${port}-`))
    const files: ServerFiles = {
      dir,
      confFile: Path.join(dir, "redis.conf"),
      logFile: Path.join(dir, "redis.log"),
      pidFile: Path.join(dir, "redis.pid")
    }
    yield* Effect.sync(() => Fs.writeFileSync(files.confFile, configFile(options), { mode: 0o600 }))
    const tlsOptions = tlsOptionsOf(options.tls)
    const tls = tlsOptions === undefined ? undefined : yield* serverTls(tlsOptions, dir)

    const cliAs = cliFor(port, tls)
    const credentials = ownCredentials(options)
    const cli = (...cliArgs: ReadonlyArray<string>) => cliAs(credentials, ...cliArgs)

    const server = yield* ServerProcess.make({
      args: serverArgs(options, port, files, tls, tlsOptions),
      port,
      logFile: files.logFile,
      startTimeoutMillis: options.startTimeoutMillis ?? 10_000,
      ready: answersPing(cli)
    })
    yield* server.start

    const scheme = tls === undefined ? "redis" : "rediss"
    const auth = options.password === undefined ? "" : `:${encodeURIComponent(options.password)}@`
    const handle: RedisServerHandle = {
      host: "127.0.0.1",
      port,
      ...(tls === undefined ? {} : { tlsPort: port, tls }),
      url: `${scheme}://${auth}127.0.0.1:${port}`,
      ...(options.password === undefined ? {} : { password: options.password }),
      get pid() {
        return server.pid
      },
      dir,
      logFile: files.logFile,
      pidFile: files.pidFile,
      options,
      isAlive: server.isAlive,
      kill: server.kill,
      stop: server.stop,
      restart: Effect.andThen(server.stop, server.start),
      pause: server.pause,
      resume: server.resume,
      cli,
      cliAs,
      clientKill: (...filter) =>
        Effect.map(cli("CLIENT", "KILL", ...filter), (reply) => reply === "OK" ? 1 : Number.parseInt(reply, 10) || 0),
      config: (key, value) => Effect.asVoid(cli("CONFIG", "SET", key, value)),
      info: (section) => Effect.map(section === undefined ? cli("INFO") : cli("INFO", section), parseInfo),
      logTail: (lines = 50) => Effect.sync(() => Proc.fileTail(files.logFile, lines))
    }
    return handle
  })

/**
 * A layer that provides `RedisServer`, started with `options` and stopped
 * when the layer is released.
 *
 * @category layers
 * @since 0.1.0
 */
export const layer = (options: RedisServerOptions = {}): Layer.Layer<RedisServer, ServerError> =>
  Layer.effect(RedisServer)(make(options))
