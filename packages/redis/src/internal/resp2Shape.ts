/**
 * Replies in the shapes a RESP2 client sees, whatever protocol the
 * connection speaks: for callers written against RESP2 replies (Effect's
 * persistence stores decode node-redis' RESP2 arrays and strings).
 *
 * - a RESP3 map becomes its flat `[k, v, k, v]` array, a set its array;
 * - a boolean becomes what Lua's converts to in RESP2: `true` → 1,
 *   `false` → null;
 * - a double becomes its text ("1.5", "inf"), where RESP2 sends a bulk
 *   string: scores (ZSCORE, ZINCRBY, ZMSCORE, BZPOPMIN, ZMPOP, ...) and
 *   GEOPOS / WITHCOORD coordinates. The text is JavaScript's shortest
 *   round-trip form, so it may have fewer digits than the server's RESP2
 *   text; it parses to the same number;
 * - pairs RESP3 nests (`ZRANGE ... WITHSCORES`, `ZPOPMIN key count`,
 *   `HRANDFIELD ... WITHVALUES`) are flattened as RESP2 sends them;
 * - XREAD / XREADGROUP's map of streams becomes RESP2's `[[stream,
 *   entries], ...]`.
 *
 * A reply that already has the RESP2 shape passes unchanged, so the same
 * decoder serves RESP2 connections. `decoderFor` picks one of a few static
 * decoders by the command's words (no closure per command). Nothing here
 * sends anything; a reply error never reaches a decoder.
 *
 * @since 0.1.0
 */
import type { Decoder } from "../Command.ts"
import type { RespValue } from "../Resp.ts"
import { RespMap, RespSet } from "../Resp.ts"

/**
 * A double as RESP2 would send it: its text.
 *
 * @category decoders
 * @since 0.1.0
 */
export const doubleText = (n: number): string =>
  n === Infinity ? "inf" : n === -Infinity ? "-inf" : Number.isNaN(n) ? "nan" : String(n)

// Maps, sets and booleans at any depth; numbers untouched. Arrays are copied
// only when an item changes.
const walk = (reply: RespValue, doubles: boolean): RespValue => {
  if (reply === null) return reply
  switch (typeof reply) {
    case "string":
    case "bigint":
      return reply
    case "number":
      return doubles ? doubleText(reply) : reply
    case "boolean":
      return reply ? 1 : null
  }
  if (Array.isArray(reply)) return walkItems(reply as ReadonlyArray<RespValue>, doubles)
  if (reply instanceof RespMap) return walkItems(reply.flat, doubles, true)
  if (reply instanceof RespSet) return walkItems(reply.items, doubles, true)
  return reply
}

const walkItems = (items: ReadonlyArray<RespValue>, doubles: boolean, copy = false): ReadonlyArray<RespValue> => {
  let out: Array<RespValue> | undefined = copy ? items.slice() : undefined
  for (let i = 0; i < items.length; i++) {
    const item = items[i]
    const mapped = walk(item, doubles)
    if (mapped === item) continue
    out ??= items.slice()
    out[i] = mapped
  }
  return out ?? items
}

/**
 * Maps and sets to arrays, booleans to 1 / null, at any depth.
 *
 * @category decoders
 * @since 0.1.0
 */
export const plain: Decoder<RespValue> = (reply) => walk(reply, false)

/**
 * `plain`, and every number becomes its double text (replies whose numbers
 * are all doubles: ZSCORE, ZMSCORE, BZPOPMIN, ZMPOP, ...).
 *
 * @category decoders
 * @since 0.1.0
 */
export const doubles: Decoder<RespValue> = (reply) => walk(reply, true)

/**
 * Nested `[member, score]` (or `[field, value]`) pairs flattened into one
 * array, scores as text; a flat RESP2 reply passes unchanged.
 *
 * @category decoders
 * @since 0.1.0
 */
export const flatPairs: Decoder<RespValue> = (reply) => {
  if (!Array.isArray(reply)) return walk(reply, true)
  const items = reply as ReadonlyArray<RespValue>
  const out: Array<RespValue> = []
  for (const item of items) {
    if (Array.isArray(item)) for (const x of item as ReadonlyArray<RespValue>) out.push(walk(x, true))
    else out.push(walk(item, true))
  }
  return out
}

// A coordinate pair: exactly two numbers.
const isCoordinates = (items: ReadonlyArray<RespValue>): boolean =>
  items.length === 2 && typeof items[0] === "number" && typeof items[1] === "number"

/**
 * GEOPOS and GEO* WITHCOORD: `[lon, lat]` pairs as text at any depth; other
 * numbers (WITHHASH's integer) stay numbers.
 *
 * @category decoders
 * @since 0.1.0
 */
export const geo: Decoder<RespValue> = (reply) => {
  if (!Array.isArray(reply)) return walk(reply, false)
  const items = reply as ReadonlyArray<RespValue>
  if (isCoordinates(items)) return [doubleText(items[0] as number), doubleText(items[1] as number)]
  return items.map(geo)
}

/**
 * XREAD / XREADGROUP: a RESP3 map `{stream: entries}` becomes RESP2's
 * `[[stream, entries], ...]`.
 *
 * @category decoders
 * @since 0.1.0
 */
export const streams: Decoder<RespValue> = (reply) => {
  if (!(reply instanceof RespMap)) return walk(reply, false)
  const flat = reply.flat
  const out: Array<RespValue> = []
  for (let i = 0; i + 1 < flat.length; i += 2) out.push([walk(flat[i], false), walk(flat[i + 1], false)])
  return out
}

const hasWord = (args: ReadonlyArray<string>, word: string): boolean => {
  for (let i = 1; i < args.length; i++) if (args[i].toUpperCase() === word) return true
  return false
}

const ALWAYS_DOUBLES = new Set(["ZSCORE", "ZINCRBY", "ZMSCORE", "BZPOPMIN", "BZPOPMAX", "ZMPOP", "BZMPOP"])
const PAIRS_WITH_SCORES = new Set([
  "ZRANGE",
  "ZRANGEBYSCORE",
  "ZREVRANGE",
  "ZREVRANGEBYSCORE",
  "ZRANDMEMBER",
  "ZUNION",
  "ZINTER",
  "ZDIFF"
])
const GEO = new Set(["GEOPOS", "GEORADIUS", "GEORADIUSBYMEMBER", "GEORADIUS_RO", "GEORADIUSBYMEMBER_RO", "GEOSEARCH"])

/**
 * The decoder for a command given as words (`args[0]` the command word in
 * upper case).
 *
 * @category decoders
 * @since 0.1.0
 */
export const decoderFor = (name: string, args: ReadonlyArray<string>): Decoder<RespValue> => {
  if (ALWAYS_DOUBLES.has(name)) return doubles
  if (PAIRS_WITH_SCORES.has(name)) return hasWord(args, "WITHSCORES") ? flatPairs : plain
  if (GEO.has(name)) return geo
  switch (name) {
    case "ZPOPMIN":
    case "ZPOPMAX":
      return flatPairs
    case "ZADD":
      return hasWord(args, "INCR") ? doubles : plain
    case "HRANDFIELD":
      return hasWord(args, "WITHVALUES") ? flatPairs : plain
    case "XREAD":
    case "XREADGROUP":
      return streams
    default:
      return plain
  }
}
