/**
 * `internal/Multiplexer.ts` over a fake transport that records every write:
 * a command whose caller was interrupted before it was written is dropped
 * from the batch (alone, or a whole pipeline), while the commands of other
 * callers in the same batch are written; one interrupted after the write
 * keeps its place and its reply goes nowhere else. Large arguments leave as
 * chunks of their own in one `writeAll`, byte for byte and in order; the
 * buffer a large string was encoded into is reused only once its command
 * was answered (not after an error), and an idle connection keeps none.
 */
import { assert, describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"
import * as Option from "effect/Option"
import * as Socket from "effect/socket/Socket"
import * as Commands from "../src/Commands.ts"
import * as Connection from "../src/Connection.ts"
import * as RedisConfig from "../src/RedisConfig.ts"
import { type ReadSink, Transport } from "../src/Transport.ts"

interface Fake {
  readonly transport: Transport["Service"]
  /** Every write of the data connection (a `writeAll` joined), decoded as text. */
  readonly writes: Array<string>
  /** Every write as the chunks it was given (one for `write`), with their bytes at the time. */
  readonly calls: Array<{ readonly all: boolean; readonly chunks: ReadonlyArray<Uint8Array>; readonly bytes: Uint8Array }>
  readonly reply: (text: string | Uint8Array) => void
  /** Which path each write took: `writeNow` (direct) or the writer fiber. */
  readonly via: Array<"direct" | "fiber">
  /** With `direct`: how many more `writeNow` calls refuse (as a socket waiting for drain). */
  refuse: number
}

const join = (chunks: ReadonlyArray<Uint8Array>): Uint8Array => {
  const out = new Uint8Array(chunks.reduce((n, c) => n + c.length, 0))
  let at = 0
  for (const c of chunks) {
    out.set(c, at)
    at += c.length
  }
  return out
}

const makeFake = (options: {
  readonly direct?: boolean
  /**
   * The reader pushes (`Transport.DirectReader`): each reply is cut into
   * reads of at most `readSize` bytes into one reused buffer, or into the
   * buffer the sink names.
   */
  readonly push?: { readonly readSize: number; readonly stats: { direct: number; reads: number } }
} = {}): Fake => {
  const via: Fake["via"] = []
  const writes: Array<string> = []
  const calls: Fake["calls"] = []
  let waiter: ((e: Effect.Effect<Array<Uint8Array>, Socket.SocketError>) => void) | undefined
  let queued: Array<Uint8Array> = []
  const deliver = () => {
    if (waiter === undefined || queued.length === 0) return
    const w = waiter
    waiter = undefined
    const q = queued
    queued = []
    w(Effect.succeed(q))
  }
  const pull = Effect.callback<Array<Uint8Array>, Socket.SocketError>((resume) => {
    waiter = resume
    deliver()
  })
  let sink: ReadSink | undefined
  const push = options.push
  const scratch = new Uint8Array(push?.readSize ?? 0)
  // As a socket reading into one buffer: the sink must copy what it keeps.
  const pump = () => {
    if (sink === undefined || push === undefined) return
    const bytes = join(queued)
    queued = []
    let at = 0
    while (at < bytes.length) {
      const target = sink.readTarget()
      const into = target ?? scratch
      const n = Math.min(into.length, push.readSize, bytes.length - at)
      into.set(bytes.subarray(at, at + n))
      at += n
      push.stats.reads++
      if (target !== undefined) {
        push.stats.direct += n
        sink.onTargetFilled(n)
      } else {
        sink.onBytes(scratch.subarray(0, n))
        scratch.fill(0xee)
      }
    }
  }
  const listen = (s: ReadSink): Effect.Effect<void, Socket.SocketError> =>
    Effect.callback<void, Socket.SocketError>(() => {
      sink = s
      pump()
      return Effect.sync(() => {
        sink = undefined
      })
    })
  const record = (chunks: ReadonlyArray<Uint8Array>, all: boolean) => {
    const bytes = join(chunks)
    calls.push({ all, chunks, bytes })
    writes.push(new TextDecoder().decode(bytes))
  }
  const write = (chunk: Uint8Array | string | Socket.CloseEvent) =>
    Effect.sync(() => {
      if (chunk instanceof Uint8Array) {
        via.push("fiber")
        record([chunk], false)
      }
    })
  const writeAll = (chunks: ReadonlyArray<Uint8Array>) =>
    Effect.sync(() => {
      via.push("fiber")
      record(chunks, true)
    })
  const writeNow = (chunks: ReadonlyArray<Uint8Array>) => {
    if (fake.refuse > 0) {
      fake.refuse--
      return false
    }
    via.push("direct")
    record(chunks, chunks.length > 1)
    return true
  }
  const socket = Socket.make({
    reader: Effect.succeed(
      (push === undefined ? { pull, upgrade: () => Effect.die("no upgrade") } : {
        pull,
        listen,
        upgrade: () => Effect.die("no upgrade")
      }) as never
    ),
    writer: Effect.succeed((options.direct === true ? { write, writeAll, writeNow } : { write, writeAll }) as never)
  })
  const fake: Fake = {
    via,
    refuse: 0,
    writes,
    calls,
    reply: (text) => {
      queued.push(typeof text === "string" ? new TextEncoder().encode(text) : text)
      if (push !== undefined) pump()
      else deliver()
    },
    transport: { open: () => Effect.succeed(socket) }
  }
  return fake
}

const connect = (fake: Fake) =>
  Effect.tap(
    Connection.make({ endpoint: RedisConfig.tcp("fake", 1), protocol: 2, setInfo: false, stallTimeout: 0 }).pipe(
      Effect.provideService(Transport, fake.transport)
    ),
    (c) => c.awaitReady
  )

const settle = Effect.andThen(Effect.yieldNow, Effect.yieldNow)

describe("a transport that writes at once (Transport.DirectWriter)", () => {
  it.effect("a flush with the writer parked writes through writeNow; one it refuses goes to the writer fiber, once, in order", () =>
    Effect.gen(function*() {
      const fake = makeFake({ direct: true })
      const connection = yield* connect(fake)
      yield* settle // the writer fiber parks
      const handshake = fake.writes.length
      const first = yield* Effect.forkChild(connection.send(Commands.incr("a")), { startImmediately: true })
      yield* settle
      assert.deepStrictEqual(fake.via.slice(handshake), ["direct"])
      fake.reply(":1\r\n")
      assert.deepStrictEqual(yield* Fiber.await(first), Exit.succeed(1))
      // The socket waits for drain: the flush's bytes go to the writer fiber.
      fake.refuse = 1
      const second = yield* Effect.forkChild(connection.send(Commands.incr("b")), { startImmediately: true })
      const third = yield* Effect.forkChild(connection.send(Commands.incr("c")), { startImmediately: true })
      yield* settle
      assert.deepStrictEqual(fake.via.slice(handshake), ["direct", "fiber"])
      assert.include(fake.writes.at(-1)!, "$1\r\nb\r\n*2\r\n$4\r\nINCR\r\n$1\r\nc")
      const fourth = yield* Effect.forkChild(connection.send(Commands.incr("d")), { startImmediately: true })
      yield* settle
      assert.deepStrictEqual(fake.via.slice(handshake), ["direct", "fiber", "direct"])
      fake.reply(":2\r\n:3\r\n:4\r\n")
      assert.deepStrictEqual(yield* Fiber.await(second), Exit.succeed(2))
      assert.deepStrictEqual(yield* Fiber.await(third), Exit.succeed(3))
      assert.deepStrictEqual(yield* Fiber.await(fourth), Exit.succeed(4))
      assert.strictEqual(connection.stats().commandsWritten, 4)
      assert.strictEqual(fake.writes.slice(handshake).join("").split("INCR").length - 1, 4, "each command written once")
    }).pipe(Effect.scoped))
})

describe("a transport that pushes its reads (Transport.DirectReader)", () => {
  it.effect("replies cut into reads of one reused buffer reach their callers intact; a large body is read into its own buffer", () =>
    Effect.gen(function*() {
      const stats = { direct: 0, reads: 0 }
      const fake = makeFake({ direct: true, push: { readSize: 7 * 1024, stats } })
      const connection = yield* connect(fake)
      const large = Uint8Array.from({ length: 200_000 }, (_, i) => (i * 7 + 3) & 0xff)
      // Small replies of 2,000-odd bytes: many of them straddle two reads,
      // so the part in the reused buffer must be copied before the next read.
      const values = Array.from({ length: 30 }, (_, i) => String.fromCharCode(97 + (i % 26)).repeat(2_000 + i * 37))
      const te = new TextEncoder()
      const smallFibers = []
      for (let i = 0; i < values.length; i++) {
        smallFibers.push(yield* Effect.forkChild(connection.send(Commands.get(`k${i}`)), { startImmediately: true }))
      }
      const largeFiber = yield* Effect.forkChild(connection.send(Commands.getBytes("large")), { startImmediately: true })
      const nFiber = yield* Effect.forkChild(connection.send(Commands.incr("n")), { startImmediately: true })
      yield* settle
      fake.reply(join([
        te.encode(values.map((v) => `$${v.length}\r\n${v}\r\n`).join("") + `$${large.length}\r\n`),
        large,
        te.encode("\r\n:42\r\n")
      ]))
      for (let i = 0; i < values.length; i++) {
        assert.deepStrictEqual(yield* Fiber.join(smallFibers[i]), Option.some(values[i]))
      }
      const big = yield* Fiber.join(largeFiber)
      assert.isTrue(Option.isSome(big))
      assert.isTrue(Option.isSome(big) && Buffer.from(big.value).equals(Buffer.from(large)), "the large body, byte for byte")
      assert.strictEqual(yield* Fiber.join(nFiber), 42)
      // All of the body but what shared a read with its header, and its last
      // bytes under the 32 KiB threshold, went straight into its buffer.
      assert.isAbove(stats.direct, large.length - 7 * 1024 - 32 * 1024)
    }).pipe(Effect.scoped))
})

describe("a command interrupted before it was written", () => {
  it.effect("is dropped from the batch; the other callers' commands in it are written", () =>
    Effect.gen(function*() {
      const fake = makeFake()
      const connection = yield* connect(fake)
      const dropped = yield* Effect.forkChild(connection.send(Commands.incr("dropped")), { startImmediately: true })
      const kept = yield* Effect.forkChild(connection.send(Commands.incr("kept")), { startImmediately: true })
      const pipeline = yield* Effect.forkChild(
        connection.sendAll([Commands.set("p1", "x"), Commands.set("p2", "y")]),
        { startImmediately: true }
      )
      // Interrupted in the same task as the sends: before the flush.
      yield* Fiber.interrupt(dropped)
      yield* Fiber.interrupt(pipeline)
      yield* settle
      assert.strictEqual(fake.writes.length, 1, "one write")
      assert.include(fake.writes[0], "kept")
      assert.notInclude(fake.writes[0], "dropped")
      assert.notInclude(fake.writes[0], "p1")
      assert.strictEqual(connection.stats().commandsWritten, 1)
      fake.reply(":1\r\n")
      assert.deepStrictEqual(yield* Fiber.await(kept), Exit.succeed(1))
      assert.strictEqual(connection.stats().inFlight, 0, "no reply is awaited for the dropped ones")
    }).pipe(Effect.scoped))

  it.effect("one interrupted after the write keeps its place: its reply is read and dropped", () =>
    Effect.gen(function*() {
      const fake = makeFake()
      const connection = yield* connect(fake)
      const first = yield* Effect.forkChild(connection.send(Commands.get("a")), { startImmediately: true })
      yield* settle
      assert.strictEqual(fake.writes.length, 1)
      yield* Fiber.interrupt(first)
      const second = yield* Effect.forkChild(connection.send(Commands.get("b")), { startImmediately: true })
      yield* settle
      fake.reply("$5\r\nfor-a\r\n$5\r\nfor-b\r\n")
      const exit = yield* Fiber.await(second)
      assert.isTrue(Exit.isSuccess(exit))
      if (Exit.isSuccess(exit)) assert.strictEqual(exit.value._tag === "Some" ? exit.value.value : undefined, "for-b")
    }).pipe(Effect.scoped))
})

describe("large arguments", () => {
  const size = 100 * 1024
  const ascii = "x".repeat(size)
  const binary = Uint8Array.from({ length: size }, (_, i) => (i * 31 + (i >>> 11)) & 0xff)
  const te = new TextEncoder()
  const wire = (commands: ReadonlyArray<ReadonlyArray<string | Uint8Array>>): Uint8Array =>
    join(commands.flatMap((args) => [
      te.encode(`*${args.length}\r\n`),
      ...args.flatMap((a) => {
        const body = typeof a === "string" ? te.encode(a) : a
        return [te.encode(`$${body.length}\r\n`), body, te.encode("\r\n")]
      })
    ]))
  /** The buffer the body of the string argument of `size` bytes was written from, in the last write. */
  const lastBody = (fake: Fake): ArrayBufferLike => fake.calls.at(-1)!.chunks.find((c) => c.length === size)!.buffer

  it.effect("leave as chunks of their own in one writeAll, byte for byte and in order", () =>
    Effect.gen(function*() {
      const fake = makeFake()
      const connection = yield* connect(fake)
      const fibers: Array<Fiber.Fiber<unknown, unknown>> = [
        yield* Effect.forkChild(connection.send(Commands.set("a", ascii)), { startImmediately: true }),
        yield* Effect.forkChild(connection.send(Commands.get("a")), { startImmediately: true }),
        yield* Effect.forkChild(connection.send(Commands.set("b", binary)), { startImmediately: true }),
        yield* Effect.forkChild(connection.send(Commands.set("c", "é✓😀".repeat(size / 4))), { startImmediately: true })
      ]
      yield* settle
      assert.strictEqual(fake.calls.length, 1, "one write")
      const [call] = fake.calls
      assert.isTrue(call.all)
      assert.deepStrictEqual(
        call.bytes,
        wire([["SET", "a", ascii], ["GET", "a"], ["SET", "b", binary], ["SET", "c", "é✓😀".repeat(size / 4)]])
      )
      assert.isTrue(call.chunks.includes(binary), "a large Uint8Array is written as it is")
      fake.reply("+OK\r\n$1\r\nx\r\n+OK\r\n+OK\r\n")
      for (const f of fibers) assert.isTrue(Exit.isSuccess(yield* Fiber.await(f)))
      // small commands alone still take one plain write
      const ping = yield* Effect.forkChild(connection.send(Commands.get("small")), { startImmediately: true })
      yield* settle
      assert.isFalse(fake.calls.at(-1)!.all)
      fake.reply("$-1\r\n")
      yield* Fiber.await(ping)
    }).pipe(Effect.scoped))

  it.effect("a string's buffer is reused once its command is answered, not before, not after an error", () =>
    Effect.gen(function*() {
      const fake = makeFake()
      const connection = yield* connect(fake)
      const send = (key: string, value: string) =>
        Effect.andThen(
          Effect.forkChild(connection.send(Commands.set(key, value)), { startImmediately: true }),
          (fiber) => Effect.as(settle, fiber)
        )
      const first = yield* send("k1", ascii)
      const b1 = lastBody(fake)
      const second = yield* send("k2", ascii)
      const b2 = lastBody(fake)
      assert.notStrictEqual(b2, b1, "in flight: not reused")
      fake.reply("+OK\r\n")
      yield* Fiber.await(first)
      const third = yield* send("k3", "y".repeat(size))
      assert.strictEqual(lastBody(fake), b1, "answered: reused")
      assert.deepStrictEqual(fake.calls.at(-1)!.bytes, wire([["SET", "k3", "y".repeat(size)]]))
      fake.reply("-ERR something\r\n")
      yield* Fiber.await(second)
      const fourth = yield* send("k4", ascii)
      const b4 = lastBody(fake)
      assert.notStrictEqual(b4, b2, "after an error: not reused")
      fake.reply("+OK\r\n+OK\r\n")
      yield* Fiber.await(third)
      yield* Fiber.await(fourth)
      // Nothing in flight any more: the connection dropped its buffers.
      yield* send("k5", ascii)
      const b5 = lastBody(fake)
      for (const earlier of [b1, b2, b4]) assert.notStrictEqual(b5, earlier)
      // every write carried the bytes it was given at the time
      assert.deepStrictEqual(fake.calls[0].bytes, wire([["SET", "k1", ascii]]))
      assert.deepStrictEqual(fake.calls[1].bytes, wire([["SET", "k2", ascii]]))
    }).pipe(Effect.scoped))
})
