/**
 * Micro-benchmark of the RESP codec alone: no socket, no Effect.
 *
 * Run with `node bench/resp-micro.ts`. Each case runs a fixed workload (1000
 * replies to decode, or 1000 commands to encode) for about a second after a
 * warm-up, and reports workloads per second and the cost per reply/command,
 * the figure to compare with the ~1.9 us CPU budget of a whole command.
 *
 * Other parsers (ioredis' redis-parser, node-redis' decoder) can be added as
 * further entries of `implementations` below: each one only needs to say how
 * it decodes a buffer of replies and how it encodes a list of commands.
 */
import { Decoder, Encoder, Incomplete } from "@redis-effect/redis/Resp"
import { createRequire } from "node:module"

const te = new TextEncoder()

/** How one implementation runs the workloads; `null` where it has no equivalent. */
interface Implementation {
  readonly name: string
  /** Decodes every reply in `wire` (string mode) and returns how many there were. */
  readonly decode: (wire: Uint8Array) => number
  /** Encodes every command and returns the number of bytes produced. */
  readonly encode: ((commands: ReadonlyArray<ReadonlyArray<string>>) => number) | null
}

const redisEffect = (): Implementation => {
  const decoder = new Decoder()
  const encoder = new Encoder()
  return {
    name: "redis-effect",
    decode: (wire) => {
      decoder.feed(wire)
      let n = 0
      while (decoder.next(false) !== Incomplete) n++
      return n
    },
    encode: (commands) => {
      for (let i = 0; i < commands.length; i++) encoder.write(commands[i])
      return encoder.take().length
    }
  }
}

/**
 * The same decoder with Node's native UTF-8 slicing plugged in (what the Node
 * package can pass), to show what the portable `TextDecoder` path costs.
 */
const redisEffectNodeUtf8 = (): Implementation => {
  const utf8Slice = (Buffer.prototype as unknown as {
    readonly utf8Slice: (this: Uint8Array, start: number, end: number) => string
  }).utf8Slice
  const decoder = new Decoder({ decodeUtf8: (b, s, e) => utf8Slice.call(b, s, e) })
  return {
    name: "redis-effect + utf8Slice",
    decode: (wire) => {
      decoder.feed(wire)
      let n = 0
      while (decoder.next(false) !== Incomplete) n++
      return n
    },
    encode: null
  }
}

// -----------------------------------------------------------------------------
// the peers' codecs (deep imports of their CommonJS builds)
// -----------------------------------------------------------------------------

const require = createRequire(import.meta.url)
const asBuffer = (wire: Uint8Array) => Buffer.from(wire.buffer, wire.byteOffset, wire.byteLength)

/**
 * node-redis 6: `@redis/client`'s RESP3 `Decoder` with the default type
 * mapping (bulk strings decoded to JS strings), and `encodeCommand`, which
 * returns string chunks that the corked socket turns into bytes; here the
 * chunks of all commands are joined and turned into one Buffer.
 */
const nodeRedis = (): Implementation => {
  const { Decoder: NodeRedisDecoder } = require("@redis/client/dist/lib/RESP/decoder.js") as typeof import(
    "@redis/client/dist/lib/RESP/decoder.js"
  )
  const encodeCommand = (require("@redis/client/dist/lib/RESP/encoder.js") as typeof import(
    "@redis/client/dist/lib/RESP/encoder.js"
  )).default
  let n = 0
  const typeMapping = {} // resolved once, as the client does per command
  const decoder = new NodeRedisDecoder({
    onReply: () => void n++,
    onErrorReply: () => void n++,
    onPush: () => void n++,
    getTypeMapping: () => typeMapping
  })
  return {
    name: "node-redis 6 (@redis/client RESP)",
    decode: (wire) => {
      n = 0
      decoder.write(asBuffer(wire))
      return n
    },
    encode: (commands) => {
      let out = ""
      for (let i = 0; i < commands.length; i++) out += encodeCommand(commands[i]).join("")
      return Buffer.from(out).length
    }
  }
}

/**
 * ioredis 6: the same decoder, ported from node-redis (ioredis 6 dropped
 * `redis-parser`), run as ioredis runs it: strings as Buffers, then turned
 * into a string per reply (`replyEncoding: "utf8"`, what GET does). Encoding
 * is `Command#toWritable` (one string per command; the socket gets one write
 * per command, or one per auto-pipelined batch); here joined into one Buffer.
 */
