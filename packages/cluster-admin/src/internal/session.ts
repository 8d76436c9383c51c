/**
 * The effectful plumbing every `ClusterAdmin` operation shares: a session of
 * one short-lived connection per node (no reconnect, no offline queue), the
 * raw `CLUSTER` commands it sends, errors that name the node, polling until
 * the cluster converges, and surveying every node into a check report.
 *
 * It decides nothing about what an operation should do; the operations do.
 * Everything here is internal to the package.
 *
 * @internal
 */
import * as Cause from "effect/Cause"
import * as Clock from "effect/Clock"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Redacted from "effect/Redacted"
import * as Schedule from "effect/Schedule"
import * as Scope from "effect/Scope"
import * as Addr from "@redis-effect/redis/Address"
import type { Command } from "@redis-effect/redis/Command"
import * as Cmd from "@redis-effect/redis/Command"
import * as Connection from "@redis-effect/redis/Connection"
import * as RedisConfig from "@redis-effect/redis/RedisConfig"
import * as RedisError from "@redis-effect/redis/RedisError"
import type { Arg } from "@redis-effect/redis/Resp"
import { Transport } from "@redis-effect/redis/Transport"
import type { AdminOptions, CheckReport, NodeEntry } from "../ClusterAdmin.ts"
import * as Plan from "./plan.ts"

// Defaults (re-exported, documented, by ClusterAdmin).
export const defaultTimeout: Duration.Duration = Duration.seconds(60)
export const defaultPollInterval: Duration.Duration = Duration.millis(100)
export const defaultPipeline = 10
export const defaultMigrateTimeout: Duration.Duration = Duration.seconds(60)
export const defaultThreshold = 2

// -----------------------------------------------------------------------------
// internals: errors
// -----------------------------------------------------------------------------

export const invalid = (op: string, message: string) => Effect.fail(RedisError.invalidArgument(`${op}: ${message}`))

export const checkFailed = (op: string, report: CheckReport) =>
  Effect.fail(RedisError.make(
    new RedisError.ClusterCheckFailed({
      message: `${op}: ${report.problems.length} problem(s) in the cluster seen from ${report.seed}: ${
        report.problems.slice(0, 3).map((p) => p.message).join("; ")
      }${report.problems.length > 3 ? "; ..." : ""}`,
      problems: report.problems.map((p) => p.message)
    }),
    "NotSent"
  ))

/** Names the node in the error's message, once (connection errors only carry it in a field). */
export const atNode = (address: string) => (error: RedisError.RedisError): RedisError.RedisError => {
  const r = error.reason
  const say = (message: string) => (message.includes(address) ? message : `${address}: ${message}`)
  let reason: RedisError.RedisErrorReason
  switch (r._tag) {
    case "ReplyError":
      reason = new RedisError.ReplyError({ code: r.code, message: say(r.message) })
      break
    case "AuthError":
      reason = new RedisError.AuthError({ message: say(r.message) })
      break
    case "ProtocolError":
      reason = new RedisError.ProtocolError({ message: say(r.message) })
      break
    case "Timeout":
      reason = new RedisError.Timeout({ message: say(r.message), millis: r.millis })
      break
    case "ConnectionError":
      reason = new RedisError.ConnectionError(
        r.cause === undefined
          ? { message: say(r.message), address: r.address ?? address }
          : { message: say(r.message), address: r.address ?? address, cause: r.cause }
      )
      break
    default:
      return error
  }
  return RedisError.make(reason, error.outcome, error.command)
}

/** `atNode`, and a plain server asked a cluster question is bad input, not a server failure. */
export const explain = (address: string) => (error: RedisError.RedisError): RedisError.RedisError =>
  isReply(error, /cluster support disabled/i)
    ? RedisError.invalidArgument(`${address} is not cluster-enabled (start it with cluster-enabled yes)`)
    : atNode(address)(error)

export const errorOf = (exit: Exit.Exit<unknown, RedisError.RedisError>): RedisError.RedisError | undefined => {
  if (Exit.isSuccess(exit)) return undefined
  const found = Cause.findErrorOption(exit.cause)
  return found._tag === "Some" ? found.value : undefined
}

export const isReply = (error: RedisError.RedisError, pattern: RegExp): boolean =>
  error.reason._tag === "ReplyError" && pattern.test(`${error.reason.code} ${error.reason.message}`)

