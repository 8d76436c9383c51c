/**
 * Stream commands: XADD, XRANGE, XREAD, consumer groups (XGROUP, XREADGROUP,
 * XACK, XPENDING, XCLAIM, XAUTOCLAIM), XINFO, XTRIM, XSETID.
 *
 * Every function builds a `Command` value; nothing here sends anything.
 *
 * **Entries.** A stream entry decodes to `{ id, fields }` where `fields` is
 * a `Record<string, string>`. A record is what nearly every caller wants;
 * its cost is that a field repeated inside one entry keeps only its last
 * value, and that integer-like field names ("1", "2") enumerate before the
 * others. Callers who need the exact field order send the command through
 * `raw`. An entry deleted while still pending (XREADGROUP reading its
 * history, XCLAIM on Redis < 7) comes back with `fields: null`; those
 * commands use `StreamEntryOrDeleted`.
 *
 * **Flags.** XADD is never marked idempotent: with `*` a resend adds a
 * second entry, and with an explicit id a resend fails although the first
 * write happened. XREAD and XREADGROUP with `block` are `BLOCKING`.
 *
 * @since 0.1.0
 */
import * as Option from "effect/Option"
import type { Command, Decoder } from "../Command.ts"
import { Flags, invalid, Reply, unsafeMake } from "../Command.ts"
import type { Arg, RespValue } from "../Resp.ts"
import {
  checkArgs,
  checkInteger,
  field,
  optionalField,
  pairsOf,
  rawRecord,
  setField,
  stringArray,
  tuple,
  tupleOf
} from "../internal/replyDecoders.ts"

// -----------------------------------------------------------------------------
// models
// -----------------------------------------------------------------------------

/**
 * One stream entry.
 *
 * @category streams
 * @since 0.1.0
 */
export interface StreamEntry {
  readonly id: string
  readonly fields: Record<string, string>
}

/**
 * A stream entry that may have been deleted while still pending in a
 * consumer group: `fields` is then `null`.
 *
 * @category streams
 * @since 0.1.0
 */
export interface StreamEntryOrDeleted {
  readonly id: string
  readonly fields: Record<string, string> | null
}

/**
 * The entries XREAD returned for one stream.
 *
 * @category streams
 * @since 0.1.0
 */
export interface StreamReadResult<E = StreamEntry> {
  readonly stream: string
  readonly entries: Array<E>
}

/**
 * Fields of an entry for XADD: a record, or `[field, value]` pairs when the
 * order matters or fields are binary.
 *
 * @category streams
 * @since 0.1.0
 */
export type StreamFields = Readonly<Record<string, Arg>> | ReadonlyArray<readonly [Arg, Arg]>

/**
 * Streams to read and the id to read after, for XREAD/XREADGROUP: a record
 * `{ stream: id }` or `[stream, id]` pairs.
 *
 * @category streams
 * @since 0.1.0
 */
export type StreamOffsets = Readonly<Record<string, string>> | ReadonlyArray<readonly [Arg, string]>

/**
 * A trimming rule for XADD and XTRIM. `mode: "~"` lets the server trim
 * lazily (whole radix nodes); `limit` caps the entries evicted per call and
 * needs `mode: "~"`.
 *
 * @category streams
 * @since 0.1.0
 */
export interface StreamTrim {
  readonly strategy: "MAXLEN" | "MINID"
  readonly threshold: Arg
  readonly mode?: "~" | "=" | undefined
  readonly limit?: number | undefined
}

// -----------------------------------------------------------------------------
// decoders
// -----------------------------------------------------------------------------

const fieldsOf = (reply: RespValue): Record<string, string> => {
  const flat = Reply.items(reply)
  const out: Record<string, string> = {}
  for (let i = 0; i + 1 < flat.length; i += 2) setField(out, Reply.string(flat[i]), Reply.string(flat[i + 1]))
  return out
}

const decodeEntry = (reply: RespValue): StreamEntry => {
  const pair = tuple(reply, 2, "stream entry")
  return { id: Reply.string(pair[0]), fields: pair[1] === null ? {} : fieldsOf(pair[1]) }
}

const decodeEntryOrDeleted = (reply: RespValue): StreamEntryOrDeleted => {
  const pair = tuple(reply, 2, "stream entry")
  return { id: Reply.string(pair[0]), fields: pair[1] === null ? null : fieldsOf(pair[1]) }
}

