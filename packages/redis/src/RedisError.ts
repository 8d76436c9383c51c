/**
 * The one error type of redis-effect.
 *
 * A `RedisError` carries a tagged `reason` (what went wrong: a `Moved`
 * redirect, a `ConnectionError`, a server `ReplyError`, ...) and an `outcome`
 * (what became of the command: it was never sent, the server refused it, or
 * it was written and no reply came back, so it may have run). Users recover
 * from one reason with `Effect.catchReason("RedisError", "ClusterDown", f)`
 * and keep the others typed.
 *
 * This module also holds `classify`, the single pure function that turns the
 * text of a server error reply into a reason. Nothing here performs I/O.
 *
 * **Details**
 *
 * Messages never contain secrets: connection errors name the address, not
 * the credentials, and commands are named by their first word only.
 *
 * @since 0.1.0
 */
import type * as Exit from "effect/Exit"
import * as Address from "./Address.ts"
import * as Predicate from "effect/Predicate"
import * as Schema from "effect/Schema"

const ReasonTypeId = "~@redis-effect/redis/RedisError/Reason" as const

// -----------------------------------------------------------------------------
// reasons
// -----------------------------------------------------------------------------

/**
 * A server error reply that no more specific reason describes
 * (`WRONGTYPE`, `ERR syntax error`, `NOPERM`, ...). `code` is the first word.
 *
 * @category reasons
 * @since 0.1.0
 */
export class ReplyError extends Schema.TaggedError<ReplyError>("@redis-effect/redis/ReplyError")("ReplyError", {
  code: Schema.String,
  message: Schema.String
}) {
  readonly [ReasonTypeId] = ReasonTypeId
  /** A generic server error says the command itself is wrong: retrying cannot help. */
  get isRetryable(): boolean {
    return false
  }
}

/**
 * The connection could not be opened, or it was lost.
 *
 * @category reasons
 * @since 0.1.0
 */
export class ConnectionError extends Schema.TaggedError<ConnectionError>("@redis-effect/redis/ConnectionError")(
  "ConnectionError",
  {
    message: Schema.String,
    address: Schema.optional(Schema.String),
    cause: Schema.optional(Schema.Defect())
  }
) {
  readonly [ReasonTypeId] = ReasonTypeId
  get isRetryable(): boolean {
    return true
  }
}

/**
 * A connect, command or handshake deadline passed.
 *
 * @category reasons
 * @since 0.1.0
 */
export class Timeout extends Schema.TaggedError<Timeout>("@redis-effect/redis/Timeout")("Timeout", {
  message: Schema.String,
  millis: Schema.Number
}) {
  readonly [ReasonTypeId] = ReasonTypeId
  get isRetryable(): boolean {
    return true
  }
}

/**
 * The server sent bytes the decoder cannot accept (malformed, too large, too
 * deep), or a reply of a shape the command does not expect. A framing error
 * ends the connection it happened on; a shape error leaves it intact.
 *
 * @category reasons
 * @since 0.1.0
 */
export class ProtocolError extends Schema.TaggedError<ProtocolError>("@redis-effect/redis/ProtocolError")(
  "ProtocolError",
  { message: Schema.String }
) {
  readonly [ReasonTypeId] = ReasonTypeId
  get isRetryable(): boolean {
    return false
  }
}

/**
 * Authentication failed (`WRONGPASS`, `NOAUTH`, a refused `AUTH`/`HELLO`), or
 * the credentials provider failed.
 *
 * @category reasons
 * @since 0.1.0
 */
export class AuthError extends Schema.TaggedError<AuthError>("@redis-effect/redis/AuthError")("AuthError", {
  message: Schema.String
}) {
  readonly [ReasonTypeId] = ReasonTypeId
  get isRetryable(): boolean {
    return false
  }
}

/**
 * `NOSCRIPT`: EVALSHA named a script the server does not have.
 *
 * @category reasons
 * @since 0.1.0
 */
export class NoScript extends Schema.TaggedError<NoScript>("@redis-effect/redis/NoScript")("NoScript", {
  message: Schema.String
}) {
  readonly [ReasonTypeId] = ReasonTypeId
  get isRetryable(): boolean {
    return false
  }
}

