/**
 * Effect's `KeyValueStore` (`effect/persistence/KeyValueStore`) on Redis,
 * under a key prefix, on every topology. Effect ships none for Redis.
 *
 * - Each entry is one Redis string at `prefix + key`: `set` writes the
 *   string or the bytes as they are; `get` reads them as UTF-8 text,
 *   `getUint8Array` as bytes (like Effect's file-system store, and unlike
 *   its memory store, a binary value is not read back as base64 by `get`).
 * - `modify` / `modifyUint8Array` are atomic: an optimistic WATCH
 *   transaction, run again if someone else wrote the key in between.
 * - `keys`, `size`, `isEmpty`, `clear` and `clearPrefix` walk the prefix
 *   with SCAN — every primary on a cluster — and delete in pipelines of
 *   single-key UNLINKs, so keys of any slot are fine. They are not atomic:
 *   keys written during the walk may or may not be seen.
 *
 * Every error is Effect's `KeyValueStoreError` whose `cause` is this
 * client's `RedisError`.
 *
 * @since 0.1.0
 */
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as KeyValueStore from "effect/persistence/KeyValueStore"
import * as Stream from "effect/Stream"
import type { Command } from "./Command.ts"
import * as Commands from "./Commands.ts"
import * as Redis from "./Redis.ts"
import type * as RedisError from "./RedisError.ts"
import type * as Transaction from "./Transaction.ts"

/**
 * @category models
 * @since 0.1.0
 */
export interface Options {
  /** Prepended to every key (default `"kv:"`). Any prefix is slot-safe: every command has one key. */
  readonly prefix?: string | undefined
  /** Keys deleted per pipeline by `clear` (default 100). */
  readonly batchSize?: number | undefined
}

// SCAN MATCH is a glob: the prefix must match only itself.
const escapeGlob = (text: string): string => text.replace(/[\\*?[\]]/g, "\\$&")

const failWith = (method: string, key?: string) => (cause: RedisError.RedisError) =>
  new KeyValueStore.KeyValueStoreError({
    method,
    ...(key === undefined ? {} : { key }),
    message: `Redis ${method}${key === undefined ? "" : ` of ${key}`} failed: ${cause.message}`,
    cause
  })

const textDecoder = new TextDecoder()

/**
 * A `KeyValueStore` over the `Redis` in context.
 *
 * @category constructors
 * @since 0.1.0
 */
export const make = (options?: Options): Effect.Effect<KeyValueStore.KeyValueStore, never, Redis.Redis> =>
  Effect.map(Effect.service(Redis.Redis), (redis) => {
    const prefix = options?.prefix ?? "kv:"
    const batchSize = Math.max(1, options?.batchSize ?? 100)
    const full = (key: string) => `${prefix}${key}`
    const under = (start: string) => redis.scanStream({ match: `${escapeGlob(start)}*`, count: 1000 })

    const getBytes = (key: string) =>
      redis.execute(Commands.getBytes(full(key))).pipe(
        Effect.map(Option.getOrUndefined),
        Effect.mapError(failWith("getUint8Array", key))
      )

    const removeUnder = (method: string, start: string) =>
      under(start).pipe(
        Stream.grouped(batchSize),
        Stream.runForEach((keys) => redis.pipeline(keys.map((k) => Commands.unlink([k])))),
        Effect.mapError(failWith(method, start))
      )

    // modify through WATCH: `f` runs on what was read; EXEC fails (and the
    // whole thing runs again) if the key changed before it.
    const modifyWith = <V extends string | Uint8Array>(
      method: string,
      read: (key: string) => Command<Option.Option<V>>,
      key: string,
      f: (value: V) => V
    ): Effect.Effect<V | undefined, KeyValueStore.KeyValueStoreError> =>
      Effect.suspend(() => {
        let next: V | undefined
        const body = (tx: Transaction.WatchContext) =>
          Effect.map(tx.execute(read(full(key))), (current): ReadonlyArray<Command<boolean>> => {
            next = Option.isNone(current) ? undefined : f(current.value)
            return next === undefined ? [] : [Commands.set(full(key), next)]
          })
        return redis.watch([full(key)], body).pipe(Effect.map(() => next), Effect.mapError(failWith(method, key)))
      })

    const keys = under(prefix).pipe(
      Stream.map((k) => k.slice(prefix.length)),
      Stream.runCollect,
      Effect.mapError(failWith("keys"))
    )

    return KeyValueStore.make({
      get: (key) =>
        redis.get(full(key)).pipe(Effect.map(Option.getOrUndefined), Effect.mapError(failWith("get", key))),
      getUint8Array: getBytes,
      set: (key, value) => Effect.mapError(Effect.asVoid(redis.set(full(key), value)), failWith("set", key)),
      remove: (key) => Effect.mapError(Effect.asVoid(redis.unlink([full(key)])), failWith("remove", key)),
      has: (key) => Effect.mapError(Effect.map(redis.exists([full(key)]), (n) => n > 0), failWith("has", key)),
      clear: removeUnder("clear", prefix),
      clearPrefix: (start) => removeUnder("clearPrefix", `${prefix}${start}`),
      keys,
      size: under(prefix).pipe(Stream.runCount, Effect.mapError(failWith("size"))),
      isEmpty: under(prefix).pipe(Stream.take(1), Stream.runCount, Effect.map((n) => n === 0), Effect.mapError(failWith("isEmpty"))),
      modify: (key, f) => modifyWith("modify", Commands.get, key, f),
      modifyUint8Array: (key, f) => modifyWith("modifyUint8Array", Commands.getBytes, key, f)
    })
  })

/**
 * Provides `KeyValueStore` on the `Redis` in context.
 *
 * @category layers
 * @since 0.1.0
 */
export const layer = (options?: Options): Layer.Layer<KeyValueStore.KeyValueStore, never, Redis.Redis> =>
  Layer.effect(KeyValueStore.KeyValueStore, make(options))
