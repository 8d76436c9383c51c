/**
 * Free loopback ports for test servers.
 *
 * `freePort` finds an unused port on 127.0.0.1 whose cluster bus port
 * (`port + 10000`) is free as well, so the same number can serve a
 * standalone server or a cluster node. Ports handed out by this process are
 * remembered and never handed out twice, so concurrent fixtures do not
 * collide with each other.
 *
 * The ports come from below the kernel's ephemeral range (Linux: 32768 and
 * up), bus port included: a port the kernel picked for a probe is also the
 * kind it gives any outgoing connection, and a suite that opens thousands
 * of them once had one take a server's port between the probe and the
 * server's bind (`Address already in use`). Each vitest worker
 * (`VITEST_POOL_ID`; elsewhere, the process id) draws from its own slice of
 * that range, so two workers do not hand out the same port either. When a
 * slice runs dry, the kernel's choice is the fallback.
 *
 * This cannot stop an unrelated process from taking the port between the
 * check and the server's bind; a server that fails to bind fails loudly at
 * startup.
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

// The ports drawn from: below the ephemeral range with their bus ports.
const LOW = 10_000
const HIGH = 32_768 - BUS_OFFSET
const SLICES = 8
const SLICE = Math.floor((HIGH - LOW) / SLICES)

// This process's slice of [LOW, HIGH).
const sliceStart = (): number => {
  const pool = Number(process.env.VITEST_POOL_ID)
  const index = Number.isInteger(pool) && pool > 0 ? pool - 1 : process.pid
  return LOW + (index % SLICES) * SLICE
}

/**
 * A port on 127.0.0.1 that is free now, whose `+10000` bus port is free too,
 * and that this process has not handed out before.
 *
 * @category constructors
 * @since 0.1.0
 */
export const freePort: Effect.Effect<number> = Effect.gen(function*() {
  const start = sliceStart()
  for (let attempt = 0; attempt < 200; attempt++) {
    const port = start + Math.floor(Math.random() * SLICE)
    if (handedOut.has(port) || (yield* probe(port)) === undefined) continue
    if ((yield* probe(port + BUS_OFFSET)) === undefined) continue
    handedOut.add(port)
    return port
  }
  // The slice is (nearly) used up: let the kernel choose.
  for (let attempt = 0; attempt < 200; attempt++) {
    const port = yield* probe(0)
    if (port === undefined || handedOut.has(port) || port + BUS_OFFSET > 65_535) continue
    const bus = yield* probe(port + BUS_OFFSET)
    if (bus === undefined) continue
    handedOut.add(port)
    return port
  }
  return yield* Effect.die(new Error("freePort: no free loopback port found after 400 attempts"))
})

/**
 * `n` distinct free ports (see `freePort`).
 *
 * @category constructors
 * @since 0.1.0
 */
export const freePorts = (n: number): Effect.Effect<ReadonlyArray<number>> =>
  Effect.forEach(Array.from({ length: n }, (_, i) => i), () => freePort)
