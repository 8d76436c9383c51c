/**
 * Effect's `Redis.send(command, ...args)` over this client: a command given
 * as words becomes a `Command` with its keys and flags read locally
 * (`keySpecs`) and a decoder that returns RESP2-shaped replies
 * (`resp2Shape`).
 *
 * On a cluster, `clusterSend` adds what words-only callers (Effect's
 * stores) need and a routed command alone does not give:
 *
 * - keys of several slots: MGET, DEL, UNLINK, EXISTS and TOUCH are split by
 *   slot and their replies combined (non-atomic, like the server's
 *   `multi_shard` policy); any other command (a script by EVALSHA, MSET, ...)
 *   fails with `EffectStores.crossSlot` before anything is sent;
 * - `SCAN` walks every primary behind one cursor (`"<node>:<cursor>"`), or
 *   only the owner of the slot when its `MATCH` pattern fixes a hash tag
 *   (`{effectq}:*`); `KEYS` with such a pattern goes to that node only
 *   (otherwise it fans out by the server's policy);
 * - a command `keySpecs` does not know keeps the cluster client's own
 *   routing (its `COMMAND` table).
 *
 * Nothing here follows redirects or retries: the client below does.
 *
 * @since 0.1.0
 */
import * as Effect from "effect/Effect"
import * as Address from "../Address.ts"
import type * as Cluster from "../cluster/Cluster.ts"
import * as ClusterSlot from "../cluster/ClusterSlot.ts"
import type { Command } from "../Command.ts"
import { Flags, unsafeMake } from "../Command.ts"
import * as EffectStores from "../EffectStores.ts"
import type * as Redis from "../Redis.ts"
import * as RedisError from "../RedisError.ts"
import type { RespValue } from "../Resp.ts"
import { flagsOf, keysOf } from "./keySpecs.ts"
import { decoderFor, plain } from "./resp2Shape.ts"

const EMPTY: ReadonlyArray<string> = []

// The command for `args` whose keys are `keys` (`undefined`: unknown, left
// undeclared for the client to find). Known to have no key, it is marked
// keyless, so a cluster sends it to any node without asking the server
// (EVALSHA with numkeys 0).
const build = (name: string, args: ReadonlyArray<string>, keys: ReadonlyArray<string> | undefined): Command<RespValue> =>
  unsafeMake(
    name,
    args,
    keys ?? EMPTY,
    keys !== undefined && keys.length === 0 ? flagsOf(args, name) | Flags.NO_KEYS : flagsOf(args, name),
    decoderFor(name, args)
  )

/**
 * The command for `args` (`args[0]` the command word, any case). Keys the
 * specs do not know are left undeclared, for the client to find.
 *
 * @category constructors
 * @since 0.1.0
 */
export const commandOf = (args: ReadonlyArray<string>): Command<RespValue> => {
  const name = args[0].toUpperCase()
  return build(name, args, keysOf(args, name))
}

// -----------------------------------------------------------------------------
// pure helpers (cursor, patterns)
// -----------------------------------------------------------------------------

/**
 * The routing key of a glob pattern whose literal start fixes a hash tag
 * (`{effectq}:*:ids` → `{effectq}`): every key it matches is in that tag's
 * slot. `undefined` when a glob character comes first or there is no tag.
 *
 * @category patterns
 * @since 0.1.0
 */
