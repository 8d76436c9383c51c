/**
 * Connection commands: AUTH, HELLO, SELECT, CLIENT, READONLY, READWRITE,
 * RESET, QUIT, and `raw`, the escape hatch for any command without a typed
 * constructor.
 *
 * Every function builds a `Command` value; nothing here opens, authenticates
 * or configures a connection (the handshake in `Connection` does, using
 * these values). CLIENT LIST/INFO decode through `parseClientList`
 * (`parsers.ts`).
 *
 * Most of these change the state of the connection that runs them, so they
 * carry `CONNECTION_STATE` and never go out on the shared multiplexed
 * connection. AUTH and HELLO arguments may hold a password: their `name`
 * stays "AUTH"/"HELLO", and errors and traces show only the name.
 *
 * @since 0.1.0
 */
import * as Option from "effect/Option"
import * as Redacted from "effect/Redacted"
import type { Command } from "../Command.ts"
import { Flags, invalid, Reply, unsafeMake } from "../Command.ts"
import type { Arg, RespValue } from "../Resp.ts"
import { checkArgs, checkInteger, rawRecord } from "../internal/replyDecoders.ts"
import { parseClientList } from "./parsers.ts"

const EMPTY: ReadonlyArray<Arg> = []
const STATE = Flags.CONNECTION_STATE | Flags.NO_KEYS
const ABOUT_CONNECTION = Flags.READONLY | Flags.NO_KEYS

/**
 * A password, plain or `Redacted`.
 *
 * @category connection
 * @since 0.1.0
 */
export type Password = string | Redacted.Redacted<string>

const reveal = (password: Password): string => typeof password === "string" ? password : Redacted.value(password)

// -----------------------------------------------------------------------------
// handshake
// -----------------------------------------------------------------------------

/**
 * AUTH: authenticates the connection, as `username` (ACL) or as the default
 * user (`requirepass`).
 *
 * @category connection
 * @since 0.1.0
 */
export const auth = (password: Password, username?: string): Command<void> =>
  unsafeMake(
    "AUTH",
    username === undefined ? ["AUTH", reveal(password)] : ["AUTH", username, reveal(password)],
    EMPTY,
    STATE,
    Reply.ok
  )

/**
 * HELLO: switches the protocol (2 or 3), optionally authenticating and
 * naming the connection in the same round trip; returns the server's
 * properties (`server`, `version`, `proto`, `id`, `mode`, `role`, `modules`).
 *
 * @category connection
 * @since 0.1.0
 */
export const hello = (
  protover?: 2 | 3,
  options?: {
    readonly auth?: { readonly username: string; readonly password: Password } | undefined
    readonly setname?: string | undefined
  }
): Command<Record<string, RespValue>> => {
  const argv: Array<Arg> = ["HELLO"]
  if (protover === undefined) {
    if (options?.auth !== undefined || options?.setname !== undefined) {
      return invalid("HELLO", "AUTH and SETNAME need a protocol version")
    }
  } else {
    if (protover !== 2 && protover !== 3) return invalid("HELLO", `unsupported protocol version ${protover}`)
    argv.push(protover)
    if (options?.auth !== undefined) argv.push("AUTH", options.auth.username, reveal(options.auth.password))
    if (options?.setname !== undefined) {
      if (/\s/.test(options.setname)) return invalid("HELLO", "a client name cannot contain spaces")
      argv.push("SETNAME", options.setname)
    }
  }
  return unsafeMake("HELLO", argv, EMPTY, STATE, rawRecord)
}

/**
 * SELECT: switches the connection to database `index`.
 *
 * @category connection
 * @since 0.1.0
 */
export const select = (index: number): Command<void> => {
  const bad = checkInteger("SELECT index", index)
  if (bad !== undefined) return invalid("SELECT", bad)
  return unsafeMake("SELECT", ["SELECT", index], EMPTY, STATE | Flags.IDEMPOTENT, Reply.ok)
}

// -----------------------------------------------------------------------------
// CLIENT
// -----------------------------------------------------------------------------

/**
 * CLIENT ID: the id of this connection.
 *
 * @category connection
 * @since 0.1.0
 */
export const clientId = (): Command<number> =>
  unsafeMake("CLIENT", ["CLIENT", "ID"], EMPTY, ABOUT_CONNECTION, Reply.integer)

/**
 * CLIENT GETNAME: the name of this connection, if set.
 *
 * @category connection
 * @since 0.1.0
 */
