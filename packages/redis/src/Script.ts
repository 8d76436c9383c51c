/**
 * Lua scripts as values: the source, its SHA-1 (computed once, here) and a
 * decoder for what the script returns. `Redis.runScript` runs one by EVALSHA
 * and falls back to EVAL on `NOSCRIPT` (after a restart or `SCRIPT FLUSH`),
 * which also loads it for next time.
 *
 * Pure: defining a script sends nothing.
 *
 * @since 0.1.0
 */
import type { Decoder } from "./Command.ts"
import { Reply } from "./Command.ts"
import { sha1Hex } from "./internal/sha1.ts"
import type { RespValue } from "./Resp.ts"

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
