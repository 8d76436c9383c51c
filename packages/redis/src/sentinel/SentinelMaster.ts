/**
 * The master backend: `Redis` for the primary of a Sentinel-managed service,
 * following failovers.
 *
 * The switch is one state value (`MasterState`) changed only by a pure
 * `transition(state, input) -> { state, actions }`; the effectful shell
 * below feeds it inputs (sentinel events, `READONLY` replies, discovery
 * results, waiting commands, closing) and carries out its actions.
 *
 * `+switch-master` (or `+promoted-slave`), a `READONLY` reply, or a sentinel
 * naming another primary is evidence that the primary changed: the backend
 * stops using the old primary at once (no command is written to it, and a
 * reply it sends afterwards is not reported as a success), holds new
 * commands for a bounded time (`switchTimeout`) until the new primary
 * answers `ROLE master`, and sends them there. Commands that were queued but
 * never written move to the new primary (at most once); commands that were
 * written fail `Unknown`. A pipeline moves as a whole when none of it can
 * have run on the old primary; otherwise what was written fails `Unknown`
 * and the rest `NotSent` (it never hangs: every wait is bounded). An address
 * demoted by evidence is not accepted from a lagging sentinel for
 * `DEMOTED_MILLIS`.
 *
 * Before any of that, a planned failover announces the replica it will
 * promote (`+selected-slave`): from then the backend holds writes (reads go
 * on), confirms that the chosen replica has what the old primary
 * acknowledged (`WAIT` counting every replica, the chosen one still listed
 * by `ROLE`; a write acknowledged during the hold that it did not confirm
 * fails `Unknown`),
 * and watches the chosen replica until it answers as primary, so no write
 * reaches the old primary after the replica stopped following it
 * (`failoverHold`; docs/GUARANTEES.md, promise 17).
 *
 * It does not ask the sentinels itself (`SentinelDiscovery` does), and does
 * not make the server's asynchronous replication safe: writes acknowledged
 * by a primary before any sentinel announced its demotion (a primary that
 * dies, say) can still be lost by the server (docs/GUARANTEES.md).
 *
 * @since 0.1.0
 */
import * as Deferred from "effect/Deferred"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as EffectPubSub from "effect/PubSub"
import * as Queue from "effect/Queue"
import type * as Schedule from "effect/Schedule"
import type * as Scope from "effect/Scope"
import * as Stream from "effect/Stream"
import { type Command, Flags } from "../Command.ts"
import * as Commands from "../Commands.ts"
import * as Delivery from "../Delivery.ts"
import type * as PubSub from "../PubSub.ts"
import type * as Redis from "../Redis.ts"
import type * as RedisConfig from "../RedisConfig.ts"
import * as RedisError from "../RedisError.ts"
import * as TopologyEvent from "../TopologyEvent.ts"
import { Transport } from "../Transport.ts"
import type { Options, Switch } from "./Sentinel.ts"
import type { Cues, Discovery } from "./SentinelDiscovery.ts"
import { makeCues, masterNotFound, preciseNow, refreshPeriodically } from "./SentinelDiscovery.ts"
import type { SentinelEvent } from "./SentinelEvents.ts"
import { announcement, concerns, failoverStep, keyOf } from "./SentinelEvents.ts"
import type { Node, Nodes } from "./SentinelNodes.ts"
import { makeFollower, makeNodes, monitorOn, protocolOf } from "./SentinelNodes.ts"

// -----------------------------------------------------------------------------
// the switch: state, inputs, actions (pure)
// -----------------------------------------------------------------------------

/**
 * An address demoted by evidence is not accepted from a (lagging) sentinel
 * for this long, unless a sentinel announces a switch to it.
 *
 * @category constants
 * @since 0.1.0
 */
export const DEMOTED_MILLIS = 15_000

/**
 * What a primary is to the transition: its `host:port`. The shell's primary
 * is a `Node`; tests use plain records.
 *
 * @category models
 * @since 0.1.0
 */
export interface Primary {
  readonly address: string
}

/**
 * What made the backend stop using a primary, and when (`preciseNow`).
 *
 * @category models
 * @since 0.1.0
 */
export interface Evidence {
  readonly what: string
  readonly at: number
}

interface Common {
  readonly masterName: string
  /** Demoted address -> until when (`preciseNow` milliseconds) it is refused. */
  readonly demoted: ReadonlyMap<string, number>
  /** Whether writes are held while the sentinels promote a selected replica (`failoverHold` > 0). */
  readonly holds: boolean
  /**
   * The sentinels declared the primary in use down (`+odown`): the failover
   * that follows is not a planned one, and writes are not held for it (a
   * dead primary acknowledges nothing, and an automatic failover may select
   * a replica in one epoch and promote another in the next).
   */
  readonly down: boolean
}

