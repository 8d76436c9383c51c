/**
 * `fix`, after `redis-cli --cluster fix`: closes open slots left by a
 * half-done migration, covers slots no primary serves, and (with
 * `searchMultipleOwners`) gives a slot claimed by several primaries to one.
 *
 * Decisions, in redis-cli's order and with its rules:
 *
 * - Open slots first. For each slot some primary has MIGRATING or
 *   IMPORTING: its owners are the primaries that claim it in their own
 *   view; a primary holding keys of the slot that neither owns nor has it
 *   open counts as importing. No owner: the primary with the most keys in the
 *   slot takes it. Several owners: the one with most keys keeps it, the
 *   others drop it and become importing. Then: one migrating and one
 *   importing node: the migration is **finished** (keys moved, `SETSLOT
 *   NODE` everywhere); only importing nodes: their keys go back to the owner
 *   and the slot is **rolled back** (`STABLE`); one migrating node that owns
 *   the slot or holds no key, and no importing node: **rolled back**; one
 *   migrating and several importing: finished towards the node it names (if
 *   none holds keys), else all closed. Anything else fails with a sentence
 *   naming the states, having changed nothing for that slot.
 * - Then uncovered slots, those no reachable primary claims in its own view
 *   (as redis-cli counts them: a slot its owner dropped is uncovered though
 *   the others still bind it to that owner): given to the primary holding
 *   keys in them (the one with most keys, the others' keys moved to it), else
 *   to the primary with the fewest slots, with `DELSLOTS` (of a stale
 *   binding), `ADDSLOTSRANGE` and `BUMPEPOCH`.
 *
 * With an unreachable or failed primary, `fix` refuses unless
 * `withUnreachablePrimaries` is set; then that primary's slots count as
 * uncovered (redis-cli's `--cluster-fix-with-unreachable-masters`: its keys
 * are lost if it never comes back).
 *
 * It does not repair disagreements that gossip resolves by itself, failed
 * replicas or a cluster with no reachable primary.
 *
 * @internal
 */
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Cmd from "@redis-effect/redis/Command"
import * as RedisError from "@redis-effect/redis/RedisError"
import type { Transport } from "@redis-effect/redis/Transport"
import type { AdminOptions, CheckReport, MoveOptions, NodeEntry } from "../ClusterAdmin.ts"
import { migrateKeys, type MoveContext, moveContext, moveSlot, unlessReplica } from "./move.ts"
import * as Plan from "./plan.ts"
import {
  addressOf,
  cluster,
  converge,
  describeNode,
  errorOf,
  isReply,
  openSession,
  type Session,
  setslot,
  survey
} from "./session.ts"

/** @internal */
export interface FixOptions extends AdminOptions, MoveOptions {
  /** Any node of the cluster. */
  readonly node: string
  /** Go on when primaries are unreachable, treating their slots as uncovered. */
  readonly withUnreachablePrimaries?: boolean | undefined
  /** Also look for slots that several primaries claim in their own view. */
  readonly searchMultipleOwners?: boolean | undefined
}

/** @internal */
export interface FixAction {
  readonly kind: "FinishedMigration" | "RolledBack" | "AssignedOwner" | "DroppedOwner" | "CoveredSlots" | "MovedKeys"
  readonly slots: ReadonlyArray<readonly [number, number]>
  readonly node: string
  readonly message: string
}

/** @internal */
export interface FixResult {
  readonly actions: ReadonlyArray<FixAction>
  /** The check after the fix. */
  readonly report: CheckReport
}

const countKeys = (slot: number) =>
  Cmd.unsafeMake("CLUSTER", ["CLUSTER", "COUNTKEYSINSLOT", slot], [], Cmd.Flags.NO_KEYS, Cmd.Reply.integer)
const stable = (slot: number) => cluster(Cmd.Reply.ok, "SETSLOT", slot, "STABLE")
const bumpEpoch = cluster(Cmd.Reply.string, "BUMPEPOCH")
const delslots = (slot: number) => cluster(Cmd.Reply.ok, "DELSLOTS", slot)

