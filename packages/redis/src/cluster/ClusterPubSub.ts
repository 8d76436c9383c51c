/**
 * Pub/sub on a cluster: subscriptions that follow the owner of their slot.
 *
 * A subscription lives on the node that serves its slot (the first
 * channel's slot for classic channels: their messages reach every node, so
 * this only spreads the load): the primary, or a replica when the read-from
 * policy sends reads there. When a refresh gives that slot another owner — a
 * failover, a migration — the stream switches to the new owner: it
 * subscribes there and unsubscribes from the old one. Every switch counts as
 * a gap in `generation` (and, for streams with gap events, is announced as a
 * `moved` gap).
 *
 * Each node gets one subscriber connection, opened by its first
 * subscription and closed when the node leaves the cluster (`retain`). While
 * one of them is down, the topology is asked for a refresh every 250 ms
 * (rate-limited by the topology), so a failover is noticed even when no
 * command flows.
 *
 * Nothing here sends ordinary commands; PUBLISH and SPUBLISH are routed like
 * any keyed command.
 *
 * @since 0.1.0
 */
import type * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Scope from "effect/Scope"
import * as Stream from "effect/Stream"
import * as Address from "../Address.ts"
import * as Commands from "../Commands.ts"
import * as PubSub from "../PubSub.ts"
import * as RedisConfig from "../RedisConfig.ts"
import * as RedisError from "../RedisError.ts"
import { Transport } from "../Transport.ts"
import * as ClusterRouter from "./ClusterRouter.ts"
import * as ClusterSlot from "./ClusterSlot.ts"
import type * as ClusterTopology from "./ClusterTopology.ts"

/**
 * @category models
 * @since 0.1.0
 */
export interface ClusterPubSub {
  /** Subscriptions that follow their slot's owner. */
  readonly pubsub: PubSub.PubSub
  /** The subscriber connection of one node, opened on first use. */
  readonly forNode: (address: Address.Address) => Effect.Effect<PubSub.PubSub>
  /** The subscriber connection of one node if it was opened. */
  readonly ofNode: (address: Address.Address) => PubSub.PubSub | undefined
  /** Closes the subscriber connections of nodes not in `live` (`host:port`). */
  readonly retain: (live: ReadonlySet<string>) => Effect.Effect<void>
}

interface Entry {
  readonly pubsub: PubSub.PubSub
  readonly scope: Scope.Closeable
}

// Where a slot's subscriptions go: where the router sends a keyless read of
// that slot (its primary unless reads go to replicas).
const PROBE = Commands.ping()

const crossShard = (kind: PubSub.Kind, slot: number) =>
  kind === "shard" && slot === -2
    ? Stream.fail(RedisError.make(
      new RedisError.CrossSlot({ message: "shard channels of one SSUBSCRIBE must share a slot" }),
      "NotSent",
      "SSUBSCRIBE"
    ))
    : undefined

/**
 * Builds the cluster's pub/sub; subscriber connections live in the current
 * scope.
 *
 * @category constructors
 * @since 0.1.0
 */
