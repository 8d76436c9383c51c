/**
 * Sends a cluster command to the node that serves its slot and follows what
 * the cluster answers, until a reply or a failure that must surface:
 *
 * - `MOVED`: the slot is patched at once, a refresh is requested, and the
 *   command goes to the new owner (it never ran, so this is always safe).
 * - `ASK`: `ASKING` and the command go to the target in one write; no patch.
 *   A transaction or blocking command refused with ASK runs once on the
 *   target, ASKING written before each of its requests (before MULTI, the
 *   flag holds for the whole transaction).
 * - `TRYAGAIN`, `CLUSTERDOWN`, `LOADING`, `MASTERDOWN`, `READONLY` and lost
 *   connections go through the retry `Schedule` and request a refresh.
 *
 * Every resend decision is `Delivery.decide(command, error, "nodes")`:
 * `Redirect` within the redirect budget (`maxRedirects`), `Retry` by the
 * schedule, `Fail` surfaces. A pipeline is grouped per node (one write per
 * node); its members answered with MOVED are regrouped by their new owners
 * once, and what still fails but may be resent goes again on its own.
 *
 * The I/O is function fields (`send`, `sendAll`, `dedicated`, `route`,
 * `patchSlot`, `requestRefresh`): the loop is tested with a fake
 * `send` and the `TestClock`. Nothing here knows how nodes are connected,
 * what the topology is, or where keyless commands fan out.
 *
 * @since 0.1.0
 */
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import type * as Schedule from "effect/Schedule"
import * as Address from "../Address.ts"
import type { Command } from "../Command.ts"
import * as Cmd from "../Command.ts"
import type * as Connection from "../Connection.ts"
import * as Delivery from "../Delivery.ts"
import type * as Middleware from "../Middleware.ts"
import * as RedisError from "../RedisError.ts"
import type { Arg } from "../Resp.ts"
import * as ClusterRouter from "./ClusterRouter.ts"
import * as ClusterSlot from "./ClusterSlot.ts"
import type * as ClusterTopology from "./ClusterTopology.ts"

/**
 * What the executor needs from the rest of the client.
 *
 * @category models
 * @since 0.1.0
 */
export interface Io {
  /** One command on a node's shared connection. */
  readonly send: <A>(address: Address.Address, command: Command<A>) => Effect.Effect<A, RedisError.RedisError>
  /** Several commands in one write on a node's shared connection; one `Exit` each. */
  readonly sendAll: (
    address: Address.Address,
    commands: ReadonlyArray<Command<unknown>>
  ) => Effect.Effect<Middleware.Exits>
  /** Runs `f` on a dedicated connection of a node. */
  readonly dedicated: <A, E, R>(
    address: Address.Address,
    f: (connection: Connection.Connection) => Effect.Effect<A, E, R>
  ) => Effect.Effect<A, E | RedisError.RedisError, R>
  /** The node for `command` on `slot` now (MOVED patches included); `undefined`: no node serves it. */
  readonly route: (command: Command<unknown>, slot: number) => Address.Address | undefined
  /** A MOVED reply: `slot` is served by `address` until the next refresh. */
  readonly patchSlot: (slot: number, address: Address.Address) => void
  /** Asks for a topology refresh without waiting. */
  readonly requestRefresh: (trigger: ClusterTopology.Trigger) => void
  /** Rewrites the address a redirect names (NAT); the identity by default. */
  readonly remap?: ((address: Address.Address) => Address.Address) | undefined
  /** The retry of what `Delivery.decide` calls `Retry`. */
  readonly retry: Schedule.Schedule<unknown, RedisError.RedisError>
  /** Redirects (MOVED/ASK) one attempt may follow. */
  readonly maxRedirects: number
  /** Also request a refresh every N MOVED replies (redis-py's `reinitialize_steps`). */
  readonly reinitializeSteps?: number | undefined
}

/**
 * @category models
 * @since 0.1.0
 */
