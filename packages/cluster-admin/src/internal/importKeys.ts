/**
 * `redis-cli --cluster import`: every key of a standalone server (its
 * database 0) into a cluster. The source is walked with `SCAN`; each batch
 * is grouped by the primary that owns each key's slot and sent with one
 * `MIGRATE host port "" 0 timeout [COPY] [REPLACE] [AUTH ...] KEYS ...` per
 * primary, run by the source itself (the keys never pass through this
 * process).
 *
 * Without `replace`, a key that already exists in the cluster is not
 * imported: it is reported per key (`BUSYKEY`) and stays on the source. The
 * check is an `EXISTS` on the owning primary just before the batch's
 * `MIGRATE`, so a key created in the cluster between the two makes the
 * whole batch fail with the server's `BUSYKEY` (reported for every key of
 * that batch). Without `copy` imported keys are deleted from the source (what
 * `MIGRATE` does).
 *
 * It does not import other databases than 0 (a cluster has only 0), does
 * not change slots, and refuses a source that is a cluster node.
 *
 * @internal
 */
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as ClusterSlot from "@redis-effect/redis/ClusterSlot"
import * as Cmd from "@redis-effect/redis/Command"
import type * as RedisError from "@redis-effect/redis/RedisError"
import type { Transport } from "@redis-effect/redis/Transport"
import type { AdminOptions, ConnectionTemplate, NodeEntry, OnProgress } from "../ClusterAdmin.ts"
import * as Move from "./move.ts"
import * as Plan from "./plan.ts"
import * as Progress from "./progress.ts"
import {
  addressOf,
  checkFailed,
  dbsize,
  defaultMigrateTimeout,
  errorOf,
  invalid,
  keyText,
  normalize,
  openSession,
  parseInfo,
  type Session,
  survey
} from "./session.ts"

/** @internal */
export interface ImportOptions extends AdminOptions {
  /** Any node of the cluster. */
  readonly node: string
  /** The standalone server, `host:port`. */
  readonly from: string
  /** How to connect to the source (default: `connection`); `--cluster-from-user` / `--cluster-from-pass`. */
  readonly fromConnection?: ConnectionTemplate | undefined
  /** Keep the keys on the source (`--cluster-copy`). */
  readonly copy?: boolean | undefined
  /** Overwrite keys that exist in the cluster (`--cluster-replace`). */
  readonly replace?: boolean | undefined
  /** `SCAN ... COUNT` (default 1000, as redis-cli). */
  readonly batch?: number | undefined
  /** `MIGRATE` timeout (default 60 s). */
  readonly migrateTimeout?: Duration.Input | undefined
  /** Called after each batch (unit: keys; `total` is the source's `DBSIZE` at the start). */
  readonly onProgress?: OnProgress | undefined
}

/** @internal */
export interface ImportFailure {
  readonly key: string
  /** Address of the primary that owns the key's slot. */
  readonly target: string
  readonly error: string
}

/** @internal */
export interface ImportResult {
  /** Keys the scan returned. */
  readonly scanned: number
  /** Keys migrated into the cluster. */
  readonly imported: number
  /** Keys not imported, with why (e.g. `BUSYKEY` without `replace`). */
  readonly failed: ReadonlyArray<ImportFailure>
}

const scan = (cursor: string, count: number) =>
  Cmd.unsafeMake("SCAN", ["SCAN", cursor, "COUNT", count], [], Cmd.Flags.READONLY | Cmd.Flags.NO_KEYS, (r) => {
    const [next, keys] = Cmd.Reply.array(Cmd.Reply.raw)(r)
    return { cursor: Cmd.Reply.string(next!), keys: Cmd.Reply.array(Cmd.Reply.bytes)(keys!) }
  }, true)

const exists = (key: Uint8Array) => Cmd.unsafeMake("EXISTS", ["EXISTS", key], [key], Cmd.Flags.READONLY, Cmd.Reply.integer, true)

// What the target would answer for an existing key without REPLACE.
const busyKey = "BUSYKEY Target key name already exists."

const infoCluster = Cmd.unsafeMake("INFO", ["INFO", "cluster"], [], Cmd.Flags.NO_KEYS, (r) => parseInfo(Cmd.Reply.string(r)))

/** The owner of every slot: index into `primaries`, -1 for none. */
const slotOwners = (primaries: ReadonlyArray<NodeEntry>): Int32Array => {
  const owners = new Int32Array(Plan.SLOTS).fill(-1)
  primaries.forEach((p, i) => {
    for (const slot of Plan.expandRanges(p.slots)) owners[slot] = i
  })
  return owners
}

