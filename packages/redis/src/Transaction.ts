/**
 * MULTI/EXEC transactions and optimistic WATCH transactions, on a connection
 * the caller lends.
 *
 * `runTransaction` writes MULTI, the commands and EXEC in one write on that
 * connection, then reads EXEC's array with each command's own decoder. A
 * command refused at queue time fails the whole transaction with
 * `ExecAbort` (nothing ran) and says which command and why. `watch` sends
 * WATCH, runs the caller's body (whose reads go through the same
 * connection), then the transaction it returns; a conflicting write by
 * someone else makes EXEC return nil, and the whole attempt runs again by a
 * `Schedule`.
 *
 * It does not choose the connection or the node: the topology's
 * `withDedicated` does (a dedicated connection, because MULTI and WATCH are
 * connection state; in a cluster, on the node that owns the keys). The
 * MULTI/EXEC/WATCH command values come from `commands/transactions.ts`.
 * Calls made by `Script.command` have their scripts loaded (SCRIPT LOAD)
 * in the same write, before MULTI.
 *
 * @since 0.1.0
 */
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Option from "effect/Option"
import * as Schedule from "effect/Schedule"
import type { Command } from "./Command.ts"
import * as Cmd from "./Command.ts"
import * as Commands from "./Commands.ts"
import { execBytes } from "./commands/transactions.ts"
import type * as Connection from "./Connection.ts"
import type * as Redis from "./Redis.ts"
import * as RedisError from "./RedisError.ts"
import type { Arg, RespValue } from "./Resp.ts"
import { RespError } from "./Resp.ts"
import * as Script from "./Script.ts"

/**
 * The body of an optimistic transaction: it reads through `tx` (on the
 * connection that holds the WATCH) and returns the commands to run
 * atomically.
 *
 * @category models
 * @since 0.1.0
 */
export interface WatchContext {
  readonly execute: <A>(command: Command<A>) => Effect.Effect<A, RedisError.RedisError>
}

/**
 * The default retry of `watch` on a conflict: up to 10 more attempts, 5 ms
 * apart with jitter.
 *
 * @category defaults
 * @since 0.1.0
 */
export const defaultWatchRetry: Schedule.Schedule<unknown, RedisError.RedisError> = Schedule.spaced("5 millis").pipe(
  Schedule.jittered,
  Schedule.upTo({ times: 10 }),
  Schedule.setInputType<RedisError.RedisError>(),
  Schedule.while(({ input }) => input.reason._tag === "ExecAbort" && input.reason.watchConflict)
)

// The command values never change: built once, not per transaction.
const MULTI = Commands.multi()
const DISCARD = Commands.discard()
const UNWATCH = Commands.unwatch()
const EXEC = Commands.exec()
const EXEC_BYTES = execBytes()

// A connection-state or pub/sub command would change the lent connection
// for whoever borrows it next; a blocking one is fine (inside MULTI it does
// not block).
const REFUSED_IN_MULTI = Cmd.Flags.CONNECTION_STATE | Cmd.Flags.PUBSUB

/**
 * A command as it is queued inside MULTI: its immediate reply is `+QUEUED`
 * (kept raw, not decoded); its real reply comes in EXEC's array and goes
 * through the command's own decoder there.
 *
 * @category combinators
 * @since 0.1.0
 */
export const asQueued = (command: Command<any>): Command<unknown> =>
  Cmd.unsafeMake(command.name, command.args, command.keys, command.flags, Cmd.Reply.raw, false)

/**
 * Runs `commands` atomically on `connection`: MULTI, the commands, EXEC in
 * one write. EXEC's array holds each command's reply (or its error), in
 * order; the first error fails the result. A refusal at queue time fails it
 * with `ExecAbort` (nothing ran), except a cluster redirect (`MOVED`/`ASK`),
 * which stays a redirect so a cluster client can follow it.
 *
 * @category constructors
 * @since 0.1.0
 */
export const runTransaction = <const C extends ReadonlyArray<Command<any>>>(
  connection: Connection.Connection,
  commands: C
): Effect.Effect<Redis.Results<C>, RedisError.RedisError> => {
  for (const c of commands) {
    if (c.invalid !== undefined) {
      return Effect.andThen(
        Effect.ignore(connection.send(DISCARD)),
        Effect.fail(RedisError.invalidArgument(c.invalid, c.name))
      )
    }
    if ((c.flags & REFUSED_IN_MULTI) !== 0 && (c.flags & Cmd.Flags.BLOCKING) === 0) {
      return Effect.fail(RedisError.invalidArgument(`${c.name} cannot run inside MULTI`, c.name))
    }
  }
  // Scripts made by `Script.command` are loaded first, in the same write:
  // inside MULTI a NOSCRIPT would fail its own command and let the others run.
  const loads = Script.loadsFor(commands)
  const first = loads.length
  const batch = new Array<Command<unknown>>(first + commands.length + 2)
  for (let i = 0; i < first; i++) batch[i] = loads[i]
  batch[first] = MULTI
  let binary = false
  for (let i = 0; i < commands.length; i++) {
    batch[first + i + 1] = asQueued(commands[i])
    if (commands[i].binary) binary = true
  }
  batch[first + commands.length + 1] = binary ? EXEC_BYTES : EXEC
  return Effect.flatMap(connection.sendAll(batch), (exits) => {
    if (first === 0) return settle(commands, exits)
    const settled = settle(commands, exits.slice(first))
    // A script that did not load (it does not compile) says why better
    // than the NOSCRIPT its call met inside EXEC.
    const loadError = RedisError.firstFailure(exits.slice(0, first))
    return loadError !== undefined && Exit.isFailure(settled) ? Exit.fail(loadError) : settled
  })
}

