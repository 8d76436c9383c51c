/**
 * Every key of a cluster as one `Stream`, with each key emitted once even
 * while slots move.
 *
 * SCAN has no cluster-wide cursor, and keys move while a reshard runs. The
 * walk tracks slots: each primary is scanned for the slots it owned when its
 * walk began, and a slot counts as done only when, at the end of that walk,
 * that node's own `CLUSTER NODES` line still claims it and does not show it
 * migrating. The node's own line, not the topology: the topology is what a
 * majority of nodes believe, and they learn of a finished move by gossip.
 * Slots that moved or were migrating are scanned again on their owner in
 * the next round. Keys emitted from a slot that is not settled yet are
 * remembered, per slot, so a key that moved is not emitted twice (nor one
 * that SCAN itself repeats); a slot's keys are forgotten once it is
 * settled. Memory: the keys of the node being walked, not of the whole key
 * space.
 *
 * Each page is one `send` to one node (no redirects: a primary answers SCAN
 * for the keys it holds). Nothing here routes a command by its key.
 *
 * @since 0.1.0
 */
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import * as Stream from "effect/Stream"
import type * as Address from "../Address.ts"
import type { Command } from "../Command.ts"
import * as Cmd from "../Command.ts"
import * as Commands from "../Commands.ts"
import * as RedisError from "../RedisError.ts"
import * as ClusterRouter from "./ClusterRouter.ts"
import * as ClusterSlot from "./ClusterSlot.ts"
import type * as ClusterTopology from "./ClusterTopology.ts"
import * as View from "./ClusterView.ts"

/**
 * Rounds after which a walk whose slots keep moving gives up (`TryAgain`).
 *
 * @category constants
 * @since 0.1.0
 */
export const MAX_ROUNDS = 100

interface Walk {
  readonly primary: View.NodeInfo
  readonly slots: Set<number>
  cursor: string
}

interface State {
  readonly done: Set<number>
  /** Keys emitted per slot, for slots not yet done. */
  readonly seen: Map<number, Set<string>>
  readonly queue: Array<Walk>
  current: Walk | undefined
  round: number
}

const clusterNodes = Cmd.unsafeMake(
  "CLUSTER",
  ["CLUSTER", "NODES"],
  [],
  Cmd.Flags.NO_KEYS | Cmd.Flags.READONLY,
  (reply) => View.parseClusterNodes(Cmd.Reply.string(reply))
)

/**
 * The slots a node's own `CLUSTER NODES` line says it is migrating away.
 *
 * @category parsing
 * @since 0.1.0
 */
export const migratingSlots = (entries: ReadonlyArray<View.NodeEntry>): Set<number> => {
  const myself = entries.find((e) => e.myself)
  return new Set(myself === undefined ? [] : myself.migrating.map((m) => m.slot))
}

/**
 * Whether a node's `CLUSTER NODES` line claims the slot.
 *
 * @category parsing
 * @since 0.1.0
 */
export const ownsSlot = (entry: View.NodeEntry, slot: number): boolean =>
  entry.slots.some(([low, high]) => slot >= low && slot <= high)

/**
 * Builds the cluster-wide SCAN over one send per page and the topology.
 *
 * @category constructors
 * @since 0.1.0
 */
export const make = (io: {
  readonly send: <A>(address: Address.Address, command: Command<A>) => Effect.Effect<A, RedisError.RedisError>
  readonly topology: ClusterTopology.Topology
}) => {
  const { send, topology } = io

  // The next round: the slots not done yet, grouped by their owner now.
  const plan = (state: State): Effect.Effect<void, RedisError.RedisError> =>
    Effect.gen(function*() {
      if (++state.round > MAX_ROUNDS) {
        return yield* Effect.fail(RedisError.make(
          new RedisError.TryAgain({ message: `cluster SCAN: slots kept moving for ${MAX_ROUNDS} rounds` }),
          "NotSent",
          "SCAN"
        ))
      }
      // A round after the first waits a little: a migration is running.
      if (state.round > 1) yield* Effect.sleep("50 millis")
      const { table } = state.round > 1 ? yield* topology.refresh("manual") : topology.current()
      const byShard = new Map<number, Set<number>>()
      for (let slot = 0; slot < ClusterSlot.SLOTS; slot++) {
        if (state.done.has(slot)) continue
        const owner = table.owner[slot]
        if (owner < 0) continue
        const set = byShard.get(owner) ?? new Set<number>()
        set.add(slot)
        byShard.set(owner, set)
      }
      if (byShard.size === 0) return yield* Effect.fail(ClusterRouter.uncovered(-1))
      for (const [index, slots] of byShard) state.queue.push({ primary: table.shards[index].primary, slots, cursor: "0" })
    })

  // The walk of one node is over: which of its slots are settled? Only the
  // walked node's own `CLUSTER NODES` line answers that. The topology's view
  // is a majority of nodes, which may not have heard yet that the slot moved
  // away during the walk (the resharder tells the source and target first,
  // gossip tells the rest); trusting it loses the keys that moved.
  const settle = (state: State, walk: Walk): Effect.Effect<void, RedisError.RedisError> =>
    Effect.gen(function*() {
      const myself = (yield* send(walk.primary, clusterNodes)).find((e) => e.myself)
      if (myself === undefined) return
      const migrating = new Set(myself.migrating.map((m) => m.slot))
      for (const slot of walk.slots) {
        if (ownsSlot(myself, slot) && !migrating.has(slot)) {
          state.done.add(slot)
          state.seen.delete(slot)
        }
      }
    })

  const step = (
    state: State,
    options: Commands.ScanOptions | undefined
  ): Effect.Effect<readonly [ReadonlyArray<string>, Option.Option<State>], RedisError.RedisError> =>
    Effect.gen(function*() {
      if (state.current === undefined) {
        if (state.queue.length === 0) {
          if (state.done.size === ClusterSlot.SLOTS) return [[], Option.none()] as const
          yield* plan(state)
        }
        state.current = state.queue.shift()
      }
      const walk = state.current!
      const page = yield* send(walk.primary, Commands.scan(walk.cursor, options))
      const keys: Array<string> = []
      for (const key of page.items) {
        const slot = ClusterSlot.keyslot(key)
        if (!walk.slots.has(slot)) continue
        let emitted = state.seen.get(slot)
        if (emitted === undefined) state.seen.set(slot, emitted = new Set())
        else if (emitted.has(key)) continue
        emitted.add(key)
        keys.push(key)
      }
      if (page.cursor !== "0") {
        walk.cursor = page.cursor
        return [keys, Option.some(state)] as const
      }
      yield* settle(state, walk)
      state.current = undefined
      return [keys, Option.some(state)] as const
    })

  /** Every key of the cluster, primary by primary. */
  const scan = (options?: Commands.ScanOptions): Stream.Stream<string, RedisError.RedisError> =>
    Stream.unwrap(Effect.sync(() =>
      Stream.paginate<State, string, RedisError.RedisError>(
        { done: new Set(), seen: new Map(), queue: [], current: undefined, round: 0 },
        (state) => step(state, options)
      )
    ))

  return { scan }
}
