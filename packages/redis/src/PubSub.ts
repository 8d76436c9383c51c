/**
 * Subscriptions as `Stream`s: SUBSCRIBE, PSUBSCRIBE and SSUBSCRIBE over one
 * subscriber connection per client, opened on first use.
 *
 * Many streams may listen to the same channel; the server is told once.
 * After a reconnect every live channel and pattern is subscribed again
 * before anything else is sent. Pub/sub is at-most-once: messages published
 * while the connection was down are lost (Redis keeps no backlog).
 *
 * Binary subscriptions (`subscribeBytes`: names and payloads as
 * `Uint8Array`, for data that is not UTF-8) run on a second subscriber
 * connection whose pushes are never decoded as text.
 *
 * Every subscription is bounded: at most `bufferSize` messages (default
 * 10 000) wait for its consumer. A consumer that falls further behind loses
 * messages, by its `strategy`: `dropping` (the default) drops the newest,
 * `sliding` the oldest. Drops are counted (`dropped`) and, on the streams
 * with gap events, reported as a `Gap` with reason `overflow` and the count,
 * at the place the messages went missing. Only the slow subscription loses
 * anything: the connection keeps reading at full speed, so the other
 * subscriptions on it keep flowing and the server never sees a full output
 * buffer (`client-output-buffer-limit pubsub`), which would disconnect the
 * whole connection. The buffer itself is `internal/SubscriptionBuffer.ts`.
 *
 * It does not publish (that is an ordinary command) and does not route shard
 * channels to cluster nodes (the cluster backend does that with one
 * `PubSub` per node).
 *
 * @since 0.1.0
 */
import * as Deferred from "effect/Deferred"
import * as Effect from "effect/Effect"
import * as Scope from "effect/Scope"
import * as Semaphore from "effect/Semaphore"
import * as Stream from "effect/Stream"
import * as Connection from "./Connection.ts"
import * as SubscriptionBuffer from "./internal/SubscriptionBuffer.ts"
import type * as RedisConfig from "./RedisConfig.ts"
import * as RedisError from "./RedisError.ts"
import type { Arg, RespValue } from "./Resp.ts"
import { RespPush } from "./Resp.ts"
import { Transport } from "./Transport.ts"

/**
 * A message received on a subscription.
 *
 * @category models
 * @since 0.1.0
 */
export interface Message {
  readonly kind: Kind
  readonly channel: string
  /** The pattern that matched, for `pattern` subscriptions. */
  readonly pattern: string | undefined
  readonly payload: string
}

/**
 * A message received on a binary subscription (`subscribeBytes`): the
 * channel, pattern and payload exactly as the server sent them, for
 * payloads and names that are not UTF-8.
 *
 * @category models
 * @since 0.1.0
 */
export interface BinaryMessage {
  readonly kind: Kind
  readonly channel: Uint8Array
  /** The pattern that matched, for `pattern` subscriptions. */
  readonly pattern: Uint8Array | undefined
  readonly payload: Uint8Array
}

/**
 * @category models
 * @since 0.1.0
 */
export type Kind = "channel" | "pattern" | "shard"

/**
 * Messages may have been missed: the subscription was made again after the
 * connection was lost (`reconnect`) or moved to another node (`moved`: a
 * cluster failover or slot migration); pub/sub keeps no backlog, so what
 * was published in between is gone. Or the consumer fell `bufferSize`
 * messages behind and `dropped` messages were dropped here (`overflow`).
 *
 * @category models
 * @since 0.1.0
 */
export interface Gap {
  readonly kind: "gap"
  readonly reason: "reconnect" | "moved" | "overflow"
  readonly subscription: Kind
  readonly names: ReadonlyArray<string>
  /** How many messages were dropped, for an `overflow` gap (unknown for the others). */
  readonly dropped?: number | undefined
}

/**
 * What a full subscription drops to take one more message: the newcomer
 * (`dropping`: the consumer sees an unbroken run, then the gap) or the
 * oldest waiting message (`sliding`: the consumer sees the newest, for
 * feeds where only the latest value matters).
 *
 * Applying backpressure to the socket instead is not offered: it would
 * stall every subscription sharing the connection, and the server then
 * disconnects the client at `client-output-buffer-limit pubsub` (32 MB, or
 * 8 MB for 60 s by default), losing everything for everyone.
 *
 * @category models
 * @since 0.1.0
 */
export type Strategy = SubscriptionBuffer.Strategy

/**
 * How much one subscription may hold for its consumer, and what it drops
 * past that. Given to the client (`subscriptionBuffer`, for every
 * subscription) or to one subscribe call (which wins).
 *
 * @category models
 * @since 0.1.0
 */
