/**
 * What a client observed of its topology, as one event type for every
 * topology: the `events` stream of `Redis.Redis` carries these.
 *
 * - `NodeAdded` / `NodeRemoved`: a node joined or left the topology the
 *   client uses (a cluster refresh, a sentinel's replica list).
 * - `SlotsMoved`: slot ranges changed owner (a reshard, a failover).
 * - `FailoverObserved`: a shard's primary changed (cluster), with the old
 *   and the new primary.
 * - `SentinelSwitch`: the sentinels moved the client to another primary.
 * - `RefreshDone`: a topology refresh finished (`changed` says whether it
 *   found anything new), with what triggered it.
 * - `Connection`: a connection lifecycle event of one node (opened, ready,
 *   disconnected, closed, replaced) from the node registry.
 *
 * Pure data; nothing here observes anything.
 *
 * @since 0.1.0
 */
import type * as NodeRegistry from "./NodeRegistry.ts"

/**
 * A contiguous range of slots, both ends included.
 *
 * @category models
 * @since 0.1.0
 */
export type SlotRange = readonly [start: number, end: number]

/**
 * @category models
 * @since 0.1.0
 */
export type TopologyEvent =
  | { readonly _tag: "NodeAdded"; readonly node: string; readonly role: "primary" | "replica" }
  | { readonly _tag: "NodeRemoved"; readonly node: string }
  | {
    readonly _tag: "SlotsMoved"
    readonly ranges: ReadonlyArray<SlotRange>
    readonly from: string | undefined
    readonly to: string | undefined
  }
  | { readonly _tag: "FailoverObserved"; readonly from: string; readonly to: string }
  | { readonly _tag: "SentinelSwitch"; readonly masterName: string; readonly from: string | undefined; readonly to: string }
  | { readonly _tag: "RefreshDone"; readonly trigger: string; readonly changed: boolean }
  | { readonly _tag: "Connection"; readonly event: NodeRegistry.NodeEvent }

/**
 * Wraps a node registry event.
 *
 * @category constructors
 * @since 0.1.0
 */
export const connection = (event: NodeRegistry.NodeEvent): TopologyEvent => ({ _tag: "Connection", event })
