/**
 * The flowing-mode socket under the Node transport, against plain `node:net`
 * servers on loopback (no Redis): byte order and completeness under
 * backpressure, end of stream after the last byte, dial errors and timeouts,
 * closing the reader under a parked pull, and writes. The push path
 * (`listen`, `Transport.DirectReader`): every byte in order whether it was
 * read into the reused buffer or into a buffer the sink named, bytes that
 * arrived before `listen` first, a sink that stops, an interrupted listen.
 */
import { assert, describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"
import * as Scope from "effect/Scope"
import * as Socket from "effect/socket/Socket"
import * as Net from "node:net"
import * as Tls from "node:tls"
import type { DirectReader, ReadSink } from "@redis-effect/redis/Transport"
import * as FlowingSocket from "../src/internal/socket.ts"

/** A loopback server for the test's scope; `onConnection` gets each accepted socket. */
const server = (onConnection: (socket: Net.Socket) => void) => {
  const accepted = new Set<Net.Socket>()
  return Effect.acquireRelease(
    Effect.callback<Net.Server>((resume) => {
      const s = Net.createServer((socket) => {
        accepted.add(socket)
        onConnection(socket)
      })
      s.listen(0, "127.0.0.1", () => resume(Effect.succeed(s)))
    }),
    (s) =>
      Effect.callback<void>((resume) => {
        // A peer socket that is never read does not notice the client's close,
        // and would keep close() waiting.
        for (const socket of accepted) socket.destroy()
        s.close(() => resume(Effect.void))
      })
  ).pipe(Effect.map((s) => (s.address() as Net.AddressInfo).port))
}

const socketTo = (
  port: number,
  options?: {
    readonly highWaterMark?: number
    readonly tls?: boolean
    readonly openTimeoutMs?: number
    /** Dial without `onread`: the socket emits `data` (as TLS does). */
    readonly dataEvents?: boolean
  }
) =>
  FlowingSocket.make({
    connect: options?.tls === true
      ? () => Tls.connect({ host: "127.0.0.1", port, rejectUnauthorized: false })
      : options?.dataEvents === true
      ? () => Net.createConnection({ host: "127.0.0.1", port })
      : (onread) => Net.createConnection({ host: "127.0.0.1", port, onread }),
    readyEvent: options?.tls === true ? "secureConnect" : "connect",
    openTimeoutMs: options?.openTimeoutMs ?? 5_000,
    highWaterMark: options?.highWaterMark ?? 16 * 1024 * 1024
  })

/** A deterministic byte pattern, so any reordering or loss shows. */
const pattern = (size: number) => {
  const bytes = Buffer.allocUnsafe(size)
  for (let i = 0; i < size; i++) bytes[i] = (i * 31 + (i >>> 11)) & 0xff
  return bytes
}

const reasonOf = <A>(exit: Exit.Exit<A, Socket.SocketError>) => {
  assert.isTrue(Exit.isFailure(exit))
  const error = Exit.isFailure(exit) ? exit.cause.reasons.find((r) => r._tag === "Fail") : undefined
  assert.isDefined(error)
  return (error as { error: Socket.SocketError }).error.reason
}

describe("FlowingSocket", () => {
  it.live("delivers every byte in order with a slow reader and a small high-water mark, then the end", () =>
    Effect.scoped(Effect.gen(function*() {
      const size = 8 * 1024 * 1024
      const sent = pattern(size)
      const port = yield* server((s) => s.end(sent))
      const highWaterMark = 128 * 1024
      const reader = yield* socketTo(port, { highWaterMark }).reader
      const received: Array<Uint8Array> = []
      let total = 0
      let largestPull = 0
      while (true) {
        const exit = yield* Effect.exit(reader.pull)
        if (Exit.isFailure(exit)) {
          const reason = reasonOf(exit)
          assert.strictEqual(reason._tag, "SocketCloseError")
          break
        }
        let pulled = 0
        for (const chunk of exit.value) {
          received.push(chunk as Uint8Array)
          pulled += chunk.length
        }
        total += pulled
        largestPull = Math.max(largestPull, pulled)
        // A slow consumer: the socket must pause rather than queue all 8 MiB.
        if (received.length % 4 === 0) yield* Effect.sleep("2 millis")
      }
      assert.strictEqual(total, size)
      assert.isTrue(Buffer.concat(received).equals(sent), "bytes arrive complete and in order")
      // Paused above the mark: one pull never holds much more than the mark
      // plus one socket read (Node reads at most 64 KiB at a time).
      assert.isAtMost(largestPull, highWaterMark + 64 * 1024)
    })))

  it.live("writes reach the peer, and writeAll keeps order", () =>
    Effect.scoped(Effect.gen(function*() {
      let got = ""
      let done: (() => void) | undefined
      const port = yield* server((s) =>
        s.on("data", (d) => {
          got += d.toString()
          if (got.endsWith("!")) done?.()
        })
      )
      const socket = socketTo(port)
      yield* socket.reader
      const writer = yield* socket.writer
      yield* writer.write("one,")
      yield* writer.writeAll([new TextEncoder().encode("two,"), "three", "!"])
      yield* Effect.callback<void>((resume) => {
        if (got.endsWith("!")) resume(Effect.void)
        else done = () => resume(Effect.void)
      })
      assert.strictEqual(got, "one,two,three!")
    })))

  it.live("writeAll of many large chunks (views, Buffers, Uint8Arrays) reaches the peer byte for byte, in order", () =>
    Effect.scoped(Effect.gen(function*() {
      // What the connection's writer hands over for a batch of large SETs:
      // small header runs between large bodies, some of them views into a
      // bigger buffer; two batches back to back, the second written while
      // the first still waits in the socket (well past its high-water mark).
      const source = pattern(6 * 1024 * 1024)
      const batch = (offset: number): Array<Uint8Array> => {
        const chunks: Array<Uint8Array> = []
        let at = offset
        for (let i = 0; i < 60; i++) {
          const size = 1 + ((i * 7919) % (96 * 1024))
          chunks.push(new Uint8Array(source.subarray(at, at + 24))) // a copied header run
          chunks.push(i % 2 === 0 ? source.subarray(at + 24, at + 24 + size) : Uint8Array.from(source.subarray(at + 24, at + 24 + size)))
          at += 24 + size
        }
        return chunks
      }
      const batches = [batch(0), batch(3 * 1024 * 1024)]
      const expected = Buffer.concat(batches.flat())
      const received: Array<Buffer> = []
      let got = 0
      let done: (() => void) | undefined
      const port = yield* server((s) =>
        s.on("data", (d: Buffer) => {
          received.push(d)
          got += d.length
          if (got >= expected.length) done?.()
        })
      )
      const socket = socketTo(port)
      yield* socket.reader
      const writer = yield* socket.writer
      for (const chunks of batches) yield* writer.writeAll(chunks as [Uint8Array, ...Array<Uint8Array>])
      yield* Effect.callback<void>((resume) => {
        if (got >= expected.length) resume(Effect.void)
        else done = () => resume(Effect.void)
      })
      assert.strictEqual(got, expected.length)
      assert.isTrue(Buffer.concat(received).equals(expected), "every byte, in order")
    })))

  it.live("a refused connection fails the reader with SocketOpenError", () =>
    Effect.gen(function*() {
      // A port that was just free: bind, read it, close.
      const port = yield* Effect.scoped(server(() => {}))
      const exit = yield* Effect.exit(Effect.scoped(socketTo(port).reader))
      const reason = reasonOf(exit)
      assert.strictEqual(reason._tag, "SocketOpenError")
      assert.strictEqual((reason as Socket.SocketOpenError).kind, "Unknown")
    }))

  it.live("a TLS dial to a peer that never answers the handshake times out", () =>
    Effect.scoped(Effect.gen(function*() {
      const port = yield* server(() => {})
      const started = Date.now()
      const exit = yield* Effect.exit(Effect.scoped(socketTo(port, { tls: true, openTimeoutMs: 200 }).reader))
      const reason = reasonOf(exit)
      assert.strictEqual(reason._tag, "SocketOpenError")
      assert.strictEqual((reason as Socket.SocketOpenError).kind, "Timeout")
      assert.isAtLeast(Date.now() - started, 150)
    })))

  it.live("a peer reset fails a parked pull", () =>
    Effect.scoped(Effect.gen(function*() {
      let peer: Net.Socket | undefined
      const port = yield* server((s) => {
        peer = s
      })
      const reader = yield* socketTo(port).reader
      yield* Effect.sleep("20 millis")
      assert.isDefined(peer)
      setTimeout(() => peer!.resetAndDestroy(), 20)
      const exit = yield* Effect.exit(reader.pull)
      const reason = reasonOf(exit)
      assert.oneOf(reason._tag, ["SocketReadError", "SocketCloseError"])
    })))

  it.live("writing before the dial or after the close fails SocketWriteError", () =>
    Effect.scoped(Effect.gen(function*() {
      const port = yield* server(() => {})
      const socket = socketTo(port)
      const writer = yield* socket.writer
      const early = yield* Effect.exit(writer.write("x"))
      assert.strictEqual(reasonOf(early)._tag, "SocketWriteError")
      yield* Effect.scoped(socket.reader)
      const late = yield* Effect.exit(writer.write("x"))
      assert.strictEqual(reasonOf(late)._tag, "SocketWriteError")
    })))

  it.live("closing the reader's scope fails a pull parked in another fiber and closes the socket", () =>
    Effect.scoped(Effect.gen(function*() {
      let peerClosed = false
      const port = yield* server((s) => s.on("close", () => (peerClosed = true)))
      const readerScope = yield* Scope.make()
      const reader = yield* Scope.provide(socketTo(port).reader, readerScope)
      const parked = yield* Effect.forkChild(Effect.exit(reader.pull))
      yield* Effect.sleep("20 millis")
      yield* Scope.close(readerScope, Exit.void)
      const reason = reasonOf(yield* Fiber.join(parked))
      assert.strictEqual(reason._tag, "SocketCloseError")
      assert.strictEqual((reason as Socket.SocketCloseError).code, 1006)
      yield* Effect.sleep("50 millis")
      assert.isTrue(peerClosed, "the peer sees the socket close")
    })))
})

/**
 * A sink that keeps a copy of every byte, and names a buffer of its own for
 * the next read every third read (as the decoder does for a large body).
 */
const recordingSink = (options: { readonly stopAfter?: number } = {}) => {
  const received: Array<Buffer> = []
  const memory = new Set<ArrayBufferLike>()
  let reads = 0
  let direct = 0
  let target: Uint8Array | undefined
  const sink: ReadSink = {
    onBytes: (chunk) => {
      memory.add(chunk.buffer)
      received.push(Buffer.from(chunk))
      reads++
      return options.stopAfter === undefined || reads < options.stopAfter
    },
    readTarget: () => {
      target = reads % 3 === 2 ? new Uint8Array(50_000) : undefined
      return target
    },
    onTargetFilled: (n) => {
      received.push(Buffer.from(target!.subarray(0, n)))
      direct += n
      reads++
      return true
    }
  }
  return {
    sink,
    received,
    get direct() {
      return direct
    },
    /** How many distinct memory blocks the chunks handed to `onBytes` lived in. */
    get blocks() {
      return memory.size
    }
  }
}

/**
 * A server whose one peer socket is handed back (after it `greets` with
 * some bytes, if given), and this socket's reader, which can `listen`.
 */
const peerAndReader = (greeting?: string) =>
  Effect.gen(function*() {
    let peer: Net.Socket | undefined
    const port = yield* server((s) => {
      peer = s
      if (greeting !== undefined) s.write(greeting)
    })
    const reader = (yield* socketTo(port).reader) as DirectReader
    return { reader, peer: () => peer! }
  })

describe("FlowingSocket: listen (the push path)", () => {
  for (const dataEvents of [false, true]) {
    const how = dataEvents ? "`data` events (as TLS)" : "`onread`"
    it.live(`hands every byte in order, then fails with the end (${how})`, () =>
      Effect.scoped(Effect.gen(function*() {
        const size = 4 * 1024 * 1024
        const sent = pattern(size)
        const port = yield* server((s) => s.end(sent))
        const reader = (yield* socketTo(port, { dataEvents }).reader) as DirectReader
        const recorder = recordingSink()
        const exit = yield* Effect.exit(reader.listen(recorder.sink))
        assert.strictEqual(reasonOf(exit)._tag, "SocketCloseError")
        assert.isTrue(Buffer.concat(recorder.received).equals(sent), "every byte, in order")
        if (dataEvents) {
          // `data` chunks are fresh buffers; no read goes to a named buffer.
          assert.strictEqual(recorder.direct, 0)
        } else {
          // Reads went to the named buffers, and every other read reused one
          // block of memory: nothing is allocated per read.
          assert.isAbove(recorder.direct, 0)
          assert.isAtMost(recorder.blocks, 2)
        }
      })))
  }

  it.live("bytes that arrived before listen come first, in order", () =>
    Effect.scoped(Effect.gen(function*() {
      const { peer, reader } = yield* peerAndReader("one,")
      yield* Effect.sleep("50 millis")
      const recorder = recordingSink()
      const fiber = yield* Effect.forkChild(reader.listen(recorder.sink))
      yield* Effect.sleep("10 millis")
      peer().end("two")
      const exit = yield* Fiber.await(fiber)
      assert.strictEqual(reasonOf(exit)._tag, "SocketCloseError")
      assert.strictEqual(Buffer.concat(recorder.received).toString(), "one,two")
    })))

  it.live("a sink that stops ends listen; later bytes wait for pull, intact", () =>
    Effect.scoped(Effect.gen(function*() {
      const { peer, reader } = yield* peerAndReader("first")
      const recorder = recordingSink({ stopAfter: 1 })
      yield* reader.listen(recorder.sink)
      assert.strictEqual(Buffer.concat(recorder.received).toString(), "first")
      peer().write("second")
      yield* Effect.sleep("20 millis")
      peer().write("third")
      yield* Effect.sleep("20 millis")
      const chunks = yield* reader.pull
      assert.strictEqual(Buffer.concat(chunks as ReadonlyArray<Uint8Array>).toString(), "secondthird")
    })))

  it.live("an interrupted listen detaches its sink: pull gets what comes next", () =>
    Effect.scoped(Effect.gen(function*() {
      const { peer, reader } = yield* peerAndReader()
      const recorder = recordingSink()
      const fiber = yield* Effect.forkChild(reader.listen(recorder.sink))
      yield* Effect.sleep("20 millis")
      peer().write("to the sink")
      yield* Effect.sleep("20 millis")
      yield* Fiber.interrupt(fiber)
      peer().write("to pull")
      const chunks = yield* reader.pull
      assert.strictEqual(Buffer.concat(recorder.received).toString(), "to the sink")
      assert.strictEqual(Buffer.concat(chunks as ReadonlyArray<Uint8Array>).toString(), "to pull")
    })))
})