export const make = (io: {
  readonly topology: ClusterTopology.Topology
  readonly router: ClusterRouter.Router
  /** The connection options of a node. */
  readonly options: (address: Address.Address) => RedisConfig.ConnectionOptions
  /** The client's default bound of each subscription (`subscriptionBuffer`). */
  readonly subscriptionBuffer?: PubSub.BufferOptions | undefined
  readonly transport: Context.Service.Shape<typeof Transport>
}): Effect.Effect<ClusterPubSub, never, Scope.Scope> =>
  Effect.gen(function*() {
    const scope = yield* Effect.scope
    const { router, topology } = io
    const nodes = new Map<string, Entry>()

    const forNode = (a: Address.Address): Effect.Effect<PubSub.PubSub> =>
      Effect.suspend(() => {
        const key = Address.format(a)
        const existing = nodes.get(key)
        if (existing !== undefined) return Effect.succeed(existing.pubsub)
        return Effect.gen(function*() {
          const nodeScope = yield* Scope.fork(scope)
          // A subscriber queues while it (re)connects: its SUBSCRIBEs must
          // wait for the connection, not fail fast like routed commands.
          const pubsub = yield* PubSub.make({
            ...io.options(a),
            offline: RedisConfig.defaultOffline,
            subscriptionBuffer: io.subscriptionBuffer
          }, {
            onDisconnect: () => topology.requestRefresh("connection-failures"),
            // A shard channel's slot moved away: the refresh gives the
            // stream its new owner.
            onServerUnsubscribe: () => topology.requestRefresh("moved")
          }).pipe(Scope.provide(nodeScope), Effect.provideService(Transport, io.transport))
          // Another fiber may have made one meanwhile: keep the first (its
          // connection opens only with a subscription, so the other is idle).
          const raced = nodes.get(key)
          if (raced !== undefined) {
            yield* Scope.close(nodeScope, Exit.void)
            return raced.pubsub
          }
          nodes.set(key, { pubsub, scope: nodeScope })
          return pubsub
        })
      })

    let switches = 0
    // Drops counted by subscriber connections already closed (nodes that
    // left), so `dropped` only grows.
    let retiredDropped = 0
    // `switchMap` relays through a small queue that waits, so a slow
    // consumer pushes back to the node's bounded subscription buffer.
    const following = (
      kind: PubSub.Kind,
      names: ReadonlyArray<string>,
      slot: number,
      gaps: boolean,
      buffer: PubSub.BufferOptions | undefined
    ): Stream.Stream<PubSub.Event, RedisError.RedisError> =>
      follow<PubSub.Event>(
        slot,
        (ps) =>
          gaps && ps.subscribeEvents !== undefined
            ? ps.subscribeEvents(kind, names, buffer)
            : ps.subscribe(kind, names, buffer),
        gaps ? { kind: "gap", reason: "moved", subscription: kind, names } : undefined
      )
    // The subscription `on` a node's subscriber connection, made again on the
    // slot owner's whenever a refresh gives the slot another owner; `gap` is
    // announced at each move.
    const follow = <A>(
      slot: number,
      on: (ps: PubSub.PubSub) => Stream.Stream<A, RedisError.RedisError>,
      gap: A | undefined
    ): Stream.Stream<A, RedisError.RedisError> =>
      topology.changes.pipe(
        Stream.map((snapshot) => router.route(snapshot, PROBE, slot)),
        Stream.changesWith((a, b) => a === b || (a !== undefined && b !== undefined && Address.equals(a, b))),
        Stream.zipWithIndex,
        Stream.switchMap(([owner, index]) => {
          if (index > 0) switches++
          if (owner === undefined) return Stream.fail(ClusterRouter.uncovered(slot))
          const here: Stream.Stream<A, RedisError.RedisError> = Stream.unwrap(Effect.map(forNode(owner), on))
          return gap !== undefined && index > 0 ? Stream.concat(Stream.succeed(gap), here) : here
        })
      )
    const bytesUnsupported = Stream.fail(RedisError.notSupported("binary subscriptions are not supported by this node's PubSub"))

    const pubsub: PubSub.PubSub = {
      subscribe: (kind, names, buffer) => {
        const slot = ClusterSlot.slotOfKeys(names)
        return crossShard(kind, slot) ??
          (following(kind, names, slot < 0 ? 0 : slot, false, buffer) as Stream.Stream<
            PubSub.Message,
            RedisError.RedisError
          >)
      },
      subscribeEvents: (kind, names, buffer) => {
        const slot = ClusterSlot.slotOfKeys(names)
        return crossShard(kind, slot) ?? following(kind, names, slot < 0 ? 0 : slot, true, buffer)
      },
      subscribeBytes: (kind, names, buffer) => {
        const slot = ClusterSlot.slotOfKeys(names)
        return crossShard(kind, slot) ??
          follow(slot < 0 ? 0 : slot, (ps) => ps.subscribeBytes?.(kind, names, buffer) ?? bytesUnsupported, undefined)
      },
      generation: () => {
        let sum = switches
        for (const entry of nodes.values()) sum += entry.pubsub.generation()
        return sum
      },
      dropped: () => {
        let sum = retiredDropped
        for (const entry of nodes.values()) sum += entry.pubsub.dropped?.() ?? 0
        return sum
      }
    }

    // While a subscriber connection is down, keep refreshing the topology
    // (rate-limited) so a failover is noticed even when no command flows.
    yield* Effect.forkIn(
      Effect.forever(Effect.andThen(Effect.sleep("250 millis"), Effect.sync(() => {
        for (const entry of nodes.values()) {
          const status = entry.pubsub.status?.()
          if (status !== undefined && status !== "ready" && status !== "closed") {
            topology.requestRefresh("connection-failures")
            return
          }
        }
      }))),
      scope
    )

    return {
      pubsub,
      forNode,
      ofNode: (a) => nodes.get(Address.format(a))?.pubsub,
      retain: (live) =>
        Effect.suspend(() => {
          const closing: Array<Scope.Closeable> = []
          for (const [key, entry] of nodes) {
            if (live.has(key)) continue
            retiredDropped += entry.pubsub.dropped?.() ?? 0
            nodes.delete(key)
            closing.push(entry.scope)
          }
          return Effect.forEach(closing, (s) => Scope.close(s, Exit.void), { discard: true })
        })
    }
  })
