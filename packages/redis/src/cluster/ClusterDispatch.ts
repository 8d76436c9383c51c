/**
 * Where one command of a cluster client goes (the backend's `execute`):
 *
 * - a command with keys goes to its slot through the executor; keys of
 *   several slots are refused (`CrossSlot`, not sent);
 * - a keyless command that fans out by its policy (`CommandTable`) runs on
 *   every shard and its replies are combined (`ClusterFanOut`);
 * - a command built without keys and without `NO_KEYS` (raw, module and
 *   custom commands) gets its keys from the server's key positions, or from
 *   `COMMAND GETKEYS` when they move with the arguments;
 * - any other keyless command goes to one node: the default node (a primary
 *   chosen at start, or the one the user set), re-resolved on every retry.
 *
 * Keyed commands, the hot path, cost one slot computation and the
 * executor's send; only keyless ones read the command table (loaded once,
 * on the first keyless command). Nothing here follows redirects or retries.
 *
 * @since 0.1.0
 */
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import type { Command } from "../Command.ts"
import * as Cmd from "../Command.ts"
import * as RedisError from "../RedisError.ts"
import type { Arg } from "../Resp.ts"
import type * as ClusterExecutor from "./ClusterExecutor.ts"
import type * as ClusterFanOut from "./ClusterFanOut.ts"
import * as ClusterRouter from "./ClusterRouter.ts"
import * as ClusterSlot from "./ClusterSlot.ts"
import * as CommandTable from "./CommandTable.ts"

const KEYLESS = Cmd.Flags.NO_KEYS | Cmd.Flags.ALL_NODES

const getKeys = (command: Command<unknown>): Command<Array<string>> =>
  Cmd.unsafeMake(
    "COMMAND",
    ["COMMAND", "GETKEYS", ...command.args],
    [],
    Cmd.Flags.NO_KEYS | Cmd.Flags.READONLY,
    Cmd.Reply.array(Cmd.Reply.string)
  )

/**
 * `COMMAND`: the table of every command the server knows.
 *
 * @category commands
 * @since 0.1.0
 */
export const commandInfo = Cmd.unsafeMake("COMMAND", ["COMMAND"], [], Cmd.Flags.NO_KEYS | Cmd.Flags.READONLY, Cmd.Reply.raw)

/**
 * The `execute` of a cluster backend.
 *
 * @category constructors
 * @since 0.1.0
 */
export const make = (io: {
  readonly executor: ClusterExecutor.Executor
  readonly fanOut: ClusterFanOut.FanOut
  readonly commands: CommandTable.Loader
}): <A>(command: Command<A>) => Effect.Effect<A, RedisError.RedisError> => {
  const { commands, fanOut } = io
  const executeSlot = io.executor.execute

  const toSlotOf = <A>(command: Command<A>, keys: ReadonlyArray<Arg>): Effect.Effect<A, RedisError.RedisError> => {
    const slot = keys.length === 0 ? -1 : ClusterSlot.slotOfKeys(keys)
    return slot === -2 ? Effect.fail(ClusterRouter.crossSlot(command)) : executeSlot(command, slot)
  }

  const withTable = <A>(command: Command<A>, table: CommandTable.Table): Effect.Effect<A, RedisError.RedisError> => {
    const policy = CommandTable.policyOf(command, table)
    if (CommandTable.fansOut(policy)) return fanOut.run(command, policy)
    if ((command.flags & KEYLESS) !== 0) return executeSlot(command, -1)
    const spec = CommandTable.lookup(table, command)?.keys
    if (spec === undefined) return executeSlot(command, -1)
    if (spec.movable) return Effect.flatMap(executeSlot(getKeys(command), -1), (keys) => toSlotOf(command, keys))
    return toSlotOf(command, CommandTable.keysOf(command, spec))
  }

  // Without the server's table: the fallback policies; keyless commands go
  // to one node, and a command whose keys only the table knows fails.
  const withoutTable = <A>(command: Command<A>, error: RedisError.RedisError): Effect.Effect<A, RedisError.RedisError> => {
    const policy = CommandTable.policyOf(command, undefined)
    if (CommandTable.fansOut(policy)) return fanOut.run(command, policy)
    return (command.flags & KEYLESS) !== 0 ? executeSlot(command, -1) : Effect.fail(error)
  }

  const keyless = <A>(command: Command<A>): Effect.Effect<A, RedisError.RedisError> => {
    const table = commands.current()
    if (table !== undefined) return withTable(command, table)
    return Effect.flatMap(Effect.exit(commands.load), (exit) =>
      Exit.isSuccess(exit)
        ? withTable(command, exit.value)
        : withoutTable(command, RedisError.failureOf(exit) ?? ClusterRouter.uncovered(-1)))
  }

  return <A>(command: Command<A>): Effect.Effect<A, RedisError.RedisError> => {
    if (command.invalid !== undefined) return Effect.fail(RedisError.invalidArgument(command.invalid, command.name))
    const slot = ClusterRouter.slotOf(command)
    if (slot >= 0) return executeSlot(command, slot)
    if (slot === -2) return Effect.fail(ClusterRouter.crossSlot(command))
    return keyless(command)
  }
}