export const patternTag = (pattern: string): string | undefined => {
  const special = pattern.search(/[*?[\\]/)
  const literal = special < 0 ? pattern : pattern.slice(0, special)
  const open = literal.indexOf("{")
  if (open < 0) return undefined
  const close = literal.indexOf("}", open + 1)
  return close > open + 1 ? literal.slice(0, close + 1) : undefined
}

/**
 * A cluster-wide SCAN cursor: `"0"` starts at the first primary; otherwise
 * `"<primary index>:<that node's cursor>"`. `undefined` for anything else.
 *
 * @category cursor
 * @since 0.1.0
 */
export const parseCursor = (text: string, primaries: number): { readonly node: number; readonly cursor: string } | undefined => {
  if (text === "0") return { node: 0, cursor: "0" }
  const m = /^(\d+):(\d+)$/.exec(text)
  if (m === null) return undefined
  const node = Number(m[1])
  return node < primaries ? { node, cursor: m[2] } : undefined
}

/**
 * The cursor after a page of primary `node`: that node's next cursor, the
 * next primary once a node is done, `"0"` after the last one.
 *
 * @category cursor
 * @since 0.1.0
 */
export const nextCursor = (node: number, next: string, primaries: number): string =>
  next !== "0" ? `${node}:${next}` : node + 1 < primaries ? `${node + 1}:0` : "0"

// -----------------------------------------------------------------------------
// cluster
// -----------------------------------------------------------------------------

const SPLIT: ReadonlySet<string> = new Set(["MGET", "DEL", "UNLINK", "EXISTS", "TOUCH"])
const SCAN_FLAGS = Flags.NO_KEYS | Flags.IDEMPOTENT

const optionOf = (args: ReadonlyArray<string>, from: number, word: string): string | undefined => {
  for (let i = from; i + 1 < args.length; i++) if (args[i].toUpperCase() === word) return args[i + 1]
  return undefined
}

/**
 * `send` on a cluster (see the module comment). `luaOf` names the script
 * behind a SHA, so a cross-slot EVALSHA can say which store it is.
 *
 * @category constructors
 * @since 0.1.0
 */
export const clusterSend = (
  redis: Redis.RedisShape,
  cluster: Cluster.ClusterShape,
  luaOf: (sha: string) => string | undefined
): (args: ReadonlyArray<string>) => Effect.Effect<RespValue, RedisError.RedisError> => {
  // A bound client per node, made once: `node()` builds a whole facade.
  const bound = new Map<string, Redis.RedisShape>()
  const onNode = (a: Address.Address) => {
    const key = Address.format(a)
    let client = bound.get(key)
    if (client === undefined) {
      client = cluster.node({ host: a.host, port: a.port })
      bound.set(key, client)
    }
    return client
  }

  const split = (name: string, keys: ReadonlyArray<string>): Effect.Effect<RespValue, RedisError.RedisError> => {
    const bySlot = new Map<number, Array<number>>()
    keys.forEach((k, i) => {
      const slot = ClusterSlot.keyslot(k)
      const group = bySlot.get(slot)
      if (group === undefined) bySlot.set(slot, [i])
      else group.push(i)
    })
    const groups = [...bySlot.values()]
    return Effect.map(
      Effect.forEach(groups, (indexes) => {
        const subset = indexes.map((i) => keys[i])
        return redis.execute(commandOf([name, ...subset]))
      }, { concurrency: "unbounded" }),
      (replies): RespValue => {
        if (name !== "MGET") return replies.reduce<number>((sum, r) => sum + Number(r), 0)
        const out = new Array<RespValue>(keys.length)
        groups.forEach((indexes, g) => {
          const values = replies[g] as ReadonlyArray<RespValue>
          indexes.forEach((i, j) => out[i] = values[j])
        })
        return out
      }
    )
  }

  const scan = (args: ReadonlyArray<string>): Effect.Effect<RespValue, RedisError.RedisError> => {
    const match = optionOf(args, 2, "MATCH")
    const tag = match === undefined ? undefined : patternTag(match)
    if (tag !== undefined) return redis.execute(unsafeMake("SCAN", args, [tag], SCAN_FLAGS, plain))
    return Effect.flatMap(cluster.primaries, (found) => {
      const primaries = [...found].sort((a, b) => Address.format(a).localeCompare(Address.format(b)))
      const at = parseCursor(args[1] ?? "", primaries.length)
      if (at === undefined || primaries.length === 0) {
        return Effect.fail(RedisError.invalidArgument(`${args[1]} is not a SCAN cursor of this cluster client`, "SCAN"))
      }
      const page = unsafeMake("SCAN", ["SCAN", at.cursor, ...args.slice(2)], EMPTY, SCAN_FLAGS, plain)
      return Effect.map(onNode(primaries[at.node]).execute(page), (reply): RespValue => {
        const [next, keys] = reply as readonly [string, RespValue]
        return [nextCursor(at.node, String(next), primaries.length), keys]
      })
    })
  }

  return (args) => {
    const name = args[0].toUpperCase()
    const keys = keysOf(args, name)
    if (keys === undefined) return redis.execute(build(name, args, undefined))
    if (keys.length > 1 && ClusterSlot.slotOfKeys(keys) === -2) {
      if (SPLIT.has(name)) return split(name, keys)
      const sha = name === "EVALSHA" || name === "EVALSHA_RO" ? args[1] : undefined
      return Effect.fail(EffectStores.crossSlot(keys, { command: name, lua: sha === undefined ? undefined : luaOf(sha) }))
    }
    if (name === "SCAN") return scan(args)
    if (name === "KEYS") {
      const tag = args.length === 2 ? patternTag(args[1]) : undefined
      if (tag !== undefined) return redis.execute(unsafeMake(name, args, [tag], SCAN_FLAGS, plain))
    }
    return redis.execute(build(name, args, keys))
  }
}
