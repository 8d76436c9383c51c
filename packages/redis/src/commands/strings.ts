/**
 * String commands: GET/SET and their variants, counters, ranges, LCS.
 *
 * Each function builds a `Command` value and sends nothing. `get`, `set`,
 * `incr` and `mget` are on the hot path (hundreds of thousands of calls per
 * second): they take a branch-free route when no options are given and use
 * module-level decoders only. Bad input (conflicting options, non-integer
 * counters) yields an invalid command that fails before it is sent; nothing
 * here throws.
 *
 * Values come back as `string` (UTF-8); each command whose values may be
 * binary has a `…Bytes` variant that returns `Uint8Array`.
 *
 * @since 0.1.0
 */
import type * as Option from "effect/Option"
import { invalid, Reply, unsafeMake } from "../Command.ts"
import type { Command } from "../Command.ts"
import type { Arg, RespValue } from "../Resp.ts"
import {
  checkFinite,
  checkInt,
  checkIntMin,
  type ExpiryOptions,
  optionalBytesArray,
  optionalStrings,
  pushExpiry,
  RO,
  W,
  WI,
  withWord
} from "../internal/decoders.ts"

export type { ExpiryOptions } from "../internal/decoders.ts"

/**
 * Options of SET.
 *
 * @category strings
 * @since 0.1.0
 */
export interface SetOptions extends ExpiryOptions {
  /** Only set the key if it does not exist. */
  readonly nx?: boolean | undefined
  /** Only set the key if it exists. */
  readonly xx?: boolean | undefined
  /** Keep the key's current time to live. */
  readonly keepTtl?: boolean | undefined
  /** Return the old value (SET ... GET). */
  readonly get?: boolean | undefined
}

/**
 * Options of GETEX: at most one.
 *
 * @category strings
 * @since 0.1.0
 */
export interface GetExOptions extends ExpiryOptions {
  /** Remove the key's time to live. */
  readonly persist?: boolean | undefined
}

// SET returns OK, or nil when NX/XX stopped it.
const setReply = Reply.boolean
const getOld = Reply.optionalString
const getOldBytes = Reply.optionalBytes

const setArgs = (key: Arg, value: Arg, options: SetOptions, get: boolean): Array<Arg> | string => {
  const args: Array<Arg> = ["SET", key, value]
  if (options.nx === true) {
    if (options.xx === true) return "nx and xx are mutually exclusive"
    args.push("NX")
  } else if (options.xx === true) {
    args.push("XX")
  }
  if (get) args.push("GET")
  const keepTtl = options.keepTtl === true
  const e = pushExpiry(args, options, keepTtl ? 1 : 0)
  if (e !== undefined) return e
  if (keepTtl) args.push("KEEPTTL")
  return args
}

/**
 * GET: the value of a key, or `None`.
 *
 * @category strings
 * @since 0.1.0
 */
export const get = (key: Arg): Command<Option.Option<string>> =>
  unsafeMake("GET", ["GET", key], [key], RO, Reply.optionalString)

/**
 * GET returning bytes.
 *
 * @category strings
 * @since 0.1.0
 */
export const getBytes = (key: Arg): Command<Option.Option<Uint8Array>> =>
  unsafeMake("GET", ["GET", key], [key], RO, Reply.optionalBytes, true)

/**
 * SET: sets a key. Returns `true` when set, `false` when NX/XX stopped it.
 * With `get: true`, returns the old value instead.
 *
 * **Details**
 *
 * Idempotent unless `get` is given: a resent `SET k v NX` leaves the same
 * data, only its reply differs.
 *
 * @category strings
 * @since 0.1.0
 */
export function set(
  key: Arg,
  value: Arg,
  options: SetOptions & { readonly get: true }
): Command<Option.Option<string>>
export function set(
  key: Arg,
  value: Arg,
  options?: SetOptions & { readonly get?: false | undefined }
): Command<boolean>
export function set(key: Arg, value: Arg, options?: SetOptions): Command<boolean> | Command<Option.Option<string>> {
  if (options === undefined) return unsafeMake("SET", ["SET", key, value], [key], WI, setReply)
  const get = options.get === true
  const args = setArgs(key, value, options, get)
  if (typeof args === "string") return invalid<boolean>("SET", args)
  if (get) return unsafeMake("SET", args, [key], W, getOld)
  // NX/XX: the effect of a second SET is the same, but its reply is not (the
  // resend of a SET NX that ran answers "not set"), so it is not resent.
  return unsafeMake("SET", args, [key], options.nx === true || options.xx === true ? W : WI, setReply)
}

