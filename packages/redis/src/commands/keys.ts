/**
 * Generic key commands: existence, deletion, expiry, renaming, copying,
 * serialization, introspection (OBJECT, TYPE), iteration (KEYS, SCAN) and
 * SORT.
 *
 * Each function builds a `Command` value and sends nothing. SCAN returns a
 * single page; looping over pages (and, in a cluster, over nodes) is the
 * client's job, not this module's. KEYS, SCAN and RANDOMKEY are keyless: in
 * a cluster they answer for one node only.
 *
 * @since 0.1.0
 */
import type * as Option from "effect/Option"
import { invalid, Reply, unsafeMake } from "../Command.ts"
import type { Command } from "../Command.ts"
import type { Arg } from "../Resp.ts"
import {
  checkInt,
  checkIntMin,
  type Limit,
  many,
  needsOne,
  type OneOrMany,
  optionalStrings,
  pushLimit,
  pushScanOptions,
  RO,
  RO_NK,
  type ScanPage,
  scanPage,
  strings,
  unixTime,
  W,
  WI,
  withWord
} from "../internal/decoders.ts"

export type { KeyedValue, OneOrMany, ScanPage } from "../internal/decoders.ts"

const needKeys = (name: string): Command<never> => needsOne(name, "key")

/**
 * DEL: deletes keys; returns how many existed.
 *
 * @category keys
 * @since 0.1.0
 */
export const del = (keys: OneOrMany<Arg>): Command<number> => {
  const ks = many(keys)
  return ks.length === 0 ? needKeys("DEL") : unsafeMake("DEL", withWord("DEL", ks), ks, WI, Reply.integer)
}

/**
 * UNLINK: deletes keys, freeing memory in the background; returns how many existed.
 *
 * @category keys
 * @since 0.1.0
 */
export const unlink = (keys: OneOrMany<Arg>): Command<number> => {
  const ks = many(keys)
  return ks.length === 0
    ? needKeys("UNLINK")
    : unsafeMake("UNLINK", withWord("UNLINK", ks), ks, WI, Reply.integer)
}

/**
 * EXISTS: how many of the keys exist (a key given twice counts twice).
 *
 * @category keys
 * @since 0.1.0
 */
export const exists = (keys: OneOrMany<Arg>): Command<number> => {
  const ks = many(keys)
  return ks.length === 0
    ? needKeys("EXISTS")
    : unsafeMake("EXISTS", withWord("EXISTS", ks), ks, RO, Reply.integer)
}

/**
 * TOUCH: updates the last access time of keys; returns how many exist.
 *
 * @category keys
 * @since 0.1.0
 */
export const touch = (keys: OneOrMany<Arg>): Command<number> => {
  const ks = many(keys)
  return ks.length === 0 ? needKeys("TOUCH") : unsafeMake("TOUCH", withWord("TOUCH", ks), ks, RO, Reply.integer)
}

/**
 * The condition of EXPIRE and its variants (Redis 7.0+).
 *
 * @category keys
 * @since 0.1.0
 */
export type ExpireCondition = "NX" | "XX" | "GT" | "LT"

const expireLike = (
  name: string,
  key: Arg,
  time: number,
  condition: ExpireCondition | undefined
): Command<boolean> => {
  const e = checkInt("time", time)
  if (e !== undefined) return invalid(name, e)
  return unsafeMake(
    name,
    condition === undefined ? [name, key, time] : [name, key, time, condition],
    [key],
    WI,
    Reply.boolean
  )
}

/**
 * EXPIRE: sets a time to live in seconds; `true` if it was set.
 *
 * @category keys
 * @since 0.1.0
 */
export const expire = (key: Arg, seconds: number, condition?: ExpireCondition): Command<boolean> =>
  expireLike("EXPIRE", key, seconds, condition)

/**
 * PEXPIRE: sets a time to live in milliseconds; `true` if it was set.
 *
 * @category keys
 * @since 0.1.0
 */
export const pexpire = (key: Arg, milliseconds: number, condition?: ExpireCondition): Command<boolean> =>
  expireLike("PEXPIRE", key, milliseconds, condition)

