/**
 * A scripted fake Redis server for hostile and malformed replies, as a scoped
 * Effect.
 *
 * It listens on a free loopback port, parses each request (RESP multi-bulk or
 * inline) into `argv` strings, and asks a handler what to do: send raw bytes
 * (any bytes, valid RESP or not), close with a FIN, reset with an RST, stay
 * silent, or trickle a reply out slowly. Replies go out in request order, one
 * command at a time per connection, as on a real server.
 *
 * By default the `handshake` behaviour runs first, so a script only has to
 * handle the commands under test: `HELLO` (a RESP3 or RESP2 map, or
 * `-ERR unknown command` to force a RESP2 fallback), `AUTH` (`+OK` or
 * `-WRONGPASS`), `PING`, `SELECT`, `CLIENT ...`, `READONLY`, `READWRITE`,
 * `ASKING`, and `CLUSTER SLOTS` (one node, this mock, owning every slot).
 * `Payloads` holds hostile replies: malformed, oversized or unexpected
 * frames that a client must survive.
 *
 * This is not a Redis: it stores nothing and knows no command beyond the
 * handshake. The request parser is test infrastructure — it trusts its
 * client and does not bound sizes.
 *
 * @since 0.1.0
 */
import * as Net from "node:net"
import * as Effect from "effect/Effect"
import type * as Scope from "effect/Scope"
import { listenLoopback } from "./internal/listen.ts"

// -----------------------------------------------------------------------------
// models
// -----------------------------------------------------------------------------

/**
 * One client connection, as a script sees it.
 *
 * @category models
 * @since 0.1.0
 */
export interface MockConnection {
  /** 1, 2, 3... in accept order. */
  readonly id: number
  /** The protocol chosen by the last successful `HELLO` (2 until then). */
  protocol: 2 | 3
  /** Whether AUTH (or HELLO ... AUTH) succeeded; true when no password is configured. */
  authenticated: boolean
  /** Writes bytes now, outside the request/reply order (e.g. a push frame). */
  readonly write: (bytes: Uint8Array | string) => void
  /** Closes the connection with a FIN. */
  readonly close: () => void
  /** Closes the connection with an RST. */
  readonly reset: () => void
  /** Scratch space for scripts that need per-connection state. */
  readonly state: Map<string, unknown>
}

/**
 * A parsed request.
 *
 * @category models
 * @since 0.1.0
 */
export interface MockCommand {
  readonly argv: ReadonlyArray<string>
  /** `argv[0]` upper-cased. */
  readonly name: string
  /** 0 for the first command of the connection, then 1, 2... */
  readonly index: number
  /** The mock's own port (for redirects and CLUSTER SLOTS that point back at it). */
  readonly port: number
  readonly connection: MockConnection
}

/**
 * What to do with a request.
 *
 * @category models
 * @since 0.1.0
 */
export type Response =
  | string
  | Uint8Array
  | { readonly _tag: "Close"; readonly bytes?: string | Uint8Array | undefined }
  | { readonly _tag: "Reset"; readonly bytes?: string | Uint8Array | undefined }
  | { readonly _tag: "NoReply" }
  | { readonly _tag: "Hang" }
  | {
    readonly _tag: "Slow"
    readonly bytes: string | Uint8Array
    readonly chunkSize: number
    readonly intervalMillis: number
  }

/**
 * A script: `undefined` means "not mine" (the next handler, or
 * `-ERR unknown command`, answers).
 *
 * @category models
 * @since 0.1.0
 */
export type Handler = (command: MockCommand) => Response | undefined

/**
 * Send `bytes` (if any), then close with a FIN.
 *
 * @category responses
 * @since 0.1.0
 */
export const close = (bytes?: string | Uint8Array): Response => ({ _tag: "Close", bytes })

/**
 * Send `bytes` (if any), then close with an RST.
 *
 * @category responses
 * @since 0.1.0
 */
export const reset = (bytes?: string | Uint8Array): Response => ({ _tag: "Reset", bytes })

