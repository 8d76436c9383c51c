/**
 * List commands: pushes, pops, ranges, positions, moves between lists, and
 * the blocking pops.
 *
 * Each function builds a `Command` value and sends nothing. The blocking
 * commands (BLPOP, BRPOP, BLMOVE, BLMPOP, BRPOPLPUSH) carry
 * `Flags.BLOCKING`, so the client runs them on a dedicated connection and
 * never resends them; their timeout is in seconds (fractions allowed, 0
 * waits forever) and a timeout is `None`, not an error.
 *
 * @since 0.1.0
 */
import type * as Option from "effect/Option"
import { invalid, Reply, unsafeMake } from "../Command.ts"
import type { Command, Decoder } from "../Command.ts"
import type { Arg } from "../Resp.ts"
import {
  bpop,
  BW,
  bytesArray,
  checkInt,
  checkIntMin,
  checkTimeout,
  integers,
  type KeyedValue,
  keyedArray,
  keyedValue,
  mpop,
  needsOne,
  type OneOrMany,
  optionalBytesArrayOrNil,
  optionalStringArray,
  pushAll,
  RO,
  strings,
  W,
  WI
} from "../internal/decoders.ts"

/**
 * An end of a list.
 *
 * @category lists
 * @since 0.1.0
 */
export type ListSide = "LEFT" | "RIGHT"

const pushLike = (name: string, key: Arg, elements: OneOrMany<Arg>): Command<number> => {
  if (!Array.isArray(elements)) return unsafeMake(name, [name, key, elements as Arg], [key], W, Reply.integer)
  const es = elements as ReadonlyArray<Arg>
  if (es.length === 0) return needsOne(name, "element")
  const args: Array<Arg> = [name, key]
  pushAll(args, es)
  return unsafeMake(name, args, [key], W, Reply.integer)
}

/**
 * LPUSH: prepends elements (the last one ends up first); returns the new length.
 *
 * @category lists
 * @since 0.1.0
 */
export const lpush = (key: Arg, elements: OneOrMany<Arg>): Command<number> => pushLike("LPUSH", key, elements)

/**
 * RPUSH: appends elements; returns the new length.
 *
 * @category lists
 * @since 0.1.0
 */
export const rpush = (key: Arg, elements: OneOrMany<Arg>): Command<number> => pushLike("RPUSH", key, elements)

/**
 * LPUSHX: prepends only if the list exists; returns the new length (0 if missing).
 *
 * @category lists
 * @since 0.1.0
 */
export const lpushx = (key: Arg, elements: OneOrMany<Arg>): Command<number> => pushLike("LPUSHX", key, elements)

/**
 * RPUSHX: appends only if the list exists; returns the new length (0 if missing).
 *
 * @category lists
 * @since 0.1.0
 */
export const rpushx = (key: Arg, elements: OneOrMany<Arg>): Command<number> => pushLike("RPUSHX", key, elements)

/**
 * LPOP: removes and returns the first element, or `None`.
 *
 * @category lists
 * @since 0.1.0
 */
export const lpop = (key: Arg): Command<Option.Option<string>> =>
  unsafeMake("LPOP", ["LPOP", key], [key], W, Reply.optionalString)

/**
 * LPOP returning bytes.
 *
 * @category lists
 * @since 0.1.0
 */
export const lpopBytes = (key: Arg): Command<Option.Option<Uint8Array>> =>
  unsafeMake("LPOP", ["LPOP", key], [key], W, Reply.optionalBytes, true)

/**
 * RPOP: removes and returns the last element, or `None`.
 *
 * @category lists
 * @since 0.1.0
 */
export const rpop = (key: Arg): Command<Option.Option<string>> =>
  unsafeMake("RPOP", ["RPOP", key], [key], W, Reply.optionalString)

/**
 * RPOP returning bytes.
 *
 * @category lists
 * @since 0.1.0
 */
export const rpopBytes = (key: Arg): Command<Option.Option<Uint8Array>> =>
  unsafeMake("RPOP", ["RPOP", key], [key], W, Reply.optionalBytes, true)

const popCount = <A>(name: string, key: Arg, count: number, decode: Decoder<A>, binary: boolean): Command<A> => {
  const e = checkIntMin("count", count, 0)
  if (e !== undefined) return invalid(name, e)
  return unsafeMake(name, [name, key, count], [key], W, decode, binary)
}

/**
 * LPOP key count: removes and returns up to `count` first elements; `None` for a missing key.
 *
 * @category lists
 * @since 0.1.0
 */