/**
 * SET ... GET returning the old value as bytes.
 *
 * @category strings
 * @since 0.1.0
 */
export const setGetBytes = (
  key: Arg,
  value: Arg,
  options?: Omit<SetOptions, "get">
): Command<Option.Option<Uint8Array>> => {
  const args = setArgs(key, value, options ?? {}, true)
  if (typeof args === "string") return invalid("SET", args)
  return unsafeMake("SET", args, [key], W, getOldBytes, true)
}

/**
 * SETNX: sets a key only if it does not exist.
 *
 * @category strings
 * @since 0.1.0
 */
export const setnx = (key: Arg, value: Arg): Command<boolean> =>
  unsafeMake("SETNX", ["SETNX", key, value], [key], WI, Reply.boolean)

/**
 * SETEX: sets a key with a time to live in seconds.
 *
 * @category strings
 * @since 0.1.0
 */
export const setex = (key: Arg, seconds: number, value: Arg): Command<void> => {
  const e = checkIntMin("seconds", seconds, 1)
  if (e !== undefined) return invalid("SETEX", e)
  return unsafeMake("SETEX", ["SETEX", key, seconds, value], [key], WI, Reply.ok)
}

/**
 * PSETEX: sets a key with a time to live in milliseconds.
 *
 * @category strings
 * @since 0.1.0
 */
export const psetex = (key: Arg, milliseconds: number, value: Arg): Command<void> => {
  const e = checkIntMin("milliseconds", milliseconds, 1)
  if (e !== undefined) return invalid("PSETEX", e)
  return unsafeMake("PSETEX", ["PSETEX", key, milliseconds, value], [key], WI, Reply.ok)
}

/**
 * GETSET: sets a key and returns its old value.
 *
 * @category strings
 * @since 0.1.0
 */
export const getset = (key: Arg, value: Arg): Command<Option.Option<string>> =>
  unsafeMake("GETSET", ["GETSET", key, value], [key], W, Reply.optionalString)

/**
 * GETSET returning the old value as bytes.
 *
 * @category strings
 * @since 0.1.0
 */
export const getsetBytes = (key: Arg, value: Arg): Command<Option.Option<Uint8Array>> =>
  unsafeMake("GETSET", ["GETSET", key, value], [key], W, Reply.optionalBytes, true)

/**
 * GETDEL: returns the value of a key and deletes it.
 *
 * @category strings
 * @since 0.1.0
 */
export const getdel = (key: Arg): Command<Option.Option<string>> =>
  unsafeMake("GETDEL", ["GETDEL", key], [key], W, Reply.optionalString)

/**
 * GETDEL returning bytes.
 *
 * @category strings
 * @since 0.1.0
 */
export const getdelBytes = (key: Arg): Command<Option.Option<Uint8Array>> =>
  unsafeMake("GETDEL", ["GETDEL", key], [key], W, Reply.optionalBytes, true)

const getexArgs = (key: Arg, options: GetExOptions | undefined): Array<Arg> | string => {
  const args: Array<Arg> = ["GETEX", key]
  if (options === undefined) return args
  const persist = options.persist === true
  const e = pushExpiry(args, options, persist ? 1 : 0)
  if (e !== undefined) return e
  if (persist) args.push("PERSIST")
  return args
}

/**
 * GETEX: returns the value of a key and sets or removes its time to live.
 *
 * @category strings
 * @since 0.1.0
 */
export const getex = (key: Arg, options?: GetExOptions): Command<Option.Option<string>> => {
  const args = getexArgs(key, options)
  if (typeof args === "string") return invalid("GETEX", args)
  return unsafeMake("GETEX", args, [key], WI, Reply.optionalString)
}

/**
 * GETEX returning bytes.
 *
 * @category strings
 * @since 0.1.0
 */
export const getexBytes = (key: Arg, options?: GetExOptions): Command<Option.Option<Uint8Array>> => {
  const args = getexArgs(key, options)
  if (typeof args === "string") return invalid("GETEX", args)
  return unsafeMake("GETEX", args, [key], WI, Reply.optionalBytes, true)
}

/**
 * GETRANGE: the substring of a value between two offsets (inclusive).
 *
 * @category strings
 * @since 0.1.0
 */
export const getrange = (key: Arg, start: number, end: number): Command<string> => {
  const e = checkInt("start", start) ?? checkInt("end", end)
  if (e !== undefined) return invalid("GETRANGE", e)
  return unsafeMake("GETRANGE", ["GETRANGE", key, start, end], [key], RO, Reply.string)
}

/**
 * GETRANGE returning bytes.
 *
 * @category strings
 * @since 0.1.0
 */