interface Ctx {
  readonly source: Session
  readonly from: string
  readonly cluster: Session
  readonly seed: string
  readonly primaries: ReadonlyArray<NodeEntry>
  readonly owners: Int32Array
  readonly copy: boolean
  readonly replace: boolean
  readonly timeoutMs: number
  readonly auth: ReadonlyArray<string>
}

const migrateBatch = (ctx: Ctx, target: NodeEntry, keys: ReadonlyArray<Uint8Array>) =>
  ctx.source.send(
    ctx.from,
    Move.migrateCommand(target, keys, { timeoutMs: ctx.timeoutMs, copy: ctx.copy, replace: ctx.replace, auth: ctx.auth })
  )

/** One primary's share of a batch: the keys it already has are reported, the rest migrated. */
const importTo = (ctx: Ctx, target: NodeEntry, keys: ReadonlyArray<Uint8Array>) =>
  Effect.gen(function*() {
    const address = addressOf(target, ctx.seed)
    const failed: Array<ImportFailure> = []
    const send: Array<Uint8Array> = []
    if (ctx.replace) send.push(...keys)
    else {
      const present = yield* ctx.cluster.sendAll(address, keys.map(exists))
      keys.forEach((key, i) => {
        const exit = present[i]!
        if (Exit.isSuccess(exit) && exit.value === 0) send.push(key)
        else failed.push({ key: keyText(key), target: address, error: errorOf(exit)?.message ?? busyKey })
      })
    }
    if (send.length > 0) {
      const exit = yield* Effect.exit(migrateBatch(ctx, target, send))
      const error = errorOf(exit)
      if (error !== undefined) {
        // MIGRATE answers one error for the batch; say it for each of its keys.
        for (const key of send) failed.push({ key: keyText(key), target: address, error: error.message })
        return { imported: 0, failed }
      }
      if (Exit.isFailure(exit)) return yield* Effect.failCause(exit.cause)
    }
    return { imported: send.length, failed }
  })

const checkSource = (session: Session, from: string) =>
  Effect.gen(function*() {
    const info = yield* session.send(from, infoCluster)
    if (info.cluster_enabled === "1") return yield* invalid("import", `the source ${from} is a cluster node; import takes a standalone server`)
  })

/** @internal */
export const importKeys = (options: ImportOptions): Effect.Effect<ImportResult, RedisError.RedisError, Transport> =>
  Effect.scoped(Effect.gen(function*() {
    const op = "import"
    const from = normalize(options.from)
    if (from === undefined) return yield* invalid(op, `invalid source address ${JSON.stringify(options.from)} (want host:port)`)
    const batch = options.batch ?? 1000
    if (!Number.isInteger(batch) || batch < 1) return yield* invalid(op, `batch must be a positive integer, got ${batch}`)
    const cluster = yield* openSession(options)
    const source = yield* openSession({ ...options, connection: options.fromConnection ?? options.connection })
    const { report } = yield* survey(cluster, options.node)
    if (!report.ok) return yield* checkFailed(op, report)
    yield* checkSource(source, from)
    const primaries = report.nodes.filter((e) => e.role === "primary" && Plan.countSlots(e.slots) > 0)
    const ctx: Ctx = {
      source,
      from,
      cluster,
      seed: report.seed,
      primaries,
      owners: slotOwners(primaries),
      copy: options.copy === true,
      replace: options.replace === true,
      timeoutMs: Duration.toMillis(Duration.fromInputUnsafe(options.migrateTimeout ?? defaultMigrateTimeout)),
      auth: yield* cluster.migrateAuth
    }
    const total = yield* source.send(from, dbsize)
    const progress = yield* Progress.tracker(op, "keys", total, options.onProgress)
    const failed: Array<ImportFailure> = []
    let scanned = 0
    let imported = 0
    let cursor = "0"
    do {
      const page = yield* source.send(from, scan(cursor, batch))
      cursor = page.cursor
      scanned += page.keys.length
      const groups = new Map<number, Array<Uint8Array>>()
      for (const key of page.keys) {
        const owner = ctx.owners[ClusterSlot.keyslot(key)]!
        const group = groups.get(owner)
        if (group === undefined) groups.set(owner, [key])
        else group.push(key)
      }
      const outcomes = yield* Effect.forEach(groups, ([owner, keys]) => importTo(ctx, primaries[owner]!, keys), { concurrency: 4 })
      let done = 0
      for (const o of outcomes) {
        done += o.imported
        failed.push(...o.failed)
      }
      imported += done
      yield* progress.step(page.keys.length, done, `${imported} imported, ${failed.length} failed`)
    } while (cursor !== "0")
    return { scanned, imported, failed }
  }))