const cannot = (message: string) =>
  Effect.fail(RedisError.make(new RedisError.ClusterCheckFailed({ message: `fix: ${message}`, problems: [message] }), "NotSent"))

interface Primary {
  /** The primary's own line (the only one that shows its open slots and its own claims). */
  readonly self: NodeEntry
  readonly address: string
}

/** Each reachable primary's own view of itself. */
const primariesOf = (seed: string, views: ReadonlyArray<Plan.NodeView>): Array<Primary> =>
  views.flatMap((v) => {
    if (v._tag !== "Answered") return []
    const self = v.nodes.find((e) => e.myself)
    return self !== undefined && self.role === "primary" ? [{ self, address: v.address === seed ? seed : v.address }] : []
  })

const owns = (p: Primary, slot: number) => p.self.slots.some(([a, b]) => slot >= a && slot <= b)

/** Keys of `slot` on each primary. */
const keyCounts = (session: Session, primaries: ReadonlyArray<Primary>, slot: number) =>
  Effect.forEach(primaries, (p) => session.send(p.address, countKeys(slot)), { concurrency: 8 })

const mostKeys = (candidates: ReadonlyArray<Primary>, counts: ReadonlyMap<string, number>): Primary =>
  candidates.reduce((best, p) => ((counts.get(p.self.id) ?? 0) > (counts.get(best.self.id) ?? 0) ? p : best))

/** DELSLOTS (already unassigned is fine), ADDSLOTS, STABLE, BUMPEPOCH: redis-cli's "set slot owner". */
const takeSlot = (session: Session, address: string, slot: number) =>
  Effect.gen(function*() {
    yield* Effect.catch(session.send(address, delslots(slot)), (e) => (isReply(e, /already unassigned/i) ? Effect.void : Effect.fail(e)))
    yield* session.send(address, cluster(Cmd.Reply.ok, "ADDSLOTS", slot))
    yield* session.send(address, stable(slot))
    yield* session.send(address, bumpEpoch)
  })

/** Keys of `slot` from `from` to `owner` without touching slot ownership (redis-cli's cold move). */
const drain = (ctx: MoveContext, from: Primary, owner: Primary, slot: number) =>
  migrateKeys(ctx, from.address, owner.self, slot)