/**
 * Answer nothing to this command, and carry on with the next one.
 *
 * @category responses
 * @since 0.1.0
 */
export const noReply: Response = { _tag: "NoReply" }

/**
 * Stop answering on this connection; the socket stays open.
 *
 * @category responses
 * @since 0.1.0
 */
export const hang: Response = { _tag: "Hang" }

/**
 * Send `bytes` `chunkSize` bytes at a time, every `intervalMillis` (slowloris).
 *
 * @category responses
 * @since 0.1.0
 */
export const slow = (bytes: string | Uint8Array, options: { readonly chunkSize?: number; readonly intervalMillis?: number } = {}): Response => ({
  _tag: "Slow",
  bytes,
  chunkSize: options.chunkSize ?? 1,
  intervalMillis: options.intervalMillis ?? 200
})

// -----------------------------------------------------------------------------
// RESP helpers
// -----------------------------------------------------------------------------

/**
 * Encodes strings as a RESP bulk string.
 *
 * @category encoding
 * @since 0.1.0
 */
export const bulk = (value: string): string => `$${Buffer.byteLength(value)}\r\n${value}\r\n`

/**
 * Encodes a command (or any list of strings) as a RESP array of bulk strings.
 *
 * @category encoding
 * @since 0.1.0
 */
export const command = (...argv: ReadonlyArray<string>): string => `*${argv.length}\r\n${argv.map(bulk).join("")}`

/**
 * Parses whole requests from the front of `buffer`: RESP multi-bulk
 * (`*N\r\n$len\r\n...`) or inline (`PING\r\n`). Returns the requests and the
 * number of bytes consumed; a partial request at the end is left for later.
 * `error` is set when the bytes cannot be a request (Redis answers that with
 * `-ERR Protocol error` and closes the connection).
 *
 * @category encoding
 * @since 0.1.0
 */
export const parseRequests = (
  buffer: Buffer
): { readonly requests: Array<Array<string>>; readonly consumed: number; readonly error?: string } => {
  const requests: Array<Array<string>> = []
  const fail = (error: string) => ({ requests, consumed: offset, error })
  let offset = 0
  outer: while (offset < buffer.length) {
    if (buffer[offset] === 0x2a /* '*' */) {
      const lineEnd = buffer.indexOf("\r\n", offset)
      if (lineEnd === -1) break
      const count = Number(buffer.toString("latin1", offset + 1, lineEnd))
      if (!Number.isInteger(count)) return fail("invalid multibulk length")
      let cursor = lineEnd + 2
      const argv: Array<string> = []
      for (let i = 0; i < count; i++) {
        if (cursor >= buffer.length) break outer
        if (buffer[cursor] !== 0x24 /* '$' */) {
          return fail(`expected '$', got '${String.fromCharCode(buffer[cursor])}'`)
        }
        const headerEnd = buffer.indexOf("\r\n", cursor)
        if (headerEnd === -1) break outer
        const length = Number(buffer.toString("latin1", cursor + 1, headerEnd))
        if (!Number.isInteger(length) || length < 0) return fail("invalid bulk length")
        const start = headerEnd + 2
        if (start + length + 2 > buffer.length) break outer
        argv.push(buffer.toString("utf8", start, start + length))
        cursor = start + length + 2
      }
      requests.push(argv)
      offset = cursor
    } else {
      const lineEnd = buffer.indexOf("\n", offset)
      if (lineEnd === -1) break
      const line = buffer.toString("utf8", offset, lineEnd).replace(/\r$/, "")
      const argv = line.split(/\s+/).filter((a) => a.length > 0)
      if (argv.length > 0) requests.push(argv)
      offset = lineEnd + 1
    }
  }
  return { requests, consumed: offset }
}

// -----------------------------------------------------------------------------
// ready-made behaviours
// -----------------------------------------------------------------------------

/**
 * Options of the `handshake` behaviour.
 *
 * @category behaviours
 * @since 0.1.0
 */
