/**
 * Typed values over commands: user data through `effect/Schema`.
 *
 * A codec (`string`, `json`, `hash`, `stream`) pairs a `Schema` with the wire
 * form Redis stores (one string, or a map of field strings) and builds the
 * commands that carry such values: `get` / `set` / `mget` for string values,
 * `hgetall` / `hset` for hashes read as one struct (each field through the
 * struct's transformations, e.g. `Schema.FiniteFromString`), `xadd` /
 * `xrange` / `xrevrange` for stream entries; `messages` decodes the payloads
 * of a pub/sub `Stream`. Every one of them is a plain `Command` (or a Stream
 * combinator): it declares its keys like any other, so it runs unchanged on
 * every topology, in pipelines and in transactions.
 *
 * A value that does not encode makes an invalid command, which fails with
 * `InvalidArgument` (outcome `NotSent`) before anything is written. A value
 * the server returns that does not decode fails the command with the
 * `DecodeError` reason, outcome `Unknown`: the command ran and the server
 * answered (so neither `NotSent` nor `Rejected`, which promises nothing ran,
 * would be true), and the answer is unusable. The reason names the key and
 * the schema issue and carries the raw value in `raw`: nothing is lost, and
 * the error is never retried (the stored value would decode the same way).
 *
 * This module does not add commands of its own, validate keys, or decode
 * values it was not given a schema for; schemas must be synchronous and need
 * no services (decoding happens inside the reply decoder).
 *
 * @since 0.1.0
 */
import * as Cause from "effect/Cause"
import type * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Option from "effect/Option"
import * as Schema from "effect/Schema"
import * as SchemaIssue from "effect/SchemaIssue"
import * as SchemaParser from "effect/SchemaParser"
import * as Stream from "effect/Stream"
import { invalid, Reply, unsafeMake } from "./Command.ts"
import type { Command } from "./Command.ts"
import * as Commands from "./Commands.ts"
import type * as PubSub from "./PubSub.ts"
import * as RedisError from "./RedisError.ts"
import type { Arg, RespValue } from "./Resp.ts"

// -----------------------------------------------------------------------------
// failures
// -----------------------------------------------------------------------------

const formatIssue = SchemaIssue.makeFormatterDefault()
const textDecoder = new TextDecoder()

/**
 * A key as text for messages (binary keys decoded as UTF-8, lossy).
 *
 * @category failures
 * @since 0.1.0
 */
export const keyName = (key: Arg): string => typeof key === "string" ? key : typeof key === "number" ? String(key) : textDecoder.decode(key)

/**
 * The `RedisError` of a value that did not decode: `DecodeError` naming the
 * key (and what within it, e.g. a stream entry id) and the schema issue,
 * with the raw value, outcome `Unknown`.
 *
 * @category failures
 * @since 0.1.0
 */
export const decodeError = (
  key: string,
  issue: SchemaIssue.Issue,
  raw: unknown,
  command?: string,
  where?: string
): RedisError.RedisError =>
  RedisError.make(
    new RedisError.DecodeError({
      key,
      message: `the value of "${key}"${where === undefined ? "" : ` (${where})`} does not decode: ${formatIssue(issue)}`,
      raw
    }),
    "Unknown",
    command
  )

// Reply decoders report failures by throwing; the connection (and EXEC's
// reply splitter) hands a thrown RedisError to the caller as the command's
// failure, unchanged, where any other throw becomes a ProtocolError.
const orThrow = <A>(exit: Exit.Exit<A, SchemaIssue.Issue>, key: string, raw: unknown, command: string, where?: string): A => {
  if (exit._tag === "Success") return exit.value
  throw decodeError(key, issueOf(exit), raw, command, where)
}

// A schema failure is one Fail; a defect (a user transformation that threw)
// is reported through its text, so it names the key too.
const issueOf = (exit: Exit.Failure<unknown, SchemaIssue.Issue>): SchemaIssue.Issue =>
  RedisError.failureOf(exit) ?? new SchemaIssue.InvalidValue({ message: String(Cause.squash(exit.cause)) })

