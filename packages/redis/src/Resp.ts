/**
 * RESP2 and RESP3: the value model, the command encoder and the incremental
 * reply decoder.
 *
 * Every function here is pure: bytes in, bytes or plain data out. Nothing
 * here opens a socket, allocates a timer or runs an Effect.
 *
 * @since 0.1.0
 */

// -----------------------------------------------------------------------------
// values
// -----------------------------------------------------------------------------

/**
 * A decoded reply. The common types map to plain JavaScript values so the hot
 * path allocates nothing extra; the rarer RESP3 aggregates get small classes
 * so they stay distinguishable.
 *
 * | RESP                         | value                                        |
 * |------------------------------|----------------------------------------------|
 * | simple string `+`            | `string`                                     |
 * | bulk string `$`              | `string` or `Uint8Array` (decoder's mode)    |
 * | verbatim string `=`          | `string` or `Uint8Array` (format dropped)    |
 * | integer `:`                  | `number` (`bigint` beyond 2^53)              |
 * | double `,`                   | `number` (`inf`, `-inf`, `nan` included)     |
 * | big number `(`               | `bigint`                                     |
 * | boolean `#`                  | `boolean`                                    |
 * | null `_`, `$-1`, `*-1`       | `null`                                       |
 * | array `*`                    | `Array<RespValue>`                           |
 * | map `%`                      | `RespMap`                                    |
 * | set `~`                      | `RespSet`                                    |
 * | push `>`                     | `RespPush`                                   |
 * | error `-`, bulk error `!`    | `RespError` (a value, never thrown)          |
 * | attribute `|`                | dropped; the value it annotates is returned  |
 *
 * @category models
 * @since 0.1.0
 */
export type RespValue =
  | string
  | Uint8Array
  | number
  | bigint
  | boolean
  | null
  | ReadonlyArray<RespValue>
  | RespMap
  | RespSet
  | RespPush
  | RespError

/**
 * A RESP3 map, kept as a flat `[k0, v0, k1, v1, ...]` array so that RESP2
 * replies (flat arrays) and RESP3 replies read the same way.
 *
 * @category models
 * @since 0.1.0
 */
export class RespMap {
  readonly flat: ReadonlyArray<RespValue>
  constructor(flat: ReadonlyArray<RespValue>) {
    this.flat = flat
  }
}

/**
 * A RESP3 set.
 *
 * @category models
 * @since 0.1.0
 */
export class RespSet {
  readonly items: ReadonlyArray<RespValue>
  constructor(items: ReadonlyArray<RespValue>) {
    this.items = items
  }
}

/**
 * A RESP3 out-of-band push (pub/sub message, invalidation, ...). The
 * connection routes these apart from replies.
 *
 * @category models
 * @since 0.1.0
 */
export class RespPush {
  readonly items: ReadonlyArray<RespValue>
  constructor(items: ReadonlyArray<RespValue>) {
    this.items = items
  }
}

/**
 * A server error reply. `message` is the text after `-` or the body of `!`.
 *
 * @category models
 * @since 0.1.0
 */
export class RespError {
  readonly message: string
  constructor(message: string) {
    this.message = message
  }
}

/**
 * An argument of a command: strings are sent as UTF-8, numbers in decimal.
 *
 * @category models
 * @since 0.1.0
 */
export type Arg = string | Uint8Array | number

// -----------------------------------------------------------------------------
// errors and limits
// -----------------------------------------------------------------------------

/**
 * The bytes from the server are not RESP, or they ask for more than the
 * decoder's limits allow. The stream cannot be resynchronised after this: the
 * connection that owns the decoder must be closed.
 *
 * @category errors
 * @since 0.1.0
 */
export class RespProtocolError extends Error {
  override readonly name = "RespProtocolError"
}

/**
 * Returned by {@link Decoder.next} when the buffered bytes do not yet hold a
 * whole reply. It is a normal outcome, not an error: feed more bytes and call
 * `next` again. (mini-redis keeps "not enough bytes" and "malformed" apart in
 * the same way: the connection reads more on the first and dies on the second.)
 *
 * @category decoding
 * @since 0.1.0
 */
export const Incomplete: unique symbol = Symbol("Incomplete")

/**
 * @category decoding
 * @since 0.1.0
 */
export type Incomplete = typeof Incomplete

/**
 * Bounds that keep a broken or hostile peer from making the decoder allocate
 * without limit. Every limit is checked on a header, before any of the bytes
 * it announces are buffered.
 *
 * @category decoding
 * @since 0.1.0
 */
export interface DecoderOptions {
  /** Largest bulk, verbatim or bulk-error body, and longest simple line, in bytes. */
  readonly maxBulkLength?: number
  /** Largest number of elements of one aggregate (a map of n pairs counts 2n). */
  readonly maxArrayLength?: number
  /** Deepest nesting of aggregates (attributes included). */
  readonly maxDepth?: number
  /**
   * Decodes `bytes[start, end)` as UTF-8 for strings the built-in short-ASCII
   * loops do not handle (longer than 24 bytes, or not ASCII). The default is
   * the portable `TextDecoder`; a platform can pass a faster one — on Node,
   * `(b, s, e) => Buffer.prototype.utf8Slice.call(b, s, e)` halves the cost
   * of a 32-byte bulk string (316 -> 164 ns per reply in
   * `bench/resp-micro.ts`). It must keep a leading BOM and replace invalid
   * sequences with U+FFFD, not throw.
   */
  readonly decodeUtf8?: (bytes: Uint8Array, start: number, end: number) => string
  /**
   * Allocates the buffer a large bulk body (32 KiB or more, split across
   * chunks) is assembled in. The default `new Uint8Array(n)` zero-fills
   * memory that is overwritten at once; a platform allocator of
   * uninitialised memory (Node's `Buffer.allocUnsafe`) skips that. It must
   * return memory owned by the caller alone.
   */
  readonly allocate?: (size: number) => Uint8Array
}

/**
 * 512 MiB: the server's own `proto-max-bulk-len` default, so no value the
 * server would accept can come back refused.
 *
 * @category decoding
 * @since 0.1.0
 */
export const DEFAULT_MAX_BULK_LENGTH = 512 * 1024 * 1024

/**
 * 2^32 - 1: the most elements a Redis list, set or hash can hold, so no
 * legitimate reply is refused. This does not cost memory up front: the decoder
 * never preallocates more than {@link PREALLOCATE_MAX} slots from a header, so
 * what it holds grows with the bytes that actually arrive (at least 3 per
 * element), and the limit only catches headers that cannot be true.
 *
 * @category decoding
 * @since 0.1.0
 */
export const DEFAULT_MAX_ARRAY_LENGTH = 4_294_967_295

/**
 * 128: real replies nest a handful of levels (COMMAND DOCS, the deepest, about
 * 7); anything far deeper is a nesting bomb.
 *
 * @category decoding
 * @since 0.1.0
 */
export const DEFAULT_MAX_DEPTH = 128

// -----------------------------------------------------------------------------
// decoder
// -----------------------------------------------------------------------------

const CR = 13
const LF = 10

/** Aggregates are preallocated (`new Array(n)`) up to this many slots, then grown as elements arrive. */
const PREALLOCATE_MAX = 65_536