// -----------------------------------------------------------------------------
// internals: commands
// -----------------------------------------------------------------------------

export const parseInfo = (text: string): Record<string, string> => {
  const out: Record<string, string> = {}
  for (const line of text.split(/\r?\n/)) {
    const colon = line.indexOf(":")
    if (colon > 0 && !line.startsWith("#")) out[line.slice(0, colon)] = line.slice(colon + 1).trim()
  }
  return out
}

export const cluster = <A>(decode: Cmd.Decoder<A>, ...args: ReadonlyArray<Arg>): Command<A> =>
  Cmd.unsafeMake("CLUSTER", ["CLUSTER", ...args], [], Cmd.Flags.NO_KEYS, decode)

export const clusterNodes = cluster((r) => Plan.parseClusterNodes(Cmd.Reply.string(r)), "NODES")
export const clusterInfo = cluster((r) => parseInfo(Cmd.Reply.string(r)), "INFO")
export const infoKeyspace = Cmd.unsafeMake("INFO", ["INFO", "keyspace"], [], Cmd.Flags.NO_KEYS, (r) => parseInfo(Cmd.Reply.string(r)))
export const dbsize = Cmd.unsafeMake("DBSIZE", ["DBSIZE"], [], Cmd.Flags.NO_KEYS, Cmd.Reply.integer)
export const asking = Cmd.unsafeMake("ASKING", ["ASKING"], [], Cmd.Flags.NO_KEYS, Cmd.Reply.ok)
export const setslot = (slot: number, state: "IMPORTING" | "MIGRATING" | "NODE", id: string) =>
  cluster(Cmd.Reply.ok, "SETSLOT", slot, state, id)
export const getKeysInSlot = (slot: number, count: number) =>
  Cmd.unsafeMake("CLUSTER", ["CLUSTER", "GETKEYSINSLOT", slot, count], [], Cmd.Flags.NO_KEYS, Cmd.Reply.array(Cmd.Reply.bytes), true)
export const dump = (key: Uint8Array) =>
  Cmd.unsafeMake("DUMP", ["DUMP", key], [key], Cmd.Flags.READONLY, Cmd.Reply.optionalBytes, true)

export const keyText = (key: Uint8Array) => new TextDecoder().decode(key)

// -----------------------------------------------------------------------------
// internals: addresses
// -----------------------------------------------------------------------------

export type Address = Addr.Address

// Admin input is "host:port" only: no default port.
export const parseAddress = (input: string): Address | undefined => Addr.parse(input)

export const normalize = (input: string): string | undefined => {
  const a = parseAddress(input)
  return a === undefined ? undefined : Plan.formatAddress(a.host, a.port)
}

/** The address to dial for an entry; a node that has not learnt its own IP answers on the address we used. */
export const addressOf = (entry: NodeEntry, fallback: string): string =>
  entry.host === "" ? fallback : Plan.formatAddress(entry.host, entry.port)

/** A member named by `host:port` or by id, in `nodes` as `seed` reports them. */
export const findNode = (nodes: ReadonlyArray<NodeEntry>, ref: string, seed: string): NodeEntry | undefined => {
  const address = normalize(ref)
  if (address !== undefined) return nodes.find((e) => !Plan.isUnsettled(e) && addressOf(e, seed) === address)
  return nodes.find((e) => e.id === ref)
}

export const describeNode = (entry: NodeEntry, seed: string) => `${addressOf(entry, seed)} (${entry.id.slice(0, 8)})`

// -----------------------------------------------------------------------------
// internals: a session of connections
// -----------------------------------------------------------------------------

export interface Session {
  readonly send: <A>(address: string, command: Command<A>) => Effect.Effect<A, RedisError.RedisError>
  readonly sendAll: (
    address: string,
    commands: ReadonlyArray<Command<unknown>>
  ) => Effect.Effect<Array<Exit.Exit<unknown, RedisError.RedisError>>, RedisError.RedisError>
  /** `AUTH`/`AUTH2` arguments for `MIGRATE`, from the connection template. */
  readonly migrateAuth: Effect.Effect<ReadonlyArray<string>, RedisError.RedisError>
  readonly timeout: Duration.Duration
  readonly poll: Duration.Duration
}

export const noReconnect = Schedule.recurs(0).pipe(Schedule.setInputType<RedisError.RedisError>())

