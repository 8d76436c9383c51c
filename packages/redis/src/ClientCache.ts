/**
 * Server-assisted client-side caching: replies of read commands kept in
 * process memory, dropped when the server says (RESP3 `CLIENT TRACKING`
 * invalidation pushes) that a key they read has changed.
 *
 * One `ClientCache` holds the entries of a client (of several, if it is
 * given to several). Each pool's shared connection is **tracked**
 * (`track`): its handshake turns `CLIENT TRACKING` on, its invalidation
 * pushes reach the cache synchronously from the reader, and its `send`
 * looks a cacheable command up before it goes out. The rules, each with
 * its test:
 *
 * 1. An entry belongs to the tracking session (one connection, from one
 *    handshake to its end) that read it, and is served only to a read
 *    routed to that same live session: after a reconnect, a sentinel switch
 *    or a redirect the read goes to another session and misses. A session
 *    that ends (the connection dropped, the pool closed) takes its entries
 *    with it: the server forgot what it tracked.
 * 2. A read whose reply was in flight when an invalidation for its key (or
 *    a flush) arrived is returned but not cached.
 * 3. `invalidate` with keys drops those keys' entries; `invalidate` with no
 *    keys (FLUSHALL, FLUSHDB) drops everything.
 * 4. A read of a slot that answered `MOVED`/`ASK` drops that session's
 *    entries of the slot.
 * 5. Memory is bounded by entries and by bytes, least recently used first;
 *    entries expire after `ttl`.
 * 6. Concurrent misses of one read on one session send one request; a
 *    miss that starts after an invalidation of its key does not join a
 *    read that began before it.
 *
 * The reply is cached as the server sent it (RESP) and decoded on every
 * hit, so each caller gets its own value and commands with different
 * decoders (`Typed`, `Command.map`) share the entry safely.
 *
 * Cacheable: a read-only command (`Flags.READONLY`) with exactly one key,
 * not blocking, not marked `Flags.NO_CACHE` (`uncached`), not one whose
 * reply changes without a write (TTL, PTTL, the random-member reads: the
 * server's `nondeterministic_output` tip), with a string key. A custom
 * command built with `READONLY` and its key is cacheable as it is. In
 * `broadcast` mode only keys under the given prefixes are cached (the
 * server invalidates nothing else).
 *
 * MGET is cached per key (`isCacheableMget`): each key is served from its
 * own entry, or from the key's GET entry (GET and MGET agree wherever GET
 * succeeds), and one MGET of the keys that missed goes to the server. The
 * per-key entries are MGET's own: MGET reads a key of another type as nil
 * where GET fails with WRONGTYPE, so a GET is never served from them. The
 * rules above hold per key: an invalidation of one key while the MGET is in
 * flight leaves that key uncached, the others cached.
 *
 * It does not cache inside transactions, pipelines (`sendAll`) or on
 * dedicated connections (they are not tracked), and needs RESP3 on the
 * tracked connections (a RESP2 session fails its handshake with
 * `NotSupported`).
 *
 * @since 0.1.0
 */
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import type { Command } from "./Command.ts"
import * as Cmd from "./Command.ts"
import type * as Connection from "./Connection.ts"
import type * as RedisConfig from "./RedisConfig.ts"
import * as RedisError from "./RedisError.ts"
import type { Arg, RespPush, RespValue } from "./Resp.ts"
import * as ClusterSlot from "./cluster/ClusterSlot.ts"
import { decodeReply } from "./internal/replyDecoders.ts"

// -----------------------------------------------------------------------------
// options and stats
// -----------------------------------------------------------------------------

/**
 * @category models
 * @since 0.1.0
 */
export interface Options {
  /** At most this many entries (default 10,000). */
  readonly maxEntries?: number | undefined
  /** At most about this many bytes of cached replies (default 64 MiB). */
  readonly maxBytes?: number | undefined
  /** An entry is served for at most this long after it was read (default 5 minutes). */
  readonly ttl?: Duration.Input | undefined
  /**
   * `default`: the server remembers the keys each connection read and
   * invalidates those. `broadcast`: it invalidates every key under
   * `prefixes` for everyone (no memory on the server; only those keys are
   * cached).
   */
  readonly mode?: "default" | "broadcast" | undefined
  /** Broadcast mode: the key prefixes to track (none: every key). */
  readonly prefixes?: ReadonlyArray<string> | undefined
  /**
   * Told of every invalidation as it is read (`null`: everything), on the
   * connection's reader: keep it short. For logs and tests.
   */
  readonly onInvalidate?: ((keys: ReadonlyArray<string> | null) => void) | undefined
}