/**
 * A bulk body at least this long that is not yet complete is copied straight
 * into its own final buffer as chunks arrive, instead of through the shared
 * buffer: a 10 MB value costs one allocation and one copy of each byte.
 */
const LARGE_BULK = 32 * 1024

/** The decoder's own buffer starts at this size and is dropped when idle above `RETAIN_MAX`. */
const MIN_BUFFER = 16 * 1024
const RETAIN_MAX = 1024 * 1024
/** Large string bodies up to this size are assembled in one reused scratch buffer. */
const LARGE_SCRATCH_MAX = 1024 * 1024

/** `header` returns this when the header line is not complete yet (-1 is a valid length). */
const NEED = -2

const EMPTY = new Uint8Array(0)
const NO_ITEMS: Array<RespValue> = []

const K_ARRAY = 0
const K_MAP = 1
const K_SET = 2
const K_PUSH = 3
const K_ATTRIBUTE = 4

/** A partially built aggregate on the decoder's explicit stack. */
interface Frame {
  kind: number
  items: Array<RespValue>
  filled: number
  length: number
}

/** `token` returns this when it consumed a header that opens an aggregate (or an empty attribute). */
const Continue: unique symbol = Symbol("Continue")

// `ignoreBOM: true` keeps a leading U+FEFF in the value: the default strips it,
// which would silently change stored data.
const utf8Decoder = new TextDecoder("utf-8", { ignoreBOM: true })

/** Reused argument list for `String.fromCharCode.apply`. */
const charCodes: Array<number> = []

/** The portable UTF-8 decoder behind the short-ASCII loops. */
const textDecode = (buf: Uint8Array, from: number, to: number): string => utf8Decoder.decode(buf.subarray(from, to))

/**
 * UTF-8 bytes to a string. Measured on the 2-core dev machine (Node 24): a
 * `TextDecoder` call costs a flat ~200 ns, a `+=` loop ~12 ns per byte and
 * `fromCharCode.apply` over a reused array ~110 ns + 6 ns per byte, so short
 * ASCII takes the loops and everything else (or any byte >= 0x80) goes to
 * `slow` (`TextDecoder`, or the platform's decoder from the options).
 */
const allocateZeroed = (size: number): Uint8Array => new Uint8Array(size)
const uint8Slice = Uint8Array.prototype.slice
const copyRange = (buf: Uint8Array, from: number, to: number): Uint8Array => uint8Slice.call(buf, from, to)

/**
 * Copies `source[from, to)` into `target` at `at`, in pieces of at most
 * 2 KiB. One `set` of a longer range reaches glibc memcpy's `rep movsb`,
 * which on some x86 CPUs (the project's bench machine among them) runs
 * ten times slower when the source address is 1 to 15 bytes past the
 * destination's modulo 4 KiB. A large body's first bytes sit about 10 bytes
 * into a read (after `$<length>\r\n`), so whether a client pays that depends
 * on where the allocator put the two buffers, which JavaScript can neither
 * see nor choose; a CPU profile of large-get caught it at a quarter of the
 * client's CPU. In pieces, 60 KB costs about 3.5 us at any distance,
 * against 1.5 (benign) or 20-30 us (aliased) in one piece
 * (`bench/memcpy-alignment.ts`).
 */
const copyPieces = (target: Uint8Array, at: number, source: Uint8Array, from: number, to: number): void => {
  // Plain views: `subarray` of a Node Buffer would build a Buffer per piece.
  const buffer = source.buffer
  const base = source.byteOffset
  for (let i = from; i < to; i += COPY_PIECE) {
    target.set(new Uint8Array(buffer, base + i, Math.min(COPY_PIECE, to - i)), at + i - from)
  }
}
const COPY_PIECE = 2048

const decodeUtf8 = (
  buf: Uint8Array,
  from: number,
  to: number,
  slow: (bytes: Uint8Array, start: number, end: number) => string
): string => {
  const len = to - from
  if (len <= 8) {
    let out = ""
    for (let i = from; i < to; i++) {
      const c = buf[i]
      if (c >= 0x80) return slow(buf, from, to)
      out += String.fromCharCode(c)
    }
    return out
  }
  if (len <= 24) {
    const codes = charCodes
    codes.length = len
    for (let i = 0; i < len; i++) {
      const c = buf[from + i]
      if (c >= 0x80) return slow(buf, from, to)
      codes[i] = c
    }
    return String.fromCharCode.apply(null, codes)
  }
  return slow(buf, from, to)
}

/** Bytes known to be ASCII (numbers, doubles) to a string. */
const latin1 = (buf: Uint8Array, from: number, to: number): string => {
  let out = ""
  for (let i = from; i < to; i++) out += String.fromCharCode(buf[i])
  return out
}

const protocolError = (message: string): RespProtocolError => new RespProtocolError(message)

const byteName = (b: number): string =>
  b >= 0x21 && b < 0x7f ? `'${String.fromCharCode(b)}'` : `0x${b.toString(16).padStart(2, "0")}`

const BIG_NUMBER = /^[+-]?[0-9]+$/
const DOUBLE = /^[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]+)?$/

const parseDouble = (text: string): number => {
  switch (text.toLowerCase()) {
    case "inf":
    case "+inf":
      return Infinity
    case "-inf":
      return -Infinity
    case "nan":
    case "-nan":
      return NaN
  }
  if (!DOUBLE.test(text)) throw protocolError(`invalid double ${JSON.stringify(text.slice(0, 64))}`)
  return Number(text)
}

/**
 * The incremental RESP2/RESP3 reply decoder of one connection.
 *
 * Feed it the socket's chunks as they come and call {@link Decoder.next} until
 * it answers {@link Incomplete}. It keeps what it has parsed between calls —
 * partially built aggregates live on an explicit stack, a large bulk body is
 * filled in place — so every byte is parsed once however the stream is split,
 * and a deeply nested reply cannot overflow the JavaScript stack.
 *
 * **Details**
 *
 * - Chunks are not copied while they hold whole replies: the decoder reads
 *   the caller's chunk in place and copies only a partial tail into its own
 *   buffer. It never writes into a chunk it was given.
 * - In binary mode, bulk and verbatim strings come back as `Uint8Array`s that
 *   the decoder never touches again (a copy, or the buffer a large body was
 *   assembled in).
 *
 * **Gotchas**
 *
 * - After `next` throws a {@link RespProtocolError} the stream position is
 *   lost: the decoder refuses further use until {@link Decoder.reset}.
 * - The `binary` flag of the call that saw the first byte of a reply applies
 *   to the whole reply, even if it completes during a later call.
 *
 * @example
 * ```ts
 * import { Decoder, Incomplete } from "@redis-effect/redis/Resp"
 *
 * const decoder = new Decoder()
 * decoder.feed(new TextEncoder().encode("+OK\r\n:4"))
 * decoder.next(false) // "OK"
 * decoder.next(false) // Incomplete
 * decoder.feed(new TextEncoder().encode("2\r\n"))
 * decoder.next(false) // 42
 * ```
 *
 * @category decoding
 * @since 0.1.0
 */