const decodeEntries = Reply.array(decodeEntry)
const decodeEntriesOrDeleted = Reply.array(decodeEntryOrDeleted)

/** XREAD: nil, a RESP3 map `{ stream: entries }` or a RESP2 array `[[stream, entries]]`. */
const readDecoder = <E>(entries: (reply: RespValue) => Array<E>) =>
(reply: RespValue): Option.Option<Array<StreamReadResult<E>>> => {
  if (reply === null) return Option.none()
  const pairs = pairsOf(reply, true)
  const out = new Array<StreamReadResult<E>>(pairs.length)
  for (let i = 0; i < pairs.length; i++) {
    out[i] = { stream: Reply.string(pairs[i][0]), entries: entries(pairs[i][1]) }
  }
  return Option.some(out)
}

const decodeRead = readDecoder(decodeEntries)
const decodeReadGroup = readDecoder(decodeEntriesOrDeleted)

// -----------------------------------------------------------------------------
// argument helpers
// -----------------------------------------------------------------------------

const pushTrim = (name: string, argv: Array<Arg>, trim: StreamTrim): string | undefined => {
  if (trim.strategy !== "MAXLEN" && trim.strategy !== "MINID") return `unknown trim strategy ${trim.strategy}`
  if (typeof trim.threshold === "number") {
    const bad = checkInteger(`${name} ${trim.strategy}`, trim.threshold)
    if (bad !== undefined) return bad
  }
  argv.push(trim.strategy)
  if (trim.mode !== undefined) argv.push(trim.mode)
  argv.push(trim.threshold)
  if (trim.limit !== undefined) {
    if (trim.mode !== "~") return "LIMIT needs approximate trimming (mode \"~\")"
    const bad = checkInteger(`${name} LIMIT`, trim.limit)
    if (bad !== undefined) return bad
    argv.push("LIMIT", trim.limit)
  }
  return undefined
}

/** Appends `STREAMS k1 k2 ... id1 id2 ...` and returns the keys, or a message. */
const pushStreams = (argv: Array<Arg>, streams: StreamOffsets): ReadonlyArray<Arg> | string => {
  const keys: Array<Arg> = []
  const ids: Array<string> = []
  if (Array.isArray(streams)) {
    for (const [k, id] of streams as ReadonlyArray<readonly [Arg, string]>) {
      keys.push(k)
      ids.push(id)
    }
  } else {
    for (const k of Object.keys(streams)) {
      keys.push(k)
      ids.push((streams as Readonly<Record<string, string>>)[k])
    }
  }
  if (keys.length === 0) return "no streams to read"
  argv.push("STREAMS")
  for (const k of keys) argv.push(k)
  for (const id of ids) argv.push(id)
  return keys
}

const pushCountBlock = (
  name: string,
  argv: Array<Arg>,
  options: { readonly count?: number | undefined; readonly block?: number | undefined } | undefined
): string | undefined => {
  if (options?.count !== undefined) {
    const bad = checkInteger(`${name} COUNT`, options.count)
    if (bad !== undefined) return bad
    argv.push("COUNT", options.count)
  }
  if (options?.block !== undefined) {
    const bad = checkInteger(`${name} BLOCK`, options.block)
    if (bad !== undefined) return bad
    argv.push("BLOCK", options.block)
  }
  return undefined
}

const pushCount = (name: string, argv: Array<Arg>, count: number | undefined): string | undefined => {
  if (count === undefined) return undefined
  const bad = checkInteger(`${name} COUNT`, count)
  if (bad !== undefined) return bad
  argv.push("COUNT", count)
  return undefined
}

// -----------------------------------------------------------------------------
// XADD, XTRIM, XDEL, XLEN, XRANGE
// -----------------------------------------------------------------------------

/**
 * Options of XADD.
 *
 * @category streams
 * @since 0.1.0
 */
export interface XAddOptions {
  /** The entry id; `*` (the default) lets the server pick one. */
  readonly id?: string | undefined
  /** Trim the stream in the same call. */
  readonly trim?: StreamTrim | undefined
}