/**
 * @category models
 * @since 0.1.0
 */
export interface Stats {
  /** Reads served from memory; an MGET counts one per key. */
  readonly hits: number
  /** Reads sent to the server; an MGET counts one per key it sent. */
  readonly misses: number
  /** Keys invalidated by the server (a flush counts once). */
  readonly invalidations: number
  /** Entries dropped to stay within `maxEntries`/`maxBytes`. */
  readonly evictions: number
  readonly entries: number
  readonly bytes: number
}

// -----------------------------------------------------------------------------
// the store
// -----------------------------------------------------------------------------

interface Session {
  readonly id: number
  alive: boolean
}

// One cached reply: the read it answers (`args`, `binary`) under its key.
// The entries of one key are chained (`next`): an invalidation or a lookup
// starts from the key, so a hit hashes nothing but the key.
interface Entry {
  readonly session: Session
  readonly key: string
  readonly args: ReadonlyArray<Arg>
  readonly binary: boolean
  readonly reply: RespValue
  readonly bytes: number
  readonly expiresAt: number
  next: Entry | undefined
  // The use order: a list from the least recently used (`oldest`) on.
  older: Entry | undefined
  newer: Entry | undefined
}

// A read on its way: invalidated while in flight, its reply is not kept.
interface Flight {
  dirty: boolean
  readonly waiters: Array<(exit: Exit.Exit<RespValue, RedisError.RedisError>) => void>
}

/**
 * The cache of one client (or of several that share it).
 *
 * @category models
 * @since 0.1.0
 */
export interface ClientCache {
  readonly options: Options
  /** What it served, dropped and holds now. */
  readonly stats: Effect.Effect<Stats>
  /** Drops every entry (the tracking sessions go on). */
  readonly clear: Effect.Effect<void>
  /** @internal */
  readonly store: Store
}

// What an entry costs beyond its reply and its key: the entry object, its
// argv array and its map slot, measured with V8's heap (1M distinct keys
// read through `bench/cache.ts`).
const ENTRY_OVERHEAD = 176

const sameArg = (a: Arg, b: Arg): boolean => {
  if (a === b) return true
  if (typeof a !== "object" || typeof b !== "object" || a.byteLength !== b.byteLength) return false
  for (let i = 0; i < a.byteLength; i++) if (a[i] !== b[i]) return false
  return true
}

const answers = (entry: Entry, command: Command<unknown>): boolean => {
  const args = command.args
  if (entry.binary !== command.binary || entry.args.length !== args.length) return false
  for (let i = 0; i < args.length; i++) if (!sameArg(entry.args[i]!, args[i]!)) return false
  return true
}

class Store {
  readonly maxEntries: number
  readonly maxBytes: number
  readonly ttlMillis: number
  readonly prefixes: ReadonlyArray<string> | undefined
  // key -> the first entry of its chain.
  readonly byKey = new Map<string, Entry>()
  // The use order, as a list through the entries: a hit moves its entry to
  // `newest`, eviction takes `oldest`.
  oldest: Entry | undefined = undefined
  newest: Entry | undefined = undefined
  // key -> session id + argv -> flight
  readonly flights = new Map<string, Map<string, Flight>>()
  size = 0
  bytes = 0
  hits = 0
  misses = 0
  invalidations = 0
  evictions = 0
  nextSession = 1

  constructor(options: Options) {
    this.maxEntries = options.maxEntries ?? 10_000
    this.maxBytes = options.maxBytes ?? 64 * 1024 * 1024
    this.ttlMillis = Duration.toMillis(Duration.fromInputUnsafe(options.ttl ?? Duration.minutes(5)))
    this.prefixes = options.mode === "broadcast" && options.prefixes !== undefined && options.prefixes.length > 0
      ? options.prefixes
      : undefined
  }

  lookup(session: Session, key: string, command: Command<unknown>, now: number): Entry | undefined {
    let entry = this.byKey.get(key)
    while (entry !== undefined && !(entry.session === session && answers(entry, command))) entry = entry.next
    if (entry === undefined) return undefined
    if (entry.expiresAt <= now) {
      this.drop(entry)
      return undefined
    }
    if (entry !== this.newest) {
      this.unlink(entry)
      this.append(entry)
    }
    return entry
  }

