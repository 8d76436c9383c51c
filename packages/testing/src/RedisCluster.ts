/**
 * A real Redis Cluster on loopback, as a scoped Effect.
 *
 * `make(options)` starts `primaries × (1 + replicasPerPrimary)` cluster-enabled
 * `redis-server` processes with `RedisServer.make`, joins them with
 * `redis-cli --cluster create`, and waits until the cluster is *settled*:
 * every live node answers `cluster_state:ok`, every live node reports the same
 * roles, replica links and slot ranges for every live node, all 16384 slots are
 * covered, every replica has `master_link_status:up`, and
 * `redis-cli --cluster check` passes. Closing the scope stops every node and
 * deletes their directories.
 *
 * The handle carries the cluster faults of the fault catalogue (FAULTS.md B):
 * manual failover, primary crash and restart, live slot migration (also
 * stepwise, to hold a slot in the MIGRATING state while traffic runs),
 * `redis-cli --cluster reshard`, adding and removing nodes. Every helper waits
 * until the cluster has settled again, within `readyTimeoutMillis`, and fails
 * with a `ServerError` that says what was still wrong.
 *
 * Like `RedisServer`, this module never uses the redis-effect client: it drives
 * the nodes through `redis-cli`, so it keeps working while the client under
 * test is broken. It does not simulate network partitions (use `pause` on a
 * node, or `FaultProxy`), and it knows nothing about TLS or ACL users.
 *
 * **Gotchas**
 *
 * - Waits use real timers, not the Effect `Clock`; tests still want `it.live`,
 *   because failover itself takes seconds of real time.
 * - A paused node is alive but mute: the settle wait cannot succeed while a
 *   node is paused, so resume it (or kill it) before calling another helper.
 * - The password goes into the config files (`requirepass`, and `masterauth`
 *   through an `--include`d file) and into `REDISCLI_AUTH`, never into a
 *   command line that `ps` would show.
 * - Keys are moved by reading `CLUSTER GETKEYSINSLOT` through `redis-cli`,
 *   one key per line: keys that contain a newline cannot be migrated here.
 *
 * @since 0.1.0
 */
import * as Fs from "node:fs"
import * as Os from "node:os"
import * as Path from "node:path"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Layer from "effect/Layer"
import * as Scope from "effect/Scope"
import * as Proc from "./internal/process.ts"
import { freePort, freePorts } from "./Ports.ts"
import * as RedisServer from "./RedisServer.ts"
import { ServerError } from "./ServerError.ts"

export { ServerError } from "./ServerError.ts"

// -----------------------------------------------------------------------------
// options
// -----------------------------------------------------------------------------

/**
 * How to build the cluster.
 *
 * @category options
 * @since 0.1.0
 */
export interface RedisClusterOptions {
  /** Number of primaries. Default 3 (the minimum `redis-cli --cluster create` accepts). */
  readonly primaries?: number | undefined
  /** Replicas per primary. Default 1. */
  readonly replicasPerPrimary?: number | undefined
  /** `cluster-node-timeout`. Default 2000 ms; a killed primary is replaced after about twice this. */
  readonly nodeTimeoutMillis?: number | undefined
  /** More `redis-server` arguments for every node, appended last. */
  readonly extraArgs?: ReadonlyArray<string> | undefined
  /** `requirepass` and `masterauth` of every node. */
  readonly password?: string | undefined
  /** How long each helper waits for the cluster to settle. Default 20 000 ms. */
  readonly readyTimeoutMillis?: number | undefined
}

// -----------------------------------------------------------------------------
// models
// -----------------------------------------------------------------------------

/**
 * What a node is now, as the node itself says (`INFO replication`).
 *
 * @category models
 * @since 0.1.0
 */
export type NodeRole = "primary" | "replica"

/**
 * One cluster node: its `RedisServer` handle (port, `cli`, `kill`, `restart`,
 * `pause`...), its cluster node id, and its current role.
 *
 * @category models
 * @since 0.1.0
 */
export interface ClusterNode extends RedisServer.RedisServerHandle {
  /** `CLUSTER MYID`; kept across `restart` (the id lives in the node's cluster config file). */
  readonly id: string
  /** The role the node reports now; fails when the node is down. */
  readonly role: Effect.Effect<NodeRole, ServerError>
}

/**
 * One line of `CLUSTER NODES`, parsed.
 *
 * @category models
 * @since 0.1.0
 */
