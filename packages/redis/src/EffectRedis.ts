/**
 * Effect's own `Redis` service (`effect/persistence/Redis`: `send`,
 * `subscribe`, `eval`, `reserve`) on top of this client, so Effect's
 * `RateLimiter`, `PersistedQueue`, `Persistence` / `PersistedCache` and
 * `CircuitBreaker` stores run on a standalone server, a Redis Cluster or a
 * Sentinel-managed primary alike:
 *
 * ```ts
 * import { RateLimiter } from "effect/persistence"
 * import { EffectRedis } from "@redis-effect/redis"
 *
 * const Limiter = RateLimiter.layer.pipe(
 *   Layer.provide(RateLimiter.layerStoreRedis({ prefix: "{ratelimiter}:" })),
 *   Layer.provide(EffectRedis.layer),
 *   Layer.provide(NodeCluster.layer({ nodes: ["127.0.0.1:7000"] }))
 * )
 * ```
 *
 * - `send` reads the command's keys from its words (`internal/keySpecs.ts`),
 *   so a cluster routes it locally (no `COMMAND GETKEYS` per EVALSHA), and
 *   returns replies in RESP2 shapes (`internal/resp2Shape.ts`), which
 *   Effect's stores decode. On a cluster it also walks SCAN over every
 *   primary and splits MGET / DEL / UNLINK / EXISTS / TOUCH by slot
 *   (`internal/effectSend.ts`).
 * - `eval` runs EVALSHA with the script's keys declared, and EVAL on
 *   NOSCRIPT (which loads it on that node). On a cluster a script whose keys
 *   span slots fails before anything is sent, with a message naming the
 *   store and the prefix that fixes it (`EffectStores`).
 * - `reserve` holds a dedicated connection until the scope closes; on a
 *   cluster one per primary, each command routed by its keys
 *   (`internal/reserved.ts`). The client's pool options apply
 *   (`maxDedicated`), not Effect's `PoolOptions`.
 * - `subscribe` feeds a `Queue` from `Redis.subscribe`, which resubscribes
 *   after reconnects, failovers and slot moves.
 *
 * Errors are Effect's `RedisError` whose `cause` is this client's typed
 * `RedisError` (reason, outcome). Reads go to primaries whatever the
 * client's read-from policy: Effect's stores read their own writes.
 *
 * **Gotchas**
 *
 * - On a cluster, build it where `Cluster.Cluster` is in context too
 *   (`NodeCluster.layer` provides both): without it commands still route,
 *   but SCAN stays on one node, multi-key reads are not split, and
 *   `reserve` is not routed by key.
 * - `subscribe` returns its queue before the server has confirmed the
 *   subscription: a message published right after it returns may be missed.
 * - A reserved connection goes back to its pool only if every command on it
 *   completed with a reply (an error reply included) and none changed
 *   connection state; otherwise it is closed.
 *
 * @since 0.1.0
 */
import * as Cause from "effect/Cause"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as EffectRedis from "effect/persistence/Redis"
import * as Queue from "effect/Queue"
import * as Scope from "effect/Scope"
import * as Stream from "effect/Stream"
import * as Cluster from "./cluster/Cluster.ts"
import * as ClusterSlot from "./cluster/ClusterSlot.ts"
import type { Command } from "./Command.ts"
import * as EffectStores from "./EffectStores.ts"
import { clusterSend, commandOf } from "./internal/effectSend.ts"
import * as KeySpecs from "./internal/keySpecs.ts"
import * as Reserved from "./internal/reserved.ts"
import { plain } from "./internal/resp2Shape.ts"
import * as Redis from "./Redis.ts"
import type * as RedisError from "./RedisError.ts"
import type { RespValue } from "./Resp.ts"
import * as Script from "./Script.ts"

type Service = EffectRedis.Redis["Service"]
type Execute = <A>(command: Command<A>) => Effect.Effect<A, RedisError.RedisError>
type Send = (args: ReadonlyArray<string>) => Effect.Effect<RespValue, RedisError.RedisError>

/**
 * Effect's `RedisError`, with this client's error as its `cause`.
 *
 * @category errors
 * @since 0.1.0
 */
export const toEffectError = (cause: RedisError.RedisError): EffectRedis.RedisError => new EffectRedis.RedisError({ cause })

/**
 * The keys `send` routes a command by, read from its words (`args[0]` the
 * command word): `[]` for a keyless command, `undefined` for one it does not
 * know (the cluster client then finds its keys itself). Also handy for
 * `Commands.raw(args, { keys: EffectRedis.keysOf(args) })`.
 *
 * @category keys
 * @since 0.1.0
 */