/**
 * The state of the master backend. `N` is a primary, `G` a gate that held
 * commands wait on.
 *
 * - `Serving`: commands go to `primary`.
 * - `Holding`: the sentinels selected `replica` to replace `primary` and
 *   are about to promote it. Reads still go to `primary`; writes wait on
 *   `held`, so that none reaches `primary` after the replica stopped
 *   following it. It ends when the replica is promoted (to `Switching`,
 *   the same gate), the failover is aborted or the hold runs out (back to
 *   `Serving`, the held writes released to `primary`).
 * - `Switching`: `from` was retired (or there was none yet); commands wait
 *   on `held` until a verified primary is installed. `error` is the last
 *   failed attempt's, for the timeout message.
 * - `Vacant`: no verified primary and no command waiting: before the first
 *   discovery, or after an attempt failed with nothing else cued (the
 *   waiters were failed). The next command starts a new attempt.
 * - `Closed`: the layer's scope closed.
 *
 * @category models
 * @since 0.1.0
 */
export type MasterState<N extends Primary, G> =
  | Common & { readonly _tag: "Serving"; readonly primary: N }
  | Common & {
    readonly _tag: "Holding"
    readonly primary: N
    readonly replica: RedisConfig.Endpoint
    readonly evidence: Evidence
    readonly held: G
  }
  | Common & {
    readonly _tag: "Switching"
    readonly from: N | undefined
    readonly evidence: Evidence | undefined
    readonly held: G
    readonly error: RedisError.RedisError | undefined
  }
  | Common & {
    readonly _tag: "Vacant"
    readonly from: N | undefined
    readonly evidence: Evidence | undefined
    readonly error: RedisError.RedisError | undefined
  }
  | Common & { readonly _tag: "Closed" }

/**
 * What the shell tells the transition. `at` is `preciseNow()`; `gate` is a
 * fresh gate, kept only if the input starts holding commands.
 *
 * - `Event`: a sentinel published `event` (or a watcher reconnected).
 * - `Promoted`: the replica being promoted (`Holding`) answered `ROLE master`.
 * - `HoldExpired`: the hold that began at `since` ran out.
 * - `Refused`: `primary` answered `READONLY`: it was demoted.
 * - `Install`: discovery verified `address` as the primary.
 * - `Installed`: `primary`'s pool is open; commands may flow there.
 * - `Failed`: an attempt to find the primary failed (`pending`: another is
 *   already cued).
 * - `Await`: a command found no primary in use.
 * - `Close`: the layer's scope is closing.
 *
 * @category models
 * @since 0.1.0
 */
export type Input<N extends Primary, G> =
  | { readonly _tag: "Event"; readonly event: SentinelEvent; readonly at: number; readonly gate: G }
  | { readonly _tag: "Promoted"; readonly address: string; readonly at: number; readonly gate: G }
  | { readonly _tag: "HoldExpired"; readonly since: number }
  | { readonly _tag: "Refused"; readonly primary: N; readonly at: number; readonly gate: G }
  | { readonly _tag: "Install"; readonly address: string; readonly at: number; readonly gate: G }
  | { readonly _tag: "Installed"; readonly primary: N; readonly at: number }
  | { readonly _tag: "Failed"; readonly error: RedisError.RedisError | undefined; readonly pending: boolean }
  | { readonly _tag: "Await"; readonly gate: G }
  | { readonly _tag: "Close" }

/**
 * What the shell must do after a transition, in order.
 *
 * - `Retire`: stop using `primary` (its subscriptions move; its pool is
 *   closed by the next discovery round, which `Cue` starts).
 * - `Hold`: writes are held from `since`: confirm that what `primary`
 *   already acknowledged reached its replicas, and watch `replica` until it
 *   answers `ROLE master` (`Promoted`) or the hold runs out (`HoldExpired`).
 * - `Cue`: start a discovery round (`urgent`: interrupt the one in
 *   progress), trying `hint` first. Always the last action: the shell's cue
 *   may run the round at once, before `apply` returns.
 * - `Release`: the held commands go to `primary`.
 * - `Fail`: the held commands fail with `error`.
 * - `Publish`: `primary` is in use: record it (and the switch from `from`,
 *   if there was one) in `State`, and emit `SentinelSwitch`.
 *
 * @category models
 * @since 0.1.0
 */
export type Action<N extends Primary, G> =
  | { readonly _tag: "Retire"; readonly primary: N }
  | { readonly _tag: "Hold"; readonly primary: N; readonly replica: RedisConfig.Endpoint; readonly since: number }
  | {
    readonly _tag: "Cue"
    readonly urgent: boolean
    readonly hint: RedisConfig.Endpoint | undefined
    readonly reason: string
  }
  | { readonly _tag: "Release"; readonly gate: G; readonly primary: N }
  | { readonly _tag: "Fail"; readonly gate: G; readonly error: RedisError.RedisError }
  | {
    readonly _tag: "Publish"
    readonly primary: N
    readonly from: string | undefined
    readonly switch: Switch | undefined
  }

/**
 * @category models
 * @since 0.1.0
 */
export interface Step<N extends Primary, G> {
  readonly state: MasterState<N, G>
  readonly actions: ReadonlyArray<Action<N, G>>
}

/**
 * The error of commands held when the layer closes.
 *
 * @category errors
 * @since 0.1.0
 */
export const closedError: RedisError.RedisError = RedisError.make(
  new RedisError.Closed({ message: "the Sentinel client is closed" }),
  "NotSent"
)

/**
 * The state before the first discovery.
 *
 * @category constructors
 * @since 0.1.0
 */