export interface BufferOptions {
  /**
   * How many messages may wait for the consumer (a positive integer).
   * Default: `defaultBufferSize`. The stream's consumer may hold one more
   * batch of at most this many while it works.
   */
  readonly bufferSize?: number | undefined
  /** What to drop when the buffer is full. Default: `dropping`. */
  readonly strategy?: Strategy | undefined
}

/**
 * How many messages a subscription buffers by default: 10 000, enough to
 * ride out a 100 ms stall at 100 000 messages a second.
 *
 * @category constants
 * @since 0.1.0
 */
export const defaultBufferSize = 10_000

/**
 * The options of `make`: the subscriber connection's, and the default
 * buffer of its subscriptions.
 *
 * @category models
 * @since 0.1.0
 */
export type Options = RedisConfig.ConnectionOptions & {
  /** The buffer of every subscription unless the subscribe call says otherwise. */
  readonly subscriptionBuffer?: BufferOptions | undefined
}

/**
 * What is wrong with buffer options, if anything.
 *
 * @category validation
 * @since 0.1.0
 */
export const bufferProblem = (options: BufferOptions | undefined): string | undefined => {
  const size = options?.bufferSize
  if (size !== undefined && !(Number.isSafeInteger(size) && size > 0)) {
    return `bufferSize must be a positive integer, got ${size}`
  }
  const strategy = options?.strategy
  if (strategy !== undefined && strategy !== "dropping" && strategy !== "sliding") {
    return `strategy must be "dropping" or "sliding", got ${String(strategy)}`
  }
  return undefined
}

/**
 * Fails `InvalidArgument` when the client's `subscriptionBuffer` is not
 * valid; for a topology to check its options before it opens anything.
 *
 * @category validation
 * @since 0.1.0
 */
export const validate = (options: { readonly subscriptionBuffer?: BufferOptions | undefined }): Effect.Effect<void, RedisError.RedisError> => {
  const problem = bufferProblem(options.subscriptionBuffer)
  return problem === undefined ? Effect.void : Effect.fail(RedisError.invalidArgument(`subscriptionBuffer: ${problem}`))
}

/**
 * What a subscription with gap events emits.
 *
 * @category models
 * @since 0.1.0
 */
export type Event = Message | Gap

/**
 * @category models
 * @since 0.1.0
 */
export interface PubSub {
  /**
   * Messages for the given channels (or patterns, or shard channels), for
   * as long as the stream runs. Bounded by `buffer` (or the client's
   * default); what overflows is dropped and counted in `dropped`.
   */
  readonly subscribe: (
    kind: Kind,
    names: ReadonlyArray<string>,
    buffer?: BufferOptions
  ) => Stream.Stream<Message, RedisError.RedisError>
  /** The same, with a `Gap` event wherever messages may have been missed (an overflow included). */
  readonly subscribeEvents?:
    | ((kind: Kind, names: ReadonlyArray<string>, buffer?: BufferOptions) => Stream.Stream<Event, RedisError.RedisError>)
    | undefined
  /**
   * Messages as bytes, names given as strings (sent as UTF-8) or bytes; on
   * a connection of its own. Optional: a topology without it refuses
   * binary subscriptions with `NotSupported`.
   */
  readonly subscribeBytes?:
    | ((
      kind: Kind,
      names: ReadonlyArray<string | Uint8Array>,
      buffer?: BufferOptions
    ) => Stream.Stream<BinaryMessage, RedisError.RedisError>)
    | undefined
  /** How many (re)subscribe rounds the connection has done: a change means messages may have been missed. */
  readonly generation: () => number
  /**
   * How many messages subscriptions dropped because their consumer fell
   * `bufferSize` behind (each subscription counts its own). Optional: 0
   * when absent.
   */
  readonly dropped?: (() => number) | undefined
  /** The subscriber connection's status (`"closed"` before the first subscription opens it). */
  readonly status?: (() => Connection.Status) | undefined
}

/**
 * Optional callbacks for whoever places this subscriber (the cluster backend).
 *
 * @category models
 * @since 0.1.0
 */
export interface Hooks {
  /** The subscriber connection was lost. */
  readonly onDisconnect?: (() => void) | undefined
  /** The server dropped a live subscription on its own (a shard channel's slot moved away). */
  readonly onServerUnsubscribe?: ((kind: Kind, name: string) => void) | undefined
}

