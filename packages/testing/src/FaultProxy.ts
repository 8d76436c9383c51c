/**
 * A loopback TCP proxy that injects network faults between a client and a
 * server, as a scoped Effect.
 *
 * Point the client at the proxy's port; every accepted connection gets its
 * own upstream connection to `target`. The controls act on all connections,
 * present and future:
 *
 * - `setDelay(ms)`: every chunk waits `ms` before it is forwarded, in both
 *   directions; order is kept.
 * - `freeze` / `unfreeze`: stop moving bytes both ways while the sockets stay
 *   open (the closest thing to a partition on a box without iptables).
 *   Reading pauses too, so TCP back-pressure builds up as it would.
 * - `resetAll`: destroy every connection now with a TCP RST, on both sides.
 * - `rstAfterBytes(n)`: RST a connection once it has forwarded `n` reply
 *   bytes (server → client), after delivering exactly those `n` bytes, so a
 *   reply can be cut in the middle of a frame.
 *
 * This proxy only moves bytes: it does not parse RESP and cannot rewrite
 * replies (use `MockServer` for hostile replies). TLS passes through it
 * unchanged, since it never terminates TLS.
 *
 * @since 0.1.0
 */
import * as Net from "node:net"
import * as Effect from "effect/Effect"
import type * as Scope from "effect/Scope"
import { listenLoopback } from "./internal/listen.ts"

/**
 * Where the proxy forwards to.
 *
 * @category options
 * @since 0.1.0
 */
export interface FaultProxyOptions {
  readonly target: { readonly host: string; readonly port: number }
  /** The listening port; by default the kernel picks a free one. */
  readonly port?: number | undefined
}

/**
 * A running proxy and its fault controls.
 *
 * @category models
 * @since 0.1.0
 */
export interface FaultProxyHandle {
  readonly host: "127.0.0.1"
  readonly port: number
  readonly target: { readonly host: string; readonly port: number }
  /** Delay every chunk by `millis` in both directions (0 = no delay). */
  readonly setDelay: (millis: number) => Effect.Effect<void>
  /** Stop forwarding bytes both ways; sockets stay open. */
  readonly freeze: Effect.Effect<void>
  /** Forward again what was held back, then carry on. */
  readonly unfreeze: Effect.Effect<void>
  /** RST every open connection, client side and server side. */
  readonly resetAll: Effect.Effect<void>
  /** RST each connection after `bytes` reply bytes (`undefined` = never). */
  readonly rstAfterBytes: (bytes: number | undefined) => Effect.Effect<void>
  /** How many client connections are open now. */
  readonly connections: Effect.Effect<number>
  /** How many client connections were accepted since the start. */
  readonly accepted: Effect.Effect<number>
}

// -----------------------------------------------------------------------------
// internals
// -----------------------------------------------------------------------------

interface State {
  delay: number
  frozen: boolean
  rstAfter: number | undefined
}

/** What travels through a pipe: bytes, or the end of the stream (a FIN). */
type Item = { readonly due: number; readonly chunk: Buffer | "end" }

interface Pipe {
  readonly push: (chunk: Buffer | "end") => void
  readonly pump: () => void
  readonly stop: () => void
}

/**
 * One direction of one connection. Items are queued with the time they may
 * leave; a single timer drains the head, so a change of delay never
 * reorders bytes.
 */
const makePipe = (
  state: State,
  write: (chunk: Buffer) => void,
  end: () => void
): Pipe => {
  const queue: Array<Item> = []
  let timer: NodeJS.Timeout | undefined
  let stopped = false
  const pump = (): void => {
    if (timer !== undefined) {
      clearTimeout(timer)
      timer = undefined
    }
    while (!stopped && !state.frozen && queue.length > 0) {
      const wait = queue[0].due - Date.now()
      if (wait > 0) {
        timer = setTimeout(pump, wait)
        return
      }
      const item = queue.shift()!
      if (item.chunk === "end") end()
      else write(item.chunk)
    }
  }
  return {
    push: (chunk) => {
      queue.push({ due: Date.now() + state.delay, chunk })
      // Nothing is queued ahead and no delay: forward synchronously.
      if (queue.length === 1) pump()
    },
    pump,
    stop: () => {
      stopped = true
      queue.length = 0
      if (timer !== undefined) clearTimeout(timer)
    }
  }
}

interface Connection {
  readonly client: Net.Socket
  readonly upstream: Net.Socket
  readonly up: Pipe
  readonly down: Pipe
  /** RST both sides and drop whatever is queued. */
  readonly reset: () => void
  /** Close both sides gracefully. */
  readonly destroy: () => void
}

