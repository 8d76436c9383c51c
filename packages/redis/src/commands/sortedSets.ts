/**
 * Sorted-set commands: adding and scoring members, ranges by rank, score
 * and lex, pops (blocking ones included), random members, set algebra and
 * ZSCAN.
 *
 * Each function builds a `Command` value and sends nothing. Scores are
 * JavaScript numbers: `Infinity`/`-Infinity` go on the wire as `+inf`/`-inf`,
 * NaN is refused before sending. Score bounds may be exclusive (`"(1.5"`),
 * lex bounds are `"[a"`, `"(a"`, `"-"`, `"+"`. Replies with scores decode
 * the same from RESP2 (flat `member, score` bulk strings) and RESP3 (nested
 * pairs with doubles) into `ScoredMember`s.
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
  checkFinite,
  checkInt,
  checkIntMin,
  type KeyedValue,
  keyedArray,
  keyedScoredMember,
  type LexBound,
  type Limit,
  many,
  mpop,
  needsOne,
  type OneOrMany,
  optionalDoubles,
  pushAll,
  pushLimit,
  pushScanOptions,
  RO,
  type ScanPage,
  scanPage,
  type ScoreBound,
  scoreArg,
  type ScoredMember,
  scoredMembers,
  scoredMembersBytes,
  strings,
  W,
  WI
} from "../internal/decoders.ts"
import type { CollectionScanOptions } from "./hashes.ts"

export type { LexBound, Limit, ScoreBound, ScoredMember } from "../internal/decoders.ts"

// -----------------------------------------------------------------------------
// adding, removing, scoring
// -----------------------------------------------------------------------------

/**
 * Options of ZADD.
 *
 * @category sortedSets
 * @since 0.1.0
 */
export interface ZAddOptions {
  /** Only add new members. */
  readonly nx?: boolean | undefined
  /** Only update existing members. */
  readonly xx?: boolean | undefined
  /** Only update when the new score is greater. */
  readonly gt?: boolean | undefined
  /** Only update when the new score is less. */
  readonly lt?: boolean | undefined
  /** Count changed members, not only added ones. */
  readonly ch?: boolean | undefined
}

const zaddArgs = (key: Arg, options: ZAddOptions | undefined): Array<Arg> | string => {
  const args: Array<Arg> = ["ZADD", key]
  if (options === undefined) return args
  if (options.nx === true) {
    if (options.xx === true || options.gt === true || options.lt === true) return "nx excludes xx, gt and lt"
    args.push("NX")
  }
  if (options.xx === true) args.push("XX")
  if (options.gt === true) {
    if (options.lt === true) return "gt and lt are mutually exclusive"
    args.push("GT")
  }
  if (options.lt === true) args.push("LT")
  if (options.ch === true) args.push("CH")
  return args
}

/**
 * ZADD: adds members or updates their scores; returns how many were added
 * (changed, with `ch`).
 *
 * @category sortedSets
 * @since 0.1.0
 */
export const zadd = (key: Arg, members: OneOrMany<ScoredMember<Arg>>, options?: ZAddOptions): Command<number> => {
  const ms = Array.isArray(members) ? members as ReadonlyArray<ScoredMember<Arg>> : [members as ScoredMember<Arg>]
  if (ms.length === 0) return needsOne("ZADD", "member")
  const args = zaddArgs(key, options)
  if (typeof args === "string") return invalid("ZADD", args)
  for (let i = 0; i < ms.length; i++) {
    const s = scoreArg(ms[i].score)
    if (s === undefined) return invalid("ZADD", `score of member ${i} is NaN`)
    args.push(s, ms[i].member)
  }
  return unsafeMake("ZADD", args, [key], WI, Reply.integer)
}

/**
 * ZADD ... INCR: increments a member's score; returns the new score, or
 * `None` when a condition (nx, xx, gt, lt) stopped it.
 *
 * @category sortedSets
 * @since 0.1.0
 */
export const zaddIncr = (
  key: Arg,
  increment: number,
  member: Arg,
  options?: Omit<ZAddOptions, "ch">
): Command<Option.Option<number>> => {
  const e = checkFinite("increment", increment)
  if (e !== undefined) return invalid("ZADD", e)
  const args = zaddArgs(key, options)
  if (typeof args === "string") return invalid("ZADD", args)
  args.push("INCR", increment, member)
  return unsafeMake("ZADD", args, [key], W, Reply.optionalDouble)
}

