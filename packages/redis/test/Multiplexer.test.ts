/**
 * `internal/Multiplexer.ts` over a fake transport that records every write:
 * a command whose caller was interrupted before it was written is dropped
 * from the batch (alone, or a whole pipeline), while the commands of other
 * callers in the same batch are written; one interrupted after the write
 * keeps its place and its reply goes nowhere else.
 */
import { assert, describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"
import * as Socket from "effect/socket/Socket"
import * as Commands from "../src/Commands.ts"
import * as Connection from "../src/Connection.ts"
import * as RedisConfig from "../src/RedisConfig.ts"
import { Transport } from "../src/Transport.ts"

interface Fake {
  readonly transport: Transport["Service"]
  /** Every write of the data connection, decoded as text. */
  readonly writes: Array<string>
  readonly reply: (text: string) => void
}

const makeFake = (): Fake => {
  const writes: Array<string> = []
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
  const write = (chunk: Uint8Array | string | Socket.CloseEvent) =>
    Effect.sync(() => {
      if (chunk instanceof Uint8Array) writes.push(new TextDecoder().decode(chunk))
    })
  const socket = Socket.make({
    reader: Effect.succeed({ pull, upgrade: () => Effect.die("no upgrade") } as never),
    writer: Effect.succeed({ write, writeAll: (cs: ReadonlyArray<Uint8Array>) => Effect.forEach(cs, write, { discard: true }) } as never)
  })
  return {
    writes,
    reply: (text) => {
      queued.push(new TextEncoder().encode(text))
      deliver()
    },
    transport: { open: () => Effect.succeed(socket) }
  }
}

const connect = (fake: Fake) =>
  Effect.tap(
    Connection.make({ endpoint: RedisConfig.tcp("fake", 1), protocol: 2, setInfo: false, stallTimeout: 0 }).pipe(
      Effect.provideService(Transport, fake.transport)
    ),
    (c) => c.awaitReady
  )

const settle = Effect.andThen(Effect.yieldNow, Effect.yieldNow)

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