export const keysOf: (args: ReadonlyArray<string>) => ReadonlyArray<string> | undefined = KeySpecs.keysOf

const sendOf = (send: Send): Service["send"] => (command, ...args) =>
  Effect.mapError(send([command, ...args]), toEffectError) as Effect.Effect<any, EffectRedis.RedisError>

// Effect's script descriptors are values without a digest: ours (source,
// SHA-1, decoder) is made once per descriptor, and its SHA remembered so a
// cross-slot EVALSHA sent by hand can still be named.
const makeScripts = () => {
  const scripts = new WeakMap<object, Script.Script<RespValue>>()
  const sources = new Map<string, string>()
  return {
    of: (script: EffectRedis.Script<any>): Script.Script<RespValue> => {
      let ours = scripts.get(script)
      if (ours === undefined) {
        ours = Script.make(script.lua, plain)
        scripts.set(script, ours)
        sources.set(ours.sha1, script.lua)
      }
      return ours
    },
    luaOf: (sha: string) => sources.get(sha)
  }
}

const evalOf = (execute: Execute, scripts: ReturnType<typeof makeScripts>, onCluster: boolean): Service["eval"] =>
(script) => {
  const ours = scripts.of(script)
  return (...params) =>
    Effect.suspend(() => {
      const words = script.params(...params).map(String)
      const n = script.numberOfKeys(...params)
      const keys = words.slice(0, n)
      // The cluster would refuse it too (CrossSlot); this says which store and how to fix it.
      if (onCluster && keys.length > 1 && ClusterSlot.slotOfKeys(keys) === -2) {
        return Effect.fail(toEffectError(EffectStores.crossSlot(keys, { lua: script.lua, command: "EVALSHA" })))
      }
      return Effect.mapError(Script.run(execute, ours, keys, words.slice(n)), toEffectError)
    })
}

const subscribeOf = (redis: Redis.RedisShape): Service["subscribe"] => (channel) =>
  Effect.gen(function*() {
    const scope = yield* Effect.scope
    // A small queue whose `offer` waits: a slow reader pushes back to the
    // subscription's own bounded buffer, where overflow is dropped and
    // counted (`redis.pubsubDropped`), instead of growing this queue.
    const queue = yield* Queue.bounded<EffectRedis.RedisMessage, EffectRedis.RedisError>(16)
    yield* Scope.addFinalizer(scope, Queue.shutdown(queue))
    yield* redis.subscribe(channel).pipe(
      Stream.runForEach((m) => Queue.offer(queue, { channel: m.channel, message: m.payload })),
      Effect.catchCause((cause) =>
        Cause.hasInterruptsOnly(cause) ? Effect.void : Queue.failCause(queue, Cause.map(cause, toEffectError))
      ),
      Effect.forkIn(scope)
    )
    return queue
  })

/**
 * Effect's `Redis` service over the `Redis` in context (and `Cluster`, when
 * the client is a cluster).
 *
 * @category constructors
 * @since 0.1.0
 */
export const make: Effect.Effect<Service, never, Redis.Redis> = Effect.gen(function*() {
  const redis = yield* Redis.Redis
  const cluster = Option.getOrUndefined(yield* Effect.serviceOption(Cluster.Cluster))
  const scripts = makeScripts()
  const onCluster = cluster !== undefined
  const execute: Execute = redis.execute
  const send: Send = cluster === undefined
    ? (args) => execute(commandOf(args))
    : clusterSend(redis, cluster, scripts.luaOf)

  const connectionOf = (held: Reserved.Held): EffectRedis.Connection => ({
    send: sendOf((args) => held.execute(commandOf(args))),
    eval: evalOf(held.execute, scripts, onCluster)
  })

  const reserve: Service["reserve"] = Effect.flatMap(Effect.scope, (scope) =>
    cluster === undefined
      ? Effect.mapBoth(Reserved.hold(redis.withConnection, scope), { onFailure: toEffectError, onSuccess: connectionOf })
      : Effect.succeed(connectionOf(Reserved.holdPerNode(cluster, scope))))

  return EffectRedis.Redis.of({
    send: sendOf(send),
    eval: evalOf(execute, scripts, onCluster),
    subscribe: subscribeOf(redis),
    reserve
  })
})

/**
 * Provides Effect's `Redis` (`effect/persistence/Redis`) from this client's
 * `Redis.Redis` — standalone, Cluster (uses `Cluster.Cluster` when present)
 * or Sentinel.
 *
 * @category layers
 * @since 0.1.0
 */
export const layer: Layer.Layer<EffectRedis.Redis, never, Redis.Redis> = Layer.effect(EffectRedis.Redis, make)