/**
 * `LOADING`: the server is loading its dataset in memory.
 *
 * @category reasons
 * @since 0.1.0
 */
export class Loading extends Schema.TaggedError<Loading>("@redis-effect/redis/Loading")("Loading", {
  message: Schema.String
}) {
  readonly [ReasonTypeId] = ReasonTypeId
  get isRetryable(): boolean {
    return true
  }
}

/**
 * `READONLY`: a write reached a replica (usually a demoted primary).
 *
 * @category reasons
 * @since 0.1.0
 */
export class ReadOnly extends Schema.TaggedError<ReadOnly>("@redis-effect/redis/ReadOnly")("ReadOnly", {
  message: Schema.String
}) {
  readonly [ReasonTypeId] = ReasonTypeId
  get isRetryable(): boolean {
    return true
  }
}

/**
 * `BUSY`: a script or function is running past its time limit.
 *
 * @category reasons
 * @since 0.1.0
 */
export class Busy extends Schema.TaggedError<Busy>("@redis-effect/redis/Busy")("Busy", {
  message: Schema.String
}) {
  readonly [ReasonTypeId] = ReasonTypeId
  get isRetryable(): boolean {
    return true
  }
}

/**
 * `MOVED slot host:port`: the slot lives on another node for good.
 *
 * @category reasons
 * @since 0.1.0
 */
export class Moved extends Schema.TaggedError<Moved>("@redis-effect/redis/Moved")("Moved", {
  slot: Schema.Number,
  host: Schema.String,
  port: Schema.Number
}) {
  readonly [ReasonTypeId] = ReasonTypeId
  get isRetryable(): boolean {
    return true
  }
}

/**
 * `ASK slot host:port`: the slot is being migrated; ask the target once.
 *
 * @category reasons
 * @since 0.1.0
 */
export class Ask extends Schema.TaggedError<Ask>("@redis-effect/redis/Ask")("Ask", {
  slot: Schema.Number,
  host: Schema.String,
  port: Schema.Number
}) {
  readonly [ReasonTypeId] = ReasonTypeId
  get isRetryable(): boolean {
    return true
  }
}

/**
 * `TRYAGAIN`: a multi-key command hit a slot in the middle of a migration.
 *
 * @category reasons
 * @since 0.1.0
 */
export class TryAgain extends Schema.TaggedError<TryAgain>("@redis-effect/redis/TryAgain")("TryAgain", {
  message: Schema.String
}) {
  readonly [ReasonTypeId] = ReasonTypeId
  get isRetryable(): boolean {
    return true
  }
}

/**
 * `CLUSTERDOWN`: the cluster cannot serve the slot right now.
 *
 * @category reasons
 * @since 0.1.0
 */
export class ClusterDown extends Schema.TaggedError<ClusterDown>("@redis-effect/redis/ClusterDown")("ClusterDown", {
  message: Schema.String
}) {
  readonly [ReasonTypeId] = ReasonTypeId
  get isRetryable(): boolean {
    return true
  }
}

/**
 * `CROSSSLOT`: the keys of one atomic command hash to different slots. Raised
 * by the client before sending when it can tell, else by the server.
 *
 * @category reasons
 * @since 0.1.0
 */
export class CrossSlot extends Schema.TaggedError<CrossSlot>("@redis-effect/redis/CrossSlot")("CrossSlot", {
  message: Schema.String
}) {
  readonly [ReasonTypeId] = ReasonTypeId
  get isRetryable(): boolean {
    return false
  }
}

/**
 * `MASTERDOWN`: a replica lost its link to the primary and refuses stale reads.
 *
 * @category reasons
 * @since 0.1.0
 */
export class MasterDown extends Schema.TaggedError<MasterDown>("@redis-effect/redis/MasterDown")("MasterDown", {
  message: Schema.String
}) {
  readonly [ReasonTypeId] = ReasonTypeId
  get isRetryable(): boolean {
    return true
  }
}

/**
 * No sentinel could name a primary for the service; `message` lists what each
 * sentinel said.
 *
 * @category reasons
 * @since 0.1.0
 */
