/**
 * The one interception point every command passes, on every topology.
 *
 * A `Middleware` wraps two levels of the command's life:
 *
 * - the **caller's level**: `execute` around one command a caller runs
 *   (blocking ones included), `batch` around a pipeline or a transaction.
 *   This is where the command's outcome is seen once, after every retry and
 *   redirect: a span, a latency metric, a client-side cache lookup.
 * - the **wire's level**: `send` around one command written to one node,
 *   `sendAll` around several written together (a pipeline's group for one
 *   node, `ASKING` + the command, `MULTI`…`EXEC`). Every attempt, every
 *   redirect leg, every fan-out leg passes here, with the node's address.
 *
 * Tracing, metrics and the client-side cache hang here. Middlewares come
 * from the client's options (`middleware`) and from the `Middlewares`
 * service in the layer's context; the first listed is the outermost.
 *
 * **Cost**: none when no middleware is installed. Every wrapper here is
 * applied once, when a client or connection is built, and returns its input
 * unchanged when there is nothing to wrap: the per-command path is the same
 * function it would be without this module (docs/ARCHITECTURE.md, "Seams").
 *
 * Nothing here sends anything or keeps state.
 *
 * @since 0.1.0
 */
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import type * as Exit from "effect/Exit"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import type { Command } from "./Command.ts"
import type * as Connection from "./Connection.ts"
import * as RedisConfig from "./RedisConfig.ts"
import type * as RedisError from "./RedisError.ts"

/**
 * What a batch is.
 *
 * @category models
 * @since 0.1.0
 */
export type BatchKind = "pipeline" | "transaction"

/**
 * The replies of several commands written together, one `Exit` each.
 *
 * @category models
 * @since 0.1.0
 */
export type Exits = Array<Exit.Exit<unknown, RedisError.RedisError>>

/**
 * A middleware: any subset of the four hooks. Each receives `next`, the
 * effect that does the work, and returns an effect of the same type; it may
 * run `next` once, not at all (a cache hit), or observe its exit.
 *
 * @category models
 * @since 0.1.0
 */
export interface Middleware {
  /** A name for logs and errors. */
  readonly name?: string | undefined
  /** Around one command a caller runs, with all its attempts. */
  readonly execute?:
    | (<A>(command: Command<A>, next: Effect.Effect<A, RedisError.RedisError>) => Effect.Effect<A, RedisError.RedisError>)
    | undefined
  /** Around a pipeline or a transaction a caller runs. */
  readonly batch?:
    | (<A, E>(kind: BatchKind, commands: ReadonlyArray<Command<unknown>>, next: Effect.Effect<A, E>) => Effect.Effect<A, E>)
    | undefined
  /** Around one command written to one node (`node` is `host:port` or a socket path). */
  readonly send?:
    | (<A>(node: string, command: Command<A>, next: Effect.Effect<A, RedisError.RedisError>) => Effect.Effect<A, RedisError.RedisError>)
    | undefined
  /** Around several commands written together to one node. */
  readonly sendAll?:
    | ((node: string, commands: ReadonlyArray<Command<unknown>>, next: Effect.Effect<Exits>) => Effect.Effect<Exits>)
    | undefined
}

/**
 * The middlewares a layer's context carries for every client built in it
 * (after those of the client's own options).
 *
 * @category services
 * @since 0.1.0
 */
export class Middlewares extends Context.Service<Middlewares, ReadonlyArray<Middleware>>()(
  "@redis-effect/redis/Middleware/Middlewares"
) {}

/**
 * Adds a middleware to the context, after any already there.
 *
 * @category layers
 * @since 0.1.0
 */
export const layer = (middleware: Middleware): Layer.Layer<Middlewares> =>
  Layer.effect(Middlewares)(
    Effect.map(Effect.serviceOption(Middlewares), (existing) => [...Option.getOrElse(existing, () => []), middleware])
  )

/**
 * Several middlewares as one; the first is the outermost. `undefined` when
 * the list is empty, so callers can skip wrapping altogether.
 *
 * @category combinators
 * @since 0.1.0
 */
export const combine = (middlewares: ReadonlyArray<Middleware>): Middleware | undefined => {
  if (middlewares.length === 0) return undefined
  if (middlewares.length === 1) return middlewares[0]
  const hooks = <K extends "execute" | "batch" | "send" | "sendAll">(k: K) =>
    middlewares.flatMap((m) => (m[k] === undefined ? [] : [m[k]!])).reverse()
  const execute = hooks("execute")
  const batch = hooks("batch")
  const send = hooks("send")
  const sendAll = hooks("sendAll")
  return {
    name: middlewares.map((m) => m.name ?? "anonymous").join("+"),
    execute: execute.length === 0 ? undefined : (command, next) => execute.reduce((n, h) => h(command, n), next),
    batch: batch.length === 0 ? undefined : (kind, commands, next) => batch.reduce((n, h) => h(kind, commands, n), next),
    send: send.length === 0 ? undefined : (node, command, next) => send.reduce((n, h) => h(node, command, n), next),
    sendAll: sendAll.length === 0
      ? undefined
      : (node, commands, next) => sendAll.reduce((n, h) => h(node, commands, n), next)
  }
}

/**
 * The middleware of a client: those of its options, then those of the
 * context's `Middlewares`. `undefined` when there are none.
 *
 * @category constructors
 * @since 0.1.0
 */
export const resolve = (
  fromOptions: Middleware | ReadonlyArray<Middleware> | undefined
): Effect.Effect<Middleware | undefined> =>
  Effect.map(Effect.serviceOption(Middlewares), (fromContext) => {
    const own = fromOptions === undefined ? [] : Array.isArray(fromOptions) ? fromOptions : [fromOptions as Middleware]
    return combine([...own, ...Option.getOrElse(fromContext, () => [])])
  })

/**
 * A connection whose writes pass the middleware's `send`/`sendAll` hooks.
 * Returns the connection itself when the middleware has neither.
 *
 * @category combinators
 * @since 0.1.0
 */
export const wrapConnection = (
  connection: Connection.Connection,
  middleware: Middleware | undefined
): Connection.Connection => {
  const send = middleware?.send
  const sendAll = middleware?.sendAll
  if (send === undefined && sendAll === undefined) return connection
  const node = RedisConfig.formatEndpoint(connection.endpoint)
  return {
    ...connection,
    send: send === undefined ? connection.send : (command) => send(node, command, connection.send(command)),
    sendAll: sendAll === undefined
      ? connection.sendAll
      : (commands) => sendAll(node, commands, connection.sendAll(commands))
  }
}