export const lpopCount = (key: Arg, count: number): Command<Option.Option<Array<string>>> =>
  popCount("LPOP", key, count, optionalStringArray, false)

/**
 * LPOP key count returning bytes.
 *
 * @category lists
 * @since 0.1.0
 */
export const lpopCountBytes = (key: Arg, count: number): Command<Option.Option<Array<Uint8Array>>> =>
  popCount("LPOP", key, count, optionalBytesArrayOrNil, true)

/**
 * RPOP key count: removes and returns up to `count` last elements; `None` for a missing key.
 *
 * @category lists
 * @since 0.1.0
 */
export const rpopCount = (key: Arg, count: number): Command<Option.Option<Array<string>>> =>
  popCount("RPOP", key, count, optionalStringArray, false)

/**
 * RPOP key count returning bytes.
 *
 * @category lists
 * @since 0.1.0
 */
export const rpopCountBytes = (key: Arg, count: number): Command<Option.Option<Array<Uint8Array>>> =>
  popCount("RPOP", key, count, optionalBytesArrayOrNil, true)

/**
 * LRANGE: the elements between two indexes (inclusive; negative from the end).
 *
 * @category lists
 * @since 0.1.0
 */
export const lrange = (key: Arg, start: number, stop: number): Command<Array<string>> => {
  const e = checkInt("start", start) ?? checkInt("stop", stop)
  if (e !== undefined) return invalid("LRANGE", e)
  return unsafeMake("LRANGE", ["LRANGE", key, start, stop], [key], RO, strings)
}

/**
 * LRANGE returning bytes.
 *
 * @category lists
 * @since 0.1.0
 */
export const lrangeBytes = (key: Arg, start: number, stop: number): Command<Array<Uint8Array>> => {
  const e = checkInt("start", start) ?? checkInt("stop", stop)
  if (e !== undefined) return invalid("LRANGE", e)
  return unsafeMake("LRANGE", ["LRANGE", key, start, stop], [key], RO, bytesArray, true)
}

/**
 * LLEN: the length of a list.
 *
 * @category lists
 * @since 0.1.0
 */
export const llen = (key: Arg): Command<number> => unsafeMake("LLEN", ["LLEN", key], [key], RO, Reply.integer)

/**
 * LINDEX: the element at an index, or `None`.
 *
 * @category lists
 * @since 0.1.0
 */
export const lindex = (key: Arg, index: number): Command<Option.Option<string>> => {
  const e = checkInt("index", index)
  if (e !== undefined) return invalid("LINDEX", e)
  return unsafeMake("LINDEX", ["LINDEX", key, index], [key], RO, Reply.optionalString)
}

/**
 * LINDEX returning bytes.
 *
 * @category lists
 * @since 0.1.0
 */
export const lindexBytes = (key: Arg, index: number): Command<Option.Option<Uint8Array>> => {
  const e = checkInt("index", index)
  if (e !== undefined) return invalid("LINDEX", e)
  return unsafeMake("LINDEX", ["LINDEX", key, index], [key], RO, Reply.optionalBytes, true)
}

/**
 * LSET: sets the element at an index.
 *
 * @category lists
 * @since 0.1.0
 */
export const lset = (key: Arg, index: number, element: Arg): Command<void> => {
  const e = checkInt("index", index)
  if (e !== undefined) return invalid("LSET", e)
  return unsafeMake("LSET", ["LSET", key, index, element], [key], WI, Reply.ok)
}

/**
 * LINSERT: inserts an element before or after a pivot; returns the new
 * length, -1 when the pivot is missing, 0 when the key is.
 *
 * @category lists
 * @since 0.1.0
 */
export const linsert = (key: Arg, where: "BEFORE" | "AFTER", pivot: Arg, element: Arg): Command<number> =>
  unsafeMake("LINSERT", ["LINSERT", key, where, pivot, element], [key], W, Reply.integer)

/**
 * LREM: removes `count` occurrences of an element (from the head if
 * positive, from the tail if negative, all if 0); returns how many.
 *
 * @category lists
 * @since 0.1.0
 */
export const lrem = (key: Arg, count: number, element: Arg): Command<number> => {
  const e = checkInt("count", count)
  if (e !== undefined) return invalid("LREM", e)
  return unsafeMake("LREM", ["LREM", key, count, element], [key], W, Reply.integer)
}

/**
 * LTRIM: keeps only the elements between two indexes.
 *
 * @category lists
 * @since 0.1.0
 */