export class MasterNotFound extends Schema.TaggedError<MasterNotFound>("@redis-effect/redis/MasterNotFound")(
  "MasterNotFound",
  { message: Schema.String, masterName: Schema.String }
) {
  readonly [ReasonTypeId] = ReasonTypeId
  get isRetryable(): boolean {
    return true
  }
}

/**
 * `EXECABORT`: a queued command of a MULTI was invalid, so EXEC ran nothing;
 * or `EXEC` returned nil because a WATCHed key changed (`watchConflict`).
 *
 * @category reasons
 * @since 0.1.0
 */
export class ExecAbort extends Schema.TaggedError<ExecAbort>("@redis-effect/redis/ExecAbort")("ExecAbort", {
  message: Schema.String,
  watchConflict: Schema.Boolean
}) {
  readonly [ReasonTypeId] = ReasonTypeId
  /** A WATCH conflict is worth another attempt; an invalid queued command is not. */
  get isRetryable(): boolean {
    return this.watchConflict
  }
}

/**
 * Input the client refused before sending anything: a NaN score, an empty key
 * list, a value that cannot be encoded.
 *
 * @category reasons
 * @since 0.1.0
 */
export class InvalidArgument extends Schema.TaggedError<InvalidArgument>("@redis-effect/redis/InvalidArgument")(
  "InvalidArgument",
  { message: Schema.String }
) {
  readonly [ReasonTypeId] = ReasonTypeId
  get isRetryable(): boolean {
    return false
  }
}

/**
 * A feature this client does not support (yet). Missing features fail loudly
 * with this reason instead of misbehaving.
 *
 * @category reasons
 * @since 0.1.0
 */
export class NotSupported extends Schema.TaggedError<NotSupported>("@redis-effect/redis/NotSupported")(
  "NotSupported",
  { message: Schema.String }
) {
  readonly [ReasonTypeId] = ReasonTypeId
  get isRetryable(): boolean {
    return false
  }
}

/**
 * `ClusterAdmin` found the cluster in a state it will not work on (or that
 * `checkOrFail` was asked to refuse): uncovered slots, nodes that disagree
 * about slot owners, open (migrating/importing) slots, failed or unreachable
 * nodes. `problems` holds one sentence per problem.
 *
 * @category reasons
 * @since 0.1.0
 */
export class ClusterCheckFailed extends Schema.TaggedError<ClusterCheckFailed>(
  "@redis-effect/redis/ClusterCheckFailed"
)("ClusterCheckFailed", {
  message: Schema.String,
  problems: Schema.Array(Schema.String)
}) {
  readonly [ReasonTypeId] = ReasonTypeId
  /**
   * A broken cluster needs an operator (or `redis-cli --cluster fix`), not a
   * blind retry; waiting for convergence after a change is what the
   * operations' own `timeout` is for.
   */
  get isRetryable(): boolean {
    return false
  }
}

/**
 * A value the server sent back does not decode through the `Schema` the
 * caller gave (`Typed`): `key` names the key (or pub/sub channel) it came
 * from, `message` the key and the schema issue, and `raw` holds the value as
 * it came off the wire, so nothing is lost. The command ran: a `RedisError`
 * carrying this reason has the outcome `Unknown` (the server answered, but
 * with nothing the caller can use), and sending it again gives the same
 * value back.
 *
 * @category reasons
 * @since 0.1.0
 */
export class DecodeError extends Schema.TaggedError<DecodeError>("@redis-effect/redis/DecodeError")("DecodeError", {
  key: Schema.String,
  message: Schema.String,
  raw: Schema.Unknown
}) {
  readonly [ReasonTypeId] = ReasonTypeId
  /** The stored value stays what it is: another attempt decodes the same bytes. */
  get isRetryable(): boolean {
    return false
  }
}

/**
 * The client (or the part of it the command needed) was closed.
 *
 * @category reasons
 * @since 0.1.0
 */
export class Closed extends Schema.TaggedError<Closed>("@redis-effect/redis/Closed")("Closed", {
  message: Schema.String
}) {
  readonly [ReasonTypeId] = ReasonTypeId
  get isRetryable(): boolean {
    return false
  }
}