const verbs = {
  channel: { sub: "SUBSCRIBE", unsub: "UNSUBSCRIBE", confirm: "subscribe", message: "message" },
  pattern: { sub: "PSUBSCRIBE", unsub: "PUNSUBSCRIBE", confirm: "psubscribe", message: "pmessage" },
  shard: { sub: "SSUBSCRIBE", unsub: "SUNSUBSCRIBE", confirm: "ssubscribe", message: "smessage" }
} as const

const str = (v: RespValue): string =>
  typeof v === "string" ? v : v instanceof Uint8Array ? new TextDecoder().decode(v) : String(v)

const utf8 = new TextEncoder()

const bytes = (v: RespValue | Arg): Uint8Array =>
  v instanceof Uint8Array ? v : utf8.encode(typeof v === "string" ? v : String(v))

// A binary name's key: one char per byte, so any byte sequence is a
// distinct Map key and converts back exactly (`keyBytes`).
const byteKey = (v: RespValue | Arg): string => {
  const b = bytes(v)
  let out = ""
  for (let i = 0; i < b.length; i += 4096) out += String.fromCharCode(...b.subarray(i, i + 4096))
  return out
}

const keyBytes = (key: string): Uint8Array => {
  const out = new Uint8Array(key.length)
  for (let i = 0; i < key.length; i++) out[i] = key.charCodeAt(i)
  return out
}

const kinds = ["channel", "pattern", "shard"] as const

// A listener is the buffer of one stream, and whether that stream wants gap
// events.
interface Listener {
  readonly buffer: SubscriptionBuffer.SubscriptionBuffer<Event | BinaryMessage, Gap>
  readonly gaps: boolean
}

/**
 * Who listens to what on one subscriber connection, and the routing of the
 * frames it receives: `onPush` is the per-message path, called by the
 * connection's parse loop once per frame. Plain mutable state: it lives
 * inside one `PubSub` and never escapes it.
 *
 * A binary one (`binary: true`, on a connection whose pushes stay bytes)
 * keys names by their bytes (`byteKey`) and delivers `BinaryMessage`s.
 */
class Subscriptions {
  // name key -> listeners, per kind.
  readonly listeners: Record<Kind, Map<string, Set<Listener>>> = {
    channel: new Map(),
    pattern: new Map(),
    shard: new Map()
  }
  // Confirmations awaited by streams that just subscribed.
  private readonly confirmations: Record<Kind, Map<string, Array<Deferred.Deferred<void>>>> = {
    channel: new Map(),
    pattern: new Map(),
    shard: new Map()
  }
  /** How many (re)subscribe rounds the connection has done. */
  generation = 0
  /** How many messages the listeners' buffers dropped. */
  dropped = 0
  private readonly hooks: Hooks | undefined
  readonly binary: boolean

  constructor(hooks: Hooks | undefined, binary: boolean) {
    this.hooks = hooks
    this.binary = binary
  }

  /** The listeners' key of a name as the server sends it (or a caller gives it). */
  key(name: RespValue | Arg): string {
    return this.binary ? byteKey(name) : str(name)
  }

  /** A key as it goes on the wire. */
  arg(key: string): Arg {
    return this.binary ? keyBytes(key) : key
  }

  private deliver(kind: Kind, name: RespValue, channel: RespValue, pattern: RespValue | undefined, payload: RespValue): void {
    const set = this.listeners[kind].get(this.key(name))
    if (set === undefined) return
    const message: Message | BinaryMessage = this.binary
      ? { kind, channel: bytes(channel), pattern: pattern === undefined ? undefined : bytes(pattern), payload: bytes(payload) }
      : { kind, channel: str(channel), pattern: pattern === undefined ? undefined : str(pattern), payload: str(payload) }
    for (const listener of set) if (listener.buffer.offer(message)) this.dropped++
  }

  private confirm(kind: Kind, name: RespValue): void {
    const key = this.key(name)
    const waiting = this.confirmations[kind].get(key)
    if (waiting === undefined) return
    this.confirmations[kind].delete(key)
    for (const d of waiting) Deferred.doneUnsafe(d, Effect.void)
  }

  // RESP3 sends pushes; RESP2 sends plain arrays on a subscriber connection.
  readonly onPush = (value: RespValue): void => {
    const items = value instanceof RespPush ? value.items : Array.isArray(value) ? value : undefined
    if (items === undefined || items.length < 2) return
    const type = str(items[0]).toLowerCase()
    switch (type) {
      case "message":
        return this.deliver("channel", items[1], items[1], undefined, items[2])
      case "smessage":
        return this.deliver("shard", items[1], items[1], undefined, items[2])
      case "pmessage":
        return this.deliver("pattern", items[1], items[2], items[1], items[3])
      case "subscribe":
        return this.confirm("channel", items[1])
      case "psubscribe":
        return this.confirm("pattern", items[1])
      case "ssubscribe":
        return this.confirm("shard", items[1])
      case "unsubscribe":
      case "punsubscribe":
      case "sunsubscribe": {
        // Our own UNSUBSCRIBEs are sent after the name left `listeners`; a
        // name still listened to was dropped by the server.
        const kind: Kind = type === "unsubscribe" ? "channel" : type === "punsubscribe" ? "pattern" : "shard"
        const key = this.key(items[1])
        if (this.listeners[kind].has(key)) this.hooks?.onServerUnsubscribe?.(kind, str(items[1]))
        return
      }
    }
  }

