/**
 * `internal/liveness.ts`: the pure stall decision (`observe`, `answered`,
 * `probeAfter`, `isLate`, `tickMillis`), then dead-peer detection wired
 * into a `Connection` over a fake transport under the `TestClock`: a
 * silent peer whose probe gets no answer fails the write in flight
 * `Timeout`/`Unknown`; a probe that is answered leaves the connection alone
 * and the next one waits twice as long; `stallTimeout: 0` turns detection
 * off; a blocking command is probed too but not killed while the server
 * answers.
 */
import { assert, describe, it } from "@effect/vitest"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"
import * as Socket from "effect/socket/Socket"
import { TestClock } from "effect/testing"
import * as Cmd from "../src/Command.ts"
import * as Commands from "../src/Commands.ts"
import * as Connection from "../src/Connection.ts"
import * as Liveness from "../src/internal/liveness.ts"
import * as RedisConfig from "../src/RedisConfig.ts"
import * as RedisError from "../src/RedisError.ts"
import { Transport } from "../src/Transport.ts"

// -----------------------------------------------------------------------------
// the pure decision
// -----------------------------------------------------------------------------

describe("the stall decision", () => {
  const STALL = 5000

  it("a read or nothing awaited is progress; a quiet connection with a command awaited probes after stallTimeout", () => {
    let p = Liveness.progressAt(0, 7)
    let step = Liveness.observe(p, 4999, 7, true, STALL)
    assert.isFalse(step.probe)
    assert.strictEqual(step.progress, p, "unchanged while quiet")
    step = Liveness.observe(p, 5000, 7, true, STALL)
    assert.isTrue(step.probe)
    // A read resets the stall.
    step = Liveness.observe(p, 6000, 8, true, STALL)
    assert.isFalse(step.probe)
    assert.deepStrictEqual(step.progress, { reads: 8, since: 6000, answered: 0 })
    // Nothing awaited: idle is not a stall, however long.
    p = Liveness.progressAt(0, 7)
    step = Liveness.observe(p, 60_000, 7, false, STALL)
    assert.isFalse(step.probe)
    assert.deepStrictEqual(step.progress, { reads: 7, since: 60_000, answered: 0 })
  })

  it("each answered probe doubles the wait before the next, up to once a minute", () => {
    assert.deepStrictEqual(
      [0, 1, 2, 3, 4, 5, 40].map((n) => Liveness.probeAfter(STALL, n)),
      [5000, 10_000, 20_000, 40_000, 60_000, 60_000, 60_000]
    )
    // A stallTimeout above the cap is never shortened.
    assert.strictEqual(Liveness.probeAfter(90_000, 3), 90_000)
    let p = Liveness.progressAt(0, 1)
    p = Liveness.answered(p, 5500)
    assert.deepStrictEqual(p, { reads: 1, since: 5500, answered: 1 })
    assert.isFalse(Liveness.observe(p, 15_499, 1, true, STALL).probe)
    assert.isTrue(Liveness.observe(p, 15_500, 1, true, STALL).probe)
    // A read after answered probes starts afresh.
    assert.deepStrictEqual(Liveness.observe(p, 16_000, 2, true, STALL).progress, { reads: 2, since: 16_000, answered: 0 })
  })

  it("commandTimeout: only a written, non-blocking command older than the timeout is late", () => {
    assert.isFalse(Liveness.isLate(100, 0, 350, 300), "not yet")
    assert.isTrue(Liveness.isLate(100, 0, 401, 300))
    assert.isFalse(Liveness.isLate(0, 0, 10_000, 300), "not written (sentAt 0)")
    assert.isFalse(Liveness.isLate(100, Cmd.Flags.BLOCKING, 10_000, 300), "blocking")
  })

  it("the tick: a tenth of stallTimeout up to 500 ms, a quarter of commandTimeout up to 1 s, at least 10 ms", () => {
    assert.strictEqual(Liveness.tickMillis(0, 5000), 500)
    assert.strictEqual(Liveness.tickMillis(0, 2000), 200)
    assert.strictEqual(Liveness.tickMillis(300, 5000), 75)
    assert.strictEqual(Liveness.tickMillis(10_000, 0), 1000)
    assert.strictEqual(Liveness.tickMillis(20, 50), 10)
  })

  it("settings: the defaults, and stallTimeout 0 with commandTimeout off needs no watcher", () => {
    const endpoint = RedisConfig.tcp("h", 1)
    const defaults = Liveness.settingsOf({ endpoint }, 0)
    assert.deepStrictEqual(defaults, { commandTimeoutMs: 0, stallMs: 5000, probeMs: 3000 })
    assert.isTrue(Liveness.watches(defaults))
    const off = Liveness.settingsOf({ endpoint, stallTimeout: 0 }, 0)
    assert.isFalse(Liveness.watches(off))
    assert.isTrue(Liveness.watches(Liveness.settingsOf({ endpoint, stallTimeout: 0 }, 300)))
    assert.deepStrictEqual(Liveness.settingsOf({ endpoint, stallTimeout: "2 seconds", probeTimeout: "1 second" }, 0), {
      commandTimeoutMs: 0,
      stallMs: 2000,
      probeMs: 1000
    })
  })
})

// -----------------------------------------------------------------------------
// a connection over a fake transport
// -----------------------------------------------------------------------------

/** What a probe's socket does: answers `+PONG`, or never says anything. */
type ProbeAnswer = "answer" | "silent"

interface Fake {
  readonly transport: Transport["Service"]
  /** Probe sockets opened so far. */
  readonly probes: () => number
  /** Data connections opened so far. */
  readonly dials: () => number
  /** Sends bytes to the current data connection. */
  readonly reply: (text: string) => void
}