const fixOpenSlot = (ctx: MoveContext, all: ReadonlyArray<Primary>, slot: number) =>
  Effect.gen(function*() {
    const { session } = ctx
    const counts = new Map((yield* keyCounts(session, all, slot)).map((n, i) => [all[i]!.self.id, n] as const))
    const actions: Array<FixAction> = []
    const range = [[slot, slot] as const]
    let owners = all.filter((p) => owns(p, slot))
    let migrating = all.filter((p) => p.self.migrating.some((m) => m.slot === slot))
    let importing = all.filter((p) => p.self.importing.some((m) => m.slot === slot))
    for (const p of all) {
      if (!owns(p, slot) && !migrating.includes(p) && !importing.includes(p) && (counts.get(p.self.id) ?? 0) > 0) importing.push(p)
    }
    let owner: Primary
    if (owners.length === 0) {
      owner = mostKeys(all, counts)
      yield* takeSlot(session, owner.address, slot)
      actions.push({ kind: "AssignedOwner", slots: range, node: owner.address, message: `slot ${slot} had no owner: given to ${owner.address}` })
      migrating = migrating.filter((p) => p !== owner)
      importing = importing.filter((p) => p !== owner)
    } else if (owners.length > 1) {
      owner = mostKeys(owners, counts)
      for (const p of owners) {
        if (p === owner) continue
        yield* session.send(p.address, delslots(slot))
        yield* session.send(p.address, setslot(slot, "IMPORTING", owner.self.id))
        if (!importing.includes(p)) importing.push(p)
        migrating = migrating.filter((m) => m !== p)
        actions.push({ kind: "DroppedOwner", slots: range, node: p.address, message: `${p.address} dropped slot ${slot} (owned by ${owner.address})` })
      }
      importing = importing.filter((p) => p !== owner)
      yield* session.send(owner.address, bumpEpoch)
      owners = [owner]
    } else {
      owner = owners[0]!
    }

    if (migrating.length === 1 && importing.length === 1) {
      const [src, dst] = [migrating[0]!, importing[0]!]
      const move = yield* moveSlot(ctx, slot, src.self, dst.self)
      actions.push({ kind: "FinishedMigration", slots: range, node: dst.address, message: `slot ${slot}: finished the migration from ${src.address} to ${dst.address} (${move.keys} keys)` })
    } else if (migrating.length === 0 && importing.length > 0) {
      let keys = 0
      for (const p of importing) {
        if (p === owner) continue
        keys += yield* drain(ctx, p, owner, slot)
        yield* session.send(p.address, stable(slot))
      }
      if (importing.includes(owner)) yield* session.send(owner.address, stable(slot))
      yield* Effect.forEach(all.filter((p) => p !== owner), (p) => unlessReplica(session.send(p.address, setslot(slot, "NODE", owner.self.id))), { discard: true })
      yield* ctx.progress.step(1, 0, `slot ${slot} rolled back to ${owner.address}`)
      actions.push({ kind: "RolledBack", slots: range, node: owner.address, message: `slot ${slot}: importing closed, ${keys} keys back on the owner ${owner.address}` })
    } else if (migrating.length === 1 && importing.length > 1) {
      const src = migrating[0]!
      const target = src.self.migrating.find((m) => m.slot === slot)?.to
      if (importing.some((p) => (counts.get(p.self.id) ?? 0) > 0)) {
        return yield* cannot(`slot ${slot} is importing on several nodes that hold keys (${importing.map((p) => p.address).join(", ")})`)
      }
      const dst = importing.find((p) => p.self.id === target)
      if (dst !== undefined) {
        yield* moveSlot(ctx, slot, src.self, dst.self)
        for (const p of importing) if (p !== dst) yield* session.send(p.address, stable(slot))
        actions.push({ kind: "FinishedMigration", slots: range, node: dst.address, message: `slot ${slot}: finished the migration from ${src.address} to ${dst.address}, closed elsewhere` })
      } else {
        for (const p of [src, ...importing]) yield* session.send(p.address, stable(slot))
        actions.push({ kind: "RolledBack", slots: range, node: src.address, message: `slot ${slot}: closed on ${src.address} and ${importing.length} importing nodes` })
      }
    } else if (migrating.length === 1 && importing.length === 0 && (migrating[0] === owner || (counts.get(migrating[0]!.self.id) ?? 0) === 0)) {
      yield* session.send(migrating[0]!.address, stable(slot))
      yield* ctx.progress.step(1, 0, `slot ${slot} closed on ${migrating[0]!.address}`)
      actions.push({ kind: "RolledBack", slots: range, node: migrating[0]!.address, message: `slot ${slot}: migration never reached its target; closed on ${migrating[0]!.address}` })
    } else if (migrating.length > 0 || importing.length > 0) {
      return yield* cannot(`cannot fix slot ${slot}: migrating on [${migrating.map((p) => p.address).join(", ")}], importing on [${
        importing.map((p) => p.address).join(", ")
      }], owner ${owner.address}`)
    }
    return actions
  })

