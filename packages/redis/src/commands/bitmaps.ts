/**
 * Bitmap commands: single bits, counts, positions, bitwise operations
 * between keys, and BITFIELD integer fields.
 *
 * Each function builds a `Command` value and sends nothing. Offsets are
 * checked (integers, non-negative) before anything is sent; the server
 * still enforces its own size limit (512 MB).
 *
 * @since 0.1.0
 */
import type * as Option from "effect/Option"
import { invalid, Reply, unsafeMake } from "../Command.ts"
import type { Command } from "../Command.ts"
import type { Arg } from "../Resp.ts"
import { checkInt, checkIntMin, integers, many, needsOne, type OneOrMany, optionalIntegers, pushAll, RO, W, WI } from "../internal/decoders.ts"

/**
 * SETBIT: sets or clears the bit at `offset`; returns the bit's old value.
 *
 * @category bitmaps
 * @since 0.1.0
 */
export const setbit = (key: Arg, offset: number, value: 0 | 1): Command<number> => {
  const e = checkIntMin("offset", offset, 0)
  if (e !== undefined) return invalid("SETBIT", e)
  if (value !== 0 && value !== 1) return invalid("SETBIT", `value must be 0 or 1, got ${value}`)
  return unsafeMake("SETBIT", ["SETBIT", key, offset, value], [key], WI, Reply.integer)
}

/**
 * GETBIT: the bit at `offset` (0 beyond the end).
 *
 * @category bitmaps
 * @since 0.1.0
 */
export const getbit = (key: Arg, offset: number): Command<number> => {
  const e = checkIntMin("offset", offset, 0)
  if (e !== undefined) return invalid("GETBIT", e)
  return unsafeMake("GETBIT", ["GETBIT", key, offset], [key], RO, Reply.integer)
}

/**
 * A range of a bitmap: inclusive, negative from the end, in bytes (default)
 * or bits (Redis 7.0+).
 *
 * @category bitmaps
 * @since 0.1.0
 */
export interface BitRange {
  readonly start: number
  readonly end?: number | undefined
  readonly unit?: "BYTE" | "BIT" | undefined
}

const pushRange = (args: Array<Arg>, range: BitRange, endRequired: boolean): string | undefined => {
  const e = checkInt("start", range.start)
  if (e !== undefined) return e
  args.push(range.start)
  if (range.end === undefined) {
    if (endRequired) return "end is required"
    if (range.unit !== undefined) return "unit needs an end"
    return undefined
  }
  const e2 = checkInt("end", range.end)
  if (e2 !== undefined) return e2
  args.push(range.end)
  if (range.unit !== undefined) args.push(range.unit)
  return undefined
}

/**
 * BITCOUNT: the number of set bits, in the whole value or in a range.
 *
 * @category bitmaps
 * @since 0.1.0
 */
export const bitcount = (key: Arg, range?: BitRange): Command<number> => {
  const args: Array<Arg> = ["BITCOUNT", key]
  if (range !== undefined) {
    const e = pushRange(args, range, true)
    if (e !== undefined) return invalid("BITCOUNT", e)
  }
  return unsafeMake("BITCOUNT", args, [key], RO, Reply.integer)
}

/**
 * BITPOS: the position of the first bit set to `bit`, or -1.
 *
 * @category bitmaps
 * @since 0.1.0
 */
export const bitpos = (key: Arg, bit: 0 | 1, range?: BitRange): Command<number> => {
  if (bit !== 0 && bit !== 1) return invalid("BITPOS", `bit must be 0 or 1, got ${bit}`)
  const args: Array<Arg> = ["BITPOS", key, bit]
  if (range !== undefined) {
    const e = pushRange(args, range, false)
    if (e !== undefined) return invalid("BITPOS", e)
  }
  return unsafeMake("BITPOS", args, [key], RO, Reply.integer)
}

/**
 * BITOP: a bitwise operation between keys stored in `destination`; returns
 * the size of the result in bytes. NOT takes exactly one key.
 *
 * @category bitmaps
 * @since 0.1.0
 */