  put(session: Session, key: string, command: Command<unknown>, reply: RespValue, now: number): void {
    const bytes = sizeOf(reply) + 2 * key.length + ENTRY_OVERHEAD
    if (bytes > this.maxBytes) return
    for (let old = this.byKey.get(key); old !== undefined; old = old.next) {
      if (answers(old, command)) {
        this.drop(old)
        break
      }
    }
    const entry: Entry = {
      session,
      key,
      args: command.args,
      binary: command.binary,
      reply,
      bytes,
      expiresAt: now + this.ttlMillis,
      next: this.byKey.get(key),
      older: undefined,
      newer: undefined
    }
    this.byKey.set(key, entry)
    this.append(entry)
    this.size++
    this.bytes += bytes
    while (this.size > this.maxEntries || this.bytes > this.maxBytes) {
      this.drop(this.oldest!)
      this.evictions++
    }
  }

  private append(entry: Entry): void {
    entry.older = this.newest
    entry.newer = undefined
    if (this.newest === undefined) this.oldest = entry
    else this.newest.newer = entry
    this.newest = entry
  }

  private unlink(entry: Entry): void {
    if (entry.older === undefined) this.oldest = entry.newer
    else entry.older.newer = entry.newer
    if (entry.newer === undefined) this.newest = entry.older
    else entry.newer.older = entry.older
    entry.older = entry.newer = undefined
  }

  drop(entry: Entry): void {
    let first = this.byKey.get(entry.key)
    if (first === entry) {
      if (entry.next === undefined) this.byKey.delete(entry.key)
      else this.byKey.set(entry.key, entry.next)
    } else {
      while (first !== undefined && first.next !== entry) first = first.next
      // Not in its chain: already dropped.
      if (first === undefined) return
      first.next = entry.next
    }
    this.unlink(entry)
    this.size--
    this.bytes -= entry.bytes
  }

  invalidateKey(key: string): void {
    this.invalidations++
    for (let entry = this.byKey.get(key); entry !== undefined; entry = entry.next) {
      this.unlink(entry)
      this.size--
      this.bytes -= entry.bytes
    }
    this.byKey.delete(key)
    const flights = this.flights.get(key)
    if (flights !== undefined) {
      for (const flight of flights.values()) flight.dirty = true
      // A later miss starts its own read rather than join a dirty one.
      this.flights.delete(key)
    }
  }

  invalidateAll(): void {
    this.invalidations++
    this.clear()
    for (const flights of this.flights.values()) for (const flight of flights.values()) flight.dirty = true
    this.flights.clear()
  }

  clear(): void {
    this.byKey.clear()
    this.oldest = undefined
    this.newest = undefined
    this.size = 0
    this.bytes = 0
  }

  // Every entry, oldest first (a copy: the caller may drop as it goes).
  entries(): Array<Entry> {
    const all: Array<Entry> = []
    for (let e = this.oldest; e !== undefined; e = e.newer) all.push(e)
    return all
  }

  // The server forgot what the session tracked: its entries go (they could
  // no longer be served anyway, `lookup` wants the live session). A
  // reconnect is rare, so one pass over every entry is fine.
  endSession(session: Session): void {
    if (!session.alive) return
    session.alive = false
    for (const entry of this.entries()) if (entry.session === session) this.drop(entry)
    // Its flights may still complete (a resent read, on the next session):
    // they are not kept, since the session that read them is gone.
  }

  // A read of `key` goes out as `tag`; concurrent misses of the same tag may
  // join it, and an invalidation of the key marks it dirty.
  startFlight(key: string, tag: string): Flight {
    const flight: Flight = { dirty: false, waiters: [] }
    let byKey = this.flights.get(key)
    if (byKey === undefined) this.flights.set(key, byKey = new Map())
    byKey.set(tag, flight)
    return flight
  }

  // The read is answered: later misses start their own (unless an
  // invalidation already replaced it).
  endFlight(key: string, tag: string, flight: Flight): void {
    const byKey = this.flights.get(key)
    if (byKey?.get(tag) !== flight) return
    byKey.delete(tag)
    if (byKey.size === 0) this.flights.delete(key)
  }

  dropSlot(session: Session, slot: number): void {
    for (const entry of this.entries()) {
      if (entry.session === session && ClusterSlot.keyslot(entry.key) === slot) this.drop(entry)
    }
  }
}

/**
 * A cache to give to one or several clients (`cache` option). The option
 * also takes `Options`, from which the client makes its own (one per node
 * on a cluster).
 *
 * @category constructors
 * @since 0.1.0
 */