const buildXadd = <A>(
  key: Arg,
  fields: StreamFields,
  options: XAddOptions | undefined,
  nomkstream: boolean,
  decode: Decoder<A>
): Command<A> => {
  const argv: Array<Arg> = ["XADD", key]
  if (nomkstream) argv.push("NOMKSTREAM")
  if (options?.trim !== undefined) {
    const bad = pushTrim("XADD", argv, options.trim)
    if (bad !== undefined) return invalid("XADD", bad)
  }
  argv.push(options?.id ?? "*")
  const before = argv.length
  if (Array.isArray(fields)) {
    for (const [f, v] of fields as ReadonlyArray<readonly [Arg, Arg]>) argv.push(f, v)
  } else {
    const record = fields as Readonly<Record<string, Arg>>
    for (const f of Object.keys(record)) argv.push(f, record[f])
  }
  if (argv.length === before) return invalid("XADD", "an entry needs at least one field")
  const bad = checkArgs(argv)
  if (bad !== undefined) return invalid("XADD", bad)
  return unsafeMake("XADD", argv, [key], Flags.WRITE, decode)
}

/**
 * XADD: appends an entry and returns its id (creating the stream if needed).
 *
 * @category streams
 * @since 0.1.0
 */
export const xadd = (key: Arg, fields: StreamFields, options?: XAddOptions): Command<string> =>
  buildXadd(key, fields, options, false, Reply.string)

/**
 * XADD NOMKSTREAM: appends an entry only if the stream exists; `None` when it
 * does not.
 *
 * @category streams
 * @since 0.1.0
 */
export const xaddNoMkStream = (
  key: Arg,
  fields: StreamFields,
  options?: XAddOptions
): Command<Option.Option<string>> => buildXadd(key, fields, options, true, Reply.optionalString)

/**
 * XTRIM: trims a stream and returns the number of entries removed. Exact
 * trims are idempotent.
 *
 * @category streams
 * @since 0.1.0
 */
export const xtrim = (key: Arg, trim: StreamTrim): Command<number> => {
  const argv: Array<Arg> = ["XTRIM", key]
  const bad = pushTrim("XTRIM", argv, trim)
  if (bad !== undefined) return invalid("XTRIM", bad)
  const flags = trim.mode === "~" ? Flags.WRITE : Flags.WRITE | Flags.IDEMPOTENT
  return unsafeMake("XTRIM", argv, [key], flags, Reply.integer)
}

/**
 * XDEL: deletes entries by id and returns how many existed.
 *
 * @category streams
 * @since 0.1.0
 */
export const xdel = (key: Arg, ids: ReadonlyArray<string>): Command<number> => {
  if (ids.length === 0) return invalid("XDEL", "no ids to delete")
  return unsafeMake("XDEL", ["XDEL", key, ...ids], [key], Flags.WRITE | Flags.IDEMPOTENT, Reply.integer)
}

/**
 * XLEN: the number of entries in a stream.
 *
 * @category streams
 * @since 0.1.0
 */
export const xlen = (key: Arg): Command<number> =>
  unsafeMake("XLEN", ["XLEN", key], [key], Flags.READONLY, Reply.integer)

/** XRANGE and XREVRANGE: `name key first last [COUNT count]`. */
const buildRange = (
  name: string,
  key: Arg,
  first: string,
  last: string,
  count: number | undefined
): Command<Array<StreamEntry>> => {
  const argv: Array<Arg> = [name, key, first, last]
  const bad = pushCount(name, argv, count)
  if (bad !== undefined) return invalid(name, bad)
  return unsafeMake(name, argv, [key], Flags.READONLY, decodeEntries)
}

/**
 * XRANGE: entries with ids between `start` and `end` (inclusive; `-` and `+`
 * by default), oldest first.
 *
 * @category streams
 * @since 0.1.0
 */
export const xrange = (
  key: Arg,
  start: string = "-",
  end: string = "+",
  options?: { readonly count?: number | undefined }
): Command<Array<StreamEntry>> => buildRange("XRANGE", key, start, end, options?.count)

/**
 * XREVRANGE: entries with ids between `end` and `start`, newest first
 * (`+` and `-` by default).
 *
 * @category streams
 * @since 0.1.0
 */
export const xrevrange = (
  key: Arg,
  end: string = "+",
  start: string = "-",
  options?: { readonly count?: number | undefined }
): Command<Array<StreamEntry>> => buildRange("XREVRANGE", key, end, start, options?.count)