/**
 * EXPIREAT: expires a key at a Unix time in seconds (or a `Date`).
 *
 * @category keys
 * @since 0.1.0
 */
export const expireat = (key: Arg, at: number | Date, condition?: ExpireCondition): Command<boolean> =>
  expireLike("EXPIREAT", key, unixTime(at, false), condition)

/**
 * PEXPIREAT: expires a key at a Unix time in milliseconds (or a `Date`).
 *
 * @category keys
 * @since 0.1.0
 */
export const pexpireat = (key: Arg, at: number | Date, condition?: ExpireCondition): Command<boolean> =>
  expireLike("PEXPIREAT", key, unixTime(at, true), condition)

/**
 * EXPIRETIME: the Unix time in seconds at which a key expires; -1 without
 * expiry, -2 for a missing key.
 *
 * @category keys
 * @since 0.1.0
 */
export const expiretime = (key: Arg): Command<number> =>
  unsafeMake("EXPIRETIME", ["EXPIRETIME", key], [key], RO, Reply.integer)

/**
 * PEXPIRETIME: the Unix time in milliseconds at which a key expires; -1
 * without expiry, -2 for a missing key.
 *
 * @category keys
 * @since 0.1.0
 */
export const pexpiretime = (key: Arg): Command<number> =>
  unsafeMake("PEXPIRETIME", ["PEXPIRETIME", key], [key], RO, Reply.integer)

/**
 * TTL: the remaining time to live in seconds; -1 without expiry, -2 for a missing key.
 *
 * @category keys
 * @since 0.1.0
 */
export const ttl = (key: Arg): Command<number> => unsafeMake("TTL", ["TTL", key], [key], RO, Reply.integer)

/**
 * PTTL: the remaining time to live in milliseconds; -1 without expiry, -2 for a missing key.
 *
 * @category keys
 * @since 0.1.0
 */
export const pttl = (key: Arg): Command<number> => unsafeMake("PTTL", ["PTTL", key], [key], RO, Reply.integer)

/**
 * PERSIST: removes a key's time to live; `true` if it had one.
 *
 * @category keys
 * @since 0.1.0
 */
export const persist = (key: Arg): Command<boolean> =>
  unsafeMake("PERSIST", ["PERSIST", key], [key], WI, Reply.boolean)

/**
 * TYPE: the type of a key's value (`"string"`, `"list"`, ..., `"none"` when missing).
 *
 * @category keys
 * @since 0.1.0
 */
export const type = (key: Arg): Command<string> => unsafeMake("TYPE", ["TYPE", key], [key], RO, Reply.string)

/**
 * RENAME: renames a key, overwriting the destination.
 *
 * **Gotchas**
 *
 * Not idempotent: sent twice, the second fails with "no such key".
 *
 * @category keys
 * @since 0.1.0
 */
export const rename = (key: Arg, newKey: Arg): Command<void> =>
  unsafeMake("RENAME", ["RENAME", key, newKey], [key, newKey], W, Reply.ok)

/**
 * RENAMENX: renames a key only if the new name does not exist.
 *
 * @category keys
 * @since 0.1.0
 */
export const renamenx = (key: Arg, newKey: Arg): Command<boolean> =>
  unsafeMake("RENAMENX", ["RENAMENX", key, newKey], [key, newKey], W, Reply.boolean)

/**
 * COPY: copies a key's value to another key; `true` if copied.
 *
 * @category keys
 * @since 0.1.0
 */
export const copy = (
  source: Arg,
  destination: Arg,
  options?: { readonly db?: number | undefined; readonly replace?: boolean | undefined }
): Command<boolean> => {
  const args: Array<Arg> = ["COPY", source, destination]
  if (options?.db !== undefined) {
    const e = checkIntMin("db", options.db, 0)
    if (e !== undefined) return invalid("COPY", e)
    args.push("DB", options.db)
  }
  if (options?.replace === true) args.push("REPLACE")
  return unsafeMake("COPY", args, [source, destination], WI, Reply.boolean)
}

/**
 * MOVE: moves a key to another database; `true` if moved.
 *
 * @category keys
 * @since 0.1.0
 */