/**
 * ZREM: removes members; returns how many were there.
 *
 * @category sortedSets
 * @since 0.1.0
 */
export const zrem = (key: Arg, members: OneOrMany<Arg>): Command<number> => {
  const ms = many(members)
  if (ms.length === 0) return needsOne("ZREM", "member")
  const args: Array<Arg> = ["ZREM", key]
  pushAll(args, ms)
  return unsafeMake("ZREM", args, [key], WI, Reply.integer)
}

/**
 * ZSCORE: the score of a member, or `None`.
 *
 * @category sortedSets
 * @since 0.1.0
 */
export const zscore = (key: Arg, member: Arg): Command<Option.Option<number>> =>
  unsafeMake("ZSCORE", ["ZSCORE", key, member], [key], RO, Reply.optionalDouble)

/**
 * ZMSCORE: the scores of several members, `None` for each missing one.
 *
 * @category sortedSets
 * @since 0.1.0
 */
export const zmscore = (key: Arg, members: OneOrMany<Arg>): Command<Array<Option.Option<number>>> => {
  const ms = many(members)
  if (ms.length === 0) return needsOne("ZMSCORE", "member")
  const args: Array<Arg> = ["ZMSCORE", key]
  pushAll(args, ms)
  return unsafeMake("ZMSCORE", args, [key], RO, optionalDoubles)
}

/**
 * ZINCRBY: increments a member's score; returns the new score.
 *
 * @category sortedSets
 * @since 0.1.0
 */
export const zincrby = (key: Arg, increment: number, member: Arg): Command<number> => {
  const e = checkFinite("increment", increment)
  if (e !== undefined) return invalid("ZINCRBY", e)
  return unsafeMake("ZINCRBY", ["ZINCRBY", key, increment, member], [key], W, Reply.double)
}

/**
 * ZCARD: the number of members.
 *
 * @category sortedSets
 * @since 0.1.0
 */
export const zcard = (key: Arg): Command<number> => unsafeMake("ZCARD", ["ZCARD", key], [key], RO, Reply.integer)

const scoreRange = (name: string, key: Arg, min: ScoreBound, max: ScoreBound): Array<Arg> | string => {
  const a = scoreArg(min)
  const b = scoreArg(max)
  if (a === undefined || b === undefined) return "score bounds must not be NaN"
  return [name, key, a, b]
}

/**
 * ZCOUNT: the number of members with a score between two bounds.
 *
 * @category sortedSets
 * @since 0.1.0
 */
export const zcount = (key: Arg, min: ScoreBound, max: ScoreBound): Command<number> => {
  const args = scoreRange("ZCOUNT", key, min, max)
  if (typeof args === "string") return invalid("ZCOUNT", args)
  return unsafeMake("ZCOUNT", args, [key], RO, Reply.integer)
}

/**
 * ZLEXCOUNT: the number of members between two lex bounds.
 *
 * @category sortedSets
 * @since 0.1.0
 */
export const zlexcount = (key: Arg, min: LexBound, max: LexBound): Command<number> =>
  unsafeMake("ZLEXCOUNT", ["ZLEXCOUNT", key, min, max], [key], RO, Reply.integer)

// -----------------------------------------------------------------------------
// ranges
// -----------------------------------------------------------------------------

/**
 * ZRANGE by rank (the default): indexes, negative from the end.
 *
 * @category sortedSets
 * @since 0.1.0
 */
export interface ZRangeByRank {
  readonly by?: undefined
  readonly rev?: boolean | undefined
}

/**
 * ZRANGE BYSCORE: score bounds (`start` is the max with `rev`).
 *
 * @category sortedSets
 * @since 0.1.0
 */
export interface ZRangeByScore {
  readonly by: "SCORE"
  readonly rev?: boolean | undefined
  readonly limit?: Limit | undefined
}

/**
 * ZRANGE BYLEX: lex bounds (`start` is the max with `rev`).
 *
 * @category sortedSets
 * @since 0.1.0
 */
export interface ZRangeByLex {
  readonly by: "LEX"
  readonly rev?: boolean | undefined
  readonly limit?: Limit | undefined
}

