/**
 * The read-mostly operations of `redis-cli --cluster`: `info` (keys, slots
 * and replicas per primary, and totals), `call` (one command on every node,
 * or only the primaries or replicas, with each node's reply or error) and
 * `setTimeout` (`cluster-node-timeout` on every node, persisted with
 * `CONFIG REWRITE` where the server allows it).
 *
 * They survey the cluster from one node like `check`, and ask every node the
 * seed lists and does not flag `fail`. They never move slots or change
 * membership.
 *
 * @internal
 */
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Cmd from "@redis-effect/redis/Command"
import type * as RedisError from "@redis-effect/redis/RedisError"
import type { RespValue } from "@redis-effect/redis/Resp"
import { RespMap, RespSet } from "@redis-effect/redis/Resp"
import type { Transport } from "@redis-effect/redis/Transport"
import type { AdminOptions, NodeEntry } from "../ClusterAdmin.ts"
import * as Plan from "./plan.ts"
import { addressOf, dbsize, invalid, openSession, survey } from "./session.ts"

// -----------------------------------------------------------------------------
// info
// -----------------------------------------------------------------------------

/** @internal */
export interface PrimaryInfo {
  readonly id: string
  readonly address: string
  /** `DBSIZE` of the primary; `undefined` when it could not be asked. */
  readonly keys: number | undefined
  readonly slots: number
  readonly replicas: number
}

/** @internal */
export interface InfoReport {
  readonly seed: string
  readonly primaries: ReadonlyArray<PrimaryInfo>
  readonly totals: {
    readonly primaries: number
    readonly replicas: number
    readonly keys: number
    readonly slots: number
    /** Keys per covered slot, on average. */
    readonly keysPerSlot: number
  }
  /** One sentence per node that could not be asked. */
  readonly unreachable: ReadonlyArray<string>
}

/** @internal */
export const info = (node: string, options: AdminOptions = {}): Effect.Effect<InfoReport, RedisError.RedisError, Transport> =>
  Effect.scoped(Effect.gen(function*() {
    const session = yield* openSession(options)
    const { report } = yield* survey(session, node)
    const unreachable: Array<string> = []
    const primaries = yield* Effect.forEach(report.primaries, (p) =>
      Effect.match(session.send(p.address, dbsize), {
        onFailure: (e): PrimaryInfo => {
          unreachable.push(e.message)
          return { id: p.id, address: p.address, keys: undefined, slots: p.slots, replicas: p.replicas.length }
        },
        onSuccess: (keys): PrimaryInfo => ({ id: p.id, address: p.address, keys, slots: p.slots, replicas: p.replicas.length })
      }), { concurrency: 8 })
    const keys = primaries.reduce((n, p) => n + (p.keys ?? 0), 0)
    const slots = primaries.reduce((n, p) => n + p.slots, 0)
    return {
      seed: report.seed,
      primaries,
      totals: {
        primaries: primaries.length,
        replicas: primaries.reduce((n, p) => n + p.replicas, 0),
        keys,
        slots,
        keysPerSlot: slots === 0 ? 0 : keys / slots
      },
      unreachable
    }
  }))

// -----------------------------------------------------------------------------
// call
// -----------------------------------------------------------------------------

/** @internal */
export type CallTarget = "all" | "primaries" | "replicas"

/** @internal */
export interface CallOptions extends AdminOptions {
  /** Any node of the cluster. */
  readonly node: string
  /** The command and its arguments, e.g. `["CONFIG", "GET", "maxmemory"]`. */
  readonly command: ReadonlyArray<string>
  /** Which nodes run it (default `"all"`, like redis-cli; `--cluster-only-masters` / `--cluster-only-replicas`). */
  readonly nodes?: CallTarget | undefined
}

/** @internal */
export type CallReply =
  | { readonly address: string; readonly id: string; readonly role: NodeEntry["role"]; readonly ok: true; readonly reply: unknown }
  | { readonly address: string; readonly id: string; readonly role: NodeEntry["role"]; readonly ok: false; readonly error: string }

/**
 * A reply as plain JSON-friendly data: bulk strings as UTF-8 text, maps as
 * objects, big integers as text.
 *
 * @internal
 */
