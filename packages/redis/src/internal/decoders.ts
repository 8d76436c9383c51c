/**
 * Argument helpers and reply decoders shared by the data-type command
 * families (strings, keys, hashes, lists, sets, sorted sets, bitmaps,
 * HyperLogLog, geo), and the two builders the list and sorted-set pops
 * share (`mpop`, `bpop`), so that a string and a bytes variant differ only
 * in the decoder they pass.
 *
 * Everything here is a pure function. The decoders accept the RESP2 and the
 * RESP3 shape of the same reply (flat arrays and nested pairs, arrays and
 * `RespSet`s, bulk strings and doubles) and throw `UnexpectedReply` on a
 * reply of the wrong shape. Decoders are module-level constants: the command
 * constructors never create a closure per call. Nothing here sends anything.
 *
 * @since 0.1.0
 */
import * as Option from "effect/Option"
import { Flags, invalid, Reply, UnexpectedReply, unsafeMake } from "../Command.ts"
import type { Command, Decoder } from "../Command.ts"
import type { Arg, RespValue } from "../Resp.ts"

// -----------------------------------------------------------------------------
// flags
// -----------------------------------------------------------------------------

/** A pure read. @internal */
export const RO = Flags.READONLY
/** A write that must not be resent blindly. @internal */
export const W = Flags.WRITE
/** A write that is safe to apply twice. @internal */
export const WI = Flags.WRITE | Flags.IDEMPOTENT
/** A blocking pop: a write that needs a dedicated connection. @internal */
export const BW = Flags.WRITE | Flags.BLOCKING
/** A keyless read. @internal */
export const RO_NK = Flags.READONLY | Flags.NO_KEYS

// -----------------------------------------------------------------------------
// argument helpers
// -----------------------------------------------------------------------------

/**
 * One item or several.
 *
 * @category models
 * @since 0.1.0
 */
export type OneOrMany<A> = A | ReadonlyArray<A>

/** @internal */
export const isMany = <A>(x: OneOrMany<A>): x is ReadonlyArray<A> => Array.isArray(x)

/** Always an array; a single item is wrapped. @internal */
export const many = <A>(x: OneOrMany<A>): ReadonlyArray<A> => (isMany(x) ? x : [x])

/**
 * `[word, ...items]` built with a loop: spreads are slower on the hot path
 * (mget of 10 keys: about 2x).
 *
 * @internal
 */
export const withWord = (word: string, items: ReadonlyArray<Arg>): Array<Arg> => {
  const out = new Array<Arg>(items.length + 1)
  out[0] = word
  for (let i = 0; i < items.length; i++) out[i + 1] = items[i]
  return out
}

/** The invalid command for an empty list the command needs items in. @internal */
export const needsOne = (name: string, what: string): Command<never> =>
  invalid(name, `${name} needs at least one ${what}`)

/** Appends every item of `items` to `out`. @internal */
export const pushAll = (out: Array<Arg>, items: ReadonlyArray<Arg>): void => {
  for (let i = 0; i < items.length; i++) out.push(items[i])
}

/** Pushes MATCH and COUNT of the SCAN family, or returns a message. @internal */
export const pushScanOptions = (
  args: Array<Arg>,
  options: { readonly match?: Arg | undefined; readonly count?: number | undefined }
): string | undefined => {
  if (options.match !== undefined) args.push("MATCH", options.match)
  if (options.count !== undefined) {
    const e = checkIntMin("count", options.count, 1)
    if (e !== undefined) return e
    args.push("COUNT", options.count)
  }
  return undefined
}

/** `undefined` when `n` is a safe integer, otherwise a message. @internal */
export const checkInt = (what: string, n: number): string | undefined =>
  Number.isSafeInteger(n) ? undefined : `${what} must be an integer, got ${n}`

/** `undefined` when `n` is a safe integer >= `min`, otherwise a message. @internal */
export const checkIntMin = (what: string, n: number, min: number): string | undefined =>
  Number.isSafeInteger(n) && n >= min ? undefined : `${what} must be an integer >= ${min}, got ${n}`