/**
 * Every reason a `RedisError` can carry.
 *
 * @category reasons
 * @since 0.1.0
 */
export const RedisErrorReason = Schema.Union([
  ReplyError,
  ConnectionError,
  Timeout,
  ProtocolError,
  AuthError,
  NoScript,
  Loading,
  ReadOnly,
  Busy,
  Moved,
  Ask,
  TryAgain,
  ClusterDown,
  CrossSlot,
  MasterDown,
  MasterNotFound,
  ExecAbort,
  InvalidArgument,
  NotSupported,
  ClusterCheckFailed,
  DecodeError,
  Closed
])

/**
 * @category reasons
 * @since 0.1.0
 */
export type RedisErrorReason =
  | ReplyError
  | ConnectionError
  | Timeout
  | ProtocolError
  | AuthError
  | NoScript
  | Loading
  | ReadOnly
  | Busy
  | Moved
  | Ask
  | TryAgain
  | ClusterDown
  | CrossSlot
  | MasterDown
  | MasterNotFound
  | ExecAbort
  | InvalidArgument
  | NotSupported
  | ClusterCheckFailed
  | DecodeError
  | Closed

/**
 * @category guards
 * @since 0.1.0
 */
export const isRedisErrorReason = (u: unknown): u is RedisErrorReason => Predicate.hasProperty(u, ReasonTypeId)

// -----------------------------------------------------------------------------
// outcome and the error
// -----------------------------------------------------------------------------

/**
 * What became of the command that failed (Jepsen's fail / info split):
 *
 * - `NotSent`: it never left the client. Safe to send again.
 * - `Rejected`: the server answered with an error; nothing was executed.
 * - `Unknown`: it was written and no reply came back. It may have run.
 *
 * @category models
 * @since 0.1.0
 */
export const Outcome = Schema.Literals(["NotSent", "Rejected", "Unknown"])

/**
 * @category models
 * @since 0.1.0
 */
export type Outcome = typeof Outcome.Type

const TypeId = "~@redis-effect/redis/RedisError" as const

/**
 * The error of every redis-effect operation.
 *
 * @category errors
 * @since 0.1.0
 */
export class RedisError extends Schema.TaggedError<RedisError>("@redis-effect/redis/RedisError")("RedisError", {
  reason: RedisErrorReason,
  outcome: Outcome,
  /** The command's name (first word only: arguments may hold secrets). */
  command: Schema.optional(Schema.String)
}) {
  readonly [TypeId] = TypeId

  /** Whether another attempt may succeed, judging by the reason alone. */
  get isRetryable(): boolean {
    return this.reason.isRetryable
  }

  override get message(): string {
    const where = this.command === undefined ? "" : ` (${this.command})`
    return `${this.reason._tag}${where}: ${reasonText(this.reason)} [${this.outcome}]`
  }
}

const reasonText = (reason: RedisErrorReason): string => {
  switch (reason._tag) {
    case "Moved":
    case "Ask":
      return `slot ${reason.slot} is served by ${reason.host}:${reason.port}`
    default:
      return reason.message
  }
}

/**
 * @category guards
 * @since 0.1.0
 */
export const isRedisError = (u: unknown): u is RedisError => Predicate.hasProperty(u, TypeId)

/**
 * Builds a `RedisError` from a reason and an outcome.
 *
 * @category constructors
 * @since 0.1.0
 */
export const make = (reason: RedisErrorReason, outcome: Outcome, command?: string): RedisError =>
  command === undefined ? new RedisError({ reason, outcome }) : new RedisError({ reason, outcome, command })

/**
 * A failure found before anything was written: bad input, a closed client.
 *
 * @category constructors
 * @since 0.1.0
 */
export const invalidArgument = (message: string, command?: string): RedisError =>
  make(new InvalidArgument({ message }), "NotSent", command)

/**
 * A feature this client does not support.
 *
 * @category constructors
 * @since 0.1.0
 */
export const notSupported = (message: string, command?: string): RedisError =>
  make(new NotSupported({ message }), "NotSent", command)

