/**
 * The process behind a `RedisServer` handle: one `redis-server` child at a
 * time, started and waited for until it is ready, then killed, stopped,
 * paused or resumed on request. `start` after `stop` makes a new incarnation
 * with the same arguments (that is `restart`).
 *
 * It knows how to spawn and signal the process, not how to talk to it: the
 * caller supplies the readiness probe (a `PING` through `redis-cli`). Closing
 * the scope stops the current incarnation.
 *
 * @internal
 */
import * as Fs from "node:fs"
import * as Effect from "effect/Effect"
import type * as Scope from "effect/Scope"
import { ServerError } from "../ServerError.ts"
import * as Proc from "./process.ts"

/** How to run the server and how to tell that it is ready. */
export interface ServerProcessOptions {
  /** `redis-server` arguments (config file first). */
  readonly args: ReadonlyArray<string>
  readonly port: number
  /** The server's log file, quoted in startup failures. */
  readonly logFile: string
  readonly startTimeoutMillis: number
  /** True once the server serves commands; polled every 25 ms during startup. */
  readonly ready: Effect.Effect<boolean>
}

/** The current incarnation and its controls. */
export interface ServerProcess {
  /** The pid of the current incarnation, -1 before the first start. */
  readonly pid: number
  readonly isAlive: Effect.Effect<boolean>
  /** Spawns an incarnation and waits until `ready`; a server that never gets ready is stopped. */
  readonly start: Effect.Effect<void, ServerError>
  readonly kill: Effect.Effect<void>
  readonly stop: Effect.Effect<void>
  readonly pause: Effect.Effect<void>
  readonly resume: Effect.Effect<void>
}

/** Process state letter from /proc (`T` = stopped), or undefined when unknown. */
const procState = (pid: number): string | undefined => {
  try {
    const stat = Fs.readFileSync(`/proc/${pid}/stat`, "utf8")
    // The command name is in parentheses and may contain spaces: the state
    // is the first field after the last ')'.
    return stat.slice(stat.lastIndexOf(")") + 2, stat.lastIndexOf(")") + 3)
  } catch {
    return undefined
  }
}

/** Polls `check` every 10 ms for up to `millis` (signals are delivered asynchronously). */
const pollUntil = (check: () => boolean, millis: number): Effect.Effect<void> =>
  Effect.gen(function*() {
    const deadline = Date.now() + millis
    while (!check() && Date.now() < deadline) yield* Proc.realSleep(10)
  })

/**
 * Prepares the controls; nothing runs until `start`. Closing the scope stops
 * whatever incarnation is current then.
 */
export const make = (options: ServerProcessOptions): Effect.Effect<ServerProcess, never, Scope.Scope> =>
  Effect.gen(function*() {
    const { logFile, port, ready, startTimeoutMillis } = options
    // One incarnation at a time; `start` replaces it.
    let current: Proc.Child | undefined
    yield* Effect.addFinalizer(() => current === undefined ? Effect.void : Proc.stop(current))

    const start: Effect.Effect<void, ServerError> = Effect.gen(function*() {
      const child = yield* Proc.spawnTracked("redis-server", options.args)
      current = child
      const deadline = Date.now() + startTimeoutMillis
      const failure = (why: string) =>
        new ServerError({
          message: `redis-server on 127.0.0.1:${port} ${why}\n--- stderr ---\n${child.stderrTail().trim()}\n--- log (${logFile}) ---\n${
            Proc.fileTail(logFile, 20)
          }`
        })
      while (true) {
        if (!child.isAlive()) return yield* Effect.fail(failure("exited during startup"))
        if (yield* ready) return
        if (Date.now() > deadline) {
          return yield* Effect.fail(failure(`did not answer PING within ${startTimeoutMillis} ms`))
        }
        yield* Proc.realSleep(25)
      }
    }).pipe(
      // A server that never became ready must not outlive the failure.
      Effect.tapError(() => current === undefined ? Effect.void : Proc.stop(current, 500))
    )

    return {
      get pid() {
        return current?.pid ?? -1
      },
      isAlive: Effect.sync(() => current?.isAlive() ?? false),
      start,
      kill: Effect.suspend(() => {
        const child = current
        if (child === undefined) return Effect.void
        Proc.signal(child, "SIGKILL")
        return Proc.awaitExit(child)
      }),
      stop: Effect.suspend(() => current === undefined ? Effect.void : Proc.stop(current)),
      pause: Effect.suspend(() => {
        const child = current
        if (child === undefined || !child.isAlive()) return Effect.void
        Proc.signal(child, "SIGSTOP")
        return pollUntil(() => procState(child.pid) === "T" || !child.isAlive(), 1000)
      }),
      resume: Effect.suspend(() => {
        const child = current
        if (child === undefined || !child.isAlive()) return Effect.void
        Proc.signal(child, "SIGCONT")
        return pollUntil(() => procState(child.pid) !== "T", 1000)
      })
    }
  })
