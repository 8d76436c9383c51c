/**
 * Lua scripts as values: the source, its SHA-1 (computed once, here) and a
 * decoder for what the script returns. `run` sends one by EVALSHA and falls
 * back to EVAL on `NOSCRIPT` (after a restart or `SCRIPT FLUSH`), which also
 * loads it for next time; `Redis.runScript` is `run` over the client's
 * `execute`.
 *
 * Defining a script sends nothing; `run` sends only through the `execute` it
 * is given, so it works on every topology.
 *
 * @since 0.1.0
 */
import * as Effect from "effect/Effect"
import type { Command, Decoder } from "./Command.ts"
import { map, Reply } from "./Command.ts"
import { evalScript, evalsha } from "./commands/scripting.ts"
import { sha1Hex } from "./internal/sha1.ts"
import type * as RedisError from "./RedisError.ts"
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
