/**
 * Effect's Redis-backed stores on a Redis Cluster: which of their keys must
 * share a hash slot, the prefixes that make them, and the typed error that
 * says so before anything is sent.
 *
 * Effect's stores run Lua scripts over several keys that carry no hash tag.
 * A cluster runs a script only when all its keys are in one slot, so:
 *
 * | store (Effect module)                | keys of one script                          | slot-safe when                                   |
 * |--------------------------------------|---------------------------------------------|--------------------------------------------------|
 * | `RateLimiter.layerStoreRedis`        | token bucket: `P+key`, `P+key:refill`       | `prefix: "{ratelimiter}:"`, or a tag in the key (`key: "{user:1}"`) |
 * | `PersistedQueue.layerStoreRedis`     | a queue's lists/hashes and `P+lock:<uuid>`  | `prefix: "{effectq}:"` (one tag per store)        |
 * | `Persistence.layerRedis` (setMany)   | every key of the batch: `<storeId>:<key>`   | `storeId: "{users}"` (a tag in the store id)      |
 * | `CircuitBreaker.layerStoreRedis`     | one key per script                          | any prefix                                        |
 * | `RedisKeyValueStore.layer`           | one key per command                         | any prefix                                        |
 *
 * A tag puts every key of that store in one slot (one node serves it): for
 * PersistedQueue, use one store per tag to spread queues over the cluster.
 *
 * `crossSlot` is the error the adapter (`EffectRedis`) fails a multi-key
 * script or command with when its keys span slots on a cluster: reason
 * `InvalidArgument`, outcome `NotSent`, and a message naming the store (read
 * off the script's Lua) and the prefix that fixes it. `checkPrefix` lets a
 * program refuse an unsafe prefix when it starts instead. Standalone and
 * Sentinel servers have no slots: nothing here applies to them.
 *
 * @since 0.1.0
 */
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import * as Cluster from "./cluster/Cluster.ts"
import * as ClusterSlot from "./cluster/ClusterSlot.ts"
import * as RedisError from "./RedisError.ts"

/**
 * The Effect stores this module knows.
 *
 * @category models
 * @since 0.1.0
 */
export type Store = "RateLimiter" | "PersistedQueue" | "Persistence" | "CircuitBreaker" | "KeyValueStore"

/**
 * The slot-safe prefix (or store id) of each store, as the table above says.
 *
 * @category constants
 * @since 0.1.0
 */
export const safeExample: Readonly<Record<Store, string>> = {
  RateLimiter: "{ratelimiter}:",
  PersistedQueue: "{effectq}:",
  Persistence: "{users}",
  CircuitBreaker: "circuitbreaker:",
  KeyValueStore: "kv:"
}

/**
 * Which store a Lua script belongs to, read off its source (the local names
 * Effect's scripts use); `undefined` for any other script.
 *
 * @category diagnosis
 * @since 0.1.0
 */
export const storeOfScript = (lua: string): Store | undefined => {
  if (lua.includes("last_refill_key")) return "RateLimiter"
  if (lua.includes("local num_sets = tonumber(ARGV[1])")) return "Persistence"
  if (/\bkey_(queue|pending|lock|ids|failed|delayed|owners)\b/.test(lua) || lua.includes("a lapsed lock")) {
    return "PersistedQueue"
  }
  if (lua.includes("CircuitBreaker")) return "CircuitBreaker"
  return undefined
}

/**
 * The hash tag a prefix fixes for every key that starts with it: the text
 * between its first `{` and the first `}` after it, when both are in the
 * prefix and the tag is not empty (exactly the server's rule); otherwise
 * `undefined` (the keys' slots then depend on what follows the prefix).
 *
 * @category diagnosis
 * @since 0.1.0
 */
export const hashTagOf = (prefix: string): string | undefined => {
  const open = prefix.indexOf("{")
  if (open < 0) return undefined
  const close = prefix.indexOf("}", open + 1)
  return close > open + 1 ? prefix.slice(open + 1, close) : undefined
}

/**
 * Whether `prefix` (for Persistence: the store id) keeps each of the
 * store's scripts within one slot whatever the keys are.
 *
 * @category diagnosis
 * @since 0.1.0
 */
export const isSlotSafe = (store: Store, prefix: string): boolean =>
  store === "CircuitBreaker" || store === "KeyValueStore" || hashTagOf(prefix) !== undefined

const fixOf = (store: Store | undefined): string => {
  switch (store) {
    case "RateLimiter":
      return `the token bucket's two keys must share a slot: use RateLimiter.layerStoreRedis({ prefix: "${safeExample.RateLimiter}" }), or put a hash tag in the limiter key (key: "{user:1}")`
    case "PersistedQueue":
      return `a queue store's keys (its lists, hashes and lock keys) must share one slot: use PersistedQueue.layerStoreRedis({ prefix: "${safeExample.PersistedQueue}" }) (one hash tag per store; several stores with different tags spread queues over the cluster)`
    case "Persistence":
      return `the keys of one setMany must share a slot: give the store id a hash tag, e.g. storeId: "${safeExample.Persistence}" (Persistence.make / PersistedCache.make)`
    default:
      return `on a cluster the keys of one command or script must share a slot: give them a common hash tag, e.g. a key prefix "{app}:"`
  }
}

/**
 * The error for keys that hash to different slots on a cluster: reason
 * `InvalidArgument`, outcome `NotSent`; the message names the keys' slots,
 * the store (when `lua` is one of Effect's scripts) and the fix.
 *
 * @category errors
 * @since 0.1.0
 */
export const crossSlot = (
  keys: ReadonlyArray<string>,
  options?: { readonly lua?: string | undefined; readonly command?: string | undefined }
): RedisError.RedisError => {
  const store = options?.lua === undefined ? undefined : storeOfScript(options.lua)
  const first = keys[0]
  const slot = ClusterSlot.keyslot(first)
  const other = keys.find((k) => ClusterSlot.keyslot(k) !== slot) ?? first
  const what = store === undefined ? `the keys of ${options?.command ?? "this command"}` : `${store} keys`
  return RedisError.invalidArgument(
    `${what} hash to different slots ("${first}" → ${slot}, "${other}" → ${ClusterSlot.keyslot(other)}); ${fixOf(store)}`,
    options?.command
  )
}

/**
 * On a cluster (when `Cluster.Cluster` is in context), fails with
 * `InvalidArgument` (`NotSent`) if `prefix` is not slot-safe for `store`;
 * succeeds elsewhere. For a RateLimiter whose keys carry their own hash tag,
 * skip this check: its prefix then needs none.
 *
 * @category diagnosis
 * @since 0.1.0
 */
export const checkPrefix = (store: Store, prefix: string): Effect.Effect<void, RedisError.RedisError> =>
  Effect.flatMap(Effect.serviceOption(Cluster.Cluster), (cluster) =>
    Option.isNone(cluster) || isSlotSafe(store, prefix)
      ? Effect.void
      : Effect.fail(RedisError.invalidArgument(`${store} prefix "${prefix}" is not slot-safe on a cluster: ${fixOf(store)}`)))
