/**
 * What the client must know about a command given only as words (Effect's
 * `Redis.send("EVALSHA", ...)`, a raw argv): which arguments are keys, and
 * the flags that decide where and how it may be sent.
 *
 * `keysOf` reads the keys from the arguments the way the server's key specs
 * do — first key, all keys, key/value pairs, a `numkeys` count (EVAL,
 * EVALSHA, FCALL, ZUNION, SINTERCARD, LMPOP, BZMPOP, ...), the `STREAMS`
 * half of XREAD / XREADGROUP, a `STORE` destination (SORT, GEORADIUS) — so a
 * cluster routes the command locally, with no `COMMAND GETKEYS` round trip.
 * It returns `[]` for a command known to take no key and `undefined` for a
 * command it does not know (or whose arguments it cannot read): the caller
 * then falls back to the cluster client's own table-based routing.
 *
 * `flagsOf` marks blocking commands (a dedicated connection), commands that
 * change connection state or enter subscriber mode (never on the shared
 * connection), keyless ones, and reads and repeatable writes (resendable
 * after a lost connection; never `READONLY`, so they stay on primaries).
 *
 * Both are pure and allocate only the returned key array. Nothing here
 * sends anything, and nothing here knows a topology.
 *
 * @since 0.1.0
 */
import { Flags } from "../Command.ts"

/** Reads the keys of one command's argv (`args[0]` is the command word). */
type KeyReader = (args: ReadonlyArray<string>) => ReadonlyArray<string> | undefined

const EMPTY: ReadonlyArray<string> = []

const none: KeyReader = () => EMPTY

// `first`..`last` by `step`, `last` negative counting from the end (-1: the
// last argument), as `COMMAND` states key positions.
const range = (first: number, last: number, step: number): KeyReader => (args) => {
  const end = last < 0 ? args.length + last : last
  if (args.length <= first || end < first || end >= args.length) return undefined
  const keys: Array<string> = []
  for (let i = first; i <= end; i += step) keys.push(args[i])
  return keys
}

// A non-negative integer argument, or -1.
const count = (word: string | undefined): number => {
  if (word === undefined || !/^\d+$/.test(word)) return -1
  return Number(word)
}

// `numkeys` at `at`, then that many keys from `at + 1`; `dest` (an index
// before `at`) is a key too (ZUNIONSTORE dest numkeys key...).
const numkeys = (at: number, dest?: number): KeyReader => (args) => {
  const n = count(args[at])
  if (n < 0 || at + 1 + n > args.length) return undefined
  const keys: Array<string> = dest === undefined ? [] : [args[dest]]
  for (let i = at + 1; i < at + 1 + n; i++) keys.push(args[i])
  return keys
}

// XREAD / XREADGROUP: after `STREAMS`, the first half are keys, the second IDs.
const streams: KeyReader = (args) => {
  for (let i = 1; i < args.length; i++) {
    if (args[i].toUpperCase() !== "STREAMS") continue
    const rest = args.length - i - 1
    if (rest === 0 || rest % 2 !== 0) return undefined
    return args.slice(i + 1, i + 1 + rest / 2)
  }
  return undefined
}

// A first key, then options among which `STORE key` / `STOREDIST key` name a
// destination: `skip` says how many words each other option takes.
const withStore = (optionsFrom: number, skip: Readonly<Record<string, number>>): KeyReader => (args) => {
  if (args.length < optionsFrom) return undefined
  const keys = [args[1]]
  for (let i = optionsFrom; i < args.length; i++) {
    const word = args[i].toUpperCase()
    if (word === "STORE" || word === "STOREDIST") {
      if (i + 1 >= args.length) return undefined
      keys.push(args[++i])
    } else {
      i += skip[word] ?? 0
    }
  }
  return keys
}

// A container (OBJECT, XINFO, ...): the subcommand decides; unknown ones are unknown.
const sub = (readers: Readonly<Record<string, KeyReader>>): KeyReader => (args) => {
  if (args.length < 2) return undefined
  return readers[args[1].toUpperCase()]?.(args)
}

const first = range(1, 1, 1)
const firstTwo = range(1, 2, 1)
const all = range(1, -1, 1)
const allButLast = range(1, -2, 1)
const pairs = range(1, -1, 2)
const second = range(2, 2, 1)

const table = new Map<string, KeyReader>()
const define = (names: string, reader: KeyReader) => {
  for (const name of names.split(" ")) table.set(name, reader)
}

