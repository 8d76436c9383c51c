/**
 * Subscriptions as `Stream`s: SUBSCRIBE, PSUBSCRIBE and SSUBSCRIBE over one
 * subscriber connection per client, opened on first use.
 *
 * Many streams may listen to the same channel; the server is told once.
 * After a reconnect every live channel and pattern is subscribed again
 * before anything else is sent. Pub/sub is at-most-once: messages published
 * while the connection was down are lost (Redis keeps no backlog).
 *
 * It does not publish (that is an ordinary command) and does not route shard
 * channels to cluster nodes (the cluster backend does that with one
 * `PubSub` per node).
 *
 * @since 0.1.0
 */
import type * as Cause from "effect/Cause"
import * as Deferred from "effect/Deferred"
import * as Effect from "effect/Effect"
import * as Queue from "effect/Queue"
import * as Scope from "effect/Scope"
import * as Semaphore from "effect/Semaphore"
import * as Stream from "effect/Stream"
import * as Connection from "./Connection.ts"
import type * as RedisConfig from "./RedisConfig.ts"
import * as RedisError from "./RedisError.ts"
import type { RespValue } from "./Resp.ts"
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
 * @category models
 * @since 0.1.0
 */
export type Kind = "channel" | "pattern" | "shard"

/**
 * Messages may have been missed: the subscription was made again after the
 * connection was lost (`reconnect`) or moved to another node (`moved`: a
 * cluster failover or slot migration). Pub/sub keeps no backlog, so what was
 * published in between is gone.
 *
 * @category models
 * @since 0.1.0
 */
export interface Gap {
  readonly kind: "gap"
  readonly reason: "reconnect" | "moved"
  readonly subscription: Kind
  readonly names: ReadonlyArray<string>
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
  /** Messages for the given channels (or patterns, or shard channels), for as long as the stream runs. */
  readonly subscribe: (kind: Kind, names: ReadonlyArray<string>) => Stream.Stream<Message, RedisError.RedisError>
  /** The same, with a `Gap` event wherever messages may have been missed. */
  readonly subscribeEvents?:
    | ((kind: Kind, names: ReadonlyArray<string>) => Stream.Stream<Event, RedisError.RedisError>)
    | undefined
  /** How many (re)subscribe rounds the connection has done: a change means messages may have been missed. */
  readonly generation: () => number
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

const kinds = ["channel", "pattern", "shard"] as const

// A listener is the queue of one stream, and whether that stream wants gap
// events.
interface Listener {
  readonly queue: Queue.Queue<Event, RedisError.RedisError | Cause.Done>
  readonly gaps: boolean
}

/**
 * Who listens to what on one subscriber connection, and the routing of the
 * frames it receives: `onPush` is the per-message path, called by the
 * connection's parse loop once per frame. Plain mutable state: it lives
 * inside one `PubSub` and never escapes it.
 */
class Subscriptions {
  // name -> listeners, per kind.
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
  private readonly hooks: Hooks | undefined

  constructor(hooks: Hooks | undefined) {
    this.hooks = hooks
  }

  private deliver(kind: Kind, name: string, message: Message): void {
    const set = this.listeners[kind].get(name)
    if (set === undefined) return
    for (const listener of set) Queue.offerUnsafe(listener.queue, message)
  }

  private confirm(kind: Kind, name: string): void {
    const waiting = this.confirmations[kind].get(name)
    if (waiting === undefined) return
    this.confirmations[kind].delete(name)
    for (const d of waiting) Deferred.doneUnsafe(d, Effect.void)
  }