// -----------------------------------------------------------------------------
// XREAD, XREADGROUP
// -----------------------------------------------------------------------------

/**
 * XREAD and XREADGROUP: `argv` (the command and its GROUP part) then COUNT,
 * BLOCK, NOACK and STREAMS; with `block` the command is also `BLOCKING`.
 */
const buildRead = <A>(
  name: string,
  argv: Array<Arg>,
  streams: StreamOffsets,
  options: { readonly count?: number | undefined; readonly block?: number | undefined } | undefined,
  noack: boolean,
  flags: number,
  decode: Decoder<A>
): Command<A> => {
  const bad = pushCountBlock(name, argv, options)
  if (bad !== undefined) return invalid(name, bad)
  if (noack) argv.push("NOACK")
  const keys = pushStreams(argv, streams)
  if (typeof keys === "string") return invalid(name, keys)
  return unsafeMake(name, argv, keys, options?.block === undefined ? flags : flags | Flags.BLOCKING, decode)
}

/**
 * XREAD: entries after the given ids, per stream; `None` when `block`
 * expired with nothing new. With `block` (milliseconds, 0 = forever) the
 * command is `BLOCKING`.
 *
 * @category streams
 * @since 0.1.0
 */
export const xread = (
  streams: StreamOffsets,
  options?: { readonly count?: number | undefined; readonly block?: number | undefined }
): Command<Option.Option<Array<StreamReadResult>>> =>
  buildRead("XREAD", ["XREAD"], streams, options, false, Flags.READONLY, decodeRead)

/**
 * XREADGROUP GROUP: reads as `consumer` of `group` (`>` for new entries, an
 * id for the consumer's pending history). Entries deleted while pending come
 * back with `fields: null`.
 *
 * @category streams
 * @since 0.1.0
 */
export const xreadgroup = (
  group: Arg,
  consumer: Arg,
  streams: StreamOffsets,
  options?: {
    readonly count?: number | undefined
    readonly block?: number | undefined
    readonly noack?: boolean | undefined
  }
): Command<Option.Option<Array<StreamReadResult<StreamEntryOrDeleted>>>> => {
  const argv: Array<Arg> = ["XREADGROUP", "GROUP", group, consumer]
  return buildRead("XREADGROUP", argv, streams, options, options?.noack === true, Flags.WRITE, decodeReadGroup)
}

// -----------------------------------------------------------------------------
// XGROUP
// -----------------------------------------------------------------------------

/**
 * XGROUP CREATE and SETID: `argv` (whose second word names the subcommand in
 * a message) then `ENTRIESREAD n` when given (-1 allowed).
 */
const withEntriesRead = (argv: Array<Arg>, entriesRead: number | undefined, key: Arg, flags: number): Command<void> => {
  if (entriesRead !== undefined) {
    const bad = checkInteger(`XGROUP ${argv[1]} ENTRIESREAD`, entriesRead, -1)
    if (bad !== undefined) return invalid("XGROUP", bad)
    argv.push("ENTRIESREAD", entriesRead)
  }
  return unsafeMake("XGROUP", argv, [key], flags, Reply.ok)
}

/**
 * XGROUP CREATE: creates a consumer group starting after `id` (`$` = only
 * new entries, `0` = the whole stream). Not idempotent: a second call fails
 * with BUSYGROUP.
 *
 * @category streams
 * @since 0.1.0
 */
export const xgroupCreate = (
  key: Arg,
  group: Arg,
  id: string = "$",
  options?: { readonly mkstream?: boolean | undefined; readonly entriesRead?: number | undefined }
): Command<void> => {
  const argv: Array<Arg> = ["XGROUP", "CREATE", key, group, id]
  if (options?.mkstream === true) argv.push("MKSTREAM")
  return withEntriesRead(argv, options?.entriesRead, key, Flags.WRITE)
}

/**
 * XGROUP SETID: moves a group's last-delivered id.
 *
 * @category streams
 * @since 0.1.0
 */
export const xgroupSetId = (
  key: Arg,
  group: Arg,
  id: string,
  options?: { readonly entriesRead?: number | undefined }
): Command<void> => {
  const argv: Array<Arg> = ["XGROUP", "SETID", key, group, id]
  return withEntriesRead(argv, options?.entriesRead, key, Flags.WRITE | Flags.IDEMPOTENT)
}

