/**
 * Child-process plumbing shared by the fixtures: run a command to completion,
 * spawn a long-lived child that is tracked until it exits, and the
 * `process.on("exit")` safety net that SIGKILLs every tracked child, plus a
 * watchdog per child for when this process is killed by a signal, so that a
 * test run never leaves a `redis-server` behind.
 *
 * Nothing here knows about Redis.
 *
 * @internal
 */
import * as ChildProcess from "node:child_process"
import * as Fs from "node:fs"
import * as Effect from "effect/Effect"
import type * as Scope from "effect/Scope"
import { ServerError } from "../ServerError.ts"

/** The result of a command that ran to completion. */
export interface RunResult {
  readonly code: number | null
  readonly signal: NodeJS.Signals | null
  readonly stdout: string
  readonly stderr: string
}

/**
 * Runs `command args` to completion and collects its output. Fails only when
 * the process could not be spawned or ran past `timeoutMillis`; a non-zero exit
 * code is data, for the caller to judge.
 */
export const run = (
  command: string,
  args: ReadonlyArray<string>,
  options: { readonly env?: Record<string, string>; readonly timeoutMillis?: number; readonly input?: string } = {}
): Effect.Effect<RunResult, ServerError> =>
  Effect.callback<RunResult, ServerError>((resume, signal) => {
    const child = ChildProcess.spawn(command, args, {
      stdio: [options.input === undefined ? "ignore" : "pipe", "pipe", "pipe"],
      env: options.env === undefined ? process.env : { ...process.env, ...options.env },
      // A short-lived helper can still hang (a server that never answers):
      // the timeout bounds every call, and the abort signal ties it to the fiber.
      timeout: options.timeoutMillis ?? 10_000,
      signal
    })
    const stdout: Array<Buffer> = []
    const stderr: Array<Buffer> = []
    child.stdout!.on("data", (chunk: Buffer) => stdout.push(chunk))
    child.stderr!.on("data", (chunk: Buffer) => stderr.push(chunk))
    if (options.input !== undefined) child.stdin!.end(options.input)
    child.on("error", (error) => {
      if (signal.aborted) return
      resume(Effect.fail(new ServerError({ message: `${command}: ${error.message}` })))
    })
    child.on("close", (code, exitSignal) => {
      if (signal.aborted) return
      resume(Effect.succeed({
        code,
        signal: exitSignal,
        stdout: Buffer.concat(stdout).toString("utf8"),
        stderr: Buffer.concat(stderr).toString("utf8")
      }))
    })
  })

/**
 * Runs a command and fails with its stderr unless it exits with code 0.
 * Returns stdout.
 */
export const runOk = (
  command: string,
  args: ReadonlyArray<string>,
  options: { readonly env?: Record<string, string>; readonly timeoutMillis?: number; readonly input?: string } = {}
): Effect.Effect<string, ServerError> =>
  Effect.flatMap(run(command, args, options), (result) =>
    result.code === 0
      ? Effect.succeed(result.stdout)
      : Effect.fail(
        new ServerError({
          message: `${command} ${args[0] ?? ""} exited with ${result.code ?? result.signal}: ${
            (result.stderr || result.stdout).trim()
          }`
        })
      ))

// -----------------------------------------------------------------------------
// long-lived children
// -----------------------------------------------------------------------------

/** A spawned long-lived process, tracked until it exits. */
export interface Child {
  readonly process: ChildProcess.ChildProcess
  readonly pid: number
  /** Resolves once the process has exited (never rejects). */
  readonly exited: Promise<void>
  readonly isAlive: () => boolean
  /** The last few KiB that the process wrote to stderr (startup errors land here before the log file opens). */
  readonly stderrTail: () => string
}

const live = new Set<ChildProcess.ChildProcess>()
const dirs = new Set<string>()
let safetyNetInstalled = false

// A test that crashes, or a worker that exits without closing its scopes,
// must not leave servers running: SIGKILL whatever is still tracked. `exit`
// handlers must be synchronous, and `process.kill` is.
const installSafetyNet = () => {
  if (safetyNetInstalled) return
  safetyNetInstalled = true
  process.on("exit", () => {
    for (const child of live) {
      try {
        child.kill("SIGKILL")
      } catch {
        // already gone
      }
    }
    for (const dir of dirs) {
      try {
        Fs.rmSync(dir, { recursive: true, force: true })
      } catch {
        // best effort: the process is exiting
      }
    }
  })
}