/** `undefined` when `n` is finite, otherwise a message. @internal */
export const checkFinite = (what: string, n: number): string | undefined =>
  Number.isFinite(n) ? undefined : `${what} must be a finite number, got ${n}`

/** A blocking timeout in seconds: finite and >= 0 (0 blocks forever). @internal */
export const checkTimeout = (timeout: number): string | undefined =>
  Number.isFinite(timeout) && timeout >= 0 ? undefined : `timeout must be a finite number >= 0, got ${timeout}`

/**
 * A score or score-range bound: a number (`Infinity` and `-Infinity` are
 * sent as `+inf` and `-inf`), `"-inf"`, `"+inf"`, or an exclusive bound
 * written `"(1.5"`.
 *
 * @category models
 * @since 0.1.0
 */
export type ScoreBound = number | "-inf" | "+inf" | `(${number}` | "(-inf" | "(+inf"

/**
 * A lexicographic range bound: `"-"`, `"+"`, `"[member"` (inclusive) or
 * `"(member"` (exclusive).
 *
 * @category models
 * @since 0.1.0
 */
export type LexBound = "-" | "+" | `[${string}` | `(${string}`

/**
 * A score as it goes on the wire, or `undefined` for NaN. Redis accepts
 * `+inf`/`-inf` but not JavaScript's `Infinity`.
 *
 * @internal
 */
export const scoreArg = (n: ScoreBound): Arg | undefined => {
  if (typeof n === "string") return n
  if (n === Infinity) return "+inf"
  if (n === -Infinity) return "-inf"
  return Number.isNaN(n) ? undefined : n
}

/** `{ offset, count }` of `LIMIT`. @internal */
export interface Limit {
  readonly offset: number
  readonly count: number
}

/** Pushes `LIMIT offset count`, or returns a message. @internal */
export const pushLimit = (args: Array<Arg>, limit: Limit): string | undefined => {
  const e = checkIntMin("limit.offset", limit.offset, 0) ?? checkInt("limit.count", limit.count)
  if (e !== undefined) return e
  args.push("LIMIT", limit.offset, limit.count)
  return undefined
}

/**
 * The expiry options of SET and GETEX. At most one may be given.
 *
 * @category models
 * @since 0.1.0
 */
export interface ExpiryOptions {
  /** Expire after this many seconds. */
  readonly ex?: number | undefined
  /** Expire after this many milliseconds. */
  readonly px?: number | undefined
  /** Expire at this Unix time in seconds. */
  readonly exat?: number | undefined
  /** Expire at this Unix time in milliseconds. */
  readonly pxat?: number | undefined
}

/** Each expiry option with the word it goes on the wire as, in wire order. */
const EXPIRY_OPTIONS = [["ex", "EX"], ["px", "PX"], ["exat", "EXAT"], ["pxat", "PXAT"]] as const

/**
 * Pushes the one expiry option given (EX/PX/EXAT/PXAT), or returns a
 * message. `extra` counts other options that exclude an expiry (KEEPTTL,
 * PERSIST). An indexed loop over a module-level table: SET with EX is on
 * the hot path, so nothing is allocated per call.
 *
 * @internal
 */
export const pushExpiry = (args: Array<Arg>, o: ExpiryOptions, extra: number): string | undefined => {
  let n = extra
  for (let i = 0; i < EXPIRY_OPTIONS.length; i++) {
    const option = EXPIRY_OPTIONS[i]
    const v = o[option[0]]
    if (v === undefined) continue
    n++
    if (!(Number.isSafeInteger(v) && v > 0)) return `${option[0]} must be a positive integer, got ${v}`
    args.push(option[1], v)
  }
  return n > 1 ? "at most one of ex, px, exat, pxat, keepTtl, persist may be given" : undefined
}

/**
 * LMPOP/BLMPOP/ZMPOP/BZMPOP: `name [timeout] numkeys key... side [COUNT
 * count]`, or an invalid command. `timeout` is given for the blocking forms.
 *
 * @internal
 */