export interface Executor {
  /** Runs `command` on the node of `slot` (`-1`: any node), following redirects and retrying. */
  readonly execute: <A>(command: Command<A>, slot: number) => Effect.Effect<A, RedisError.RedisError>
  /**
   * A pipeline: keyed members grouped per node, one write per node; keyless
   * ones, and members that failed but may be resent, go through `resend`.
   */
  readonly executeAll: (
    commands: ReadonlyArray<Command<unknown>>,
    resend: (command: Command<unknown>) => Effect.Effect<unknown, RedisError.RedisError>
  ) => Effect.Effect<Middleware.Exits>
  /** Runs `f` on a dedicated connection of the node serving `keys` (ASKING on a migrating slot). */
  readonly withDedicated: <A, E, R>(
    keys: ReadonlyArray<Arg>,
    f: (connection: Connection.Connection) => Effect.Effect<A, E, R>
  ) => Effect.Effect<A, E | RedisError.RedisError, R>
}

/**
 * `ASKING`: the next command may use a slot this node is importing.
 *
 * @category commands
 * @since 0.1.0
 */
export const ASKING: Command<void> = Cmd.unsafeMake("ASKING", ["ASKING"], [], Cmd.Flags.NO_KEYS, Cmd.Reply.ok)

// The write a dedicated connection is routed by: not a read, so the
// read-from policy never sends it to a replica.
const PRIMARY_PROBE = Cmd.unsafeMake("PING", ["PING"], [], Cmd.Flags.NO_KEYS, Cmd.Reply.string)

const askingFirst = <A>(exits: ReadonlyArray<Exit.Exit<unknown, RedisError.RedisError>>, i: number) =>
  (Exit.isFailure(exits[0]) ? exits[0] : exits[i]) as Exit.Exit<A, RedisError.RedisError>

/**
 * A connection that writes ASKING in the same write before every request
 * (for a dedicated connection on a migrating slot). The ASKING replies are
 * dropped; a refused ASKING fails the request it preceded.
 *
 * @category combinators
 * @since 0.1.0
 */
export const asking = (c: Connection.Connection): Connection.Connection => ({
  ...c,
  send: (command) => Effect.flatMap(c.sendAll([ASKING, command]), (exits) => askingFirst(exits, 1)),
  sendAll: (commands) =>
    Effect.map(c.sendAll([ASKING, ...commands]), (exits) => {
      const head = exits[0]
      return Exit.isFailure(head) ? exits.slice(1).map(() => head) : exits.slice(1)
    })
})

const identity = (a: Address.Address) => a

/**
 * The topology refresh a failure asks for, whatever becomes of the command:
 * lost connections and timeouts, CLUSTERDOWN and TRYAGAIN, READONLY and
 * MASTERDOWN (a failover under way); none for other failures.
 *
 * @category policy
 * @since 0.1.0
 */
export const refreshTrigger = (error: RedisError.RedisError): ClusterTopology.Trigger | undefined => {
  switch (error.reason._tag) {
    case "ConnectionError":
    case "Timeout":
      return "connection-failures"
    case "ClusterDown":
    case "TryAgain":
      return "cluster-down"
    case "ReadOnly":
    case "MasterDown":
      return "readonly"
    default:
      return undefined
  }
}

// What the three parts of an executor share: the I/O, and what a MOVED or a
// failure does to the topology.
interface Shared extends Io {
  readonly remap: (address: Address.Address) => Address.Address
  readonly onMoved: (slot: number, target: Address.Address) => void
  readonly noteFailure: (error: RedisError.RedisError) => void
}

const shared = (io: Io): Shared => {
  const steps = io.reinitializeSteps
  let movedSinceRefresh = 0
  return {
    ...io,
    remap: io.remap ?? identity,
    onMoved: (slot, target) => {
      io.patchSlot(slot, target)
      if (steps !== undefined && ++movedSinceRefresh >= steps) {
        movedSinceRefresh = 0
        io.requestRefresh("moved")
      }
      io.requestRefresh("moved")
    },
    noteFailure: (error) => {
      const trigger = refreshTrigger(error)
      if (trigger !== undefined) io.requestRefresh(trigger)
    }
  }
}