export interface ClusterNodesEntry {
  readonly id: string
  readonly host: string
  readonly port: number
  readonly busPort: number
  /** `myself`, `master`, `slave`, `fail?`, `fail`, `handshake`, `noaddr`, `nofailover`, ... */
  readonly flags: ReadonlyArray<string>
  /** The primary's id for a replica, otherwise undefined. */
  readonly primaryId: string | undefined
  readonly configEpoch: number
  readonly linkState: string
  /** Owned slot ranges, inclusive. */
  readonly slots: ReadonlyArray<readonly [number, number]>
  /** Slots this node is migrating away (only reported by the node itself). */
  readonly migrating: ReadonlyArray<{ readonly slot: number; readonly to: string }>
  /** Slots this node is importing (only reported by the node itself). */
  readonly importing: ReadonlyArray<{ readonly slot: number; readonly from: string }>
}

/**
 * A slot move between two primaries, for the stepwise migration API.
 *
 * @category models
 * @since 0.1.0
 */
export interface SlotMove {
  readonly from: ClusterNode
  readonly to: ClusterNode
  readonly slot: number
}

/**
 * A running cluster and the controls a test needs to hurt it.
 *
 * @category models
 * @since 0.1.0
 */
export interface RedisClusterHandle {
  /** Every node this fixture runs, killed ones included, in creation order (grows with `addNode`, shrinks with `removeNode`). */
  readonly nodes: ReadonlyArray<ClusterNode>
  /** The nodes the cluster was created with, as client seeds. */
  readonly startupNodes: ReadonlyArray<{ readonly host: "127.0.0.1"; readonly port: number }>
  readonly password?: string
  /** Live nodes that are primaries now. */
  readonly primaries: Effect.Effect<ReadonlyArray<ClusterNode>, ServerError>
  /** Live nodes that are replicas now. */
  readonly replicas: Effect.Effect<ReadonlyArray<ClusterNode>, ServerError>
  /** The primary that owns `slot` now, in the view of a live node. */
  readonly slotOwner: (slot: number) => Effect.Effect<ClusterNode, ServerError>
  /** The live replicas of `primary` now. */
  readonly replicasOf: (primary: ClusterNode) => Effect.Effect<ReadonlyArray<ClusterNode>, ServerError>
  /** `CLUSTER KEYSLOT key`. */
  readonly keyslot: (key: string) => Effect.Effect<number, ServerError>
  /** `CLUSTER NODES` of one live node, parsed. */
  readonly clusterNodes: (node?: ClusterNode) => Effect.Effect<ReadonlyArray<ClusterNodesEntry>, ServerError>
  /** Waits until the cluster has settled (see the module comment). */
  readonly awaitSettled: Effect.Effect<void, ServerError>

  /**
   * `CLUSTER FAILOVER` on `replica` (default: a replica of the first primary),
   * then waits until it is a primary and every node agrees. Returns the new
   * primary.
   */
  readonly failover: (replica?: ClusterNode) => Effect.Effect<ClusterNode, ServerError>
  /**
   * SIGKILLs `primary` (default: the first primary) and waits until one of its
   * replicas has been promoted and the survivors agree. Returns the promoted node.
   */
  readonly killPrimary: (primary?: ClusterNode) => Effect.Effect<ClusterNode, ServerError>
  /** Restarts a killed or stopped node on its port with its cluster config; waits until it has rejoined (a replaced primary comes back as a replica). */
  readonly restartNode: (node: ClusterNode) => Effect.Effect<void, ServerError>

  /** Moves `slots` with their keys from `from` to `to` (IMPORTING/MIGRATING, MIGRATE in batches of `pipeline`, SETSLOT NODE on all primaries). */
  readonly migrateSlots: (options: {
    readonly from: ClusterNode
    readonly to: ClusterNode
    readonly slots: ReadonlyArray<number>
    readonly pipeline?: number | undefined
  }) => Effect.Effect<void, ServerError>
  /** Step 1: `SETSLOT IMPORTING` on the target, then `SETSLOT MIGRATING` on the source. */
  readonly beginMigration: (move: SlotMove) => Effect.Effect<void, ServerError>
  /** Step 2: `MIGRATE`s every key left in the slot, `pipeline` keys at a time (default 10); returns how many keys moved. */
  readonly migrateKeys: (move: SlotMove & { readonly pipeline?: number | undefined }) => Effect.Effect<number, ServerError>
  /** Step 3: `SETSLOT NODE` on the target, the source and every other primary, then waits until every node agrees. */
  readonly finishMigration: (move: SlotMove) => Effect.Effect<void, ServerError>
  /** `redis-cli --cluster reshard` of `count` slots; returns the slots that moved. */
  readonly reshard: (options: {
    readonly from: ClusterNode
    readonly to: ClusterNode
    readonly count: number
    readonly pipeline?: number | undefined
  }) => Effect.Effect<ReadonlyArray<number>, ServerError>

