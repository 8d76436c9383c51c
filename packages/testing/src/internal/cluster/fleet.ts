/**
 * The node processes of a cluster fixture: starting cluster-enabled
 * `redis-server`s (each in its own child scope, so that one can be stopped
 * early), the list of nodes in creation order, and the queries over it
 * (which are alive, which are primaries now, who owns a slot).
 *
 * A fleet does not join nodes into a cluster and never waits for one to
 * settle: `membership.ts` and `settle.ts` do that on top of it.
 *
 * @internal
 */
import * as Fs from "node:fs"
import * as Path from "node:path"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Scope from "effect/Scope"
import type { ClusterNode, ClusterNodesEntry, NodeRole } from "../../RedisCluster.ts"
import * as RedisServer from "../../RedisServer.ts"
import { ServerError } from "../../ServerError.ts"
import { quote } from "../redisConf.ts"
import * as ClusterCli from "./cli.ts"
import { isPrimaryEntry, ownsSlot, parseClusterNodes } from "./view.ts"

/** What every node is started with. */
export interface FleetOptions {
  /** Holds the nodes' cluster config files; must outlive every node. */
  readonly clusterDir: string
  readonly nodeTimeoutMillis: number
  readonly password: string | undefined
  /** Appended last to every node's arguments. */
  readonly extraArgs: ReadonlyArray<string>
}

/** The nodes and the queries over them. */
export interface Fleet {
  /** Every node this fixture runs, killed ones included, in creation order; `start` and `remove` change it. */
  readonly nodes: ReadonlyArray<ClusterNode>
  readonly password: string | undefined
  readonly cli: ClusterCli.ClusterCli
  /** Starts a node on each port (concurrently) and appends them to `nodes` in port order. */
  readonly start: (ports: ReadonlyArray<number>) => Effect.Effect<ReadonlyArray<ClusterNode>, ServerError>
  /** Takes `node` out of `nodes`, stops it and deletes its directory. */
  readonly remove: (node: ClusterNode) => Effect.Effect<void>
  readonly alive: Effect.Effect<ReadonlyArray<ClusterNode>>
  readonly byId: (id: string) => Effect.Effect<ClusterNode, ServerError>
  /** `CLUSTER NODES` of `node`, or of the first live node that answers. */
  readonly clusterNodes: (node?: ClusterNode) => Effect.Effect<ReadonlyArray<ClusterNodesEntry>, ServerError>
  /** Live nodes that report `role` now. */
  readonly withRole: (role: NodeRole) => Effect.Effect<ReadonlyArray<ClusterNode>, ServerError>
  readonly replicasOf: (primary: ClusterNode) => Effect.Effect<ReadonlyArray<ClusterNode>, ServerError>
  readonly slotOwner: (slot: number) => Effect.Effect<ClusterNode, ServerError>
  readonly keyslot: (key: string) => Effect.Effect<number, ServerError>
}

export const fail = (message: string) => Effect.fail(new ServerError({ message }))

/** `CLUSTER NODES` of one node, parsed. */
export const nodesOf = (node: ClusterNode): Effect.Effect<ReadonlyArray<ClusterNodesEntry>, ServerError> =>
  Effect.map(node.cli("CLUSTER", "NODES"), parseClusterNodes)

/** The cluster-specific arguments of every node. */
const nodeArgs = (options: FleetOptions, port: number, includeArgs: ReadonlyArray<string>): Array<string> => [
  "--cluster-enabled", "yes",
  // Absolute: --dir changes the working directory first.
  "--cluster-config-file", Path.join(options.clusterDir, `nodes-${port}.conf`),
  "--cluster-node-timeout", String(options.nodeTimeoutMillis),
  "--enable-debug-command", "local",
  "--save", "",
  // The default 5 s wait for more replicas before a diskless full
  // sync would make every replica link take 5 s to come up.
  "--repl-diskless-sync-delay", "0",
  ...includeArgs,
  ...options.extraArgs
]

/** A `RedisServer` handle plus the node's id and role; `pid` still follows `restart`. */
const asClusterNode = (server: RedisServer.RedisServerHandle, id: string): ClusterNode =>
  // Copy the descriptors, not the values: `pid` is a getter that follows `restart`.
  Object.defineProperties(
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

/** An empty fleet; nodes stop in parallel when the scope closes. */
export const make = (options: FleetOptions): Effect.Effect<Fleet, never, Scope.Scope> =>
  Effect.gen(function*() {
    const { password } = options
    // masterauth through an included file, so the password stays off `ps`.
    const includeArgs: Array<string> = []
    if (password !== undefined) {
      const include = Path.join(options.clusterDir, "auth.conf")
      yield* Effect.sync(() => Fs.writeFileSync(include, `masterauth ${quote(password)}\n`, { mode: 0o600 }))
      includeArgs.push("--include", include)
    }
    // Each node has its own child scope so that `remove` can stop one early.
    const nodesScope = yield* Scope.fork(yield* Effect.scope, "parallel")
    const nodes: Array<ClusterNode> = []
    const nodeScopes = new Map<ClusterNode, Scope.Closeable>()

    const startNode = (port: number): Effect.Effect<ClusterNode, ServerError> =>
      Effect.gen(function*() {
        const scope = yield* Scope.fork(nodesScope, "sequential")
        const server = yield* RedisServer.make({
          port,
          ...(password === undefined ? {} : { password }),
          extraArgs: nodeArgs(options, port, includeArgs)
        }).pipe(
          Scope.provide(scope),
          Effect.tapError(() => Scope.close(scope, Exit.void))
        )
        const node = asClusterNode(server, yield* server.cli("CLUSTER", "MYID"))
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

    return {
      nodes,
      password,
      cli: ClusterCli.make(password),
      start: (ports) =>
        Effect.map(Effect.forEach(ports, startNode, { concurrency: "unbounded" }), (started) => {
          nodes.push(...started)
          return started
        }),
      remove: (node) =>
        Effect.suspend(() => {
          const index = nodes.indexOf(node)
          if (index !== -1) nodes.splice(index, 1)
          const scope = nodeScopes.get(node)
          nodeScopes.delete(node)
          return scope === undefined ? Effect.void : Scope.close(scope, Exit.void)
        }),
      alive,
      byId,
      clusterNodes,
      withRole: (role) =>
        Effect.flatMap(alive, Effect.filter((node) => Effect.map(node.role, (r) => r === role), { concurrency: "unbounded" })),
      replicasOf: (primary) =>
        Effect.gen(function*() {
          const view = yield* clusterNodes()
          const ids = new Set(view.filter((e) => e.primaryId === primary.id).map((e) => e.id))
          return (yield* alive).filter((node) => ids.has(node.id))
        }),
      slotOwner: (slot) =>
        Effect.gen(function*() {
          const view = yield* clusterNodes()
          const owner = view.find((e) => isPrimaryEntry(e) && !e.flags.includes("fail") && ownsSlot(e, slot))
          if (owner === undefined) return yield* fail(`RedisCluster.slotOwner: slot ${slot} is not served`)
          return yield* byId(owner.id)
        }),
      keyslot: (key) =>
        Effect.gen(function*() {
          const [node] = yield* alive
          if (node === undefined) return yield* fail("RedisCluster.keyslot: no live node")
          return Number(yield* node.cli("CLUSTER", "KEYSLOT", key))
        })
    }
  })