// One command: redirects within the budget, then the retry schedule.
const single = (s: Shared): Executor["execute"] => {
  // Read once: the hot path calls plain closures, not properties of `s`.
  const { maxRedirects, noteFailure, onMoved, remap, requestRefresh, retry, route, send, sendAll } = s

  const askTo = <A>(target: Address.Address, command: Command<A>): Effect.Effect<A, RedisError.RedisError> =>
    Effect.flatMap(sendAll(target, [ASKING, command]), (exits) => exits[1] as Exit.Exit<A, RedisError.RedisError>)

  // One attempt, following redirects within the budget.
  const attempt = <A>(command: Command<A>, slot: number, redirects: number): Effect.Effect<A, RedisError.RedisError> => {
    const a = route(command, slot)
    if (a === undefined) {
      requestRefresh("uncovered-slot")
      return Effect.fail(ClusterRouter.uncovered(slot))
    }
    return Effect.catch(send(a, command), (error) => onFailure(command, slot, redirects, error))
  }

  const onFailure = <A>(
    command: Command<A>,
    slot: number,
    redirects: number,
    error: RedisError.RedisError
  ): Effect.Effect<A, RedisError.RedisError> => {
    if (Delivery.decide(command, error, "nodes") !== "Redirect") {
      noteFailure(error)
      return Effect.fail(error)
    }
    const reason = error.reason as RedisError.Moved | RedisError.Ask
    const target = remap({ host: reason.host, port: reason.port })
    if (reason._tag === "Moved") {
      onMoved(reason.slot, target)
      if (redirects >= maxRedirects) return Effect.fail(error)
      return attempt(command, slot, redirects + 1)
    }
    requestRefresh("ask")
    if (redirects >= maxRedirects) return Effect.fail(error)
    return Effect.catch(askTo(target, command), (e) => onFailure(command, slot, redirects + 1, e))
  }

  const retryFrom = <A>(command: Command<A>, slot: number, error: RedisError.RedisError) =>
    Delivery.decide(command, error, "nodes") === "Retry"
      ? Delivery.retryAfter(error, () => attempt(command, slot, 0), {
        schedule: retry,
        // A retry that ends in a redirect past the budget is retried too.
        while: (e) => Delivery.decide(command, e, "nodes") !== "Fail"
      })
      : Effect.fail(error)

  // Hot path: one `catch` on the success path; redirects are followed, then
  // what still fails goes through the retry schedule if it is safe to.
  return <A>(command: Command<A>, slot: number): Effect.Effect<A, RedisError.RedisError> => {
    const a = route(command, slot)
    if (a === undefined) return Effect.catch(attempt(command, slot, 0), (e) => retryFrom(command, slot, e))
    return Effect.catch(send(a, command), (error) =>
      Effect.catch(onFailure(command, slot, 0, error), (e) => retryFrom(command, slot, e)))
  }
}

