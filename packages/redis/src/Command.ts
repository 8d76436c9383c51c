/**
 * Commands as data.
 *
 * A `Command<A>` is everything the client needs to send one Redis command and
 * read its reply: the arguments as they go on the wire, which of them are
 * keys (for cluster routing), flags (read-only, write, blocking, ...) and a
 * reply decoder that turns a `RespValue` into `A`. Routing and retry logic
 * read the flags and keys, never the command name.
 *
 * This module holds the model, the flags and the reusable reply decoders
 * (`Reply.*`). The typed constructors for Redis commands live in `Commands`.
 * Nothing here performs I/O.
 *
 * @since 0.1.0
 */
import * as Option from "effect/Option"
import type { Arg, RespValue } from "./Resp.ts"
import { RespError, RespMap, RespSet } from "./Resp.ts"

// -----------------------------------------------------------------------------
// flags
// -----------------------------------------------------------------------------

/**
 * Bit flags a command carries from the moment it is built.
 *
 * @category flags
 * @since 0.1.0
 */
export const Flags = {
  /** Reads only: may go to a replica, may be resent after a lost connection. */
  READONLY: 1,
  /** Writes data. */
  WRITE: 2,
  /** May block the connection (BLPOP, XREAD BLOCK, WAIT): runs on a dedicated connection. */
  BLOCKING: 4,
  /** Changes the connection into subscriber mode: only `PubSub` sends these. */
  PUBSUB: 8,
  /** Safe to send twice (SET without GET, DEL, ...): may be resent after a lost connection. */
  IDEMPOTENT: 16,
  /** Changes per-connection state (SELECT, MULTI, WATCH, CLIENT REPLY): never on the shared connection. */
  CONNECTION_STATE: 32,
  /** Fans out to every node in a cluster (FLUSHALL, SCRIPT LOAD, ...). */
  ALL_NODES: 64,
  /** Keyless; in a cluster any node may answer it (PING, TIME, ...). */
  NO_KEYS: 128,
  /** Never served from nor kept in the client-side cache (`ClientCache.uncached`). */
  NO_CACHE: 256
} as const

/**
 * @category flags
 * @since 0.1.0
 */
export type Flags = number

// -----------------------------------------------------------------------------
// model
// -----------------------------------------------------------------------------

/**
 * A reply decoder. It may throw `UnexpectedReply` when the reply has a shape
 * the command does not expect; the connection turns that into a
 * `ProtocolError` without touching the connection.
 *
 * @category models
 * @since 0.1.0
 */
export type Decoder<A> = (reply: RespValue) => A

/**
 * One Redis command, ready to send.
 *
 * @category models
 * @since 0.1.0
 */
export interface Command<out A> {
  /** The first word, upper case ("GET", "CLIENT"). Used in errors and traces; never for routing. */
  readonly name: string
  /** The whole argv as it goes on the wire, command word(s) first. */
  readonly args: ReadonlyArray<Arg>
  /** The key arguments, in order (empty for keyless commands). */
  readonly keys: ReadonlyArray<Arg>
  /** `Flags` bits. */
  readonly flags: number
  /** Whether bulk strings of the reply are wanted as `Uint8Array` instead of `string`. */
  readonly binary: boolean
  /** Turns the reply into `A`. */
  readonly decode: Decoder<A>
  /** Set when the constructor refused its input: the command is failed before anything is sent. */
  readonly invalid: string | undefined
}

/**
 * The reply type of a command.
 *
 * @category models
 * @since 0.1.0
 */
export type Result<C> = C extends Command<infer A> ? A : never

// A class gives every command the same hidden class: call sites that read
// `cmd.args` or `cmd.flags` stay monomorphic on the hot path.
class CommandImpl<A> implements Command<A> {
  readonly name: string
  readonly args: ReadonlyArray<Arg>
  readonly keys: ReadonlyArray<Arg>
  readonly flags: number
  readonly binary: boolean
  readonly decode: Decoder<A>
  readonly invalid: string | undefined
  constructor(
    name: string,
    args: ReadonlyArray<Arg>,
    keys: ReadonlyArray<Arg>,
    flags: number,
    binary: boolean,
    decode: Decoder<A>,
    invalid: string | undefined
  ) {
    this.name = name
    this.args = args
    this.keys = keys
    this.flags = flags
    this.binary = binary
    this.decode = decode
    this.invalid = invalid
  }
}

const NO_KEYS: ReadonlyArray<Arg> = []

/**
 * Builds a command.
 *
 * @category constructors
 * @since 0.1.0
 */