export const initial = <N extends Primary, G>(masterName: string, holds = true): MasterState<N, G> => ({
  _tag: "Vacant",
  masterName,
  demoted: new Map(),
  holds,
  down: false,
  from: undefined,
  evidence: undefined,
  error: undefined
})

/**
 * Whether `address` was demoted less than `DEMOTED_MILLIS` before `now`
 * (and not announced as the primary since).
 *
 * @category predicates
 * @since 0.1.0
 */
export const isDemoted = (state: MasterState<Primary, unknown>, address: string, now: number): boolean => {
  const until = state.demoted.get(address)
  return until !== undefined && until > now
}

const NONE: ReadonlyArray<never> = []

const stay = <N extends Primary, G>(state: MasterState<N, G>): Step<N, G> => ({ state, actions: NONE })

const cue = (urgent: boolean, hint: RedisConfig.Endpoint | undefined, reason: string) =>
  ({ _tag: "Cue", urgent, hint, reason }) as const

const demote = (demoted: ReadonlyMap<string, number>, address: string, at: number): ReadonlyMap<string, number> => {
  const next = new Map<string, number>()
  for (const [a, until] of demoted) if (until > at) next.set(a, until)
  next.set(address, at + DEMOTED_MILLIS)
  return next
}

const undemote = (demoted: ReadonlyMap<string, number>, address: string): ReadonlyMap<string, number> => {
  if (!demoted.has(address)) return demoted
  const next = new Map(demoted)
  next.delete(address)
  return next
}

type InUse<N extends Primary, G> = Extract<MasterState<N, G>, { readonly _tag: "Serving" | "Holding" }>

const inUse = <N extends Primary, G>(state: MasterState<N, G>): state is InUse<N, G> =>
  state._tag === "Serving" || state._tag === "Holding"

// Stops using the primary in use: commands are held on `gate` from now on
// (on the gate writes already wait on, when holding).
const retire = <N extends Primary, G>(
  state: InUse<N, G>,
  what: string,
  at: number,
  gate: G,
  demoted: ReadonlyMap<string, number>,
  then: ReadonlyArray<Action<N, G>>
): Step<N, G> => ({
  state: {
    _tag: "Switching",
    masterName: state.masterName,
    demoted: demote(demoted, state.primary.address, at),
    holds: state.holds,
    down: state.down,
    from: state.primary,
    evidence: { what, at },
    held: state._tag === "Holding" ? state.held : gate,
    error: undefined
  },
  actions: [{ _tag: "Retire", primary: state.primary }, ...then]
})

const onEvent = <N extends Primary, G>(
  state: MasterState<N, G>,
  input: Extract<Input<N, G>, { readonly _tag: "Event" }>
): Step<N, G> => {
  const { event } = input
  const announced = announcement(event)
  if (announced !== undefined && announced.name === state.masterName) {
    const to = keyOf(announced.to)
    const demoted = undemote(state.demoted, to)
    if (inUse(state) && state.primary.address !== to) {
      return retire(state, `${event.channel} from ${event.sentinel}`, input.at, input.gate, demoted, [
        cue(true, announced.to, event.channel)
      ])
    }
    // Already switching, or already there: look again, without hurry.
    return { state: { ...state, demoted }, actions: [cue(false, undefined, event.channel)] }
  }
  const step = failoverStep(event)
  if (step !== undefined && step.name === state.masterName) {
    const master = keyOf(step.master)
    if (step._tag === "Selected" && state._tag === "Serving" && state.holds && !state.down && state.primary.address === master) {
      return {
        state: {
          ...state,
          _tag: "Holding",
          replica: step.replica,
          evidence: { what: `${event.channel} from ${event.sentinel}`, at: input.at },
          held: input.gate
        },
        actions: [{ _tag: "Hold", primary: state.primary, replica: step.replica, since: input.at }]
      }
    }
    if (step._tag === "Ended" && state._tag === "Holding" && state.primary.address === master) {
      return unhold(state, event.channel)
    }
    return stay(state)
  }
  if (event.channel === "reconnect") return { state, actions: [cue(false, undefined, `reconnect to ${event.sentinel}`)] }
  if ((event.channel === "+odown" || event.channel === "-odown") && concerns(event, state.masterName)) {
    return { state: { ...state, down: event.channel === "+odown" }, actions: [cue(false, undefined, event.channel)] }
  }
  if (concerns(event, state.masterName)) return { state, actions: [cue(false, undefined, event.channel)] }
  return stay(state)
}

// The hold ends without a switch: the held writes go to the primary after
// all, and a discovery round checks what the sentinels now say.
const unhold = <N extends Primary, G>(
  state: Extract<MasterState<N, G>, { readonly _tag: "Holding" }>,
  reason: string
): Step<N, G> => ({
  state: { _tag: "Serving", masterName: state.masterName, demoted: state.demoted, holds: state.holds, down: state.down, primary: state.primary },
  actions: [{ _tag: "Release", gate: state.held, primary: state.primary }, cue(false, undefined, reason)]
})

const published = <N extends Primary, G>(
  primary: N,
  from: N | undefined,
  evidence: Evidence | undefined,
  at: number
): Action<N, G> => ({
  _tag: "Publish",
  primary,
  from: from?.address,
  switch: from === undefined ? undefined : {
    from: from.address,
    to: primary.address,
    evidence: evidence?.what ?? "discovery",
    evidenceAt: evidence?.at ?? at,
    switchedAt: at
  }
})