/**
 * The range arguments of ZRANGE and its variants, after the key: rank,
 * score or lex bounds, according to `options.by`.
 *
 * @category sortedSets
 * @since 0.1.0
 */
export type ZRangeArgs =
  | [start: number, stop: number, options?: ZRangeByRank]
  | [start: ScoreBound, stop: ScoreBound, options: ZRangeByScore]
  | [start: LexBound, stop: LexBound, options: ZRangeByLex]

/**
 * The shape of ZRANGE and its variants.
 *
 * **Details**
 *
 * One signature over a union of argument tuples rather than overloads: the
 * `Redis` service derives its methods from these constructors with a mapped
 * type, which sees only the last overload (with overloads,
 * `redis.zrange(key, 0, -1)` did not type-check).
 *
 * @category sortedSets
 * @since 0.1.0
 */
export type ZRange<A> = (key: Arg, ...range: ZRangeArgs) => Command<A>

type ZRangeOptions = ZRangeByRank | ZRangeByScore | ZRangeByLex

const pushRange = (
  args: Array<Arg>,
  start: ScoreBound | LexBound,
  stop: ScoreBound | LexBound,
  options: ZRangeOptions | undefined,
  withScores: boolean
): string | undefined => {
  const by = options?.by
  if (by === undefined) {
    if (typeof start !== "number" || typeof stop !== "number") return "rank bounds must be numbers"
    const e = checkInt("start", start) ?? checkInt("stop", stop)
    if (e !== undefined) return e
    args.push(start, stop)
  } else if (by === "SCORE") {
    const a = scoreArg(start as ScoreBound)
    const b = scoreArg(stop as ScoreBound)
    if (a === undefined || b === undefined) return "score bounds must not be NaN"
    args.push(a, b, "BYSCORE")
  } else {
    if (withScores) return "WITHSCORES cannot be used with BYLEX"
    if (typeof start !== "string" || typeof stop !== "string") return "lex bounds must be strings"
    args.push(start, stop, "BYLEX")
  }
  if (options?.rev === true) args.push("REV")
  if (options !== undefined && options.by !== undefined && options.limit !== undefined) {
    const e = pushLimit(args, options.limit)
    if (e !== undefined) return e
  }
  if (withScores) args.push("WITHSCORES")
  return undefined
}

const zrangeWith = <A>(decode: Decoder<A>, withScores: boolean, binary: boolean) =>
(
  key: Arg,
  start: ScoreBound | LexBound,
  stop: ScoreBound | LexBound,
  options?: ZRangeOptions
): Command<A> => {
  const args: Array<Arg> = ["ZRANGE", key]
  const e = pushRange(args, start, stop, options, withScores)
  if (e !== undefined) return invalid("ZRANGE", e)
  return unsafeMake("ZRANGE", args, [key], RO, decode, binary)
}

/**
 * ZRANGE: members by rank, score (`by: "SCORE"`) or lex (`by: "LEX"`).
 *
 * @category sortedSets
 * @since 0.1.0
 */
export const zrange: ZRange<Array<string>> = zrangeWith(strings, false, false)

/**
 * ZRANGE returning members as bytes.
 *
 * @category sortedSets
 * @since 0.1.0
 */
export const zrangeBytes: ZRange<Array<Uint8Array>> = zrangeWith(bytesArray, false, true)

/**
 * ZRANGE ... WITHSCORES: members with their scores (not with `by: "LEX"`).
 *
 * @category sortedSets
 * @since 0.1.0
 */
export const zrangeWithScores: ZRange<Array<ScoredMember>> = zrangeWith(scoredMembers, true, false)

/**
 * ZRANGE ... WITHSCORES returning members as bytes.
 *
 * @category sortedSets
 * @since 0.1.0
 */
export const zrangeWithScoresBytes: ZRange<Array<ScoredMember<Uint8Array>>> = zrangeWith(
  scoredMembersBytes,
  true,
  true
)

/**
 * ZRANGESTORE: stores a ZRANGE of `source` in `destination`; returns its size.
 *
 * @category sortedSets
 * @since 0.1.0
 */