export interface HandshakeOptions {
  /** Answer `HELLO` (default). `false` answers `-ERR unknown command 'HELLO'`, as Redis 5 does, forcing RESP2. */
  readonly hello?: boolean | undefined
  /** When set, `AUTH`/`HELLO AUTH` must present it and other commands get `-NOAUTH` until they do. */
  readonly password?: string | undefined
  /** The user that `password` belongs to. Default `"default"`. */
  readonly user?: string | undefined
  /** Server version reported by `HELLO`. Default `"7.0.15"`. */
  readonly version?: string | undefined
}

const helloReply = (connection: MockConnection, protocol: 2 | 3, version: string): string => {
  const fields: Array<[string, string]> = [
    ["server", bulk("redis")],
    ["version", bulk(version)],
    ["proto", `:${protocol}\r\n`],
    ["id", `:${connection.id}\r\n`],
    ["mode", bulk("standalone")],
    ["role", bulk("master")],
    ["modules", "*0\r\n"]
  ]
  const body = fields.map(([k, v]) => bulk(k) + v).join("")
  return protocol === 3 ? `%${fields.length}\r\n${body}` : `*${fields.length * 2}\r\n${body}`
}

const WRONGPASS = "-WRONGPASS invalid username-password pair or user is disabled.\r\n"

/**
 * Answers the commands a client sends while connecting (see the module
 * header) and nothing else.
 *
 * @category behaviours
 * @since 0.1.0
 */
export const handshake = (options: HandshakeOptions = {}): Handler => {
  const user = options.user ?? "default"
  const version = options.version ?? "7.0.15"
  const check = (name: string, password: string) => options.password === undefined || (name === user && password === options.password)
  return (cmd) => {
    const { argv, connection, name, port } = cmd
    if (options.password === undefined) connection.authenticated = true
    switch (name) {
      case "HELLO": {
        if (options.hello === false) return `-ERR unknown command 'HELLO', with args beginning with: ${argv.slice(1).map((a) => `'${a}' `).join("")}\r\n`
        let protocol: 2 | 3 = connection.protocol
        if (argv.length > 1) {
          if (argv[1] !== "2" && argv[1] !== "3") return "-NOPROTO unsupported protocol version\r\n"
          protocol = argv[1] === "3" ? 3 : 2
        }
        for (let i = 2; i < argv.length; i++) {
          const option = argv[i].toUpperCase()
          if (option === "AUTH") {
            if (!check(argv[i + 1] ?? "", argv[i + 2] ?? "")) return WRONGPASS
            connection.authenticated = true
            i += 2
          } else if (option === "SETNAME") {
            i += 1
          }
        }
        if (!connection.authenticated) return "-NOAUTH HELLO must be called with the client already authenticated, otherwise the HELLO <proto> AUTH <user> <pass> option can be used to authenticate the client and select the RESP protocol version at the same time\r\n"
        connection.protocol = protocol
        return helloReply(connection, protocol, version)
      }
      case "AUTH": {
        const [name, password] = argv.length >= 3 ? [argv[1], argv[2]] : ["default", argv[1] ?? ""]
        if (options.password === undefined) return "-ERR AUTH <password> called without any password configured for the default user. Are you sure your configuration is correct?\r\n"
        if (!check(name, password)) return WRONGPASS
        connection.authenticated = true
        return "+OK\r\n"
      }
    }
    if (!connection.authenticated) return "-NOAUTH Authentication required.\r\n"
    switch (name) {
      case "PING":
        return argv.length > 1 ? bulk(argv[1]) : "+PONG\r\n"
      case "SELECT":
      case "READONLY":
      case "READWRITE":
      case "ASKING":
        return "+OK\r\n"
      case "CLIENT":
        return argv[1]?.toUpperCase() === "ID" ? `:${connection.id}\r\n` : "+OK\r\n"
      case "CLUSTER":
        if (argv[1]?.toUpperCase() === "SLOTS") {
          return `*1\r\n*3\r\n:0\r\n:16383\r\n*3\r\n${bulk("127.0.0.1")}:${port}\r\n${bulk("0".repeat(40))}`
        }
        return undefined
    }
    return undefined
  }
}