// Pipelines: one write per node; MOVED members regrouped once.
const pipeline = (s: Shared): Executor["executeAll"] => {
  const { maxRedirects, noteFailure, onMoved, remap, route, sendAll } = s

  // One write per node for `indexes`; fills `results`, or `later` for what
  // may be resent. With `follow`, MOVED members are patched and returned for
  // one more grouped round instead.
  const sendGrouped = (
    commands: ReadonlyArray<Command<unknown>>,
    indexes: ReadonlyArray<number>,
    results: Middleware.Exits,
    later: Array<number>,
    follow: boolean
  ): Effect.Effect<Array<number>> => {
    const groups = new Map<string, { readonly address: Address.Address; readonly indexes: Array<number> }>()
    for (const i of indexes) {
      const command = commands[i]
      const slot = ClusterRouter.slotOf(command)
      if (slot === -2) {
        results[i] = Exit.fail(ClusterRouter.crossSlot(command))
        continue
      }
      const a = route(command, slot)
      if (a === undefined) {
        later.push(i)
        continue
      }
      const key = Address.format(a)
      const group = groups.get(key)
      if (group === undefined) groups.set(key, { address: a, indexes: [i] })
      else group.indexes.push(i)
    }
    const moved: Array<number> = []
    const sorted = (group: { readonly indexes: Array<number> }, exits: Middleware.Exits) =>
      exits.forEach((exit, j) => {
        const i = group.indexes[j]
        const error = RedisError.failureOf(exit)
        if (error === undefined) {
          results[i] = exit
        } else if (follow && error.reason._tag === "Moved") {
          onMoved(error.reason.slot, remap({ host: error.reason.host, port: error.reason.port }))
          moved.push(i)
        } else if (Delivery.decide(commands[i], error, "nodes") !== "Fail") {
          noteFailure(error)
          later.push(i)
        } else {
          results[i] = exit
        }
      })
    return Effect.as(
      Effect.forEach(groups.values(), (group) =>
        Effect.map(sendAll(group.address, group.indexes.map((i) => commands[i])), (exits) => sorted(group, exits)), {
        concurrency: "unbounded",
        discard: true
      }),
      moved
    )
  }

  return (commands, resend) =>
    Effect.gen(function*() {
      const results: Middleware.Exits = new Array(commands.length)
      const later: Array<number> = []
      const members: Array<number> = []
      for (let i = 0; i < commands.length; i++) {
        const command = commands[i]
        if (command.invalid !== undefined) results[i] = Exit.fail(RedisError.invalidArgument(command.invalid, command.name))
        else if (command.keys.length === 0) later.push(i)
        else members.push(i)
      }
      const moved = yield* sendGrouped(commands, members, results, later, maxRedirects > 0)
      if (moved.length > 0) yield* sendGrouped(commands, moved, results, later, false)
      yield* Effect.forEach(later, (i) =>
        Effect.map(Effect.exit(resend(commands[i])), (exit) => {
          results[i] = exit
        }), { concurrency: "unbounded", discard: true })
      return results
    })
}

// A dedicated connection on the slot of some keys, following ASK and MOVED.
const dedicatedOn = (s: Shared): Executor["withDedicated"] => {
  const { dedicated, onMoved, remap, requestRefresh, route } = s
  return <A, E, R>(
    keys: ReadonlyArray<Arg>,
    f: (connection: Connection.Connection) => Effect.Effect<A, E, R>
  ): Effect.Effect<A, E | RedisError.RedisError, R> => {
    const slot = keys.length === 0 ? -1 : ClusterSlot.slotOfKeys(keys)
    if (slot === -2) {
      return Effect.fail(RedisError.make(
        new RedisError.CrossSlot({ message: "the keys of a transaction or blocking command must share a slot" }),
        "NotSent"
      ))
    }
    const once = Effect.suspend(() => {
      const a = route(PRIMARY_PROBE, slot)
      return a === undefined ? Effect.fail(ClusterRouter.uncovered(slot)) : dedicated(a, f)
    })
    // The slot is being migrated and a key already left: run `f` once on the
    // importing node, with ASKING before each request. ASKING sent right
    // before MULTI holds for the whole transaction (the server keeps the
    // flag while the client is in MULTI), so a queued transaction or a
    // blocking command runs there in full; nothing ran on the source. A slot
    // that moved is refused as a whole (MOVED at queue time): run once more
    // on the owner the MOVED names, patched like any MOVED. Not on the owner
    // a refresh would give: a refresh is what most of the sampled nodes
    // believe, and they may not have heard of the move yet.
    return Effect.catchIf(
      once,
      (e): e is RedisError.RedisError =>
        RedisError.isRedisError(e) && Delivery.decide(PRIMARY_PROBE, e, "nodes") === "Redirect",
      (e) => {
        if (e.reason._tag === "Ask") {
          requestRefresh("ask")
          return dedicated(remap({ host: e.reason.host, port: e.reason.port }), (c) => f(asking(c)))
        }
        const reason = e.reason as RedisError.Moved
        const target = remap({ host: reason.host, port: reason.port })
        onMoved(reason.slot, target)
        return dedicated(target, f)
      }
    )
  }
}

/**
 * Builds an executor over its I/O.
 *
 * @category constructors
 * @since 0.1.0
 */
export const make = (io: Io): Executor => {
  const s = shared(io)
  return { execute: single(s), executeAll: pipeline(s), withDedicated: dedicatedOn(s) }
}
