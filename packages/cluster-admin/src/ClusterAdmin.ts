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
 * - `info`, `call`, `setTimeout`: keys/slots/replicas per primary; one
 *   command on every node; `cluster-node-timeout` everywhere (with `CONFIG
 *   REWRITE`).
 * - `fix`: closes open slots (finishing or rolling back a half-done
 *   migration as redis-cli decides), covers uncovered slots and, on request,
 *   slots with several owners.
 * - `importKeys` (redis-cli's `import`): the keys of a standalone server
 *   into the cluster, batched `MIGRATE ... KEYS` per owning primary, with
 *   `copy` (`--cluster-copy`) and `replace` (`--cluster-replace`).
 * - `backup`: every primary's RDB (over the replication protocol, like
 *   `redis-cli --rdb`) and `nodes.json` into a folder.
 * - `progress`: any operation taking `onProgress` as a `Stream`.
 *
 * **Not supported** (no entry point here): cold migration (`--cluster-cold`).
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
import * as Context from "effect/Context"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import type * as Stream from "effect/Stream"
import type * as RedisConfig from "@redis-effect/redis/RedisConfig"
import * as Cmd from "@redis-effect/redis/Command"
import * as RedisError from "@redis-effect/redis/RedisError"
import { Transport } from "@redis-effect/redis/Transport"
import {
  awaitMoved,
  moveContext,
  moveSlot,
  primaryNamed,
} from "./internal/move.ts"
import * as Backup from "./internal/backup.ts"
import * as Import from "./internal/importKeys.ts"
import * as Inspect from "./internal/inspect.ts"
import * as Plan from "./internal/plan.ts"
import * as Repair from "./internal/repair.ts"
import * as ProgressModule from "./internal/progress.ts"
import * as S from "./internal/session.ts"
import {
  addressOf,
  checkFailed,
  cluster,
  clusterInfo,
  clusterNodes,
  converge,
  dbsize,
  describeNode,
  findNode,
  invalid,
  isReply,
  normalize,
  openSession,
  parseAddress,
  probeEmpty,
  problemsAbout,
  replicaProblems,
  replicate,
  survey,
  viewOf,
} from "./internal/session.ts"

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
  /** Called after each batch of keys and each slot moved (see `progress` for a `Stream`). */
  readonly onProgress?: OnProgress | undefined
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
  /**
   * Join as a replica of the primary (holding slots) with the fewest replicas
   * when `replicaOf` is not given (redis-cli's `--cluster-slave` without
   * `--cluster-master-id`).
   */
  readonly asReplica?: boolean | undefined
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
  /** Shut the removed node down (`SHUTDOWN NOSAVE`) once it has left; ignored for an unreachable node. */
  readonly shutdown?: boolean | undefined
}

/**
 * @category models
 * @since 0.1.0
 */
export interface RemovedNode {
  readonly id: string
  readonly address: string
  /** The node could not be reached: it was only forgotten (no `CLUSTER RESET`, no shutdown). */
  readonly unreachable: boolean
  /** Replicas of a removed primary, moved to the primary with the fewest replicas (as redis-cli does). */
  readonly reassigned: ReadonlyArray<{ readonly id: string; readonly primaryId: string }>
}

/**
 * Progress of long work: `done` of `total` units (slots, keys or nodes),
 * keys moved so far, rates since the start, and what is happening now.
 *
 * @category models
 * @since 0.1.0
 */
export type Progress = ProgressModule.Progress

/**
 * A progress callback, for the operations that take `onProgress`.
 *
 * @category models
 * @since 0.1.0
 */
export type OnProgress = ProgressModule.OnProgress

/**
 * The last event of a `progress` stream: the operation's result.
 *
 * @category models
 * @since 0.1.0
 */
export type Done<A> = ProgressModule.Done<A>

// -----------------------------------------------------------------------------
// defaults
// -----------------------------------------------------------------------------

/**
 * How long an operation waits for the cluster to converge.
 *
 * @category defaults
 * @since 0.1.0
 */
export const defaultTimeout: Duration.Duration = S.defaultTimeout