define(
  "PING ECHO TIME INFO DBSIZE KEYS SCAN RANDOMKEY FLUSHALL FLUSHDB LASTSAVE SAVE BGSAVE BGREWRITEAOF ROLE LOLWUT " +
    "READONLY READWRITE MULTI EXEC DISCARD UNWATCH SELECT SWAPDB AUTH HELLO QUIT RESET MONITOR SHUTDOWN REPLICAOF " +
    "SLAVEOF FAILOVER PUBLISH SUBSCRIBE UNSUBSCRIBE PSUBSCRIBE PUNSUBSCRIBE SSUBSCRIBE SUNSUBSCRIBE WAIT WAITAOF " +
    "ASKING SCRIPT FUNCTION CLIENT CONFIG CLUSTER COMMAND ACL LATENCY SLOWLOG PUBSUB MODULE",
  none
)
define(
  // strings, generic keys
  "GET SET SETNX SETEX PSETEX GETSET GETDEL GETEX APPEND STRLEN INCR INCRBY INCRBYFLOAT DECR DECRBY GETRANGE " +
    "SETRANGE SUBSTR EXPIRE PEXPIRE EXPIREAT PEXPIREAT TTL PTTL PERSIST EXPIRETIME PEXPIRETIME TYPE DUMP RESTORE " +
    "SETBIT GETBIT BITCOUNT BITPOS BITFIELD BITFIELD_RO " +
    // hashes, lists, sets
    "HSET HGET HMSET HMGET HDEL HEXISTS HGETALL HKEYS HVALS HLEN HINCRBY HINCRBYFLOAT HSETNX HSTRLEN HRANDFIELD " +
    "HSCAN LPUSH RPUSH LPUSHX RPUSHX LPOP RPOP LLEN LRANGE LINDEX LSET LINSERT LREM LTRIM LPOS SADD SREM SMEMBERS " +
    "SISMEMBER SMISMEMBER SCARD SPOP SRANDMEMBER SSCAN " +
    // sorted sets, streams, HyperLogLog, geo; SPUBLISH routes by its channel's slot
    "ZADD ZREM ZSCORE ZMSCORE ZINCRBY ZCARD ZCOUNT ZRANGE ZRANGEBYSCORE ZRANGEBYLEX ZREVRANGE ZREVRANGEBYSCORE " +
    "ZREVRANGEBYLEX ZRANK ZREVRANK ZREMRANGEBYSCORE ZREMRANGEBYRANK ZREMRANGEBYLEX ZLEXCOUNT ZPOPMIN ZPOPMAX " +
    "ZRANDMEMBER ZSCAN XADD XLEN XRANGE XREVRANGE XDEL XTRIM XACK XCLAIM XAUTOCLAIM XPENDING XSETID PFADD " +
    "GEOADD GEODIST GEOHASH GEOPOS GEOSEARCH SORT_RO SPUBLISH",
  first
)
define("RENAME RENAMENX COPY SMOVE LMOVE BLMOVE RPOPLPUSH BRPOPLPUSH LCS ZRANGESTORE GEOSEARCHSTORE", firstTwo)
define(
  "DEL UNLINK EXISTS TOUCH MGET WATCH SINTER SUNION SDIFF SINTERSTORE SUNIONSTORE SDIFFSTORE PFCOUNT PFMERGE",
  all
)
define("BLPOP BRPOP BZPOPMIN BZPOPMAX", allButLast)
define("MSET MSETNX", pairs)
define("EVAL EVALSHA EVAL_RO EVALSHA_RO FCALL FCALL_RO BLMPOP BZMPOP", numkeys(2))
define("ZUNION ZINTER ZDIFF SINTERCARD ZINTERCARD LMPOP ZMPOP", numkeys(1))
define("ZUNIONSTORE ZINTERSTORE ZDIFFSTORE", numkeys(2, 1))
define("XREAD XREADGROUP", streams)
define("BITOP", range(2, -1, 1))
define("SORT", withStore(2, { BY: 1, GET: 1, LIMIT: 2 }))
define("GEORADIUS", withStore(6, { COUNT: 1 }))
define("GEORADIUSBYMEMBER", withStore(5, { COUNT: 1 }))
define("GEORADIUS_RO", withStore(6, { COUNT: 1 }))
define("GEORADIUSBYMEMBER_RO", withStore(5, { COUNT: 1 }))
define("OBJECT", sub({ ENCODING: second, FREQ: second, IDLETIME: second, REFCOUNT: second, HELP: none }))
define("MEMORY", sub({ USAGE: second, DOCTOR: none, STATS: none, "MALLOC-STATS": none, PURGE: none, HELP: none }))
define("XINFO", sub({ STREAM: second, GROUPS: second, CONSUMERS: second, HELP: none }))
define(
  "XGROUP",
  sub({ CREATE: second, SETID: second, DESTROY: second, CREATECONSUMER: second, DELCONSUMER: second, HELP: none })
)

/**
 * The key arguments of a command, from its argv (`args[0]` the command
 * word, any case): `[]` for a keyless command, `undefined` when the command
 * is unknown here or its arguments do not parse (wrong arity, a bad
 * `numkeys`), so the caller can fall back to the server's key lookup.
 *
 * @category keys
 * @since 0.1.0
 */