export const clientGetname = (): Command<Option.Option<string>> =>
  unsafeMake("CLIENT", ["CLIENT", "GETNAME"], EMPTY, ABOUT_CONNECTION, Reply.optionalString)

/**
 * CLIENT SETNAME: names this connection (no spaces; "" clears it).
 *
 * @category connection
 * @since 0.1.0
 */
export const clientSetname = (name: string): Command<void> => {
  if (/\s/.test(name)) return invalid("CLIENT", "a client name cannot contain spaces")
  return unsafeMake("CLIENT", ["CLIENT", "SETNAME", name], EMPTY, STATE | Flags.IDEMPOTENT, Reply.ok)
}

const decodeClientList = (reply: RespValue): Array<Record<string, string>> => parseClientList(Reply.string(reply))

const decodeClientInfo = (reply: RespValue): Record<string, string> => parseClientList(Reply.string(reply))[0] ?? {}

/**
 * CLIENT TYPE values.
 *
 * @category connection
 * @since 0.1.0
 */
export type ClientType = "normal" | "master" | "slave" | "replica" | "pubsub"

/**
 * CLIENT LIST: every connected client (or those of a type, or with the given
 * ids), parsed.
 *
 * @category connection
 * @since 0.1.0
 */
export const clientList = (
  options?: { readonly type?: ClientType | undefined; readonly ids?: ReadonlyArray<number> | undefined }
): Command<Array<Record<string, string>>> => {
  const argv: Array<Arg> = ["CLIENT", "LIST"]
  if (options?.type !== undefined) argv.push("TYPE", options.type)
  if (options?.ids !== undefined) {
    if (options.ids.length === 0) return invalid("CLIENT", "CLIENT LIST ID needs at least one id")
    argv.push("ID")
    for (const id of options.ids) {
      const bad = checkInteger("CLIENT LIST ID", id)
      if (bad !== undefined) return invalid("CLIENT", bad)
      argv.push(id)
    }
  }
  return unsafeMake("CLIENT", argv, EMPTY, ABOUT_CONNECTION, decodeClientList)
}

/**
 * CLIENT INFO: this connection, parsed like one line of CLIENT LIST.
 *
 * @category connection
 * @since 0.1.0
 */
export const clientInfo = (): Command<Record<string, string>> =>
  unsafeMake("CLIENT", ["CLIENT", "INFO"], EMPTY, ABOUT_CONNECTION, decodeClientInfo)

/**
 * Filters of CLIENT KILL; a client must match all of them.
 *
 * @category connection
 * @since 0.1.0
 */
export interface ClientKillFilter {
  readonly id?: number | ReadonlyArray<number> | undefined
  /** `ip:port` of the client. */
  readonly addr?: string | undefined
  /** `ip:port` of the server side of the connection. */
  readonly laddr?: string | undefined
  readonly user?: string | undefined
  readonly type?: ClientType | undefined
  /** Whether to spare the calling connection (server default: yes). */
  readonly skipme?: boolean | undefined
  /** Only clients connected for longer than this many seconds. */
  readonly maxage?: number | undefined
}

/**
 * CLIENT KILL with filters: closes matching connections; returns how many.
 *
 * @category connection
 * @since 0.1.0
 */
export const clientKill = (filter: ClientKillFilter): Command<number> => {
  const argv: Array<Arg> = ["CLIENT", "KILL"]
  if (filter.id !== undefined) {
    const ids = typeof filter.id === "number" ? [filter.id] : filter.id
    if (ids.length === 0) return invalid("CLIENT", "CLIENT KILL ID needs at least one id")
    argv.push("ID")
    for (const id of ids) {
      const bad = checkInteger("CLIENT KILL ID", id)
      if (bad !== undefined) return invalid("CLIENT", bad)
      argv.push(id)
    }
  }
  if (filter.addr !== undefined) argv.push("ADDR", filter.addr)
  if (filter.laddr !== undefined) argv.push("LADDR", filter.laddr)
  if (filter.user !== undefined) argv.push("USER", filter.user)
  if (filter.type !== undefined) argv.push("TYPE", filter.type)
  if (filter.skipme !== undefined) argv.push("SKIPME", filter.skipme ? "yes" : "no")
  if (filter.maxage !== undefined) {
    const bad = checkInteger("CLIENT KILL MAXAGE", filter.maxage)
    if (bad !== undefined) return invalid("CLIENT", bad)
    argv.push("MAXAGE", filter.maxage)
  }
  if (argv.length === 2) return invalid("CLIENT", "CLIENT KILL needs at least one filter")
  return unsafeMake("CLIENT", argv, EMPTY, Flags.NO_KEYS | Flags.IDEMPOTENT, Reply.integer)
}