/**
 * One connection per node, opened on first use and closed with the
 * operation's scope. No reconnect schedule and no offline queue: an
 * administrative step against a node that is down must fail, not wait.
 */
export const openSession = (options: AdminOptions): Effect.Effect<Session, RedisError.RedisError, Scope.Scope | Transport> =>
  Effect.gen(function*() {
    const transport = yield* Transport
    const scope = yield* Effect.scope
    const template = yield* RedisConfig.resolve({ ...(options.connection ?? {}), host: "127.0.0.1", port: 6379 })
    const connections = new Map<string, Connection.Connection>()

    const connect = (address: string): Effect.Effect<Connection.Connection, RedisError.RedisError> =>
      Effect.suspend(() => {
        const existing = connections.get(address)
        if (existing !== undefined && existing.status() === "ready") return Effect.succeed(existing)
        const parsed = parseAddress(address)
        if (parsed === undefined) return Effect.fail(RedisError.invalidArgument(`invalid node address ${JSON.stringify(address)} (want host:port)`))
        return Effect.gen(function*() {
          const connectionScope = yield* Scope.fork(scope)
          const connection = yield* Connection.make({
            ...template,
            endpoint: RedisConfig.tcp(parsed.host, parsed.port),
            offline: { _tag: "fail" },
            reconnect: noReconnect,
            readOnly: false,
            setInfo: false,
            clientName: template.clientName ?? "redis-effect-cluster-admin"
          }).pipe(Scope.provide(connectionScope), Effect.provideService(Transport, transport))
          const ready = yield* Effect.exit(connection.awaitReady)
          const error = errorOf(ready)
          if (error !== undefined || Exit.isFailure(ready)) {
            yield* Scope.close(connectionScope, Exit.void)
            return yield* Effect.fail(
              error ?? RedisError.make(new RedisError.ConnectionError({ message: "connect interrupted", address }), "NotSent")
            )
          }
          connections.set(address, connection)
          return connection
        })
      })

    const send = <A>(address: string, command: Command<A>): Effect.Effect<A, RedisError.RedisError> =>
      Effect.mapError(Effect.flatMap(connect(address), (c) => c.send(command)), explain(address))

    const sendAll = (address: string, commands: ReadonlyArray<Command<unknown>>) =>
      Effect.mapError(Effect.flatMap(connect(address), (c) => c.sendAll(commands)), explain(address))

    const migrateAuth: Effect.Effect<ReadonlyArray<string>, RedisError.RedisError> = Effect.gen(function*() {
      let username = template.username
      let password = template.password
      if (template.credentials !== undefined) {
        const creds = yield* template.credentials
        username = creds.username
        password = creds.password
      }
      if (password === undefined) return []
      return username === undefined || username === "default"
        ? ["AUTH", Redacted.value(password)]
        : ["AUTH2", username, Redacted.value(password)]
    })

    return {
      send,
      sendAll,
      migrateAuth,
      timeout: Duration.fromInputUnsafe(options.timeout ?? defaultTimeout),
      poll: Duration.fromInputUnsafe(options.pollInterval ?? defaultPollInterval)
    }
  })

/**
 * Polls `probe` until it finds nothing wrong, for up to the session's
 * timeout. A probe that fails counts as "not yet" (a node may be busy
 * applying a change); its error is part of the timeout message.
 */
export const converge = (
  session: Session,
  what: string,
  probe: Effect.Effect<ReadonlyArray<string>, RedisError.RedisError>
): Effect.Effect<void, RedisError.RedisError> =>
  Effect.gen(function*() {
    const limit = Duration.toMillis(session.timeout)
    const started = yield* Clock.currentTimeMillis
    while (true) {
      const outcome = yield* Effect.result(probe)
      const problems = outcome._tag === "Success" ? outcome.success : [outcome.failure.message]
      if (problems.length === 0) return
      const elapsed = (yield* Clock.currentTimeMillis) - started
      if (elapsed >= limit) {
        return yield* Effect.fail(RedisError.make(
          new RedisError.Timeout({
            message: `${what}: the cluster did not converge within ${limit} ms: ${problems.slice(0, 5).join("; ")}${
              problems.length > 5 ? "; ..." : ""
            }`,
            millis: limit
          }),
          "Unknown"
        ))
      }
      yield* Effect.sleep(session.poll)
    }
  })

// -----------------------------------------------------------------------------
// internals: surveying the cluster
// -----------------------------------------------------------------------------

