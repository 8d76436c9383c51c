/**
 * Reply decoders and argument checks shared by the stream, scripting,
 * pub/sub, transaction, server and connection command families.
 *
 * Everything here is a pure function of a `RespValue` (or of the arguments
 * a constructor received). Each decoder accepts the RESP2 and the RESP3
 * shape of the same reply: flat arrays and `RespMap`s, arrays and
 * `RespSet`s, bulk strings and doubles. Decoders throw `UnexpectedReply` on
 * a reply of the wrong shape; nothing here sends anything.
 *
 * @since 0.1.0
 */
import * as Exit from "effect/Exit"
import * as Option from "effect/Option"
import type { Command } from "../Command.ts"
import { Reply, UnexpectedReply } from "../Command.ts"
import * as RedisError from "../RedisError.ts"
import type { Arg, RespValue } from "../Resp.ts"
import { RespMap } from "../Resp.ts"

// -----------------------------------------------------------------------------
// a reply as its command's result
// -----------------------------------------------------------------------------

/**
 * The result of `command` for a (non-error) reply, as an `Exit`: what its
 * decoder returns, or the decoder's own `RedisError` (Typed's
 * `DecodeError`, which keeps the raw value), or a `ProtocolError` for a
 * reply of the wrong shape. The command ran, so that failure is `Unknown`;
 * the framing is intact, so the connection goes on. The connection's reader
 * and the client-side cache's hits both decode here.
 *
 * @since 0.1.0
 */
export const decodeReply = <A>(command: Command<A>, reply: RespValue): Exit.Exit<A, RedisError.RedisError> => {
  try {
    return Exit.succeed(command.decode(reply))
  } catch (e) {
    if (RedisError.isRedisError(e)) return Exit.fail(e)
    const message = e instanceof Error ? e.message : String(e)
    return Exit.fail(RedisError.make(new RedisError.ProtocolError({ message }), "Unknown", command.name))
  }
}

// -----------------------------------------------------------------------------
// argument checks
// -----------------------------------------------------------------------------

/**
 * `undefined` when `n` is a finite integer >= `min`, otherwise a message
 * naming `what`.
 *
 * @category checks
 * @since 0.1.0
 */
export const checkInteger = (what: string, n: number, min = 0): string | undefined =>
  Number.isSafeInteger(n) && n >= min ? undefined : `${what} must be an integer >= ${min}, got ${n}`

/**
 * `undefined` when `n` is a finite number >= `min`, otherwise a message.
 *
 * @category checks
 * @since 0.1.0
 */
export const checkNumber = (what: string, n: number, min = 0): string | undefined =>
  Number.isFinite(n) && n >= min ? undefined : `${what} must be a finite number >= ${min}, got ${n}`

/**
 * `undefined` when no numeric argument is NaN or infinite (they would go on
 * the wire as "NaN"), otherwise a message.
 *
 * @category checks
 * @since 0.1.0
 */
export const checkArgs = (args: ReadonlyArray<Arg>): string | undefined => {
  for (let i = 0; i < args.length; i++) {
    const a = args[i]
    if (typeof a === "number" && !Number.isFinite(a)) return `argument ${i} is not a finite number: ${a}`
  }
  return undefined
}

// -----------------------------------------------------------------------------
// small decoders
// -----------------------------------------------------------------------------

/**
 * Accepts any reply and returns nothing: for commands whose reply carries no
 * information (SHUTDOWN, QUIT) or may be absent.
 *
 * @category decoders
 * @since 0.1.0
 */
export const ignore = (_: RespValue): void => undefined

/**
 * An array of strings (RESP2 array or RESP3 set).
 *
 * @category decoders
 * @since 0.1.0
 */
export const stringArray: (reply: RespValue) => Array<string> = Reply.array(Reply.string)

/**
 * An array of 0/1 integers (or RESP3 booleans) as booleans.
 *
 * @category decoders
 * @since 0.1.0
 */
export const booleanArray: (reply: RespValue) => Array<boolean> = Reply.array(Reply.boolean)

/**
 * A string-keyed map of strings: RESP2 flat array or RESP3 map.
 *
 * @category decoders
 * @since 0.1.0
 */
export const stringRecord = (reply: RespValue): Record<string, string> => {
  const flat = Reply.flatPairs(reply)
  const out: Record<string, string> = {}
  for (let i = 0; i + 1 < flat.length; i += 2) setField(out, Reply.string(flat[i]), Reply.string(flat[i + 1]))
  return out
}

