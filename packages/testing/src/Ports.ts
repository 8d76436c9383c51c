/**
 * Free loopback ports for test servers.
 *
 * `freePort` asks the kernel for an unused port on 127.0.0.1 and checks that
 * the cluster bus port (`port + 10000`) is free as well, so the same number
 * can serve a standalone server or a cluster node. Ports handed out by this
 * process are remembered and never handed out twice, so concurrent fixtures
 * do not collide with each other.
 *
 * This cannot stop another process from taking the port between the check and
 * the server's bind; on a test box that race is rare, and a server that fails
 * to bind fails loudly at startup.
 *
 * @since 0.1.0
 */
import * as Net from "node:net"
import * as Effect from "effect/Effect"

/** Redis Cluster nodes listen on `port + 10000` for the cluster bus. */
const BUS_OFFSET = 10_000

// Handed out by this process: the kernel may offer a port again once the
// probe socket is closed, before the server that was given it has bound it.
const handedOut = new Set<number>()

/** Binds `port` (0 = any) on 127.0.0.1 and returns the bound port, or undefined when it is taken. */
const probe = (port: number): Effect.Effect<number | undefined> =>
  Effect.callback<number | undefined>((resume) => {
    const server = Net.createServer()
    server.unref()
    server.once("error", () => resume(Effect.succeed(undefined)))
    server.listen({ host: "127.0.0.1", port, exclusive: true }, () => {
      const address = server.address()
      const bound = typeof address === "object" && address !== null ? address.port : undefined
      server.close(() => resume(Effect.succeed(bound)))
    })
  })

/**
 * A port on 127.0.0.1 that is free now, whose `+10000` bus port is free too,
 * and that this process has not handed out before.
 *
 * @category constructors
 * @since 0.1.0
 */
export const freePort: Effect.Effect<number> = Effect.gen(function*() {
  for (let attempt = 0; attempt < 200; attempt++) {
    const port = yield* probe(0)
    if (port === undefined || handedOut.has(port) || port + BUS_OFFSET > 65_535) continue
    const bus = yield* probe(port + BUS_OFFSET)
    if (bus === undefined) continue
    handedOut.add(port)
    return port
  }
  return yield* Effect.die(new Error("freePort: no free loopback port found after 200 attempts"))
})

/**
 * `n` distinct free ports (see `freePort`).
 *
 * @category constructors
 * @since 0.1.0
 */
export const freePorts = (n: number): Effect.Effect<ReadonlyArray<number>> =>
  Effect.forEach(Array.from({ length: n }, (_, i) => i), () => freePort)
