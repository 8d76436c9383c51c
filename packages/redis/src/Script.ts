/**
 * Lua scripts as values: the source, its SHA-1 (computed once, here) and a
 * decoder for what the script returns. `run` sends one by EVALSHA and falls
 * back to EVAL on `NOSCRIPT` (after a restart or `SCRIPT FLUSH`), which also
 * loads it for next time; `Redis.runScript` is `run` over the client's
 * `execute`.
 *
 * `command` makes the same call a `Command`, for `pipeline` and
 * `transaction`: a pipeline replays the calls that met `NOSCRIPT` as EVAL
 * (`replayNoScript`), and a transaction loads its scripts before MULTI
 * (`loadsFor`), because inside MULTI a `NOSCRIPT` fails only its own
 * command while the others run.
 *
 * Defining a script sends nothing; `run` sends only through the `execute` it
 * is given, so it works on every topology.
 *
 * @since 0.1.0
 */
import * as Effect from "effect/Effect"
import type * as Exit from "effect/Exit"
import type { Command, Decoder } from "./Command.ts"
import { map, Reply, unsafeMake } from "./Command.ts"
import { evalScript, evalsha, scriptLoad } from "./commands/scripting.ts"
import { sha1Hex } from "./internal/sha1.ts"
import * as RedisError from "./RedisError.ts"
import type { Arg, RespValue } from "./Resp.ts"

/**
 * @category models
 * @since 0.1.0
 */
export interface Script<A> {
  readonly source: string
  readonly sha1: string
  readonly decode: Decoder<A>
}

/**
 * Defines a script. Without a decoder it returns the raw reply.
 *
 * @category constructors
 * @since 0.1.0
 */
export const make: {
  (source: string): Script<RespValue>
  <A>(source: string, decode: Decoder<A>): Script<A>
} = (source: string, decode: Decoder<unknown> = Reply.raw): Script<any> => ({
  source,
  sha1: sha1Hex(source),
  decode
})

const EMPTY: ReadonlyArray<Arg> = []

/**
 * Runs `script` through `execute`: EVALSHA first; on `NOSCRIPT`, EVAL, which
 * loads the script as it runs it, so later calls find it by SHA.
 *
 * @category execution
 * @since 0.1.0
 */
export const run = <A>(
  execute: <B>(command: Command<B>) => Effect.Effect<B, RedisError.RedisError>,
  script: Script<A>,
  keys: ReadonlyArray<Arg>,
  args: ReadonlyArray<Arg> = EMPTY
): Effect.Effect<A, RedisError.RedisError> =>
  Effect.catchIf(
    execute(map(evalsha(script.sha1, keys, args), script.decode)),
    (e) => e.reason._tag === "NoScript",
    () => execute(map(evalScript(script.source, keys, args), script.decode))
  )

// -----------------------------------------------------------------------------
// scripts in pipelines and transactions
// -----------------------------------------------------------------------------

// The commands `command` built, and their script. A WeakMap: a command
// dropped by its caller is not kept alive here.
const scripts = new WeakMap<Command<unknown>, Script<unknown>>()

/**
 * An EVALSHA of `script` as a `Command`, for `pipeline`, `pipelineExits`
 * and `transaction`: unlike a bare `Commands.evalsha`, it remembers its
 * script, so a pipeline replays it as EVAL on `NOSCRIPT` and a transaction
 * loads it before MULTI.
 *
 * @category constructors
 * @since 0.1.0
 */
export const command = <A>(script: Script<A>, keys: ReadonlyArray<Arg>, args: ReadonlyArray<Arg> = EMPTY): Command<A> => {
  const c = map(evalsha(script.sha1, keys, args), script.decode)
  scripts.set(c, script)
  return c
}

/**
 * The script of a command made by `command`.
 *
 * @category utils
 * @since 0.1.0
 */
export const scriptOf = (c: Command<unknown>): Script<unknown> | undefined => scripts.get(c)

// The same call as EVAL: `EVALSHA sha n k.. a..` -> `EVAL source n k.. a..`.
const asEval = (c: Command<unknown>, script: Script<unknown>): Command<unknown> =>
  unsafeMake("EVAL", ["EVAL", script.source, ...c.args.slice(2)], c.keys, c.flags, c.decode, c.binary)

const isNoScript = (exit: Exit.Exit<unknown, RedisError.RedisError>): boolean => {
  if (exit._tag === "Success") return false
  const error = RedisError.failureOf(exit)
  return error !== undefined && error.reason._tag === "NoScript"
}

/**
 * After a pipeline: the calls made by `command` that failed with
 * `NOSCRIPT` (they did not run) are sent again, as EVAL, in one more
 * pipeline through `executeAll`, and their exits replace the failed ones.
 * Without such a failure it returns `exits` as they are. A pipeline is
 * not atomic: the replayed calls run after the rest of it.
 *
 * @category execution
 * @since 0.1.0
 */
export const replayNoScript = (
  executeAll: (commands: ReadonlyArray<Command<unknown>>) => Effect.Effect<Array<Exit.Exit<unknown, RedisError.RedisError>>>,
  commands: ReadonlyArray<Command<unknown>>,
  exits: Array<Exit.Exit<unknown, RedisError.RedisError>>
): Effect.Effect<Array<Exit.Exit<unknown, RedisError.RedisError>>> => {
  let replay: Array<number> | undefined
  let again: Array<Command<unknown>> | undefined
  for (let i = 0; i < exits.length; i++) {
    if (exits[i]._tag === "Success" || !isNoScript(exits[i])) continue
    const script = scripts.get(commands[i])
    if (script === undefined) continue
    ;(replay ??= []).push(i)
    ;(again ??= []).push(asEval(commands[i], script))
  }
  if (replay === undefined || again === undefined) return Effect.succeed(exits)
  const positions = replay
  return Effect.map(executeAll(again), (replayed) => {
    for (let j = 0; j < positions.length; j++) exits[positions[j]] = replayed[j]
    return exits
  })
}

/**
 * The `SCRIPT LOAD`s a transaction sends before MULTI, one per distinct
 * script among its commands made by `command` (none for most).
 *
 * @category execution
 * @since 0.1.0
 */
export const loadsFor = (commands: ReadonlyArray<Command<unknown>>): Array<Command<unknown>> => {
  let loads: Map<string, Command<unknown>> | undefined
  for (const c of commands) {
    const script = scripts.get(c)
    if (script !== undefined && loads?.has(script.sha1) !== true) (loads ??= new Map()).set(script.sha1, scriptLoad(script.source))
  }
  return loads === undefined ? [] : [...loads.values()]
}
