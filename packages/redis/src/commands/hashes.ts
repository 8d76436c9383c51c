/**
 * Hash commands: fields of a key, counters, random fields and HSCAN.
 *
 * Each function builds a `Command` value and sends nothing. `hget` and
 * `hset(key, field, value)` are on the hot path: literal argv, hoisted
 * decoders. Replies decode the same from RESP2 (flat arrays) and RESP3
 * (maps, nested pairs). HSCAN returns a single page; looping is the
 * caller's job.
 *
 * @since 0.1.0
 */
import type * as Option from "effect/Option"
import { invalid, Reply, unsafeMake } from "../Command.ts"
import type { Command } from "../Command.ts"
import type { Arg } from "../Resp.ts"
import {
  bytesArray,
  bytesEntries,
  bytesMap,
  checkFinite,
  checkInt,
  many,
  needsOne,
  type OneOrMany,
  optionalBytesArray,
  optionalStrings,
  pushScanOptions,
  RO,
  type ScanPage,
  scanPage,
  stringEntries,
  stringRecord,
  strings,
  W,
  WI
} from "../internal/decoders.ts"

/**
 * Field/value pairs for HSET: a record or a list of pairs.
 *
 * @category hashes
 * @since 0.1.0
 */
export type HashFields = Readonly<Record<string, Arg>> | ReadonlyArray<readonly [Arg, Arg]>

/**
 * The arguments of HSET after the key: one field and its value, or several
 * fields at once.
 *
 * @category hashes
 * @since 0.1.0
 */
export type HsetArgs = [field: Arg, value: Arg] | [fields: HashFields]

/**
 * HSET: sets one field, or several; returns how many fields were added.
 *
 * **Details**
 *
 * One signature over a union of argument tuples rather than overloads: the
 * `Redis` service derives its methods from these constructors with a mapped
 * type, and a mapped type sees only the last overload of a function (with
 * overloads, `redis.hset(key, field, value)` did not type-check).
 *
 * @category hashes
 * @since 0.1.0
 */
export const hset: (key: Arg, ...fields: HsetArgs) => Command<number> = hsetImpl

// Plain positional parameters: no rest array is allocated on the hot path.
function hsetImpl(key: Arg, fieldOrFields: Arg | HashFields, value?: Arg): Command<number> {
  if (value !== undefined) return unsafeMake("HSET", ["HSET", key, fieldOrFields as Arg, value], [key], WI, Reply.integer)
  const args: Array<Arg> = ["HSET", key]
  if (Array.isArray(fieldOrFields)) {
    for (const [f, v] of fieldOrFields as ReadonlyArray<readonly [Arg, Arg]>) args.push(f, v)
  } else {
    const record = fieldOrFields as Readonly<Record<string, Arg>>
    for (const f of Object.keys(record)) args.push(f, record[f])
  }
  return args.length === 2 ? needsOne("HSET", "field") : unsafeMake("HSET", args, [key], WI, Reply.integer)
}

/**
 * HSETNX: sets a field only if it does not exist.
 *
 * @category hashes
 * @since 0.1.0
 */
export const hsetnx = (key: Arg, field: Arg, value: Arg): Command<boolean> =>
  unsafeMake("HSETNX", ["HSETNX", key, field, value], [key], WI, Reply.boolean)

/**
 * HGET: the value of a field, or `None`.
 *
 * @category hashes
 * @since 0.1.0
 */
export const hget = (key: Arg, field: Arg): Command<Option.Option<string>> =>
  unsafeMake("HGET", ["HGET", key, field], [key], RO, Reply.optionalString)

/**
 * HGET returning bytes.
 *
 * @category hashes
 * @since 0.1.0
 */
export const hgetBytes = (key: Arg, field: Arg): Command<Option.Option<Uint8Array>> =>
  unsafeMake("HGET", ["HGET", key, field], [key], RO, Reply.optionalBytes, true)

const hmgetArgs = (key: Arg, fields: ReadonlyArray<Arg>): Array<Arg> => {
  const args = new Array<Arg>(fields.length + 2)
  args[0] = "HMGET"
  args[1] = key
  for (let i = 0; i < fields.length; i++) args[i + 2] = fields[i]
  return args
}

