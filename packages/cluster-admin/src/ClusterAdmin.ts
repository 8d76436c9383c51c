/**
 * Cluster administration: the operations of `redis-cli --cluster` as Effects
 * with typed failures.
 *
 * - `create`: joins empty cluster-enabled servers into a cluster (slots split
 *   evenly over the primaries with `CLUSTER ADDSLOTSRANGE`, distinct config
 *   epochs, `CLUSTER MEET`, then `CLUSTER REPLICATE`) and waits until every
 *   node agrees and says `cluster_state:ok`.
 * - `check` / `checkOrFail`: reads `CLUSTER NODES` and `CLUSTER INFO` from
 *   every node reachable from one node and reports coverage, agreement on
 *   slot owners and membership, open (migrating/importing) slots, failed and
 *   unreachable nodes.
 * - `reshard`: moves N slots (or a list of slots) to a primary with the
 *   per-slot protocol of redis-cli (IMPORTING on the target, MIGRATING on the
 *   source, `GETKEYSINSLOT` + `MIGRATE ... KEYS` until the slot is empty, then
 *   `SETSLOT NODE` on the target, the source and every other primary). Clients
 *   that follow `ASK`/`MOVED` (this project's `Cluster` does) keep working
 *   during the move.
 * - `rebalance`: redis-cli's weighted balance plan, executed with the same
 *   per-slot moves.
 * - `addNode`: `CLUSTER MEET` of an empty node, optionally `CLUSTER REPLICATE`.
 * - `removeNode` (redis-cli's `del-node`): `CLUSTER FORGET` on every other
 *   node, then `CLUSTER RESET SOFT` on the removed node so it cannot gossip
 *   itself back. The removed node is **not** shut down: it keeps running as
 *   an empty, lone cluster-enabled server, for the caller to stop or reuse.
 *
 * Every operation opens its own short-lived connections (one per node, with
 * the credentials and TLS of `connection`) and closes them when it ends. Waits
 * for the cluster to converge poll with `Effect.sleep` on the `Clock` and are
 * bounded by `timeout`; running out fails with a `Timeout` reason that says
 * what was still wrong. Refused input (a node that is not empty, a primary
 * that still owns slots, an unknown node) fails with `InvalidArgument` before
 * anything changes; a cluster with problems fails with `ClusterCheckFailed`.
 *
 * **Not supported** (no entry point here): `fix`, `import`, `call`,
 * `set-timeout`, `backup`, `info` (use `check`'s report), redis-cli's
 * `--cluster-search-multiple-owners`, `--cluster-fix-with-unreachable-masters`,
 * `--cluster-only-masters` / `--cluster-only-replicas`, `--cluster-copy`
 * and cold migration (`--cluster-cold`), and removing a node that cannot be
 * reached (use `CLUSTER FORGET` by hand on every node).
 *
 * **Gotchas**
 *
 * - Addresses are `host:port` as the cluster announces them (normally IP
 *   addresses): `CLUSTER MEET` needs an IP, and nodes are matched against
 *   `CLUSTER NODES` by address. Nodes may also be named by their 40-character
 *   id where a member of the cluster is expected.
 * - A move that fails half way (a `MIGRATE` error, a `BUSYKEY` without
 *   `replace`, a lost connection) leaves that slot open (MIGRATING/IMPORTING):
 *   that is the safe state, where clients are redirected with `ASK` and no
 *   key is lost; `check` reports it and `redis-cli --cluster fix` closes it.
 * - `create` places replicas on another host than their primary when it can,
 *   but does not reorder primaries across hosts as redis-cli does: the first
 *   `nodes.length / (1 + replicasPerPrimary)` addresses become the primaries.
 *
 * @since 0.1.0
 */
import * as Cause from "effect/Cause"
import * as Clock from "effect/Clock"
import * as Context from "effect/Context"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as Redacted from "effect/Redacted"
import * as Schedule from "effect/Schedule"
import * as Scope from "effect/Scope"
import * as Addr from "@redis-effect/redis/Address"
import type { Command } from "@redis-effect/redis/Command"
import * as Cmd from "@redis-effect/redis/Command"
import * as Connection from "@redis-effect/redis/Connection"
import * as Plan from "./internal/plan.ts"
import * as RedisConfig from "@redis-effect/redis/RedisConfig"
import * as RedisError from "@redis-effect/redis/RedisError"
import type { Arg } from "@redis-effect/redis/Resp"
import { Transport } from "@redis-effect/redis/Transport"

// -----------------------------------------------------------------------------
// models
// -----------------------------------------------------------------------------

/**
 * One line of `CLUSTER NODES`, parsed.
 *
 * @category models
 * @since 0.1.0
 */
export type NodeEntry = Plan.NodeEntry

/**
 * One problem `check` found; `message` says it in a sentence.
 *
 * @category models
 * @since 0.1.0
 */
export type Problem = Plan.Problem

/**
 * A primary in a check report: its slot count and ranges, and its replicas.
 *
 * @category models
 * @since 0.1.0
 */
export type PrimaryReport = Plan.PrimaryReport

/**
 * What `check` found: the nodes as the starting node sees them (with each
 * node's own open slots merged in), the primaries with their slot counts and
 * replicas, how many slots are covered, and every problem.
 *
 * @category models
 * @since 0.1.0
 */
export type CheckReport = Plan.CheckReport

/**
 * `count` slots to move from one primary (`from`, a node id) to another.
 *
 * @category models
 * @since 0.1.0
 */
export type Transfer = Plan.Transfer

/**
 * One slot that moved, and how many keys went with it.
 *
 * @category models
 * @since 0.1.0
 */
export interface SlotMove {
  readonly slot: number
  /** Node id of the source primary. */
  readonly from: string
  /** Node id of the target primary. */
  readonly to: string
  readonly keys: number
}

/**
 * Connection settings used for every node (credentials, TLS, timeouts,
 * protocol). The endpoint is set per node; reconnects and the offline queue
 * are always off, so an unreachable node fails at once.
 *
 * @category models
 * @since 0.1.0
 */
export type ConnectionTemplate = Omit<
  RedisConfig.ClientOptions,
  "url" | "host" | "port" | "path" | "endpoint" | "database" | "offline" | "reconnect" | "readOnly"
>

/**
 * Options every operation takes.
 *
 * @category models
 * @since 0.1.0
 */
export interface AdminOptions {
  /** How to connect to every node. */
  readonly connection?: ConnectionTemplate | undefined
  /** Bound on each wait for the cluster to converge (default `defaultTimeout`). */
  readonly timeout?: Duration.Input | undefined
  /** How often a wait asks the nodes again (default `defaultPollInterval`). */
  readonly pollInterval?: Duration.Input | undefined
}