const onInstalled = <N extends Primary, G>(
  state: Exclude<MasterState<N, G>, { readonly _tag: "Closed" }>,
  primary: N,
  at: number
): Step<N, G> => {
  if (inUse(state)) {
    if (state.primary === primary) return stay(state)
    // Not reached from the shell, which applies `Install` first (retiring
    // the old primary); kept so that the transition is total.
    const from = state.primary
    const release: ReadonlyArray<Action<N, G>> = state._tag === "Holding"
      ? [{ _tag: "Release", gate: state.held, primary }]
      : NONE
    return {
      state: { _tag: "Serving", masterName: state.masterName, demoted: demote(state.demoted, from.address, at), holds: state.holds, down: false, primary },
      actions: [
        { _tag: "Retire", primary: from },
        ...release,
        published(primary, from, { what: `a sentinel names ${primary.address}`, at }, at)
      ]
    }
  }
  // Never a demoted address (the shell checks before it opens the pool):
  // the round the demoting evidence cued finds the new primary.
  if (isDemoted(state, primary.address, at)) return { state, actions: [cue(true, undefined, `${primary.address} was demoted`)] }
  const publish = published<N, G>(primary, state.from, state.evidence, at)
  return {
    state: { _tag: "Serving", masterName: state.masterName, demoted: state.demoted, holds: state.holds, down: false, primary },
    actions: state._tag === "Switching" ? [{ _tag: "Release", gate: state.held, primary }, publish] : [publish]
  }
}

/**
 * The switch's one transition: the next state and what to do, for every
 * state and input. Pure: it reads no clock (times come in the inputs) and
 * creates no gate (a fresh one comes with each input that may hold).
 *
 * @category transitions
 * @since 0.1.0
 */
export const transition = <N extends Primary, G>(state: MasterState<N, G>, input: Input<N, G>): Step<N, G> => {
  if (state._tag === "Closed") return stay(state)
  switch (input._tag) {
    case "Event":
      return onEvent(state, input)
    case "Promoted":
      // The replica the sentinels chose is a primary now: what the old one
      // acknowledges from here on is lost. `+promoted-slave` says the same
      // about a second later.
      return state._tag === "Holding" && keyOf(state.replica) === input.address
        ? retire(state, `ROLE master from ${input.address}`, input.at, input.gate, undemote(state.demoted, input.address), [
          cue(true, state.replica, "the selected replica was promoted")
        ])
        : stay(state)
    case "HoldExpired":
      return state._tag === "Holding" && state.evidence.at === input.since ? unhold(state, "the failover hold ran out") : stay(state)
    case "Refused":
      // Only the primary in use can be demoted; a late READONLY from an
      // earlier one changes nothing.
      return inUse(state) && state.primary === input.primary
        ? retire(state, `READONLY from ${input.primary.address}`, input.at, input.gate, state.demoted, [
          cue(true, undefined, "READONLY")
        ])
        : stay(state)
    case "Install":
      // The verified primary differs from the one in use: stop using that
      // one now; commands wait until the new one's pool is open.
      return inUse(state) && state.primary.address !== input.address
        ? retire(state, `a sentinel names ${input.address}`, input.at, input.gate, state.demoted, NONE)
        : stay(state)
    case "Installed":
      return onInstalled(state, input.primary, input.at)
    case "Failed": {
      if (state._tag === "Switching") {
        const error = input.error ?? state.error
        // Another attempt is cued: the held commands wait for it.
        if (input.pending || error === undefined) return stay({ ...state, error })
        return {
          state: {
            _tag: "Vacant",
            masterName: state.masterName,
            demoted: state.demoted,
            holds: state.holds,
            down: state.down,
            from: state.from,
            evidence: state.evidence,
            error
          },
          actions: [{ _tag: "Fail", gate: state.held, error }]
        }
      }
      if (state._tag === "Vacant") return stay({ ...state, error: input.error ?? state.error })
      return stay(state)
    }
    case "Await":
      return state._tag === "Vacant"
        ? {
          state: {
            _tag: "Switching",
            masterName: state.masterName,
            demoted: state.demoted,
            holds: state.holds,
            down: state.down,
            from: state.from,
            evidence: state.evidence,
            held: input.gate,
            error: state.error
          },
          actions: [cue(false, undefined, "a command waits for a primary")]
        }
        : stay(state)
    case "Close":
      return {
        state: { _tag: "Closed", masterName: state.masterName, demoted: state.demoted, holds: state.holds, down: state.down },
        actions: state._tag === "Switching" || state._tag === "Holding"
          ? [{ _tag: "Fail", gate: state.held, error: closedError }]
          : NONE
      }
  }
}

// -----------------------------------------------------------------------------
// the shell: the one state cell, and what each action does
// -----------------------------------------------------------------------------

type Gate = Deferred.Deferred<Node, RedisError.RedisError>
type Publish = Extract<Action<Node, Gate>, { readonly _tag: "Publish" }>
type Hold = Extract<Action<Node, Gate>, { readonly _tag: "Hold" }>
/** A hold to carry out, with the barrier its writes wait on. */
interface HoldRun {
  readonly hold: Hold
  readonly barrier: Deferred.Deferred<boolean>
}