const encodeMessage = (key: Arg, issue: SchemaIssue.Issue): string =>
  `the value for "${keyName(key)}" does not encode: ${formatIssue(issue)}`

// -----------------------------------------------------------------------------
// string values
// -----------------------------------------------------------------------------

// GET's flags, taken from the command itself so they stay in step with it.
const GET_FLAGS = Commands.get("").flags

/**
 * A codec for values stored as one Redis string (GET/SET/MGET).
 *
 * @category models
 * @since 0.1.0
 */
export interface Value<A> {
  readonly schema: Schema.Codec<A, string>
  /** Decodes a stored string. */
  readonly decode: (raw: string) => Exit.Exit<A, SchemaIssue.Issue>
  /** Encodes a value to the string that is stored. */
  readonly encode: (value: A) => Exit.Exit<string, SchemaIssue.Issue>
  /** GET: `None` when the key does not exist; fails with `DecodeError` when the value does not decode. */
  readonly get: (key: Arg) => Command<Option.Option<A>>
  /** SET with the encoded value (options as `Commands.set`, without `get`). */
  readonly set: (key: Arg, value: A, options?: SetOptions) => Command<boolean>
  /** MGET: one `Option` per key; the first value that does not decode fails the command, naming its key. */
  readonly mget: (keys: ReadonlyArray<Arg>) => Command<Array<Option.Option<A>>>
}

/**
 * Options of a typed SET.
 *
 * @category models
 * @since 0.1.0
 */
export type SetOptions = Commands.SetOptions & { readonly get?: false | undefined }

/**
 * A codec for string values through a schema whose encoded side is a string
 * (`Schema.String`, `Schema.NumberFromString`, a branded string, ...).
 *
 * @category constructors
 * @since 0.1.0
 */
export const string = <A>(schema: Schema.Codec<A, string>): Value<A> => {
  const decode = SchemaParser.decodeUnknownExit(schema)
  const encode = SchemaParser.encodeUnknownExit(schema)
  const one = (key: Arg, reply: RespValue): Option.Option<A> => {
    const raw = Reply.optionalString(reply)
    return raw._tag === "None" ? Option.none() : Option.some(orThrow(decode(raw.value), keyName(key), raw.value, "GET"))
  }
  return {
    schema,
    decode,
    encode,
    // One closure per command: the decoder must know the key to name it.
    get: (key) => unsafeMake("GET", ["GET", key], [key], GET_FLAGS, (reply) => one(key, reply)),
    set: (key, value, options) => {
      const wire = encode(value)
      if (wire._tag === "Failure") return invalid("SET", encodeMessage(key, issueOf(wire)))
      return Commands.set(key, wire.value, options)
    },
    mget: (keys) => {
      const base = Commands.mget(keys)
      if (base.invalid !== undefined) return base as unknown as Command<Array<Option.Option<A>>>
      return unsafeMake("MGET", base.args, base.keys, base.flags, (reply) => {
        const raws = base.decode(reply)
        const out = new Array<Option.Option<A>>(raws.length)
        for (let i = 0; i < raws.length; i++) {
          const raw = raws[i]
          out[i] = raw._tag === "None" ? Option.none() : Option.some(orThrow(decode(raw.value), keyName(keys[i]), raw.value, "MGET"))
        }
        return out
      })
    }
  }
}

/**
 * A codec for values stored as JSON text: the schema's canonical JSON form
 * (`Schema.toCodecJson`, so `Date`, `Option`, ... round-trip), through
 * `Schema.fromJsonString`.
 *
 * @category constructors
 * @since 0.1.0
 */
export const json = <A, I>(schema: Schema.Codec<A, I>): Value<A> => string(Schema.fromJsonString(Schema.toCodecJson(schema)))

// -----------------------------------------------------------------------------
// field maps: hashes and stream entries
// -----------------------------------------------------------------------------