  /**
   * Adds a stream's listener to `names`. Returns the names the server must
   * be told of (nobody listened to them yet) and the confirmations to await.
   */
  add(kind: Kind, names: ReadonlyArray<string>, listener: Listener): {
    readonly fresh: Array<string>
    readonly waits: Array<Deferred.Deferred<void>>
  } {
    const fresh: Array<string> = []
    const waits: Array<Deferred.Deferred<void>> = []
    for (const name of names) {
      let set = this.listeners[kind].get(name)
      if (set === undefined) {
        set = new Set()
        this.listeners[kind].set(name, set)
        fresh.push(name)
        const d = Deferred.makeUnsafe<void>()
        const list = this.confirmations[kind].get(name) ?? []
        list.push(d)
        this.confirmations[kind].set(name, list)
        waits.push(d)
      }
      set.add(listener)
    }
    return { fresh, waits }
  }

  /** Removes a stream's listener; returns the names nobody listens to any more. */
  remove(kind: Kind, names: ReadonlyArray<string>, listener: Listener): Array<string> {
    const gone: Array<string> = []
    for (const name of names) {
      const set = this.listeners[kind].get(name)
      if (set === undefined) continue
      set.delete(listener)
      if (set.size === 0) {
        this.listeners[kind].delete(name)
        gone.push(name)
      }
    }
    return gone
  }

  /** Tells each stream that wants gap events, once, that `names` may have missed messages. */
  gap(kind: Kind, names: ReadonlyArray<string>): void {
    const told = new Set<Listener>()
    for (const name of names) {
      for (const listener of this.listeners[kind].get(name) ?? []) {
        if (!listener.gaps || told.has(listener)) continue
        told.add(listener)
        listener.buffer.offerGap({ kind: "gap", reason: "reconnect", subscription: kind, names: [...names] })
      }
    }
  }
}

// The connection's `onConnect`: every live name is subscribed again before
// anything else is sent; after the first connect, the streams that asked for
// it get a gap.
const resubscribe = (subs: Subscriptions, connection: Connection.Connection): Effect.Effect<void, RedisError.RedisError> =>
  Effect.gen(function*() {
    subs.generation++
    for (const kind of kinds) {
      const keys = [...subs.listeners[kind].keys()]
      if (keys.length === 0) continue
      yield* connection.sendNoReply([verbs[kind].sub, ...keys.map((k) => subs.arg(k))])
      if (subs.generation > 1) subs.gap(kind, keys)
    }
  })

// One stream: a buffer of its own (`buffer`: the call's options over the
// client's), then subscribes the names nobody listened to yet and waits for
// their confirmations; on exit, unsubscribes the names nobody listens to
// any more. `keys` are the listeners' keys of the names (the names
// themselves on a text subscriber).
const subscribeWith = <A extends Event | BinaryMessage>(
  subs: Subscriptions,
  getConnection: Effect.Effect<Connection.Connection>,
  kind: Kind,
  keys: ReadonlyArray<string>,
  gaps: boolean,
  buffer: BufferOptions
): Stream.Stream<A, RedisError.RedisError> => {
  if (keys.length === 0) {
    return Stream.fail(RedisError.invalidArgument(`${verbs[kind].sub} needs at least one name`, verbs[kind].sub))
  }
  const problem = bufferProblem(buffer)
  if (problem !== undefined) return Stream.fail(RedisError.invalidArgument(problem, verbs[kind].sub))
  const overflow = gaps
    ? (dropped: number): Gap => ({ kind: "gap", reason: "overflow", subscription: kind, names: keys, dropped })
    : undefined
  const acquire = (listener: Listener) =>
    Effect.gen(function*() {
      const c = yield* getConnection
      const { fresh, waits } = subs.add(kind, keys, listener)
      if (fresh.length > 0) {
        // While disconnected this waits in the offline queue; onConnect
        // resubscribes every live name anyway.
        yield* c.sendNoReply([verbs[kind].sub, ...fresh.map((k) => subs.arg(k))])
        yield* Effect.all(waits.map(Deferred.await), { discard: true })
      }
      return c
    })
  const release = (listener: Listener) => (c: Connection.Connection) =>
    Effect.suspend(() => {
      const gone = subs.remove(kind, keys, listener)
      return gone.length === 0 || c.status() === "closed"
        ? Effect.void
        : Effect.ignore(c.sendNoReply([verbs[kind].unsub, ...gone.map((k) => subs.arg(k))]))
    })
  // Each run of the stream gets its own listener and buffer.
  return Stream.unwrap(Effect.suspend(() => {
    const listener: Listener = {
      buffer: new SubscriptionBuffer.SubscriptionBuffer(
        buffer.bufferSize ?? defaultBufferSize,
        buffer.strategy ?? "dropping",
        overflow
      ),
      gaps
    }
    // One buffer type for every listener: what a subscriber delivers to it
    // is what its stream emits (text or binary, by the subscriber).
    const stream = Stream.fromPull(Effect.succeed(SubscriptionBuffer.pull(listener.buffer))) as Stream.Stream<A>
    return Effect.as(Effect.acquireRelease(acquire(listener), release(listener)), stream)
  }))
}