/**
 * Tries each handler in turn; the first that does not return `undefined` wins.
 *
 * @category behaviours
 * @since 0.1.0
 */
export const orElse = (...handlers: ReadonlyArray<Handler>): Handler => (cmd) => {
  for (const handler of handlers) {
    const response = handler(cmd)
    if (response !== undefined) return response
  }
  return undefined
}

/**
 * Answers every command with the same response (combine with the default
 * handshake to get "handshake, then payload").
 *
 * @category behaviours
 * @since 0.1.0
 */
export const always = (response: Response): Handler => () => response

/**
 * Hostile replies: malformed, oversized or unexpected frames that a client
 * must survive.
 *
 * @category payloads
 * @since 0.1.0
 */
export const Payloads = {
  /** `*1\r\n` × depth, then `:1\r\n`: a nesting-depth bomb. */
  deep: (depth = 100_000): string => "*1\r\n".repeat(depth) + ":1\r\n",
  /** A bulk length of 2^63-1 with no body. */
  hugebulk: "$9223372036854775807\r\n",
  /** An array count of 2^32. */
  hugearray: "*4294967296\r\n",
  /** A negative bulk length other than -1. */
  neglen: "$-5\r\n",
  /** An unknown type byte. */
  badtype: "@hello\r\n",
  /** An integer with letters in it. */
  badint: ":12ab\r\n",
  /** A simple string ended by LF alone. */
  nocrlf: "+OK\n",
  /** Half a bulk string, then FIN. */
  truncate: close("$10\r\nabc"),
  /** A valid reply one byte every 200 ms. */
  slowloris: slow("+OK\r\n"),
  /** Two replies to one request: the second desyncs a careless client. */
  extra: "+OK\r\n+EXTRA\r\n",
  /** A RESP3 push frame, then the real reply. */
  push: ">3\r\n$7\r\nmessage\r\n$2\r\nch\r\n$3\r\nmsg\r\n+OK\r\n",
  /** An error line of `length` bytes. */
  bigerr: (length = 1 << 20): string => `-ERR ${"x".repeat(length)}\r\n`
} as const

// -----------------------------------------------------------------------------
// server
// -----------------------------------------------------------------------------

/**
 * Options of `make`.
 *
 * @category options
 * @since 0.1.0
 */
export interface MockServerOptions {
  /** The handshake behaviour that runs before the script; `false` leaves every command to the script. */
  readonly handshake?: HandshakeOptions | false | undefined
  /** The listening port; by default the kernel picks a free one. */
  readonly port?: number | undefined
}

/**
 * A running mock server.
 *
 * @category models
 * @since 0.1.0
 */
export interface MockServerHandle {
  readonly host: "127.0.0.1"
  readonly port: number
  readonly url: string
  /** Every request received so far, in arrival order across connections. */
  readonly received: Effect.Effect<ReadonlyArray<ReadonlyArray<string>>>
  /** How many connections are open now. */
  readonly connections: Effect.Effect<number>
  /** How many connections were accepted since the start. */
  readonly accepted: Effect.Effect<number>
  /** Writes bytes to every open connection now (unsolicited replies, push frames). */
  readonly broadcast: (bytes: string | Uint8Array) => Effect.Effect<void>
  /** RST every open connection. */
  readonly resetAll: Effect.Effect<void>
}

/**
 * Starts a mock server that answers with `handler` (after the handshake
 * behaviour unless `options.handshake` is `false`); closing the scope closes
 * it and all its connections.
 *
 * @category constructors
 * @since 0.1.0
 */
