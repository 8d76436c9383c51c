/**
 * The cluster's shape as the client believes it: which shard owns each of
 * the 16384 slots, and which nodes serve each shard.
 *
 * The topology is an immutable `Snapshot` with an epoch, readable at once on
 * the hot path and watchable as a `Stream` (a `SubscriptionRef`). Refreshes
 * are single-flight (callers that ask while one runs share its result) and
 * rate-limited; each asks several nodes (`CLUSTER SHARDS`, falling back to
 * `CLUSTER SLOTS`) and a pure consensus function picks the view most of them
 * report; a round ends as soon as a majority of its nodes agree, without
 * waiting for a slow or stopped one. A round that gave no usable view is
 * followed by one twice as wide, so a refresh among many dead nodes takes a
 * few rounds, not one per `sampleSize` nodes. Startup nodes are shuffled
 * with the last failing node tried last, so many clients do not stampede
 * one node. Every finished refresh is published on `refreshes` with its
 * trigger and the snapshots before and after it (the cluster's topology
 * events are derived from these).
 *
 * A `MOVED` reply patches one slot at once (`patchSlot`) until the next
 * refresh replaces the table. Background refreshes (`requestRefresh`, the
 * periodic schedule) run on fibers of the scope `make` runs in.
 *
 * This module does not send user commands and does not decide where a read
 * goes: that is the router's job. It does not know how a node is asked
 * either: `query` is a function field.
 *
 * @since 0.1.0
 */
import * as Clock from "effect/Clock"
import * as Deferred from "effect/Deferred"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Latch from "effect/Latch"
import * as PubSub from "effect/PubSub"
import * as Schedule from "effect/Schedule"
import type * as Scope from "effect/Scope"
import * as Stream from "effect/Stream"
import * as SubscriptionRef from "effect/SubscriptionRef"
import * as Address_ from "../Address.ts"
import * as RedisError from "../RedisError.ts"
import { SLOTS } from "./ClusterSlot.ts"
import * as View from "./ClusterView.ts"

/**
 * Why a refresh was asked for (Lettuce's adaptive refresh triggers).
 *
 * @category models
 * @since 0.1.0
 */
export type Trigger =
  | "startup"
  | "moved"
  | "ask"
  | "uncovered-slot"
  | "unknown-node"
  | "connection-failures"
  | "readonly"
  | "cluster-down"
  | "periodic"
  | "manual"

/**
 * One immutable picture of the cluster.
 *
 * @category models
 * @since 0.1.0
 */
export interface Snapshot {
  /** Increases with every refresh that changed the view. */
  readonly epoch: number
  readonly view: View.View
  readonly table: View.SlotTable
  /** What made this snapshot. */
  readonly trigger: Trigger
  readonly refreshedAt: number
}

/**
 * A node's address: the one `Address` of the client, named here too.
 *
 * @category models
 * @since 0.1.0
 */
export type Address = Address_.Address

/**
 * A finished refresh: what asked for it, whether the view changed, and the
 * snapshots on either side.
 *
 * @category models
 * @since 0.1.0
 */
export interface Refresh {
  readonly trigger: Trigger
  readonly changed: boolean
  readonly before: Snapshot
  readonly after: Snapshot
}

/**
 * @category models
 * @since 0.1.0
 */
export interface Topology {
  /** The snapshot now (a plain read: safe on the hot path). */
  readonly current: () => Snapshot
  /** Every new snapshot, starting with the current one. */
  readonly changes: Stream.Stream<Snapshot>
  /** Refreshes now (single-flight; at most once per `minRefreshInterval`). */
  readonly refresh: (trigger: Trigger) => Effect.Effect<Snapshot, RedisError.RedisError>
  /** Asks for a refresh without waiting for it (a no-op while one runs or is asked for). */
  readonly requestRefresh: (trigger: Trigger) => void
  /** Every finished refresh, from the moment of subscription. */
  readonly refreshes: Stream.Stream<Refresh>
  /** A MOVED reply: `slot` is now served by `address`, until the next refresh. */
  readonly patchSlot: (slot: number, address: Address) => void
  /** The patched owner of a slot, if a MOVED patched it since the last refresh. */
  readonly patched: (slot: number) => Address | undefined
  /** How many slots are patched now (0 on the hot path after a refresh). */
  readonly patchCount: () => number
}

/**
 * @category models
 * @since 0.1.0
 */
export interface TopologyOptions {
  readonly startupNodes: ReadonlyArray<Address>
  /** Reads one node's view of the cluster. */
  readonly query: (address: Address) => Effect.Effect<View.View, RedisError.RedisError>
  /** Refuse a view that does not cover every slot (default true). */
  readonly requireFullCoverage?: boolean | undefined
  /** After startup, ask the nodes the cluster reports rather than only the startup list (default true). */
  readonly dynamicStartupNodes?: boolean | undefined
  /** Least time between two refreshes, in milliseconds (default 100). */
  readonly minRefreshInterval?: number | undefined
  /** How many nodes a refresh asks at once (default 3). */
  readonly sampleSize?: number | undefined
  /** Also refresh by this schedule, in the background; off by default. */
  readonly periodicRefresh?: Schedule.Schedule<unknown> | undefined
}

