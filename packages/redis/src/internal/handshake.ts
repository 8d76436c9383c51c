/**
 * What a connection sends on every connect, before any queued command:
 * credentials (a provider runs each time, so a rotated password works after
 * a reconnect), `HELLO 3` with AUTH and SETNAME, the fall back to RESP2
 * (`AUTH`, `CLIENT SETNAME`) for servers before 6.0 or that refuse RESP3,
 * then `SELECT`, `READONLY` and `CLIENT SETINFO` (with the user's
 * `libName`/`libVersion`, or ours) in one write, then the user's
 * `onConnect`. The whole of it is bounded by `connectTimeout`: a peer that
 * accepts the TCP connection but never answers HELLO must not hang the
 * connect.
 *
 * It does not touch a socket: it runs over an `Exchange` the connection
 * gives it (commands out in one write, replies back in order). It does not
 * retry: a failed handshake fails the connect attempt and the connection's
 * reconnect schedule decides what follows.
 *
 * @internal
 */
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Redacted from "effect/Redacted"
import type { Command } from "../Command.ts"
import * as Cmd from "../Command.ts"
import * as RedisConfig from "../RedisConfig.ts"
import * as RedisError from "../RedisError.ts"
import type * as Resp from "../Resp.ts"
import { exitError } from "./Multiplexer.ts"

/**
 * The library name and version sent with `CLIENT SETINFO`.
 *
 * @internal
 */
export const LIB_NAME = "redis-effect"

/** @internal */
export const LIB_VERSION = "0.1.0"

/**
 * Writes commands in one write and returns their replies, in order.
 *
 * @internal
 */
export type Exchange = (
  commands: ReadonlyArray<Command<unknown>>
) => Effect.Effect<Array<Exit.Exit<unknown, RedisError.RedisError>>>

/**
 * Runs the handshake and returns the protocol the session speaks.
 *
 * @internal
 */
export const run = (
  options: RedisConfig.ConnectionOptions,
  exchange: Exchange
): Effect.Effect<2 | 3, RedisError.RedisError> => {
  const connectTimeout = Duration.fromInputUnsafe(options.connectTimeout ?? RedisConfig.defaultConnectTimeout)
  return Effect.timeoutOrElse(steps(options, exchange), {
    duration: connectTimeout,
    orElse: () =>
      Effect.fail(RedisError.make(
        new RedisError.Timeout({
          message: `handshake with ${RedisConfig.formatEndpoint(options.endpoint)} got no reply within ${
            Duration.toMillis(connectTimeout)
          } ms`,
          millis: Duration.toMillis(connectTimeout)
        }),
        "NotSent"
      ))
  })
}

const command = (args: ReadonlyArray<Resp.Arg>): Command<unknown> =>
  Cmd.unsafeMake(String(args[0]), args, [], 0, Cmd.Reply.raw)

/** One command's reply. */
const one = (exchange: Exchange, args: ReadonlyArray<Resp.Arg>) =>
  Effect.map(exchange([command(args)]), (replies) => replies[0])

const steps = (options: RedisConfig.ConnectionOptions, exchange: Exchange): Effect.Effect<2 | 3, RedisError.RedisError> =>
  Effect.gen(function*() {
    const { password, username } = yield* credentials(options)
    const authArgs = password === undefined ? [] : ["AUTH", username ?? "default", Redacted.value(password)]
    let protocol: 2 | 3 = 2
    if ((options.protocol ?? 3) === 3) {
      const helloArgs: Array<Resp.Arg> = ["HELLO", 3, ...authArgs]
      if (options.clientName !== undefined) helloArgs.push("SETNAME", options.clientName)
      const hello = yield* one(exchange, helloArgs)
      if (Exit.isSuccess(hello)) {
        protocol = 3
      } else {
        const error = exitError(hello)
        // Servers before 6.0 do not know HELLO; NOPROTO: RESP3 refused.
        const unknown = error.reason._tag === "ReplyError" &&
          (error.reason.code === "NOPROTO" || /unknown command/i.test(error.reason.message))
        if (!unknown) return yield* Effect.fail(asAuthError(error))
      }
    }
    if (protocol === 2 && password !== undefined) {
      const auth = yield* one(exchange, username === undefined ? ["AUTH", Redacted.value(password)] : authArgs)
      if (Exit.isFailure(auth)) return yield* Effect.fail(asAuthError(exitError(auth)))
    }
    // HELLO named the connection when it succeeded.
    yield* setup(options, exchange, protocol === 3)
    if (options.onConnect !== undefined) yield* options.onConnect(session(options, exchange, protocol))
    return protocol
  })

// What the user's onConnect sends with: the handshake's own write path.
const session = (
  options: RedisConfig.ConnectionOptions,
  exchange: Exchange,
  protocol: 2 | 3
): RedisConfig.ConnectSession => ({
  endpoint: options.endpoint,
  protocol,
  send: <A>(command: Command<A>) =>
    command.invalid !== undefined
      ? Effect.fail(RedisError.invalidArgument(command.invalid, command.name))
      : Effect.flatMap(exchange([command]), (replies) => replies[0] as Exit.Exit<A, RedisError.RedisError>)
})

const credentials = (options: RedisConfig.ConnectionOptions): Effect.Effect<
  { readonly username?: string | undefined; readonly password?: Redacted.Redacted<string> | undefined },
  RedisError.RedisError
> =>
  options.credentials === undefined
    ? Effect.succeed({ username: options.username, password: options.password })
    : Effect.mapError(options.credentials, (e) =>
      RedisError.make(
        new RedisError.AuthError({ message: `credentials provider failed: ${e.reason._tag}` }),
        "NotSent"
      ))

/**
 * What follows HELLO/AUTH, in one write: CLIENT SETNAME (when HELLO did not
 * name the connection), SELECT, READONLY, which must succeed, then CLIENT
 * SETINFO, whose errors are ignored (Redis < 7.2 does not know it).
 */
const setup = (
  options: RedisConfig.ConnectionOptions,
  exchange: Exchange,
  named: boolean
): Effect.Effect<void, RedisError.RedisError> => {
  const required: Array<Command<unknown>> = []
  if (!named && options.clientName !== undefined) required.push(command(["CLIENT", "SETNAME", options.clientName]))
  if (options.database !== undefined && options.database !== 0) required.push(command(["SELECT", options.database]))
  if (options.readOnly === true) required.push(command(["READONLY"]))
  const all = options.setInfo === false ? required : [
    ...required,
    command(["CLIENT", "SETINFO", "LIB-NAME", options.libName ?? LIB_NAME]),
    command(["CLIENT", "SETINFO", "LIB-VER", options.libVersion ?? LIB_VERSION])
  ]
  if (all.length === 0) return Effect.void
  return Effect.flatMap(exchange(all), (replies) => {
    const error = RedisError.firstFailure(replies.slice(0, required.length))
    return error === undefined ? Effect.void : Effect.fail(error)
  })
}

const asAuthError = (error: RedisError.RedisError): RedisError.RedisError =>
  error.reason._tag === "AuthError" ||
    error.reason._tag === "ReplyError" && /NOPERM|WRONGPASS|NOAUTH/.test(error.reason.code)
    ? RedisError.make(new RedisError.AuthError({ message: authMessage(error) }), "Rejected", "AUTH")
    : error

const authMessage = (error: RedisError.RedisError): string =>
  // The server's text never contains the password; keep it, it says why.
  (error.reason as { readonly message?: string }).message ?? error.reason._tag
