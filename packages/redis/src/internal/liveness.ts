/**
 * The watchers of a ready session: whether its server is still there.
 *
 * - **The watcher** (one timer per connection, not per command) enforces
 *   `commandTimeout` on the oldest written command, and detects a dead peer:
 *   when the oldest command awaiting a reply has seen no byte from the
 *   server for `stallTimeout`, it probes the server on a new, short-lived
 *   connection (`probe`: a `PING`; any reply counts, even `-BUSY` or
 *   `-NOAUTH`). No reply within `probeTimeout` ends the session with
 *   `Timeout`/`Unknown`. A server that answers the probe is busy, not dead
 *   (a blocking command waiting for data, a long script): the connection
 *   is left alone and the next probe waits twice as long, up to once a
 *   minute (`probeAfter`).
 * - **The health check** PINGs an idle connection every
 *   `healthCheckInterval` (off by default).
 *
 * Why a side connection: replies come in order, so a PING on the stalled
 * connection would wait behind the command it is meant to vouch for; and a
 * frozen process (SIGSTOP) still has its kernel acknowledge TCP keepalives,
 * so only an answer from the process itself tells frozen from busy.
 *
 * It does not end the session itself or decide what happens to the
 * commands in flight: it calls `kill`, and the connection's lifecycle
 * fails or resends them (`Multiplexer.failPending`) and reconnects. Nothing
 * here runs per command: the hot path pays one counter increment per read
 * batch (`Multiplexer.reads`).
 *
 * @internal
 */
import * as Clock from "effect/Clock"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import type * as Scope from "effect/Scope"
import type * as Socket from "effect/socket/Socket"
import type { Command } from "../Command.ts"
import * as Cmd from "../Command.ts"
import * as RedisConfig from "../RedisConfig.ts"
import * as RedisError from "../RedisError.ts"
import type { Transport } from "../Transport.ts"
import type { Multiplexer } from "./Multiplexer.ts"

// -----------------------------------------------------------------------------
// the stall decision (pure)
// -----------------------------------------------------------------------------

/**
 * After a probe was answered, the next one waits at most this long (while
 * the same stall lasts): a blocking command that waits an hour costs about
 * one probe connection a minute.
 *
 * @internal
 */
export const MAX_PROBE_INTERVAL_MS = 60_000

/**
 * What the watcher remembers between ticks about the connection's progress.
 *
 * @internal
 */
export interface Progress {
  /** The connection's read counter at the last tick. */
  readonly reads: number
  /** When progress was last seen (ms): a read, or nothing awaited a reply. */
  readonly since: number
  /** Probes the server answered since then. */
  readonly answered: number
}

/**
 * Progress seen at `now`.
 *
 * @internal
 */
export const progressAt = (now: number, reads: number): Progress => ({ reads, since: now, answered: 0 })

/**
 * How long a stall lasts before the next probe: `stallMs`, doubled after
 * each answered probe, at most `MAX_PROBE_INTERVAL_MS` (never less than
 * `stallMs`).
 *
 * @internal
 */
export const probeAfter = (stallMs: number, answered: number): number =>
  Math.min(stallMs * 2 ** Math.min(answered, 30), Math.max(stallMs, MAX_PROBE_INTERVAL_MS))

/**
 * One tick of the watcher: `reads` is the connection's read counter now,
 * `awaiting` whether a written command awaits its reply. A read, or nothing
 * awaited, is progress; otherwise it is time to probe once the stall has
 * lasted `probeAfter`.
 *
 * @internal
 */
export const observe = (
  progress: Progress,
  now: number,
  reads: number,
  awaiting: boolean,
  stallMs: number
): { readonly progress: Progress; readonly probe: boolean } => {
  if (!awaiting || reads !== progress.reads) return { progress: progressAt(now, reads), probe: false }
  return { progress, probe: now - progress.since >= probeAfter(stallMs, progress.answered) }
}

/**
 * The server answered a probe at `now`: the stall goes on, the next probe
 * waits longer.
 *
 * @internal
 */