export const zrangestore: (destination: Arg, source: Arg, ...range: ZRangeArgs) => Command<number> = (
  destination: Arg,
  source: Arg,
  start: ScoreBound | LexBound,
  stop: ScoreBound | LexBound,
  options?: ZRangeOptions
): Command<number> => {
  const args: Array<Arg> = ["ZRANGESTORE", destination, source]
  const e = pushRange(args, start, stop, options, false)
  if (e !== undefined) return invalid("ZRANGESTORE", e)
  return unsafeMake("ZRANGESTORE", args, [destination, source], WI, Reply.integer)
}

/**
 * ZREVRANGE: members by rank, highest score first.
 *
 * @category sortedSets
 * @since 0.1.0
 */
export const zrevrange = (key: Arg, start: number, stop: number): Command<Array<string>> => {
  const e = checkInt("start", start) ?? checkInt("stop", stop)
  if (e !== undefined) return invalid("ZREVRANGE", e)
  return unsafeMake("ZREVRANGE", ["ZREVRANGE", key, start, stop], [key], RO, strings)
}

const byScore = (
  name: string,
  key: Arg,
  a: ScoreBound,
  b: ScoreBound,
  options: { readonly limit?: Limit | undefined } | undefined
): Command<Array<string>> => {
  const args = scoreRange(name, key, a, b)
  if (typeof args === "string") return invalid(name, args)
  if (options?.limit !== undefined) {
    const e = pushLimit(args, options.limit)
    if (e !== undefined) return invalid(name, e)
  }
  return unsafeMake(name, args, [key], RO, strings)
}

const byLex = (
  name: string,
  key: Arg,
  a: LexBound,
  b: LexBound,
  options: { readonly limit?: Limit | undefined } | undefined
): Command<Array<string>> => {
  const args: Array<Arg> = [name, key, a, b]
  if (options?.limit !== undefined) {
    const e = pushLimit(args, options.limit)
    if (e !== undefined) return invalid(name, e)
  }
  return unsafeMake(name, args, [key], RO, strings)
}

/**
 * ZRANGEBYSCORE: members with a score between `min` and `max`.
 *
 * @category sortedSets
 * @since 0.1.0
 */
export const zrangebyscore = (
  key: Arg,
  min: ScoreBound,
  max: ScoreBound,
  options?: { readonly limit?: Limit | undefined }
): Command<Array<string>> => byScore("ZRANGEBYSCORE", key, min, max, options)

/**
 * ZREVRANGEBYSCORE: members with a score between `max` and `min`, highest first.
 *
 * @category sortedSets
 * @since 0.1.0
 */
export const zrevrangebyscore = (
  key: Arg,
  max: ScoreBound,
  min: ScoreBound,
  options?: { readonly limit?: Limit | undefined }
): Command<Array<string>> => byScore("ZREVRANGEBYSCORE", key, max, min, options)

/**
 * ZRANGEBYLEX: members between two lex bounds.
 *
 * @category sortedSets
 * @since 0.1.0
 */
export const zrangebylex = (
  key: Arg,
  min: LexBound,
  max: LexBound,
  options?: { readonly limit?: Limit | undefined }
): Command<Array<string>> => byLex("ZRANGEBYLEX", key, min, max, options)

/**
 * ZREVRANGEBYLEX: members between two lex bounds, in reverse order.
 *
 * @category sortedSets
 * @since 0.1.0
 */
export const zrevrangebylex = (
  key: Arg,
  max: LexBound,
  min: LexBound,
  options?: { readonly limit?: Limit | undefined }
): Command<Array<string>> => byLex("ZREVRANGEBYLEX", key, max, min, options)

/**
 * ZRANK: the rank of a member (lowest score first), or `None`.
 *
 * @category sortedSets
 * @since 0.1.0
 */
export const zrank = (key: Arg, member: Arg): Command<Option.Option<number>> =>
  unsafeMake("ZRANK", ["ZRANK", key, member], [key], RO, Reply.optionalInteger)

/**
 * ZREVRANK: the rank of a member (highest score first), or `None`.
 *
 * @category sortedSets
 * @since 0.1.0
 */
export const zrevrank = (key: Arg, member: Arg): Command<Option.Option<number>> =>
  unsafeMake("ZREVRANK", ["ZREVRANK", key, member], [key], RO, Reply.optionalInteger)

