/**
 * A Sentinel-managed group of real processes on free loopback ports, as a
 * scoped Effect: one primary and two replicas (`redis-server --replicaof`),
 * and three `redis-sentinel` processes monitoring the primary as `mymaster`
 * with quorum 2, `down-after-milliseconds 1000` and `failover-timeout 5000`
 * (short, for tests).
 *
 * `make` returns once every sentinel sees the primary, both replicas and the
 * two other sentinels, and both replicas report `master_link_status:up` (a
 * replica that has not finished its first sync never fails over). Closing
 * the scope stops every process and removes every directory.
 *
 * The handle carries the Sentinel faults that integration tests need:
 * `failover` (`SENTINEL FAILOVER` and wait for the switch), `killPrimary`,
 * `pausePrimary`, `killSentinel(i)`, and `currentPrimary`.
 *
 * Like `RedisServer`, this drives everything through `redis-cli`: it does not
 * use the redis-effect client, so the fixture keeps working while the client
 * is broken.
 *
 * **Gotchas**
 *
 * - Sentinels rewrite their config file, so each gets its own directory and
 *   an absolute path; `sentinel resolve-hostnames no` keeps addresses as IPs.
 * - With a data-node `password`, every node also gets `masterauth` (a demoted
 *   primary must sync from the new one) and the sentinels `auth-pass`. A
 *   `sentinelPassword` protects the sentinels themselves (`requirepass`) and
 *   is given to them as `sentinel-pass` so they can still talk to each other.
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
import * as RedisServer from "./RedisServer.ts"
import { ServerError } from "./ServerError.ts"

/**
 * @category options
 * @since 0.1.0
 */
export interface RedisSentinelOptions {
  /** The service name the sentinels monitor. Default `mymaster`. */
  readonly masterName?: string | undefined
  /** `requirepass` of the data nodes (and `masterauth`, `sentinel auth-pass`). */
  readonly password?: string | undefined
  /** `requirepass` of the sentinels. */
  readonly sentinelPassword?: string | undefined
  /** How many replicas. Default 2. */
  readonly replicas?: number | undefined
  /** How many sentinels. Default 3. */
  readonly sentinels?: number | undefined
  /** Default 2. */
  readonly quorum?: number | undefined
  /** Default 1000. */
  readonly downAfterMillis?: number | undefined
  /** Default 5000. */
  readonly failoverTimeoutMillis?: number | undefined
  /** More arguments for every data node. */
  readonly extraArgs?: ReadonlyArray<string> | undefined
  /** How long to wait for the group to settle. Default 30 000 ms. */
  readonly startTimeoutMillis?: number | undefined
}

/**
 * One running `redis-sentinel`.
 *
 * @category models
 * @since 0.1.0
 */
export interface SentinelHandle {
  readonly host: "127.0.0.1"
  readonly port: number
  readonly dir: string
  readonly logFile: string
  readonly isAlive: Effect.Effect<boolean>
  readonly pid: number
  /** SIGKILL and wait for the exit. */
  readonly kill: Effect.Effect<void>
  /** Runs `redis-cli -p <port> args` with the sentinel password; fails on an error reply. */
  readonly cli: (...args: ReadonlyArray<string>) => Effect.Effect<string, ServerError>
  readonly logTail: (lines?: number) => Effect.Effect<string>
}

/**
 * The running group and its fault helpers.
 *
 * @category models
 * @since 0.1.0
 */