export interface Survey {
  readonly report: CheckReport
  readonly views: ReadonlyArray<Plan.NodeView>
}

export const viewOf = (session: Session, address: string): Effect.Effect<Plan.NodeView> =>
  Effect.match(
    Effect.all([session.send(address, clusterNodes), session.send(address, clusterInfo)], { concurrency: 2 }),
    {
      onFailure: (error): Plan.NodeView => ({ _tag: "Unreachable", address, message: error.message }),
      onSuccess: ([nodes, info]): Plan.NodeView => ({
        _tag: "Answered",
        address,
        nodes,
        clusterState: info.cluster_state ?? "unknown"
      })
    }
  )

/** The seed must answer; every node it lists (but those flagged `fail`) is asked too. */
export const survey = (session: Session, seed: string): Effect.Effect<Survey, RedisError.RedisError> =>
  Effect.gen(function*() {
    const [nodes, info] = yield* Effect.all([session.send(seed, clusterNodes), session.send(seed, clusterInfo)], {
      concurrency: 2
    })
    const others = nodes
      .filter((e) => !e.myself && !Plan.isUnsettled(e) && Plan.failureFlag(e) !== "fail")
      .map((e) => addressOf(e, seed))
    const views = yield* Effect.forEach(others, (a) => viewOf(session, a), { concurrency: 8 })
    const all: Array<Plan.NodeView> = [
      { _tag: "Answered", address: seed, nodes, clusterState: info.cluster_state ?? "unknown" },
      ...views
    ]
    return { report: Plan.buildReport(seed, all), views: all }
  })

/** Why `node` cannot join a cluster, if anything: cluster-enabled, alone, no slots, no keys. */
export const probeEmpty = (session: Session, op: string, address: string) =>
  Effect.gen(function*() {
    const info = yield* session.send(address, clusterInfo)
    const keyspace = yield* session.send(address, infoKeyspace)
    const nodes = yield* session.send(address, clusterNodes)
    const self = nodes.find((e) => e.myself)
    if (self === undefined) return yield* invalid(op, `${address}: CLUSTER NODES has no myself line`)
    const reasons: Array<string> = []
    const known = Number(info.cluster_known_nodes ?? nodes.length)
    if (known !== 1) reasons.push(`it already knows ${known - 1} other node(s) (it is part of a cluster)`)
    const assigned = Number(info.cluster_slots_assigned ?? 0)
    if (assigned !== 0) reasons.push(`it already serves ${assigned} slots`)
    const keys = Object.entries(keyspace)
      .filter(([k]) => /^db\d+$/.test(k))
      .reduce((n, [, v]) => n + Number(/keys=(\d+)/.exec(v)?.[1] ?? 0), 0)
    if (keys > 0) reasons.push(`it holds ${keys} keys`)
    if (reasons.length > 0) return yield* invalid(op, `${address} is not an empty node: ${reasons.join("; ")}`)
    return self
  })

/** `CLUSTER REPLICATE` right after a MEET can meet a node that has not learnt the primary yet. */
export const replicate = (session: Session, address: string, primaryId: string) =>
  Effect.retry(session.send(address, cluster(Cmd.Reply.ok, "REPLICATE", primaryId)), {
    schedule: Schedule.spaced(session.poll),
    times: 50,
    while: (e) => isReply(e, /unknown node|not a master|only replicate a master/i)
  })

/** The problems of a report that concern one node (it disagrees, it is not `ok`, it cannot be reached). */
export const problemsAbout = (report: CheckReport, address: string): Array<string> =>
  report.problems
    .filter((p) => "address" in p && p.address === address && p._tag !== "OpenSlot")
    .map((p) => p.message)

/** Each view must list `replica` as a replica of `primaryId`. */
export const replicaProblems = (
  views: ReadonlyArray<Plan.NodeView>,
  replicas: ReadonlyArray<{ readonly id: string; readonly primaryId: string }>
): Array<string> => {
  const out: Array<string> = []
  for (const v of views) {
    if (v._tag !== "Answered") continue
    for (const r of replicas) {
      const entry = v.nodes.find((e) => e.id === r.id)
      if (entry === undefined || entry.role !== "replica" || entry.primaryId !== r.primaryId) {
        out.push(`${v.address} does not see ${r.id.slice(0, 8)} as a replica of ${r.primaryId.slice(0, 8)} yet`)
      }
    }
  }
  return out
}