  // RESP3 sends pushes; RESP2 sends plain arrays on a subscriber connection.
  readonly onPush = (value: RespValue): void => {
    const items = value instanceof RespPush ? value.items : Array.isArray(value) ? value : undefined
    if (items === undefined || items.length < 2) return
    const type = str(items[0]).toLowerCase()
    switch (type) {
      case "message":
        return this.deliver("channel", str(items[1]), {
          kind: "channel",
          channel: str(items[1]),
          pattern: undefined,
          payload: str(items[2])
        })
      case "smessage":
        return this.deliver("shard", str(items[1]), {
          kind: "shard",
          channel: str(items[1]),
          pattern: undefined,
          payload: str(items[2])
        })
      case "pmessage":
        return this.deliver("pattern", str(items[1]), {
          kind: "pattern",
          pattern: str(items[1]),
          channel: str(items[2]),
          payload: str(items[3])
        })
      case "subscribe":
        return this.confirm("channel", str(items[1]))
      case "psubscribe":
        return this.confirm("pattern", str(items[1]))
      case "ssubscribe":
        return this.confirm("shard", str(items[1]))
      case "unsubscribe":
      case "punsubscribe":
      case "sunsubscribe": {
        // Our own UNSUBSCRIBEs are sent after the name left `listeners`; a
        // name still listened to was dropped by the server.
        const kind: Kind = type === "unsubscribe" ? "channel" : type === "punsubscribe" ? "pattern" : "shard"
        const name = str(items[1])
        if (this.listeners[kind].has(name)) this.hooks?.onServerUnsubscribe?.(kind, name)
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
        Queue.offerUnsafe(listener.queue, { kind: "gap", reason: "reconnect", subscription: kind, names: [...names] })
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
      const names = [...subs.listeners[kind].keys()]
      if (names.length === 0) continue
      yield* connection.sendNoReply([verbs[kind].sub, ...names])
      if (subs.generation > 1) subs.gap(kind, names)
    }
  })

// One stream: subscribes the names nobody listened to yet and waits for
// their confirmations; on exit, unsubscribes the names nobody listens to any
// more.
const subscribeWith = (
  subs: Subscriptions,
  getConnection: Effect.Effect<Connection.Connection>,
  kind: Kind,
  names: ReadonlyArray<string>,
  gaps: boolean
): Stream.Stream<Event, RedisError.RedisError> => {
  if (names.length === 0) {
    return Stream.fail(RedisError.invalidArgument(`${verbs[kind].sub} needs at least one name`, verbs[kind].sub))
  }
  return Stream.callback<Event, RedisError.RedisError>((queue) => {
    const listener: Listener = { queue, gaps }
    return Effect.acquireRelease(
      Effect.gen(function*() {
        const c = yield* getConnection
        const { fresh, waits } = subs.add(kind, names, listener)
        if (fresh.length > 0) {
          // While disconnected this waits in the offline queue; onConnect
          // resubscribes every live name anyway.
          yield* c.sendNoReply([verbs[kind].sub, ...fresh])
          yield* Effect.all(waits.map(Deferred.await), { discard: true })
        }
        return c
      }),
      (c) =>
        Effect.suspend(() => {
          const gone = subs.remove(kind, names, listener)
          return gone.length === 0 || c.status() === "closed"
            ? Effect.void
            : Effect.ignore(c.sendNoReply([verbs[kind].unsub, ...gone]))
        })
    )
  })
}

/**
 * A subscriber for one node. The connection opens with the first
 * subscription and lives as long as the scope.
 *
 * @category constructors
 * @since 0.1.0
 */
export const make = (
  options: RedisConfig.ConnectionOptions,
  hooks?: Hooks
): Effect.Effect<PubSub, never, Scope.Scope | Transport> =>
  Effect.gen(function*() {
    const scope = yield* Effect.scope
    const transport = yield* Transport
    const subs = new Subscriptions(hooks)
    let connection: Connection.Connection | undefined
    const lock = yield* Semaphore.make(1)
    // Opened by the first subscription, once (the permit makes concurrent
    // first subscriptions share it), in this subscriber's scope.
    const getConnection: Effect.Effect<Connection.Connection> = Semaphore.withPermit(lock)(
      Effect.suspend(() => {
        if (connection !== undefined) return Effect.succeed(connection)
        return Connection.make({ ...options, setInfo: false }, {
          onPush: subs.onPush,
          onConnect: (c) => resubscribe(subs, c),
          onDisconnect: () => hooks?.onDisconnect?.()
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
    return {
      subscribe: (kind, names) =>
        subscribeWith(subs, getConnection, kind, names, false) as Stream.Stream<Message, RedisError.RedisError>,
      subscribeEvents: (kind, names) => subscribeWith(subs, getConnection, kind, names, true),
      generation: () => subs.generation,
      status: () => connection?.status() ?? "closed"
    }
  })