/**
 * The wire form of a hash or stream entry: field name to string value
 * (`undefined` for an optional field that is absent: it is not written).
 *
 * @category models
 * @since 0.1.0
 */
export type Fields = { readonly [field: string]: string | undefined }

/**
 * A codec for values stored as a field map (a hash, a stream entry): a
 * schema whose encoded side is a record of strings, typically a
 * `Schema.Struct` of string-encoded fields.
 *
 * @category models
 * @since 0.1.0
 */
export interface FieldsCodec<A> {
  readonly schema: Schema.Codec<A, Fields>
  readonly decode: (raw: Fields) => Exit.Exit<A, SchemaIssue.Issue>
  readonly encode: (value: A) => Exit.Exit<Fields, SchemaIssue.Issue>
}

// The encoded struct as field/value pairs, absent optional fields left out.
const pairsOf = (fields: Fields): Array<readonly [string, string]> => {
  const out: Array<readonly [string, string]> = []
  for (const field in fields) {
    const v = fields[field]
    if (v !== undefined) out.push([field, v])
  }
  return out
}

const fieldsCodec = <A>(schema: Schema.Codec<A, Fields>): FieldsCodec<A> => ({
  schema,
  decode: SchemaParser.decodeUnknownExit(schema),
  encode: SchemaParser.encodeUnknownExit(schema)
})

// HGETALL's flags and reply decoder (RESP2 array or RESP3 map to a record).
const HGETALL = Commands.hgetall("")
const HGETALL_FLAGS = HGETALL.flags
const hgetallDecode = HGETALL.decode

/**
 * Typed hash commands: the whole hash as one struct.
 *
 * @category models
 * @since 0.1.0
 */
export interface Hash<A> extends FieldsCodec<A> {
  /** HGETALL: `None` when the key does not exist (RESP2 array or RESP3 map). */
  readonly hgetall: (key: Arg) => Command<Option.Option<A>>
  /** HSET with every encoded field; the number of fields added. */
  readonly hset: (key: Arg, value: A) => Command<number>
}

/**
 * A hash codec: HGETALL decodes the field map through the struct schema,
 * HSET encodes it.
 *
 * @category constructors
 * @since 0.1.0
 */
export const hash = <A>(schema: Schema.Codec<A, Fields>): Hash<A> => {
  const codec = fieldsCodec(schema)
  const one = (key: Arg, reply: RespValue): Option.Option<A> => {
    const raw = hgetallDecode(reply)
    // HGETALL answers an empty map for a missing key: there is no value.
    for (const _ in raw) return Option.some(orThrow(codec.decode(raw), keyName(key), raw, "HGETALL"))
    return Option.none()
  }
  return {
    ...codec,
    hgetall: (key) => unsafeMake("HGETALL", ["HGETALL", key], [key], HGETALL_FLAGS, (reply) => one(key, reply)),
    hset: (key, value) => {
      const wire = codec.encode(value)
      if (wire._tag === "Failure") return invalid("HSET", encodeMessage(key, issueOf(wire)))
      return Commands.hset(key, pairsOf(wire.value))
    }
  }
}

/**
 * A stream entry with its value decoded.
 *
 * @category models
 * @since 0.1.0
 */
export interface Entry<A> {
  readonly id: string
  readonly value: A
}

/**
 * Typed stream commands: each entry's fields as one value.
 *
 * @category models
 * @since 0.1.0
 */
export interface Entries<A> extends FieldsCodec<A> {
  /** XADD with the encoded fields; the id of the new entry. `options.id` defaults to `*`. */
  readonly xadd: (key: Arg, value: A, options?: Commands.XAddOptions) => Command<string>
  /** XRANGE (`-` to `+` by default), entries decoded; the first entry that does not decode fails the command. */
  readonly xrange: (
    key: Arg,
    start?: string,
    end?: string,
    options?: { readonly count?: number | undefined }
  ) => Command<Array<Entry<A>>>
  /** XREVRANGE (`+` to `-` by default), entries decoded. */
  readonly xrevrange: (
    key: Arg,
    end?: string,
    start?: string,
    options?: { readonly count?: number | undefined }
  ) => Command<Array<Entry<A>>>
  /** Decodes entries read by other commands (XREAD, XREADGROUP, XCLAIM): fails with `DecodeError`. */
  readonly decodeEntries: (
    key: string,
    entries: ReadonlyArray<Commands.StreamEntry>
  ) => Exit.Exit<Array<Entry<A>>, RedisError.RedisError>
}