export class Decoder {
  private readonly maxBulkLength: number
  private readonly maxArrayLength: number
  private readonly maxDepth: number
  private readonly utf8: (bytes: Uint8Array, start: number, end: number) => string
  private readonly allocate: (size: number) => Uint8Array

  /** Unread bytes are `buf[start, end)`; `buf` is either a caller's chunk or `own`. */
  private buf: Uint8Array = EMPTY
  private start = 0
  private end = 0
  /** The decoder's own buffer, the only one it ever writes into; reused across tails. */
  private own: Uint8Array = EMPTY
  /** Position after the last header parsed by `header`. */
  private cursor = 0
  /** Bytes after `start` already scanned for CR by an incomplete simple line. */
  private scanned = 0

  /** The explicit stack: `frames[0, depth)` are open aggregates; frame objects are reused. */
  private readonly frames: Array<Frame> = []
  private depth = 0

  /** A large bulk body being filled in place by `feed`, and which type announced it. */
  private large: Uint8Array | null = null
  /** Reused for large bodies that are decoded to strings (see `openLarge`). */
  private largeScratch: Uint8Array = EMPTY
  private largeFilled = 0
  private largeType = 0

  private binary = false
  /** Some bytes of the current reply have been seen: its `binary` flag is fixed. */
  private started = false
  private failed = false

  constructor(options?: DecoderOptions) {
    this.maxBulkLength = options?.maxBulkLength ?? DEFAULT_MAX_BULK_LENGTH
    this.maxArrayLength = options?.maxArrayLength ?? DEFAULT_MAX_ARRAY_LENGTH
    this.maxDepth = options?.maxDepth ?? DEFAULT_MAX_DEPTH
    this.utf8 = options?.decodeUtf8 ?? textDecode
    this.allocate = options?.allocate ?? allocateZeroed
  }

  /**
   * The number of bytes received and not yet returned as part of a reply
   * (including the part of a large bulk already assembled).
   *
   * @since 0.1.0
   */
  get buffered(): number {
    return this.end - this.start + (this.large === null ? 0 : this.largeFilled)
  }

  /**
   * Appends bytes read from the connection. The decoder may keep a reference to
   * `chunk` until its bytes are consumed, so the caller must not reuse it.
   *
   * @since 0.1.0
   */
  feed(chunk: Uint8Array): void {
    if (this.failed) return
    let n = chunk.length
    if (n === 0) return
    const large = this.large
    if (large !== null && this.largeFilled < large.length) {
      // While a large body is open the shared buffer is empty: every byte up to
      // the body's end goes straight to its final place.
      const take = Math.min(n, large.length - this.largeFilled)
      copyPieces(large, this.largeFilled, chunk, 0, take)
      this.largeFilled += take
      if (take === n) return
      chunk = chunk.subarray(take)
      n -= take
    }
    const unread = this.end - this.start
    if (unread === 0) {
      // The common case: the previous chunk ended on a reply boundary. Read the
      // new chunk in place, no copy.
      if (this.own.length > RETAIN_MAX) this.own = EMPTY
      this.buf = chunk
      this.start = 0
      this.end = n
      return
    }
    const own = this.own
    const total = unread + n
    if (this.buf === own) {
      if (own.length - this.end >= n) {
        own.set(chunk, this.end)
        this.end += n
        return
      }
      // Compact only when it frees at least as much as it moves, so a tail that
      // keeps growing is copied O(1) times per byte (amortised).
      if (total <= own.length && this.start >= unread) {
        own.copyWithin(0, this.start, this.end)
        own.set(chunk, unread)
        this.start = 0
        this.end = total
        return
      }
    } else if (total <= own.length) {
      own.set(this.buf.subarray(this.start, this.end), 0)
      own.set(chunk, unread)
      this.buf = own
      this.start = 0
      this.end = total
      return
    }
    const grown = new Uint8Array(Math.max(MIN_BUFFER, total * 2))
    grown.set(this.buf.subarray(this.start, this.end), 0)
    grown.set(chunk, unread)
    this.own = grown
    this.buf = grown
    this.start = 0
    this.end = total
  }

  /**
   * Lets the caller reuse the memory of the last chunk fed: the bytes not
   * yet returned as part of a reply move to the decoder's own buffer. A
   * transport that reads every time into the same buffer calls it after
   * taking the complete replies of each read (usually nothing is left, or
   * a partial reply's few bytes).
   *
   * @since 0.1.0
   */
  release(): void {
    if (this.buf === this.own) return
    const unread = this.end - this.start
    if (unread === 0) {
      this.buf = EMPTY
      this.start = this.end = 0
      return
    }
    if (this.own.length < unread) this.own = new Uint8Array(Math.max(MIN_BUFFER, unread * 2))
    this.own.set(this.buf.subarray(this.start, this.end), 0)
    this.buf = this.own
    this.start = 0
    this.end = unread
  }

  /**
   * Where the next bytes read may go directly: the unfilled remainder of a
   * large bulk body being assembled (at least `LARGE_BULK` long), when no
   * other byte waits before it. The transport reads into it and reports
   * with {@link targetFilled}; the body is then never copied by the client.
   * `undefined` otherwise (read anywhere, then `feed`).
   *
   * @since 0.1.0
   */
  readTarget(): Uint8Array | undefined {
    const large = this.large
    if (large === null || this.failed || this.end !== this.start) return undefined
    const filled = this.largeFilled
    return large.length - filled >= LARGE_BULK ? large.subarray(filled) : undefined
  }

  /**
   * `n` bytes were read into the last {@link readTarget}, so the body they
   * belong to has `n` more.
   *
   * @since 0.1.0
   */
  targetFilled(n: number): void {
    this.largeFilled += n
  }

  /**
   * Returns the next whole reply, or {@link Incomplete} when more bytes are
   * needed. `binary` selects `Uint8Array` (true) or UTF-8 `string` (false) for
   * bulk and verbatim strings.
   *
   * Throws {@link RespProtocolError} on malformed or over-limit input.
   *
   * @since 0.1.0
   */
  next(binary: boolean): RespValue | Incomplete {
    if (this.failed) throw protocolError("the decoder failed earlier and must be reset")
    if (!this.started) this.binary = binary
    let value: RespValue | Incomplete
    try {
      value = this.run()
    } catch (error) {
      this.fail()
      if (error instanceof RespProtocolError) throw error
      // e.g. a RangeError from a string longer than the engine allows
      throw new RespProtocolError(`cannot decode reply: ${String(error)}`, { cause: error })
    }
    this.started = value === Incomplete && (this.start < this.end || this.depth > 0 || this.large !== null)
    return value
  }

  /**
   * Forgets every buffered byte and partial reply, and clears a failure.
   *
   * @since 0.1.0
   */
  reset(): void {
    this.fail()
    this.failed = false
  }

  private fail(): void {
    this.failed = true
    this.buf = EMPTY
    this.own = EMPTY
    this.start = this.end = this.cursor = this.scanned = 0
    for (let i = 0; i < this.frames.length; i++) this.frames[i].items = NO_ITEMS
    this.depth = 0
    this.large = null
    this.largeScratch = EMPTY
    this.largeFilled = 0
    this.started = false
  }

