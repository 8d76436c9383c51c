/**
 * Geospatial commands: adding positions, distances, geohashes, positions
 * and searches by radius or box.
 *
 * Each function builds a `Command` value and sends nothing. Coordinates
 * must be finite (the server checks their ranges). GEOSEARCH with
 * `withCoord`/`withDist`/`withHash` returns `GeoSearchResult`s; without them,
 * plain member names. Distances and coordinates decode from RESP2 bulk
 * strings and RESP3 doubles alike.
 *
 * @since 0.1.0
 */
import * as Option from "effect/Option"
import { invalid, Reply, UnexpectedReply, unsafeMake } from "../Command.ts"
import type { Command, Decoder } from "../Command.ts"
import type { Arg, RespValue } from "../Resp.ts"
import { checkFinite, checkIntMin, many, needsOne, type OneOrMany, optionalStrings, RO, strings, WI } from "../internal/decoders.ts"

/**
 * A distance unit.
 *
 * @category geo
 * @since 0.1.0
 */
export type GeoUnit = "m" | "km" | "mi" | "ft"

/**
 * A longitude/latitude pair.
 *
 * @category geo
 * @since 0.1.0
 */
export interface GeoCoordinates {
  readonly longitude: number
  readonly latitude: number
}

/**
 * A member with its position, for GEOADD.
 *
 * @category geo
 * @since 0.1.0
 */
export interface GeoMember extends GeoCoordinates {
  readonly member: Arg
}

/**
 * GEOADD: adds members with positions; returns how many were added
 * (changed, with `ch`).
 *
 * @category geo
 * @since 0.1.0
 */
export const geoadd = (
  key: Arg,
  members: OneOrMany<GeoMember>,
  options?: { readonly nx?: boolean | undefined; readonly xx?: boolean | undefined; readonly ch?: boolean | undefined }
): Command<number> => {
  const ms = many(members)
  if (ms.length === 0) return needsOne("GEOADD", "member")
  const args: Array<Arg> = ["GEOADD", key]
  if (options?.nx === true) {
    if (options.xx === true) return invalid("GEOADD", "nx and xx are mutually exclusive")
    args.push("NX")
  }
  if (options?.xx === true) args.push("XX")
  if (options?.ch === true) args.push("CH")
  for (const m of ms) {
    const e = checkFinite("longitude", m.longitude) ?? checkFinite("latitude", m.latitude)
    if (e !== undefined) return invalid("GEOADD", e)
    args.push(m.longitude, m.latitude, m.member)
  }
  return unsafeMake("GEOADD", args, [key], WI, Reply.integer)
}

/**
 * GEODIST: the distance between two members (meters by default), or `None`
 * when one is missing.
 *
 * @category geo
 * @since 0.1.0
 */
export const geodist = (key: Arg, member1: Arg, member2: Arg, unit?: GeoUnit): Command<Option.Option<number>> =>
  unsafeMake(
    "GEODIST",
    unit === undefined ? ["GEODIST", key, member1, member2] : ["GEODIST", key, member1, member2, unit],
    [key],
    RO,
    Reply.optionalDouble
  )

/**
 * GEOHASH: the 11-character geohash of each member, `None` for missing ones.
 *
 * @category geo
 * @since 0.1.0
 */
export const geohash = (key: Arg, members: OneOrMany<Arg>): Command<Array<Option.Option<string>>> => {
  const ms = many(members)
  if (ms.length === 0) return needsOne("GEOHASH", "member")
  const args: Array<Arg> = ["GEOHASH", key]
  for (const m of ms) args.push(m)
  return unsafeMake("GEOHASH", args, [key], RO, optionalStrings)
}

const coordinates = (reply: RespValue): GeoCoordinates => {
  const t = Reply.items(reply)
  if (t.length < 2) throw new UnexpectedReply("expected [longitude, latitude]")
  return { longitude: Reply.double(t[0]), latitude: Reply.double(t[1]) }
}

const positions: Decoder<Array<Option.Option<GeoCoordinates>>> = Reply.array((r) =>
  r === null || (Array.isArray(r) && r.length === 0) ? Option.none() : Option.some(coordinates(r))
)

/**
 * GEOPOS: the position of each member, `None` for missing ones.
 *
 * @category geo
 * @since 0.1.0
 */
export const geopos = (key: Arg, members: OneOrMany<Arg>): Command<Array<Option.Option<GeoCoordinates>>> => {
  const ms = many(members)
  if (ms.length === 0) return needsOne("GEOPOS", "member")
  const args: Array<Arg> = ["GEOPOS", key]
  for (const m of ms) args.push(m)
  return unsafeMake("GEOPOS", args, [key], RO, positions)
}

