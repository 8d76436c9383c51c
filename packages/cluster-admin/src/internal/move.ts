/**
 * Moving one slot between primaries with redis-cli's per-slot protocol
 * (IMPORTING on the target, MIGRATING on the source, `GETKEYSINSLOT` +
 * `MIGRATE ... KEYS` until empty, `SETSLOT NODE` everywhere), with redis-cli's
 * `BUSYKEY` handling, and waiting until the cluster agrees on the moves.
 *
 * It does not choose which slots move (`reshard`, `rebalance` and `fix` do)
 * and reports each batch of keys to an optional progress callback.
 *
 * @internal
 */
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Option from "effect/Option"
import * as Cmd from "@redis-effect/redis/Command"
import * as RedisError from "@redis-effect/redis/RedisError"
import type { CheckReport, MoveOptions, NodeEntry, SlotMove } from "../ClusterAdmin.ts"
import * as Plan from "./plan.ts"
import * as Progress from "./progress.ts"
import {
  addressOf,
  asking,
  converge,
  defaultMigrateTimeout,
  defaultPipeline,
  describeNode,
  dump,
  errorOf,
  findNode,
  getKeysInSlot,
  invalid,
  isReply,
  keyText,
  type Session,
  setslot,
  survey
} from "./session.ts"

// -----------------------------------------------------------------------------
// moving slots
// -----------------------------------------------------------------------------

export interface MoveContext {
  readonly session: Session
  readonly seed: string
  readonly op: string
  /** Every primary in the cluster (they all hear `SETSLOT NODE`). */
  readonly primaries: ReadonlyArray<NodeEntry>
  readonly pipeline: number
  readonly migrateTimeoutMs: number
  readonly replace: boolean
  readonly auth: ReadonlyArray<string>
  readonly progress: Progress.Tracker
}

export const moveContext = (
  session: Session,
  seed: string,
  op: string,
  report: CheckReport,
  options: MoveOptions,
  totalSlots: number
): Effect.Effect<MoveContext, RedisError.RedisError> =>
  Effect.gen(function*() {
    const pipeline = options.pipeline ?? defaultPipeline
    if (!Number.isInteger(pipeline) || pipeline < 1) return yield* invalid(op, `pipeline must be a positive integer, got ${pipeline}`)
    return {
      session,
      seed,
      op,
      primaries: report.nodes.filter((e) => e.role === "primary" && Plan.failureFlag(e) === undefined),
      pipeline,
      migrateTimeoutMs: Duration.toMillis(Duration.fromInputUnsafe(options.migrateTimeout ?? defaultMigrateTimeout)),
      replace: options.replace === true,
      auth: yield* session.migrateAuth,
      progress: yield* Progress.tracker(op, "slots", totalSlots, options.onProgress)
    }
  })

