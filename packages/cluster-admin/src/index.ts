/**
 * @redis-effect/cluster-admin — the operations of `redis-cli --cluster`
 * (create, check, info, fix, reshard, rebalance, add-node, del-node, call,
 * set-timeout, import, backup) as Effects with typed errors, and the `redis-effect` tool
 * (`Cli`, the package's `bin`) that runs them from a terminal. It speaks to the nodes through `@redis-effect/redis`'s
 * `Connection`; it does not route commands the way the `Cluster` client does.
 *
 * @since 0.1.0
 */
export * as ClusterAdmin from "./ClusterAdmin.ts"
export * as Cli from "./Cli.ts"