export const keysOf = (
  args: ReadonlyArray<string>,
  /** `args[0]` in upper case, when the caller has it already. */
  name: string | undefined = args[0]?.toUpperCase()
): ReadonlyArray<string> | undefined => {
  if (name === undefined) return undefined
  const reader = table.get(name)
  return reader === undefined ? undefined : reader(args)
}

/**
 * Whether `keysOf` knows the command at all.
 *
 * @category keys
 * @since 0.1.0
 */
export const knows = (name: string): boolean => table.has(name.toUpperCase())

// -----------------------------------------------------------------------------
// flags
// -----------------------------------------------------------------------------

const flagTable = new Map<string, number>()
const flag = (names: string, flags: number) => {
  for (const name of names.split(" ")) flagTable.set(name, (flagTable.get(name) ?? 0) | flags)
}

const KEYLESS_NAMES = [...table].filter(([, reader]) => reader === none).map(([name]) => name).join(" ")
flag(KEYLESS_NAMES, Flags.NO_KEYS)
flag("BLPOP BRPOP BLMOVE BRPOPLPUSH BLMPOP BZPOPMIN BZPOPMAX BZMPOP WAIT WAITAOF", Flags.BLOCKING)
flag("MULTI EXEC DISCARD WATCH UNWATCH SELECT AUTH HELLO RESET QUIT READONLY READWRITE MONITOR ASKING", Flags.CONNECTION_STATE)
flag("SUBSCRIBE UNSUBSCRIBE PSUBSCRIBE PUNSUBSCRIBE SSUBSCRIBE SUNSUBSCRIBE", Flags.PUBSUB)
flag(
  // Reads: resendable, but not READONLY, so a read-from policy never sends
  // them to a replica (Effect's stores read their own writes).
  "GET MGET STRLEN GETRANGE SUBSTR EXISTS TTL PTTL EXPIRETIME PEXPIRETIME TYPE DUMP GETBIT BITCOUNT BITPOS " +
    "BITFIELD_RO HGET HMGET HEXISTS HGETALL HKEYS HVALS HLEN HSTRLEN HSCAN LLEN LRANGE LINDEX LPOS SMEMBERS SISMEMBER " +
    "SMISMEMBER SCARD SSCAN SINTER SUNION SDIFF SINTERCARD ZSCORE ZMSCORE ZCARD ZCOUNT ZRANGE ZRANGEBYSCORE ZRANGEBYLEX " +
    "ZREVRANGE ZREVRANGEBYSCORE ZREVRANGEBYLEX ZRANK ZREVRANK ZLEXCOUNT ZSCAN ZUNION ZINTER ZDIFF ZINTERCARD XLEN " +
    "XRANGE XREVRANGE XPENDING PFCOUNT GEODIST GEOHASH GEOPOS GEOSEARCH SORT_RO LCS EVAL_RO EVALSHA_RO FCALL_RO " +
    "PING ECHO TIME INFO DBSIZE KEYS SCAN RANDOMKEY LASTSAVE ROLE " +
    // Writes whose repetition leaves the same state.
    "DEL UNLINK PERSIST PEXPIRE PEXPIREAT EXPIREAT HDEL SREM ZREM XACK PFADD",
  Flags.IDEMPOTENT
)

const has = (args: ReadonlyArray<string>, from: number, word: string): boolean => {
  for (let i = from; i < args.length; i++) if (args[i].toUpperCase() === word) return true
  return false
}

/**
 * The `Command` flags of a command given as words: `NO_KEYS`, `BLOCKING`
 * (XREAD / XREADGROUP only with `BLOCK`), `CONNECTION_STATE`, `PUBSUB` and
 * `IDEMPOTENT` (reads, repeatable writes, and a SET that is neither
 * conditional nor GET). Unknown commands get none: a write that is never
 * resent.
 *
 * @category flags
 * @since 0.1.0
 */
export const flagsOf = (
  args: ReadonlyArray<string>,
  /** `args[0]` in upper case, when the caller has it already. */
  name: string | undefined = args[0]?.toUpperCase()
): number => {
  if (name === undefined) return 0
  const flags = flagTable.get(name) ?? 0
  switch (name) {
    case "XREAD":
    case "XREADGROUP":
      return has(args, 1, "BLOCK") ? flags | Flags.BLOCKING : flags
    case "SET":
      // SET k v [EX|PX ...]: the same value twice is the same state; a
      // conditional or GET variant answers differently the second time.
      return has(args, 3, "GET") || has(args, 3, "NX") || has(args, 3, "XX") ? flags : flags | Flags.IDEMPOTENT
    default:
      return flags
  }
}