/**
 * How slots are moved, for `reshard` and `rebalance`.
 *
 * @category models
 * @since 0.1.0
 */
export interface MoveOptions {
  /** Keys per `CLUSTER GETKEYSINSLOT` / `MIGRATE` round (redis-cli's `--cluster-pipeline`, default 10). */
  readonly pipeline?: number | undefined
  /** `MIGRATE` timeout (redis-cli's `--cluster-timeout`, default 60 s). */
  readonly migrateTimeout?: Duration.Input | undefined
  /**
   * Overwrite keys that already exist on the target (`--cluster-replace`).
   * Without it, like redis-cli, a key present on both sides with the same
   * value (same `DUMP`) is replaced and one with a different value stops the
   * move with a `BUSYKEY` reply error.
   */
  readonly replace?: boolean | undefined
}

/**
 * @category models
 * @since 0.1.0
 */
export interface CreateOptions extends AdminOptions {
  /** Every node, `host:port`. The first `nodes.length / (1 + replicasPerPrimary)` become primaries. */
  readonly nodes: ReadonlyArray<string>
  /** Replicas per primary (default 0). Nodes left over become extra replicas. */
  readonly replicasPerPrimary?: number | undefined
}

/**
 * @category models
 * @since 0.1.0
 */
export interface CheckOptions extends AdminOptions {
  /** Fail with `ClusterCheckFailed` when the report lists problems (what `checkOrFail` does). */
  readonly failOnProblems?: boolean | undefined
}

/**
 * @category models
 * @since 0.1.0
 */
export interface ReshardOptions extends AdminOptions, MoveOptions {
  /** Any node of the cluster. */
  readonly node: string
  /** The primary that receives the slots (id or `host:port`). */
  readonly to: string
  /**
   * Where `slots: N` come from: `"all"` (default: every other primary, in
   * proportion to what it holds) or primaries by id or `host:port`. With a
   * list of slots, restricts which owners are accepted.
   */
  readonly from?: "all" | string | ReadonlyArray<string> | undefined
  /** How many slots to move, or exactly which ones. */
  readonly slots: number | ReadonlyArray<number>
}

/**
 * @category models
 * @since 0.1.0
 */
export interface ReshardResult {
  readonly moves: ReadonlyArray<SlotMove>
  /** Keys moved, in total. */
  readonly keys: number
}

/**
 * @category models
 * @since 0.1.0
 */
export interface RebalanceOptions extends AdminOptions, MoveOptions {
  /** Any node of the cluster. */
  readonly node: string
  /** Weights by node id or `host:port` (default 1; 0 drains a primary). */
  readonly weights?: Readonly<Record<string, number>> | undefined
  /** Percent off its target a primary may be before anything moves (default 2, like redis-cli). */
  readonly threshold?: number | undefined
  /** Give slots to primaries that hold none (`--cluster-use-empty-masters`). */
  readonly useEmptyPrimaries?: boolean | undefined
  /** Compute the plan without moving anything (`--cluster-simulate`). */
  readonly simulate?: boolean | undefined
}

/**
 * @category models
 * @since 0.1.0
 */
export interface RebalanceResult {
  /** Whether some primary was off its target by more than the threshold. */
  readonly needed: boolean
  /** The target slot count of every primary that took part, by node id. */
  readonly expected: ReadonlyMap<string, number>
  readonly transfers: ReadonlyArray<Transfer>
  /** Empty when nothing was needed or `simulate` was set. */
  readonly moves: ReadonlyArray<SlotMove>
}

/**
 * @category models
 * @since 0.1.0
 */
export interface AddNodeOptions extends AdminOptions {
  /** The new node, `host:port`: empty, cluster-enabled, in no cluster. */
  readonly node: string
  /** Any node of the cluster. */
  readonly existing: string
  /** Make the new node a replica of this primary (id or `host:port`); otherwise it joins as an empty primary. */
  readonly replicaOf?: string | undefined
}

/**
 * @category models
 * @since 0.1.0
 */
export interface AddedNode {
  readonly id: string
  readonly address: string
  readonly role: "primary" | "replica"
  /** The primary it replicates, for a replica. */
  readonly primaryId: string | undefined
}

/**
 * @category models
 * @since 0.1.0
 */
export interface RemoveNodeOptions extends AdminOptions {
  /** The node to remove (id or `host:port`): a replica, or a primary without slots. */
  readonly node: string
  /** Another node of the cluster. */
  readonly existing: string
}

/**
 * @category models
 * @since 0.1.0
 */
export interface RemovedNode {
  readonly id: string
  readonly address: string
  /** Replicas of a removed primary, moved to the primary with the fewest replicas (as redis-cli does). */
  readonly reassigned: ReadonlyArray<{ readonly id: string; readonly primaryId: string }>
}

// -----------------------------------------------------------------------------
// defaults
// -----------------------------------------------------------------------------

/**
 * How long an operation waits for the cluster to converge.
 *
 * @category defaults
 * @since 0.1.0
 */
export const defaultTimeout: Duration.Duration = Duration.seconds(60)

/**
 * @category defaults
 * @since 0.1.0
 */
export const defaultPollInterval: Duration.Duration = Duration.millis(100)

/**
 * Keys per `MIGRATE` (redis-cli's `CLUSTER_MANAGER_MIGRATE_PIPELINE`).
 *
 * @category defaults
 * @since 0.1.0
 */
export const defaultPipeline = 10

/**
 * redis-cli's `CLUSTER_MANAGER_MIGRATE_TIMEOUT`.
 *
 * @category defaults
 * @since 0.1.0
 */
export const defaultMigrateTimeout: Duration.Duration = Duration.seconds(60)

/**
 * Percent a primary may be off its target before `rebalance` moves anything
 * (redis-cli's `CLUSTER_MANAGER_REBALANCE_THRESHOLD`).
 *
 * @category defaults
 * @since 0.1.0
 */
export const defaultThreshold = 2

// -----------------------------------------------------------------------------
// pure helpers, public
// -----------------------------------------------------------------------------

/**
 * Parses a `CLUSTER NODES` reply (throws `Command.UnexpectedReply` on
 * malformed text).
 *
 * @category parsing
 * @since 0.1.0
 */
export const parseClusterNodes: (text: string) => Array<NodeEntry> = Plan.parseClusterNodes

/**
 * The slot ranges `create` gives `primaries` primaries (redis-cli's split).
 *
 * @category planning
 * @since 0.1.0
 */
