/**
 * Transaction commands: MULTI, EXEC, DISCARD, WATCH, UNWATCH.
 *
 * These are bare values; this module does not run transactions
 * (`Transaction` does). They all carry `CONNECTION_STATE`, so they never go
 * out on the shared multiplexed connection: whoever runs a transaction sends
 * them, and the queued commands, on a connection of its own.
 *
 * They are deliberately not `NO_KEYS`: in a cluster a transaction runs on
 * the node that owns its keys, never on "any node".
 *
 * @since 0.1.0
 */
import * as Option from "effect/Option"
import type { Command } from "../Command.ts"
import { Flags, invalid, Reply, unsafeMake } from "../Command.ts"
import type { Arg, RespValue } from "../Resp.ts"

const EMPTY: ReadonlyArray<Arg> = []

const decodeExec = (reply: RespValue): Option.Option<ReadonlyArray<RespValue>> =>
  reply === null ? Option.none() : Option.some(Reply.items(reply))

/**
 * MULTI: starts queueing commands.
 *
 * @category transactions
 * @since 0.1.0
 */
export const multi = (): Command<void> =>
  unsafeMake("MULTI", ["MULTI"], EMPTY, Flags.CONNECTION_STATE, Reply.ok)

/**
 * EXEC: runs the queued commands. The replies come back raw, one per queued
 * command (a failed command's is a `RespError` value), for the caller to
 * decode with each command's decoder; `None` means a WATCHed key changed and
 * nothing ran.
 *
 * @category transactions
 * @since 0.1.0
 */
export const exec = (): Command<Option.Option<ReadonlyArray<RespValue>>> =>
  unsafeMake("EXEC", ["EXEC"], EMPTY, Flags.CONNECTION_STATE, decodeExec)

/**
 * EXEC for a transaction that holds a `Bytes` command: the same as `exec`,
 * with bulk strings left as `Uint8Array` so each queued command's decoder
 * gets the bytes it asked for.
 *
 * Internal: `Transaction` uses it; the `Commands` barrel does not re-export
 * it (a service method for it would be one more refused command).
 *
 * @internal
 * @category transactions
 * @since 0.1.0
 */
export const execBytes = (): Command<Option.Option<ReadonlyArray<RespValue>>> =>
  unsafeMake("EXEC", ["EXEC"], EMPTY, Flags.CONNECTION_STATE, decodeExec, true)

/**
 * DISCARD: drops the queued commands and leaves MULTI.
 *
 * @category transactions
 * @since 0.1.0
 */
export const discard = (): Command<void> =>
  unsafeMake("DISCARD", ["DISCARD"], EMPTY, Flags.CONNECTION_STATE, Reply.ok)

/**
 * WATCH: makes the next EXEC fail if any of `keys` changes before it.
 *
 * @category transactions
 * @since 0.1.0
 */
export const watch = (keys: ReadonlyArray<Arg>): Command<void> => {
  if (keys.length === 0) return invalid("WATCH", "WATCH needs at least one key")
  return unsafeMake("WATCH", ["WATCH", ...keys], keys, Flags.CONNECTION_STATE, Reply.ok)
}

/**
 * UNWATCH: forgets every WATCHed key.
 *
 * @category transactions
 * @since 0.1.0
 */
export const unwatch = (): Command<void> =>
  unsafeMake("UNWATCH", ["UNWATCH"], EMPTY, Flags.CONNECTION_STATE, Reply.ok)