export const make = (options: Options = {}): ClientCache => {
  const store = new Store(options)
  return {
    options,
    store,
    stats: Effect.sync(() => ({
      hits: store.hits,
      misses: store.misses,
      invalidations: store.invalidations,
      evictions: store.evictions,
      entries: store.size,
      bytes: store.bytes
    })),
    clear: Effect.sync(() => store.clear())
  }
}

/**
 * What is wrong with cache options, as "`name` must ...", or `undefined`.
 *
 * @category validation
 * @since 0.1.0
 */
export const problemOf = (options: Options | ClientCache): string | undefined => {
  const o = "store" in options ? options.options : options
  const positive = (name: string, n: number | undefined) =>
    n === undefined || (Number.isInteger(n) && n > 0) ? undefined : `cache.${name} must be a positive integer`
  if (o.mode !== undefined && o.mode !== "default" && o.mode !== "broadcast") return "cache.mode must be \"default\" or \"broadcast\""
  if (o.prefixes !== undefined && o.mode !== "broadcast") return "cache.prefixes need mode \"broadcast\""
  if (o.ttl !== undefined) {
    try {
      const d = Duration.fromInputUnsafe(o.ttl)
      if (!(Duration.toMillis(d) > 0)) return "cache.ttl must be a positive duration"
    } catch {
      return "cache.ttl must be a duration"
    }
  }
  return positive("maxEntries", o.maxEntries) ?? positive("maxBytes", o.maxBytes)
}

/**
 * The cache a client uses: the one given, or one made from the options.
 *
 * @category constructors
 * @since 0.1.0
 */
export const resolve = (option: Options | ClientCache | undefined): ClientCache | undefined =>
  option === undefined ? undefined : "store" in option ? option : make(option)

// -----------------------------------------------------------------------------
// which commands
// -----------------------------------------------------------------------------

// Read-only, yet their reply changes with time or at random: the server's
// `nondeterministic_output` tip, for the one-key reads.
const NONDETERMINISTIC = new Set(["TTL", "PTTL", "SRANDMEMBER", "HRANDFIELD", "ZRANDMEMBER", "OBJECT", "MEMORY"])

const UNCACHEABLE = Cmd.Flags.BLOCKING | Cmd.Flags.NO_CACHE | Cmd.Flags.CONNECTION_STATE | Cmd.Flags.PUBSUB

/**
 * Whether a command's reply may be cached (see the module comment).
 *
 * @category predicates
 * @since 0.1.0
 */
export const isCacheable = (command: Command<unknown>): boolean =>
  (command.flags & Cmd.Flags.READONLY) !== 0 && (command.flags & UNCACHEABLE) === 0 &&
  command.keys.length === 1 && typeof command.keys[0] === "string" && command.invalid === undefined &&
  !NONDETERMINISTIC.has(command.name)

/**
 * Whether an MGET may be served key by key from the cache: a plain MGET
 * (not `uncached`) of string keys.
 *
 * @category predicates
 * @since 0.1.0
 */
export const isCacheableMget = (command: Command<unknown>): boolean =>
  command.name === "MGET" && (command.flags & UNCACHEABLE) === 0 && command.invalid === undefined &&
  command.keys.length > 0 && command.args.length === command.keys.length + 1 &&
  command.keys.every((k) => typeof k === "string")

// The entry of one key of an MGET: an argv the server never sees, so that
// no command's entry (a GET's, a one-key MGET's, whose reply is an array)
// is mistaken for it.
const MGET_ELEMENT = "\u0000MGET"

const elementOf = (key: string, binary: boolean): Command<unknown> =>
  Cmd.unsafeMake("MGET", [MGET_ELEMENT, key], [key], Cmd.Flags.READONLY, Cmd.Reply.raw, binary)

const getOf = (key: string, binary: boolean): Command<unknown> =>
  Cmd.unsafeMake("GET", ["GET", key], [key], Cmd.Flags.READONLY, Cmd.Reply.raw, binary)

/**
 * A copy of `command` that is never served from the cache nor kept in it.
 *
 * @category combinators
 * @since 0.1.0
 */
export const uncached = <A>(command: Command<A>): Command<A> => Cmd.withFlags(command, Cmd.Flags.NO_CACHE)

// The argv, as one string: which flight a miss may join.
const signatureOf = (command: Command<unknown>): string => {
  let sig = command.binary ? "b" : "s"
  for (const arg of command.args) {
    sig += "\u0000"
    sig += typeof arg === "string" ? arg : typeof arg === "number" ? String(arg) : Buffer.from(arg).toString("latin1")
  }
  return sig
}

