/**
 * Typed commands the library does not ship: module commands (`JSON.GET`,
 * `FT.SEARCH`, `BF.ADD`), commands of a newer server, or a house wrapper
 * around `EVALSHA`. `define` turns a small description — the command words,
 * how to build the arguments and the keys, the flags and a reply decoder —
 * into a constructor of `Command` values, the same kind of value
 * `Commands.*` builds, so `redis.execute`, `pipeline`, `transaction` and
 * cluster routing treat it like any built-in command.
 *
 * ```ts
 * const jsonGet = CustomCommand.define({
 *   name: "JSON.GET",
 *   args: (key: string, path: string) => [key, path],
 *   keys: (key) => [key],
 *   flags: Command.Flags.READONLY,
 *   decode: Command.Reply.optionalString
 * })
 * const doc = yield* redis.execute(jsonGet("user:1", "$"))
 * ```
 *
 * Pure: defining or building a command sends nothing. It does not check that
 * the server knows the command (a missing module answers `ERR unknown
 * command`, surfaced as a `ReplyError`), and it does not check that `keys`
 * appear among `args`: they are what the router hashes, so they must.
 *
 * @since 0.1.0
 */
import type { Command, Decoder } from "./Command.ts"
import { Flags, invalid, Reply, unsafeMake } from "./Command.ts"
import { checkArgs } from "./internal/replyDecoders.ts"
import type { Arg, RespValue } from "./Resp.ts"

/**
 * What a custom command is.
 *
 * @category models
 * @since 0.1.0
 */
export interface Definition<P extends ReadonlyArray<any>, A> {
  /**
   * The command word(s), e.g. `"JSON.GET"` or `"OBJECT FREQ"`: split on
   * spaces and sent before the arguments.
   */
  readonly name: string
  /** The arguments after the command words (default: the parameters as they are). */
  readonly args?: ((...params: P) => ReadonlyArray<Arg>) | undefined
  /** The key arguments, for cluster routing (default: none, which also sets `NO_KEYS`). */
  readonly keys?: ((...params: P) => ReadonlyArray<Arg>) | undefined
  /**
   * `Command.Flags` bits (default 0: a write that is never resent).
   * `READONLY` or `IDEMPOTENT` let the client resend it after a lost
   * connection; `BLOCKING` sends it on a dedicated connection.
   */
  readonly flags?: number | undefined
  /** Turns the reply into `A` (default: the raw reply). */
  readonly decode?: Decoder<A> | undefined
  /** Whether bulk strings of the reply should come as bytes. */
  readonly binary?: boolean | undefined
  /** Refuses bad input before anything is sent: return a message to refuse. */
  readonly validate?: ((...params: P) => string | undefined) | undefined
}

/**
 * Builds a constructor of typed commands from a definition.
 *
 * **Gotchas**
 *
 * Flags that change the connection (`CONNECTION_STATE`, `PUBSUB`) are
 * refused by `Redis.execute` like those of built-in commands.
 *
 * @category constructors
 * @since 0.1.0
 */
export const define: {
  <P extends ReadonlyArray<any>, A>(
    definition: Definition<P, A> & { readonly decode: Decoder<A> }
  ): (...params: P) => Command<A>
  <P extends ReadonlyArray<any>>(definition: Definition<P, RespValue>): (...params: P) => Command<RespValue>
} = <P extends ReadonlyArray<any>, A>(definition: Definition<P, A>): (...params: P) => Command<A> => {
  const words = definition.name.trim().split(/\s+/)
  const name = words[0].toUpperCase()
  const decode = (definition.decode ?? Reply.raw) as Decoder<A>
  const flags = definition.flags ?? 0
  const binary = definition.binary ?? false
  const buildArgs = definition.args ?? ((...params: P) => params as unknown as ReadonlyArray<Arg>)
  const buildKeys = definition.keys
  return (...params: P): Command<A> => {
    if (words[0].length === 0) return invalid(name || "CUSTOM", "a custom command needs a name")
    const refused = definition.validate?.(...params)
    if (refused !== undefined) return invalid(name, refused)
    const argv: Array<Arg> = [...words, ...buildArgs(...params)]
    const bad = checkArgs(argv)
    if (bad !== undefined) return invalid(name, bad)
    const keys = buildKeys === undefined ? [] : buildKeys(...params)
    return unsafeMake(name, argv, keys, keys.length === 0 ? flags | Flags.NO_KEYS : flags, decode, binary)
  }
}