  /** Parses tokens until a top-level reply is complete or the bytes run out. */
  private run(): RespValue | Incomplete {
    const frames = this.frames
    for (;;) {
      let value: RespValue
      if (this.large !== null) {
        const v = this.finishLarge()
        if (v === Incomplete) return Incomplete
        value = v
      } else {
        if (this.start >= this.end) return Incomplete
        const v = this.token()
        if (v === Incomplete) return Incomplete
        if (v === Continue) continue
        value = v
      }
      // Hand the value to the open aggregates, closing each one it completes.
      for (;;) {
        if (this.depth === 0) return value
        const frame = frames[this.depth - 1]
        frame.items[frame.filled++] = value
        if (frame.filled < frame.length) break
        this.depth--
        const items = frame.items
        frame.items = NO_ITEMS
        const kind = frame.kind
        // A finished attribute is dropped: the value it annotates comes next
        // and takes its place in the parent.
        if (kind === K_ATTRIBUTE) break
        value = kind === K_ARRAY
          ? items
          : kind === K_MAP
          ? new RespMap(items)
          : kind === K_SET
          ? new RespSet(items)
          : new RespPush(items)
      }
    }
  }

  /**
   * Parses the token at `start`: returns a scalar, opens an aggregate frame
   * (`Continue`), or returns `Incomplete` without consuming anything.
   */
  private token(): RespValue | Incomplete | typeof Continue {
    const buf = this.buf
    const s = this.start
    const type = buf[s]
    switch (type) {
      case 36: // $ bulk string
      case 61: // = verbatim string
      case 33: { // ! bulk error
        const len = this.header(s + 1)
        if (len === NEED) return Incomplete
        if (len === -1) {
          if (type !== 36) throw protocolError(`negative length for ${byteName(type)}`)
          this.start = this.cursor
          return null
        }
        if (len > this.maxBulkLength) {
          throw protocolError(`bulk length ${len} exceeds the limit of ${this.maxBulkLength}`)
        }
        if (type === 61 && len < 4) throw protocolError(`verbatim string of ${len} bytes has no format`)
        const from = this.cursor
        const available = this.end - from
        if (available < len + 2) {
          if (len >= LARGE_BULK) this.openLarge(type, from, len, available)
          return Incomplete
        }
        if (buf[from + len] !== CR || buf[from + len + 1] !== LF) {
          throw protocolError(`bulk string of ${len} bytes is not followed by CRLF`)
        }
        this.start = from + len + 2
        return this.bulk(type, buf, from, from + len)
      }
      case 43: { // + simple string
        const cr = this.line(s)
        if (cr < 0) return Incomplete
        this.start = cr + 2
        return decodeUtf8(buf, s + 1, cr, this.utf8)
      }
      case 58: // : integer
        return this.integer(s)
      case 42: // * array
      case 37: // % map
      case 126: // ~ set
      case 62: // > push
      case 124: { // | attribute
        const n = this.header(s + 1)
        if (n === NEED) return Incomplete
        this.start = this.cursor
        if (n === -1) {
          if (type !== 42) throw protocolError(`negative length for ${byteName(type)}`)
          return null
        }
        const count = type === 37 || type === 124 ? n * 2 : n
        if (count > this.maxArrayLength) {
          throw protocolError(`aggregate of ${count} elements exceeds the limit of ${this.maxArrayLength}`)
        }
        const kind = type === 42 ? K_ARRAY : type === 37 ? K_MAP : type === 126 ? K_SET : type === 62 ? K_PUSH : K_ATTRIBUTE
        if (count === 0) {
          return kind === K_ARRAY
            ? []
            : kind === K_MAP
            ? new RespMap([])
            : kind === K_SET
            ? new RespSet([])
            : kind === K_PUSH
            ? new RespPush([])
            : Continue
        }
        if (this.depth >= this.maxDepth) {
          throw protocolError(`aggregates nested deeper than the limit of ${this.maxDepth}`)
        }
        const items: Array<RespValue> = count <= PREALLOCATE_MAX ? new Array(count) : []
        const frame = this.frames[this.depth]
        if (frame === undefined) {
          this.frames.push({ kind, items, filled: 0, length: count })
        } else {
          frame.kind = kind
          frame.items = items
          frame.filled = 0
          frame.length = count
        }
        this.depth++
        return Continue
      }
      case 45: { // - simple error
        const cr = this.line(s)
        if (cr < 0) return Incomplete
        this.start = cr + 2
        return new RespError(decodeUtf8(buf, s + 1, cr, this.utf8))
      }
      case 95: { // _ null
        const cr = this.line(s)
        if (cr < 0) return Incomplete
        if (cr !== s + 1) throw protocolError("null with a payload")
        this.start = cr + 2
        return null
      }
      case 35: { // # boolean
        const cr = this.line(s)
        if (cr < 0) return Incomplete
        const b = buf[s + 1]
        if (cr !== s + 2 || (b !== 116 && b !== 102)) throw protocolError("boolean is neither #t nor #f")
        this.start = cr + 2
        return b === 116
      }
      case 44: { // , double
        const cr = this.line(s)
        if (cr < 0) return Incomplete
        const value = parseDouble(latin1(buf, s + 1, cr))
        this.start = cr + 2
        return value
      }
      case 40: { // ( big number
        const cr = this.line(s)
        if (cr < 0) return Incomplete
        const text = latin1(buf, s + 1, cr)
        if (!BIG_NUMBER.test(text)) throw protocolError(`invalid big number ${JSON.stringify(text.slice(0, 64))}`)
        this.start = cr + 2
        return BigInt(text)
      }
      default:
        throw protocolError(`unknown type byte ${byteName(type)}`)
    }
  }

  /**
   * Parses `-?digits\r\n` from `p` without building a string. Returns the
   * length (or -1), or `NEED`; leaves the position after CRLF in `cursor`.
   */
  private header(p: number): number {
    const buf = this.buf
    const end = this.end
    if (p >= end) return NEED
    const negative = buf[p] === 45
    if (negative) p++
    let n = 0
    let digits = 0
    for (;;) {
      if (p >= end) return NEED
      const c = buf[p]
      if (c === CR) break
      if (c < 48 || c > 57) throw protocolError(`invalid byte ${byteName(c)} in a length`)
      n = n * 10 + (c - 48)
      // 15 digits stay exact in a double and exceed every limit.
      if (++digits > 15) throw protocolError("length with too many digits")
      p++
    }
    if (digits === 0) throw protocolError("empty length")
    if (p + 1 >= end) return NEED
    if (buf[p + 1] !== LF) throw protocolError("length not terminated by CRLF")
    this.cursor = p + 2
    if (negative) {
      if (n !== 1) throw protocolError(`negative length -${n}`)
      return -1
    }
    return n
  }

