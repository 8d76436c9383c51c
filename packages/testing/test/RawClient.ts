/**
 * A bare `net` client for the fixture tests: send bytes, wait for what comes
 * back, see how the connection ended. Test support only, not exported.
 */
import * as Fs from "node:fs"
import * as Net from "node:net"
import * as Effect from "effect/Effect"
import type * as Scope from "effect/Scope"

export interface RawClient {
  readonly socket: Net.Socket
  readonly send: (bytes: string) => Effect.Effect<void>
  /** Everything received so far. */
  readonly received: () => string
  /** Waits until what was received satisfies `predicate`, or the connection closed; returns what was received. */
  readonly readUntil: (predicate: (received: string) => boolean) => Effect.Effect<string>
  /** Waits for the connection to close; `reset` when it ended with ECONNRESET. */
  readonly closed: Effect.Effect<"end" | "reset" | "error">
}

export const connect = (port: number): Effect.Effect<RawClient, never, Scope.Scope> =>
  Effect.gen(function*() {
    const socket = yield* Effect.acquireRelease(
      Effect.callback<Net.Socket>((resume) => {
        const socket = Net.connect({ host: "127.0.0.1", port })
        socket.once("connect", () => resume(Effect.succeed(socket)))
        socket.once("error", (error) => resume(Effect.die(error)))
      }),
      (socket) => Effect.sync(() => socket.destroy())
    )
    socket.removeAllListeners("error")
    let received = ""
    let ending: "end" | "reset" | "error" | undefined
    let isClosed = false
    socket.on("data", (chunk: Buffer) => {
      received += chunk.toString("latin1")
    })
    socket.on("error", (error: NodeJS.ErrnoException) => {
      ending = error.code === "ECONNRESET" ? "reset" : "error"
    })
    socket.on("end", () => {
      ending ??= "end"
    })
    socket.on("close", () => {
      isClosed = true
    })
    // Resolves when `ready` holds, re-checked on every socket event.
    const waitFor = <A>(ready: () => A | undefined): Effect.Effect<A> =>
      Effect.callback<A>((resume) => {
        const check = () => {
          const value = ready()
          if (value !== undefined) {
            cleanup()
            resume(Effect.succeed(value))
          }
        }
        const cleanup = () => {
          socket.off("data", check)
          socket.off("close", check)
        }
        socket.on("data", check)
        socket.on("close", check)
        check()
        return Effect.sync(cleanup)
      })
    return {
      socket,
      send: (bytes) => Effect.sync(() => void socket.write(bytes)),
      received: () => received,
      readUntil: (predicate) => waitFor(() => predicate(received) || isClosed ? received : undefined),
      closed: waitFor(() => isClosed ? ending ?? "end" : undefined)
    }
  })

/** Real-time sleep (the tests run under a TestClock). */
export const sleep = (millis: number): Effect.Effect<void> =>
  Effect.callback<void>((resume) => {
    const timer = setTimeout(() => resume(Effect.void), millis)
    return Effect.sync(() => clearTimeout(timer))
  })

/** Whether a process with this pid exists and is not a zombie waiting to be reaped. */
export const processExists = (pid: number): boolean => {
  try {
    process.kill(pid, 0)
  } catch {
    return false
  }
  try {
    const stat = Fs.readFileSync(`/proc/${pid}/stat`, "utf8")
    return stat.slice(stat.lastIndexOf(")") + 2)[0] !== "Z"
  } catch {
    return false
  }
}

/** Polls until the process is gone (SIGKILL is delivered asynchronously); false if it is still there after 5 s. */
export const awaitProcessGone = (pid: number): Effect.Effect<boolean> =>
  Effect.gen(function*() {
    for (let i = 0; i < 500 && processExists(pid); i++) yield* sleep(10)
    return !processExists(pid)
  })