export const ltrim = (key: Arg, start: number, stop: number): Command<void> => {
  const e = checkInt("start", start) ?? checkInt("stop", stop)
  if (e !== undefined) return invalid("LTRIM", e)
  return unsafeMake("LTRIM", ["LTRIM", key, start, stop], [key], W, Reply.ok)
}

/**
 * Options of LPOS.
 *
 * @category lists
 * @since 0.1.0
 */
export interface LposOptions {
  /** Skip this many matches (negative: search from the tail). Not 0. */
  readonly rank?: number | undefined
  /** Compare at most this many elements (0: all). */
  readonly maxlen?: number | undefined
}

const lposArgs = (key: Arg, element: Arg, options: LposOptions | undefined, count: number | undefined) => {
  const args: Array<Arg> = ["LPOS", key, element]
  if (options?.rank !== undefined) {
    if (!Number.isSafeInteger(options.rank) || options.rank === 0) {
      return `rank must be a non-zero integer, got ${options.rank}`
    }
    args.push("RANK", options.rank)
  }
  if (count !== undefined) {
    const e = checkIntMin("count", count, 0)
    if (e !== undefined) return e
    args.push("COUNT", count)
  }
  if (options?.maxlen !== undefined) {
    const e = checkIntMin("maxlen", options.maxlen, 0)
    if (e !== undefined) return e
    args.push("MAXLEN", options.maxlen)
  }
  return args
}

/**
 * LPOS: the index of the first matching element, or `None`.
 *
 * @category lists
 * @since 0.1.0
 */
export const lpos = (key: Arg, element: Arg, options?: LposOptions): Command<Option.Option<number>> => {
  const args = lposArgs(key, element, options, undefined)
  if (typeof args === "string") return invalid("LPOS", args)
  return unsafeMake("LPOS", args, [key], RO, Reply.optionalInteger)
}

/**
 * LPOS ... COUNT: the indexes of up to `count` matches (0: all).
 *
 * @category lists
 * @since 0.1.0
 */
export const lposCount = (key: Arg, element: Arg, count: number, options?: LposOptions): Command<Array<number>> => {
  const args = lposArgs(key, element, options, count)
  if (typeof args === "string") return invalid("LPOS", args)
  return unsafeMake("LPOS", args, [key], RO, integers)
}

/**
 * LMOVE: pops from one end of `source` and pushes to one end of
 * `destination`; returns the element, or `None` when `source` is empty.
 *
 * @category lists
 * @since 0.1.0
 */
export const lmove = (source: Arg, destination: Arg, from: ListSide, to: ListSide): Command<Option.Option<string>> =>
  unsafeMake("LMOVE", ["LMOVE", source, destination, from, to], [source, destination], W, Reply.optionalString)

/**
 * LMOVE returning bytes.
 *
 * @category lists
 * @since 0.1.0
 */
export const lmoveBytes = (
  source: Arg,
  destination: Arg,
  from: ListSide,
  to: ListSide
): Command<Option.Option<Uint8Array>> =>
  unsafeMake("LMOVE", ["LMOVE", source, destination, from, to], [source, destination], W, Reply.optionalBytes, true)

/**
 * RPOPLPUSH: the deprecated `LMOVE source destination RIGHT LEFT`.
 *
 * @category lists
 * @since 0.1.0
 */
export const rpoplpush = (source: Arg, destination: Arg): Command<Option.Option<string>> =>
  unsafeMake("RPOPLPUSH", ["RPOPLPUSH", source, destination], [source, destination], W, Reply.optionalString)

const keyedStrings = keyedArray(strings)
const keyedBytes = keyedArray(bytesArray)

/**
 * LMPOP: pops up to `count` (default 1) elements from the first non-empty
 * list; `None` when all are empty.
 *
 * @category lists
 * @since 0.1.0
 */
export const lmpop = (
  keys: OneOrMany<Arg>,
  side: ListSide,
  options?: { readonly count?: number | undefined }
): Command<Option.Option<KeyedValue<Array<string>>>> =>
  mpop("LMPOP", undefined, keys, side, options?.count, W, keyedStrings, false)

/**
 * LMPOP returning bytes.
 *
 * @category lists
 * @since 0.1.0
 */
export const lmpopBytes = (
  keys: OneOrMany<Arg>,
  side: ListSide,
  options?: { readonly count?: number | undefined }
): Command<Option.Option<KeyedValue<Array<Uint8Array>>>> =>
  mpop("LMPOP", undefined, keys, side, options?.count, W, keyedBytes, true)