export interface RedisSentinelHandle {
  readonly masterName: string
  /** Data nodes; index 0 was the primary at startup. */
  readonly nodes: ReadonlyArray<RedisServer.RedisServerHandle>
  readonly sentinels: ReadonlyArray<SentinelHandle>
  /** `host:port` of every sentinel, for client options. */
  readonly sentinelAddresses: ReadonlyArray<{ readonly host: string; readonly port: number }>
  readonly password: string | undefined
  readonly sentinelPassword: string | undefined
  /** The primary as the live sentinels report it (they must agree). */
  readonly currentPrimary: Effect.Effect<RedisServer.RedisServerHandle, ServerError>
  /** The nodes that are not the current primary. */
  readonly currentReplicas: Effect.Effect<ReadonlyArray<RedisServer.RedisServerHandle>, ServerError>
  /**
   * `SENTINEL FAILOVER <name>` on the first live sentinel, then waits until
   * every live sentinel reports the new primary and it answers `ROLE` as
   * master. Returns the old and the new primary.
   */
  readonly failover: Effect.Effect<
    { readonly from: RedisServer.RedisServerHandle; readonly to: RedisServer.RedisServerHandle },
    ServerError
  >
  /** Waits until the live sentinels agree on a primary other than `from` and it is a master. */
  readonly awaitSwitch: (
    from: RedisServer.RedisServerHandle,
    timeoutMillis?: number
  ) => Effect.Effect<RedisServer.RedisServerHandle, ServerError>
  /** SIGKILL the current primary; returns it. */
  readonly killPrimary: Effect.Effect<RedisServer.RedisServerHandle, ServerError>
  /** SIGSTOP the current primary; returns it (`resume` it yourself). */
  readonly pausePrimary: Effect.Effect<RedisServer.RedisServerHandle, ServerError>
  /** SIGKILL sentinel `i`. */
  readonly killSentinel: (i: number) => Effect.Effect<void>
  /** Waits until every replica of the current primary has `master_link_status:up`. */
  readonly awaitReplicasInSync: Effect.Effect<void, ServerError>
}

/**
 * The group of a test, as a service.
 *
 * @category services
 * @since 0.1.0
 */
export class RedisSentinel extends Context.Service<RedisSentinel, RedisSentinelHandle>()(
  "@redis-effect/testing/RedisSentinel"
) {}

/** `[k1, v1, k2, v2]` lines from redis-cli into a record. */
const pairs = (text: string): Record<string, string> => {
  const lines = text.split("\n")
  const out: Record<string, string> = {}
  for (let i = 0; i + 1 < lines.length; i += 2) out[lines[i]] = lines[i + 1]
  return out
}

const startSentinel = (options: {
  readonly masterName: string
  readonly primaryPort: number
  readonly quorum: number
  readonly downAfterMillis: number
  readonly failoverTimeoutMillis: number
  readonly password: string | undefined
  readonly sentinelPassword: string | undefined
}): Effect.Effect<SentinelHandle, ServerError, Scope.Scope> =>
  Effect.gen(function*() {
    const port = yield* freePort
    const dir = yield* Proc.tempDirectory(Path.join(Os.tmpdir(), `redis-effect-sentinel-${port}-`))
    const logFile = Path.join(dir, "sentinel.log")
    const confFile = Path.join(dir, "sentinel.conf")
    const name = quote(options.masterName)
    const lines = [
      "# written by @redis-effect/testing",
      `port ${port}`,
      "bind 127.0.0.1",
      "daemonize no",
      `dir ${quote(dir)}`,
      `logfile ${quote(logFile)}`,
      `pidfile ${quote(Path.join(dir, "sentinel.pid"))}`,
      "sentinel resolve-hostnames no",
      `sentinel monitor ${name} 127.0.0.1 ${options.primaryPort} ${options.quorum}`,
      `sentinel down-after-milliseconds ${name} ${options.downAfterMillis}`,
      `sentinel failover-timeout ${name} ${options.failoverTimeoutMillis}`,
      `sentinel parallel-syncs ${name} 1`
    ]
    if (options.password !== undefined) lines.push(`sentinel auth-pass ${name} ${quote(options.password)}`)
    if (options.sentinelPassword !== undefined) {
      lines.push(`requirepass ${quote(options.sentinelPassword)}`)
      lines.push(`sentinel sentinel-pass ${quote(options.sentinelPassword)}`)
    }
    yield* Effect.sync(() => Fs.writeFileSync(confFile, lines.join("\n") + "\n", { mode: 0o600 }))

    const child = yield* Proc.spawnTracked("redis-sentinel", [confFile])
    yield* Effect.addFinalizer(() => Proc.stop(child))

    const cli = (...args: ReadonlyArray<string>): Effect.Effect<string, ServerError> =>
      Proc.run("redis-cli", ["-h", "127.0.0.1", "-p", String(port), "-e", "--no-auth-warning", ...args], {
        env: options.sentinelPassword === undefined ? {} : { REDISCLI_AUTH: options.sentinelPassword },
        timeoutMillis: 5000
      }).pipe(Effect.flatMap((result) =>
        result.code === 0
          ? Effect.succeed(result.stdout.trim())
          : Effect.fail(
            new ServerError({
              message: `redis-cli -p ${port} ${args.join(" ")}: ${
                result.stderr.trim() || result.stdout.trim() || `exit ${result.code ?? result.signal}`
              }`
            })
          )
      ))

    const deadline = Date.now() + 10_000
    while (true) {
      if (!child.isAlive()) {
        return yield* Effect.fail(
          new ServerError({
            message: `redis-sentinel on ${port} exited during startup\n${child.stderrTail()}\n${Proc.fileTail(logFile, 20)}`
          })
        )
      }
      const ok = yield* cli("PING").pipe(Effect.map((r) => r === "PONG"), Effect.orElseSucceed(() => false))
      if (ok) break
      if (Date.now() > deadline) {
        return yield* Effect.fail(new ServerError({ message: `redis-sentinel on ${port} did not answer PING` }))
      }
      yield* Proc.realSleep(25)
    }

    return {
      host: "127.0.0.1",
      port,
      dir,
      logFile,
      pid: child.pid,
      isAlive: Effect.sync(() => child.isAlive()),
      kill: Effect.suspend(() => {
        Proc.signal(child, "SIGKILL")
        return Proc.awaitExit(child)
      }),
      cli,
      logTail: (n = 50) => Effect.sync(() => Proc.fileTail(logFile, n))
    } satisfies SentinelHandle
  })