  /** `:` integer: a number, or a bigint beyond ±(2^53 - 1). */
  private integer(s: number): RespValue | Incomplete {
    const buf = this.buf
    const end = this.end
    let p = s + 1
    if (p >= end) return Incomplete
    const sign = buf[p]
    const negative = sign === 45
    if (negative || sign === 43) p++
    const first = p
    let n = 0
    for (;;) {
      if (p >= end) return Incomplete
      const c = buf[p]
      if (c === CR) break
      if (c < 48 || c > 57) throw protocolError(`invalid byte ${byteName(c)} in an integer`)
      n = n * 10 + (c - 48)
      p++
      if (p - first > 64) throw protocolError("integer with too many digits")
    }
    const digits = p - first
    if (digits === 0) throw protocolError("empty integer")
    if (p + 1 >= end) return Incomplete
    if (buf[p + 1] !== LF) throw protocolError("integer not terminated by CRLF")
    this.start = p + 2
    if (digits <= 15) return negative ? 0 - n : n
    const big = BigInt(latin1(buf, first, p))
    const value = negative ? -big : big
    return value >= -9007199254740991n && value <= 9007199254740991n ? Number(value) : value
  }

  /**
   * Finds the CR that ends the simple line at `s`, or -1 if it has not
   * arrived. Resumes where the last incomplete scan stopped, so a long line
   * arriving in many chunks is scanned once.
   */
  private line(s: number): number {
    const buf = this.buf
    const end = this.end
    let i = s + 1 + this.scanned
    while (i < end) {
      const c = buf[i]
      if (c === CR) {
        if (i + 1 >= end) break
        if (buf[i + 1] !== LF) throw protocolError("CR not followed by LF")
        this.scanned = 0
        return i
      }
      if (c === LF) throw protocolError("LF without CR")
      i++
    }
    this.scanned = i - s - 1
    if (this.scanned > this.maxBulkLength) {
      throw protocolError(`simple line longer than the limit of ${this.maxBulkLength}`)
    }
    return -1
  }

  private bulk(type: number, buf: Uint8Array, from: number, to: number): RespValue {
    // Uint8Array#slice copies; Buffer#slice (the socket's chunks are Buffers)
    // would return a view that pins the whole chunk and aliases its memory.
    if (type === 36) return this.binary ? copyRange(buf, from, to) : decodeUtf8(buf, from, to, this.utf8)
    if (type === 61) {
      if (buf[from + 3] !== 58) throw protocolError("verbatim string without a format prefix")
      return this.binary ? copyRange(buf, from + 4, to) : decodeUtf8(buf, from + 4, to, this.utf8)
    }
    return new RespError(decodeUtf8(buf, from, to, this.utf8))
  }

  /** Starts filling a large body in place with the bytes already here; `feed` does the rest. */
  private openLarge(type: number, from: number, len: number, available: number): void {
    // A body that becomes a string is only read once, by the UTF-8 decoder:
    // it is assembled in a scratch buffer reused from reply to reply, so a
    // stream of 100 KB string replies allocates nothing (an allocation per
    // reply cost 8% of large-get's CPU, plus the GC it caused). A body handed
    // to the caller as bytes gets a buffer of its own.
    let target: Uint8Array
    if (this.binary || len > LARGE_SCRATCH_MAX) {
      target = this.allocate(len)
    } else {
      if (this.largeScratch.length < len) this.largeScratch = this.allocate(Math.max(len, LARGE_BULK * 4))
      target = this.largeScratch.subarray(0, len)
    }
    const take = Math.min(available, len)
    copyPieces(target, 0, this.buf, from, from + take)
    this.large = target
    this.largeFilled = take
    this.largeType = type
    this.start = from + take
  }

  private finishLarge(): RespValue | Incomplete {
    const target = this.large!
    if (this.largeFilled < target.length || this.end - this.start < 2) return Incomplete
    if (this.buf[this.start] !== CR || this.buf[this.start + 1] !== LF) {
      throw protocolError(`bulk string of ${target.length} bytes is not followed by CRLF`)
    }
    this.start += 2
    this.large = null
    this.largeFilled = 0
    const type = this.largeType
    const len = target.length
    if (type === 36) return this.binary ? target : this.utf8(target, 0, len)
    if (type === 61) {
      if (target[3] !== 58) throw protocolError("verbatim string without a format prefix")
      return this.binary ? target.subarray(4) : this.utf8(target, 4, len)
    }
    return new RespError(this.utf8(target, 0, len))
  }
}

// -----------------------------------------------------------------------------
// encoder
// -----------------------------------------------------------------------------

const utf8Encoder = new TextEncoder()

/**
 * Strings up to this many UTF-16 units are written by a charCode loop that
 * assumes ASCII and falls back on the first unit >= 0x80; longer ones go to
 * `TextEncoder.encodeInto`, whose per-call cost only pays off past it.
 */
const SHORT_STRING = 48

const ENCODER_INITIAL = 4096

/**
 * Arguments at least this long (bytes, or UTF-16 units for a string) are not
 * copied into the scratch buffer: they leave as chunks of their own (see
 * {@link Encoder}). Below it, one more copy of the bytes costs less than a
 * chunk (an allocation for a string, an entry in the socket's writev).
 */
const LARGE_ARGUMENT = 16 * 1024

/**
 * At a command boundary, a scratch buffer holding this much is copied out as
 * a chunk and starts over, so a batch of many small commands never grows it
 * further (a pipeline of 1000 small SETs, about 60 KB, stays one chunk).
 */
const SCRATCH_CUT = 128 * 1024

/**
 * A scratch buffer larger than this (only one command with that many bytes
 * of small arguments can grow it so far) is dropped once its batch is taken.
 */
const ENCODER_RETAIN_MAX = 1024 * 1024

/** A growable byte buffer; the encoder's scratch and `encodeValue`'s output. */
class Sink {
  buf: Uint8Array
  pos = 0
  constructor(capacity: number) {
    this.buf = new Uint8Array(capacity)
  }
  /** Makes room for `n` more bytes and returns the (possibly new) buffer. */
  ensure(n: number): Uint8Array {
    const need = this.pos + n
    if (need <= this.buf.length) return this.buf
    const grown = new Uint8Array(Math.max(need, this.buf.length * 2))
    grown.set(this.buf.subarray(0, this.pos))
    this.buf = grown
    return grown
  }
}

/** Writes a non-negative safe integer in decimal at `p`; returns the position after it. */
const putUint = (buf: Uint8Array, p: number, n: number): number => {
  if (n < 10) {
    buf[p] = 48 + n
    return p + 1
  }
  if (n < 100) {
    const q = (n / 10) | 0
    buf[p] = 48 + q
    buf[p + 1] = 48 + n - q * 10
    return p + 2
  }
  let digits = 3
  for (let t = 1000; n >= t; t *= 10) digits++
  // Safe integers stay exact under % 10 and the division below.
  for (let i = p + digits - 1; i >= p; i--) {
    const r = n % 10
    buf[i] = 48 + r
    n = (n - r) / 10
  }
  return p + digits
}

const decimalDigits = (n: number): number => {
  let digits = 1
  for (let t = 10; n >= t; t *= 10) digits++
  return digits
}

/** Writes `<prefix><n>\r\n` at `p`; returns the position after it. */
const putHeader = (buf: Uint8Array, p: number, prefix: number, n: number): number => {
  buf[p] = prefix
  p = putUint(buf, p + 1, n)
  buf[p] = CR
  buf[p + 1] = LF
  return p + 2
}