export const mpop = <A>(
  name: string,
  timeout: number | undefined,
  keys: OneOrMany<Arg>,
  side: string,
  count: number | undefined,
  flags: number,
  decode: Decoder<A>,
  binary: boolean
): Command<A> => {
  const ks = many(keys)
  if (ks.length === 0) return needsOne(name, "key")
  const args: Array<Arg> = [name]
  if (timeout !== undefined) {
    const e = checkTimeout(timeout)
    if (e !== undefined) return invalid(name, e)
    args.push(timeout)
  }
  args.push(ks.length)
  pushAll(args, ks)
  args.push(side)
  if (count !== undefined) {
    const e = checkIntMin("count", count, 1)
    if (e !== undefined) return invalid(name, e)
    args.push("COUNT", count)
  }
  return unsafeMake(name, args, ks, flags, decode, binary)
}

/**
 * BLPOP/BRPOP/BZPOPMIN/BZPOPMAX: `name key... timeout`, or an invalid
 * command.
 *
 * @internal
 */
export const bpop = <A>(
  name: string,
  keys: OneOrMany<Arg>,
  timeout: number,
  decode: Decoder<A>,
  binary: boolean
): Command<A> => {
  const ks = many(keys)
  if (ks.length === 0) return needsOne(name, "key")
  const e = checkTimeout(timeout)
  if (e !== undefined) return invalid(name, e)
  const args: Array<Arg> = [name]
  pushAll(args, ks)
  args.push(timeout)
  return unsafeMake(name, args, ks, BW, decode, binary)
}

/**
 * A Unix time in seconds (or milliseconds with `ms`) from a number or a `Date`.
 *
 * @internal
 */
export const unixTime = (t: number | Date, ms: boolean): number =>
  typeof t === "number" ? t : ms ? t.getTime() : Math.floor(t.getTime() / 1000)

// -----------------------------------------------------------------------------
// models
// -----------------------------------------------------------------------------

/**
 * A sorted-set member with its score.
 *
 * @category models
 * @since 0.1.0
 */
export interface ScoredMember<M = string> {
  readonly member: M
  readonly score: number
}

/**
 * One page of a SCAN-family iteration. Iteration is over when `cursor` is
 * `"0"`; a page may be empty while iteration is not over.
 *
 * @category models
 * @since 0.1.0
 */
export interface ScanPage<A> {
  readonly cursor: string
  readonly items: Array<A>
}

/**
 * A value popped by a blocking or multi-key pop, with the key it came from.
 *
 * @category models
 * @since 0.1.0
 */
export interface KeyedValue<A> {
  readonly key: string
  readonly value: A
}

// -----------------------------------------------------------------------------
// decoders
// -----------------------------------------------------------------------------

const tuple = (reply: RespValue, length: number, what: string): ReadonlyArray<RespValue> => {
  if (Array.isArray(reply) && reply.length >= length) return reply
  throw new UnexpectedReply(`expected ${what}`)
}

/** `[string]` (array or RESP3 set). @internal */
export const strings: Decoder<Array<string>> = Reply.array(Reply.string)
/** `[bytes]`. @internal */
export const bytesArray: Decoder<Array<Uint8Array>> = Reply.array(Reply.bytes)
/** `[string | nil]`. @internal */
export const optionalStrings: Decoder<Array<Option.Option<string>>> = Reply.array(Reply.optionalString)
/** `[bytes | nil]`. @internal */
export const optionalBytesArray: Decoder<Array<Option.Option<Uint8Array>>> = Reply.array(Reply.optionalBytes)
/** `[integer]`. @internal */
export const integers: Decoder<Array<number>> = Reply.array(Reply.integer)
/** `[integer | nil]`. @internal */
export const optionalIntegers: Decoder<Array<Option.Option<number>>> = Reply.array(Reply.optionalInteger)
/** `[0/1]` → booleans. @internal */
export const booleans: Decoder<Array<boolean>> = Reply.array(Reply.boolean)
/** `[double | nil]`. @internal */
export const optionalDoubles: Decoder<Array<Option.Option<number>>> = Reply.array(Reply.optionalDouble)
/** `[string]` or nil. @internal */
export const optionalStringArray: Decoder<Option.Option<Array<string>>> = Reply.optionalArray(Reply.string)
/** `[bytes]` or nil. @internal */
export const optionalBytesArrayOrNil: Decoder<Option.Option<Array<Uint8Array>>> = Reply.optionalArray(Reply.bytes)
/** A flat or map reply → record of strings. @internal */
export const stringRecord: Decoder<Record<string, string>> = Reply.record(Reply.string)
/** A flat or map reply → `Map<string, Uint8Array>`. @internal */
export const bytesMap: Decoder<Map<string, Uint8Array>> = Reply.map(Reply.string, Reply.bytes)
/** Any reply → void (`+OK`). @internal */
export const ok: Decoder<void> = Reply.ok