/**
 * A string-keyed map of raw values: RESP2 flat array or RESP3 map.
 *
 * @category decoders
 * @since 0.1.0
 */
export const rawRecord = (reply: RespValue): Record<string, RespValue> => {
  const flat = Reply.flatPairs(reply)
  const out: Record<string, RespValue> = {}
  for (let i = 0; i + 1 < flat.length; i += 2) setField(out, Reply.string(flat[i]), flat[i + 1])
  return out
}

/**
 * A string-keyed map of integers, from a RESP2 flat array or a RESP3 map
 * (PUBSUB NUMSUB).
 *
 * @category decoders
 * @since 0.1.0
 */
export const integerRecord = (reply: RespValue): Record<string, number> => {
  const flat = Reply.flatPairs(reply)
  const out: Record<string, number> = {}
  for (let i = 0; i + 1 < flat.length; i += 2) setField(out, Reply.string(flat[i]), Reply.integer(flat[i + 1]))
  return out
}

/**
 * Sets `out[key] = value` even when `key` is `"__proto__"`, which a plain
 * assignment would turn into a prototype change. Field names come from the
 * server and are user data.
 *
 * @category decoders
 * @since 0.1.0
 */
export const setField = <V>(out: Record<string, V>, key: string, value: V): void => {
  if (key === "__proto__") {
    Object.defineProperty(out, key, { value, enumerable: true, writable: true, configurable: true })
  } else {
    out[key] = value
  }
}

/**
 * Reads a field of a decoded record, failing with `UnexpectedReply` when it
 * is missing.
 *
 * @category decoders
 * @since 0.1.0
 */
export const field = (record: Record<string, RespValue>, name: string): RespValue => {
  const v = record[name]
  if (v === undefined) throw new UnexpectedReply(`missing field "${name}"`)
  return v
}

/**
 * Reads an optional field (absent on older servers, or nil) of a decoded
 * record.
 *
 * @category decoders
 * @since 0.1.0
 */
export const optionalField = <A>(
  record: Record<string, RespValue>,
  name: string,
  decode: (reply: RespValue) => A
): Option.Option<A> => {
  const v = record[name]
  return v === undefined || v === null ? Option.none() : Option.some(decode(v))
}

/**
 * The items of an array reply of fixed minimum length.
 *
 * @category decoders
 * @since 0.1.0
 */
export const tuple = (reply: RespValue, minLength: number, what: string): ReadonlyArray<RespValue> => {
  const items = Reply.items(reply)
  if (items.length < minLength) {
    throw new UnexpectedReply(`expected ${what} of at least ${minLength} items, got ${items.length}`)
  }
  return items
}

/**
 * A decoder of a fixed-length array reply into an object: the item at each
 * position goes through the decoder of the field at that position, in the
 * order `fields` lists them (TIME, WAITAOF, LATENCY LATEST and XPENDING
 * entries). The field list is read once, when the decoder is made.
 *
 * @category decoders
 * @since 0.1.0
 */
export const tupleOf = <F extends Record<string, (reply: RespValue) => unknown>>(
  what: string,
  fields: F
): (reply: RespValue) => { readonly [K in keyof F]: ReturnType<F[K]> } => {
  const names = Object.keys(fields)
  const decoders = names.map((name) => fields[name])
  return (reply) => {
    const items = tuple(reply, names.length, what)
    const out: Record<string, unknown> = {}
    for (let i = 0; i < names.length; i++) out[names[i]] = decoders[i](items[i])
    return out as { readonly [K in keyof F]: ReturnType<F[K]> }
  }
}

/**
 * The pairs of a reply that is either a RESP3 map, a RESP2 flat array
 * `[k, v, k, v]`, or an array of pairs `[[k, v], [k, v]]` (XREAD in RESP2).
 * `nested` says which of the two array shapes a RESP2 reply has.
 *
 * @category decoders
 * @since 0.1.0
 */
export const pairsOf = (
  reply: RespValue,
  nested: boolean
): Array<readonly [RespValue, RespValue]> => {
  const out: Array<readonly [RespValue, RespValue]> = []
  if (reply instanceof RespMap || !nested) {
    const flat = Reply.flatPairs(reply)
    for (let i = 0; i + 1 < flat.length; i += 2) out.push([flat[i], flat[i + 1]])
    return out
  }
  const items = Reply.items(reply)
  for (let i = 0; i < items.length; i++) {
    const pair = tuple(items[i], 2, "pair")
    out.push([pair[0], pair[1]])
  }
  return out
}