export const splitSlots: (primaries: number) => Array<readonly [number, number]> = Plan.splitSlots

/**
 * redis-cli's rebalance plan for primaries with their slot counts and
 * weights, and a threshold in percent.
 *
 * @category planning
 * @since 0.1.0
 */
export const planRebalance = Plan.planRebalance

// -----------------------------------------------------------------------------
// internals: errors
// -----------------------------------------------------------------------------

const invalid = (op: string, message: string) => Effect.fail(RedisError.invalidArgument(`${op}: ${message}`))

const checkFailed = (op: string, report: CheckReport) =>
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
const atNode = (address: string) => (error: RedisError.RedisError): RedisError.RedisError => {
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
const explain = (address: string) => (error: RedisError.RedisError): RedisError.RedisError =>
  isReply(error, /cluster support disabled/i)
    ? RedisError.invalidArgument(`${address} is not cluster-enabled (start it with cluster-enabled yes)`)
    : atNode(address)(error)

const errorOf = (exit: Exit.Exit<unknown, RedisError.RedisError>): RedisError.RedisError | undefined => {
  if (Exit.isSuccess(exit)) return undefined
  const found = Cause.findErrorOption(exit.cause)
  return found._tag === "Some" ? found.value : undefined
}

const isReply = (error: RedisError.RedisError, pattern: RegExp): boolean =>
  error.reason._tag === "ReplyError" && pattern.test(`${error.reason.code} ${error.reason.message}`)

// -----------------------------------------------------------------------------
// internals: commands
// -----------------------------------------------------------------------------

const parseInfo = (text: string): Record<string, string> => {
  const out: Record<string, string> = {}
  for (const line of text.split(/\r?\n/)) {
    const colon = line.indexOf(":")
    if (colon > 0 && !line.startsWith("#")) out[line.slice(0, colon)] = line.slice(colon + 1).trim()
  }
  return out
}

const cluster = <A>(decode: Cmd.Decoder<A>, ...args: ReadonlyArray<Arg>): Command<A> =>
  Cmd.unsafeMake("CLUSTER", ["CLUSTER", ...args], [], Cmd.Flags.NO_KEYS, decode)

const clusterNodes = cluster((r) => Plan.parseClusterNodes(Cmd.Reply.string(r)), "NODES")
const clusterInfo = cluster((r) => parseInfo(Cmd.Reply.string(r)), "INFO")
const infoKeyspace = Cmd.unsafeMake("INFO", ["INFO", "keyspace"], [], Cmd.Flags.NO_KEYS, (r) => parseInfo(Cmd.Reply.string(r)))
const dbsize = Cmd.unsafeMake("DBSIZE", ["DBSIZE"], [], Cmd.Flags.NO_KEYS, Cmd.Reply.integer)
const asking = Cmd.unsafeMake("ASKING", ["ASKING"], [], Cmd.Flags.NO_KEYS, Cmd.Reply.ok)
const setslot = (slot: number, state: "IMPORTING" | "MIGRATING" | "NODE", id: string) =>
  cluster(Cmd.Reply.ok, "SETSLOT", slot, state, id)
const getKeysInSlot = (slot: number, count: number) =>
  Cmd.unsafeMake("CLUSTER", ["CLUSTER", "GETKEYSINSLOT", slot, count], [], Cmd.Flags.NO_KEYS, Cmd.Reply.array(Cmd.Reply.bytes), true)
const dump = (key: Uint8Array) =>
  Cmd.unsafeMake("DUMP", ["DUMP", key], [key], Cmd.Flags.READONLY, Cmd.Reply.optionalBytes, true)

const keyText = (key: Uint8Array) => new TextDecoder().decode(key)

// -----------------------------------------------------------------------------
// internals: addresses
// -----------------------------------------------------------------------------

type Address = Addr.Address

// Admin input is "host:port" only: no default port.
const parseAddress = (input: string): Address | undefined => Addr.parse(input)

const normalize = (input: string): string | undefined => {
  const a = parseAddress(input)
  return a === undefined ? undefined : Plan.formatAddress(a.host, a.port)
}

/** The address to dial for an entry; a node that has not learnt its own IP answers on the address we used. */
const addressOf = (entry: NodeEntry, fallback: string): string =>
  entry.host === "" ? fallback : Plan.formatAddress(entry.host, entry.port)

/** A member named by `host:port` or by id, in `nodes` as `seed` reports them. */
const findNode = (nodes: ReadonlyArray<NodeEntry>, ref: string, seed: string): NodeEntry | undefined => {
  const address = normalize(ref)
  if (address !== undefined) return nodes.find((e) => !Plan.isUnsettled(e) && addressOf(e, seed) === address)
  return nodes.find((e) => e.id === ref)
}

const describeNode = (entry: NodeEntry, seed: string) => `${addressOf(entry, seed)} (${entry.id.slice(0, 8)})`

// -----------------------------------------------------------------------------
// internals: a session of connections
// -----------------------------------------------------------------------------

interface Session {
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

const noReconnect = Schedule.recurs(0).pipe(Schedule.setInputType<RedisError.RedisError>())

/**
 * One connection per node, opened on first use and closed with the
 * operation's scope. No reconnect schedule and no offline queue: an
 * administrative step against a node that is down must fail, not wait.
 */
const openSession = (options: AdminOptions): Effect.Effect<Session, RedisError.RedisError, Scope.Scope | Transport> =>
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
const converge = (
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

interface Survey {
  readonly report: CheckReport
  readonly views: ReadonlyArray<Plan.NodeView>
}

const viewOf = (session: Session, address: string): Effect.Effect<Plan.NodeView> =>
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
const survey = (session: Session, seed: string): Effect.Effect<Survey, RedisError.RedisError> =>
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
const probeEmpty = (session: Session, op: string, address: string) =>
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
const replicate = (session: Session, address: string, primaryId: string) =>
  Effect.retry(session.send(address, cluster(Cmd.Reply.ok, "REPLICATE", primaryId)), {
    schedule: Schedule.spaced(session.poll),
    times: 50,
    while: (e) => isReply(e, /unknown node|not a master|only replicate a master/i)
  })

/** The problems of a report that concern one node (it disagrees, it is not `ok`, it cannot be reached). */
const problemsAbout = (report: CheckReport, address: string): Array<string> =>
  report.problems
    .filter((p) => "address" in p && p.address === address && p._tag !== "OpenSlot")
    .map((p) => p.message)

/** Each view must list `replica` as a replica of `primaryId`. */
const replicaProblems = (
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

// -----------------------------------------------------------------------------
// check
// -----------------------------------------------------------------------------

/**
 * Reads `CLUSTER NODES` and `CLUSTER INFO` from `node` and from every node it
 * lists, and reports what is wrong: slots no primary covers, nodes that
 * disagree with `node` about slot owners or members, open (migrating or
 * importing) slots, nodes flagged `fail` or `fail?`, nodes that do not say
 * `cluster_state:ok`, nodes that cannot be reached. Fails only when `node`
 * itself cannot be asked (or, with `failOnProblems`, when there are problems).
 *
 * @category operations
 * @since 0.1.0
 */
export const check = (
  node: string,
  options: CheckOptions = {}
): Effect.Effect<CheckReport, RedisError.RedisError, Transport> =>
  Effect.scoped(Effect.gen(function*() {
    const session = yield* openSession(options)
    const { report } = yield* survey(session, node)
    if (options.failOnProblems === true && !report.ok) return yield* checkFailed("check", report)
    return report
  }))

/**
 * `check`, failing with a `ClusterCheckFailed` reason (one sentence per
 * problem) when anything is wrong.
 *
 * @category operations
 * @since 0.1.0
 */
export const checkOrFail = (
  node: string,
  options: AdminOptions = {}
): Effect.Effect<CheckReport, RedisError.RedisError, Transport> => check(node, { ...options, failOnProblems: true })

// -----------------------------------------------------------------------------
// create
// -----------------------------------------------------------------------------

/**
 * Creates a cluster from empty, cluster-enabled servers, like `redis-cli
 * --cluster create ... --cluster-replicas R --cluster-yes`.
 *
 * Every node is checked first (cluster-enabled, knows no other node, serves
 * no slot, holds no key); nothing is changed unless all pass. Then the
 * primaries get `16384 / P` slots each (`CLUSTER ADDSLOTSRANGE`), every node
 * a distinct config epoch (`CLUSTER SET-CONFIG-EPOCH`, so no epoch collision
 * has to be resolved), every node meets the first (`CLUSTER MEET`); once
 * every node knows every other, the replicas `CLUSTER REPLICATE` their
 * primary. Returns the final check report, when every node agrees, every
 * replica is attached in every view and every node says `cluster_state:ok`;
 * fails with `Timeout` if that takes longer than `timeout`.
 *
 * @category operations
 * @since 0.1.0
 */
export const create = (options: CreateOptions): Effect.Effect<CheckReport, RedisError.RedisError, Transport> =>
  Effect.scoped(Effect.gen(function*() {
    const op = "create"
    const replicasPerPrimary = options.replicasPerPrimary ?? 0
    if (!Number.isInteger(replicasPerPrimary) || replicasPerPrimary < 0) {
      return yield* invalid(op, `replicasPerPrimary must be a non-negative integer, got ${replicasPerPrimary}`)
    }
    const addresses: Array<string> = []
    for (const n of options.nodes) {
      const a = normalize(n)
      if (a === undefined) return yield* invalid(op, `invalid node address ${JSON.stringify(n)} (want host:port)`)
      if (addresses.includes(a)) return yield* invalid(op, `${a} is listed twice`)
      addresses.push(a)
    }
    const primaryCount = Math.floor(addresses.length / (replicasPerPrimary + 1))
    if (primaryCount < 3) {
      return yield* invalid(
        op,
        `a cluster needs at least 3 primaries; ${addresses.length} nodes with ${replicasPerPrimary} replicas each make ${primaryCount}`
      )
    }
    const session = yield* openSession(options)

    // 1. Every node must be fit before anything changes anywhere.
    const selves = yield* Effect.forEach(addresses, (a) => probeEmpty(session, op, a), { concurrency: "unbounded" })
    const ids = selves.map((s) => s.id)
    const twice = ids.find((id, i) => ids.indexOf(id) !== i)
    if (twice !== undefined) {
      return yield* invalid(op, `two addresses reach the same node ${twice} (${addresses[ids.indexOf(twice)]})`)
    }

    // 2. Roles and slots.
    const primaries = addresses.slice(0, primaryCount)
    const replicaAddresses = addresses.slice(primaryCount)
    const hostOf = (a: string) => parseAddress(a)!.host
    const placement = Plan.placeReplicas(primaries.map(hostOf), replicaAddresses.map(hostOf))
    const ranges = Plan.splitSlots(primaryCount)
    yield* Effect.forEach(
      primaries,
      (a, i) => session.send(a, cluster(Cmd.Reply.ok, "ADDSLOTSRANGE", ranges[i]![0], ranges[i]![1])),
      { concurrency: "unbounded", discard: true }
    )
    yield* Effect.forEach(
      addresses,
      (a, i) => session.send(a, cluster(Cmd.Reply.ok, "SET-CONFIG-EPOCH", i + 1)),
      { concurrency: "unbounded", discard: true }
    )

    // 3. Everyone meets the first node; gossip does the rest.
    const first = parseAddress(addresses[0]!)!
    yield* Effect.forEach(
      addresses.slice(1),
      (a) => session.send(a, cluster(Cmd.Reply.ok, "MEET", first.host, first.port, selves[0]!.busPort)),
      { concurrency: "unbounded", discard: true }
    )
    yield* converge(
      session,
      `${op}: joining ${addresses.length} nodes`,
      Effect.map(
        Effect.forEach(addresses, (a) => session.send(a, clusterNodes), { concurrency: "unbounded" }),
        (views) =>
          views.flatMap((nodes, i) => {
            const settled = new Set(nodes.filter((e) => !Plan.isUnsettled(e)).map((e) => e.id))
            const missing = ids.filter((id) => !settled.has(id))
            return missing.length === 0 ? [] : [`${addresses[i]} does not know ${missing.length} node(s) yet`]
          })
      )
    )

    // 4. Replicas, once they know their primary.
    const replicas = replicaAddresses.map((a, j) => ({
      address: a,
      id: ids[primaryCount + j]!,
      primaryId: ids[placement[j]!]!
    }))
    yield* Effect.forEach(replicas, (r) => replicate(session, r.address, r.primaryId), {
      concurrency: "unbounded",
      discard: true
    })

    // 5. Consistent everywhere.
    let final: CheckReport | undefined
    yield* converge(
      session,
      op,
      Effect.map(survey(session, addresses[0]!), ({ report, views }) => {
        final = report
        const problems = [...report.problems.map((p) => p.message), ...replicaProblems(views, replicas)]
        const members = new Set(report.nodes.map((e) => e.id))
        for (const id of ids) if (!members.has(id)) problems.push(`${addresses[0]} does not list ${id}`)
        return problems
      })
    )
    return final!
  }))

// -----------------------------------------------------------------------------
// moving slots
// -----------------------------------------------------------------------------

interface MoveContext {
  readonly session: Session
  readonly seed: string
  readonly op: string
  /** Every primary in the cluster (they all hear `SETSLOT NODE`). */
  readonly primaries: ReadonlyArray<NodeEntry>
  readonly pipeline: number
  readonly migrateTimeoutMs: number
  readonly replace: boolean
  readonly auth: ReadonlyArray<string>
}

const moveContext = (
  session: Session,
  seed: string,
  op: string,
  report: CheckReport,
  options: MoveOptions
): Effect.Effect<MoveContext, RedisError.RedisError> =>
  Effect.gen(function*() {
    const pipeline = options.pipeline ?? defaultPipeline
    if (!Number.isInteger(pipeline) || pipeline < 1) return yield* invalid(op, `pipeline must be a positive integer, got ${pipeline}`)
    return {
      session,
      seed,
      op,
      primaries: report.nodes.filter((e) => e.role === "primary" && Plan.failureFlag(e) === undefined),
      pipeline,
      migrateTimeoutMs: Duration.toMillis(Duration.fromInputUnsafe(options.migrateTimeout ?? defaultMigrateTimeout)),
      replace: options.replace === true,
      auth: yield* session.migrateAuth
    }
  })

/** A source that has just given away its last slot may have turned into a replica (cluster-allow-replica-migration). */
const unlessReplica = (effect: Effect.Effect<void, RedisError.RedisError>) =>
  Effect.catch(effect, (e) => (isReply(e, /only with masters|I'm a replica/i) ? Effect.void : Effect.fail(e)))

const migrate = (ctx: MoveContext, source: string, target: NodeEntry, keys: ReadonlyArray<Uint8Array>, replace: boolean) =>
  ctx.session.send(
    source,
    Cmd.unsafeMake(
      "MIGRATE",
      [
        "MIGRATE",
        target.host,
        target.port,
        "",
        0,
        ctx.migrateTimeoutMs,
        ...(replace ? ["REPLACE"] : []),
        ...ctx.auth,
        "KEYS",
        ...keys
      ],
      [],
      Cmd.Flags.WRITE | Cmd.Flags.NO_KEYS,
      Cmd.Reply.string
    )
  )

/**
 * `BUSYKEY` without `replace`, as redis-cli handles it: keys whose value is
 * the same on both sides (same `DUMP` payload; the target is read with
 * `ASKING`, since it is importing the slot) are migrated again with
 * `REPLACE`; any key with a different value stops the move.
 */
const resolveBusyKeys = (
  ctx: MoveContext,
  source: string,
  target: NodeEntry,
  keys: ReadonlyArray<Uint8Array>,
  slot: number,
  busy: RedisError.RedisError
) =>
  Effect.gen(function*() {
    const targetAddress = addressOf(target, ctx.seed)
    const here = yield* ctx.session.sendAll(source, keys.map(dump))
    const left: Array<{ key: Uint8Array; payload: Uint8Array }> = []
    for (let i = 0; i < keys.length; i++) {
      const exit = here[i]!
      if (Exit.isFailure(exit)) return yield* Effect.fail(errorOf(exit) ?? busy)
      const payload = exit.value as Option.Option<Uint8Array>
      if (Option.isSome(payload)) left.push({ key: keys[i]!, payload: payload.value })
    }
    const there = yield* ctx.session.sendAll(targetAddress, left.flatMap(({ key }) => [asking, dump(key)]))
    const differing: Array<string> = []
    for (let i = 0; i < left.length; i++) {
      const exit = there[2 * i + 1]!
      if (Exit.isFailure(exit)) return yield* Effect.fail(errorOf(exit) ?? busy)
      const payload = exit.value as Option.Option<Uint8Array>
      const same = Option.isSome(payload) && payload.value.length === left[i]!.payload.length &&
        payload.value.every((b, j) => b === left[i]!.payload[j])
      if (!same) differing.push(keyText(left[i]!.key))
    }
    if (differing.length > 0) {
      return yield* Effect.fail(RedisError.make(
        new RedisError.ReplyError({
          code: "BUSYKEY",
          message: `${ctx.op}: BUSYKEY in slot ${slot}: ${differing.length} key(s) exist on both ${source} and ${targetAddress} with different values (${
            differing.slice(0, 5).map((k) => JSON.stringify(k)).join(", ")
          }${differing.length > 5 ? ", ..." : ""}); fix them by hand or pass replace: true to overwrite the target's. The slot stays open.`
        }),
        "Rejected",
        "MIGRATE"
      ))
    }
    if (left.length > 0) {
      yield* migrate(ctx, source, target, left.map((l) => l.key), true)
    }
  })

const migrateKeys = (ctx: MoveContext, source: string, target: NodeEntry, slot: number) =>
  Effect.gen(function*() {
    let moved = 0
    while (true) {
      const keys = yield* ctx.session.send(source, getKeysInSlot(slot, ctx.pipeline))
      if (keys.length === 0) return moved
      const exit = yield* Effect.exit(migrate(ctx, source, target, keys, ctx.replace))
      const error = errorOf(exit)
      if (error !== undefined) {
        // The source relays the target's refusal: "ERR Target instance replied with error: BUSYKEY ...".
        if (!isReply(error, /BUSYKEY/)) return yield* Effect.fail(error)
        yield* resolveBusyKeys(ctx, source, target, keys, slot, error)
      } else if (Exit.isFailure(exit)) {
        return yield* Effect.failCause(exit.cause)
      }
      moved += keys.length
    }
  })

/**
 * One slot, in redis-cli's order. The target learns first that it imports
 * the slot, so a client sent there by `ASK` is served; then the source
 * starts answering `ASK` for missing keys; keys move in batches; then the
 * target takes the slot (bumping its epoch), then the source, then every
 * other primary (at once), so that no one depends on gossip to send
 * `MOVED`. The source hears it only after the target owns the slot: it
 * then answers `MOVED` to the target, never to a node that refuses it.
 */
const moveSlot = (ctx: MoveContext, slot: number, source: NodeEntry, target: NodeEntry) =>
  Effect.gen(function*() {
    const sourceAddress = addressOf(source, ctx.seed)
    const targetAddress = addressOf(target, ctx.seed)
    yield* ctx.session.send(targetAddress, setslot(slot, "IMPORTING", source.id))
    yield* ctx.session.send(sourceAddress, setslot(slot, "MIGRATING", target.id))
    const keys = yield* migrateKeys(ctx, sourceAddress, target, slot)
    yield* ctx.session.send(targetAddress, setslot(slot, "NODE", target.id))
    yield* unlessReplica(ctx.session.send(sourceAddress, setslot(slot, "NODE", target.id)))
    yield* Effect.forEach(
      ctx.primaries.filter((p) => p.id !== source.id && p.id !== target.id),
      (p) => unlessReplica(ctx.session.send(addressOf(p, ctx.seed), setslot(slot, "NODE", target.id))),
      { concurrency: "unbounded", discard: true }
    )
    return { slot, from: source.id, to: target.id, keys } satisfies SlotMove
  })

/** After moves: every node agrees again and the target owns every slot it received. */
const awaitMoved = (ctx: MoveContext, moves: ReadonlyArray<SlotMove>) =>
  converge(
    ctx.session,
    `${ctx.op}: settling ${moves.length} moved slots`,
    Effect.map(survey(ctx.session, ctx.seed), ({ report }) => {
      const problems = report.problems.map((p) => p.message)
      const owned = new Map<string, Set<number>>()
      for (const n of report.nodes) owned.set(n.id, new Set(Plan.expandRanges(n.slots)))
      const wrong = moves.filter((m) => !owned.get(m.to)?.has(m.slot))
      if (wrong.length > 0) problems.push(`${wrong.length} moved slots are not owned by their target yet in ${ctx.seed}'s view`)
      return problems
    })
  )

const primaryNamed = (
  op: string,
  report: CheckReport,
  ref: string,
  what: string
): Effect.Effect<NodeEntry, RedisError.RedisError> => {
  const entry = findNode(report.nodes, ref, report.seed)
  if (entry === undefined) {
    return invalid(op, `${what} ${ref} is not a node of the cluster (known: ${report.nodes.map((e) => describeNode(e, report.seed)).join(", ")})`)
  }
  if (entry.role !== "primary") return invalid(op, `${what} ${describeNode(entry, report.seed)} is not a primary`)
  return Effect.succeed(entry)
}

// -----------------------------------------------------------------------------
// reshard
// -----------------------------------------------------------------------------

/**
 * Moves slots to the primary `to`, like `redis-cli --cluster reshard
 * --cluster-from ... --cluster-to ... --cluster-slots N --cluster-yes`.
 *
 * The cluster is checked first and must have no problem (as redis-cli
 * refuses to reshard a cluster with open slots or disagreements). `slots: N`
 * takes N slots from the sources in proportion to what each holds, lowest
 * slot numbers first; a list moves exactly those slots from their owners.
 * Slots move one at a time with the per-slot protocol described in the
 * module comment; keys go `pipeline` at a time with `MIGRATE ... KEYS`
 * (with `AUTH`/`AUTH2` when the connection template has a password). Returns
 * once every node agrees on the new owners.
 *
 * @category operations
 * @since 0.1.0
 */
export const reshard = (options: ReshardOptions): Effect.Effect<ReshardResult, RedisError.RedisError, Transport> =>
  Effect.scoped(Effect.gen(function*() {
    const op = "reshard"
    const session = yield* openSession(options)
    const { report } = yield* survey(session, options.node)
    if (!report.ok) return yield* checkFailed(op, report)
    const target = yield* primaryNamed(op, report, options.to, "target")
    const seed = report.seed
    const fromRefs = options.from === undefined || options.from === "all"
      ? undefined
      : typeof options.from === "string"
      ? [options.from]
      : options.from
    const sources: Array<NodeEntry> = []
    if (fromRefs !== undefined) {
      for (const ref of fromRefs) {
        const s = yield* primaryNamed(op, report, ref, "source")
        if (s.id === target.id) return yield* invalid(op, `${describeNode(s, seed)} is both source and target`)
        sources.push(s)
      }
    }
    const byId = new Map(report.nodes.map((e) => [e.id, e] as const))
    let table: Array<{ readonly slot: number; readonly from: string }>
    if (typeof options.slots === "number") {
      const count = options.slots
      if (!Number.isInteger(count) || count < 1) return yield* invalid(op, `slots must be a positive integer, got ${count}`)
      const pool = (fromRefs === undefined
        ? report.nodes.filter((e) => e.role === "primary" && e.id !== target.id)
        : sources).map((e) => ({ id: e.id, slots: Plan.expandRanges(e.slots) }))
      const available = pool.reduce((n, p) => n + p.slots.length, 0)
      if (available < count) return yield* invalid(op, `the sources hold ${available} slots; cannot move ${count}`)
      table = Plan.reshardTable(pool, count)
    } else {
      const owner = new Map<number, string>()
      for (const e of report.nodes) if (e.role === "primary") for (const s of Plan.expandRanges(e.slots)) owner.set(s, e.id)
      table = []
      for (const slot of options.slots) {
        if (!Number.isInteger(slot) || slot < 0 || slot >= Plan.SLOTS) return yield* invalid(op, `invalid slot ${slot}`)
        if (table.some((t) => t.slot === slot)) return yield* invalid(op, `slot ${slot} is listed twice`)
        const from = owner.get(slot)!
        if (from === target.id) return yield* invalid(op, `slot ${slot} is already served by the target`)
        if (fromRefs !== undefined && !sources.some((s) => s.id === from)) {
          return yield* invalid(op, `slot ${slot} is served by ${describeNode(byId.get(from)!, seed)}, which is not among the sources`)
        }
        table.push({ slot, from })
      }
      if (table.length === 0) return yield* invalid(op, "no slots to move")
    }
    const ctx = yield* moveContext(session, seed, op, report, options)
    const moves: Array<SlotMove> = []
    for (const { slot, from } of table) moves.push(yield* moveSlot(ctx, slot, byId.get(from)!, target))
    yield* awaitMoved(ctx, moves)
    return { moves, keys: moves.reduce((n, m) => n + m.keys, 0) }
  }))

// -----------------------------------------------------------------------------
// rebalance
// -----------------------------------------------------------------------------

/**
 * Evens out the slots over the primaries by weight, like `redis-cli
 * --cluster rebalance`: the cluster must pass the check; every primary that
 * holds slots (and, with `useEmptyPrimaries`, every empty one) gets the
 * target `floor(16384 / totalWeight * weight)`; if any is off its target by
 * more than `threshold` percent, the most over-full primaries give to the
 * most under-full ones (lowest slot numbers first), slot by slot with
 * `reshard`'s protocol. A weight of 0 drains a primary.
 *
 * @category operations
 * @since 0.1.0
 */
export const rebalance = (options: RebalanceOptions): Effect.Effect<RebalanceResult, RedisError.RedisError, Transport> =>
  Effect.scoped(Effect.gen(function*() {
    const op = "rebalance"
    const threshold = options.threshold ?? defaultThreshold
    if (!(threshold >= 0)) return yield* invalid(op, `threshold must be a non-negative number, got ${threshold}`)
    const session = yield* openSession(options)
    const { report } = yield* survey(session, options.node)
    if (!report.ok) return yield* checkFailed(op, report)
    const seed = report.seed
    const primaries = report.nodes.filter((e) => e.role === "primary")
    const weights = new Map<string, number>()
    for (const [ref, weight] of Object.entries(options.weights ?? {})) {
      const p = yield* primaryNamed(op, report, ref, "weighted node")
      if (!Number.isFinite(weight) || weight < 0) return yield* invalid(op, `the weight of ${ref} must be a non-negative number`)
      weights.set(p.id, weight)
    }
    const involved = primaries
      .filter((p) => options.useEmptyPrimaries === true || Plan.countSlots(p.slots) > 0)
      .map((p) => ({ id: p.id, slots: Plan.countSlots(p.slots), weight: weights.get(p.id) ?? 1 }))
    const plan = Plan.planRebalance(involved, threshold)
    if (!plan.needed || options.simulate === true) {
      return { needed: plan.needed, expected: plan.expected, transfers: plan.transfers, moves: [] }
    }
    const ctx = yield* moveContext(session, seed, op, report, options)
    const byId = new Map(report.nodes.map((e) => [e.id, e] as const))
    // What each primary holds as the moves go on (lowest first, as redis-cli takes them).
    const holding = new Map(primaries.map((p) => [p.id, Plan.expandRanges(p.slots)] as const))
    const moves: Array<SlotMove> = []
    for (const transfer of plan.transfers) {
      const given = holding.get(transfer.from)!.splice(0, transfer.count)
      for (const slot of given) {
        moves.push(yield* moveSlot(ctx, slot, byId.get(transfer.from)!, byId.get(transfer.to)!))
        holding.get(transfer.to)!.push(slot)
      }
      holding.get(transfer.to)!.sort((a, b) => a - b)
    }
    yield* awaitMoved(ctx, moves)
    return { needed: true, expected: plan.expected, transfers: plan.transfers, moves }
  }))

// -----------------------------------------------------------------------------
// membership
// -----------------------------------------------------------------------------

/**
 * Adds an empty node to the cluster, like `redis-cli --cluster add-node`
 * (with `--cluster-slave --cluster-master-id` when `replicaOf` is set).
 *
 * The new node must be cluster-enabled, know no other node, serve no slot
 * and hold no key. It meets `existing`; once every member lists it (and it
 * lists every member), it replicates `replicaOf` if set, and the operation
 * waits until every member sees it in that role. A node joining as a
 * primary has no slots: give it some with `reshard` or `rebalance` with
 * `useEmptyPrimaries`.
 *
 * @category operations
 * @since 0.1.0
 */
export const addNode = (options: AddNodeOptions): Effect.Effect<AddedNode, RedisError.RedisError, Transport> =>
  Effect.scoped(Effect.gen(function*() {
    const op = "addNode"
    const address = normalize(options.node)
    if (address === undefined) return yield* invalid(op, `invalid node address ${JSON.stringify(options.node)} (want host:port)`)
    const session = yield* openSession(options)
    const members = yield* session.send(options.existing, clusterNodes)
    const self = yield* probeEmpty(session, op, address)
    if (members.some((e) => e.id === self.id)) return yield* invalid(op, `${address} (${self.id}) is already a member`)
    const seedSelf = members.find((e) => e.myself)!
    let primary: NodeEntry | undefined
    if (options.replicaOf !== undefined) {
      primary = findNode(members, options.replicaOf, options.existing)
      if (primary === undefined) return yield* invalid(op, `replicaOf ${options.replicaOf} is not a node of the cluster`)
      if (primary.role !== "primary" || Plan.failureFlag(primary) === "fail") {
        return yield* invalid(op, `replicaOf ${describeNode(primary, options.existing)} is not a live primary`)
      }
    }
    const seed = parseAddress(addressOf(seedSelf, options.existing))!
    yield* session.send(address, cluster(Cmd.Reply.ok, "MEET", seed.host, seed.port, seedSelf.busPort))

    const live = members.filter((e) => !Plan.isUnsettled(e) && Plan.failureFlag(e) !== "fail")
    const everyone = [...live.map((e) => addressOf(e, options.existing)), address]
    const ids = [...live.map((e) => e.id), self.id]
    yield* converge(
      session,
      `${op}: ${address} joining`,
      Effect.map(Effect.forEach(everyone, (a) => session.send(a, clusterNodes), { concurrency: "unbounded" }), (views) =>
        views.flatMap((nodes, i) => {
          const settled = new Set(nodes.filter((e) => !Plan.isUnsettled(e)).map((e) => e.id))
          const missing = ids.filter((id) => !settled.has(id))
          return missing.length === 0 ? [] : [`${everyone[i]} does not know ${missing.length} node(s) yet`]
        }))
    )
    if (primary !== undefined) yield* replicate(session, address, primary.id)
    // Known is not enough: the new node must also agree on every slot owner
    // and say cluster_state:ok (a fresh node waits a moment before it does),
    // and, as a replica, be seen as one by everyone.
    const wanted = primary === undefined ? [] : [{ id: self.id, primaryId: primary.id }]
    yield* converge(
      session,
      `${op}: ${address} settling`,
      Effect.map(
        survey(session, options.existing),
        ({ report, views }) => [...problemsAbout(report, address), ...replicaProblems(views, wanted)]
      )
    )
    const added: AddedNode = {
      id: self.id,
      address,
      role: primary === undefined ? "primary" : "replica",
      primaryId: primary?.id
    }
    return added
  }))

/**
 * Removes a node from the cluster, like `redis-cli --cluster del-node`.
 *
 * Refused (before anything changes) for a primary that still owns slots or
 * holds keys, for an unknown node, and for `existing` itself. Replicas of a
 * removed primary are first moved to the primary with the fewest replicas.
 * Then every other member runs `CLUSTER FORGET` (which also bans the id for
 * 60 s, so gossip cannot bring it back meanwhile), and the removed node runs
 * `CLUSTER RESET SOFT`, so it forgets the cluster and cannot gossip itself
 * back in after the ban. The node is **not** shut down: it keeps running as
 * an empty, lone cluster-enabled server. The node must be reachable.
 *
 * @category operations
 * @since 0.1.0
 */
export const removeNode = (options: RemoveNodeOptions): Effect.Effect<RemovedNode, RedisError.RedisError, Transport> =>
  Effect.scoped(Effect.gen(function*() {
    const op = "removeNode"
    const session = yield* openSession(options)
    const seed = options.existing
    const members = yield* session.send(seed, clusterNodes)
    const victim = findNode(members, options.node, seed)
    if (victim === undefined) {
      return yield* invalid(op, `${options.node} is not a node of the cluster that ${seed} belongs to`)
    }
    if (victim.myself) return yield* invalid(op, `${options.node} is the node given as existing; name another member`)
    const address = addressOf(victim, seed)
    const owned = Plan.countSlots(victim.slots)
    if (victim.role === "primary" && owned > 0) {
      return yield* invalid(op, `${describeNode(victim, seed)} is a primary that still owns ${owned} slots; reshard them away first`)
    }
    // Reach the node (and make sure it is the node named) before touching anyone.
    const itsId = yield* session.send(address, cluster(Cmd.Reply.string, "MYID"))
    if (itsId !== victim.id) return yield* invalid(op, `${address} is node ${itsId}, not ${victim.id}`)
    if (victim.role === "primary") {
      const keys = yield* session.send(address, dbsize)
      if (keys > 0) return yield* invalid(op, `${describeNode(victim, seed)} owns no slot but holds ${keys} keys; refusing to reset it`)
    }

    // Orphaned replicas go to the primary (with slots) that has the fewest.
    const live = members.filter((e) => !Plan.isUnsettled(e) && Plan.failureFlag(e) !== "fail" && e.id !== victim.id)
    const candidates = live.filter((e) => e.role === "primary" && Plan.countSlots(e.slots) > 0)
    const replicaCount = new Map(candidates.map((p) => [p.id, live.filter((r) => r.primaryId === p.id).length] as const))
    const reassigned: Array<{ id: string; primaryId: string }> = []
    for (const orphan of live.filter((e) => e.role === "replica" && e.primaryId === victim.id)) {
      const best = [...replicaCount.entries()].sort((a, b) => a[1] - b[1])[0]
      if (best === undefined) return yield* invalid(op, `no primary with slots left to take over the replicas of ${describeNode(victim, seed)}`)
      yield* replicate(session, addressOf(orphan, seed), best[0])
      replicaCount.set(best[0], best[1] + 1)
      reassigned.push({ id: orphan.id, primaryId: best[0] })
    }

    // FORGET everywhere at once (the 60 s ban starts now), then RESET the node.
    yield* Effect.forEach(
      live,
      (e) =>
        Effect.catch(
          session.send(addressOf(e, seed), cluster(Cmd.Reply.ok, "FORGET", victim.id)),
          (error) => (isReply(error, /unknown node/i) ? Effect.void : Effect.fail(error))
        ),
      { concurrency: "unbounded", discard: true }
    )
    yield* session.send(address, cluster(Cmd.Reply.ok, "RESET", "SOFT"))

    yield* converge(
      session,
      `${op}: forgetting ${address}`,
      Effect.gen(function*() {
        const problems: Array<string> = []
        const views = yield* Effect.forEach(live, (e) => session.send(addressOf(e, seed), clusterNodes), {
          concurrency: "unbounded"
        })
        views.forEach((nodes, i) => {
          if (nodes.some((n) => n.id === victim.id)) problems.push(`${addressOf(live[i]!, seed)} still lists ${victim.id.slice(0, 8)}`)
        })
        const info = yield* session.send(address, clusterInfo)
        if (info.cluster_known_nodes !== "1") problems.push(`${address} still knows ${info.cluster_known_nodes} nodes`)
        if (reassigned.length > 0) {
          const all = yield* Effect.forEach(live, (e) => viewOf(session, addressOf(e, seed)), { concurrency: "unbounded" })
          problems.push(...replicaProblems(all, reassigned))
        }
        return problems
      })
    )
    return { id: victim.id, address, reassigned }
  }))

// -----------------------------------------------------------------------------
// service
// -----------------------------------------------------------------------------

/**
 * The operations with a connection template (and waits) bound once.
 *
 * @category models
 * @since 0.1.0
 */
export interface ClusterAdminShape {
  readonly create: (options: CreateOptions) => Effect.Effect<CheckReport, RedisError.RedisError>
  readonly check: (node: string, options?: CheckOptions) => Effect.Effect<CheckReport, RedisError.RedisError>
  readonly checkOrFail: (node: string, options?: AdminOptions) => Effect.Effect<CheckReport, RedisError.RedisError>
  readonly reshard: (options: ReshardOptions) => Effect.Effect<ReshardResult, RedisError.RedisError>
  readonly rebalance: (options: RebalanceOptions) => Effect.Effect<RebalanceResult, RedisError.RedisError>
  readonly addNode: (options: AddNodeOptions) => Effect.Effect<AddedNode, RedisError.RedisError>
  readonly removeNode: (options: RemoveNodeOptions) => Effect.Effect<RemovedNode, RedisError.RedisError>
}

/**
 * The ClusterAdmin service tag.
 *
 * @category services
 * @since 0.1.0
 */
export class ClusterAdmin extends Context.Service<ClusterAdmin, ClusterAdminShape>()("@redis-effect/redis/ClusterAdmin") {}

/**
 * Binds `defaults` (connection template, timeout, poll interval) and the
 * `Transport`; each call may still override them.
 *
 * @category constructors
 * @since 0.1.0
 */
export const make = (defaults: AdminOptions = {}): Effect.Effect<ClusterAdminShape, never, Transport> =>
  Effect.map(Effect.service(Transport), (transport) => {
    const run = <A>(effect: Effect.Effect<A, RedisError.RedisError, Transport>) =>
      Effect.provideService(effect, Transport, transport)
    // Per-call options win over the bound defaults.
    const withDefaults = <O extends AdminOptions>(o: O): O => ({ ...defaults, ...o })
    return ClusterAdmin.of({
      create: (o) => run(create(withDefaults(o))),
      check: (node, o) => run(check(node, withDefaults(o ?? {}))),
      checkOrFail: (node, o) => run(checkOrFail(node, withDefaults(o ?? {}))),
      reshard: (o) => run(reshard(withDefaults(o))),
      rebalance: (o) => run(rebalance(withDefaults(o))),
      addNode: (o) => run(addNode(withDefaults(o))),
      removeNode: (o) => run(removeNode(withDefaults(o)))
    })
  })

/**
 * A layer providing `ClusterAdmin` with `defaults` bound.
 *
 * @category layers
 * @since 0.1.0
 */
export const layer = (defaults: AdminOptions = {}): Layer.Layer<ClusterAdmin, never, Transport> =>
  Layer.effect(ClusterAdmin)(make(defaults))