// A read refused with MOVED/ASK: its slot is served elsewhere now.
const redirected = (exit: Exit.Exit<unknown, RedisError.RedisError>): boolean => {
  const error = RedisError.failureOf(exit)
  return error !== undefined && (error.reason._tag === "Moved" || error.reason._tag === "Ask")
}

// What a reply holds, roughly, in bytes.
const sizeOf = (value: RespValue): number => {
  if (typeof value === "string") return value.length * 2
  if (value instanceof Uint8Array) return value.byteLength
  if (Array.isArray(value)) {
    let n = 16
    for (const v of value) n += sizeOf(v)
    return n
  }
  if (value instanceof Map) {
    let n = 16
    for (const [k, v] of value) n += sizeOf(k) + sizeOf(v)
    return n
  }
  if (value instanceof Set) {
    let n = 16
    for (const v of value) n += sizeOf(v)
    return n
  }
  return 16
}

// -----------------------------------------------------------------------------
// a tracked connection
// -----------------------------------------------------------------------------

/**
 * The hooks and handshake step that track one shared connection, and the
 * wrapper of its `send`.
 *
 * @category models
 * @since 0.1.0
 */
export interface Tracked {
  /** Add to the connection's options: turns tracking on in every handshake. */
  readonly onConnect: (session: RedisConfig.ConnectSession) => Effect.Effect<void, RedisError.RedisError>
  /** Add to the connection's hooks: invalidations and the end of a session. */
  readonly hooks: Connection.Hooks
  /** The connection, with cacheable commands looked up first. */
  readonly wrap: (connection: Connection.Connection) => Connection.Connection
  /** The pool closes: its last session's entries go. */
  readonly close: Effect.Effect<void>
}

/**
 * Tracks one shared connection for `cache`.
 *
 * @category constructors
 * @since 0.1.0
 */