/** `$<len>\r\n<utf-8 of s>\r\n`. */
const putBulkString = (sink: Sink, s: string): void => {
  const len = s.length
  // UTF-16 units become at most 3 UTF-8 bytes each (a surrogate pair is 4 for 2).
  const buf = sink.ensure(len * 3 + 24)
  let p = sink.pos
  if (len <= SHORT_STRING) {
    const body = putHeader(buf, p, 36, len)
    let i = 0
    for (; i < len; i++) {
      const c = s.charCodeAt(i)
      if (c >= 0x80) break
      buf[body + i] = c
    }
    if (i === len) {
      p = body + len
      buf[p] = CR
      buf[p + 1] = LF
      sink.pos = p + 2
      return
    }
    // not ASCII: start over below (the bytes written are overwritten)
  }
  // The byte length is only known after encoding, and the header goes before
  // the body: encode after the widest possible header, then slide the body
  // left if the real header is narrower. One memmove beats a JS pass that
  // counts UTF-8 bytes first.
  const reserve = 3 + decimalDigits(len * 3)
  const { written } = utf8Encoder.encodeInto(s, buf.subarray(p + reserve))
  const body = putHeader(buf, p, 36, written)
  if (body !== p + reserve) buf.copyWithin(body, p + reserve, p + reserve + written)
  p = body + written
  buf[p] = CR
  buf[p + 1] = LF
  sink.pos = p + 2
}

const putBulkBytes = (sink: Sink, bytes: Uint8Array): void => {
  const len = bytes.length
  const buf = sink.ensure(len + 24)
  const p = putHeader(buf, sink.pos, 36, len)
  buf.set(bytes, p)
  buf[p + len] = CR
  buf[p + len + 1] = LF
  sink.pos = p + len + 2
}

/** `<prefix><ascii text>\r\n` for text known to be ASCII without CR/LF. */
const putLine = (sink: Sink, prefix: number, text: string): void => {
  const len = text.length
  const buf = sink.ensure(len + 3)
  let p = sink.pos
  buf[p++] = prefix
  for (let i = 0; i < len; i++) buf[p++] = text.charCodeAt(i)
  buf[p] = CR
  buf[p + 1] = LF
  sink.pos = p + 2
}

/**
 * Decimal text of a number argument that is not a safe integer, in forms Redis
 * parses. Integral values get their exact digits (`String(2 ** 60)` would
 * round to `1152921504606847000`, a different integer to the server).
 */
const numberText = (n: number): string =>
  n === Infinity ? "+inf" : n === -Infinity ? "-inf" : Number.isInteger(n) ? BigInt(n).toString() : String(n)

const putNumberArg = (sink: Sink, n: number): void => {
  if (Number.isSafeInteger(n)) {
    const negative = n < 0
    const abs = negative ? -n : n
    const len = decimalDigits(abs) + (negative ? 1 : 0)
    const buf = sink.ensure(len + 24)
    let p = putHeader(buf, sink.pos, 36, len)
    if (negative) buf[p++] = 45
    p = putUint(buf, p, abs)
    buf[p] = CR
    buf[p + 1] = LF
    sink.pos = p + 2
    return
  }
  if (n !== n) throw new TypeError("cannot encode NaN as a command argument")
  const text = numberText(n)
  const len = text.length
  const buf = sink.ensure(len + 24)
  let p = putHeader(buf, sink.pos, 36, len)
  for (let i = 0; i < len; i++) buf[p++] = text.charCodeAt(i)
  buf[p] = CR
  buf[p + 1] = LF
  sink.pos = p + 2
}

/**
 * The most bytes of idle buffers an encoder keeps for reuse (see
 * {@link Encoder.recycle}); what comes back beyond it is left to the GC.
 * Enough for 100 SETs of 1 MB in flight: with 32 or 64 MiB, the buffers
 * the pool could not keep cost 40% of the client's CPU in GC on
 * `large-set-1mb` (2–7% with 128 MiB), so a smaller bound saves no memory
 * that the GC would not hold on to anyway.
 */
const POOL_MAX = 128 * 1024 * 1024

/** The pool is dropped after this many takes in a row without a large string argument. */
const POOL_IDLE_TAKES = 64

/**
 * The buffers large string arguments are encoded into, kept for reuse, in
 * power-of-two size classes (a buffer of a class is `2^k` bytes; a 100 KB
 * string takes a 128 KiB one).
 *
 * Why reuse: written into freshly allocated memory, a 100 KB argument cost
 * 149 us of client CPU per SET (page faults under `encodeInto`, the
 * allocation, and the GC that 10 MB of new ArrayBuffers per batch sets
 * off); into a buffer that already served an earlier SET, 68 us
 * (`bench/profile.ts --scenario large-set`).
 */
class BufferPool {
  /** `free[k]`: idle buffers of `2^k` bytes. */
  private readonly free: Array<Array<Uint8Array>> = []
  private held = 0
  private readonly allocate: (size: number) => Uint8Array

  constructor(allocate: (size: number) => Uint8Array) {
    this.allocate = allocate
  }

  /** A buffer of at least `size` bytes (its class's size), reused if one is idle. */
  get(size: number): Uint8Array {
    const k = 32 - Math.clz32(size - 1)
    const list = this.free[k]
    if (list !== undefined && list.length > 0) {
      const buffer = list.pop()!
      this.held -= buffer.length
      return buffer
    }
    return this.allocate(2 ** k)
  }

  /** Takes back a buffer from `get` whose bytes nobody reads any more. */
  put(buffer: Uint8Array): void {
    if (this.held + buffer.length > POOL_MAX) return
    const k = 31 - Math.clz32(buffer.length)
    ;(this.free[k] ??= []).push(buffer)
    this.held += buffer.length
  }

  /** Drops every idle buffer. */
  clear(): void {
    if (this.held === 0) return
    this.free.length = 0
    this.held = 0
  }
}

/**
 * Options of an {@link Encoder}.
 *
 * @category encoding
 * @since 0.1.0
 */
export interface EncoderOptions {
  /**
   * Allocates the buffers large string arguments are encoded into. The
   * default `new Uint8Array(n)` zero-fills memory that is overwritten at
   * once; a platform allocator of uninitialised memory (Node's
   * `Buffer.allocUnsafe`) skips that. It must return memory owned by the
   * caller alone.
   */
  readonly allocate?: (size: number) => Uint8Array
  /**
   * Arguments at least this long (bytes, or UTF-16 units for a string)
   * leave as chunks of their own (default 16 KiB; tests lower it).
   */
  readonly largeArgument?: number
}