/**
 * @category defaults
 * @since 0.1.0
 */
export const defaultPollInterval: Duration.Duration = S.defaultPollInterval

/**
 * Keys per `MIGRATE` (redis-cli's `CLUSTER_MANAGER_MIGRATE_PIPELINE`).
 *
 * @category defaults
 * @since 0.1.0
 */
export const defaultPipeline: number = S.defaultPipeline

/**
 * redis-cli's `CLUSTER_MANAGER_MIGRATE_TIMEOUT`.
 *
 * @category defaults
 * @since 0.1.0
 */
export const defaultMigrateTimeout: Duration.Duration = S.defaultMigrateTimeout

/**
 * Percent a primary may be off its target before `rebalance` moves anything
 * (redis-cli's `CLUSTER_MANAGER_REBALANCE_THRESHOLD`).
 *
 * @category defaults
 * @since 0.1.0
 */
export const defaultThreshold: number = S.defaultThreshold

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

/**
 * Runs an operation that takes `onProgress` as a `Stream` of its progress
 * events, ending with `Done` and the result (failing with its error):
 * `ClusterAdmin.progress((onProgress) => ClusterAdmin.reshard({ ...options, onProgress }))`.
 * A slow consumer sees fewer intermediate events, never a slower operation.
 *
 * @category progress
 * @since 0.1.0
 */
export const progress: <A, E, R>(
  run: (onProgress: OnProgress) => Effect.Effect<A, E, R>
) => Stream.Stream<Progress | Done<A>, E, R> = ProgressModule.stream

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
    const ctx = yield* moveContext(session, seed, op, report, options, table.length)
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
    const ctx = yield* moveContext(session, seed, op, report, options, plan.transfers.reduce((n, t) => n + t.count, 0))
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
    } else if (options.asReplica === true) {
      primary = fewestReplicas(members)
      if (primary === undefined) return yield* invalid(op, "no live primary with slots to replicate")
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

/** The live primary holding slots with the fewest replicas (ties: the first listed). */
const fewestReplicas = (members: ReadonlyArray<NodeEntry>): NodeEntry | undefined => {
  const live = members.filter((e) => !Plan.isUnsettled(e) && Plan.failureFlag(e) === undefined)
  let best: NodeEntry | undefined
  let bestCount = Infinity
  for (const p of live) {
    if (p.role !== "primary" || Plan.countSlots(p.slots) === 0) continue
    const count = live.filter((r) => r.primaryId === p.id).length
    if (count < bestCount) {
      best = p
      bestCount = count
    }
  }
  return best
}

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
 * an empty, lone cluster-enabled server, unless `shutdown` is set. A node
 * that cannot be reached (killed, or flagged failed) is only forgotten by
 * every other member; it must not own slots.
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
    // Reach the node (and make sure it is the node named) before touching
    // anyone. A node that cannot be reached (killed, or flagged failed) is
    // only forgotten by the others: a primary of that kind must own no slot.
    const reached = yield* Effect.result(session.send(address, cluster(Cmd.Reply.string, "MYID")))
    const unreachable = reached._tag === "Failure"
    if (unreachable) {
      const error = reached.failure
      if (error.reason._tag !== "ConnectionError" && error.reason._tag !== "Timeout") return yield* Effect.fail(error)
    } else {
      if (reached.success !== victim.id) return yield* invalid(op, `${address} is node ${reached.success}, not ${victim.id}`)
      if (victim.role === "primary") {
        const keys = yield* session.send(address, dbsize)
        if (keys > 0) return yield* invalid(op, `${describeNode(victim, seed)} owns no slot but holds ${keys} keys; refusing to reset it`)
      }
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
    if (!unreachable) yield* session.send(address, cluster(Cmd.Reply.ok, "RESET", "SOFT"))

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
        if (!unreachable) {
          const info = yield* session.send(address, clusterInfo)
          if (info.cluster_known_nodes !== "1") problems.push(`${address} still knows ${info.cluster_known_nodes} nodes`)
        }
        if (reassigned.length > 0) {
          const all = yield* Effect.forEach(live, (e) => viewOf(session, addressOf(e, seed)), { concurrency: "unbounded" })
          problems.push(...replicaProblems(all, reassigned))
        }
        return problems
      })
    )
    if (options.shutdown === true && !unreachable) {
      // The connection drops as the server exits: that is the success.
      yield* Effect.ignore(session.send(address, Cmd.unsafeMake("SHUTDOWN", ["SHUTDOWN", "NOSAVE"], [], Cmd.Flags.NO_KEYS, Cmd.Reply.raw)))
    }
    return { id: victim.id, address, unreachable, reassigned }
  }))