/**
 * XGROUP DESTROY: deletes a group; `true` if it existed.
 *
 * @category streams
 * @since 0.1.0
 */
export const xgroupDestroy = (key: Arg, group: Arg): Command<boolean> =>
  unsafeMake("XGROUP", ["XGROUP", "DESTROY", key, group], [key], Flags.WRITE | Flags.IDEMPOTENT, Reply.boolean)

/**
 * XGROUP CREATECONSUMER: adds a consumer to a group; `true` if it was new.
 *
 * @category streams
 * @since 0.1.0
 */
export const xgroupCreateConsumer = (key: Arg, group: Arg, consumer: Arg): Command<boolean> =>
  unsafeMake(
    "XGROUP",
    ["XGROUP", "CREATECONSUMER", key, group, consumer],
    [key],
    Flags.WRITE | Flags.IDEMPOTENT,
    Reply.boolean
  )

/**
 * XGROUP DELCONSUMER: removes a consumer; returns how many entries it had
 * pending (they are dropped from the PEL).
 *
 * @category streams
 * @since 0.1.0
 */
export const xgroupDelConsumer = (key: Arg, group: Arg, consumer: Arg): Command<number> =>
  unsafeMake(
    "XGROUP",
    ["XGROUP", "DELCONSUMER", key, group, consumer],
    [key],
    Flags.WRITE | Flags.IDEMPOTENT,
    Reply.integer
  )

// -----------------------------------------------------------------------------
// XACK, XPENDING, XCLAIM, XAUTOCLAIM
// -----------------------------------------------------------------------------

/**
 * XACK: acknowledges entries; returns how many were pending.
 *
 * @category streams
 * @since 0.1.0
 */
export const xack = (key: Arg, group: Arg, ids: ReadonlyArray<string>): Command<number> => {
  if (ids.length === 0) return invalid("XACK", "no ids to acknowledge")
  return unsafeMake(
    "XACK",
    ["XACK", key, group, ...ids],
    [key],
    Flags.WRITE | Flags.IDEMPOTENT,
    Reply.integer
  )
}

/**
 * The summary form of XPENDING.
 *
 * @category streams
 * @since 0.1.0
 */
export interface XPendingSummary {
  readonly count: number
  readonly lowest: Option.Option<string>
  readonly highest: Option.Option<string>
  readonly consumers: Array<{ readonly name: string; readonly pending: number }>
}

const decodePendingSummary = (reply: RespValue): XPendingSummary => {
  const items = tuple(reply, 4, "XPENDING summary")
  const consumers: Array<{ readonly name: string; readonly pending: number }> = []
  if (items[3] !== null) {
    for (const [name, pending] of pairsOf(items[3], true)) {
      consumers.push({ name: Reply.string(name), pending: Reply.integer(pending) })
    }
  }
  return {
    count: Reply.integer(items[0]),
    lowest: Reply.optionalString(items[1]),
    highest: Reply.optionalString(items[2]),
    consumers
  }
}

/**
 * XPENDING key group: the count of pending entries, the id range and the
 * count per consumer.
 *
 * @category streams
 * @since 0.1.0
 */
export const xpending = (key: Arg, group: Arg): Command<XPendingSummary> =>
  unsafeMake("XPENDING", ["XPENDING", key, group], [key], Flags.READONLY, decodePendingSummary)

/**
 * One pending entry of the extended form of XPENDING.
 *
 * @category streams
 * @since 0.1.0
 */
export interface XPendingEntry {
  readonly id: string
  readonly consumer: string
  /** Milliseconds since the entry was last delivered. */
  readonly idle: number
  readonly deliveries: number
}

const decodePendingEntry: (reply: RespValue) => XPendingEntry = tupleOf("XPENDING entry", {
  id: Reply.string,
  consumer: Reply.string,
  idle: Reply.integer,
  deliveries: Reply.integer
})

const decodePendingEntries = Reply.array(decodePendingEntry)

/**
 * XPENDING key group [IDLE ms] start end count [consumer]: the pending
 * entries themselves.
 *
 * @category streams
 * @since 0.1.0
 */