export const plainReply = (value: RespValue): unknown => {
  if (value instanceof Uint8Array) return new TextDecoder().decode(value)
  if (typeof value === "bigint") return value.toString()
  if (Array.isArray(value)) return value.map(plainReply)
  if (value instanceof RespMap) {
    const out: Record<string, unknown> = {}
    for (let i = 0; i + 1 < value.flat.length; i += 2) out[String(plainReply(value.flat[i]!))] = plainReply(value.flat[i + 1]!)
    return out
  }
  if (value instanceof RespSet) return value.items.map(plainReply)
  if (typeof value === "object" && value !== null) return String(value)
  return value
}

/** @internal */
export const call = (options: CallOptions): Effect.Effect<ReadonlyArray<CallReply>, RedisError.RedisError, Transport> =>
  Effect.scoped(Effect.gen(function*() {
    const op = "call"
    if (options.command.length === 0) return yield* invalid(op, "no command given")
    const session = yield* openSession(options)
    const { report } = yield* survey(session, options.node)
    const which = options.nodes ?? "all"
    const targets = report.nodes.filter((e) =>
      !Plan.isUnsettled(e) && Plan.failureFlag(e) !== "fail" &&
      (which === "all" || (which === "primaries") === (e.role === "primary"))
    )
    const [name, ...rest] = options.command
    const command = Cmd.unsafeMake(name!.toUpperCase(), [name!, ...rest], [], Cmd.Flags.NO_KEYS, Cmd.Reply.raw)
    return yield* Effect.forEach(targets, (e: NodeEntry) => {
      const address = addressOf(e, report.seed)
      return Effect.match(session.send(address, command), {
        onFailure: (error): CallReply => ({ address, id: e.id, role: e.role, ok: false, error: error.message }),
        onSuccess: (reply): CallReply => ({ address, id: e.id, role: e.role, ok: true, reply: plainReply(reply) })
      })
    }, { concurrency: 8 })
  }))

// -----------------------------------------------------------------------------
// set-timeout
// -----------------------------------------------------------------------------

/** @internal */
export interface SetTimeoutOptions extends AdminOptions {
  /** Any node of the cluster. */
  readonly node: string
  /** The new `cluster-node-timeout` (at least 100 ms, as redis-cli requires). */
  readonly nodeTimeout: Duration.Input
}

/** @internal */
export interface SetTimeoutResult {
  readonly millis: number
  readonly nodes: ReadonlyArray<{
    readonly address: string
    readonly id: string
    /** `CONFIG SET` succeeded. */
    readonly set: boolean
    /** `CONFIG REWRITE` succeeded (false when the server has no config file, for one). */
    readonly persisted: boolean
    readonly error: string | undefined
  }>
  /** Every node took the new value. */
  readonly ok: boolean
}

const configSet = (millis: number) =>
  Cmd.unsafeMake("CONFIG", ["CONFIG", "SET", "cluster-node-timeout", millis], [], Cmd.Flags.NO_KEYS, Cmd.Reply.ok)
const configRewrite = Cmd.unsafeMake("CONFIG", ["CONFIG", "REWRITE"], [], Cmd.Flags.NO_KEYS, Cmd.Reply.ok)

/** @internal */
export const setTimeout = (options: SetTimeoutOptions): Effect.Effect<SetTimeoutResult, RedisError.RedisError, Transport> =>
  Effect.scoped(Effect.gen(function*() {
    const op = "setTimeout"
    const decoded = Duration.fromInput(options.nodeTimeout)
    const millis = decoded._tag === "Some" ? Math.floor(Duration.toMillis(decoded.value)) : Number.NaN
    if (!Number.isFinite(millis) || millis < 100) {
      return yield* invalid(op, `the node timeout must be at least 100 ms, got ${String(options.nodeTimeout)}`)
    }
    const session = yield* openSession(options)
    const { report } = yield* survey(session, options.node)
    const targets = report.nodes.filter((e) => !Plan.isUnsettled(e) && Plan.failureFlag(e) !== "fail")
    const nodes = yield* Effect.forEach(targets, (e) => {
      const address = addressOf(e, report.seed)
      return Effect.gen(function*() {
        const set = yield* Effect.result(session.send(address, configSet(millis)))
        if (set._tag === "Failure") return { address, id: e.id, set: false, persisted: false, error: set.failure.message }
        const rewrite = yield* Effect.result(session.send(address, configRewrite))
        return rewrite._tag === "Failure"
          ? { address, id: e.id, set: true, persisted: false, error: `CONFIG REWRITE: ${rewrite.failure.message}` }
          : { address, id: e.id, set: true, persisted: true, error: undefined }
      })
    }, { concurrency: 8 })
    return { millis, nodes, ok: nodes.every((n) => n.set) }
  }))