/**
 * Encodes commands — RESP arrays of bulk strings — for the writes of one
 * connection: all the commands of a tick become one list of chunks, written
 * in order in one socket write.
 *
 * **Details**
 *
 * - Small arguments and every header go through one scratch buffer that is
 *   reused from batch to batch; {@link Encoder.takeChunks} hands out a copy
 *   of what it holds (the socket keeps its chunks until they are flushed).
 *   The buffer keeps the size it grew to, and is copied out whenever it
 *   holds 128 KiB at a command boundary, so it stops growing. (A batch of
 *   100 SETs of 100 KB used to regrow it by doubling from 4 KB every tick,
 *   copying as it went, then copy all 10 MB out again: 43% of the client's
 *   busy CPU, and most of the 30% spent in GC, in `bench/profile.ts
 *   --scenario large-set`.)
 * - An argument of 16 KiB or more is never copied into the scratch buffer:
 *   its header ends the current run of scratch bytes, and the argument
 *   follows as a chunk of its own (scatter/gather; Node writes the list
 *   with one writev). A string is encoded once, straight into a buffer of
 *   its own (`TextEncoder.encodeInto`, which runs at memory speed on
 *   ASCII); a `Uint8Array` is the chunk itself, not a copy.
 * - Those string buffers can be reused: {@link Encoder.write} returns the
 *   ones a command took, and {@link Encoder.recycle} takes them back once
 *   their bytes have left (a connection does it when the command's reply
 *   arrives: the server has then read the whole command). Up to 128 MiB of
 *   idle buffers are kept while large strings keep coming: they are
 *   dropped after 64 takes in a row without one, or by
 *   {@link Encoder.releaseBuffers}.
 *
 * **Gotchas**
 *
 * - A `Uint8Array` argument of 16 KiB or more is borrowed, not copied: the
 *   socket reads it when it writes the batch, so it must not change until
 *   then. A caller waits for the reply, which only comes once the server
 *   has read the whole command, so this concerns code that hands the array
 *   to another fiber and changes it there. (Smaller arrays are copied when
 *   the batch is encoded, which is also after the call: at the flush.)
 *   Copying would double the cost this path exists to remove, and ioredis,
 *   node-redis and `socket.write` itself borrow buffers the same way.
 *
 * @example
 * ```ts
 * import { Encoder } from "@redis-effect/redis/Resp"
 *
 * const encoder = new Encoder()
 * encoder.write(["SET", "k", "v"])
 * encoder.write(["INCRBY", "n", 5])
 * const bytes = encoder.take() // both commands, ready for one socket write
 * ```
 *
 * @category encoding
 * @since 0.1.0
 */
export class Encoder {
  private readonly sink: Sink
  private readonly pool: BufferPool
  /** The buffers the command being written took from the pool (undefined between writes). */
  private leases: Array<Uint8Array> | undefined = undefined
  /** Some command since the last take took buffers from the pool. */
  private leased = false
  /** Takes in a row without a large string argument. */
  private quietTakes = 0
  private readonly largeArgument: number
  /** Chunks of the batch already final: scratch runs copied out, large arguments between them. */
  private done: Array<Uint8Array> = []
  private doneBytes = 0
  /** Large arguments not yet in `done`: `large[i]` goes after the scratch's bytes `[0, marks[i])`. */
  private readonly large: Array<Uint8Array> = []
  private readonly marks: Array<number> = []
  private largeBytes = 0

  constructor(initialCapacity: number = ENCODER_INITIAL, options?: EncoderOptions) {
    this.sink = new Sink(Math.max(64, initialCapacity))
    this.pool = new BufferPool(options?.allocate ?? allocateZeroed)
    this.largeArgument = Math.max(1, options?.largeArgument ?? LARGE_ARGUMENT)
  }

  /**
   * The number of bytes written since the last {@link Encoder.take} or
   * {@link Encoder.takeChunks}.
   *
   * @since 0.1.0
   */
  get length(): number {
    return this.doneBytes + this.largeBytes + this.sink.pos
  }

  /**
   * Appends one command, and returns the buffers its large string arguments
   * were encoded into (`undefined` if none): pass them to
   * {@link Encoder.recycle} once their bytes have been written, or drop
   * them. Throws a `TypeError` for a `NaN` argument (the command builders
   * reject it earlier), leaving the encoder as it was.
   *
   * @since 0.1.0
   */
  write(args: ReadonlyArray<Arg>): ReadonlyArray<Uint8Array> | undefined {
    const sink = this.sink
    if (sink.pos >= SCRATCH_CUT) this.cut()
    const rollback = sink.pos
    const rollbackLarge = this.large.length
    const large = this.largeArgument
    const n = args.length
    const buf = sink.ensure(16)
    sink.pos = putHeader(buf, sink.pos, 42, n)
    try {
      for (let i = 0; i < n; i++) {
        const arg = args[i]
        if (typeof arg === "string") {
          if (arg.length < large) putBulkString(sink, arg)
          else this.putLargeString(arg)
        } else if (typeof arg === "number") {
          putNumberArg(sink, arg)
        } else if (arg.length < large) {
          putBulkBytes(sink, arg)
        } else {
          this.putLargeBytes(arg)
        }
      }
    } catch (error) {
      sink.pos = rollback
      for (let i = rollbackLarge; i < this.large.length; i++) this.largeBytes -= this.large[i].length
      this.large.length = rollbackLarge
      this.marks.length = rollbackLarge
      const leases = this.leases
      this.leases = undefined
      if (leases !== undefined) this.recycle(leases)
      throw error
    }
    // `leases` is undefined between writes: only a large string sets it.
    const leases = this.leases
    if (leases === undefined) return undefined
    this.leases = undefined
    return leases
  }

  /**
   * Takes back buffers returned by {@link Encoder.write} for reuse by later
   * commands. Only once nothing will read them again: the chunks handed
   * out by a take are views of them.
   *
   * @since 0.1.0
   */
  recycle(buffers: ReadonlyArray<Uint8Array>): void {
    for (let i = 0; i < buffers.length; i++) this.pool.put(buffers[i])
  }

  /**
   * Drops the idle buffers kept for reuse (a connection does it when it has
   * nothing in flight, so an idle connection holds none).
   *
   * @since 0.1.0
   */
  releaseBuffers(): void {
    this.pool.clear()
  }

  /**
   * Returns the bytes written since the last take, as chunks to write in
   * order, and starts over. Without large arguments that is one chunk. The
   * encoder keeps no reference to them, and writes into none of them again
   * unless their buffers come back through {@link Encoder.recycle}.
   *
   * @since 0.1.0
   */
  takeChunks(): Array<Uint8Array> {
    this.cut()
    const out = this.done
    this.done = []
    this.doneBytes = 0
    if (this.sink.buf.length > ENCODER_RETAIN_MAX) this.sink.buf = new Uint8Array(ENCODER_INITIAL)
    if (this.leased) {
      this.leased = false
      this.quietTakes = 0
    } else if (++this.quietTakes === POOL_IDLE_TAKES) {
      this.pool.clear()
    }
    return out
  }

  /**
   * Returns the bytes written since the last take as one new `Uint8Array`
   * and starts over: the chunks of {@link Encoder.takeChunks}, joined (for
   * a single command, or a transport that takes one buffer).
   *
   * @since 0.1.0
   */
  take(): Uint8Array {
    const chunks = this.takeChunks()
    if (chunks.length === 1) return chunks[0]
    let total = 0
    for (let i = 0; i < chunks.length; i++) total += chunks[i].length
    const out = new Uint8Array(total)
    let at = 0
    for (let i = 0; i < chunks.length; i++) {
      out.set(chunks[i], at)
      at += chunks[i].length
    }
    return out
  }

