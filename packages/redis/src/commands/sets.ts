/**
 * Set commands: membership, random members, set algebra and SSCAN.
 *
 * Each function builds a `Command` value and sends nothing. Members come
 * back as arrays whether the server sent a RESP2 array or a RESP3 set; the
 * order is the server's. SSCAN returns a single page.
 *
 * @since 0.1.0
 */
import type * as Option from "effect/Option"
import { invalid, Reply, unsafeMake } from "../Command.ts"
import type { Command } from "../Command.ts"
import type { Arg } from "../Resp.ts"
import {
  booleans,
  bytesArray,
  checkInt,
  checkIntMin,
  many,
  needsOne,
  type OneOrMany,
  pushAll,
  pushScanOptions,
  RO,
  type ScanPage,
  scanPage,
  strings,
  W,
  WI,
  withWord
} from "../internal/decoders.ts"
import type { CollectionScanOptions } from "./hashes.ts"

const keyMembers = (name: string, key: Arg, members: OneOrMany<Arg>): Array<Arg> | undefined => {
  if (!Array.isArray(members)) return [name, key, members as Arg]
  const ms = members as ReadonlyArray<Arg>
  if (ms.length === 0) return undefined
  const args: Array<Arg> = [name, key]
  pushAll(args, ms)
  return args
}

/**
 * SADD: adds members; returns how many were new.
 *
 * @category sets
 * @since 0.1.0
 */
export const sadd = (key: Arg, members: OneOrMany<Arg>): Command<number> => {
  const args = keyMembers("SADD", key, members)
  return args === undefined ? needsOne("SADD", "member") : unsafeMake("SADD", args, [key], WI, Reply.integer)
}

/**
 * SREM: removes members; returns how many were there.
 *
 * @category sets
 * @since 0.1.0
 */
export const srem = (key: Arg, members: OneOrMany<Arg>): Command<number> => {
  const args = keyMembers("SREM", key, members)
  return args === undefined ? needsOne("SREM", "member") : unsafeMake("SREM", args, [key], WI, Reply.integer)
}

/**
 * SMEMBERS: every member.
 *
 * @category sets
 * @since 0.1.0
 */
export const smembers = (key: Arg): Command<Array<string>> =>
  unsafeMake("SMEMBERS", ["SMEMBERS", key], [key], RO, strings)

/**
 * SMEMBERS returning bytes.
 *
 * @category sets
 * @since 0.1.0
 */
export const smembersBytes = (key: Arg): Command<Array<Uint8Array>> =>
  unsafeMake("SMEMBERS", ["SMEMBERS", key], [key], RO, bytesArray, true)

/**
 * SISMEMBER: whether a value is a member.
 *
 * @category sets
 * @since 0.1.0
 */
export const sismember = (key: Arg, member: Arg): Command<boolean> =>
  unsafeMake("SISMEMBER", ["SISMEMBER", key, member], [key], RO, Reply.boolean)

/**
 * SMISMEMBER: for each value, whether it is a member.
 *
 * @category sets
 * @since 0.1.0
 */
export const smismember = (key: Arg, members: OneOrMany<Arg>): Command<Array<boolean>> => {
  const args = keyMembers("SMISMEMBER", key, members)
  return args === undefined ? needsOne("SMISMEMBER", "member") : unsafeMake("SMISMEMBER", args, [key], RO, booleans)
}

/**
 * SCARD: the number of members.
 *
 * @category sets
 * @since 0.1.0
 */
export const scard = (key: Arg): Command<number> => unsafeMake("SCARD", ["SCARD", key], [key], RO, Reply.integer)

/**
 * SPOP: removes and returns a random member, or `None`.
 *
 * @category sets
 * @since 0.1.0
 */
export const spop = (key: Arg): Command<Option.Option<string>> =>
  unsafeMake("SPOP", ["SPOP", key], [key], W, Reply.optionalString)

/**
 * SPOP returning bytes.
 *
 * @category sets
 * @since 0.1.0
 */
export const spopBytes = (key: Arg): Command<Option.Option<Uint8Array>> =>
  unsafeMake("SPOP", ["SPOP", key], [key], W, Reply.optionalBytes, true)