export const make = (
  handler: Handler,
  options: MockServerOptions = {}
): Effect.Effect<MockServerHandle, never, Scope.Scope> =>
  Effect.gen(function*() {
    const received: Array<ReadonlyArray<string>> = []
    const sockets = new Set<Net.Socket>()
    let accepted = 0
    const effective: Handler = options.handshake === false ? handler : orElse(handshake(options.handshake ?? {}), handler)
    // Known once listening; commands cannot arrive before that.
    let port = -1

    const onConnection = (socket: Net.Socket): void => {
      accepted++
      sockets.add(socket)
      socket.setNoDelay(true)
      socket.on("close", () => sockets.delete(socket))
      socket.on("error", () => {})
      let buffer: Buffer = Buffer.alloc(0)
      const queue: Array<Array<string>> = []
      let index = 0
      let busy = false
      let silent = false
      const connection: MockConnection = {
        id: accepted,
        protocol: 2,
        authenticated: false,
        write: (bytes) => {
          if (!socket.destroyed) socket.write(bytes)
        },
        close: () => socket.end(),
        reset: () => {
          if (!socket.destroyed) socket.resetAndDestroy()
        },
        state: new Map()
      }

      const respond = (response: Response, done: () => void): void => {
        if (typeof response === "string" || response instanceof Uint8Array) {
          connection.write(response)
          return done()
        }
        switch (response._tag) {
          case "NoReply":
            return done()
          case "Hang":
            silent = true
            return
          case "Close":
            if (response.bytes !== undefined) connection.write(response.bytes)
            silent = true
            return connection.close()
          case "Reset":
            silent = true
            // Let the bytes leave before the RST, which would discard them.
            if (response.bytes !== undefined) socket.write(response.bytes, () => connection.reset())
            else connection.reset()
            return
          case "Slow": {
            const bytes = Buffer.from(response.bytes)
            let sent = 0
            const step = () => {
              if (socket.destroyed) return
              connection.write(bytes.subarray(sent, sent + response.chunkSize))
              sent += response.chunkSize
              if (sent >= bytes.length) done()
              else setTimeout(step, response.intervalMillis)
            }
            return step()
          }
        }
      }

      // One command at a time: a slow reply holds back the replies after it,
      // as a real server's output buffer would.
      const drain = (): void => {
        while (!busy && !silent && queue.length > 0) {
          const argv = queue.shift()!
          const cmd: MockCommand = { argv, name: (argv[0] ?? "").toUpperCase(), index: index++, port, connection }
          let response: Response | undefined
          try {
            response = effective(cmd)
          } catch (error) {
            response = `-ERR mock handler threw: ${String(error).replace(/[\r\n]/g, " ")}\r\n`
          }
          busy = true
          let sync = true
          respond(response ?? `-ERR unknown command '${argv[0] ?? ""}'\r\n`, () => {
            busy = false
            if (!sync) drain()
          })
          sync = false
        }
      }

      socket.on("data", (chunk: Buffer) => {
        if (silent) return
        buffer = buffer.length === 0 ? chunk : Buffer.concat([buffer, chunk])
        const { consumed, error, requests } = parseRequests(buffer)
        buffer = buffer.subarray(consumed)
        for (const argv of requests) received.push(argv)
        queue.push(...requests)
        drain()
        if (error !== undefined) {
          // Whatever came before the garbage is answered first, like Redis.
          queue.length = 0
          silent = true
          socket.end(`-ERR Protocol error: ${error}\r\n`)
        }
      })
    }

    const server = Net.createServer(onConnection)
    port = yield* listenLoopback(server, options.port, () => {
      for (const socket of sockets) socket.destroy()
    })

    const handle: MockServerHandle = {
      host: "127.0.0.1",
      port,
      url: `redis://127.0.0.1:${port}`,
      received: Effect.sync(() => [...received]),
      connections: Effect.sync(() => sockets.size),
      accepted: Effect.sync(() => accepted),
      broadcast: (bytes) =>
        Effect.sync(() => {
          for (const socket of sockets) if (!socket.destroyed) socket.write(bytes)
        }),
      resetAll: Effect.sync(() => {
        for (const socket of [...sockets]) if (!socket.destroyed) socket.resetAndDestroy()
      })
    }
    return handle
  })
