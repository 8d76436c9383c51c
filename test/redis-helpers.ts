/**
 * Shared fixtures of the service-level integration tests: a real
 * redis-server with a `Redis` client in front of it, extra clients on
 * demand, unique key names and a bounded "eventually".
 */
import * as NodeClient from "@redis-effect/node/NodeClient"
import * as NodeTransport from "@redis-effect/node/NodeTransport"
import type * as Redis from "@redis-effect/redis/Redis"
import type * as RedisError from "@redis-effect/redis/RedisError"
import * as Standalone from "@redis-effect/redis/Standalone"
import * as RedisServer from "@redis-effect/testing/RedisServer"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import type * as Scope from "effect/Scope"

/** One server and one client on it, for `it.layer(..., { excludeTestServices: true })`. */
export const serverWithClient = (
  serverOptions: RedisServer.RedisServerOptions = {},
  clientOptions: Omit<Standalone.Options, "url"> = {}
): Layer.Layer<RedisServer.RedisServer | Redis.Redis, RedisServer.ServerError | RedisError.RedisError> =>
  Layer.provideMerge(
    Layer.unwrap(Effect.gen(function*() {
      const server = yield* RedisServer.RedisServer
      return NodeClient.layer({ url: server.url, ...clientOptions })
    })),
    RedisServer.layer(serverOptions)
  )

/** Another client on the same server, closed with the scope. */
export const extraClient = (
  options: Omit<Standalone.Options, "url"> = {}
): Effect.Effect<Redis.RedisShape, RedisError.RedisError, Scope.Scope | RedisServer.RedisServer> =>
  Effect.gen(function*() {
    const server = yield* RedisServer.RedisServer
    return yield* Standalone.make({ url: server.url, ...options }).pipe(Effect.provide(NodeTransport.layer))
  })

let counter = 0
/** A key name no other test uses. */
export const key = (name: string): string => `t${++counter}:${name}`

/**
 * Runs `check` until it returns true, every `intervalMs`, at most `times`
 * times; fails with `what` if it never does. No assertion on timing.
 */
export const eventually = <E, R>(
  what: string,
  check: Effect.Effect<boolean, E, R>,
  options: { readonly times?: number; readonly intervalMs?: number } = {}
): Effect.Effect<void, E | Error, R> =>
  Effect.gen(function*() {
    const times = options.times ?? 200
    for (let i = 0; i < times; i++) {
      if (yield* check) return
      yield* Effect.sleep(options.intervalMs ?? 25)
    }
    return yield* Effect.fail(new Error(`never happened: ${what}`))
  })