/**
 * CLIENT KILL ip:port (the old form): closes one connection; fails if there
 * is none at that address.
 *
 * @category connection
 * @since 0.1.0
 */
export const clientKillAddr = (addr: string): Command<void> =>
  unsafeMake("CLIENT", ["CLIENT", "KILL", addr], EMPTY, Flags.NO_KEYS, Reply.ok)

/**
 * CLIENT PAUSE: suspends clients (all commands, or only writes with
 * `"WRITE"`) for `timeoutMs`.
 *
 * @category connection
 * @since 0.1.0
 */
export const clientPause = (timeoutMs: number, mode?: "WRITE" | "ALL"): Command<void> => {
  const bad = checkInteger("CLIENT PAUSE timeout", timeoutMs)
  if (bad !== undefined) return invalid("CLIENT", bad)
  return unsafeMake(
    "CLIENT",
    mode === undefined ? ["CLIENT", "PAUSE", timeoutMs] : ["CLIENT", "PAUSE", timeoutMs, mode],
    EMPTY,
    Flags.NO_KEYS | Flags.IDEMPOTENT,
    Reply.ok
  )
}

/**
 * CLIENT UNPAUSE: ends a CLIENT PAUSE.
 *
 * @category connection
 * @since 0.1.0
 */
export const clientUnpause = (): Command<void> =>
  unsafeMake("CLIENT", ["CLIENT", "UNPAUSE"], EMPTY, Flags.NO_KEYS | Flags.IDEMPOTENT, Reply.ok)

/**
 * CLIENT NO-EVICT: exempts this connection from client eviction.
 *
 * @category connection
 * @since 0.1.0
 */
export const clientNoEvict = (on: boolean): Command<void> =>
  unsafeMake("CLIENT", ["CLIENT", "NO-EVICT", on ? "ON" : "OFF"], EMPTY, STATE | Flags.IDEMPOTENT, Reply.ok)

/**
 * CLIENT NO-TOUCH: this connection's reads stop updating keys' LRU/LFU.
 *
 * @category connection
 * @since 0.1.0
 */
export const clientNoTouch = (on: boolean): Command<void> =>
  unsafeMake("CLIENT", ["CLIENT", "NO-TOUCH", on ? "ON" : "OFF"], EMPTY, STATE | Flags.IDEMPOTENT, Reply.ok)

/**
 * CLIENT SETINFO: reports the client library's name or version.
 *
 * @category connection
 * @since 0.1.0
 */
export const clientSetinfo = (attribute: "LIB-NAME" | "LIB-VER", value: string): Command<void> => {
  if (/\s/.test(value)) return invalid("CLIENT", `${attribute} cannot contain spaces`)
  return unsafeMake("CLIENT", ["CLIENT", "SETINFO", attribute, value], EMPTY, STATE | Flags.IDEMPOTENT, Reply.ok)
}

/**
 * Options of CLIENT TRACKING ON.
 *
 * @category connection
 * @since 0.1.0
 */
export interface ClientTrackingOptions {
  /** Send invalidations to this client id (RESP2 tracking). */
  readonly redirect?: number | undefined
  /** Broadcast mode: invalidations for every key with these prefixes. */
  readonly bcast?: boolean | undefined
  readonly prefixes?: ReadonlyArray<string> | undefined
  readonly optin?: boolean | undefined
  readonly optout?: boolean | undefined
  /** No invalidations for this connection's own writes. */
  readonly noloop?: boolean | undefined
}

/**
 * CLIENT TRACKING: turns server-assisted client-side caching on or off for
 * this connection.
 *
 * @category connection
 * @since 0.1.0
 */