/** Polls `check` every 50 ms until it yields a value; fails after `timeoutMillis` with the last error seen. */
const waitFor = <A>(
  what: string,
  check: Effect.Effect<A | undefined, ServerError>,
  timeoutMillis: number
): Effect.Effect<A, ServerError> =>
  Effect.gen(function*() {
    const deadline = Date.now() + timeoutMillis
    let last = ""
    while (true) {
      const result = yield* check.pipe(
        Effect.catch((e) => Effect.sync(() => {
          last = e.message
          return undefined
        }))
      )
      if (result !== undefined) return result
      if (Date.now() > deadline) {
        return yield* Effect.fail(new ServerError({ message: `timed out waiting for ${what}${last ? `: ${last}` : ""}` }))
      }
      yield* Proc.realSleep(50)
    }
  })

/**
 * Starts the group and waits until it has settled; closing the scope stops it.
 *
 * @category constructors
 * @since 0.1.0
 */
export const make = (
  options: RedisSentinelOptions = {}
): Effect.Effect<RedisSentinelHandle, ServerError, Scope.Scope> =>
  Effect.gen(function*() {
    const masterName = options.masterName ?? "mymaster"
    const replicaCount = options.replicas ?? 2
    const sentinelCount = options.sentinels ?? 3
    const password = options.password
    const auth = password === undefined ? [] : ["--masterauth", password]
    const common = { ...(password === undefined ? {} : { password }) }
    const primary = yield* RedisServer.make({ ...common, extraArgs: [...auth, ...(options.extraArgs ?? [])] })
    const replicas = yield* Effect.forEach(
      Array.from({ length: replicaCount }, (_, i) => i),
      () =>
        RedisServer.make({
          ...common,
          extraArgs: ["--replicaof", "127.0.0.1", String(primary.port), ...auth, ...(options.extraArgs ?? [])]
        }),
      { concurrency: "unbounded" }
    )
    const nodes = [primary, ...replicas]
    const sentinels = yield* Effect.forEach(
      Array.from({ length: sentinelCount }, (_, i) => i),
      () =>
        startSentinel({
          masterName,
          primaryPort: primary.port,
          quorum: options.quorum ?? 2,
          downAfterMillis: options.downAfterMillis ?? 1000,
          failoverTimeoutMillis: options.failoverTimeoutMillis ?? 5000,
          password,
          sentinelPassword: options.sentinelPassword
        }),
      { concurrency: "unbounded" }
    )

    const nodeByPort = (port: number) => nodes.find((n) => n.port === port)
    const liveSentinels = Effect.filter(sentinels, (s) => s.isAlive)

    // The primary the live sentinels agree on (fails if they disagree or none answers).
    const reportedPrimary: Effect.Effect<RedisServer.RedisServerHandle, ServerError> = Effect.gen(function*() {
      const live = yield* liveSentinels
      const ports = new Set<number>()
      for (const s of live) {
        const reply = yield* s.cli("SENTINEL", "GET-MASTER-ADDR-BY-NAME", masterName)
        const port = Number(reply.split("\n")[1])
        ports.add(port)
      }
      if (ports.size !== 1) {
        return yield* Effect.fail(new ServerError({ message: `sentinels disagree on the primary: ${[...ports].join(", ")}` }))
      }
      const node = nodeByPort([...ports][0])
      if (node === undefined) return yield* Effect.fail(new ServerError({ message: `unknown primary port ${[...ports][0]}` }))
      return node
    })

    const isMaster = (node: RedisServer.RedisServerHandle) =>
      Effect.map(node.cli("ROLE"), (r) => r.split("\n")[0] === "master")

    const awaitReplicasInSync: Effect.Effect<void, ServerError> = waitFor("replicas in sync", Effect.gen(function*() {
      const p = yield* reportedPrimary
      for (const n of nodes) {
        if (n === p || !(yield* n.isAlive)) continue
        const info = yield* n.info("replication")
        if (info.role !== "slave" || Number(info.master_port) !== p.port || info.master_link_status !== "up") {
          return undefined
        }
      }
      return true as const
    }), options.startTimeoutMillis ?? 30_000)

    // Settle: every sentinel sees the primary, the replicas and the other sentinels.
    yield* waitFor("sentinels to settle", Effect.gen(function*() {
      for (const s of sentinels) {
        const master = pairs(yield* s.cli("SENTINEL", "MASTER", masterName))
        if (Number(master["num-slaves"]) < replicaCount) return undefined
        if (Number(master["num-other-sentinels"]) < sentinelCount - 1) return undefined
        if (!/^master$/.test(master.flags ?? "")) return undefined
      }
      return true as const
    }), options.startTimeoutMillis ?? 30_000)
    yield* awaitReplicasInSync

    const awaitSwitch = (from: RedisServer.RedisServerHandle, timeoutMillis = 30_000) =>
      waitFor("the sentinels to switch the primary", Effect.gen(function*() {
        const p = yield* reportedPrimary
        if (p === from) return undefined
        return (yield* isMaster(p)) ? p : undefined
      }), timeoutMillis)

    const firstLive = Effect.flatMap(liveSentinels, (live) =>
      live.length === 0 ? Effect.fail(new ServerError({ message: "no sentinel is alive" })) : Effect.succeed(live[0]))

    const failover = Effect.gen(function*() {
      const from = yield* reportedPrimary
      yield* awaitReplicasInSync
      const s = yield* firstLive
      // INPROG / NOGOODSLAVE right after another failover: try again shortly.
      yield* waitFor(
        "SENTINEL FAILOVER to be accepted",
        Effect.map(s.cli("SENTINEL", "FAILOVER", masterName), (r) => (r === "OK" ? (true as const) : undefined)),
        20_000
      )
      const to = yield* awaitSwitch(from)
      return { from, to }
    })

    return {
      masterName,
      nodes,
      sentinels,
      sentinelAddresses: sentinels.map((s) => ({ host: s.host, port: s.port })),
      password,
      sentinelPassword: options.sentinelPassword,
      currentPrimary: reportedPrimary,
      currentReplicas: Effect.map(reportedPrimary, (p) => nodes.filter((n) => n !== p)),
      failover,
      awaitSwitch,
      killPrimary: Effect.tap(reportedPrimary, (p) => p.kill),
      pausePrimary: Effect.tap(reportedPrimary, (p) => p.pause),
      killSentinel: (i) => sentinels[i].kill,
      awaitReplicasInSync
    } satisfies RedisSentinelHandle
  })

/**
 * A layer providing `RedisSentinel`, stopped when the layer is released.
 *
 * @category layers
 * @since 0.1.0
 */
export const layer = (options: RedisSentinelOptions = {}): Layer.Layer<RedisSentinel, ServerError> =>
  Layer.effect(RedisSentinel)(make(options))
