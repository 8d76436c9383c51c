/**
 * @since 0.1.0
 */
export * as NodeTransport from "./NodeTransport.ts"
export * as NodeClient from "./NodeClient.ts"
export * as NodeCluster from "./NodeCluster.ts"
export * as NodeSentinel from "./NodeSentinel.ts"