// The `exit` handler does not run when the process is killed by a signal
// (vitest SIGKILLs a worker that hangs, or after some failed runs). So each
// long-lived child also gets a watchdog: a detached `sh` that polls this
// process once a second and SIGKILLs the child once this process is gone.
// It is killed itself when the child exits normally.
const spawnWatchdog = (pid: number): ChildProcess.ChildProcess | undefined => {
  const script = `while kill -0 ${process.pid} 2>/dev/null; do sleep 1; done; kill -9 ${pid} 2>/dev/null`
  try {
    const watchdog = ChildProcess.spawn("sh", ["-c", script], { stdio: "ignore", detached: true })
    watchdog.on("error", () => {}) // no sh: the exit handler is all there is
    watchdog.unref()
    return watchdog
  } catch {
    return undefined
  }
}

/**
 * A temporary directory, removed when the scope closes or, failing that,
 * when the process exits.
 */
export const tempDirectory = (prefix: string): Effect.Effect<string, never, Scope.Scope> =>
  Effect.acquireRelease(
    Effect.sync(() => {
      installSafetyNet()
      const dir = Fs.mkdtempSync(prefix)
      dirs.add(dir)
      return dir
    }),
    (dir) =>
      Effect.sync(() => {
        dirs.delete(dir)
        Fs.rmSync(dir, { recursive: true, force: true })
      })
  )

const STDERR_TAIL = 8192

/** Spawns a long-lived child and tracks it for the exit safety net. */
export const spawnTracked = (command: string, args: ReadonlyArray<string>): Effect.Effect<Child, ServerError> =>
  Effect.callback<Child, ServerError>((resume) => {
    installSafetyNet()
    const child = ChildProcess.spawn(command, args, { stdio: ["ignore", "ignore", "pipe"] })
    let tail = ""
    let alive = true
    child.stderr!.on("data", (chunk: Buffer) => {
      tail = (tail + chunk.toString("utf8")).slice(-STDERR_TAIL)
    })
    let watchdog: ChildProcess.ChildProcess | undefined
    const exited = new Promise<void>((resolve) => {
      child.on("exit", () => {
        alive = false
        live.delete(child)
        if (watchdog?.pid !== undefined) {
          try {
            process.kill(watchdog.pid, "SIGKILL")
          } catch {
            // already gone
          }
        }
        resolve()
      })
    })
    child.on("error", (error) => {
      alive = false
      live.delete(child)
      resume(Effect.fail(new ServerError({ message: `cannot spawn ${command}: ${error.message}` })))
    })
    child.on("spawn", () => {
      live.add(child)
      watchdog = spawnWatchdog(child.pid!)
      resume(Effect.succeed({
        process: child,
        pid: child.pid!,
        exited,
        isAlive: () => alive,
        stderrTail: () => tail
      }))
    })
  })

/** Sends a signal and ignores "no such process". */
export const signal = (child: Child, sig: NodeJS.Signals): void => {
  if (!child.isAlive()) return
  try {
    process.kill(child.pid, sig)
  } catch {
    // raced with its exit
  }
}

/** The last `lines` lines of a log file, or a note when it cannot be read (yet). */
export const fileTail = (file: string, lines: number): string => {
  try {
    return Fs.readFileSync(file, "utf8").split("\n").slice(-lines - 1).join("\n").trim()
  } catch {
    return "(no log file)"
  }
}

/** Waits until the child has exited. */
export const awaitExit = (child: Child): Effect.Effect<void> => Effect.promise(() => child.exited)

/**
 * Sleeps on a real timer. Fixtures run inside `it.effect`, whose `TestClock`
 * never advances on its own, so waiting for a process must not go through the
 * Effect `Clock`.
 */
export const realSleep = (millis: number): Effect.Effect<void> =>
  Effect.callback<void>((resume) => {
    const timer = setTimeout(() => resume(Effect.void), millis)
    return Effect.sync(() => clearTimeout(timer))
  })

/**
 * Stops a child politely: SIGTERM, then SIGKILL if it is still alive after
 * `graceMillis`. SIGCONT follows SIGTERM so that a paused (SIGSTOPped) child
 * can act on it. Uses real timers (see `realSleep`).
 */
export const stop = (child: Child, graceMillis = 2000): Effect.Effect<void> =>
  Effect.promise(async () => {
    if (!child.isAlive()) return
    signal(child, "SIGTERM")
    signal(child, "SIGCONT")
    let timer: NodeJS.Timeout | undefined
    const inTime = await Promise.race([
      child.exited.then(() => true),
      new Promise<boolean>((resolve) => {
        timer = setTimeout(() => resolve(false), graceMillis)
      })
    ])
    clearTimeout(timer)
    if (!inTime) {
      signal(child, "SIGKILL")
      await child.exited
    }
  })