export const getrangeBytes = (key: Arg, start: number, end: number): Command<Uint8Array> => {
  const e = checkInt("start", start) ?? checkInt("end", end)
  if (e !== undefined) return invalid("GETRANGE", e)
  return unsafeMake("GETRANGE", ["GETRANGE", key, start, end], [key], RO, Reply.bytes, true)
}

/**
 * SUBSTR: the deprecated alias of GETRANGE.
 *
 * @category strings
 * @since 0.1.0
 */
export const substr = (key: Arg, start: number, end: number): Command<string> => {
  const e = checkInt("start", start) ?? checkInt("end", end)
  if (e !== undefined) return invalid("SUBSTR", e)
  return unsafeMake("SUBSTR", ["SUBSTR", key, start, end], [key], RO, Reply.string)
}

/**
 * SETRANGE: overwrites part of a value from an offset; returns the new length.
 *
 * @category strings
 * @since 0.1.0
 */
export const setrange = (key: Arg, offset: number, value: Arg): Command<number> => {
  const e = checkIntMin("offset", offset, 0)
  if (e !== undefined) return invalid("SETRANGE", e)
  return unsafeMake("SETRANGE", ["SETRANGE", key, offset, value], [key], WI, Reply.integer)
}

/**
 * MGET: the values of several keys, `None` for each missing one.
 *
 * **Gotchas**
 *
 * `keys` is kept (not copied) as the command's key list: do not mutate it
 * while the command is in flight.
 *
 * @category strings
 * @since 0.1.0
 */
export const mget = (keys: ReadonlyArray<Arg>): Command<Array<Option.Option<string>>> =>
  keys.length === 0
    ? invalid("MGET", "MGET needs at least one key")
    : unsafeMake("MGET", withWord("MGET", keys), keys, RO, optionalStrings)

/**
 * MGET returning bytes.
 *
 * @category strings
 * @since 0.1.0
 */
export const mgetBytes = (keys: ReadonlyArray<Arg>): Command<Array<Option.Option<Uint8Array>>> =>
  keys.length === 0
    ? invalid("MGET", "MGET needs at least one key")
    : unsafeMake("MGET", withWord("MGET", keys), keys, RO, optionalBytesArray, true)

/**
 * Key/value pairs for MSET and MSETNX: a record or a list of pairs.
 *
 * @category strings
 * @since 0.1.0
 */
export type KeyValues = Readonly<Record<string, Arg>> | ReadonlyArray<readonly [Arg, Arg]>

const msetArgs = (word: string, entries: KeyValues): readonly [Array<Arg>, Array<Arg>] => {
  const args: Array<Arg> = [word]
  const keys: Array<Arg> = []
  if (Array.isArray(entries)) {
    for (const [k, v] of entries as ReadonlyArray<readonly [Arg, Arg]>) {
      args.push(k, v)
      keys.push(k)
    }
  } else {
    for (const k of Object.keys(entries)) {
      args.push(k, (entries as Readonly<Record<string, Arg>>)[k])
      keys.push(k)
    }
  }
  return [args, keys]
}

/**
 * MSET: sets several keys.
 *
 * @category strings
 * @since 0.1.0
 */
export const mset = (entries: KeyValues): Command<void> => {
  const [args, keys] = msetArgs("MSET", entries)
  if (keys.length === 0) return invalid("MSET", "MSET needs at least one key")
  return unsafeMake("MSET", args, keys, WI, Reply.ok)
}

/**
 * MSETNX: sets several keys only if none of them exists.
 *
 * @category strings
 * @since 0.1.0
 */
export const msetnx = (entries: KeyValues): Command<boolean> => {
  const [args, keys] = msetArgs("MSETNX", entries)
  if (keys.length === 0) return invalid("MSETNX", "MSETNX needs at least one key")
  return unsafeMake("MSETNX", args, keys, WI, Reply.boolean)
}

/**
 * INCR: increments an integer value by one; returns the new value.
 *
 * @category strings
 * @since 0.1.0
 */
export const incr = (key: Arg): Command<number> => unsafeMake("INCR", ["INCR", key], [key], W, Reply.integer)

/**
 * DECR: decrements an integer value by one; returns the new value.
 *
 * @category strings
 * @since 0.1.0
 */
export const decr = (key: Arg): Command<number> => unsafeMake("DECR", ["DECR", key], [key], W, Reply.integer)

/**
 * INCRBY: increments an integer value; returns the new value.
 *
 * @category strings
 * @since 0.1.0
 */