export const track = (cache: ClientCache): Tracked => {
  const store = cache.store
  const options = cache.options
  // The session reads are cached for: set once tracking is on, cleared when
  // the connection drops (reads issued meanwhile are not cached).
  let current: Session | undefined
  const trackingArgs: Array<string> = ["CLIENT", "TRACKING", "ON"]
  if (options.mode === "broadcast") {
    trackingArgs.push("BCAST")
    for (const p of options.prefixes ?? []) trackingArgs.push("PREFIX", p)
  }
  const prefixes = store.prefixes
  let flightSeq = 0
  // A key the cache may hold: under a tracked prefix (broadcast mode), and
  // well-formed UTF-16 (the server names invalidated keys in UTF-8).
  const keyCacheable = (key: string): boolean =>
    (prefixes === undefined || prefixes.some((p) => key.startsWith(p))) && key.isWellFormed()

  const onConnect = (session: RedisConfig.ConnectSession) =>
    Effect.suspend(() => {
      if (current !== undefined) store.endSession(current)
      current = undefined
      if (session.protocol !== 3) {
        return Effect.fail(RedisError.notSupported(
          "client-side caching needs RESP3 (invalidations arrive as pushes on the connection that reads): " +
            "this connection settled on RESP2 (protocol: 2, or a server before 6.0)",
          "CLIENT"
        ))
      }
      return Effect.map(session.send(Cmd.unsafeMake("CLIENT", trackingArgs, [], 0, Cmd.Reply.raw)), () => {
        current = { id: store.nextSession++, alive: true }
      })
    })

  const onServerPush = (push: RespPush) => {
    const items = push.items
    if (items.length < 2 || items[0] !== "invalidate") return
    const keys = items[1]
    if (keys === null || keys === undefined) {
      store.invalidateAll()
      options.onInvalidate?.(null)
    } else if (Array.isArray(keys)) {
      const names = keys.map((k) => typeof k === "string" ? k : Buffer.from(k as Uint8Array).toString("utf8"))
      for (const k of names) store.invalidateKey(k)
      options.onInvalidate?.(names)
    }
  }

  const onDisconnect = () => {
    if (current !== undefined) store.endSession(current)
    current = undefined
  }

  const wrap = (connection: Connection.Connection): Connection.Connection => {
    const send = <A>(command: Command<A>): Effect.Effect<A, RedisError.RedisError> => {
      if (command.name === "MGET") {
        return isCacheableMget(command) && (command.keys as ReadonlyArray<string>).every(keyCacheable)
          ? Effect.suspend(() => cachedMget(command))
          : connection.send(command)
      }
      if (!isCacheable(command)) return connection.send(command)
      const key = command.keys[0] as string
      if (!keyCacheable(key)) return connection.send(command)
      // Looked up when it runs, not when it is built: a retry runs the same
      // effect again, and must see the cache (and register its flight) anew.
      return Effect.suspend(() => cached(command, key))
    }
    const cached = <A>(command: Command<A>, key: string): Effect.Effect<A, RedisError.RedisError> => {
      const session = current
      if (session === undefined) return connection.send(command)
      const now = Date.now()
      const entry = store.lookup(session, key, command, now)
      if (entry !== undefined) {
        store.hits++
        return decodeReply(command, entry.reply)
      }
      store.misses++
      const flightKey = `${session.id}${signatureOf(command)}`
      const joined = store.flights.get(key)?.get(flightKey)
      if (joined !== undefined) {
        return Effect.flatMap(
          Effect.callback<RespValue, RedisError.RedisError>((resume) => {
            joined.waiters.push((exit) => resume(exit))
          }),
          (reply) => decodeReply(command, reply)
        )
      }
      const flight = store.startFlight(key, flightKey)
      const raw = Cmd.unsafeMake(command.name, command.args, command.keys, command.flags, Cmd.Reply.raw, command.binary)
      return Effect.flatMap(
        Effect.onExit(connection.send(raw), (exit) =>
          Effect.sync(() => {
            store.endFlight(key, flightKey, flight)
            if (Exit.isSuccess(exit)) {
              if (!flight.dirty && session.alive && current === session) store.put(session, key, command, exit.value, Date.now())
            } else if (redirected(exit)) {
              store.dropSlot(session, ClusterSlot.keyslot(key))
            }
            for (const waiter of flight.waiters) waiter(exit)
          })),
        (reply) => decodeReply(command, reply)
      )
    }
    // MGET, key by key: hits from the cache, one MGET of the misses.
    const cachedMget = <A>(command: Command<A>): Effect.Effect<A, RedisError.RedisError> => {
      const session = current
      if (session === undefined) return connection.send(command)
      const keys = command.keys as ReadonlyArray<string>
      const binary = command.binary
      const now = Date.now()
      const replies = new Array<RespValue>(keys.length)
      const missing: Array<number> = []
      for (let i = 0; i < keys.length; i++) {
        const key = keys[i]!
        const entry = store.lookup(session, key, elementOf(key, binary), now) ??
          store.lookup(session, key, getOf(key, binary), now)
        if (entry === undefined) missing.push(i)
        else replies[i] = entry.reply
      }
      store.hits += keys.length - missing.length
      store.misses += missing.length
      if (missing.length === 0) return decodeReply(command, replies)
      // One flight per missing key, joined by nobody: it only learns whether
      // an invalidation of its key arrived while the MGET was out.
      const tag = `${session.id}\u0001mget${flightSeq++}`
      const missingKeys = missing.map((i) => keys[i]!)
      const flights = missingKeys.map((key) => store.startFlight(key, tag))
      const raw = Cmd.unsafeMake("MGET", ["MGET", ...missingKeys], missingKeys, command.flags, Cmd.Reply.raw, binary)
      return Effect.flatMap(
        Effect.onExit(connection.send(raw), (exit) =>
          Effect.sync(() => {
            for (let j = 0; j < missing.length; j++) store.endFlight(missingKeys[j]!, tag, flights[j]!)
            if (Exit.isSuccess(exit)) {
              const values = exit.value
              if (!Array.isArray(values) || values.length !== missing.length) return
              const keep = session.alive && current === session
              const at = Date.now()
              for (let j = 0; j < missing.length; j++) {
                replies[missing[j]!] = values[j]!
                if (keep && !flights[j]!.dirty) store.put(session, missingKeys[j]!, elementOf(missingKeys[j]!, binary), values[j]!, at)
              }
            } else if (redirected(exit)) {
              for (const slot of new Set(missingKeys.map(ClusterSlot.keyslot))) store.dropSlot(session, slot)
            }
          })),
        (values) =>
          Array.isArray(values) && values.length === missing.length
            ? decodeReply(command, replies)
            // Not an array of one value per key: the command's own decoder
            // says what is wrong with it.
            : decodeReply(command, values)
      )
    }

    return { ...connection, send }
  }

  return {
    onConnect,
    hooks: { onServerPush, onDisconnect },
    wrap,
    close: Effect.sync(onDisconnect)
  }
}