// -----------------------------------------------------------------------------
// info, call, set-timeout, fix
// -----------------------------------------------------------------------------

/**
 * @category models
 * @since 0.1.0
 */
export type InfoReport = Inspect.InfoReport
/**
 * @category models
 * @since 0.1.0
 */
export type PrimaryInfo = Inspect.PrimaryInfo
/**
 * @category models
 * @since 0.1.0
 */
export type CallOptions = Inspect.CallOptions
/**
 * @category models
 * @since 0.1.0
 */
export type CallReply = Inspect.CallReply
/**
 * @category models
 * @since 0.1.0
 */
export type SetTimeoutOptions = Inspect.SetTimeoutOptions
/**
 * @category models
 * @since 0.1.0
 */
export type SetTimeoutResult = Inspect.SetTimeoutResult
/**
 * @category models
 * @since 0.1.0
 */
export type FixOptions = Repair.FixOptions
/**
 * @category models
 * @since 0.1.0
 */
export type FixAction = Repair.FixAction
/**
 * @category models
 * @since 0.1.0
 */
export type FixResult = Repair.FixResult

/**
 * `redis-cli --cluster info`: per primary its keys (`DBSIZE`), slots and
 * replica count, and the totals. A primary that cannot be asked has
 * `keys: undefined` and a sentence in `unreachable`.
 *
 * @category operations
 * @since 0.1.0
 */
export const info: (node: string, options?: AdminOptions) => Effect.Effect<InfoReport, RedisError.RedisError, Transport> =
  Inspect.info

/**
 * `redis-cli --cluster call`: one command on every node the seed lists (or
 * only primaries or replicas), with each node's reply (as plain data) or
 * error. Fails only when the seed cannot be asked.
 *
 * @category operations
 * @since 0.1.0
 */
export const call: (options: CallOptions) => Effect.Effect<ReadonlyArray<CallReply>, RedisError.RedisError, Transport> =
  Inspect.call

/**
 * `redis-cli --cluster set-timeout`: `CONFIG SET cluster-node-timeout` on
 * every node, then `CONFIG REWRITE` (a node started without a config file
 * keeps the value until restart: `persisted: false`). `ok` is false when
 * some node refused the value.
 *
 * @category operations
 * @since 0.1.0
 */
export const setTimeout: (options: SetTimeoutOptions) => Effect.Effect<SetTimeoutResult, RedisError.RedisError, Transport> =
  Inspect.setTimeout

/**
 * Slots that several reachable primaries claim in their own view, with
 * their claimants (`check --cluster-search-multiple-owners`); `fix` with
 * `searchMultipleOwners` repairs them.
 *
 * @category operations
 * @since 0.1.0
 */
export const multipleOwners: (
  node: string,
  options?: AdminOptions
) => Effect.Effect<ReadonlyArray<{ readonly slot: number; readonly owners: ReadonlyArray<string> }>, RedisError.RedisError, Transport> =
  Repair.searchMultipleOwners

/**
 * `redis-cli --cluster fix`: closes open slots (a half-done migration is
 * finished when both ends are set, rolled back otherwise, as redis-cli
 * decides), covers uncovered slots (given to the primary holding their keys,
 * else to the primary with the fewest slots) and, with
 * `searchMultipleOwners`, gives a slot several primaries claim to the one
 * with most keys. Refuses (before any change) when a primary is unreachable
 * unless `withUnreachablePrimaries`. A slot it cannot decide about fails
 * with `ClusterCheckFailed` naming its states. Returns what it did and the
 * check after it, once the nodes agree.
 *
 * @category operations
 * @since 0.1.0
 */