// A subscriber connection opened by the first subscription, once (the
// permit makes concurrent first subscriptions share it), in `scope`.
const lazyConnection = (
  subs: Subscriptions,
  options: RedisConfig.ConnectionOptions,
  hooks: Hooks | undefined,
  scope: Scope.Scope,
  transport: Transport["Service"]
): Effect.Effect<{
  readonly get: Effect.Effect<Connection.Connection>
  readonly current: () => Connection.Connection | undefined
}> =>
  Effect.map(Semaphore.make(1), (lock) => {
    let connection: Connection.Connection | undefined
    const get = Semaphore.withPermit(lock)(
      Effect.suspend(() => {
        if (connection !== undefined) return Effect.succeed(connection)
        return Connection.make({ ...options, setInfo: false }, {
          onPush: subs.onPush,
          onConnect: (c) => resubscribe(subs, c),
          onDisconnect: () => hooks?.onDisconnect?.(),
          pushesAsBytes: subs.binary
        }).pipe(
          Scope.provide(scope),
          Effect.provideService(Transport, transport),
          Effect.tap((c) =>
            Effect.sync(() => {
              connection = c
            })
          )
        )
      })
    )
    return { get, current: () => connection }
  })

const isName = (name: unknown): name is string | Uint8Array => typeof name === "string" || name instanceof Uint8Array

/**
 * A subscriber for one node. The connection opens with the first
 * subscription and lives as long as the scope; binary subscriptions
 * (`subscribeBytes`) get a connection of their own, opened with the first
 * of them, so text subscriptions never pay for bytes and vice versa. Each
 * subscription's buffer is the call's `buffer` over
 * `options.subscriptionBuffer`.
 *
 * @category constructors
 * @since 0.1.0
 */
export const make = (
  options: Options,
  hooks?: Hooks
): Effect.Effect<PubSub, never, Scope.Scope | Transport> =>
  Effect.gen(function*() {
    const scope = yield* Effect.scope
    const transport = yield* Transport
    const subs = new Subscriptions(hooks, false)
    const text = yield* lazyConnection(subs, options, hooks, scope, transport)
    const binarySubs = new Subscriptions(hooks, true)
    const binary = yield* lazyConnection(binarySubs, options, hooks, scope, transport)
    const client = options.subscriptionBuffer
    // The call's options win, field by field.
    const bufferOf = (call: BufferOptions | undefined): BufferOptions =>
      call === undefined || client === undefined ? call ?? client ?? {} : {
        bufferSize: call.bufferSize ?? client.bufferSize,
        strategy: call.strategy ?? client.strategy
      }
    return {
      subscribe: (kind, names, buffer) => subscribeWith<Message>(subs, text.get, kind, names, false, bufferOf(buffer)),
      subscribeEvents: (kind, names, buffer) => subscribeWith<Event>(subs, text.get, kind, names, true, bufferOf(buffer)),
      subscribeBytes: (kind, names, buffer) =>
        names.every(isName)
          ? subscribeWith<BinaryMessage>(binarySubs, binary.get, kind, names.map(byteKey), false, bufferOf(buffer))
          : Stream.fail(RedisError.invalidArgument(`${verbs[kind].sub} names must be strings or Uint8Arrays`, verbs[kind].sub)),
      generation: () => subs.generation,
      dropped: () => subs.dropped + binarySubs.dropped,
      status: () => text.current()?.status() ?? "closed"
    }
  })