interface Switchboard {
  /** The one state value; only `apply` writes it. */
  state: MasterState<Node, Gate>
  /** Applies an input now: the new state and the synchronous actions; returns the `Publish` actions (effects). */
  readonly apply: (input: Input<Node, Gate>) => ReadonlyArray<Publish>
  /** `primary` answered READONLY. */
  readonly refused: (primary: Node) => void
  /** The primary in use, or the next verified one (bounded by `switchTimeout`). */
  readonly awaitPrimary: Effect.Effect<Node, RedisError.RedisError>
  /**
   * While holding: `true` once the replica being promoted confirmed what
   * the primary had acknowledged when the hold began, `false` when it did
   * not in time (it was promoted first, say). A write acknowledged during
   * the hold is reported only after this, and only as a success on `true`.
   */
  barrier: Deferred.Deferred<boolean>
  /** Holds to carry out (barrier and watch), taken by the hold runner. */
  readonly holds: Queue.Queue<HoldRun>
  readonly pubsub: PubSub.PubSub
}

const makeSwitchboard = (
  masterName: string,
  holds: boolean,
  switchTimeout: Duration.Duration,
  cues: Cues,
  holdQueue: Queue.Queue<HoldRun>
): Switchboard => {
  const awaitPrimary: Effect.Effect<Node, RedisError.RedisError> = Effect.suspend(() => {
    let s = board.state
    if (s._tag === "Serving") return Effect.succeed(s.primary)
    if (s._tag === "Vacant") {
      apply({ _tag: "Await", gate: Deferred.makeUnsafe() })
      s = board.state
    }
    if (s._tag !== "Switching" && s._tag !== "Holding") return Effect.fail(closedError)
    return Effect.timeoutOrElse(Deferred.await(s.held), {
      duration: switchTimeout,
      orElse: () => {
        const now = board.state
        const last = now._tag === "Switching" || now._tag === "Vacant" ? now.error : undefined
        return Effect.fail(masterNotFound(
          masterName,
          `no verified primary for '${masterName}' within ${Duration.toMillis(switchTimeout)} ms${
            last === undefined ? "" : `: ${(last.reason as { readonly message?: string }).message ?? ""}`
          }`
        ))
      }
    })
  })
  const follower = makeFollower(awaitPrimary, () => (board.state._tag === "Serving" ? board.state.primary : undefined))
  // Every action here is synchronous, so an input can be applied from a
  // connection's callback; `Publish` needs effects and is returned instead
  // (only `Installed` produces it, and the reconciler applies that one).
  const apply = (input: Input<Node, Gate>): ReadonlyArray<Publish> => {
    const step = transition(board.state, input)
    board.state = step.state
    let publish: Array<Publish> | undefined
    for (const action of step.actions) {
      switch (action._tag) {
        case "Retire":
          follower.retire(action.primary, true)
          break
        case "Hold":
          // Settled by this hold's run only: a later hold gets its own.
          board.barrier = Deferred.makeUnsafe()
          Queue.offerUnsafe(board.holds, { hold: action, barrier: board.barrier })
          break
        case "Cue":
          cues.cue(action.urgent, action.hint, action.reason)
          break
        case "Release":
          Deferred.doneUnsafe(action.gate, Effect.succeed(action.primary))
          break
        case "Fail":
          Deferred.doneUnsafe(action.gate, Effect.fail(action.error))
          break
        case "Publish":
          publish ??= []
          publish.push(action)
      }
    }
    return publish ?? NONE
  }
  const board: Switchboard = {
    state: initial(masterName, holds),
    apply,
    refused: (primary) => {
      apply({ _tag: "Refused", primary, at: preciseNow(), gate: Deferred.makeUnsafe() })
    },
    awaitPrimary,
    barrier: Deferred.makeUnsafe(),
    holds: holdQueue,
    pubsub: follower.pubsub
  }
  return board
}

// -----------------------------------------------------------------------------
// the shell: discovery rounds
// -----------------------------------------------------------------------------