export const make = <A>(
  args: ReadonlyArray<Arg>,
  decode: Decoder<A>,
  options?: {
    readonly keys?: ReadonlyArray<Arg> | undefined
    readonly flags?: number | undefined
    readonly binary?: boolean | undefined
    readonly name?: string | undefined
  }
): Command<A> =>
  new CommandImpl(
    options?.name ?? String(args[0]).toUpperCase(),
    args,
    options?.keys ?? NO_KEYS,
    options?.flags ?? 0,
    options?.binary ?? false,
    decode,
    undefined
  )

/**
 * The fast constructor the typed builders use: argv, keys, flags, decoder.
 * `name` must already be upper case.
 *
 * @category constructors
 * @since 0.1.0
 */
export const unsafeMake = <A>(
  name: string,
  args: ReadonlyArray<Arg>,
  keys: ReadonlyArray<Arg>,
  flags: number,
  decode: Decoder<A>,
  binary = false
): Command<A> => new CommandImpl(name, args, keys, flags, binary, decode, undefined)

/**
 * A command that fails with `InvalidArgument` before anything is sent.
 *
 * @category constructors
 * @since 0.1.0
 */
export const invalid = <A = never>(name: string, message: string): Command<A> =>
  new CommandImpl<A>(name, [name], NO_KEYS, 0, false, () => {
    throw new UnexpectedReply("an invalid command has no reply")
  }, message)

/**
 * A copy of `self` whose reply goes through `f`.
 *
 * @category combinators
 * @since 0.1.0
 */
export const map = <A, B>(self: Command<A>, f: (a: A) => B): Command<B> =>
  new CommandImpl(self.name, self.args, self.keys, self.flags, self.binary, (r) => f(self.decode(r)), self.invalid)

/**
 * A copy of `self` with extra flags (for example `Flags.IDEMPOTENT` on a write
 * the caller knows is safe to repeat).
 *
 * @category combinators
 * @since 0.1.0
 */
export const withFlags = <A>(self: Command<A>, flags: number): Command<A> =>
  new CommandImpl(self.name, self.args, self.keys, self.flags | flags, self.binary, self.decode, self.invalid)

/**
 * Marks a command safe to send twice, so the client may resend it after a
 * connection was lost with the command in flight.
 *
 * @category combinators
 * @since 0.1.0
 */
export const idempotent = <A>(self: Command<A>): Command<A> => withFlags(self, Flags.IDEMPOTENT)

/**
 * Whether a command that may have reached the server can be sent again.
 *
 * @category predicates
 * @since 0.1.0
 */
export const isResendable = (self: Command<unknown>): boolean =>
  (self.flags & (Flags.READONLY | Flags.IDEMPOTENT)) !== 0 && (self.flags & Flags.BLOCKING) === 0

/**
 * Whether a command needs a connection of its own.
 *
 * @category predicates
 * @since 0.1.0
 */
export const needsDedicated = (self: Command<unknown>): boolean =>
  (self.flags & (Flags.BLOCKING | Flags.CONNECTION_STATE | Flags.PUBSUB)) !== 0

// -----------------------------------------------------------------------------
// reply decoders
// -----------------------------------------------------------------------------

/**
 * Thrown by a decoder for a reply of the wrong shape.
 *
 * @category errors
 * @since 0.1.0
 */
export class UnexpectedReply extends Error {
  constructor(message: string) {
    super(message)
    this.name = "UnexpectedReply"
  }
}

const describe = (reply: RespValue): string => {
  if (reply === null) return "null"
  if (Array.isArray(reply)) return `array(${reply.length})`
  if (reply instanceof Uint8Array) return `bytes(${reply.length})`
  if (reply instanceof RespMap) return "map"
  if (reply instanceof RespSet) return "set"
  if (reply instanceof RespError) return `error(${reply.message})`
  return typeof reply
}

const unexpected = (expected: string, reply: RespValue): never => {
  throw new UnexpectedReply(`expected ${expected}, got ${describe(reply)}`)
}

const textDecoder = new TextDecoder()

/**
 * Reusable reply decoders. Each accepts the RESP2 and the RESP3 shape of the
 * same reply.
 *
 * @category decoders
 * @since 0.1.0
 */