/**
 * The result of a transaction from the exits of its write (MULTI, each
 * queued command, EXEC). Pure.
 *
 * @category constructors
 * @since 0.1.0
 */
export const settle = <const C extends ReadonlyArray<Command<any>>>(
  commands: C,
  exits: ReadonlyArray<Exit.Exit<unknown, RedisError.RedisError>>
): Exit.Exit<Redis.Results<C>, RedisError.RedisError> => {
  const execExit = exits[exits.length - 1]
  if (Exit.isFailure(execExit)) {
    const refused = queueRefusal(commands, exits)
    if (refused !== undefined) return Exit.fail(refused)
  }
  if (Exit.isFailure(exits[0])) return exits[0] as Exit.Exit<never, RedisError.RedisError>
  if (Exit.isFailure(execExit)) return execExit as Exit.Exit<never, RedisError.RedisError>
  const reply = (execExit as Exit.Success<Option.Option<ReadonlyArray<RespValue>>>).value
  if (Option.isNone(reply)) {
    return Exit.fail(RedisError.make(
      new RedisError.ExecAbort({ message: "a watched key changed: EXEC ran nothing", watchConflict: true }),
      "Rejected",
      "EXEC"
    ))
  }
  const items = reply.value
  const out = new Array<unknown>(commands.length)
  for (let i = 0; i < commands.length; i++) {
    const item = items[i]
    const c = commands[i]
    if (item instanceof RespError) {
      return Exit.fail(RedisError.make(RedisError.classify(item.message), "Rejected", c.name))
    }
    try {
      out[i] = c.decode(item)
    } catch (e) {
      // A decoder may fail its command with its own RedisError (Typed's DecodeError).
      if (RedisError.isRedisError(e)) return Exit.fail(e)
      return Exit.fail(RedisError.make(new RedisError.ProtocolError({ message: String(e) }), "Unknown", c.name))
    }
  }
  return Exit.succeed(out as Redis.Results<C>)
}

// A command refused at queue time makes EXEC fail with EXECABORT, whose
// text only says "previous errors". Keep the ExecAbort reason (nothing ran:
// that is what the caller must know) and add the refused command's own
// error, which says why.
const queueRefusal = (
  commands: ReadonlyArray<Command<unknown>>,
  exits: ReadonlyArray<Exit.Exit<unknown, RedisError.RedisError>>
): RedisError.RedisError | undefined => {
  for (let i = 1; i < exits.length - 1; i++) {
    if (Exit.isSuccess(exits[i])) continue
    const queued = RedisError.failureOf(exits[i])
    const known = queued !== undefined && RedisError.isRedisError(queued)
    // A cluster redirect (MOVED/ASK at queue time) stays a redirect, so the
    // cluster client can follow it; it is Rejected: nothing ran.
    if (known && (queued.reason._tag === "Moved" || queued.reason._tag === "Ask")) return queued
    return RedisError.make(
      new RedisError.ExecAbort({
        message: `EXEC ran nothing: command ${i} (${commands[i - 1].name}) was refused: ${
          known ? queued.message : "refused at queue time"
        }`,
        watchConflict: false
      }),
      "Rejected",
      "EXEC"
    )
  }
  return undefined
}

/**
 * An optimistic transaction: on a connection from `withDedicated`, WATCH
 * `keys`, run `body` (which may read through its context), then EXEC what
 * it returns (nothing, and UNWATCH, if it returns no command). A WATCH
 * conflict runs it all again by `retry` (default `defaultWatchRetry`); when
 * retries run out it fails with `ExecAbort` and `watchConflict: true`. No
 * other failure is retried here, the body's own included.
 *
 * @category constructors
 * @since 0.1.0
 */
export const watch = <const C extends ReadonlyArray<Command<any>>, E, R>(
  withDedicated: Redis.Backend["withDedicated"],
  keys: ReadonlyArray<Arg>,
  body: (tx: WatchContext) => Effect.Effect<C, E, R>,
  options?: { readonly retry?: Schedule.Schedule<unknown, RedisError.RedisError> | undefined }
): Effect.Effect<Redis.Results<C>, E | RedisError.RedisError, R> => {
  if (keys.length === 0) return Effect.fail(RedisError.invalidArgument("watch needs at least one key", "WATCH"))
  const once = withDedicated(keys, (connection) =>
    Effect.gen(function*() {
      yield* connection.send(Commands.watch(keys))
      const commands = yield* body({ execute: (c) => connection.send(c) })
      if (commands.length === 0) {
        yield* connection.send(UNWATCH)
        return [] as unknown as Redis.Results<C>
      }
      return yield* runTransaction(connection, commands)
    }))
  // Only WATCH conflicts go through the schedule; every other failure (the
  // body's own errors included) is carried past it in the success channel.
  const attempt = Effect.matchEffect(once, {
    onFailure: (e) =>
      isConflict(e) ? Effect.fail(e) : Effect.succeed(Exit.fail(e) as Exit.Exit<Redis.Results<C>, E | RedisError.RedisError>),
    onSuccess: (a) => Effect.succeed(Exit.succeed(a) as Exit.Exit<Redis.Results<C>, E | RedisError.RedisError>)
  })
  return Effect.flatten(Effect.retry(attempt, options?.retry ?? defaultWatchRetry))
}

const isConflict = (e: unknown): e is RedisError.RedisError =>
  RedisError.isRedisError(e) && e.reason._tag === "ExecAbort" && e.reason.watchConflict

/**
 * The keys of every command, for choosing the connection of a transaction.
 *
 * @category utils
 * @since 0.1.0
 */
export const keysOf = (commands: ReadonlyArray<Command<any>>): Array<Arg> => commands.flatMap((c) => c.keys)
