/**
 * The delivery policy: after a command failed, may it be sent again, and
 * how? One pure function of the command's flags, the failure's reason and
 * its outcome, used by every topology (standalone, cluster, sentinel).
 *
 * The promise it keeps (docs/GUARANTEES.md): a command is sent at most once
 * unless it is known not to have run (`NotSent`, `Rejected`) or it may run
 * twice (a read, or marked idempotent, and not blocking).
 *
 * Nothing here sends, sleeps or counts attempts: the callers own the retry
 * `Schedule` and the redirect budget. `retryAfter` is the one helper that
 * runs a schedule over a failure that already happened.
 *
 * @since 0.1.0
 */
import * as Effect from "effect/Effect"
import * as Schedule from "effect/Schedule"
import type { Command } from "./Command.ts"
import * as Cmd from "./Command.ts"
import type * as RedisError from "./RedisError.ts"

/**
 * What to do with a failed command:
 *
 * - `Redirect`: a cluster answered `MOVED`/`ASK`; the command did not run
 *   and goes to the named node now (within the redirect budget, no delay).
 * - `Retry`: send it again after the retry schedule's delay, to the same
 *   server (standalone) or to whichever node owns it then (cluster,
 *   sentinel).
 * - `Fail`: surface the error; sending again could run the command twice or
 *   cannot succeed.
 *
 * @category models
 * @since 0.1.0
 */
export type Decision = "Redirect" | "Retry" | "Fail"

/**
 * Where a command can go after a failure.
 *
 * - `"server"`: one server, the same connection's endpoint (standalone).
 * - `"nodes"`: the topology may hand it to another node (cluster: the new
 *   slot owner; sentinel: the new primary). Here a `Closed` node that was
 *   dropped from the topology, or a `READONLY` from a demoted primary, is a
 *   reason to go elsewhere, not to give up.
 *
 * @category models
 * @since 0.1.0
 */
export type Reach = "server" | "nodes"

/**
 * Whether the command may run twice without harm: a read or an idempotent
 * command, and not a blocking one (a second BLPOP could take a second
 * element).
 *
 * @category predicates
 * @since 0.1.0
 */
export const mayRunTwice: (command: Command<unknown>) => boolean = Cmd.isResendable

/**
 * The decision for a failure of `command`.
 *
 * @category policy
 * @since 0.1.0
 */
export const decide = (command: Command<unknown>, error: RedisError.RedisError, reach: Reach): Decision => {
  const reason = error.reason
  const ranOrMayHave = error.outcome === "Unknown"
  switch (reason._tag) {
    case "Moved":
    case "Ask":
      // A redirect is an answer from a node that did not run the command
      // (so it arrives as Rejected); only a topology with other nodes can
      // follow it. Should one ever come with an Unknown outcome, the promise
      // still holds: follow it only if the command may run twice.
      if (reach === "server") return "Fail"
      return !ranOrMayHave || mayRunTwice(command) ? "Redirect" : "Fail"
    case "ExecAbort":
    case "MasterNotFound":
    case "InvalidArgument":
    case "NotSupported":
    case "AuthError":
      return "Fail"
    case "Closed":
      // Standalone: the client is shutting down. Elsewhere: the node left
      // the topology and another one may take the command.
      if (reach === "server") return "Fail"
      return !ranOrMayHave || mayRunTwice(command) ? "Retry" : "Fail"
    case "ReadOnly":
    case "ConnectionError":
    case "Timeout":
      return !ranOrMayHave || mayRunTwice(command) ? "Retry" : "Fail"
    default:
      return reason.isRetryable && (!ranOrMayHave || mayRunTwice(command)) ? "Retry" : "Fail"
  }
}

/**
 * Whether `decide` says `Retry`: the predicate a retry schedule's `while`
 * uses.
 *
 * @category policy
 * @since 0.1.0
 */
export const isRetry = (command: Command<unknown>, error: RedisError.RedisError, reach: Reach): boolean =>
  decide(command, error, reach) === "Retry"

/**
 * The default retry of a standalone client: up to 5 more sends, exponential
 * from 20 ms with jitter (`decide` says which failures qualify).
 *
 * @category defaults
 * @since 0.1.0
 */
export const defaultRetry: Schedule.Schedule<unknown, RedisError.RedisError> = Schedule.exponential("20 millis").pipe(
  Schedule.jittered,
  Schedule.upTo({ times: 5 }),
  Schedule.setInputType<RedisError.RedisError>()
)

/**
 * Retries `again` by `schedule` after a first attempt that already failed
 * with `error`. The first failure counts as the schedule's first input, so
 * a schedule of N retries means N more sends, each after its delay.
 *
 * @category retry
 * @since 0.1.0
 */
export const retryAfter = <A>(
  error: RedisError.RedisError,
  again: () => Effect.Effect<A, RedisError.RedisError>,
  options: {
    readonly schedule: Schedule.Schedule<unknown, RedisError.RedisError>
    readonly while: (error: RedisError.RedisError) => boolean
  }
): Effect.Effect<A, RedisError.RedisError> => {
  let replayed = false
  return Effect.retry(
    Effect.suspend(() => {
      if (replayed) return again()
      replayed = true
      return Effect.fail(error)
    }),
    options
  )
}

/**
 * Wraps a single-command sender with the retry policy for `reach`; the
 * success path adds nothing but one `catch`.
 *
 * @category retry
 * @since 0.1.0
 */
export const withRetry = (
  send: <A>(command: Command<A>) => Effect.Effect<A, RedisError.RedisError>,
  schedule: Schedule.Schedule<unknown, RedisError.RedisError>,
  reach: Reach = "server"
) =>
<A>(command: Command<A>): Effect.Effect<A, RedisError.RedisError> =>
  Effect.catch(send(command), (error) =>
    isRetry(command, error, reach)
      ? retryAfter(error, () => send(command), { schedule, while: (e) => isRetry(command, e, reach) })
      : Effect.fail(error))