  /** Starts a node and adds it with `redis-cli --cluster add-node` (as an empty primary, or as a replica of `asReplicaOf`). */
  readonly addNode: (options?: { readonly asReplicaOf?: ClusterNode | undefined }) => Effect.Effect<ClusterNode, ServerError>
  /** `redis-cli --cluster del-node` for a replica or an empty primary without replicas, then stops the node and deletes its directory. */
  readonly removeNode: (node: ClusterNode) => Effect.Effect<void, ServerError>
  /** `redis-cli --cluster check`; fails when it reports an error or a warning. Returns its report. */
  readonly check: Effect.Effect<string, ServerError>
}

/**
 * The cluster of a test, as a service.
 *
 * @category services
 * @since 0.1.0
 */
export class RedisCluster extends Context.Service<RedisCluster, RedisClusterHandle>()(
  "@redis-effect/testing/RedisCluster"
) {}

// -----------------------------------------------------------------------------
// parsing
// -----------------------------------------------------------------------------

/**
 * The number of hash slots.
 *
 * @category constants
 * @since 0.1.0
 */
export const SLOTS = 16_384

/**
 * Parses a `CLUSTER NODES` reply. Slot ranges are inclusive; the bracketed
 * `[slot->-id]` / `[slot-<-id]` entries go to `migrating` / `importing`.
 *
 * @category parsing
 * @since 0.1.0
 */
export const parseClusterNodes = (text: string): ReadonlyArray<ClusterNodesEntry> => {
  const entries: Array<ClusterNodesEntry> = []
  for (const line of text.split(/\r?\n/)) {
    const fields = line.trim().split(" ")
    if (fields.length < 8) continue
    const [id, address, flags, primary, , , epoch, linkState, ...slotFields] = fields as [
      string,
      string,
      string,
      string,
      string,
      string,
      string,
      string,
      ...Array<string>
    ]
    // ip:port@cport[,hostname]
    const hostPort = address.split(",")[0]!
    const at = hostPort.lastIndexOf("@")
    const colon = hostPort.lastIndexOf(":", at === -1 ? undefined : at)
    const slots: Array<readonly [number, number]> = []
    const migrating: Array<{ slot: number; to: string }> = []
    const importing: Array<{ slot: number; from: string }> = []
    for (const field of slotFields) {
      const open = /^\[(\d+)-([<>])-([0-9a-f]+)\]$/.exec(field)
      if (open !== null) {
        if (open[2] === ">") migrating.push({ slot: Number(open[1]), to: open[3]! })
        else importing.push({ slot: Number(open[1]), from: open[3]! })
        continue
      }
      const dash = field.indexOf("-")
      if (dash === -1) slots.push([Number(field), Number(field)])
      else slots.push([Number(field.slice(0, dash)), Number(field.slice(dash + 1))])
    }
    entries.push({
      id,
      host: hostPort.slice(0, colon),
      port: Number(hostPort.slice(colon + 1, at === -1 ? undefined : at)),
      busPort: at === -1 ? 0 : Number(hostPort.slice(at + 1)),
      flags: flags.split(","),
      primaryId: primary === "-" ? undefined : primary,
      configEpoch: Number(epoch),
      linkState,
      slots,
      migrating,
      importing
    })
  }
  return entries
}

/** Number of slots in inclusive ranges. */
const slotCount = (ranges: ReadonlyArray<readonly [number, number]>): number =>
  ranges.reduce((n, [a, b]) => n + b - a + 1, 0)

const ownsSlot = (entry: ClusterNodesEntry, slot: number): boolean =>
  entry.slots.some(([a, b]) => slot >= a && slot <= b)

const isPrimaryEntry = (entry: ClusterNodesEntry): boolean => entry.flags.includes("master")

/** Flags that mean a node's view of another node is not settled. */
const UNSETTLED_FLAGS = ["fail", "fail?", "handshake", "noaddr"]

// -----------------------------------------------------------------------------
// internals
// -----------------------------------------------------------------------------

// Same quoting as RedisServer's config writer: sdssplitargs understands
// double-quoted strings with backslash escapes, both in config files and in
// the lines redis-cli reads from stdin.
const quote = (value: string): string =>
  `"${value.replace(/[\\"]/g, (c) => `\\${c}`).replace(/\n/g, "\\n").replace(/\r/g, "\\r")}"`