// -----------------------------------------------------------------------------
// search
// -----------------------------------------------------------------------------

/**
 * The centre of a search: a member of the set, or coordinates.
 *
 * @category geo
 * @since 0.1.0
 */
export type GeoFrom = { readonly member: Arg } | GeoCoordinates

/**
 * The shape of a search: a circle or a box around the centre.
 *
 * @category geo
 * @since 0.1.0
 */
export type GeoBy =
  | { readonly radius: number; readonly unit: GeoUnit }
  | { readonly width: number; readonly height: number; readonly unit: GeoUnit }

/**
 * Options of GEOSEARCH and GEOSEARCHSTORE.
 *
 * @category geo
 * @since 0.1.0
 */
export interface GeoSearchOptions {
  /** Nearest first (ASC) or farthest first (DESC). */
  readonly order?: "ASC" | "DESC" | undefined
  /** At most this many results. */
  readonly count?: number | undefined
  /** With `count`: stop as soon as `count` matches are found (faster, not the nearest). */
  readonly any?: boolean | undefined
}

/**
 * What GEOSEARCH returns with each member.
 *
 * @category geo
 * @since 0.1.0
 */
export interface GeoWith {
  readonly withCoord?: boolean | undefined
  readonly withDist?: boolean | undefined
  readonly withHash?: boolean | undefined
}

/**
 * A GEOSEARCH result: the member and what was asked for.
 *
 * @category geo
 * @since 0.1.0
 */
export interface GeoSearchResult {
  readonly member: string
  /** Distance from the centre, in the search's unit (`withDist`). */
  readonly distance?: number
  /** The raw 52-bit geohash (`withHash`). */
  readonly hash?: number
  /** The position (`withCoord`). */
  readonly coordinates?: GeoCoordinates
}

const pushSearch = (args: Array<Arg>, from: GeoFrom, by: GeoBy, options: GeoSearchOptions | undefined) => {
  if ("member" in from) {
    args.push("FROMMEMBER", from.member)
  } else {
    const e = checkFinite("longitude", from.longitude) ?? checkFinite("latitude", from.latitude)
    if (e !== undefined) return e
    args.push("FROMLONLAT", from.longitude, from.latitude)
  }
  if ("radius" in by) {
    if (!(Number.isFinite(by.radius) && by.radius >= 0)) return `radius must be a finite number >= 0, got ${by.radius}`
    args.push("BYRADIUS", by.radius, by.unit)
  } else {
    if (!(Number.isFinite(by.width) && by.width >= 0 && Number.isFinite(by.height) && by.height >= 0)) {
      return "width and height must be finite numbers >= 0"
    }
    args.push("BYBOX", by.width, by.height, by.unit)
  }
  return pushOrderCount(args, options)
}

const pushOrderCount = (args: Array<Arg>, options: GeoSearchOptions | undefined): string | undefined => {
  if (options === undefined) return undefined
  if (options.order !== undefined) args.push(options.order)
  if (options.count !== undefined) {
    const e = checkIntMin("count", options.count, 1)
    if (e !== undefined) return e
    args.push("COUNT", options.count)
    if (options.any === true) args.push("ANY")
  } else if (options.any === true) {
    return "any needs count"
  }
  return undefined
}

// Each result is [member, dist?, hash?, [lon, lat]?] in that order, by which
// WITH options were given: one decoder per combination, built once.
const searchResult = (dist: boolean, hash: boolean, coord: boolean): Decoder<GeoSearchResult> => (reply) => {
  if (!Array.isArray(reply)) return { member: Reply.string(reply) }
  const t = reply as ReadonlyArray<RespValue>
  let i = 1
  const out: { member: string; distance?: number; hash?: number; coordinates?: GeoCoordinates } = {
    member: Reply.string(t[0])
  }
  if (dist) out.distance = Reply.double(t[i++])
  if (hash) out.hash = Reply.integer(t[i++])
  if (coord) out.coordinates = coordinates(t[i++])
  return out
}

const searchDecoders: ReadonlyArray<Decoder<Array<GeoSearchResult>>> = [0, 1, 2, 3, 4, 5, 6, 7].map((bits) =>
  Reply.array(searchResult((bits & 1) !== 0, (bits & 2) !== 0, (bits & 4) !== 0))
)