export const move = (key: Arg, db: number): Command<boolean> => {
  const e = checkIntMin("db", db, 0)
  if (e !== undefined) return invalid("MOVE", e)
  return unsafeMake("MOVE", ["MOVE", key, db], [key], W, Reply.boolean)
}

/**
 * DUMP: the serialized value of a key (always bytes), or `None`.
 *
 * @category keys
 * @since 0.1.0
 */
export const dump = (key: Arg): Command<Option.Option<Uint8Array>> =>
  unsafeMake("DUMP", ["DUMP", key], [key], RO, Reply.optionalBytes, true)

/**
 * Options of RESTORE.
 *
 * @category keys
 * @since 0.1.0
 */
export interface RestoreOptions {
  /** Overwrite an existing key. */
  readonly replace?: boolean | undefined
  /** `ttl` is an absolute Unix time in milliseconds. */
  readonly absTtl?: boolean | undefined
  /** The idle time in seconds to set (LRU). */
  readonly idleTime?: number | undefined
  /** The access frequency to set (LFU). */
  readonly freq?: number | undefined
}

/**
 * RESTORE: creates a key from a DUMP payload; `ttl` in milliseconds, 0 for none.
 *
 * @category keys
 * @since 0.1.0
 */
export const restore = (key: Arg, ttl: number, serialized: Uint8Array, options?: RestoreOptions): Command<void> => {
  const e = checkIntMin("ttl", ttl, 0)
  if (e !== undefined) return invalid("RESTORE", e)
  const args: Array<Arg> = ["RESTORE", key, ttl, serialized]
  if (options === undefined) return unsafeMake("RESTORE", args, [key], W, Reply.ok)
  if (options.replace === true) args.push("REPLACE")
  if (options.absTtl === true) args.push("ABSTTL")
  if (options.idleTime !== undefined) {
    if (options.freq !== undefined) return invalid("RESTORE", "idleTime and freq are mutually exclusive")
    const e = checkIntMin("idleTime", options.idleTime, 0)
    if (e !== undefined) return invalid("RESTORE", e)
    args.push("IDLETIME", options.idleTime)
  }
  if (options.freq !== undefined) {
    const e = checkIntMin("freq", options.freq, 0)
    if (e !== undefined) return invalid("RESTORE", e)
    args.push("FREQ", options.freq)
  }
  // With REPLACE a resend lands on the same data; without, it fails with BUSYKEY.
  return unsafeMake("RESTORE", args, [key], options.replace === true ? WI : W, Reply.ok)
}

/**
 * OBJECT ENCODING: the internal encoding of a key's value, or `None`.
 *
 * @category keys
 * @since 0.1.0
 */
export const objectEncoding = (key: Arg): Command<Option.Option<string>> =>
  unsafeMake("OBJECT", ["OBJECT", "ENCODING", key], [key], RO, Reply.optionalString)

/**
 * OBJECT FREQ: the LFU access frequency of a key (LFU policies only).
 *
 * @category keys
 * @since 0.1.0
 */
export const objectFreq = (key: Arg): Command<Option.Option<number>> =>
  unsafeMake("OBJECT", ["OBJECT", "FREQ", key], [key], RO, Reply.optionalInteger)

/**
 * OBJECT IDLETIME: seconds since a key was last accessed (LRU policies only).
 *
 * @category keys
 * @since 0.1.0
 */
export const objectIdletime = (key: Arg): Command<Option.Option<number>> =>
  unsafeMake("OBJECT", ["OBJECT", "IDLETIME", key], [key], RO, Reply.optionalInteger)

/**
 * OBJECT REFCOUNT: the reference count of a key's value.
 *
 * @category keys
 * @since 0.1.0
 */
export const objectRefcount = (key: Arg): Command<Option.Option<number>> =>
  unsafeMake("OBJECT", ["OBJECT", "REFCOUNT", key], [key], RO, Reply.optionalInteger)

/**
 * RANDOMKEY: a random key of the database, or `None` when it is empty.
 *
 * @category keys
 * @since 0.1.0
 */
export const randomkey = (): Command<Option.Option<string>> =>
  unsafeMake("RANDOMKEY", ["RANDOMKEY"], [], RO_NK, Reply.optionalString)