// The loop that finds and installs the primary: all the registry changes
// happen on it, so a switch never races another.
const makeReconciler = (
  board: Switchboard,
  discovery: Discovery,
  nodes: Nodes,
  data: RedisConfig.ConnectionOptions,
  cues: Cues,
  topology: EffectPubSub.PubSub<TopologyEvent.TopologyEvent>
) => {
  const publish = (p: Publish) =>
    Effect.andThen(
      discovery.updateState((s) => ({
        ...s,
        master: p.primary.endpoint,
        switches: p.switch === undefined ? s.switches : [...s.switches, p.switch]
      })),
      Effect.sync(() => {
        EffectPubSub.publishUnsafe(topology, {
          _tag: "SentinelSwitch",
          masterName: board.state.masterName,
          from: p.from,
          to: p.primary.address
        })
      })
    )

  const rejectDemoted = (address: RedisConfig.Endpoint): string | undefined =>
    isDemoted(board.state, keyOf(address), preciseNow()) ? "which was demoted moments ago" : undefined

  // Whether it switched.
  const install = (address: RedisConfig.Endpoint): Effect.Effect<boolean> =>
    Effect.uninterruptible(Effect.gen(function*() {
      const node = keyOf(address)
      board.apply({ _tag: "Install", address: node, at: preciseNow(), gate: Deferred.makeUnsafe() })
      // Still in use there (serving or holding; `Install` retires a primary
      // at any other address), or closing: nothing to do. An address
      // demoted since the round verified it (the hold saw its replica
      // promoted, say) is not installed: the round that evidence cued
      // finds the new primary.
      const s = board.state
      if (s._tag !== "Switching" && s._tag !== "Vacant") return false
      if (isDemoted(s, node, preciseNow())) return false
      // The switch: the new primary's pool, and no other.
      yield* nodes.registry.retain(new Set([node]))
      const primary = yield* nodes.open(address)
      for (const p of board.apply({ _tag: "Installed", primary, at: preciseNow() })) yield* publish(p)
      return true
    }))

  const reconcile = (hint: RedisConfig.Endpoint | undefined) =>
    Effect.gen(function*() {
      // A retired primary's pool closes first: nothing may use it any more
      // (not even half-closed by an urgent cue). The primary in use keeps
      // its pool, while writes are held too: reads still go there.
      const s = board.state
      yield* Effect.uninterruptible(nodes.registry.retain(new Set(inUse(s) ? [s.primary.address] : [])))
      let address: RedisConfig.Endpoint | undefined
      if (hint !== undefined && Exit.isSuccess(yield* Effect.exit(discovery.verifyMaster(data, hint)))) address = hint
      if (address === undefined) address = yield* discovery.findMaster(data, rejectDemoted)
      return yield* install(address)
    })

  const refreshed = (trigger: string, changed: boolean) =>
    Effect.sync(() => {
      EffectPubSub.publishUnsafe(topology, { _tag: "RefreshDone", trigger, changed })
    })

  return {
    // The first discovery: the layer fails with MasterNotFound if it fails.
    first: Effect.flatMap(reconcile(undefined), (changed) => refreshed("startup", changed)),
    loop: Effect.forever(Effect.gen(function*() {
      const { hint, reason } = yield* cues.next
      const exit = yield* Effect.exit(Effect.raceFirst(reconcile(hint), cues.urgent))
      if (Exit.isFailure(exit)) {
        board.apply({ _tag: "Failed", error: RedisError.failureOf(exit), pending: cues.isPending() })
      }
      yield* refreshed(reason, Exit.isSuccess(exit) && exit.value === true)
    }))
  }
}

// -----------------------------------------------------------------------------
// the shell: holding writes while the sentinels promote a replica
// -----------------------------------------------------------------------------

/** How long one `WAIT` for the old primary's last writes may take. */
const BARRIER_MILLIS = 100
/** How long the replica being promoted has to confirm them, in all. */
const BARRIER_BOUND_MILLIS = 1000
/** How often the replica being promoted is asked `ROLE` during a hold. */
const WATCH_MILLIS = 20

/**
 * Whether `replica` (the one being promoted) has every write sent so far on
 * the old primary's connection that `send` writes to.
 *
 * `WAIT` counts the replicas that have every write sent on its connection;
 * the chosen replica must be one of them. So: as many replicas as `ROLE`
 * listed, the chosen one among them, and still listed after the `WAIT`. The
 * chosen replica missing from the list means it stopped following
 * (promoted already): not confirmed. A `WAIT` that counts fewer is asked
 * again until the bound (1 s), and then it is not confirmed. Counting alone
 * is not enough: one replica confirming may be the one that stays, not the
 * one being promoted. Never fails: an error is "not confirmed".
 *
 * @category internals
 * @since 0.1.0
 */
export const confirmedBy = (
  send: <A>(command: Command<A>) => Effect.Effect<A, RedisError.RedisError>,
  replica: RedisConfig.Endpoint
): Effect.Effect<boolean> =>
  Effect.gen(function*() {
    if (replica._tag !== "Tcp") return false
    const listed = (role: Commands.ServerRole) =>
      role.role === "master" && role.replicas.some((r) => r.port === replica.port && r.host === replica.host)
    const before = yield* send(Commands.role())
    if (!listed(before)) return false
    const replicas = (before as Extract<Commands.ServerRole, { role: "master" }>).replicas.length
    while (true) {
      const acked = yield* send(Commands.wait(replicas, BARRIER_MILLIS))
      if (!listed(yield* send(Commands.role()))) return false
      if (acked >= replicas) return true
    }
  }).pipe(
    Effect.timeoutOption(Duration.millis(BARRIER_BOUND_MILLIS)),
    Effect.map((result) => result._tag === "Some" && result.value),
    Effect.orElseSucceed(() => false)
  )