/**
 * Pairs from a flat `[a, b, a, b]` array (RESP2, and RESP3 for HSCAN/ZSCAN)
 * or nested `[[a, b], [a, b]]` pairs (RESP3 WITHSCORES/WITHVALUES).
 *
 * @internal
 */
export const pairs = <A, B, C>(
  first: Decoder<A>,
  second: Decoder<B>,
  make: (a: A, b: B) => C
): Decoder<Array<C>> =>
(reply) => {
  const items = Reply.items(reply)
  if (items.length > 0 && Array.isArray(items[0])) {
    const out = new Array<C>(items.length)
    for (let i = 0; i < items.length; i++) {
      const pair = tuple(items[i], 2, "a pair")
      out[i] = make(first(pair[0]), second(pair[1]))
    }
    return out
  }
  if (items.length % 2 !== 0) throw new UnexpectedReply(`expected pairs, got ${items.length} items`)
  const out = new Array<C>(items.length / 2)
  for (let i = 0, j = 0; i < items.length; i += 2, j++) out[j] = make(first(items[i]), second(items[i + 1]))
  return out
}

const scored = <M>(member: M, score: number): ScoredMember<M> => ({ member, score })
const entry = <A, B>(a: A, b: B): readonly [A, B] => [a, b]

/** Members with scores: flat (RESP2) or nested (RESP3). @internal */
export const scoredMembers: Decoder<Array<ScoredMember>> = pairs(Reply.string, Reply.double, scored)
/** Members (bytes) with scores. @internal */
export const scoredMembersBytes: Decoder<Array<ScoredMember<Uint8Array>>> = pairs(Reply.bytes, Reply.double, scored)
/** Field/value pairs: flat or nested. @internal */
export const stringEntries: Decoder<Array<readonly [string, string]>> = pairs(Reply.string, Reply.string, entry)
/** Field/value (bytes) pairs. @internal */
export const bytesEntries: Decoder<Array<readonly [string, Uint8Array]>> = pairs(Reply.string, Reply.bytes, entry)

/** `[cursor, [items]]` → `ScanPage`. @internal */
export const scanPage = <A>(items: Decoder<Array<A>>): Decoder<ScanPage<A>> => (reply) => {
  const t = tuple(reply, 2, "[cursor, items]")
  return { cursor: Reply.string(t[0]), items: items(t[1]) }
}

/** `nil` or `[key, value]` (BLPOP, BRPOP). @internal */
export const keyedValue = <A>(value: Decoder<A>): Decoder<Option.Option<KeyedValue<A>>> => (reply) => {
  if (reply === null) return Option.none()
  const t = tuple(reply, 2, "[key, value]")
  return Option.some({ key: Reply.string(t[0]), value: value(t[1]) })
}

/** `nil` or `[key, member, score]` (BZPOPMIN, BZPOPMAX). @internal */
export const keyedScoredMember: Decoder<Option.Option<KeyedValue<ScoredMember>>> = (reply) => {
  if (reply === null) return Option.none()
  const t = tuple(reply, 3, "[key, member, score]")
  return Option.some({ key: Reply.string(t[0]), value: { member: Reply.string(t[1]), score: Reply.double(t[2]) } })
}

/** `nil` or `[key, [elements]]` (LMPOP, BLMPOP, ZMPOP, BZMPOP). @internal */
export const keyedArray = <A>(item: Decoder<Array<A>>): Decoder<Option.Option<KeyedValue<Array<A>>>> => (reply) => {
  if (reply === null) return Option.none()
  const t = tuple(reply, 2, "[key, elements]")
  return Option.some({ key: Reply.string(t[0]), value: item(t[1]) })
}