export const incrby = (key: Arg, increment: number): Command<number> => {
  const e = checkInt("increment", increment)
  if (e !== undefined) return invalid("INCRBY", e)
  return unsafeMake("INCRBY", ["INCRBY", key, increment], [key], W, Reply.integer)
}

/**
 * DECRBY: decrements an integer value; returns the new value.
 *
 * @category strings
 * @since 0.1.0
 */
export const decrby = (key: Arg, decrement: number): Command<number> => {
  const e = checkInt("decrement", decrement)
  if (e !== undefined) return invalid("DECRBY", e)
  return unsafeMake("DECRBY", ["DECRBY", key, decrement], [key], W, Reply.integer)
}

/**
 * INCRBYFLOAT: increments a float value; returns the new value.
 *
 * @category strings
 * @since 0.1.0
 */
export const incrbyfloat = (key: Arg, increment: number): Command<number> => {
  const e = checkFinite("increment", increment)
  if (e !== undefined) return invalid("INCRBYFLOAT", e)
  return unsafeMake("INCRBYFLOAT", ["INCRBYFLOAT", key, increment], [key], W, Reply.double)
}

/**
 * APPEND: appends to a value; returns the new length.
 *
 * @category strings
 * @since 0.1.0
 */
export const append = (key: Arg, value: Arg): Command<number> =>
  unsafeMake("APPEND", ["APPEND", key, value], [key], W, Reply.integer)

/**
 * STRLEN: the length of a value in bytes.
 *
 * @category strings
 * @since 0.1.0
 */
export const strlen = (key: Arg): Command<number> => unsafeMake("STRLEN", ["STRLEN", key], [key], RO, Reply.integer)

/**
 * LCS: the longest common subsequence of two string values.
 *
 * @category strings
 * @since 0.1.0
 */
export const lcs = (key1: Arg, key2: Arg): Command<string> =>
  unsafeMake("LCS", ["LCS", key1, key2], [key1, key2], RO, Reply.string)

/**
 * LCS ... LEN: the length of the longest common subsequence.
 *
 * @category strings
 * @since 0.1.0
 */
export const lcsLen = (key1: Arg, key2: Arg): Command<number> =>
  unsafeMake("LCS", ["LCS", key1, key2, "LEN"], [key1, key2], RO, Reply.integer)

/**
 * One match of LCS ... IDX: inclusive byte ranges in each value, and the
 * match length when `withMatchLen` was given.
 *
 * @category strings
 * @since 0.1.0
 */
export interface LcsMatch {
  readonly key1: readonly [start: number, end: number]
  readonly key2: readonly [start: number, end: number]
  readonly length?: number
}

/**
 * The reply of LCS ... IDX.
 *
 * @category strings
 * @since 0.1.0
 */
export interface LcsIdx {
  readonly matches: Array<LcsMatch>
  readonly length: number
}

const range = (reply: RespValue): readonly [number, number] => {
  const r = Reply.items(reply)
  return [Reply.integer(r[0]), Reply.integer(r[1])]
}

// RESP2: ["matches", [...], "len", n]; RESP3: a map with the same entries.
const lcsIdxReply = (reply: RespValue): LcsIdx => {
  const flat = Reply.flatPairs(reply)
  let matches: Array<LcsMatch> = []
  let length = 0
  for (let i = 0; i + 1 < flat.length; i += 2) {
    const name = Reply.string(flat[i])
    if (name === "len") length = Reply.integer(flat[i + 1])
    else if (name === "matches") {
      matches = Reply.items(flat[i + 1]).map((m) => {
        const t = Reply.items(m)
        return t.length > 2
          ? { key1: range(t[0]), key2: range(t[1]), length: Reply.integer(t[2]) }
          : { key1: range(t[0]), key2: range(t[1]) }
      })
    }
  }
  return { matches, length }
}

/**
 * LCS ... IDX: the positions of the longest common subsequence's matches.
 *
 * @category strings
 * @since 0.1.0
 */
export const lcsIdx = (
  key1: Arg,
  key2: Arg,
  options?: { readonly minMatchLen?: number | undefined; readonly withMatchLen?: boolean | undefined }
): Command<LcsIdx> => {
  const args: Array<Arg> = ["LCS", key1, key2, "IDX"]
  if (options?.minMatchLen !== undefined) {
    const e = checkIntMin("minMatchLen", options.minMatchLen, 0)
    if (e !== undefined) return invalid("LCS", e)
    args.push("MINMATCHLEN", options.minMatchLen)
  }
  if (options?.withMatchLen === true) args.push("WITHMATCHLEN")
  return unsafeMake("LCS", args, [key1, key2], RO, lcsIdxReply)
}