// redis-cli colours its --cluster reports even when stdout is a pipe.
const stripAnsi = (text: string): string => text.replace(/\x1b\[[0-9;]*m/g, "")

const fail = (message: string) => Effect.fail(new ServerError({ message }))

// -----------------------------------------------------------------------------
// constructors
// -----------------------------------------------------------------------------

/**
 * Starts the nodes, creates the cluster and waits until it has settled.
 * Closing the scope stops every node.
 *
 * @category constructors
 * @since 0.1.0
 */
export const make = (
  options: RedisClusterOptions = {}
): Effect.Effect<RedisClusterHandle, ServerError, Scope.Scope> =>
  Effect.gen(function*() {
    const primaryCount = options.primaries ?? 3
    const replicasPerPrimary = options.replicasPerPrimary ?? 1
    const nodeTimeout = options.nodeTimeoutMillis ?? 2000
    const readyTimeout = options.readyTimeoutMillis ?? 20_000
    const password = options.password
    if (primaryCount < 3) return yield* fail("RedisCluster: redis-cli --cluster create needs at least 3 primaries")

    // Cluster config files live here, outside the nodes' own directories, and
    // outlive every node (finalizers run in reverse order).
    const clusterDir = yield* Proc.tempDirectory(Path.join(Os.tmpdir(), "redis-effect-cluster-"))
    // masterauth through an included file, so the password stays off `ps`.
    const includeArgs: Array<string> = []
    if (password !== undefined) {
      const include = Path.join(clusterDir, "auth.conf")
      yield* Effect.sync(() => Fs.writeFileSync(include, `masterauth ${quote(password)}\n`, { mode: 0o600 }))
      includeArgs.push("--include", include)
    }
    // Nodes stop in parallel when the cluster goes; each node has its own
    // child scope so that `removeNode` can stop one early.
    const nodesScope = yield* Scope.fork(yield* Effect.scope, "parallel")

    const cliEnv: Record<string, string> = password === undefined ? {} : { REDISCLI_AUTH: password }

    /** `redis-cli --cluster <args>`; fails on a non-zero exit, returns the report without colours. */
    const clusterCli = (args: ReadonlyArray<string>, timeoutMillis = 60_000) =>
      Proc.run("redis-cli", ["--cluster", ...args], { env: cliEnv, timeoutMillis }).pipe(
        Effect.flatMap((result) => {
          const out = stripAnsi(result.stdout + result.stderr).trim()
          return result.code === 0 ? Effect.succeed(out) : fail(`redis-cli --cluster ${args.join(" ")} failed:\n${out}`)
        })
      )

    /** One command through redis-cli's stdin, so that secrets in it stay off `ps`. */
    const cliStdin = (node: ClusterNode, args: ReadonlyArray<string>) =>
      Proc.run("redis-cli", ["-h", "127.0.0.1", "-p", String(node.port), "--no-auth-warning"], {
        env: cliEnv,
        input: args.map(quote).join(" ") + "\n"
      }).pipe(Effect.map((result) => (result.stdout + result.stderr).trim()))

    // -------------------------------------------------------------------------
    // nodes
    // -------------------------------------------------------------------------

    const nodes: Array<ClusterNode> = []
    const nodeScopes = new Map<ClusterNode, Scope.Closeable>()

    const startNode = (port: number): Effect.Effect<ClusterNode, ServerError> =>
      Effect.gen(function*() {
        const scope = yield* Scope.fork(nodesScope, "sequential")
        const server = yield* RedisServer.make({
          port,
          ...(password === undefined ? {} : { password }),
          extraArgs: [
            "--cluster-enabled", "yes",
            // Absolute: --dir changes the working directory first.
            "--cluster-config-file", Path.join(clusterDir, `nodes-${port}.conf`),
            "--cluster-node-timeout", String(nodeTimeout),
            "--enable-debug-command", "local",
            "--save", "",
            // The default 5 s wait for more replicas before a diskless full
            // sync would make every replica link take 5 s to come up.
            "--repl-diskless-sync-delay", "0",
            ...includeArgs,
            ...(options.extraArgs ?? [])
          ]
        }).pipe(
          Scope.provide(scope),
          Effect.tapError(() => Scope.close(scope, Exit.void))
        )
        const id = yield* server.cli("CLUSTER", "MYID")
        // Copy the descriptors, not the values: `pid` is a getter that follows `restart`.
        const node = Object.defineProperties(
          {},
          {
            ...Object.getOwnPropertyDescriptors(server),
            id: { value: id, enumerable: true },
            role: {
              value: Effect.map(server.info("replication"), (info): NodeRole =>
                info.role === "master" ? "primary" : "replica"),
              enumerable: true
            }
          }
        ) as ClusterNode
        nodeScopes.set(node, scope)
        return node
      })

    const alive: Effect.Effect<ReadonlyArray<ClusterNode>> = Effect.suspend(() =>
      Effect.filter([...nodes], (node) => node.isAlive)
    )

    const byId = (id: string): Effect.Effect<ClusterNode, ServerError> => {
      const node = nodes.find((n) => n.id === id)
      return node === undefined ? fail(`RedisCluster: node ${id} is not one of this fixture's nodes`) : Effect.succeed(node)
    }

    const nodesOf = (node: ClusterNode) => Effect.map(node.cli("CLUSTER", "NODES"), parseClusterNodes)

    /** `CLUSTER NODES` of `node`, or of the first live node that answers. */
    const clusterNodes = (node?: ClusterNode): Effect.Effect<ReadonlyArray<ClusterNodesEntry>, ServerError> =>
      node !== undefined ? nodesOf(node) : Effect.gen(function*() {
        const errors: Array<string> = []
        for (const candidate of yield* alive) {
          const result = yield* Effect.result(nodesOf(candidate))
          if (result._tag === "Success") return result.success
          errors.push(result.failure.message)
        }
        return yield* fail(`RedisCluster: no live node answered CLUSTER NODES\n${errors.join("\n")}`)
      })

    const withRole = (role: NodeRole): Effect.Effect<ReadonlyArray<ClusterNode>, ServerError> =>
      Effect.flatMap(alive, Effect.filter((node) => Effect.map(node.role, (r) => r === role), { concurrency: "unbounded" }))

    const replicasOf = (primary: ClusterNode) =>
      Effect.gen(function*() {
        const view = yield* clusterNodes()
        const ids = new Set(view.filter((e) => e.primaryId === primary.id).map((e) => e.id))
        return (yield* alive).filter((node) => ids.has(node.id))
      })

    // -------------------------------------------------------------------------
    // settling
    // -------------------------------------------------------------------------

    /**
     * Why the cluster has not settled, or undefined when it has. Only live
     * nodes count: a killed node may still be listed (flagged `fail`).
     */
    const unsettled = (extra?: (views: Map<string, ReadonlyArray<ClusterNodesEntry>>) => string | undefined) =>
      Effect.gen(function*() {
        const live = yield* alive
        const probes = yield* Effect.forEach(
          live,
          (node) =>
            Effect.all({
              info: Effect.map(node.cli("CLUSTER", "INFO"), RedisServer.parseInfo),
              view: nodesOf(node),
              replication: node.info("replication")
            }).pipe(Effect.result),
          { concurrency: "unbounded" }
        )
        const views = new Map<string, ReadonlyArray<ClusterNodesEntry>>()
        const problems: Array<string> = []
        const liveIds = live.map((n) => n.id).sort()
        let reference: string | undefined
        for (let i = 0; i < live.length; i++) {
          const node = live[i]!
          const probe = probes[i]!
          const name = `127.0.0.1:${node.port}`
          if (probe._tag === "Failure") {
            problems.push(`${name} does not answer: ${probe.failure.message}`)
            continue
          }
          const { info, replication, view } = probe.success
          views.set(node.id, view)
          if (info.cluster_state !== "ok") problems.push(`${name} cluster_state:${info.cluster_state}`)
          if (replication.role === "slave" && replication.master_link_status !== "up") {
            problems.push(`${name} master_link_status:${replication.master_link_status}`)
          }
          // What this node believes about every live node; all must agree.
          const lines: Array<string> = []
          for (const id of liveIds) {
            const entry = view.find((e) => e.id === id)
            if (entry === undefined) {
              problems.push(`${name} does not know ${id}`)
              continue
            }
            const bad = entry.flags.filter((f) => UNSETTLED_FLAGS.includes(f))
            if (bad.length > 0) problems.push(`${name} flags ${id} ${bad.join(",")}`)
            const role = isPrimaryEntry(entry) ? "primary" : `replica-of-${entry.primaryId}`
            lines.push(`${id} ${role} ${entry.slots.map(([a, b]) => `${a}-${b}`).join(",")}`)
          }
          const signature = lines.join("\n")
          if (reference === undefined) {
            reference = signature
            const covered = slotCount(view.filter((e) => liveIds.includes(e.id) && isPrimaryEntry(e)).flatMap((e) => e.slots))
            if (covered !== SLOTS) problems.push(`live primaries cover ${covered} of ${SLOTS} slots`)
          } else if (signature !== reference) {
            problems.push(`${name} disagrees about roles or slots`)
          }
        }
        if (problems.length === 0 && extra !== undefined) {
          const why = extra(views)
          if (why !== undefined) problems.push(why)
        }
        return problems.length === 0 ? undefined : problems.join("; ")
      })

    /** Polls `unsettled` until it holds, for up to `readyTimeout`. */
    const settle = (
      what: string,
      extra?: (views: Map<string, ReadonlyArray<ClusterNodesEntry>>) => string | undefined
    ): Effect.Effect<void, ServerError> =>
      Effect.gen(function*() {
        const deadline = Date.now() + readyTimeout
        while (true) {
          const why = yield* unsettled(extra)
          if (why === undefined) return
          if (Date.now() > deadline) {
            return yield* fail(`RedisCluster: ${what}: not settled after ${readyTimeout} ms: ${why}`)
          }
          yield* Proc.realSleep(100)
        }
      })

    const check = Effect.gen(function*() {
      const [seed] = yield* alive
      if (seed === undefined) return yield* fail("RedisCluster.check: no live node")
      const report = yield* clusterCli(["check", `127.0.0.1:${seed.port}`])
      if (/\[(ERR|WARNING)\]/.test(report)) return yield* fail(`redis-cli --cluster check reported problems:\n${report}`)
      return report
    })

    // -------------------------------------------------------------------------
    // creation
    // -------------------------------------------------------------------------

    const total = primaryCount * (1 + replicasPerPrimary)
    const ports = yield* freePorts(total)
    nodes.push(...(yield* Effect.forEach(ports, startNode, { concurrency: "unbounded" })))
    // `create` makes the first `primaryCount` addresses primaries (when the
    // hosts are all the same, it keeps the given order).
    yield* clusterCli([
      "create",
      ...ports.map((p) => `127.0.0.1:${p}`),
      "--cluster-replicas", String(replicasPerPrimary),
      "--cluster-yes"
    ])
    yield* settle("create")
    // `check` can still see a stale view for a moment after settling; retry within the same budget.
    yield* Effect.gen(function*() {
      const deadline = Date.now() + readyTimeout
      while (true) {
        const result = yield* Effect.result(check)
        if (result._tag === "Success") return
        if (Date.now() > deadline) return yield* Effect.fail(result.failure)
        yield* Proc.realSleep(200)
      }
    })

    // -------------------------------------------------------------------------
    // faults
    // -------------------------------------------------------------------------

    const firstPrimary = Effect.gen(function*() {
      const [primary] = yield* withRole("primary")
      return primary === undefined ? yield* fail("RedisCluster: no live primary") : primary
    })

    const failover = (replica?: ClusterNode) =>
      Effect.gen(function*() {
        const target = replica ?? (yield* Effect.gen(function*() {
          const primary = yield* firstPrimary
          const [r] = yield* replicasOf(primary)
          return r === undefined ? yield* fail(`RedisCluster.failover: 127.0.0.1:${primary.port} has no live replica`) : r
        }))
        yield* target.cli("CLUSTER", "FAILOVER")
        yield* settle(`failover to 127.0.0.1:${target.port}`, (views) => {
          const own = views.get(target.id)?.find((e) => e.id === target.id)
          return own !== undefined && isPrimaryEntry(own) ? undefined : `127.0.0.1:${target.port} is not a primary yet`
        })
        return target
      })

    const killPrimary = (primary?: ClusterNode) =>
      Effect.gen(function*() {
        const victim = primary ?? (yield* firstPrimary)
        const candidates = yield* replicasOf(victim)
        if (candidates.length === 0) {
          return yield* fail(`RedisCluster.killPrimary: 127.0.0.1:${victim.port} has no live replica to promote`)
        }
        yield* victim.kill
        let promoted: ClusterNode | undefined
        yield* settle(`promotion after killing 127.0.0.1:${victim.port}`, (views) => {
          promoted = candidates.find((c) => {
            const own = views.get(c.id)?.find((e) => e.id === c.id)
            return own !== undefined && isPrimaryEntry(own)
          })
          return promoted === undefined ? "no replica of the killed primary is a primary yet" : undefined
        })
        return promoted!
      })

    const restartNode = (node: ClusterNode) =>
      Effect.gen(function*() {
        yield* node.restart
        yield* settle(`restart of 127.0.0.1:${node.port}`)
      })

    // -------------------------------------------------------------------------
    // slot migration
    // -------------------------------------------------------------------------

    const beginMigration = ({ from, slot, to }: SlotMove) =>
      Effect.gen(function*() {
        // Target first: a client redirected by ASK must find the slot importing.
        yield* to.cli("CLUSTER", "SETSLOT", String(slot), "IMPORTING", from.id)
        yield* from.cli("CLUSTER", "SETSLOT", String(slot), "MIGRATING", to.id)
      })

    const migrateKeys = ({ from, pipeline = 10, slot, to }: SlotMove & { readonly pipeline?: number | undefined }) =>
      Effect.gen(function*() {
        let moved = 0
        while (true) {
          const reply = yield* from.cli("CLUSTER", "GETKEYSINSLOT", String(slot), String(pipeline))
          const keys = reply.split("\n").filter((k) => k.length > 0)
          if (keys.length === 0) return moved
          const auth = password === undefined ? [] : ["AUTH", password]
          const args = ["MIGRATE", "127.0.0.1", String(to.port), "", "0", "5000", ...auth, "KEYS", ...keys]
          const answer = yield* cliStdin(from, args)
          if (answer !== "OK" && answer !== "NOKEY") {
            return yield* fail(`RedisCluster.migrateKeys: MIGRATE of slot ${slot} to 127.0.0.1:${to.port}: ${answer}`)
          }
          moved += keys.length
        }
      })

    /** SETSLOT NODE everywhere it matters, without waiting for gossip. */
    const assignSlot = ({ from, slot, to }: SlotMove) =>
      Effect.gen(function*() {
        // Target first, so that it owns the slot before the source starts
        // answering MOVED; then the source; then every other primary, so no
        // one has to learn it from gossip.
        yield* to.cli("CLUSTER", "SETSLOT", String(slot), "NODE", to.id)
        yield* from.cli("CLUSTER", "SETSLOT", String(slot), "NODE", to.id)
        for (const primary of yield* withRole("primary")) {
          if (primary.id === to.id || primary.id === from.id) continue
          yield* primary.cli("CLUSTER", "SETSLOT", String(slot), "NODE", to.id)
        }
      })

    const ownerCheck = (slots: ReadonlyArray<number>, owner: ClusterNode) =>
    (views: Map<string, ReadonlyArray<ClusterNodesEntry>>) => {
      const view = views.get(owner.id)
      const own = view?.find((e) => e.id === owner.id)
      const missing = slots.filter((s) => own === undefined || !ownsSlot(own, s))
      if (missing.length > 0) return `127.0.0.1:${owner.port} does not own slots ${missing.slice(0, 5).join(",")} yet`
      if (own !== undefined && (own.importing.length > 0 || own.migrating.length > 0)) {
        return `127.0.0.1:${owner.port} still has open slots`
      }
      return undefined
    }

    const finishMigration = (move: SlotMove) =>
      Effect.andThen(
        assignSlot(move),
        settle(`finishing the migration of slot ${move.slot}`, ownerCheck([move.slot], move.to))
      )

    const migrateSlots = (
      { from, pipeline, slots, to }: {
        readonly from: ClusterNode
        readonly to: ClusterNode
        readonly slots: ReadonlyArray<number>
        readonly pipeline?: number | undefined
      }
    ) =>
      Effect.gen(function*() {
        for (const slot of slots) {
          yield* beginMigration({ from, to, slot })
          yield* migrateKeys({ from, to, slot, pipeline })
          yield* assignSlot({ from, to, slot })
        }
        yield* settle(`migrating ${slots.length} slots to 127.0.0.1:${to.port}`, ownerCheck(slots, to))
      })

    const ownedSlots = (node: ClusterNode) =>
      Effect.map(clusterNodes(node), (view) => {
        const own = view.find((e) => e.id === node.id)
        const slots = new Set<number>()
        for (const [a, b] of own?.slots ?? []) for (let s = a; s <= b; s++) slots.add(s)
        return slots
      })

    const reshard = (
      { count, from, pipeline, to }: {
        readonly from: ClusterNode
        readonly to: ClusterNode
        readonly count: number
        readonly pipeline?: number | undefined
      }
    ) =>
      Effect.gen(function*() {
        const before = yield* ownedSlots(to)
        yield* clusterCli([
          "reshard", `127.0.0.1:${from.port}`,
          "--cluster-from", from.id,
          "--cluster-to", to.id,
          "--cluster-slots", String(count),
          "--cluster-yes",
          ...(pipeline === undefined ? [] : ["--cluster-pipeline", String(pipeline)])
        ])
        yield* settle(`reshard of ${count} slots to 127.0.0.1:${to.port}`)
        const after = yield* ownedSlots(to)
        return [...after].filter((s) => !before.has(s)).sort((a, b) => a - b)
      })

    // -------------------------------------------------------------------------
    // membership
    // -------------------------------------------------------------------------

    const addNode = (addOptions: { readonly asReplicaOf?: ClusterNode | undefined } = {}) =>
      Effect.gen(function*() {
        const [seed] = yield* alive
        if (seed === undefined) return yield* fail("RedisCluster.addNode: no live node to join")
        const node = yield* startNode(yield* freePort)
        nodes.push(node)
        const primary = addOptions.asReplicaOf
        yield* clusterCli([
          "add-node", `127.0.0.1:${node.port}`, `127.0.0.1:${seed.port}`,
          ...(primary === undefined ? [] : ["--cluster-slave", "--cluster-master-id", primary.id])
        ])
        yield* settle(`adding 127.0.0.1:${node.port}`, (views) => {
          const own = views.get(node.id)?.find((e) => e.id === node.id)
          if (primary === undefined) return undefined
          return own?.primaryId === primary.id ? undefined : `127.0.0.1:${node.port} does not replicate ${primary.id} yet`
        })
        return node
      })

    const removeNode = (node: ClusterNode) =>
      Effect.gen(function*() {
        if (!nodes.includes(node)) return yield* fail(`RedisCluster.removeNode: 127.0.0.1:${node.port} is not in this cluster`)
        const others = (yield* alive).filter((n) => n !== node)
        const [seed] = others
        if (seed === undefined) return yield* fail("RedisCluster.removeNode: no other live node")
        const view = yield* clusterNodes(seed)
        const entry = view.find((e) => e.id === node.id)
        if (entry !== undefined && slotCount(entry.slots) > 0) {
          return yield* fail(`RedisCluster.removeNode: 127.0.0.1:${node.port} still owns ${slotCount(entry.slots)} slots`)
        }
        const dependents = view.filter((e) => e.primaryId === node.id && !e.flags.includes("fail"))
        if (dependents.length > 0) {
          return yield* fail(`RedisCluster.removeNode: 127.0.0.1:${node.port} still has replicas; remove them first`)
        }
        if (yield* node.isAlive) {
          yield* clusterCli(["del-node", `127.0.0.1:${seed.port}`, node.id])
        } else {
          // del-node wants to reach the node it deletes; a dead one is just forgotten.
          for (const other of others) yield* other.cli("CLUSTER", "FORGET", node.id)
        }
        nodes.splice(nodes.indexOf(node), 1)
        const scope = nodeScopes.get(node)
        nodeScopes.delete(node)
        if (scope !== undefined) yield* Scope.close(scope, Exit.void)
        yield* settle(`removing 127.0.0.1:${node.port}`, (views) => {
          for (const v of views.values()) {
            if (v.some((e) => e.id === node.id)) return `${node.id} is still known`
          }
          return undefined
        })
      })

    // -------------------------------------------------------------------------
    // handle
    // -------------------------------------------------------------------------

    const handle: RedisClusterHandle = {
      get nodes() {
        return [...nodes]
      },
      startupNodes: ports.map((port) => ({ host: "127.0.0.1" as const, port })),
      ...(password === undefined ? {} : { password }),
      primaries: withRole("primary"),
      replicas: withRole("replica"),
      slotOwner: (slot) =>
        Effect.gen(function*() {
          const view = yield* clusterNodes()
          const owner = view.find((e) => isPrimaryEntry(e) && !e.flags.includes("fail") && ownsSlot(e, slot))
          if (owner === undefined) return yield* fail(`RedisCluster.slotOwner: slot ${slot} is not served`)
          return yield* byId(owner.id)
        }),
      replicasOf,
      keyslot: (key) =>
        Effect.gen(function*() {
          const [node] = yield* alive
          if (node === undefined) return yield* fail("RedisCluster.keyslot: no live node")
          return Number(yield* node.cli("CLUSTER", "KEYSLOT", key))
        }),
      clusterNodes,
      awaitSettled: settle("awaitSettled"),
      failover,
      killPrimary,
      restartNode,
      migrateSlots,
      beginMigration,
      migrateKeys,
      finishMigration,
      reshard,
      addNode,
      removeNode,
      check
    }
    return handle
  })

/**
 * A layer that provides `RedisCluster`, created with `options` and stopped
 * when the layer is released.
 *
 * @category layers
 * @since 0.1.0
 */
export const layer = (options: RedisClusterOptions = {}): Layer.Layer<RedisCluster, ServerError> =>
  Layer.effect(RedisCluster)(make(options))