/**
 * HMGET: the values of several fields, `None` for each missing one.
 *
 * @category hashes
 * @since 0.1.0
 */
export const hmget = (key: Arg, fields: ReadonlyArray<Arg>): Command<Array<Option.Option<string>>> =>
  fields.length === 0
    ? needsOne("HMGET", "field")
    : unsafeMake("HMGET", hmgetArgs(key, fields), [key], RO, optionalStrings)

/**
 * HMGET returning bytes.
 *
 * @category hashes
 * @since 0.1.0
 */
export const hmgetBytes = (key: Arg, fields: ReadonlyArray<Arg>): Command<Array<Option.Option<Uint8Array>>> =>
  fields.length === 0
    ? needsOne("HMGET", "field")
    : unsafeMake("HMGET", hmgetArgs(key, fields), [key], RO, optionalBytesArray, true)

/**
 * HGETALL: every field and value (an empty record for a missing key).
 *
 * @category hashes
 * @since 0.1.0
 */
export const hgetall = (key: Arg): Command<Record<string, string>> =>
  unsafeMake("HGETALL", ["HGETALL", key], [key], RO, stringRecord)

/**
 * HGETALL with values as bytes (field names decoded as UTF-8).
 *
 * @category hashes
 * @since 0.1.0
 */
export const hgetallBytes = (key: Arg): Command<Map<string, Uint8Array>> =>
  unsafeMake("HGETALL", ["HGETALL", key], [key], RO, bytesMap, true)

/**
 * HDEL: deletes fields; returns how many existed.
 *
 * @category hashes
 * @since 0.1.0
 */
export const hdel = (key: Arg, fields: OneOrMany<Arg>): Command<number> => {
  const fs = many(fields)
  if (fs.length === 0) return needsOne("HDEL", "field")
  const args = hmgetArgs(key, fs)
  args[0] = "HDEL"
  return unsafeMake("HDEL", args, [key], WI, Reply.integer)
}

/**
 * HEXISTS: whether a field exists.
 *
 * @category hashes
 * @since 0.1.0
 */
export const hexists = (key: Arg, field: Arg): Command<boolean> =>
  unsafeMake("HEXISTS", ["HEXISTS", key, field], [key], RO, Reply.boolean)

/**
 * HINCRBY: increments an integer field; returns the new value.
 *
 * @category hashes
 * @since 0.1.0
 */
export const hincrby = (key: Arg, field: Arg, increment: number): Command<number> => {
  const e = checkInt("increment", increment)
  if (e !== undefined) return invalid("HINCRBY", e)
  return unsafeMake("HINCRBY", ["HINCRBY", key, field, increment], [key], W, Reply.integer)
}

/**
 * HINCRBYFLOAT: increments a float field; returns the new value.
 *
 * @category hashes
 * @since 0.1.0
 */
export const hincrbyfloat = (key: Arg, field: Arg, increment: number): Command<number> => {
  const e = checkFinite("increment", increment)
  if (e !== undefined) return invalid("HINCRBYFLOAT", e)
  return unsafeMake("HINCRBYFLOAT", ["HINCRBYFLOAT", key, field, increment], [key], W, Reply.double)
}

/**
 * HKEYS: every field name.
 *
 * @category hashes
 * @since 0.1.0
 */
export const hkeys = (key: Arg): Command<Array<string>> => unsafeMake("HKEYS", ["HKEYS", key], [key], RO, strings)

/**
 * HVALS: every value.
 *
 * @category hashes
 * @since 0.1.0
 */
export const hvals = (key: Arg): Command<Array<string>> => unsafeMake("HVALS", ["HVALS", key], [key], RO, strings)

/**
 * HVALS returning bytes.
 *
 * @category hashes
 * @since 0.1.0
 */
export const hvalsBytes = (key: Arg): Command<Array<Uint8Array>> =>
  unsafeMake("HVALS", ["HVALS", key], [key], RO, bytesArray, true)