export const xpendingRange = (
  key: Arg,
  group: Arg,
  options: {
    readonly count: number
    readonly start?: string | undefined
    readonly end?: string | undefined
    readonly idle?: number | undefined
    readonly consumer?: Arg | undefined
  }
): Command<Array<XPendingEntry>> => {
  const argv: Array<Arg> = ["XPENDING", key, group]
  if (options.idle !== undefined) {
    const bad = checkInteger("XPENDING IDLE", options.idle)
    if (bad !== undefined) return invalid("XPENDING", bad)
    argv.push("IDLE", options.idle)
  }
  const bad = checkInteger("XPENDING count", options.count)
  if (bad !== undefined) return invalid("XPENDING", bad)
  argv.push(options.start ?? "-", options.end ?? "+", options.count)
  if (options.consumer !== undefined) argv.push(options.consumer)
  return unsafeMake("XPENDING", argv, [key], Flags.READONLY, decodePendingEntries)
}

/**
 * Options of XCLAIM.
 *
 * @category streams
 * @since 0.1.0
 */
export interface XClaimOptions {
  /** Set the idle time (ms) of the claimed entries. */
  readonly idle?: number | undefined
  /** Set the last-delivery time (unix ms) of the claimed entries. */
  readonly time?: number | undefined
  /** Set the delivery counter. */
  readonly retryCount?: number | undefined
  /** Create PEL entries for ids that are not pending. */
  readonly force?: boolean | undefined
  /** Move the group's last-delivered id (used by replication). */
  readonly lastId?: string | undefined
}

const buildXclaim = <A>(
  key: Arg,
  group: Arg,
  consumer: Arg,
  minIdleTime: number,
  ids: ReadonlyArray<string>,
  options: XClaimOptions | undefined,
  justId: boolean,
  decode: Decoder<A>
): Command<A> => {
  if (ids.length === 0) return invalid("XCLAIM", "no ids to claim")
  let bad = checkInteger("XCLAIM min-idle-time", minIdleTime)
  const argv: Array<Arg> = ["XCLAIM", key, group, consumer, minIdleTime, ...ids]
  if (bad === undefined && options?.idle !== undefined) {
    bad = checkInteger("XCLAIM IDLE", options.idle)
    argv.push("IDLE", options.idle)
  }
  if (bad === undefined && options?.time !== undefined) {
    bad = checkInteger("XCLAIM TIME", options.time)
    argv.push("TIME", options.time)
  }
  if (bad === undefined && options?.retryCount !== undefined) {
    bad = checkInteger("XCLAIM RETRYCOUNT", options.retryCount)
    argv.push("RETRYCOUNT", options.retryCount)
  }
  if (bad !== undefined) return invalid("XCLAIM", bad)
  if (options?.force === true) argv.push("FORCE")
  if (justId) argv.push("JUSTID")
  if (options?.lastId !== undefined) argv.push("LASTID", options.lastId)
  return unsafeMake("XCLAIM", argv, [key], Flags.WRITE, decode)
}

/**
 * XCLAIM: takes over pending entries idle for at least `minIdleTime` ms and
 * returns them (entries deleted meanwhile have `fields: null` on Redis < 7).
 *
 * @category streams
 * @since 0.1.0
 */
export const xclaim = (
  key: Arg,
  group: Arg,
  consumer: Arg,
  minIdleTime: number,
  ids: ReadonlyArray<string>,
  options?: XClaimOptions
): Command<Array<StreamEntryOrDeleted>> =>
  buildXclaim(key, group, consumer, minIdleTime, ids, options, false, decodeEntriesOrDeleted)

/**
 * XCLAIM ... JUSTID: like `xclaim` but returns only the ids and leaves the
 * delivery counter alone.
 *
 * @category streams
 * @since 0.1.0
 */
export const xclaimJustId = (
  key: Arg,
  group: Arg,
  consumer: Arg,
  minIdleTime: number,
  ids: ReadonlyArray<string>,
  options?: XClaimOptions
): Command<Array<string>> => buildXclaim(key, group, consumer, minIdleTime, ids, options, true, stringArray)

/**
 * The reply of XAUTOCLAIM: the cursor to continue from (`0-0` when done),
 * the claimed entries (or ids with JUSTID) and the ids found deleted.
 *
 * @category streams
 * @since 0.1.0
 */
export interface XAutoClaimResult<E> {
  readonly next: string
  readonly claimed: Array<E>
  /** Ids that were pending but no longer exist (Redis >= 7; empty before). */
  readonly deleted: Array<string>
}