/**
 * ZREMRANGEBYRANK: removes members by rank; returns how many.
 *
 * @category sortedSets
 * @since 0.1.0
 */
export const zremrangebyrank = (key: Arg, start: number, stop: number): Command<number> => {
  const e = checkInt("start", start) ?? checkInt("stop", stop)
  if (e !== undefined) return invalid("ZREMRANGEBYRANK", e)
  // Ranks shift after a removal: not safe to resend.
  return unsafeMake("ZREMRANGEBYRANK", ["ZREMRANGEBYRANK", key, start, stop], [key], W, Reply.integer)
}

/**
 * ZREMRANGEBYSCORE: removes members with a score between two bounds; returns how many.
 *
 * @category sortedSets
 * @since 0.1.0
 */
export const zremrangebyscore = (key: Arg, min: ScoreBound, max: ScoreBound): Command<number> => {
  const args = scoreRange("ZREMRANGEBYSCORE", key, min, max)
  if (typeof args === "string") return invalid("ZREMRANGEBYSCORE", args)
  return unsafeMake("ZREMRANGEBYSCORE", args, [key], WI, Reply.integer)
}

/**
 * ZREMRANGEBYLEX: removes members between two lex bounds; returns how many.
 *
 * @category sortedSets
 * @since 0.1.0
 */
export const zremrangebylex = (key: Arg, min: LexBound, max: LexBound): Command<number> =>
  unsafeMake("ZREMRANGEBYLEX", ["ZREMRANGEBYLEX", key, min, max], [key], WI, Reply.integer)

// -----------------------------------------------------------------------------
// pops
// -----------------------------------------------------------------------------

const popLike = (name: string, key: Arg, count: number | undefined): Command<Array<ScoredMember>> => {
  if (count === undefined) return unsafeMake(name, [name, key], [key], W, scoredMembers)
  const e = checkIntMin("count", count, 0)
  if (e !== undefined) return invalid(name, e)
  return unsafeMake(name, [name, key, count], [key], W, scoredMembers)
}

/**
 * ZPOPMIN: removes and returns up to `count` (default 1) lowest-scored members.
 *
 * @category sortedSets
 * @since 0.1.0
 */
export const zpopmin = (key: Arg, count?: number): Command<Array<ScoredMember>> => popLike("ZPOPMIN", key, count)

/**
 * ZPOPMAX: removes and returns up to `count` (default 1) highest-scored members.
 *
 * @category sortedSets
 * @since 0.1.0
 */
export const zpopmax = (key: Arg, count?: number): Command<Array<ScoredMember>> => popLike("ZPOPMAX", key, count)

/**
 * BZPOPMIN: ZPOPMIN of the first non-empty key, waiting up to `timeout`
 * seconds; `None` on timeout.
 *
 * @category sortedSets
 * @since 0.1.0
 */
export const bzpopmin = (keys: OneOrMany<Arg>, timeout: number): Command<Option.Option<KeyedValue<ScoredMember>>> =>
  bpop("BZPOPMIN", keys, timeout, keyedScoredMember, false)

/**
 * BZPOPMAX: ZPOPMAX of the first non-empty key, waiting up to `timeout`
 * seconds; `None` on timeout.
 *
 * @category sortedSets
 * @since 0.1.0
 */
export const bzpopmax = (keys: OneOrMany<Arg>, timeout: number): Command<Option.Option<KeyedValue<ScoredMember>>> =>
  bpop("BZPOPMAX", keys, timeout, keyedScoredMember, false)

const keyedScored = keyedArray(scoredMembers)

/**
 * ZMPOP: pops up to `count` (default 1) members from the first non-empty
 * sorted set; `None` when all are empty.
 *
 * @category sortedSets
 * @since 0.1.0
 */
export const zmpop = (
  keys: OneOrMany<Arg>,
  side: "MIN" | "MAX",
  options?: { readonly count?: number | undefined }
): Command<Option.Option<KeyedValue<Array<ScoredMember>>>> =>
  mpop("ZMPOP", undefined, keys, side, options?.count, W, keyedScored, false)

/**
 * BZMPOP: ZMPOP that waits up to `timeout` seconds; `None` on timeout.
 *
 * @category sortedSets
 * @since 0.1.0
 */