export const Reply = {
  /** The reply as it came. */
  raw: (reply: RespValue): RespValue => reply,

  /** `+OK` (or any simple string) → void. */
  ok: (reply: RespValue): void => {
    if (typeof reply !== "string") unexpected("OK", reply)
  },

  /** A string; bytes are decoded as UTF-8. */
  string: (reply: RespValue): string => {
    if (typeof reply === "string") return reply
    if (reply instanceof Uint8Array) return textDecoder.decode(reply)
    return unexpected("string", reply)
  },

  /** A string or nil. */
  optionalString: (reply: RespValue): Option.Option<string> =>
    reply === null ? Option.none() : Option.some(Reply.string(reply)),

  /** Bytes; strings are encoded as UTF-8. */
  bytes: (reply: RespValue): Uint8Array => {
    if (reply instanceof Uint8Array) return reply
    if (typeof reply === "string") return new TextEncoder().encode(reply)
    return unexpected("bytes", reply)
  },

  /** Bytes or nil. */
  optionalBytes: (reply: RespValue): Option.Option<Uint8Array> =>
    reply === null ? Option.none() : Option.some(Reply.bytes(reply)),

  /** An integer reply. */
  integer: (reply: RespValue): number => {
    if (typeof reply === "number") return reply
    if (typeof reply === "bigint") return Number(reply)
    if (typeof reply === "string") {
      const n = Number(reply)
      if (Number.isFinite(n)) return n
    }
    return unexpected("integer", reply)
  },

  /** An integer or nil. */
  optionalInteger: (reply: RespValue): Option.Option<number> =>
    reply === null ? Option.none() : Option.some(Reply.integer(reply)),

  /** A 0/1 integer (or a RESP3 boolean) → boolean. */
  boolean: (reply: RespValue): boolean => {
    if (typeof reply === "boolean") return reply
    if (typeof reply === "number") return reply !== 0
    if (typeof reply === "string") return reply === "OK" || reply === "1"
    if (reply === null) return false
    return unexpected("boolean", reply)
  },

  /** A double: a bulk string in RESP2, a `,` double in RESP3. */
  double: (reply: RespValue): number => {
    if (typeof reply === "number") return reply
    if (typeof reply === "string" || reply instanceof Uint8Array) {
      const s = typeof reply === "string" ? reply : textDecoder.decode(reply)
      switch (s) {
        case "inf":
        case "+inf":
          return Infinity
        case "-inf":
          return -Infinity
        case "nan":
          return NaN
      }
      const n = Number(s)
      if (!Number.isNaN(n)) return n
    }
    return unexpected("double", reply)
  },

  /** A double or nil. */
  optionalDouble: (reply: RespValue): Option.Option<number> =>
    reply === null ? Option.none() : Option.some(Reply.double(reply)),

  /** The items of an array or a RESP3 set. */
  items: (reply: RespValue): ReadonlyArray<RespValue> => {
    if (Array.isArray(reply)) return reply
    if (reply instanceof RespSet) return reply.items
    if (reply instanceof RespMap) return reply.flat
    return unexpected("array", reply)
  },

  /** A flat `[k, v, k, v]` view of a RESP2 array or a RESP3 map. */
  flatPairs: (reply: RespValue): ReadonlyArray<RespValue> => {
    if (reply instanceof RespMap) return reply.flat
    if (Array.isArray(reply)) {
      // Some RESP2 replies nest pairs: [[k, v], [k, v]] (e.g. CONFIG GET in RESP3 vs RESP2).
      return reply
    }
    return unexpected("map", reply)
  },

  /** An array decoded item by item. */
  array: <A>(item: Decoder<A>) => (reply: RespValue): Array<A> => {
    const items = Reply.items(reply)
    const out = new Array<A>(items.length)
    for (let i = 0; i < items.length; i++) out[i] = item(items[i])
    return out
  },

  /** An array or nil. */
  optionalArray: <A>(item: Decoder<A>) => (reply: RespValue): Option.Option<Array<A>> =>
    reply === null ? Option.none() : Option.some(Reply.array(item)(reply)),

  /** A map (RESP3) or flat pair array (RESP2) decoded into a `Map`. */
  map: <K, V>(key: Decoder<K>, value: Decoder<V>) => (reply: RespValue): Map<K, V> => {
    const flat = Reply.flatPairs(reply)
    const out = new Map<K, V>()
    for (let i = 0; i + 1 < flat.length; i += 2) out.set(key(flat[i]), value(flat[i + 1]))
    return out
  },

  /** A map with string keys decoded into a plain record. */
  record: <V>(value: Decoder<V>) => (reply: RespValue): Record<string, V> => {
    const flat = Reply.flatPairs(reply)
    const out: Record<string, V> = {}
    for (let i = 0; i + 1 < flat.length; i += 2) out[Reply.string(flat[i])] = value(flat[i + 1])
    return out
  },

  /** A nil-tolerant decoder. */
  optional: <A>(item: Decoder<A>) => (reply: RespValue): Option.Option<A> =>
    reply === null ? Option.none() : Option.some(item(reply))
} as const