const autoclaimDecoder = <E>(claimed: (reply: RespValue) => Array<E>) =>
(reply: RespValue): XAutoClaimResult<E> => {
  const items = tuple(reply, 2, "XAUTOCLAIM reply")
  return {
    next: Reply.string(items[0]),
    claimed: claimed(items[1]),
    deleted: items.length > 2 && items[2] !== null ? stringArray(items[2]) : []
  }
}

const decodeAutoclaim = autoclaimDecoder(decodeEntriesOrDeleted)
const decodeAutoclaimJustId = autoclaimDecoder(stringArray)

const buildXautoclaim = <A>(
  key: Arg,
  group: Arg,
  consumer: Arg,
  minIdleTime: number,
  start: string,
  count: number | undefined,
  justId: boolean,
  decode: Decoder<A>
): Command<A> => {
  const bad = checkInteger("XAUTOCLAIM min-idle-time", minIdleTime)
  if (bad !== undefined) return invalid("XAUTOCLAIM", bad)
  const argv: Array<Arg> = ["XAUTOCLAIM", key, group, consumer, minIdleTime, start]
  const badCount = pushCount("XAUTOCLAIM", argv, count)
  if (badCount !== undefined) return invalid("XAUTOCLAIM", badCount)
  if (justId) argv.push("JUSTID")
  return unsafeMake("XAUTOCLAIM", argv, [key], Flags.WRITE, decode)
}

/**
 * XAUTOCLAIM: scans the PEL from `start` (`0-0` at first) and claims entries
 * idle for at least `minIdleTime` ms.
 *
 * @category streams
 * @since 0.1.0
 */
export const xautoclaim = (
  key: Arg,
  group: Arg,
  consumer: Arg,
  minIdleTime: number,
  start: string = "0-0",
  options?: { readonly count?: number | undefined }
): Command<XAutoClaimResult<StreamEntryOrDeleted>> =>
  buildXautoclaim(key, group, consumer, minIdleTime, start, options?.count, false, decodeAutoclaim)

/**
 * XAUTOCLAIM ... JUSTID: like `xautoclaim` but returns only the ids.
 *
 * @category streams
 * @since 0.1.0
 */
export const xautoclaimJustId = (
  key: Arg,
  group: Arg,
  consumer: Arg,
  minIdleTime: number,
  start: string = "0-0",
  options?: { readonly count?: number | undefined }
): Command<XAutoClaimResult<string>> =>
  buildXautoclaim(key, group, consumer, minIdleTime, start, options?.count, true, decodeAutoclaimJustId)

// -----------------------------------------------------------------------------
// XINFO, XSETID
// -----------------------------------------------------------------------------

/**
 * The reply of XINFO STREAM. Fields added by later servers are `Option`s.
 *
 * @category streams
 * @since 0.1.0
 */
export interface XInfoStream {
  readonly length: number
  readonly radixTreeKeys: number
  readonly radixTreeNodes: number
  readonly groups: number
  readonly lastGeneratedId: string
  readonly maxDeletedEntryId: Option.Option<string>
  readonly entriesAdded: Option.Option<number>
  readonly recordedFirstEntryId: Option.Option<string>
  readonly firstEntry: Option.Option<StreamEntry>
  readonly lastEntry: Option.Option<StreamEntry>
}

const decodeInfoStream = (reply: RespValue): XInfoStream => {
  const r = rawRecord(reply)
  return {
    length: Reply.integer(field(r, "length")),
    radixTreeKeys: Reply.integer(field(r, "radix-tree-keys")),
    radixTreeNodes: Reply.integer(field(r, "radix-tree-nodes")),
    groups: Reply.integer(field(r, "groups")),
    lastGeneratedId: Reply.string(field(r, "last-generated-id")),
    maxDeletedEntryId: optionalField(r, "max-deleted-entry-id", Reply.string),
    entriesAdded: optionalField(r, "entries-added", Reply.integer),
    recordedFirstEntryId: optionalField(r, "recorded-first-entry-id", Reply.string),
    firstEntry: optionalField(r, "first-entry", decodeEntry),
    lastEntry: optionalField(r, "last-entry", decodeEntry)
  }
}

/**
 * XINFO STREAM: length, radix tree size, group count, last id and the
 * first and last entries.
 *
 * @category streams
 * @since 0.1.0
 */