export const answered = (progress: Progress, now: number): Progress => ({
  reads: progress.reads,
  since: now,
  answered: progress.answered + 1
})

/**
 * Whether the oldest written command is past `commandTimeout`: written
 * (`sentAt` > 0), not blocking, and older than `timeoutMs`.
 *
 * @internal
 */
export const isLate = (sentAt: number, flags: number, now: number, timeoutMs: number): boolean =>
  (flags & Cmd.Flags.BLOCKING) === 0 && sentAt > 0 && now - sentAt > timeoutMs

/**
 * The watcher's tick: a quarter of `commandTimeout` (at most 1 s), a tenth
 * of `stallTimeout` (at most 500 ms), whichever is shorter; at least 10 ms.
 * A probe therefore goes out between `stallTimeout` − 1 tick and
 * `stallTimeout` + 2 ticks after the last byte read.
 *
 * @internal
 */
export const tickMillis = (commandTimeoutMs: number, stallMs: number): number => {
  let tick = Infinity
  if (commandTimeoutMs > 0) tick = Math.min(tick, 1000, commandTimeoutMs / 4)
  if (stallMs > 0) tick = Math.min(tick, 500, stallMs / 10)
  return Math.max(10, tick)
}

// -----------------------------------------------------------------------------
// the probe
// -----------------------------------------------------------------------------

/**
 * What a probe found.
 *
 * @internal
 */
export type Verdict =
  | { readonly _tag: "Alive" }
  | { readonly _tag: "Dead"; readonly why: string }

const ALIVE: Verdict = { _tag: "Alive" }

// PING as a RESP array; the first bytes of any reply answer it.
const PING = new TextEncoder().encode("*1\r\n$4\r\nPING\r\n")

const socketWhy = (error: Socket.SocketError): string => {
  const reason = error.reason
  const cause = "cause" in reason ? reason.cause : undefined
  return cause instanceof Error ? `${reason._tag}: ${cause.message}` : reason._tag
}

/**
 * Asks the server whether it is alive: dials a new connection (TLS
 * included, no handshake and no credentials sent) and writes `PING`; the
 * first bytes of any reply are a yes. No reply within `timeoutMs` (or a
 * failed dial, or a close without a byte) is a no. The connection is
 * closed either way.
 *
 * @internal
 */
export const probe = (
  transport: Transport["Service"],
  options: RedisConfig.ConnectionOptions,
  timeoutMs: number
): Effect.Effect<Verdict> => {
  const dial = Effect.scoped(Effect.gen(function*() {
    const socket = yield* transport.open({ ...options, connectTimeout: Duration.millis(timeoutMs) })
    const reader = yield* socket.reader
    const writer = yield* socket.writer
    yield* writer.write(PING)
    yield* reader.pull
    return ALIVE
  }))
  return Effect.timeoutOrElse(
    Effect.catch(dial, (e): Effect.Effect<Verdict> => Effect.succeed({ _tag: "Dead", why: socketWhy(e) })),
    {
      duration: Duration.millis(timeoutMs),
      orElse: () => Effect.succeed<Verdict>({ _tag: "Dead", why: `no reply within ${timeoutMs} ms` })
    }
  )
}

// -----------------------------------------------------------------------------
// the watchers
// -----------------------------------------------------------------------------

/**
 * The settings of one connection's watcher, from its options.
 *
 * @internal
 */
export interface WatchSettings {
  readonly commandTimeoutMs: number
  /** 0: no dead-peer detection. */
  readonly stallMs: number
  readonly probeMs: number
}

const millisOf = (input: Duration.Input | undefined, fallback: Duration.Duration): number =>
  Duration.toMillis(input === undefined ? fallback : Duration.fromInputUnsafe(input))

/**
 * @internal
 */
export const settingsOf = (options: RedisConfig.ConnectionOptions, commandTimeoutMs: number): WatchSettings => ({
  commandTimeoutMs,
  stallMs: millisOf(options.stallTimeout, RedisConfig.defaultStallTimeout),
  probeMs: millisOf(options.probeTimeout, RedisConfig.defaultProbeTimeout)
})

