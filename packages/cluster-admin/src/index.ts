/**
 * @redis-effect/cluster-admin — the operations of `redis-cli --cluster`
 * (create, check, reshard, rebalance, add-node, del-node) as Effects with
 * typed errors. It speaks to the nodes through `@redis-effect/redis`'s
 * `Connection`; it does not route commands the way the `Cluster` client does.
 *
 * @since 0.1.0
 */
export * as ClusterAdmin from "./ClusterAdmin.ts"