// -----------------------------------------------------------------------------
// blocking
// -----------------------------------------------------------------------------

const keyedString = keyedValue(Reply.string)
const keyedByte = keyedValue(Reply.bytes)

/**
 * BLPOP: pops the first element of the first non-empty list, waiting up to
 * `timeout` seconds; `None` on timeout.
 *
 * @category lists
 * @since 0.1.0
 */
export const blpop = (keys: OneOrMany<Arg>, timeout: number): Command<Option.Option<KeyedValue<string>>> =>
  bpop("BLPOP", keys, timeout, keyedString, false)

/**
 * BLPOP returning bytes.
 *
 * @category lists
 * @since 0.1.0
 */
export const blpopBytes = (keys: OneOrMany<Arg>, timeout: number): Command<Option.Option<KeyedValue<Uint8Array>>> =>
  bpop("BLPOP", keys, timeout, keyedByte, true)

/**
 * BRPOP: pops the last element of the first non-empty list, waiting up to
 * `timeout` seconds; `None` on timeout.
 *
 * @category lists
 * @since 0.1.0
 */
export const brpop = (keys: OneOrMany<Arg>, timeout: number): Command<Option.Option<KeyedValue<string>>> =>
  bpop("BRPOP", keys, timeout, keyedString, false)

/**
 * BRPOP returning bytes.
 *
 * @category lists
 * @since 0.1.0
 */
export const brpopBytes = (keys: OneOrMany<Arg>, timeout: number): Command<Option.Option<KeyedValue<Uint8Array>>> =>
  bpop("BRPOP", keys, timeout, keyedByte, true)

const blmoveWith = <A>(
  source: Arg,
  destination: Arg,
  from: ListSide,
  to: ListSide,
  timeout: number,
  decode: Decoder<A>,
  binary: boolean
): Command<A> => {
  const e = checkTimeout(timeout)
  if (e !== undefined) return invalid("BLMOVE", e)
  const args: Array<Arg> = ["BLMOVE", source, destination, from, to, timeout]
  return unsafeMake("BLMOVE", args, [source, destination], BW, decode, binary)
}

/**
 * BLMOVE: LMOVE that waits up to `timeout` seconds for `source` to be non-empty.
 *
 * @category lists
 * @since 0.1.0
 */
export const blmove = (
  source: Arg,
  destination: Arg,
  from: ListSide,
  to: ListSide,
  timeout: number
): Command<Option.Option<string>> => blmoveWith(source, destination, from, to, timeout, Reply.optionalString, false)

/**
 * BLMOVE returning bytes.
 *
 * @category lists
 * @since 0.1.0
 */
export const blmoveBytes = (
  source: Arg,
  destination: Arg,
  from: ListSide,
  to: ListSide,
  timeout: number
): Command<Option.Option<Uint8Array>> =>
  blmoveWith(source, destination, from, to, timeout, Reply.optionalBytes, true)

/**
 * BRPOPLPUSH: the deprecated `BLMOVE source destination RIGHT LEFT timeout`.
 *
 * @category lists
 * @since 0.1.0
 */
export const brpoplpush = (source: Arg, destination: Arg, timeout: number): Command<Option.Option<string>> => {
  const e = checkTimeout(timeout)
  if (e !== undefined) return invalid("BRPOPLPUSH", e)
  return unsafeMake(
    "BRPOPLPUSH",
    ["BRPOPLPUSH", source, destination, timeout],
    [source, destination],
    BW,
    Reply.optionalString
  )
}

/**
 * BLMPOP: LMPOP that waits up to `timeout` seconds; `None` on timeout.
 *
 * @category lists
 * @since 0.1.0
 */
export const blmpop = (
  timeout: number,
  keys: OneOrMany<Arg>,
  side: ListSide,
  options?: { readonly count?: number | undefined }
): Command<Option.Option<KeyedValue<Array<string>>>> =>
  mpop("BLMPOP", timeout, keys, side, options?.count, BW, keyedStrings, false)

/**
 * BLMPOP returning bytes.
 *
 * @category lists
 * @since 0.1.0
 */
export const blmpopBytes = (
  timeout: number,
  keys: OneOrMany<Arg>,
  side: ListSide,
  options?: { readonly count?: number | undefined }
): Command<Option.Option<KeyedValue<Array<Uint8Array>>>> =>
  mpop("BLMPOP", timeout, keys, side, options?.count, BW, keyedBytes, true)