/**
 * Whether a session needs the watcher at all.
 *
 * @internal
 */
export const watches = (settings: WatchSettings): boolean => settings.commandTimeoutMs > 0 || settings.stallMs > 0

/**
 * The watcher of one ready session (see the module comment). `kill` ends
 * the session; `probe` asks the server on a side connection. A probe runs
 * in its own fiber of the session's scope, so `commandTimeout` keeps being
 * checked meanwhile.
 *
 * @internal
 */
export const watch = (
  mux: Multiplexer,
  kill: (error: RedisError.RedisError) => void,
  settings: WatchSettings,
  probeServer: Effect.Effect<Verdict>
): Effect.Effect<never, never, Scope.Scope> =>
  Effect.gen(function*() {
    const { commandTimeoutMs, stallMs } = settings
    const period = Duration.millis(tickMillis(commandTimeoutMs, stallMs))
    // The stall is timed by the Effect clock (a `TestClock` in unit tests);
    // `commandTimeout` by `performance.now()`, which stamps written commands.
    const clock = yield* Clock.Clock
    const clockNow = () => Number(clock.monotonicTimeNanosUnsafe() / 1_000_000n)
    let progress = progressAt(clockNow(), mux.reads)
    let probing = false
    const onVerdict = (stall: Progress, verdict: Verdict) =>
      Effect.sync(() => {
        probing = false
        // Something was read meanwhile: the peer is alive, whatever the probe says.
        if (mux.reads !== stall.reads) return
        if (verdict._tag === "Alive") {
          if (progress === stall) progress = answered(stall, clockNow())
          return
        }
        const quiet = clockNow() - stall.since
        kill(RedisError.make(
          new RedisError.Timeout({
            message: `${mux.address} stopped answering: nothing read for ${quiet} ms with a command awaiting its ` +
              `reply, and a PING on a new connection got ${verdict.why}`,
            millis: quiet
          }),
          "Unknown"
        ))
      })
    while (true) {
      yield* Effect.sleep(period)
      const head = mux.pending.peek()
      if (
        commandTimeoutMs > 0 && head !== undefined &&
        isLate(head.sentAt, head.command.flags, performance.now(), commandTimeoutMs)
      ) {
        kill(RedisError.make(
          new RedisError.Timeout({
            message: `no reply from ${mux.address} within ${commandTimeoutMs} ms`,
            millis: commandTimeoutMs
          }),
          "Unknown"
        ))
      }
      if (stallMs <= 0) continue
      const step = observe(progress, clockNow(), mux.reads, head !== undefined, stallMs)
      progress = step.progress
      if (step.probe && !probing) {
        probing = true
        const stall = progress
        yield* Effect.forkScoped(Effect.flatMap(probeServer, (verdict) => onVerdict(stall, verdict)))
      }
    }
  })

/**
 * A PING when the connection is idle; no reply within the interval ends the
 * session. Connections with `onPush` (subscriber, MONITOR) are not pinged:
 * on them a frame that arrives while nothing waits is not a reply.
 *
 * @internal
 */
export const healthCheck = (
  mux: Multiplexer,
  kill: (error: RedisError.RedisError) => void,
  interval: Duration.Input
): Effect.Effect<never> =>
  Effect.gen(function*() {
    const ping: Command<unknown> = Cmd.unsafeMake("PING", ["PING"], [], Cmd.Flags.READONLY, Cmd.Reply.raw)
    while (true) {
      yield* Effect.sleep(interval)
      if (mux.pending.length > 0 || mux.outbox.length > 0 || mux.hasPushHandler) continue
      const result = yield* Effect.timeoutOption(Effect.exit(mux.send(ping)), interval)
      if (result._tag === "None") {
        kill(RedisError.make(
          new RedisError.Timeout({
            message: `health check PING to ${mux.address} got no reply`,
            millis: Duration.toMillis(Duration.fromInputUnsafe(interval))
          }),
          "Unknown"
        ))
      }
    }
  })