/**
 * HLEN: the number of fields.
 *
 * @category hashes
 * @since 0.1.0
 */
export const hlen = (key: Arg): Command<number> => unsafeMake("HLEN", ["HLEN", key], [key], RO, Reply.integer)

/**
 * HSTRLEN: the length in bytes of a field's value.
 *
 * @category hashes
 * @since 0.1.0
 */
export const hstrlen = (key: Arg, field: Arg): Command<number> =>
  unsafeMake("HSTRLEN", ["HSTRLEN", key, field], [key], RO, Reply.integer)

/**
 * HRANDFIELD: one random field name, or `None` for a missing key.
 *
 * @category hashes
 * @since 0.1.0
 */
export const hrandfield = (key: Arg): Command<Option.Option<string>> =>
  unsafeMake("HRANDFIELD", ["HRANDFIELD", key], [key], RO, Reply.optionalString)

/**
 * HRANDFIELD key count: up to `count` distinct fields; a negative count
 * allows repeats and returns exactly `-count` fields.
 *
 * @category hashes
 * @since 0.1.0
 */
export const hrandfieldCount = (key: Arg, count: number): Command<Array<string>> => {
  const e = checkInt("count", count)
  if (e !== undefined) return invalid("HRANDFIELD", e)
  return unsafeMake("HRANDFIELD", ["HRANDFIELD", key, count], [key], RO, strings)
}

/**
 * HRANDFIELD key count WITHVALUES: random fields with their values.
 *
 * @category hashes
 * @since 0.1.0
 */
export const hrandfieldWithValues = (key: Arg, count: number): Command<Array<readonly [string, string]>> => {
  const e = checkInt("count", count)
  if (e !== undefined) return invalid("HRANDFIELD", e)
  return unsafeMake("HRANDFIELD", ["HRANDFIELD", key, count, "WITHVALUES"], [key], RO, stringEntries)
}

/**
 * HRANDFIELD ... WITHVALUES with values as bytes.
 *
 * @category hashes
 * @since 0.1.0
 */
export const hrandfieldWithValuesBytes = (key: Arg, count: number): Command<Array<readonly [string, Uint8Array]>> => {
  const e = checkInt("count", count)
  if (e !== undefined) return invalid("HRANDFIELD", e)
  return unsafeMake("HRANDFIELD", ["HRANDFIELD", key, count, "WITHVALUES"], [key], RO, bytesEntries, true)
}

const hscanPage = scanPage(stringEntries)
const hscanPageBytes = scanPage(bytesEntries)

/**
 * Options of HSCAN, SSCAN and ZSCAN.
 *
 * @category hashes
 * @since 0.1.0
 */
export interface CollectionScanOptions {
  /** Only elements matching this glob pattern. */
  readonly match?: Arg | undefined
  /** A hint of how many elements to look at in this call. */
  readonly count?: number | undefined
}

/**
 * HSCAN: one page of field/value pairs from `cursor` (start with `"0"`).
 *
 * @category hashes
 * @since 0.1.0
 */
export const hscan = (
  key: Arg,
  cursor: Arg,
  options?: CollectionScanOptions
): Command<ScanPage<readonly [string, string]>> => {
  const args: Array<Arg> = ["HSCAN", key, cursor]
  if (options !== undefined) {
    const e = pushScanOptions(args, options)
    if (e !== undefined) return invalid("HSCAN", e)
  }
  return unsafeMake("HSCAN", args, [key], RO, hscanPage)
}

/**
 * HSCAN with values as bytes.
 *
 * @category hashes
 * @since 0.1.0
 */
export const hscanBytes = (
  key: Arg,
  cursor: Arg,
  options?: CollectionScanOptions
): Command<ScanPage<readonly [string, Uint8Array]>> => {
  const args: Array<Arg> = ["HSCAN", key, cursor]
  if (options !== undefined) {
    const e = pushScanOptions(args, options)
    if (e !== undefined) return invalid("HSCAN", e)
  }
  return unsafeMake("HSCAN", args, [key], RO, hscanPageBytes, true)
}