/**
 * A stream codec: XADD encodes the value into the entry's fields, XRANGE
 * and XREVRANGE decode them.
 *
 * @category constructors
 * @since 0.1.0
 */
export const stream = <A>(schema: Schema.Codec<A, Fields>): Entries<A> => {
  const codec = fieldsCodec(schema)
  const entriesOf = (key: string, entries: ReadonlyArray<Commands.StreamEntry>, command: string): Array<Entry<A>> => {
    const out = new Array<Entry<A>>(entries.length)
    for (let i = 0; i < entries.length; i++) {
      const { fields, id } = entries[i]
      out[i] = { id, value: orThrow(codec.decode(fields), key, fields, command, `entry ${id}`) }
    }
    return out
  }
  const typed = (base: Command<Array<Commands.StreamEntry>>, key: Arg): Command<Array<Entry<A>>> =>
    base.invalid !== undefined
      ? base as unknown as Command<Array<Entry<A>>>
      : unsafeMake(base.name, base.args, base.keys, base.flags, (reply) => entriesOf(keyName(key), base.decode(reply), base.name))
  return {
    ...codec,
    xadd: (key, value, options) => {
      const wire = codec.encode(value)
      if (wire._tag === "Failure") return invalid("XADD", encodeMessage(key, issueOf(wire)))
      return Commands.xadd(key, pairsOf(wire.value), options)
    },
    xrange: (key, start, end, options) => typed(Commands.xrange(key, start, end, options), key),
    xrevrange: (key, end, start, options) => typed(Commands.xrevrange(key, end, start, options), key),
    decodeEntries: (key, entries) => {
      try {
        return Exit.succeed(entriesOf(key, entries, "XREAD"))
      } catch (e) {
        if (RedisError.isRedisError(e)) return Exit.fail(e)
        throw e
      }
    }
  }
}

// -----------------------------------------------------------------------------
// pub/sub messages
// -----------------------------------------------------------------------------

/**
 * A pub/sub message with its payload decoded.
 *
 * @category models
 * @since 0.1.0
 */
export interface Received<A> {
  readonly channel: string
  /** The pattern that matched, for `pattern` subscriptions. */
  readonly pattern: string | undefined
  readonly value: A
}

/**
 * Decodes one pub/sub message's payload; a payload that does not decode is a
 * `DecodeError` naming the channel, with the payload as `raw`.
 *
 * @category pubsub
 * @since 0.1.0
 */
export const decodeMessage = <A>(value: Value<A>, message: PubSub.Message): Exit.Exit<Received<A>, RedisError.RedisError> => {
  const exit = value.decode(message.payload)
  return exit._tag === "Success"
    ? Exit.succeed({ channel: message.channel, pattern: message.pattern, value: exit.value })
    : Exit.fail(decodeError(message.channel, issueOf(exit), message.payload, undefined, "message"))
}

/**
 * Decodes the payloads of a subscription: `redis.subscribe("ch").pipe(Typed.messages(codec))`.
 * The first payload that does not decode ends the stream with `DecodeError`
 * (to skip bad payloads instead, filter with `decodeMessage`).
 *
 * @category pubsub
 * @since 0.1.0
 */
export const messages = <A>(value: Value<A>) =>
<E, R>(self: Stream.Stream<PubSub.Message, E, R>): Stream.Stream<Received<A>, E | RedisError.RedisError, R> =>
  Stream.mapEffect(self, (message): Effect.Effect<Received<A>, RedisError.RedisError> => decodeMessage(value, message))
