/**
 * The server's MONITOR feed as a `Stream` of parsed lines.
 *
 * `parseMonitorLine` is the pure parser of one line as the server writes it:
 * `<seconds>.<micros> [<db> <client>] "<arg>" "<arg>" ...`, where the
 * client is `ip:port`, `[ipv6]:port`, `unix:<path>` or `lua`, and each
 * argument is quoted with C-style escapes (`\"`, `\\`, `\n`, `\r`, `\t`,
 * `\a`, `\b`, and `\xHH` for every other byte that is not printable ASCII).
 * `stream` opens a connection of its own (MONITOR turns it into a feed for
 * good), sends MONITOR and offers each parsed line.
 *
 * It does not choose the node: the topology's `monitorConnection` does. A
 * line that does not parse is dropped, not failed: the feed is for humans
 * and debugging, and one odd line should not end it.
 *
 * @since 0.1.0
 */
import * as Effect from "effect/Effect"
import * as Queue from "effect/Queue"
import type * as Scope from "effect/Scope"
import * as Stream from "effect/Stream"
import * as Commands from "./Commands.ts"
import type * as Connection from "./Connection.ts"
import type * as RedisError from "./RedisError.ts"
import type { RespValue } from "./Resp.ts"

/**
 * One line of the MONITOR feed.
 *
 * @category models
 * @since 0.1.0
 */
export interface MonitorEvent {
  /** When the server ran the command: epoch seconds with microseconds. */
  readonly time: number
  /** The database index the command ran in. */
  readonly database: number
  /** Who sent it: `ip:port`, `[ipv6]:port`, `unix:<path>` or `lua`. */
  readonly client: string
  /**
   * The command and its arguments, unescaped and read as UTF-8 (bytes that
   * are not UTF-8 become U+FFFD; `raw` keeps them as the server wrote them).
   */
  readonly args: ReadonlyArray<string>
  /** The line as the server wrote it. */
  readonly raw: string
}

const TIME = /^\d+(?:\.\d+)?$/
const DIGITS = /^\d+$/
const QUOTE = 34 // "
const BACKSLASH = 92 // \
const SPACE = 32

const encoder = new TextEncoder()
const decoder = new TextDecoder()

/**
 * Parses one MONITOR line; `undefined` when it is not one (the `+OK` that
 * answers MONITOR itself, for one).
 *
 * @category parsers
 * @since 0.1.0
 */
export const parseMonitorLine = (raw: string): MonitorEvent | undefined => {
  // 1339518083.107412 [0 127.0.0.1:60866] "keys" "*"
  const open = raw.indexOf(" [")
  if (open <= 0) return undefined
  const time = raw.slice(0, open)
  if (!TIME.test(time)) return undefined
  const dbEnd = raw.indexOf(" ", open + 2)
  if (dbEnd < 0) return undefined
  const database = raw.slice(open + 2, dbEnd)
  if (!DIGITS.test(database)) return undefined
  // The client may hold `]` (`[::1]:6379`) but never `] "`: the first one
  // closes the bracket, and arguments (at least the command name) follow.
  const close = raw.indexOf("] \"", dbEnd + 1)
  if (close < 0) return undefined
  const args = parseArgs(raw, close + 2)
  if (args === undefined) return undefined
  return { time: Number(time), database: Number(database), client: raw.slice(dbEnd + 1, close), args, raw }
}

// The quoted arguments from `start` to the end of the line, separated by
// one space; `undefined` if anything is off.
const parseArgs = (raw: string, start: number): Array<string> | undefined => {
  const args: Array<string> = []
  let i = start
  while (true) {
    if (raw.charCodeAt(i) !== QUOTE) return undefined
    const end = closingQuote(raw, i + 1)
    if (end < 0) return undefined
    const arg = unescape(raw, i + 1, end)
    if (arg === undefined) return undefined
    args.push(arg)
    i = end + 1
    if (i === raw.length) return args
    if (raw.charCodeAt(i) !== SPACE) return undefined
    i++
  }
}

// The index of the quote that ends an argument opened before `from`, or -1.
const closingQuote = (raw: string, from: number): number => {
  for (let i = from; i < raw.length; i++) {
    const c = raw.charCodeAt(i)
    if (c === QUOTE) return i
    if (c === BACKSLASH) i++
  }
  return -1
}

// The text between the quotes, escapes resolved. Escaped bytes are
// collected and read as UTF-8 together, so a multi-byte character written
// as `\xc3\xa9` comes back as one character.
const unescape = (raw: string, from: number, to: number): string | undefined => {
  const first = raw.indexOf("\\", from)
  if (first < 0 || first >= to) return raw.slice(from, to)
  const bytes: Array<number> = []
  let run = from
  let i = first
  while (i < to) {
    if (raw.charCodeAt(i) !== BACKSLASH) {
      i++
      continue
    }
    for (const b of encoder.encode(raw.slice(run, i))) bytes.push(b)
    const e = raw[i + 1]
    if (e === undefined) return undefined
    if (e === "x") {
      const hex = raw.slice(i + 2, i + 4)
      if (!/^[0-9a-fA-F]{2}$/.test(hex)) return undefined
      bytes.push(parseInt(hex, 16))
      i += 4
    } else {
      const b = e === "n" ? 10 : e === "r" ? 13 : e === "t" ? 9 : e === "a" ? 7 : e === "b" ? 8 : e.charCodeAt(0)
      bytes.push(b)
      i += 2
    }
    run = i
  }
  for (const b of encoder.encode(raw.slice(run, to))) bytes.push(b)
  return decoder.decode(new Uint8Array(bytes))
}

const MONITOR = Commands.monitor()

/**
 * The MONITOR feed of the node `open` connects to. `open` must return a
 * connection of its own, closed with the scope, whose unsolicited frames go
 * to the `onPush` it is given (`Connection.makeFeed`).
 *
 * @category constructors
 * @since 0.1.0
 */
export const stream = (
  open: (onPush: (value: RespValue) => void) => Effect.Effect<Connection.Connection, RedisError.RedisError, Scope.Scope>
): Stream.Stream<MonitorEvent, RedisError.RedisError> =>
  Stream.callback<MonitorEvent, RedisError.RedisError>((queue) =>
    Effect.flatMap(
      open((value) => {
        if (typeof value !== "string") return
        const event = parseMonitorLine(value)
        if (event !== undefined) Queue.offerUnsafe(queue, event)
      }),
      (connection) => connection.send(MONITOR)
    )
  )