// One hold at a time, on a fiber of the layer's scope: confirm what the old
// primary acknowledged before the hold, then watch the chosen replica.
const runHolds = (
  board: Switchboard,
  discovery: Discovery,
  data: RedisConfig.ConnectionOptions,
  failoverHold: Duration.Duration
) => {
  const holding = (since: number) => board.state._tag === "Holding" && board.state.evidence.at === since
  // Settles the hold's barrier: what the old primary acknowledged is a
  // success only if the chosen replica confirmed it.
  const barrier = ({ barrier, hold }: HoldRun) =>
    Effect.flatMap(
      confirmedBy((command) => hold.primary.shared.send(command), hold.replica),
      (ok) => Deferred.succeed(barrier, ok)
    ).pipe(Effect.onInterrupt(() => Deferred.succeed(barrier, false)))
  const watch = (hold: Hold) =>
    Effect.gen(function*() {
      const until = hold.since + Duration.toMillis(failoverHold)
      while (holding(hold.since)) {
        if (preciseNow() >= until) {
          board.apply({ _tag: "HoldExpired", since: hold.since })
          return
        }
        if (Exit.isSuccess(yield* Effect.exit(discovery.verifyMaster(data, hold.replica)))) {
          board.apply({ _tag: "Promoted", address: keyOf(hold.replica), at: preciseNow(), gate: Deferred.makeUnsafe() })
          return
        }
        yield* Effect.sleep(WATCH_MILLIS)
      }
    })
  return Effect.forever(Effect.flatMap(Queue.take(board.holds), (run) =>
    Effect.all([barrier(run), watch(run.hold)], { concurrency: 2, discard: true })))
}

// -----------------------------------------------------------------------------
// the shell: commands
// -----------------------------------------------------------------------------

const demotedReply = (n: Node, command: Command<unknown>) =>
  RedisError.make(
    new RedisError.ConnectionError({
      message: `${n.address} answered after it was demoted; the command may have run there`,
      address: n.address
    }),
    "Unknown",
    command.name
  )

const isSafe = (command: Command<unknown>, error: RedisError.RedisError) => Delivery.isRetry(command, error, "nodes")

type Exits = Array<Exit.Exit<unknown, RedisError.RedisError>>

const isWrite = (command: Command<unknown>) => (command.flags & Flags.READONLY) === 0

const isInUse = (board: Switchboard, n: Node) => {
  const s = board.state
  return (s._tag === "Serving" || s._tag === "Holding") && s.primary === n
}

// A write the old primary acknowledged during a hold that the replica being
// promoted did not confirm: it may be on the new primary or not.
const unconfirmedReply = (n: Node, command: Command<unknown>) =>
  RedisError.make(
    new RedisError.ConnectionError({
      message: `${n.address} acknowledged this write while a replica was being promoted in its place, ` +
        `and that replica did not confirm it: it may be lost`,
      address: n.address
    }),
    "Unknown",
    command.name
  )

// Writes `n` acknowledged while writes are held are reported once the hold's
// barrier has settled: as successes when the replica being promoted
// confirmed them (the switch cannot lose them), as `Unknown` otherwise.
// Outside a hold this is one state check per pipeline.
const afterBarrier = <E>(
  board: Switchboard,
  n: Node,
  sent: Effect.Effect<Exits, E>,
  commands: ReadonlyArray<Command<unknown>>
): Effect.Effect<Exits, E> =>
  Effect.flatMap(sent, (exits) => {
    const s = board.state
    if (!(s._tag === "Holding" && s.primary === n && commands.some(isWrite))) return Effect.succeed(exits)
    return Effect.map(Deferred.await(board.barrier), (ok) =>
      ok
        ? exits
        : exits.map((e, i) => Exit.isSuccess(e) && isWrite(commands[i]) ? Exit.fail(unconfirmedReply(n, commands[i])) : e))
  })

// A pipeline goes to one primary. When none of it can have run there (every
// command unwritten, refused READONLY, or a read) and some of it failed —
// the primary was retired under it, or it was down — the whole pipeline is
// sent again, in order, by the `retry` schedule (to the next primary after a
// switch). Otherwise what was written fails `Unknown` and the rest
// `NotSent`. Every wait is bounded (`switchTimeout`, the schedule), so a
// pipeline never hangs on a switch.
const pipelineOn = (board: Switchboard, n: Node, commands: ReadonlyArray<Command<unknown>>) =>
  Effect.map(afterBarrier(board, n, n.shared.sendAll(commands), commands), (exits) => {
    for (const exit of exits) if (RedisError.failureOf(exit)?.reason._tag === "ReadOnly") board.refused(n)
    const retired = !isInUse(board, n)
    const final: Exits = retired ? exits.map((e, i) => (Exit.isSuccess(e) ? Exit.fail(demotedReply(n, commands[i])) : e)) : exits
    let firstError: RedisError.RedisError | undefined
    let resendable = true
    for (let i = 0; i < final.length && resendable; i++) {
      const e = RedisError.failureOf(final[i])
      if (Exit.isSuccess(final[i])) resendable = Delivery.mayRunTwice(commands[i])
      else if (e === undefined) resendable = false
      else {
        firstError ??= e
        resendable = isSafe(commands[i], e) || (retired && Exit.isSuccess(exits[i]) && Delivery.mayRunTwice(commands[i]))
      }
    }
    return { exits: final, resend: resendable ? firstError : undefined }
  })