/**
 * SPOP key count: removes and returns up to `count` random members.
 *
 * @category sets
 * @since 0.1.0
 */
export const spopCount = (key: Arg, count: number): Command<Array<string>> => {
  const e = checkIntMin("count", count, 0)
  if (e !== undefined) return invalid("SPOP", e)
  return unsafeMake("SPOP", ["SPOP", key, count], [key], W, strings)
}

/**
 * SPOP key count returning bytes.
 *
 * @category sets
 * @since 0.1.0
 */
export const spopCountBytes = (key: Arg, count: number): Command<Array<Uint8Array>> => {
  const e = checkIntMin("count", count, 0)
  if (e !== undefined) return invalid("SPOP", e)
  return unsafeMake("SPOP", ["SPOP", key, count], [key], W, bytesArray, true)
}

/**
 * SRANDMEMBER: a random member, or `None`.
 *
 * @category sets
 * @since 0.1.0
 */
export const srandmember = (key: Arg): Command<Option.Option<string>> =>
  unsafeMake("SRANDMEMBER", ["SRANDMEMBER", key], [key], RO, Reply.optionalString)

/**
 * SRANDMEMBER returning bytes.
 *
 * @category sets
 * @since 0.1.0
 */
export const srandmemberBytes = (key: Arg): Command<Option.Option<Uint8Array>> =>
  unsafeMake("SRANDMEMBER", ["SRANDMEMBER", key], [key], RO, Reply.optionalBytes, true)

/**
 * SRANDMEMBER key count: up to `count` distinct members; a negative count
 * allows repeats and returns exactly `-count` members.
 *
 * @category sets
 * @since 0.1.0
 */
export const srandmemberCount = (key: Arg, count: number): Command<Array<string>> => {
  const e = checkInt("count", count)
  if (e !== undefined) return invalid("SRANDMEMBER", e)
  return unsafeMake("SRANDMEMBER", ["SRANDMEMBER", key, count], [key], RO, strings)
}

/**
 * SRANDMEMBER key count returning bytes.
 *
 * @category sets
 * @since 0.1.0
 */
export const srandmemberCountBytes = (key: Arg, count: number): Command<Array<Uint8Array>> => {
  const e = checkInt("count", count)
  if (e !== undefined) return invalid("SRANDMEMBER", e)
  return unsafeMake("SRANDMEMBER", ["SRANDMEMBER", key, count], [key], RO, bytesArray, true)
}

/**
 * SMOVE: moves a member from one set to another; `true` if it was moved.
 *
 * @category sets
 * @since 0.1.0
 */
export const smove = (source: Arg, destination: Arg, member: Arg): Command<boolean> =>
  unsafeMake("SMOVE", ["SMOVE", source, destination, member], [source, destination], WI, Reply.boolean)

const algebra = (name: string, keys: OneOrMany<Arg>): Command<Array<string>> => {
  const ks = many(keys)
  return ks.length === 0 ? needsOne(name, "key") : unsafeMake(name, withWord(name, ks), ks, RO, strings)
}

const algebraBytes = (name: string, keys: OneOrMany<Arg>): Command<Array<Uint8Array>> => {
  const ks = many(keys)
  return ks.length === 0 ? needsOne(name, "key") : unsafeMake(name, withWord(name, ks), ks, RO, bytesArray, true)
}

const algebraStore = (name: string, destination: Arg, keys: OneOrMany<Arg>): Command<number> => {
  const ks = many(keys)
  if (ks.length === 0) return needsOne(name, "key")
  const args: Array<Arg> = [name, destination]
  pushAll(args, ks)
  // Recomputing from unchanged sources lands on the same data: safe to resend.
  return unsafeMake(name, args, args.slice(1), WI, Reply.integer)
}

/**
 * SINTER: the members of the intersection of sets.
 *
 * @category sets
 * @since 0.1.0
 */
export const sinter = (keys: OneOrMany<Arg>): Command<Array<string>> => algebra("SINTER", keys)