// -----------------------------------------------------------------------------
// classify
// -----------------------------------------------------------------------------

const parseRedirect = (rest: string): { slot: number; host: string; port: number } | undefined => {
  // "3999 127.0.0.1:6381" — the host may be an IPv6 address, so split on the
  // last colon; an empty host (old servers, unknown endpoint) stays "". A
  // slot outside 0..16383 or a port outside 1..65535 is a malformed reply.
  const space = rest.indexOf(" ")
  if (space <= 0) return undefined
  const slotText = rest.slice(0, space)
  const address = rest.slice(space + 1).trim()
  const colon = address.lastIndexOf(":")
  if (!/^\d{1,5}$/.test(slotText) || colon < 0) return undefined
  const slot = Number(slotText)
  const port = Address.parsePort(address.slice(colon + 1))
  if (slot > 16383 || port === undefined) return undefined
  let host = address.slice(0, colon)
  if (host.startsWith("[") && host.endsWith("]")) host = host.slice(1, -1)
  return { slot, host, port }
}

/**
 * Maps the text of a server error reply (without the leading `-`) to its
 * reason. Pure and total: unknown codes become `ReplyError`.
 *
 * @category classify
 * @since 0.1.0
 */
export const classify = (text: string): RedisErrorReason => {
  const space = text.indexOf(" ")
  const code = space < 0 ? text : text.slice(0, space)
  switch (code) {
    case "MOVED": {
      const r = parseRedirect(text.slice(space + 1))
      return r === undefined ? new ReplyError({ code, message: text }) : new Moved(r)
    }
    case "ASK": {
      const r = parseRedirect(text.slice(space + 1))
      return r === undefined ? new ReplyError({ code, message: text }) : new Ask(r)
    }
    case "TRYAGAIN":
      return new TryAgain({ message: text })
    case "CLUSTERDOWN":
      return new ClusterDown({ message: text })
    case "CROSSSLOT":
      return new CrossSlot({ message: text })
    case "LOADING":
      return new Loading({ message: text })
    case "READONLY":
      return new ReadOnly({ message: text })
    case "UNBLOCKED":
      // A blocked command (BLPOP, XREAD BLOCK) on a primary that was just
      // demoted: it did not run, and the node is a replica now, as READONLY
      // says for a write. CLIENT UNBLOCK ... ERROR gives the same code for
      // the caller's own doing, which is not a demotion.
      return text.includes("instance state changed") ? new ReadOnly({ message: text }) : new ReplyError({ code, message: text })
    case "MASTERDOWN":
      return new MasterDown({ message: text })
    case "BUSY":
      return new Busy({ message: text })
    case "NOSCRIPT":
      return new NoScript({ message: text })
    case "EXECABORT":
      return new ExecAbort({ message: text, watchConflict: false })
    case "WRONGPASS":
    case "NOAUTH":
      return new AuthError({ message: text })
    case "ERR":
      // Servers older than 6 answer a bad AUTH with a plain ERR.
      if (text.includes("invalid password") || text.includes("invalid username-password")) {
        return new AuthError({ message: text })
      }
      return new ReplyError({ code, message: text })
    default:
      return new ReplyError({ code, message: text })
  }
}

// -----------------------------------------------------------------------------
// exits
// -----------------------------------------------------------------------------

/**
 * The first typed failure of an exit, if it failed with one (a defect or an
 * interruption gives `undefined`). The one place that digs a `RedisError`
 * out of a `Cause`.
 *
 * @category exits
 * @since 0.1.0
 */
export const failureOf = <E>(exit: Exit.Exit<unknown, E>): E | undefined => {
  if (exit._tag === "Success") return undefined
  for (const reason of exit.cause.reasons) if (reason._tag === "Fail") return reason.error
  return undefined
}

/**
 * The first failed exit of a batch, if any.
 *
 * @category exits
 * @since 0.1.0
 */
export const firstFailure = <E>(exits: ReadonlyArray<Exit.Exit<unknown, E>>): E | undefined => {
  for (const exit of exits) {
    const error = failureOf(exit)
    if (error !== undefined) return error
  }
  return undefined
}