/** Uncovered slots: to the primary with most keys in them, else to the primary with fewest slots. */
const coverSlots = (ctx: MoveContext, all: ReadonlyArray<Primary>, uncovered: ReadonlyArray<number>) =>
  Effect.gen(function*() {
    const { session } = ctx
    const actions: Array<FixAction> = []
    // COUNTKEYSINSLOT for every uncovered slot, pipelined per primary.
    const counts = yield* Effect.forEach(all, (p) =>
      Effect.flatMap(session.sendAll(p.address, uncovered.map(countKeys)), (exits) => {
        const out: Array<number> = []
        for (const exit of exits) {
          if (Exit.isFailure(exit)) return Effect.fail(errorOf(exit) ?? RedisError.invalidArgument("COUNTKEYSINSLOT failed"))
          out.push(exit.value as number)
        }
        return Effect.succeed(out)
      }), { concurrency: 8 })
    const load = new Map(all.map((p) => [p.self.id, Plan.countSlots(p.self.slots)] as const))
    const given = new Map<Primary, Array<number>>()
    const drains: Array<{ slot: number; from: Primary; to: Primary }> = []
    uncovered.forEach((slot, i) => {
      const holders = all.filter((_, j) => counts[j]![i]! > 0)
      let owner: Primary
      if (holders.length === 0) {
        owner = all.reduce((best, p) => (load.get(p.self.id)! < load.get(best.self.id)! ? p : best))
      } else {
        owner = holders.reduce((best, p) => (counts[all.indexOf(p)]![i]! > counts[all.indexOf(best)]![i]! ? p : best))
        for (const h of holders) if (h !== owner) drains.push({ slot, from: h, to: owner })
      }
      load.set(owner.self.id, load.get(owner.self.id)! + 1)
      given.set(owner, [...(given.get(owner) ?? []), slot])
    })
    for (const [owner, slots] of given) {
      const ranges = Plan.toRanges(slots)
      // The new owner may still bind the slot to a primary that no longer
      // claims it (one that dropped it, or an unreachable one): ADDSLOTS would
      // answer "already busy". Drop the stale binding first, as redis-cli's
      // "set slot owner" does; "already unassigned" replies are expected.
      yield* session.sendAll(owner.address, slots.map(delslots))
      for (const [a, b] of ranges) yield* session.send(owner.address, cluster(Cmd.Reply.ok, "ADDSLOTSRANGE", a, b))
      yield* session.send(owner.address, bumpEpoch)
      yield* ctx.progress.step(slots.length, 0, `${slots.length} slots covered by ${owner.address}`)
      actions.push({ kind: "CoveredSlots", slots: ranges, node: owner.address, message: `${slots.length} uncovered slots (${Plan.formatRanges(ranges)}) given to ${owner.address}` })
    }
    for (const { slot, from, to } of drains) {
      // Importing on the source keeps MIGRATE from being redirected; closed again after.
      yield* session.send(from.address, setslot(slot, "IMPORTING", to.self.id))
      const keys = yield* drain(ctx, from, to, slot)
      yield* session.send(from.address, stable(slot))
      actions.push({ kind: "MovedKeys", slots: [[slot, slot]], node: to.address, message: `slot ${slot}: ${keys} keys moved from ${from.address} to ${to.address}` })
    }
    return actions
  })

/**
 * Slots that no primary claims in its own view, as redis-cli counts
 * coverage: a slot its owner dropped (`CLUSTER DELSLOTS`) is uncovered even
 * while the other nodes still bind it to that owner.
 */
const unclaimed = (all: ReadonlyArray<Primary>): Array<number> => {
  const claimed = new Array<boolean>(Plan.SLOTS).fill(false)
  for (const p of all) for (const [a, b] of p.self.slots) for (let s = a; s <= b; s++) claimed[s] = true
  const out: Array<number> = []
  claimed.forEach((c, s) => !c && out.push(s))
  return out
}

/** Slots that more than one primary claims in its own view. */
const multipleOwners = (all: ReadonlyArray<Primary>): Array<number> => {
  const claims = new Array<number>(Plan.SLOTS).fill(0)
  for (const p of all) for (const [a, b] of p.self.slots) for (let s = a; s <= b; s++) claims[s]!++
  const out: Array<number> = []
  claims.forEach((n, s) => n > 1 && out.push(s))
  return out
}