const shuffle = <A>(items: ReadonlyArray<A>): Array<A> => {
  const out = [...items]
  for (let i = out.length - 1; i > 0; i--) {
    const j = Math.floor(Math.random() * (i + 1))
    const t = out[i]
    out[i] = out[j]
    out[j] = t
  }
  return out
}

const describeFailure = (address: Address, error: RedisError.RedisError) =>
  `${Address_.format(address)}: ${error.reason._tag} (${(error.reason as { readonly message?: string }).message ?? ""})`

// How views are read: the candidates in order, the rounds of `sampleSize`
// queries, the consensus of a round. Remembers the last node that failed.
const reader = (options: TopologyOptions) => {
  const requireFull = options.requireFullCoverage ?? true
  const dynamic = options.dynamicStartupNodes ?? true
  const sampleSize = Math.max(1, options.sampleSize ?? 3)
  let lastFailing: string | undefined

  // Candidates: startup nodes (and, when dynamic, every node of the current
  // view), shuffled, the last node that failed us at the end.
  const candidates = (snapshot: Snapshot | undefined): Array<Address> => {
    const seen = new Map<string, Address>()
    if (snapshot !== undefined && dynamic) {
      for (const node of View.nodes(snapshot.view)) {
        if (node.health !== "failed") seen.set(Address_.format(node), node)
      }
    }
    for (const a of options.startupNodes) seen.set(Address_.format(a), a)
    const list = shuffle([...seen.values()])
    if (lastFailing !== undefined) {
      const i = list.findIndex((a) => Address_.format(a) === lastFailing)
      if (i >= 0) list.push(...list.splice(i, 1))
    }
    return list
  }

  const acceptable = (view: View.View): string | undefined => {
    const covered = View.coverage(view)
    if (covered === 0) return "the node serves no slots"
    if (requireFull && covered < SLOTS) return `only ${covered} of ${SLOTS} slots are covered`
    return undefined
  }

  // One round: every node of `round` asked at once. It ends as soon as a
  // majority of the round has given the same acceptable view (2 of 3), and
  // the queries still running are interrupted: a refresh does not wait for
  // its slowest node (a stopped or starved one would hold it for its whole
  // timeout). Otherwise it ends when every query has. Every query is started
  // before the round can end (each fork runs at once up to its first wait),
  // so a round always asks all of its nodes. Entries of queries cut short
  // stay undefined.
  const askRound = (round: ReadonlyArray<Address>) =>
    Effect.scoped(Effect.gen(function*() {
      const exits = new Array<Exit.Exit<View.View, RedisError.RedisError> | undefined>(round.length)
      const need = Math.floor(round.length / 2) + 1
      const votes = new Map<string, number>()
      let settled = 0
      const done = Deferred.makeUnsafe<void>()
      for (let j = 0; j < round.length; j++) {
        yield* Effect.forkScoped(Effect.flatMap(Effect.exit(options.query(round[j])), (exit) =>
          Effect.sync(() => {
            exits[j] = exit
            settled++
            let agreed = false
            if (Exit.isSuccess(exit) && acceptable(exit.value) === undefined) {
              const key = View.signature(exit.value)
              const count = (votes.get(key) ?? 0) + 1
              votes.set(key, count)
              agreed = count >= need
            }
            if (agreed || settled === round.length) Deferred.doneUnsafe(done, Exit.void)
          })), { startImmediately: true })
      }
      yield* Deferred.await(done)
      return exits
    }))

  // Asks nodes in rounds until at least one acceptable view comes back;
  // returns the consensus of the views of that round. The first round asks
  // `sampleSize` nodes and each next one twice as many as the last: every
  // candidate is still asked before the refresh fails, but in
  // log2(candidates / sampleSize) rounds, each as long as its slowest
  // failure (a connect timeout), not in candidates / sampleSize of them
  // (34 at 100 nodes).
  return (snapshot: Snapshot | undefined): Effect.Effect<View.View, RedisError.RedisError> =>
    Effect.gen(function*() {
      const list = candidates(snapshot)
      const failures: Array<string> = []
      for (let i = 0, size = sampleSize; i < list.length; i += size, size *= 2) {
        const round = list.slice(i, i + size)
        const exits = yield* askRound(round)
        const views: Array<View.View> = []
        exits.forEach((exit, j) => {
          if (exit === undefined) return
          if (Exit.isSuccess(exit)) {
            const why = acceptable(exit.value)
            if (why === undefined) views.push(exit.value)
            else failures.push(`${Address_.format(round[j])}: ${why}`)
          } else {
            lastFailing = Address_.format(round[j])
            const error = RedisError.failureOf(exit)
            failures.push(
              error !== undefined ? describeFailure(round[j], error) : `${Address_.format(round[j])}: interrupted or died`
            )
          }
        })
        const chosen = View.consensus(views)
        if (chosen !== undefined) return chosen
      }
      return yield* Effect.fail(RedisError.make(
        new RedisError.ConnectionError({
          message: `no cluster node gave a usable topology; tried ${failures.join("; ")}`
        }),
        "NotSent"
      ))
    })
}