const ioredis = (): Implementation => {
  const resp = require("ioredis/built/resp/decoder.js") as typeof import("ioredis/built/resp/decoder.js")
  const Command = (require("ioredis/built/Command.js") as typeof import("ioredis/built/Command.js")).default
  const toWritable = Command.prototype.toWritable as (this: object, socket: object) => string | Buffer
  let n = 0
  // Resolved once per connection, as ioredis' DataHandler does.
  const typeMapping = {
    [resp.RESP_TYPES.SIMPLE_STRING]: Buffer,
    [resp.RESP_TYPES.BLOB_STRING]: Buffer
  }
  const decoder = new resp.Decoder({
    onReply: (reply: unknown) => {
      if (reply instanceof Buffer) reply.toString("utf8")
      n++
    },
    onErrorReply: () => void n++,
    onPush: () => void n++,
    getTypeMapping: () => typeMapping
  })
  const socket = {}
  // The Command-like objects are built once per workload (ioredis builds its
  // Command before encoding), so only `toWritable` is measured.
  const prepared = new WeakMap<object, Array<object>>()
  const prepare = (commands: ReadonlyArray<ReadonlyArray<string>>) =>
    commands.map((c) => ({ name: c[0].toLowerCase(), args: c.slice(1), bufferMode: false }))
  return {
    name: "ioredis 6 (resp/decoder, Buffer + toString)",
    decode: (wire) => {
      n = 0
      decoder.write(asBuffer(wire))
      return n
    },
    encode: (commands) => {
      let cs = prepared.get(commands)
      if (cs === undefined) prepared.set(commands, cs = prepare(commands))
      let out = ""
      for (let i = 0; i < cs.length; i++) out += toWritable.call(cs[i], socket)
      return Buffer.from(out).length
    }
  }
}

const implementations: ReadonlyArray<() => Implementation> = [redisEffect, redisEffectNodeUtf8, nodeRedis, ioredis]

// -----------------------------------------------------------------------------
// workloads
// -----------------------------------------------------------------------------

const N = 1000
const value32 = "v".repeat(32)
const key = (i: number) => `key:${String(i).padStart(3, "0")}`

const bulkReplies = te.encode(`$32\r\n${value32}\r\n`.repeat(N))
const okReplies = te.encode("+OK\r\n".repeat(N))
const intReplies = te.encode(Array.from({ length: N }, (_, i) => `:${i * 7919}\r\n`).join(""))
const arrayReply = te.encode(`*${N}\r\n` + `$32\r\n${value32}\r\n`.repeat(N))
const getCommands = Array.from({ length: N }, (_, i) => ["GET", key(i)])
const setCommands = Array.from({ length: N }, (_, i) => ["SET", key(i), value32])

interface Case {
  readonly name: string
  readonly run: (impl: Implementation) => number
}

const cases: ReadonlyArray<Case> = [
  { name: `decode ${N} x $32 bulk`, run: (impl) => impl.decode(bulkReplies) },
  { name: `decode ${N} x +OK`, run: (impl) => impl.decode(okReplies) },
  { name: `decode ${N} x :n`, run: (impl) => impl.decode(intReplies) },
  { name: `decode *${N} of $32`, run: (impl) => impl.decode(arrayReply) },
  { name: `encode ${N} x GET key:NNN`, run: (impl) => impl.encode?.(getCommands) ?? -1 },
  { name: `encode ${N} x SET key:NNN <32 B>`, run: (impl) => impl.encode?.(setCommands) ?? -1 }
]

/** Runs `f` for about `ms` milliseconds and returns calls per second. */
const measure = (f: () => number, ms: number): number => {
  let sink = 0
  let calls = 0
  const start = performance.now()
  let now = start
  while (now - start < ms) {
    for (let i = 0; i < 20; i++) sink += f()
    calls += 20
    now = performance.now()
  }
  if (sink === 0.5) console.log(sink) // keep the results alive
  return (calls * 1000) / (now - start)
}

const rows: Array<Record<string, string>> = []
for (const make of implementations) {
  const impl = make()
  for (const c of cases) {
    if (c.run(impl) < 0) continue // not supported by this implementation
    measure(() => c.run(impl), 300) // warm-up
    const perSecond = measure(() => c.run(impl), 1000)
    rows.push({
      implementation: impl.name,
      case: c.name,
      "workloads/s": perSecond.toFixed(0),
      "items/s": (perSecond * N).toExponential(2),
      "ns/item": ((1e9 / perSecond) / N).toFixed(1)
    })
  }
}
console.table(rows)