const openSlotsOf = (all: ReadonlyArray<Primary>): Array<number> =>
  [...new Set(all.flatMap((p) => [...p.self.migrating.map((m) => m.slot), ...p.self.importing.map((i) => i.slot)]))].sort((a, b) => a - b)

/** What the fix must leave: no open slot, full coverage, agreement among the nodes that answer. */
const remaining = (report: CheckReport): Array<string> =>
  report.problems
    .filter((p) => p._tag === "OpenSlot" || p._tag === "UncoveredSlots" || p._tag === "Disagreement" || p._tag === "ClusterStateNotOk")
    .map((p) => p.message)

/** @internal */
export const fix = (options: FixOptions): Effect.Effect<FixResult, RedisError.RedisError, Transport> =>
  Effect.scoped(Effect.gen(function*() {
    const op = "fix"
    const session = yield* openSession(options)
    const first = yield* survey(session, options.node)
    const seed = first.report.seed
    const lost = first.report.nodes.filter((e) =>
      e.role === "primary" && !Plan.isUnsettled(e) &&
      (Plan.failureFlag(e) === "fail" || first.views.some((v) => v._tag === "Unreachable" && v.address === addressOf(e, seed)))
    )
    if (lost.length > 0 && options.withUnreachablePrimaries !== true) {
      return yield* cannot(`${lost.length} primary(ies) cannot be reached (${lost.map((e) => describeNode(e, seed)).join(", ")}); ` +
        "fixing now would treat their slots as uncovered and lose their keys if they come back; " +
        "bring them back, or pass withUnreachablePrimaries (--cluster-fix-with-unreachable-masters)")
    }
    let all = primariesOf(seed, first.views)
    if (all.length === 0) return yield* cannot("no reachable primary")
    const lostIds = new Set(lost.map((e) => e.id))
    const open = openSlotsOf(all)
    const multi = options.searchMultipleOwners === true ? multipleOwners(all).filter((s) => !open.includes(s)) : []
    // The progress total counts the slots to cover as they are now; fixing an
    // open slot may cover some of them, so `done` can end a little short.
    const toCover = unclaimed(all.filter((p) => !lostIds.has(p.self.id))).filter((s) => !open.includes(s) && !multi.includes(s))
    const ctx = yield* moveContext(session, seed, op, first.report, options, open.length + multi.length + toCover.length)
    const actions: Array<FixAction> = []
    for (const slot of [...open, ...multi]) actions.push(...(yield* fixOpenSlot(ctx, all, slot)))

    // Coverage, on a fresh view (the open-slot fixes may have assigned slots).
    const second = yield* survey(session, seed)
    all = primariesOf(seed, second.views)
    const uncovered = unclaimed(all.filter((p) => !lostIds.has(p.self.id)))
    if (uncovered.length > 0) actions.push(...(yield* coverSlots(ctx, all, uncovered)))

    let final: CheckReport | undefined
    if (actions.length > 0) {
      yield* converge(session, `${op}: settling`, Effect.map(survey(session, seed), ({ report }) => {
        final = report
        return remaining(report)
      }))
    }
    return { actions, report: final ?? second.report }
  }))

/**
 * Slots several reachable primaries claim in their own view
 * (`--cluster-search-multiple-owners` in `check`), with the claimants.
 *
 * @internal
 */
export const searchMultipleOwners = (
  node: string,
  options: AdminOptions = {}
): Effect.Effect<ReadonlyArray<{ readonly slot: number; readonly owners: ReadonlyArray<string> }>, RedisError.RedisError, Transport> =>
  Effect.scoped(Effect.gen(function*() {
    const session = yield* openSession(options)
    const { report, views } = yield* survey(session, node)
    const all = primariesOf(report.seed, views)
    return multipleOwners(all).map((slot) => ({ slot, owners: all.filter((p) => owns(p, slot)).map((p) => p.address) }))
  }))