export const bitop = (
  operation: "AND" | "OR" | "XOR" | "NOT",
  destination: Arg,
  keys: OneOrMany<Arg>
): Command<number> => {
  const ks = many(keys)
  if (ks.length === 0) return needsOne("BITOP", "key")
  if (operation === "NOT" && ks.length !== 1) return invalid("BITOP", "BITOP NOT takes exactly one key")
  const args: Array<Arg> = ["BITOP", operation, destination]
  pushAll(args, ks)
  return unsafeMake("BITOP", args, args.slice(2), WI, Reply.integer)
}

/**
 * An integer encoding of BITFIELD: signed (`i1`..`i64`) or unsigned (`u1`..`u63`).
 *
 * @category bitmaps
 * @since 0.1.0
 */
export type BitfieldEncoding = `i${number}` | `u${number}`

/**
 * A BITFIELD offset: a bit offset, or `#n` for the n-th field of the encoding's width.
 *
 * @category bitmaps
 * @since 0.1.0
 */
export type BitfieldOffset = number | `#${number}`

/**
 * One BITFIELD operation.
 *
 * @category bitmaps
 * @since 0.1.0
 */
export type BitfieldOperation =
  | { readonly op: "GET"; readonly encoding: BitfieldEncoding; readonly offset: BitfieldOffset }
  | {
    readonly op: "SET"
    readonly encoding: BitfieldEncoding
    readonly offset: BitfieldOffset
    readonly value: number
  }
  | {
    readonly op: "INCRBY"
    readonly encoding: BitfieldEncoding
    readonly offset: BitfieldOffset
    readonly increment: number
  }
  | { readonly op: "OVERFLOW"; readonly behavior: "WRAP" | "SAT" | "FAIL" }

const pushField = (args: Array<Arg>, encoding: string, offset: BitfieldOffset): string | undefined => {
  if (!/^[iu]\d{1,2}$/.test(encoding)) return `invalid encoding ${encoding}`
  if (typeof offset === "number") {
    const e = checkIntMin("offset", offset, 0)
    if (e !== undefined) return e
  }
  args.push(encoding, offset)
  return undefined
}

const bitfieldArgs = (name: string, key: Arg, ops: ReadonlyArray<BitfieldOperation>) => {
  const args: Array<Arg> = [name, key]
  let increments = false
  for (const o of ops) {
    args.push(o.op)
    let e: string | undefined
    switch (o.op) {
      case "GET":
        e = pushField(args, o.encoding, o.offset)
        break
      case "SET":
        e = pushField(args, o.encoding, o.offset) ?? checkInt("value", o.value)
        args.push(o.value)
        break
      case "INCRBY":
        increments = true
        e = pushField(args, o.encoding, o.offset) ?? checkInt("increment", o.increment)
        args.push(o.increment)
        break
      case "OVERFLOW":
        args.push(o.behavior)
        break
    }
    if (e !== undefined) return e
  }
  return { args, increments }
}

/**
 * BITFIELD: integer fields of a bitmap; one result per GET/SET/INCRBY,
 * `None` where OVERFLOW FAIL stopped an operation.
 *
 * **Details**
 *
 * Safe to resend unless it contains INCRBY.
 *
 * @category bitmaps
 * @since 0.1.0
 */
export const bitfield = (key: Arg, operations: ReadonlyArray<BitfieldOperation>): Command<Array<Option.Option<number>>> => {
  const r = bitfieldArgs("BITFIELD", key, operations)
  if (typeof r === "string") return invalid("BITFIELD", r)
  return unsafeMake("BITFIELD", r.args, [key], r.increments ? W : WI, optionalIntegers)
}

/**
 * BITFIELD_RO: read-only BITFIELD (GET operations only), which replicas may answer.
 *
 * @category bitmaps
 * @since 0.1.0
 */
export const bitfieldRo = (
  key: Arg,
  operations: ReadonlyArray<{ readonly encoding: BitfieldEncoding; readonly offset: BitfieldOffset }>
): Command<Array<number>> => {
  if (operations.length === 0) return needsOne("BITFIELD_RO", "GET operation")
  const args: Array<Arg> = ["BITFIELD_RO", key]
  for (const o of operations) {
    args.push("GET")
    const e = pushField(args, o.encoding, o.offset)
    if (e !== undefined) return invalid("BITFIELD_RO", e)
  }
  return unsafeMake("BITFIELD_RO", args, [key], RO, integers)
}