export const bzmpop = (
  timeout: number,
  keys: OneOrMany<Arg>,
  side: "MIN" | "MAX",
  options?: { readonly count?: number | undefined }
): Command<Option.Option<KeyedValue<Array<ScoredMember>>>> =>
  mpop("BZMPOP", timeout, keys, side, options?.count, BW, keyedScored, false)

// -----------------------------------------------------------------------------
// random members
// -----------------------------------------------------------------------------

/**
 * ZRANDMEMBER: a random member, or `None`.
 *
 * @category sortedSets
 * @since 0.1.0
 */
export const zrandmember = (key: Arg): Command<Option.Option<string>> =>
  unsafeMake("ZRANDMEMBER", ["ZRANDMEMBER", key], [key], RO, Reply.optionalString)

/**
 * ZRANDMEMBER key count: up to `count` distinct members; a negative count
 * allows repeats and returns exactly `-count` members.
 *
 * @category sortedSets
 * @since 0.1.0
 */
export const zrandmemberCount = (key: Arg, count: number): Command<Array<string>> => {
  const e = checkInt("count", count)
  if (e !== undefined) return invalid("ZRANDMEMBER", e)
  return unsafeMake("ZRANDMEMBER", ["ZRANDMEMBER", key, count], [key], RO, strings)
}

/**
 * ZRANDMEMBER key count WITHSCORES: random members with their scores.
 *
 * @category sortedSets
 * @since 0.1.0
 */
export const zrandmemberWithScores = (key: Arg, count: number): Command<Array<ScoredMember>> => {
  const e = checkInt("count", count)
  if (e !== undefined) return invalid("ZRANDMEMBER", e)
  return unsafeMake("ZRANDMEMBER", ["ZRANDMEMBER", key, count, "WITHSCORES"], [key], RO, scoredMembers)
}

// -----------------------------------------------------------------------------
// algebra
// -----------------------------------------------------------------------------

/**
 * Options of ZUNION, ZINTER and their STORE variants.
 *
 * @category sortedSets
 * @since 0.1.0
 */
export interface ZCombineOptions {
  /** One multiplication factor per key. */
  readonly weights?: ReadonlyArray<number> | undefined
  /** How scores of the same member combine (default SUM). */
  readonly aggregate?: "SUM" | "MIN" | "MAX" | undefined
}

const combineArgs = (
  name: string,
  destination: Arg | undefined,
  keys: ReadonlyArray<Arg>,
  options: ZCombineOptions | undefined,
  withScores: boolean
): Array<Arg> | string => {
  if (keys.length === 0) return `${name} needs at least one key`
  const args: Array<Arg> = destination === undefined ? [name, keys.length] : [name, destination, keys.length]
  pushAll(args, keys)
  if (options?.weights !== undefined) {
    const ws = options.weights
    if (ws.length !== keys.length) return `weights has ${ws.length} items for ${keys.length} keys`
    args.push("WEIGHTS")
    for (let i = 0; i < ws.length; i++) {
      const e = checkFinite("weight", ws[i])
      if (e !== undefined) return e
      args.push(ws[i])
    }
  }
  if (options?.aggregate !== undefined) args.push("AGGREGATE", options.aggregate)
  if (withScores) args.push("WITHSCORES")
  return args
}

const combine = <A>(name: string, decode: Decoder<A>, withScores: boolean) =>
(keys: OneOrMany<Arg>, options?: ZCombineOptions): Command<A> => {
  const ks = many(keys)
  const args = combineArgs(name, undefined, ks, options, withScores)
  if (typeof args === "string") return invalid(name, args)
  return unsafeMake(name, args, ks, RO, decode)
}

const combineStore = (name: string) =>
(destination: Arg, keys: OneOrMany<Arg>, options?: ZCombineOptions): Command<number> => {
  const ks = many(keys)
  const args = combineArgs(name, destination, ks, options, false)
  if (typeof args === "string") return invalid(name, args)
  const routed: Array<Arg> = [destination]
  pushAll(routed, ks)
  return unsafeMake(name, args, routed, WI, Reply.integer)
}

/**
 * ZUNION: the members of the union of sorted sets.
 *
 * @category sortedSets
 * @since 0.1.0
 */