/**
 * Reads the first topology (trying every startup node until one answers) and
 * returns the topology service. Fails with `ConnectionError` naming every node
 * tried and why when none answers. Background refreshes run in the scope.
 *
 * @category constructors
 * @since 0.1.0
 */
export const make = (options: TopologyOptions): Effect.Effect<Topology, RedisError.RedisError, Scope.Scope> =>
  Effect.gen(function*() {
    const scope = yield* Effect.scope
    const minInterval = options.minRefreshInterval ?? 100
    const fetch = reader(options)
    let patches = new Map<number, Address>()

    const first = yield* fetch(undefined)
    const initial: Snapshot = {
      epoch: 1,
      view: first,
      table: View.slotTable(first),
      trigger: "startup",
      refreshedAt: yield* Clock.currentTimeMillis
    }
    let current = initial
    const ref = yield* SubscriptionRef.make(initial)
    // Publishing with no subscriber drops the value: nothing accumulates.
    const refreshes = yield* PubSub.unbounded<Refresh>()

    let inFlight: Deferred.Deferred<Snapshot, RedisError.RedisError> | undefined

    // Time comes from the Effect Clock so tests can drive the rate limit with
    // the TestClock.
    const install = (view: View.View, trigger: Trigger): Effect.Effect<Snapshot> =>
      Effect.flatMap(Clock.currentTimeMillis, (now) => {
        const before = current
        const changed = View.signature(view) !== View.signature(before.view)
        const next: Snapshot = {
          epoch: changed ? before.epoch + 1 : before.epoch,
          view,
          table: changed ? View.slotTable(view) : before.table,
          trigger,
          refreshedAt: now
        }
        current = next
        // A fresh table supersedes every MOVED patch.
        if (patches.size > 0) patches = new Map()
        PubSub.publishUnsafe(refreshes, { trigger, changed, before, after: next })
        return changed ? Effect.as(SubscriptionRef.set(ref, next), next) : Effect.succeed(next)
      })

    const refresh = (trigger: Trigger): Effect.Effect<Snapshot, RedisError.RedisError> =>
      Effect.suspend(() => {
        if (inFlight !== undefined) return Deferred.await(inFlight)
        const deferred = Deferred.makeUnsafe<Snapshot, RedisError.RedisError>()
        inFlight = deferred
        const run = Effect.gen(function*() {
          const wait = current.refreshedAt + minInterval - (yield* Clock.currentTimeMillis)
          if (wait > 0) yield* Effect.sleep(wait)
          const view = yield* fetch(current)
          return yield* install(view, trigger)
        }).pipe(
          Effect.onExit((exit) =>
            Effect.sync(() => {
              inFlight = undefined
              Deferred.doneUnsafe(deferred, exit)
            })
          )
        )
        // The refresh runs on a fiber of the topology's scope: a caller
        // that is interrupted leaves it running for the other waiters.
        return Effect.andThen(Effect.forkIn(run, scope), Deferred.await(deferred))
      })

    // `requestRefresh` is called from plain code (a redirect handler on the
    // hot path), so it only records the trigger and opens a latch; one
    // fiber of the scope waits on the latch and runs the refresh. A burst of
    // requests is one refresh, with the first request's trigger.
    let requested: Trigger | undefined
    const wake = yield* Latch.make(false)
    yield* Effect.forkIn(
      Effect.forever(Effect.andThen(
        wake.await,
        Effect.suspend(() => {
          wake.closeUnsafe()
          const trigger = requested ?? "manual"
          requested = undefined
          return Effect.ignore(refresh(trigger))
        })
      )),
      scope
    )
    if (options.periodicRefresh !== undefined) {
      yield* Effect.forkIn(
        Effect.repeat(Effect.ignore(Effect.suspend(() => refresh("periodic"))), options.periodicRefresh),
        scope
      )
    }

    return {
      current: () => current,
      changes: SubscriptionRef.changes(ref),
      refresh,
      requestRefresh: (trigger) => {
        if (inFlight !== undefined || requested !== undefined) return
        requested = trigger
        wake.openUnsafe()
      },
      refreshes: Stream.fromPubSub(refreshes),
      patchSlot: (slot, address) => {
        patches.set(slot, address)
      },
      patched: (slot) => patches.get(slot),
      patchCount: () => patches.size
    }
  })