const resetSocket = (socket: Net.Socket): void => {
  if (socket.destroyed) return
  // resetAndDestroy throws on a socket that is still connecting.
  if (socket.connecting) socket.destroy()
  else socket.resetAndDestroy()
}

// -----------------------------------------------------------------------------
// constructors
// -----------------------------------------------------------------------------

/**
 * Starts a proxy on 127.0.0.1 that forwards to `options.target`; closing the
 * scope closes the listener and every connection.
 *
 * @category constructors
 * @since 0.1.0
 */
export const make = (options: FaultProxyOptions): Effect.Effect<FaultProxyHandle, never, Scope.Scope> =>
  Effect.gen(function*() {
    const state: State = { delay: 0, frozen: false, rstAfter: undefined }
    const live = new Set<Connection>()
    let accepted = 0

    const onClient = (client: Net.Socket): void => {
      accepted++
      client.setNoDelay(true)
      const upstream = Net.connect({ host: options.target.host, port: options.target.port })
      upstream.setNoDelay(true)
      let replyBytes = 0
      let closed = false

      const finish = (how: "reset" | "destroy"): void => {
        if (closed) return
        closed = true
        live.delete(connection)
        up.stop()
        down.stop()
        if (how === "reset") {
          resetSocket(client)
          resetSocket(upstream)
        } else {
          client.destroy()
          upstream.destroy()
        }
      }

      const up = makePipe(state, (chunk) => upstream.write(chunk), () => upstream.end())
      const down = makePipe(state, (chunk) => {
        const limit = state.rstAfter
        if (limit === undefined || replyBytes + chunk.length < limit) {
          replyBytes += chunk.length
          client.write(chunk)
          return
        }
        // Deliver exactly `limit` bytes, then RST once they have left this
        // process: an RST discards unsent data, and on loopback a finished
        // write has already reached the peer's receive buffer.
        const head = chunk.subarray(0, Math.max(0, limit - replyBytes))
        replyBytes = limit
        down.stop()
        upstream.pause()
        if (head.length === 0) finish("reset")
        else client.write(head, () => finish("reset"))
      }, () => client.end())

      const connection: Connection = {
        client,
        upstream,
        up,
        down,
        reset: () => finish("reset"),
        destroy: () => finish("destroy")
      }
      live.add(connection)

      if (state.frozen) {
        client.pause()
        upstream.pause()
      }
      client.on("data", (chunk: Buffer) => up.push(chunk))
      upstream.on("data", (chunk: Buffer) => down.push(chunk))
      // A FIN is forwarded in order with the data before it.
      client.on("end", () => up.push("end"))
      upstream.on("end", () => down.push("end"))
      // An error on one side (ECONNRESET, or the target refusing the
      // connection) is passed on as an RST to the other side.
      client.on("error", () => finish("reset"))
      upstream.on("error", () => finish("reset"))
      // The client going away ends the pair; the server going away is a FIN
      // queued behind its last bytes (above), so delayed replies still arrive.
      client.on("close", () => finish("destroy"))
    }

    const server = Net.createServer({ allowHalfOpen: true, pauseOnConnect: false }, onClient)
    const port = yield* listenLoopback(server, options.port, () => {
      for (const connection of live) connection.destroy()
    })

    const forEachConnection = (f: (connection: Connection) => void) =>
      Effect.sync(() => {
        for (const connection of [...live]) f(connection)
      })

    const handle: FaultProxyHandle = {
      host: "127.0.0.1",
      port,
      target: options.target,
      setDelay: (millis) =>
        Effect.sync(() => {
          state.delay = Math.max(0, millis)
        }),
      freeze: Effect.andThen(
        Effect.sync(() => {
          state.frozen = true
        }),
        forEachConnection((c) => {
          c.client.pause()
          c.upstream.pause()
        })
      ),
      unfreeze: Effect.andThen(
        Effect.sync(() => {
          state.frozen = false
        }),
        forEachConnection((c) => {
          c.up.pump()
          c.down.pump()
          c.client.resume()
          c.upstream.resume()
        })
      ),
      resetAll: forEachConnection((c) => c.reset()),
      rstAfterBytes: (bytes) =>
        Effect.sync(() => {
          state.rstAfter = bytes
        }),
      connections: Effect.sync(() => live.size),
      accepted: Effect.sync(() => accepted)
    }
    return handle
  })