export const clientTracking = (on: boolean, options?: ClientTrackingOptions): Command<void> => {
  const argv: Array<Arg> = ["CLIENT", "TRACKING", on ? "ON" : "OFF"]
  if (options?.redirect !== undefined) {
    const bad = checkInteger("CLIENT TRACKING REDIRECT", options.redirect)
    if (bad !== undefined) return invalid("CLIENT", bad)
    argv.push("REDIRECT", options.redirect)
  }
  if (options?.prefixes !== undefined) {
    if (options.bcast !== true && options.prefixes.length > 0) return invalid("CLIENT", "PREFIX needs BCAST")
    for (const p of options.prefixes) argv.push("PREFIX", p)
  }
  if (options?.bcast === true) argv.push("BCAST")
  if (options?.optin === true && options.optout === true) return invalid("CLIENT", "OPTIN and OPTOUT exclude each other")
  if (options?.optin === true) argv.push("OPTIN")
  if (options?.optout === true) argv.push("OPTOUT")
  if (options?.noloop === true) argv.push("NOLOOP")
  return unsafeMake("CLIENT", argv, EMPTY, STATE, Reply.ok)
}

/**
 * CLIENT CACHING: in OPTIN/OPTOUT tracking, whether the next command's keys
 * are tracked.
 *
 * @category connection
 * @since 0.1.0
 */
export const clientCaching = (yes: boolean): Command<void> =>
  unsafeMake("CLIENT", ["CLIENT", "CACHING", yes ? "YES" : "NO"], EMPTY, STATE, Reply.ok)

/**
 * CLIENT REPLY ON: turns the server's replies (back) on.
 *
 * **Gotchas**: OFF and SKIP are refused (`InvalidArgument`) before anything
 * is sent. With them the server sends no reply at all, not even to this
 * command, and every connection of this client matches replies to commands
 * in order: the next caller would read the wrong reply or wait forever.
 * For fire-and-forget writes use a pipeline, whose replies are read and
 * dropped. ON is `CONNECTION_STATE`, so it only runs inside
 * `withConnection`.
 *
 * @category connection
 * @since 0.1.0
 */
export const clientReply = (mode: "ON" | "OFF" | "SKIP"): Command<void> =>
  mode === "ON"
    ? unsafeMake("CLIENT", ["CLIENT", "REPLY", mode], EMPTY, STATE, Reply.ok)
    : invalid(
      "CLIENT",
      `CLIENT REPLY ${mode} is not supported: the server would stop answering and the connection would lose track of replies`
    )

// -----------------------------------------------------------------------------
// connection mode
// -----------------------------------------------------------------------------

/**
 * READONLY: lets a cluster replica connection serve reads.
 *
 * @category connection
 * @since 0.1.0
 */
export const readonly = (): Command<void> =>
  unsafeMake("READONLY", ["READONLY"], EMPTY, STATE | Flags.IDEMPOTENT, Reply.ok)

/**
 * READWRITE: ends READONLY on a cluster replica connection.
 *
 * @category connection
 * @since 0.1.0
 */
export const readwrite = (): Command<void> =>
  unsafeMake("READWRITE", ["READWRITE"], EMPTY, STATE | Flags.IDEMPOTENT, Reply.ok)

/**
 * RESET: returns the connection to its initial state (leaves MULTI,
 * subscriber mode, tracking; deauthenticates; selects db 0).
 *
 * @category connection
 * @since 0.1.0
 */
export const reset = (): Command<void> =>
  unsafeMake("RESET", ["RESET"], EMPTY, STATE | Flags.IDEMPOTENT, Reply.ok)

/**
 * QUIT: asks the server to close the connection (deprecated since Redis
 * 7.2; closing the socket does the same).
 *
 * @category connection
 * @since 0.1.0
 */
export const quit = (): Command<void> => unsafeMake("QUIT", ["QUIT"], EMPTY, STATE, Reply.ok)

// -----------------------------------------------------------------------------
// escape hatch
// -----------------------------------------------------------------------------

const textDecoder = new TextDecoder()

/**
 * Any command, as argv; the reply comes back raw. `keys` (for cluster
 * routing) and `flags` are the caller's to state: without flags the command
 * is treated as a write that may not be resent.
 *
 * @category connection
 * @since 0.1.0
 */
export const raw = (
  args: ReadonlyArray<Arg>,
  options?: {
    readonly keys?: ReadonlyArray<Arg> | undefined
    readonly flags?: number | undefined
    readonly binary?: boolean | undefined
  }
): Command<RespValue> => {
  if (args.length === 0) return invalid("RAW", "a command needs at least its name")
  const first = args[0]
  const name = (first instanceof Uint8Array ? textDecoder.decode(first) : String(first)).toUpperCase()
  const bad = checkArgs(args)
  if (bad !== undefined) return invalid(name, bad)
  return unsafeMake(name, args, options?.keys ?? EMPTY, options?.flags ?? 0, Reply.raw, options?.binary ?? false)
}