const commandPaths = (board: Switchboard, retry: Schedule.Schedule<unknown, RedisError.RedisError>) => {
  // One attempt on `n`. A success that arrives once `n` is retired is not
  // reported as one: the demoted primary will drop it.
  const sendOn = <A>(n: Node, command: Command<A>): Effect.Effect<A, RedisError.RedisError> =>
    Effect.matchEffect(n.shared.send(command), {
      onSuccess: (a) => {
        const s = board.state
        if (s._tag === "Serving" && s.primary === n) return Effect.succeed(a)
        if (s._tag === "Holding" && s.primary === n) {
          return isWrite(command)
            ? Effect.flatMap(
              Deferred.await(board.barrier),
              (ok) => ok ? Effect.succeed(a) : Effect.fail(unconfirmedReply(n, command))
            )
            : Effect.succeed(a)
        }
        return Effect.fail(demotedReply(n, command))
      },
      onFailure: (e) => {
        if (e.reason._tag === "ReadOnly") board.refused(n)
        return Effect.fail(e)
      }
    })
  // Hot path: the primary in use, read from the one state value. While
  // writes are held, reads still go to the primary.
  const attempt = <A>(command: Command<A>): Effect.Effect<A, RedisError.RedisError> => {
    const s = board.state
    if (s._tag === "Serving") return sendOn(s.primary, command)
    if (s._tag === "Holding" && !isWrite(command)) return sendOn(s.primary, command)
    return Effect.flatMap(board.awaitPrimary, (m) => sendOn(m, command))
  }
  const execute = <A>(command: Command<A>): Effect.Effect<A, RedisError.RedisError> =>
    Effect.catch(attempt(command), (error) =>
      isSafe(command, error)
        ? Effect.retry(attempt(command), { schedule: retry, while: (e) => isSafe(command, e) })
        : Effect.fail(error))
  const executeAll = (commands: ReadonlyArray<Command<unknown>>): Effect.Effect<Exits> => {
    let last: Exits = []
    const once: Effect.Effect<Exits, RedisError.RedisError> = Effect.matchEffect(board.awaitPrimary, {
      onFailure: (e) => Effect.succeed(commands.map(() => Exit.fail(e) as Exit.Exit<unknown, RedisError.RedisError>)),
      onSuccess: (n) =>
        Effect.flatMap(pipelineOn(board, n, commands), ({ exits, resend }) => {
          last = exits
          return resend === undefined ? Effect.succeed(exits) : Effect.fail(resend)
        })
    })
    return Effect.retry(once, { schedule: retry }).pipe(Effect.catch(() => Effect.succeed(last)))
  }
  const withDedicated: Redis.Backend["withDedicated"] = (_keys, f) =>
    Effect.flatMap(board.awaitPrimary, (n) =>
      Effect.tapError(n.withDedicated(f), (e) =>
        Effect.sync(() => {
          if (RedisError.isRedisError(e) && e.reason._tag === "ReadOnly") board.refused(n)
        })))
  return { execute, executeAll, withDedicated }
}

// -----------------------------------------------------------------------------
// the backend
// -----------------------------------------------------------------------------

/**
 * The backend for the primary of `options.masterName`: it follows
 * `discovery`'s events, finds and verifies the primary now (failing with
 * `MasterNotFound` if there is none), and keeps following it for as long as
 * the current scope lives. `data` are the data nodes' connection options.
 *
 * @category constructors
 * @since 0.1.0
 */
export const make = (
  options: Options,
  discovery: Discovery,
  data: RedisConfig.ConnectionOptions
): Effect.Effect<Redis.Backend, RedisError.RedisError, Scope.Scope | Transport> =>
  Effect.gen(function*() {
    const transport = yield* Transport
    const cues = makeCues()
    const switchTimeout = Duration.fromInputUnsafe(options.switchTimeout ?? Duration.seconds(10))
    const failoverHold = Duration.fromInputUnsafe(options.failoverHold ?? Duration.seconds(5))
    const board = makeSwitchboard(
      options.masterName,
      Duration.isGreaterThan(failoverHold, Duration.zero),
      switchTimeout,
      cues,
      yield* Queue.unbounded<HoldRun>()
    )
    const nodes = yield* makeNodes(data, options, () => cues.cue(false, undefined, "the primary's connection dropped"))
    const topology = yield* EffectPubSub.unbounded<TopologyEvent.TopologyEvent>()
    // Synchronous, on the watcher's reader: from the moment a sentinel's
    // announcement is read, nothing more is sent to the old primary.
    // Announcements name the new primary as the sentinels see it: the
    // transition compares it, remapped, with the address in use.
    discovery.onEvent((event) => {
      board.apply({ _tag: "Event", event: discovery.remapEvent(event), at: preciseNow(), gate: Deferred.makeUnsafe() })
    })
    const reconciler = makeReconciler(board, discovery, nodes, data, cues, topology)
    yield* reconciler.first
    yield* Effect.forkScoped(reconciler.loop)
    yield* Effect.forkScoped(runHolds(board, discovery, data, failoverHold))
    yield* refreshPeriodically(options, cues)
    yield* Effect.addFinalizer(() => Effect.sync(() => board.apply({ _tag: "Close" })))
    const paths = commandPaths(board, options.retry ?? Delivery.defaultRetry)
    return {
      ...paths,
      pubsub: board.pubsub,
      protocol: Effect.flatMap(board.awaitPrimary, protocolOf),
      monitorConnection: monitorOn(board.awaitPrimary, data, transport),
      events: Stream.merge(Stream.map(nodes.registry.events, TopologyEvent.connection), Stream.fromPubSub(topology))
    }
  })