/** A source that has just given away its last slot may have turned into a replica (cluster-allow-replica-migration). */
export const unlessReplica = (effect: Effect.Effect<void, RedisError.RedisError>) =>
  Effect.catch(effect, (e) => (isReply(e, /only with masters|I'm a replica/i) ? Effect.void : Effect.fail(e)))

/**
 * `MIGRATE host port "" 0 timeout [COPY] [REPLACE] [AUTH…] KEYS k…`, for the
 * node that holds the keys to run: the one command behind reshard, fix and
 * import.
 *
 * @internal
 */
export const migrateCommand = (
  target: NodeEntry,
  keys: ReadonlyArray<Uint8Array>,
  options: {
    readonly timeoutMs: number
    readonly copy: boolean
    readonly replace: boolean
    readonly auth: ReadonlyArray<string>
  }
) =>
  Cmd.unsafeMake(
    "MIGRATE",
    [
      "MIGRATE",
      target.host,
      target.port,
      "",
      0,
      options.timeoutMs,
      ...(options.copy ? ["COPY"] : []),
      ...(options.replace ? ["REPLACE"] : []),
      ...options.auth,
      "KEYS",
      ...keys
    ],
    [],
    Cmd.Flags.WRITE | Cmd.Flags.NO_KEYS,
    Cmd.Reply.string
  )

export const migrate = (ctx: MoveContext, source: string, target: NodeEntry, keys: ReadonlyArray<Uint8Array>, replace: boolean) =>
  ctx.session.send(
    source,
    migrateCommand(target, keys, { timeoutMs: ctx.migrateTimeoutMs, copy: false, replace, auth: ctx.auth })
  )

/**
 * `BUSYKEY` without `replace`, as redis-cli handles it: keys whose value is
 * the same on both sides (same `DUMP` payload; the target is read with
 * `ASKING`, since it is importing the slot) are migrated again with
 * `REPLACE`; any key with a different value stops the move.
 */
export const resolveBusyKeys = (
  ctx: MoveContext,
  source: string,
  target: NodeEntry,
  keys: ReadonlyArray<Uint8Array>,
  slot: number,
  busy: RedisError.RedisError
) =>
  Effect.gen(function*() {
    const targetAddress = addressOf(target, ctx.seed)
    const here = yield* ctx.session.sendAll(source, keys.map(dump))
    const left: Array<{ key: Uint8Array; payload: Uint8Array }> = []
    for (let i = 0; i < keys.length; i++) {
      const exit = here[i]!
      if (Exit.isFailure(exit)) return yield* Effect.fail(errorOf(exit) ?? busy)
      const payload = exit.value as Option.Option<Uint8Array>
      if (Option.isSome(payload)) left.push({ key: keys[i]!, payload: payload.value })
    }
    const there = yield* ctx.session.sendAll(targetAddress, left.flatMap(({ key }) => [asking, dump(key)]))
    const differing: Array<string> = []
    for (let i = 0; i < left.length; i++) {
      const exit = there[2 * i + 1]!
      if (Exit.isFailure(exit)) return yield* Effect.fail(errorOf(exit) ?? busy)
      const payload = exit.value as Option.Option<Uint8Array>
      const same = Option.isSome(payload) && payload.value.length === left[i]!.payload.length &&
        payload.value.every((b, j) => b === left[i]!.payload[j])
      if (!same) differing.push(keyText(left[i]!.key))
    }
    if (differing.length > 0) {
      return yield* Effect.fail(RedisError.make(
        new RedisError.ReplyError({
          code: "BUSYKEY",
          message: `${ctx.op}: BUSYKEY in slot ${slot}: ${differing.length} key(s) exist on both ${source} and ${targetAddress} with different values (${
            differing.slice(0, 5).map((k) => JSON.stringify(k)).join(", ")
          }${differing.length > 5 ? ", ..." : ""}); fix them by hand or pass replace: true to overwrite the target's. The slot stays open.`
        }),
        "Rejected",
        "MIGRATE"
      ))
    }
    if (left.length > 0) {
      yield* migrate(ctx, source, target, left.map((l) => l.key), true)
    }
  })

export const migrateKeys = (ctx: MoveContext, source: string, target: NodeEntry, slot: number) =>
  Effect.gen(function*() {
    let moved = 0
    while (true) {
      const keys = yield* ctx.session.send(source, getKeysInSlot(slot, ctx.pipeline))
      if (keys.length === 0) return moved
      const exit = yield* Effect.exit(migrate(ctx, source, target, keys, ctx.replace))
      const error = errorOf(exit)
      if (error !== undefined) {
        // The source relays the target's refusal: "ERR Target instance replied with error: BUSYKEY ...".
        if (!isReply(error, /BUSYKEY/)) return yield* Effect.fail(error)
        yield* resolveBusyKeys(ctx, source, target, keys, slot, error)
      } else if (Exit.isFailure(exit)) {
        return yield* Effect.failCause(exit.cause)
      }
      moved += keys.length
      yield* ctx.progress.step(0, keys.length, `slot ${slot}: ${moved} keys`)
    }
  })

/**
 * One slot, in redis-cli's order. The target learns first that it imports
 * the slot, so a client sent there by `ASK` is served; then the source
 * starts answering `ASK` for missing keys; keys move in batches; then the
 * target takes the slot (bumping its epoch), then the source, then every
 * other primary (at once), so that no one depends on gossip to send
 * `MOVED`. The source hears it only after the target owns the slot: it
 * then answers `MOVED` to the target, never to a node that refuses it.
 */
export const moveSlot = (ctx: MoveContext, slot: number, source: NodeEntry, target: NodeEntry) =>
  Effect.gen(function*() {
    const sourceAddress = addressOf(source, ctx.seed)
    const targetAddress = addressOf(target, ctx.seed)
    yield* ctx.session.send(targetAddress, setslot(slot, "IMPORTING", source.id))
    yield* ctx.session.send(sourceAddress, setslot(slot, "MIGRATING", target.id))
    const keys = yield* migrateKeys(ctx, sourceAddress, target, slot)
    yield* ctx.session.send(targetAddress, setslot(slot, "NODE", target.id))
    yield* unlessReplica(ctx.session.send(sourceAddress, setslot(slot, "NODE", target.id)))
    yield* Effect.forEach(
      ctx.primaries.filter((p) => p.id !== source.id && p.id !== target.id),
      (p) => unlessReplica(ctx.session.send(addressOf(p, ctx.seed), setslot(slot, "NODE", target.id))),
      { concurrency: "unbounded", discard: true }
    )
    yield* ctx.progress.step(1, 0, `slot ${slot} moved (${keys} keys)`)
    return { slot, from: source.id, to: target.id, keys } satisfies SlotMove
  })

/** After moves: every node agrees again and the target owns every slot it received. */
export const awaitMoved = (ctx: MoveContext, moves: ReadonlyArray<SlotMove>) =>
  converge(
    ctx.session,
    `${ctx.op}: settling ${moves.length} moved slots`,
    Effect.map(survey(ctx.session, ctx.seed), ({ report }) => {
      const problems = report.problems.map((p) => p.message)
      const owned = new Map<string, Set<number>>()
      for (const n of report.nodes) owned.set(n.id, new Set(Plan.expandRanges(n.slots)))
      const wrong = moves.filter((m) => !owned.get(m.to)?.has(m.slot))
      if (wrong.length > 0) problems.push(`${wrong.length} moved slots are not owned by their target yet in ${ctx.seed}'s view`)
      return problems
    })
  )

export const primaryNamed = (
  op: string,
  report: CheckReport,
  ref: string,
  what: string
): Effect.Effect<NodeEntry, RedisError.RedisError> => {
  const entry = findNode(report.nodes, ref, report.seed)
  if (entry === undefined) {
    return invalid(op, `${what} ${ref} is not a node of the cluster (known: ${report.nodes.map((e) => describeNode(e, report.seed)).join(", ")})`)
  }
  if (entry.role !== "primary") return invalid(op, `${what} ${describeNode(entry, report.seed)} is not a primary`)
  return Effect.succeed(entry)
}

