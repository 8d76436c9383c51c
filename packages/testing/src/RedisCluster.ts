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
 * The handle carries the cluster faults that integration tests need:
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
import * as Os from "node:os"
import * as Path from "node:path"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import type * as Scope from "effect/Scope"
import * as Faults from "./internal/cluster/faults.ts"
import * as Fleet from "./internal/cluster/fleet.ts"
import * as Membership from "./internal/cluster/membership.ts"
import * as Migration from "./internal/cluster/migration.ts"
import * as Settle from "./internal/cluster/settle.ts"
import * as View from "./internal/cluster/view.ts"
import * as Proc from "./internal/process.ts"
import { freePorts } from "./Ports.ts"
import type * as RedisServer from "./RedisServer.ts"
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
// Not `ClusterSlot.SLOTS` from @redis-effect/redis: this package must not depend on the client it tests.
export const SLOTS = View.SLOTS

/**
 * Parses a `CLUSTER NODES` reply. Slot ranges are inclusive; the bracketed
 * `[slot->-id]` / `[slot-<-id]` entries go to `migrating` / `importing`.
 *
 * @category parsing
 * @since 0.1.0
 */
// Not the client's topology parser (`cluster/ClusterView.ts`): this package must not depend on the client it tests.
export const parseClusterNodes: (text: string) => ReadonlyArray<ClusterNodesEntry> = View.parseClusterNodes

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
    const password = options.password
    if (primaryCount < 3) {
      return yield* Effect.fail(
        new ServerError({ message: "RedisCluster: redis-cli --cluster create needs at least 3 primaries" })
      )
    }

    // Cluster config files live here, outside the nodes' own directories, and
    // outlive every node (finalizers run in reverse order).
    const clusterDir = yield* Proc.tempDirectory(Path.join(Os.tmpdir(), "redis-effect-cluster-"))
    const fleet = yield* Fleet.make({
      clusterDir,
      nodeTimeoutMillis: options.nodeTimeoutMillis ?? 2000,
      password,
      extraArgs: options.extraArgs ?? []
    })
    const settler = Settle.make(fleet, options.readyTimeoutMillis ?? 20_000)
    const ports = yield* freePorts(primaryCount * (1 + replicasPerPrimary))
    yield* Membership.create(fleet, settler, ports, replicasPerPrimary)

    const handle: RedisClusterHandle = {
      get nodes() {
        return [...fleet.nodes]
      },
      startupNodes: ports.map((port) => ({ host: "127.0.0.1" as const, port })),
      ...(password === undefined ? {} : { password }),
      primaries: fleet.withRole("primary"),
      replicas: fleet.withRole("replica"),
      slotOwner: fleet.slotOwner,
      replicasOf: fleet.replicasOf,
      keyslot: fleet.keyslot,
      clusterNodes: fleet.clusterNodes,
      awaitSettled: settler.settle("awaitSettled"),
      check: settler.check,
      ...Faults.make(fleet, settler),
      ...Migration.make(fleet, settler),
      ...Membership.make(fleet, settler)
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