/**
 * SINTER returning bytes.
 *
 * @category sets
 * @since 0.1.0
 */
export const sinterBytes = (keys: OneOrMany<Arg>): Command<Array<Uint8Array>> => algebraBytes("SINTER", keys)

/**
 * SINTERCARD: the size of the intersection, counting at most `limit` (0: no limit).
 *
 * @category sets
 * @since 0.1.0
 */
export const sintercard = (
  keys: OneOrMany<Arg>,
  options?: { readonly limit?: number | undefined }
): Command<number> => {
  const ks = many(keys)
  if (ks.length === 0) return needsOne("SINTERCARD", "key")
  const args: Array<Arg> = ["SINTERCARD", ks.length]
  pushAll(args, ks)
  if (options?.limit !== undefined) {
    const e = checkIntMin("limit", options.limit, 0)
    if (e !== undefined) return invalid("SINTERCARD", e)
    args.push("LIMIT", options.limit)
  }
  return unsafeMake("SINTERCARD", args, ks, RO, Reply.integer)
}

/**
 * SINTERSTORE: stores the intersection in `destination`; returns its size.
 *
 * @category sets
 * @since 0.1.0
 */
export const sinterstore = (destination: Arg, keys: OneOrMany<Arg>): Command<number> =>
  algebraStore("SINTERSTORE", destination, keys)

/**
 * SUNION: the members of the union of sets.
 *
 * @category sets
 * @since 0.1.0
 */
export const sunion = (keys: OneOrMany<Arg>): Command<Array<string>> => algebra("SUNION", keys)

/**
 * SUNION returning bytes.
 *
 * @category sets
 * @since 0.1.0
 */
export const sunionBytes = (keys: OneOrMany<Arg>): Command<Array<Uint8Array>> => algebraBytes("SUNION", keys)

/**
 * SUNIONSTORE: stores the union in `destination`; returns its size.
 *
 * @category sets
 * @since 0.1.0
 */
export const sunionstore = (destination: Arg, keys: OneOrMany<Arg>): Command<number> =>
  algebraStore("SUNIONSTORE", destination, keys)

/**
 * SDIFF: the members of the first set that are in none of the others.
 *
 * @category sets
 * @since 0.1.0
 */
export const sdiff = (keys: OneOrMany<Arg>): Command<Array<string>> => algebra("SDIFF", keys)

/**
 * SDIFF returning bytes.
 *
 * @category sets
 * @since 0.1.0
 */
export const sdiffBytes = (keys: OneOrMany<Arg>): Command<Array<Uint8Array>> => algebraBytes("SDIFF", keys)

/**
 * SDIFFSTORE: stores the difference in `destination`; returns its size.
 *
 * @category sets
 * @since 0.1.0
 */
export const sdiffstore = (destination: Arg, keys: OneOrMany<Arg>): Command<number> =>
  algebraStore("SDIFFSTORE", destination, keys)

const sscanPage = scanPage(strings)
const sscanPageBytes = scanPage(bytesArray)

/**
 * SSCAN: one page of members from `cursor` (start with `"0"`).
 *
 * @category sets
 * @since 0.1.0
 */
export const sscan = (key: Arg, cursor: Arg, options?: CollectionScanOptions): Command<ScanPage<string>> => {
  const args: Array<Arg> = ["SSCAN", key, cursor]
  if (options !== undefined) {
    const e = pushScanOptions(args, options)
    if (e !== undefined) return invalid("SSCAN", e)
  }
  return unsafeMake("SSCAN", args, [key], RO, sscanPage)
}

/**
 * SSCAN returning members as bytes.
 *
 * @category sets
 * @since 0.1.0
 */
export const sscanBytes = (key: Arg, cursor: Arg, options?: CollectionScanOptions): Command<ScanPage<Uint8Array>> => {
  const args: Array<Arg> = ["SSCAN", key, cursor]
  if (options !== undefined) {
    const e = pushScanOptions(args, options)
    if (e !== undefined) return invalid("SSCAN", e)
  }
  return unsafeMake("SSCAN", args, [key], RO, sscanPageBytes, true)
}