export const zunion: (keys: OneOrMany<Arg>, options?: ZCombineOptions) => Command<Array<string>> = combine(
  "ZUNION",
  strings,
  false
)

/**
 * ZUNION ... WITHSCORES: the union with combined scores.
 *
 * @category sortedSets
 * @since 0.1.0
 */
export const zunionWithScores: (keys: OneOrMany<Arg>, options?: ZCombineOptions) => Command<Array<ScoredMember>> =
  combine("ZUNION", scoredMembers, true)

/**
 * ZUNIONSTORE: stores the union in `destination`; returns its size.
 *
 * @category sortedSets
 * @since 0.1.0
 */
export const zunionstore: (destination: Arg, keys: OneOrMany<Arg>, options?: ZCombineOptions) => Command<number> =
  combineStore("ZUNIONSTORE")

/**
 * ZINTER: the members of the intersection of sorted sets.
 *
 * @category sortedSets
 * @since 0.1.0
 */
export const zinter: (keys: OneOrMany<Arg>, options?: ZCombineOptions) => Command<Array<string>> = combine(
  "ZINTER",
  strings,
  false
)

/**
 * ZINTER ... WITHSCORES: the intersection with combined scores.
 *
 * @category sortedSets
 * @since 0.1.0
 */
export const zinterWithScores: (keys: OneOrMany<Arg>, options?: ZCombineOptions) => Command<Array<ScoredMember>> =
  combine("ZINTER", scoredMembers, true)

/**
 * ZINTERSTORE: stores the intersection in `destination`; returns its size.
 *
 * @category sortedSets
 * @since 0.1.0
 */
export const zinterstore: (destination: Arg, keys: OneOrMany<Arg>, options?: ZCombineOptions) => Command<number> =
  combineStore("ZINTERSTORE")

/**
 * ZINTERCARD: the size of the intersection, counting at most `limit` (0: no limit).
 *
 * @category sortedSets
 * @since 0.1.0
 */
export const zintercard = (keys: OneOrMany<Arg>, options?: { readonly limit?: number | undefined }): Command<number> => {
  const ks = many(keys)
  if (ks.length === 0) return needsOne("ZINTERCARD", "key")
  const args: Array<Arg> = ["ZINTERCARD", ks.length]
  pushAll(args, ks)
  if (options?.limit !== undefined) {
    const e = checkIntMin("limit", options.limit, 0)
    if (e !== undefined) return invalid("ZINTERCARD", e)
    args.push("LIMIT", options.limit)
  }
  return unsafeMake("ZINTERCARD", args, ks, RO, Reply.integer)
}

const zdiffPlain = combine("ZDIFF", strings, false)
const zdiffScored = combine("ZDIFF", scoredMembers, true)
const zdiffStore = combineStore("ZDIFFSTORE")

/**
 * ZDIFF: the members of the first sorted set that are in none of the others.
 *
 * @category sortedSets
 * @since 0.1.0
 */
export const zdiff = (keys: OneOrMany<Arg>): Command<Array<string>> => zdiffPlain(keys)

/**
 * ZDIFF ... WITHSCORES: the difference with scores.
 *
 * @category sortedSets
 * @since 0.1.0
 */
export const zdiffWithScores = (keys: OneOrMany<Arg>): Command<Array<ScoredMember>> => zdiffScored(keys)

/**
 * ZDIFFSTORE: stores the difference in `destination`; returns its size.
 *
 * @category sortedSets
 * @since 0.1.0
 */
export const zdiffstore = (destination: Arg, keys: OneOrMany<Arg>): Command<number> => zdiffStore(destination, keys)

// -----------------------------------------------------------------------------
// scan
// -----------------------------------------------------------------------------

const zscanPage = scanPage(scoredMembers)

/**
 * ZSCAN: one page of members with scores from `cursor` (start with `"0"`).
 *
 * @category sortedSets
 * @since 0.1.0
 */
export const zscan = (key: Arg, cursor: Arg, options?: CollectionScanOptions): Command<ScanPage<ScoredMember>> => {
  const args: Array<Arg> = ["ZSCAN", key, cursor]
  if (options !== undefined) {
    const e = pushScanOptions(args, options)
    if (e !== undefined) return invalid("ZSCAN", e)
  }
  return unsafeMake("ZSCAN", args, [key], RO, zscanPage)
}