  /**
   * Moves everything written so far into `done`: one copy of the scratch's
   * bytes (the scratch is reused), cut where the large arguments go.
   */
  private cut(): void {
    const sink = this.sink
    const pos = sink.pos
    const large = this.large
    const n = large.length
    if (n === 0) {
      if (pos > 0) this.done.push(sink.buf.slice(0, pos))
      this.doneBytes += pos
      sink.pos = 0
      return
    }
    const copy = sink.buf.slice(0, pos)
    const marks = this.marks
    const done = this.done
    let from = 0
    for (let i = 0; i < n; i++) {
      const at = marks[i]
      if (at > from) done.push(copy.subarray(from, at))
      done.push(large[i])
      from = at
    }
    if (pos > from) done.push(copy.subarray(from, pos))
    this.doneBytes += pos + this.largeBytes
    large.length = 0
    marks.length = 0
    this.largeBytes = 0
    sink.pos = 0
  }

  /** Queues `chunk` after the scratch's bytes so far. */
  private mark(chunk: Uint8Array): void {
    this.large.push(chunk)
    this.marks.push(this.sink.pos)
    this.largeBytes += chunk.length
  }

  /** `$<len>\r\n`, `bytes` as a chunk of its own, `\r\n`. */
  private putLargeBytes(bytes: Uint8Array): void {
    const sink = this.sink
    sink.pos = putHeader(sink.ensure(24), sink.pos, 36, bytes.length)
    this.mark(bytes)
    putCrlf(sink)
  }

  /** `$<len>\r\n`, the UTF-8 of `s` in a buffer of its own (two if it is not ASCII), `\r\n`. */
  private putLargeString(s: string): void {
    const len = s.length
    // Guess ASCII: then the UTF-8 is exactly `len` bytes and one
    // `encodeInto` pass fills a buffer of at least that size. Otherwise it
    // stops at the first character that does not fit (never inside a
    // surrogate pair), and the rest goes to a second buffer sized for the
    // worst case, 3 bytes per UTF-16 unit. The header goes in once the byte
    // length is known.
    const head = this.pool.get(len)
    this.leased = true
    const leases = (this.leases ??= [])
    leases.push(head)
    const first = utf8Encoder.encodeInto(s, head)
    let tail: Uint8Array | undefined
    if (first.read < len) {
      const rest = s.slice(first.read)
      const buffer = this.pool.get(rest.length * 3)
      leases.push(buffer)
      tail = buffer.subarray(0, utf8Encoder.encodeInto(rest, buffer).written)
    }
    const sink = this.sink
    const written = first.written
    sink.pos = putHeader(sink.ensure(24), sink.pos, 36, written + (tail === undefined ? 0 : tail.length))
    if (written > 0) this.mark(written === head.length ? head : head.subarray(0, written))
    if (tail !== undefined) this.mark(tail)
    putCrlf(sink)
  }
}

const putCrlf = (sink: Sink): void => {
  const buf = sink.ensure(2)
  buf[sink.pos] = CR
  buf[sink.pos + 1] = LF
  sink.pos += 2
}

const sharedEncoder = new Encoder()

/**
 * Encodes one command into a fresh `Uint8Array`.
 *
 * @category encoding
 * @since 0.1.0
 */
export const encodeCommand = (args: ReadonlyArray<Arg>): Uint8Array => {
  sharedEncoder.write(args)
  return sharedEncoder.take()
}

const hasLineBreak = (s: string): boolean => s.includes("\r") || s.includes("\n")

const doubleText = (n: number): string =>
  n !== n ? "nan" : n === Infinity ? "inf" : n === -Infinity ? "-inf" : String(n)

const putValue = (sink: Sink, value: RespValue, protocol: 2 | 3): void => {
  if (typeof value === "string") return putBulkString(sink, value)
  if (typeof value === "number") {
    if (Number.isSafeInteger(value)) return putLine(sink, 58, String(value))
    return protocol === 3 ? putLine(sink, 44, doubleText(value)) : putBulkString(sink, doubleText(value))
  }
  if (typeof value === "bigint") {
    if (protocol === 3) return putLine(sink, 40, value.toString())
    // RESP2 has no big numbers: a server sends what fits in 64 bits as an integer.
    return value >= -(2n ** 63n) && value < 2n ** 63n
      ? putLine(sink, 58, value.toString())
      : putBulkString(sink, value.toString())
  }
  if (typeof value === "boolean") {
    return protocol === 3 ? putLine(sink, 35, value ? "t" : "f") : putLine(sink, 58, value ? "1" : "0")
  }
  if (value === null) {
    if (protocol === 3) return putLine(sink, 95, "")
    return putLine(sink, 36, "-1")
  }
  if (value instanceof Uint8Array) return putBulkBytes(sink, value)
  if (value instanceof RespError) {
    if (!hasLineBreak(value.message)) return putErrorLine(sink, value.message)
    // RESP2 has no bulk errors; the server turns line breaks into spaces.
    if (protocol === 2) return putErrorLine(sink, value.message.replace(/[\r\n]/g, " "))
    const bytes = utf8Encoder.encode(value.message)
    const buf = sink.ensure(bytes.length + 24)
    const p = putHeader(buf, sink.pos, 33, bytes.length)
    buf.set(bytes, p)
    buf[p + bytes.length] = CR
    buf[p + bytes.length + 1] = LF
    sink.pos = p + bytes.length + 2
    return
  }
  let prefix: number
  let items: ReadonlyArray<RespValue>
  let count: number
  if (value instanceof RespMap) {
    if (value.flat.length % 2 !== 0) throw new TypeError("a RespMap needs an even number of flat elements")
    items = value.flat
    prefix = protocol === 3 ? 37 : 42
    count = protocol === 3 ? items.length / 2 : items.length
  } else if (value instanceof RespSet || value instanceof RespPush) {
    items = value.items
    prefix = protocol === 2 ? 42 : value instanceof RespSet ? 126 : 62
    count = items.length
  } else {
    items = value
    prefix = 42
    count = items.length
  }
  sink.pos = putHeader(sink.ensure(24), sink.pos, prefix, count)
  for (let i = 0; i < items.length; i++) putValue(sink, items[i], protocol)
}

const putErrorLine = (sink: Sink, message: string): void => {
  const bytes = utf8Encoder.encode(message)
  const buf = sink.ensure(bytes.length + 3)
  buf[sink.pos] = 45
  buf.set(bytes, sink.pos + 1)
  buf[sink.pos + 1 + bytes.length] = CR
  buf[sink.pos + 2 + bytes.length] = LF
  sink.pos += bytes.length + 3
}

/**
 * Encodes a value as a server would send it, in RESP3 or RESP2 — for tests and
 * fake servers; the client itself only ever encodes commands.
 *
 * **Details**
 *
 * - Strings are always bulk strings (never `+`), safe integers `:`, other
 *   numbers doubles `,` (`inf`, `-inf`, `nan`), bigints big numbers `(`.
 * - A `RespError` is a simple error `-`, or a bulk error `!` in RESP3 when its
 *   message holds a line break.
 * - RESP2 has fewer types, so the server's fallbacks are used: null is `$-1`,
 *   booleans `:1`/`:0`, doubles bulk strings, bigints `:` within 64 bits and
 *   bulk strings beyond, maps, sets and pushes flat arrays.
 *
 * @category encoding
 * @since 0.1.0
 */
export const encodeValue = (value: RespValue, protocol: 2 | 3 = 3): Uint8Array => {
  const sink = new Sink(256)
  putValue(sink, value, protocol)
  return sink.buf.slice(0, sink.pos)
}