export const xinfoStream = (key: Arg): Command<XInfoStream> =>
  unsafeMake("XINFO", ["XINFO", "STREAM", key], [key], Flags.READONLY, decodeInfoStream)

/**
 * XINFO STREAM FULL: the full state (entries, groups, PELs) as raw fields;
 * `count` caps the entries and PEL items listed (server default 10, 0 = all).
 *
 * @category streams
 * @since 0.1.0
 */
export const xinfoStreamFull = (
  key: Arg,
  options?: { readonly count?: number | undefined }
): Command<Record<string, RespValue>> => {
  const argv: Array<Arg> = ["XINFO", "STREAM", key, "FULL"]
  const bad = pushCount("XINFO", argv, options?.count)
  if (bad !== undefined) return invalid("XINFO", bad)
  return unsafeMake("XINFO", argv, [key], Flags.READONLY, rawRecord)
}

/**
 * One consumer group of XINFO GROUPS.
 *
 * @category streams
 * @since 0.1.0
 */
export interface XInfoGroup {
  readonly name: string
  readonly consumers: number
  readonly pending: number
  readonly lastDeliveredId: string
  /** Redis >= 7. */
  readonly entriesRead: Option.Option<number>
  /** Redis >= 7; `None` also when the server cannot tell. */
  readonly lag: Option.Option<number>
}

const decodeInfoGroup = (reply: RespValue): XInfoGroup => {
  const r = rawRecord(reply)
  return {
    name: Reply.string(field(r, "name")),
    consumers: Reply.integer(field(r, "consumers")),
    pending: Reply.integer(field(r, "pending")),
    lastDeliveredId: Reply.string(field(r, "last-delivered-id")),
    entriesRead: optionalField(r, "entries-read", Reply.integer),
    lag: optionalField(r, "lag", Reply.integer)
  }
}

const decodeInfoGroups = Reply.array(decodeInfoGroup)

/**
 * XINFO GROUPS: the consumer groups of a stream.
 *
 * @category streams
 * @since 0.1.0
 */
export const xinfoGroups = (key: Arg): Command<Array<XInfoGroup>> =>
  unsafeMake("XINFO", ["XINFO", "GROUPS", key], [key], Flags.READONLY, decodeInfoGroups)

/**
 * One consumer of XINFO CONSUMERS.
 *
 * @category streams
 * @since 0.1.0
 */
export interface XInfoConsumer {
  readonly name: string
  readonly pending: number
  /** Milliseconds since the consumer last interacted. */
  readonly idle: number
  /** Milliseconds since the last successful read (Redis >= 7.2). */
  readonly inactive: Option.Option<number>
}

const decodeInfoConsumer = (reply: RespValue): XInfoConsumer => {
  const r = rawRecord(reply)
  return {
    name: Reply.string(field(r, "name")),
    pending: Reply.integer(field(r, "pending")),
    idle: Reply.integer(field(r, "idle")),
    inactive: optionalField(r, "inactive", Reply.integer)
  }
}

const decodeInfoConsumers = Reply.array(decodeInfoConsumer)

/**
 * XINFO CONSUMERS: the consumers of a group.
 *
 * @category streams
 * @since 0.1.0
 */
export const xinfoConsumers = (key: Arg, group: Arg): Command<Array<XInfoConsumer>> =>
  unsafeMake("XINFO", ["XINFO", "CONSUMERS", key, group], [key], Flags.READONLY, decodeInfoConsumers)

/**
 * XSETID: sets the last id of a stream (and optionally its counters).
 *
 * @category streams
 * @since 0.1.0
 */
export const xsetid = (
  key: Arg,
  lastId: string,
  options?: { readonly entriesAdded?: number | undefined; readonly maxDeletedId?: string | undefined }
): Command<void> => {
  const argv: Array<Arg> = ["XSETID", key, lastId]
  if (options?.entriesAdded !== undefined) {
    const bad = checkInteger("XSETID ENTRIESADDED", options.entriesAdded)
    if (bad !== undefined) return invalid("XSETID", bad)
    argv.push("ENTRIESADDED", options.entriesAdded)
  }
  if (options?.maxDeletedId !== undefined) argv.push("MAXDELETEDID", options.maxDeletedId)
  return unsafeMake("XSETID", argv, [key], Flags.WRITE | Flags.IDEMPOTENT, Reply.ok)
}