const pushWith = (args: Array<Arg>, w: GeoWith): number => {
  let bits = 0
  if (w.withCoord === true) {
    args.push("WITHCOORD")
    bits |= 4
  }
  if (w.withDist === true) {
    args.push("WITHDIST")
    bits |= 1
  }
  if (w.withHash === true) {
    args.push("WITHHASH")
    bits |= 2
  }
  return bits
}

/**
 * GEOSEARCH: the members within a radius or box.
 *
 * @category geo
 * @since 0.1.0
 */
export const geosearch = (key: Arg, from: GeoFrom, by: GeoBy, options?: GeoSearchOptions): Command<Array<string>> => {
  const args: Array<Arg> = ["GEOSEARCH", key]
  const e = pushSearch(args, from, by, options)
  if (e !== undefined) return invalid("GEOSEARCH", e)
  return unsafeMake("GEOSEARCH", args, [key], RO, strings)
}

/**
 * GEOSEARCH with WITHCOORD/WITHDIST/WITHHASH: members with what was asked for.
 *
 * @category geo
 * @since 0.1.0
 */
export const geosearchWith = (
  key: Arg,
  from: GeoFrom,
  by: GeoBy,
  options: GeoSearchOptions & GeoWith
): Command<Array<GeoSearchResult>> => {
  const args: Array<Arg> = ["GEOSEARCH", key]
  const e = pushSearch(args, from, by, options)
  if (e !== undefined) return invalid("GEOSEARCH", e)
  return unsafeMake("GEOSEARCH", args, [key], RO, searchDecoders[pushWith(args, options)])
}

/**
 * GEOSEARCHSTORE: stores the members found in `destination` (with their
 * distances as scores when `storeDist`); returns how many.
 *
 * @category geo
 * @since 0.1.0
 */
export const geosearchstore = (
  destination: Arg,
  source: Arg,
  from: GeoFrom,
  by: GeoBy,
  options?: GeoSearchOptions & { readonly storeDist?: boolean | undefined }
): Command<number> => {
  const args: Array<Arg> = ["GEOSEARCHSTORE", destination, source]
  const e = pushSearch(args, from, by, options)
  if (e !== undefined) return invalid("GEOSEARCHSTORE", e)
  if (options?.storeDist === true) args.push("STOREDIST")
  return unsafeMake("GEOSEARCHSTORE", args, [destination, source], WI, Reply.integer)
}

const checkRadius = (radius: number): string | undefined =>
  Number.isFinite(radius) && radius >= 0 ? undefined : `radius must be a finite number >= 0, got ${radius}`

/**
 * GEORADIUS_RO: the deprecated read-only radius search around coordinates
 * (prefer `geosearch`).
 *
 * @category geo
 * @since 0.1.0
 */
export const georadiusRo = (
  key: Arg,
  center: GeoCoordinates,
  radius: number,
  unit: GeoUnit,
  options?: GeoSearchOptions & GeoWith
): Command<Array<GeoSearchResult>> => {
  const e = checkFinite("longitude", center.longitude) ?? checkFinite("latitude", center.latitude) ??
    checkRadius(radius)
  if (e !== undefined) return invalid("GEORADIUS_RO", e)
  const args: Array<Arg> = ["GEORADIUS_RO", key, center.longitude, center.latitude, radius, unit]
  const bits = options === undefined ? 0 : pushWith(args, options)
  const e2 = pushOrderCount(args, options)
  if (e2 !== undefined) return invalid("GEORADIUS_RO", e2)
  return unsafeMake("GEORADIUS_RO", args, [key], RO, searchDecoders[bits])
}

/**
 * GEORADIUSBYMEMBER_RO: the deprecated read-only radius search around a
 * member (prefer `geosearch`).
 *
 * @category geo
 * @since 0.1.0
 */
export const georadiusbymemberRo = (
  key: Arg,
  member: Arg,
  radius: number,
  unit: GeoUnit,
  options?: GeoSearchOptions & GeoWith
): Command<Array<GeoSearchResult>> => {
  const e = checkRadius(radius)
  if (e !== undefined) return invalid("GEORADIUSBYMEMBER_RO", e)
  const args: Array<Arg> = ["GEORADIUSBYMEMBER_RO", key, member, radius, unit]
  const bits = options === undefined ? 0 : pushWith(args, options)
  const e2 = pushOrderCount(args, options)
  if (e2 !== undefined) return invalid("GEORADIUSBYMEMBER_RO", e2)
  return unsafeMake("GEORADIUSBYMEMBER_RO", args, [key], RO, searchDecoders[bits])
}