export const fix: (options: FixOptions) => Effect.Effect<FixResult, RedisError.RedisError, Transport> = Repair.fix

// -----------------------------------------------------------------------------
// import, backup
// -----------------------------------------------------------------------------

/**
 * @category models
 * @since 0.1.0
 */
export type ImportOptions = Import.ImportOptions
/**
 * @category models
 * @since 0.1.0
 */
export type ImportFailure = Import.ImportFailure
/**
 * @category models
 * @since 0.1.0
 */
export type ImportResult = Import.ImportResult
/**
 * @category models
 * @since 0.1.0
 */
export type BackupOptions = Backup.BackupOptions
/**
 * @category models
 * @since 0.1.0
 */
export type BackupFile = Backup.BackupFile
/**
 * @category models
 * @since 0.1.0
 */
export type BackupResult = Backup.BackupResult

/**
 * `redis-cli --cluster import`: every key of database 0 of the standalone
 * server `from` into the cluster of `node`. The source is walked with `SCAN`
 * (`batch` keys per round); each round's keys are grouped by the primary
 * owning their slot and the source runs one `MIGRATE ... [COPY] [REPLACE]
 * [AUTH|AUTH2] KEYS ...` per primary (the cluster's credentials are those of
 * `connection`; the source's are `fromConnection`, default `connection`).
 * Without `replace`, keys that already exist in the cluster are not imported
 * and are listed in `failed` with a `BUSYKEY` message (they stay on the
 * source); without `copy`, imported keys are removed from the source.
 * Refuses a cluster with problems (`ClusterCheckFailed`) and a source that
 * is a cluster node (`InvalidArgument`). Progress: unit `keys`, `total` the
 * source's `DBSIZE` at the start.
 *
 * @category operations
 * @since 0.1.0
 */
export const importKeys: (options: ImportOptions) => Effect.Effect<ImportResult, RedisError.RedisError, Transport> =
  Import.importKeys

/**
 * `redis-cli --cluster backup`: every primary's RDB, read over the
 * replication protocol like `redis-cli --rdb` (`REPLCONF rdb-only 1`,
 * `SYNC`, the length-prefixed payload), so remote nodes work too, into
 * `folder/redis-node-<host>-<port>-<id>.rdb`, and the seed's node table,
 * parsed, into `folder/nodes.json` (each primary with its `rdb` path).
 * One primary at a time, each bounded by `timeout`; the primary forks a
 * `BGSAVE` for it. Refuses a cluster with problems (`ClusterCheckFailed`).
 * The file system is Node's (`node:fs`). Progress: unit `nodes`.
 *
 * @category operations
 * @since 0.1.0
 */
export const backup: (options: BackupOptions) => Effect.Effect<BackupResult, RedisError.RedisError, Transport> =
  Backup.backup

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
  readonly info: (node: string, options?: AdminOptions) => Effect.Effect<InfoReport, RedisError.RedisError>
  readonly call: (options: CallOptions) => Effect.Effect<ReadonlyArray<CallReply>, RedisError.RedisError>
  readonly setTimeout: (options: SetTimeoutOptions) => Effect.Effect<SetTimeoutResult, RedisError.RedisError>
  readonly fix: (options: FixOptions) => Effect.Effect<FixResult, RedisError.RedisError>
  readonly importKeys: (options: ImportOptions) => Effect.Effect<ImportResult, RedisError.RedisError>
  readonly backup: (options: BackupOptions) => Effect.Effect<BackupResult, RedisError.RedisError>
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
      removeNode: (o) => run(removeNode(withDefaults(o))),
      info: (node, o) => run(info(node, withDefaults(o ?? {}))),
      call: (o) => run(call(withDefaults(o))),
      setTimeout: (o) => run(setTimeout(withDefaults(o))),
      fix: (o) => run(fix(withDefaults(o))),
      importKeys: (o) => run(importKeys(withDefaults(o))),
      backup: (o) => run(backup(withDefaults(o)))
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