/**
 * KEYS: every key matching a glob pattern. Blocks the server while it runs:
 * prefer `scan` outside of tests.
 *
 * @category keys
 * @since 0.1.0
 */
export const keys = (pattern: Arg): Command<Array<string>> =>
  unsafeMake("KEYS", ["KEYS", pattern], [], RO_NK, strings)

/**
 * Options of SCAN.
 *
 * @category keys
 * @since 0.1.0
 */
export interface ScanOptions {
  /** Only keys matching this glob pattern. */
  readonly match?: Arg | undefined
  /** A hint of how many keys to look at in this call. */
  readonly count?: number | undefined
  /** Only keys of this type (`"string"`, `"hash"`, ...). */
  readonly type?: string | undefined
}

const scanKeys = scanPage(strings)

/**
 * SCAN: one page of keys from `cursor` (start with `"0"`; done when the
 * returned cursor is `"0"`).
 *
 * @category keys
 * @since 0.1.0
 */
export const scan = (cursor: Arg, options?: ScanOptions): Command<ScanPage<string>> => {
  const args: Array<Arg> = ["SCAN", cursor]
  if (options !== undefined) {
    const e = pushScanOptions(args, options)
    if (e !== undefined) return invalid("SCAN", e)
    if (options.type !== undefined) args.push("TYPE", options.type)
  }
  return unsafeMake("SCAN", args, [], RO_NK, scanKeys)
}

/**
 * Options of SORT and SORT_RO.
 *
 * @category keys
 * @since 0.1.0
 */
export interface SortOptions {
  /** Sort by the values of keys matching this pattern (`"weight_*"`), or `"nosort"`. */
  readonly by?: Arg | undefined
  /** Return only part of the sorted result. */
  readonly limit?: Limit | undefined
  /** Return the values of keys matching these patterns (`"#"` is the element itself). */
  readonly get?: OneOrMany<Arg> | undefined
  /** Ascending (default) or descending. */
  readonly order?: "ASC" | "DESC" | undefined
  /** Sort lexicographically instead of numerically. */
  readonly alpha?: boolean | undefined
}

const sortArgs = (word: string, key: Arg, options: SortOptions | undefined): Array<Arg> | string => {
  const args: Array<Arg> = [word, key]
  if (options === undefined) return args
  if (options.by !== undefined) args.push("BY", options.by)
  if (options.limit !== undefined) {
    const e = pushLimit(args, options.limit)
    if (e !== undefined) return e
  }
  if (options.get !== undefined) for (const p of many(options.get)) args.push("GET", p)
  if (options.order !== undefined) args.push(options.order)
  if (options.alpha === true) args.push("ALPHA")
  return args
}

/**
 * SORT: the sorted elements of a list, set or sorted set (`None` for a
 * missing key looked up by a GET pattern).
 *
 * **Details**
 *
 * Sent to the primary (Redis flags SORT as a write because of STORE); use
 * `sortRo` to read from replicas. Without STORE it changes nothing, so it is
 * safe to resend.
 *
 * @category keys
 * @since 0.1.0
 */
export const sort = (key: Arg, options?: SortOptions): Command<Array<Option.Option<string>>> => {
  const args = sortArgs("SORT", key, options)
  if (typeof args === "string") return invalid("SORT", args)
  return unsafeMake("SORT", args, [key], WI, optionalStrings)
}

/**
 * SORT ... STORE: sorts into `destination`; returns the number of elements stored.
 *
 * @category keys
 * @since 0.1.0
 */
export const sortStore = (key: Arg, destination: Arg, options?: SortOptions): Command<number> => {
  const args = sortArgs("SORT", key, options)
  if (typeof args === "string") return invalid("SORT", args)
  args.push("STORE", destination)
  return unsafeMake("SORT", args, [key, destination], WI, Reply.integer)
}

/**
 * SORT_RO: the read-only SORT, which replicas may answer.
 *
 * @category keys
 * @since 0.1.0
 */
export const sortRo = (key: Arg, options?: SortOptions): Command<Array<Option.Option<string>>> => {
  const args = sortArgs("SORT_RO", key, options)
  if (typeof args === "string") return invalid("SORT_RO", args)
  return unsafeMake("SORT_RO", args, [key], RO, optionalStrings)
}
