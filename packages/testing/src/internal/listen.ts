/**
 * The loopback listener the socket fixtures (`FaultProxy`, `MockServer`)
 * share: listen on 127.0.0.1 for the scope's lifetime and report the port.
 *
 * It knows nothing of what the server does with a connection; the caller
 * says how to drop the connections it keeps when the scope closes.
 *
 * @internal
 */
import type * as Net from "node:net"
import * as Effect from "effect/Effect"
import type * as Scope from "effect/Scope"

/**
 * Listens on `127.0.0.1:port` (a free port when `port` is undefined) and
 * returns the bound port. On release, `closeAll` drops the live connections
 * first, since `server.close` waits for them to end. A failure to listen is
 * a defect: a fixture that cannot bind is a broken test setup.
 */
export const listenLoopback = (
  server: Net.Server,
  port: number | undefined,
  closeAll: () => void
): Effect.Effect<number, never, Scope.Scope> =>
  Effect.acquireRelease(
    Effect.callback<number>((resume) => {
      server.once("error", (error) => resume(Effect.die(error)))
      server.listen({ host: "127.0.0.1", port: port ?? 0 }, () => {
        const address = server.address()
        resume(Effect.succeed(typeof address === "object" && address !== null ? address.port : -1))
      })
    }),
    () =>
      Effect.callback<void>((resume) => {
        closeAll()
        server.close(() => resume(Effect.void))
      })
  )