// A socket whose `pull` waits for what `push` queues; `onWrite` sees each write.
const fakeSocket = (onWrite: (push: (text: string) => void) => void) => {
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
  const push = (text: string) => {
    queued.push(new TextEncoder().encode(text))
    deliver()
  }
  const pull = Effect.callback<Array<Uint8Array>, Socket.SocketError>((resume) => {
    waiter = resume
    deliver()
  })
  const write = () => Effect.sync(() => onWrite(push))
  const socket = Socket.make({
    reader: Effect.succeed({ pull, upgrade: () => Effect.die("no upgrade") } as never),
    writer: Effect.succeed({ write, writeAll: write } as never)
  })
  return { socket, push }
}

const makeFake = (probeAnswer: ProbeAnswer): Fake => {
  let probes = 0
  let dials = 0
  let current: ((text: string) => void) | undefined
  return {
    probes: () => probes,
    dials: () => dials,
    reply: (text) => current?.(text),
    transport: {
      open: (options) =>
        Effect.sync(() => {
          // The probe dials with its own bound as the connect timeout.
          if (options.connectTimeout !== undefined) {
            probes++
            return fakeSocket((push) => {
              if (probeAnswer === "answer") push("+PONG\r\n")
            }).socket
          }
          dials++
          const s = fakeSocket(() => {})
          current = s.push
          return s.socket
        })
    }
  }
}

const connect = (fake: Fake, options?: Partial<RedisConfig.ConnectionOptions>) =>
  Effect.tap(
    Connection.make({ endpoint: RedisConfig.tcp("fake", 1), protocol: 2, setInfo: false, ...options }).pipe(
      Effect.provideService(Transport, fake.transport)
    ),
    (c) => c.awaitReady
  )

// Lets the flush and the fibers woken by the clock run.
const settle = Effect.andThen(Effect.yieldNow, Effect.yieldNow)

const advance = (duration: Duration.Input) => Effect.andThen(TestClock.adjust(duration), settle)

describe("dead-peer detection on a connection (TestClock)", () => {
  it.effect("a silent peer: the write in flight fails Timeout/Unknown once the probe got no answer, and the connection redials", () =>
    Effect.gen(function*() {
      const fake = makeFake("silent")
      const connection = yield* connect(fake)
      const write = yield* Effect.forkChild(connection.send(Commands.incr("k")))
      yield* settle
      yield* advance("4 seconds")
      assert.strictEqual(fake.probes(), 0, "no probe before stallTimeout")
      yield* advance("1500 millis")
      assert.strictEqual(fake.probes(), 1, "a probe after stallTimeout")
      assert.isUndefined(write.pollUnsafe(), "still waiting while the probe runs")
      yield* advance("3 seconds")
      const exit = yield* Fiber.await(write)
      const error = RedisError.failureOf(exit)
      assert.strictEqual(error?.reason._tag, "Timeout")
      assert.strictEqual(error?.outcome, "Unknown")
      assert.match(error!.message, /stopped answering.*no reply within 3000 ms/)
      yield* advance("200 millis")
      assert.strictEqual(fake.dials(), 2, "the dead connection was replaced")
    }).pipe(Effect.scoped))

  it.effect("a probe that is answered leaves the connection alone; the next probe waits twice as long", () =>
    Effect.gen(function*() {
      const fake = makeFake("answer")
      const connection = yield* connect(fake)
      const slow = yield* Effect.forkChild(connection.send(Commands.incr("k")))
      yield* settle
      yield* advance("5500 millis")
      assert.strictEqual(fake.probes(), 1)
      yield* advance("9 seconds")
      assert.strictEqual(fake.probes(), 1, "the next probe waits 10 s after the answer")
      yield* advance("1500 millis")
      assert.strictEqual(fake.probes(), 2)
      fake.reply(":1\r\n")
      assert.deepStrictEqual(yield* Fiber.await(slow), Exit.succeed(1))
      assert.strictEqual(fake.dials(), 1, "never replaced")
    }).pipe(Effect.scoped))

  it.effect("a blocking command is probed too, and not killed while the server answers", () =>
    Effect.gen(function*() {
      const fake = makeFake("answer")
      const connection = yield* connect(fake)
      const pop = yield* Effect.forkChild(connection.send(Commands.blpop("q", 0)))
      yield* settle
      yield* advance("2 minutes")
      assert.isAtLeast(fake.probes(), 4)
      assert.isUndefined(pop.pollUnsafe(), "still waiting")
      assert.strictEqual(fake.dials(), 1)
    }).pipe(Effect.scoped))

  it.effect("stallTimeout: 0 turns detection off", () =>
    Effect.gen(function*() {
      const fake = makeFake("silent")
      const connection = yield* connect(fake, { stallTimeout: 0 })
      const write = yield* Effect.forkChild(connection.send(Commands.incr("k")))
      yield* settle
      yield* advance("5 minutes")
      assert.strictEqual(fake.probes(), 0)
      assert.isUndefined(write.pollUnsafe())
    }).pipe(Effect.scoped))

  it.effect("a reply arriving during the probe wins over a probe that got no answer", () =>
    Effect.gen(function*() {
      const fake = makeFake("silent")
      const connection = yield* connect(fake)
      const first = yield* Effect.forkChild(connection.send(Commands.incr("a")))
      const second = yield* Effect.forkChild(connection.send(Commands.incr("b")))
      yield* settle
      yield* advance("5500 millis")
      assert.strictEqual(fake.probes(), 1)
      fake.reply(":1\r\n")
      assert.deepStrictEqual(yield* Fiber.await(first), Exit.succeed(1))
      yield* advance("3 seconds")
      assert.isUndefined(second.pollUnsafe(), "the peer read meanwhile: not declared dead")
      assert.strictEqual(fake.dials(), 1)
    }).pipe(Effect.scoped))
})
