/**
 * Asking the sentinels of one service, following the Sentinel client
 * guidelines (redis.io, "Sentinel client spec"): the sentinels are asked in
 * order; the first that names a primary moves to the front of the list; the
 * address is verified with `ROLE` before use; the list is extended with what
 * `SENTINEL SENTINELS` reports; replicas come from `SENTINEL REPLICAS`,
 * minus those flagged `s_down`, `o_down` or `disconnected`. Like redis-py, a
 * primary that its sentinel sees as down, or that fewer than
 * `minOtherSentinels` other sentinels watch, does not count. A round that
 * finds nothing is repeated by the discovery schedule, unless every sentinel
 * said it does not know the service.
 *
 * It also keeps one subscriber connection to every known sentinel (the
 * watchers), subscribed to `EVENT_CHANNELS` *before* the state is first read,
 * and hands each event to the listeners synchronously; and `makeCues`, the
 * wake-up of a backend's re-discovery loop.
 *
 * Every address a sentinel reports (the primary, the replicas, other
 * sentinels, the announcements of a switch) goes through the client's
 * `addressRemap` before it is used (NAT, containers: redis-py's
 * `force_master_ip`, generalised). `execute` and `executeAll` send any
 * command (the typed `SENTINEL` ones of `commands/sentinel.ts`) to one
 * sentinel or to all of them, on short-lived connections.
 *
 * It does not decide what a backend does with an answer or an event (that
 * is `SentinelMaster` and `SentinelReplica`), and it holds no data-node
 * connection: its connections to data nodes are one-shot `ROLE` checks.
 *
 * @since 0.1.0
 */
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Queue from "effect/Queue"
import * as Redacted from "effect/Redacted"
import * as Schedule from "effect/Schedule"
import * as Scope from "effect/Scope"
import * as Stream from "effect/Stream"
import * as SubscriptionRef from "effect/SubscriptionRef"
import * as Address from "../Address.ts"
import type { Command } from "../Command.ts"
import * as Cmd from "../Command.ts"
import * as Commands from "../Commands.ts"
import * as Connection from "../Connection.ts"
import * as RedisConfig from "../RedisConfig.ts"
import * as RedisError from "../RedisError.ts"
import type { RespValue } from "../Resp.ts"
import { RespPush } from "../Resp.ts"
import { Transport } from "../Transport.ts"
import { remapper } from "../Address.ts"
import type { SentinelOptions, SentinelShape, State } from "./Sentinel.ts"
import type { SentinelEvent } from "./SentinelEvents.ts"
import { EVENT_CHANNELS, isHealthyReplica, keyOf, masterRejection, remapAnnouncement, toRecord } from "./SentinelEvents.ts"

// -----------------------------------------------------------------------------
// time, defaults, errors
// -----------------------------------------------------------------------------

/**
 * Epoch milliseconds with sub-millisecond precision, for ordering events
 * against each other: two events within one millisecond stay in order,
 * which `Date.now()` cannot promise.
 *
 * @category time
 * @since 0.1.0
 */
export const preciseNow = (): number => performance.timeOrigin + performance.now()

/**
 * Default retry of a discovery that found no primary: exponential from
 * 50 ms, capped at 1 s, 10 retries (about 6 s). An unknown service name
 * (every sentinel answered, none knows it) is never retried.
 *
 * @category defaults
 * @since 0.1.0
 */
export const defaultDiscoveryRetry: Schedule.Schedule<unknown, RedisError.RedisError> = Schedule.exponential("50 millis")
  .pipe(
    Schedule.modifyDelay(({ duration }) => Effect.succeed(Duration.min(duration, Duration.seconds(1)))),
    Schedule.jittered,
    Schedule.upTo({ times: 10 }),
    Schedule.setInputType<RedisError.RedisError>()
  )

/**
 * `MasterNotFound` for the service `masterName`.
 *
 * @category errors
 * @since 0.1.0
 */
export const masterNotFound = (
  masterName: string,
  message: string,
  outcome: RedisError.Outcome = "NotSent"
): RedisError.RedisError => RedisError.make(new RedisError.MasterNotFound({ masterName, message }), outcome)

const sentinelCommand = (...args: Array<string>): Command<RespValue> =>
  Cmd.unsafeMake("SENTINEL", ["SENTINEL", ...args], [], Cmd.Flags.READONLY, Cmd.Reply.raw)

// What a sentinel's answer said, for the message of a failed round.
const errorText = (exit: Exit.Exit<unknown, RedisError.RedisError>): string => {
  if (Exit.isSuccess(exit)) return "ok"
  const error = RedisError.failureOf(exit)
  if (error === undefined) return "interrupted"
  return (error.reason as { readonly message?: string }).message ?? error.reason._tag
}

// A failed discovery round, and whether trying again may help.
class DiscoveryFailed {
  readonly error: RedisError.RedisError
  readonly retry: boolean
  constructor(error: RedisError.RedisError, retry: boolean) {
    this.error = error
    this.retry = retry
  }
}

// -----------------------------------------------------------------------------
// the sentinel list and one-shot questions
// -----------------------------------------------------------------------------

// Sentinels in the order they are asked; the first that answers moves to the front.
interface SentinelList {
  /** A snapshot, in asking order. */
  readonly all: () => ReadonlyArray<RedisConfig.Endpoint>
  /** Adds a sentinel at the end; false if it was known. */
  readonly add: (endpoint: RedisConfig.Endpoint) => boolean
  readonly toFront: (endpoint: RedisConfig.Endpoint) => void
}

const makeSentinelList = (): SentinelList => {
  let list: Array<RedisConfig.Endpoint> = []
  return {
    all: () => [...list],
    add: (endpoint) => {
      if (list.some((x) => keyOf(x) === keyOf(endpoint))) return false
      list.push(endpoint)
      return true
    },
    toFront: (endpoint) => {
      list = [endpoint, ...list.filter((x) => x !== endpoint)]
    }
  }
}

// The seed sentinels: `host:port` (26379 when the port is left out) or objects.
const parseSeeds = (
  seeds: SentinelOptions["sentinels"]
): Effect.Effect<ReadonlyArray<RedisConfig.Endpoint>, RedisError.RedisError> =>
  Effect.suspend(() => {
    if (seeds.length === 0) return Effect.fail(RedisError.invalidArgument("Sentinel needs at least one sentinel address"))
    const out: Array<RedisConfig.Endpoint> = []
    for (const seed of seeds) {
      const address = Address.parse(seed, 26379)
      if (address === undefined) return Effect.fail(RedisError.invalidArgument(`invalid sentinel address '${String(seed)}'`))
      out.push(RedisConfig.tcp(address.host, address.port))
    }
    return Effect.succeed(out)
  })

// Connection options of a sentinel: its own credentials and TLS.
const sentinelConnection = (options: SentinelOptions, timeout: Duration.Duration) => {
  const password = options.sentinelPassword === undefined
    ? undefined
    : typeof options.sentinelPassword === "string"
    ? Redacted.make(options.sentinelPassword)
    : options.sentinelPassword
  return (endpoint: RedisConfig.Endpoint): RedisConfig.ConnectionOptions => {
    const o: {
      -readonly [K in keyof RedisConfig.ConnectionOptions]: RedisConfig.ConnectionOptions[K]
    } = { endpoint, setInfo: false, connectTimeout: timeout }
    if (options.sentinelTls !== undefined) o.tls = options.sentinelTls
    if (options.sentinelUsername !== undefined) o.username = options.sentinelUsername
    if (password !== undefined) o.password = password
    return o
  }
}

type Ask = (
  connectionOptions: RedisConfig.ConnectionOptions,
  commands: ReadonlyArray<Command<unknown>>
) => Effect.Effect<Array<Exit.Exit<unknown, RedisError.RedisError>>, RedisError.RedisError>

// A short-lived connection: connect, send, close; bounded in time.
const makeAsk = (transport: typeof Transport.Service, timeout: Duration.Duration): Ask => (connectionOptions, commands) =>
  Effect.scoped(Effect.gen(function*() {
    const c = yield* Connection.make({
      ...connectionOptions,
      connectTimeout: timeout,
      reconnect: Schedule.recurs(0),
      offline: { _tag: "fail" },
      maxResends: 0
    })
    yield* c.awaitReady
    return yield* c.sendAll(commands)
  })).pipe(
    Effect.provideService(Transport, transport),
    Effect.timeoutOrElse({
      duration: timeout,
      orElse: () =>
        Effect.fail(RedisError.make(
          new RedisError.Timeout({
            message: `no answer from ${keyOf(connectionOptions.endpoint)} within ${Duration.toMillis(timeout)} ms`,
            millis: Duration.toMillis(timeout)
          }),
          "Unknown"
        ))
    })
  )

type Verify = (
  data: RedisConfig.ConnectionOptions,
  address: RedisConfig.Endpoint
) => Effect.Effect<void, RedisError.RedisError>

const probeName = (clientName: string | undefined) => (clientName === undefined ? undefined : `${clientName}:probe`)

// `ROLE` at `address`: succeeds only with the wanted role (and, for a
// replica, linked to its primary). The probe's short-lived connection is
// named `<clientName>:probe`, so CLIENT LIST (an operator, or a test that
// looks for data connections on a stale primary) tells it from the client's
// data connections: a probe of a node the sentinels still list is expected.
const verifyRole = (ask: Ask, masterName: string, wanted: "master" | "slave"): Verify => (data, address) =>
  Effect.flatMap(ask({ ...data, endpoint: address, clientName: probeName(data.clientName) }, [Commands.role()]), ([exit]) => {
    if (Exit.isFailure(exit)) return exit as Exit.Exit<never, RedisError.RedisError>
    const reply = exit.value as Commands.ServerRole
    if (reply.role !== wanted) {
      return Effect.fail(masterNotFound(masterName, `${keyOf(address)} answers ROLE ${reply.role}, not ${wanted}`))
    }
    // A replica that is not linked to its primary (a restarted node still
    // syncing) may serve an empty or old dataset.
    if (reply.role === "slave" && reply.state !== "connected") {
      return Effect.fail(masterNotFound(masterName, `${keyOf(address)} is a replica in state ${reply.state}`))
    }
    return Effect.void
  })

// -----------------------------------------------------------------------------
// watchers
// -----------------------------------------------------------------------------

interface Watchers {
  readonly listeners: Set<(event: SentinelEvent) => void>
  /** Subscribes to a sentinel's events (once per address); the connection lives in the discovery's scope. */
  readonly watch: (endpoint: RedisConfig.Endpoint) => Effect.Effect<void>
}

// One subscriber connection per known sentinel. Listeners run synchronously
// on the connection's reader: a backend that must stop using a demoted
// primary does so before the next reply is read.
const makeWatchers = (
  scope: Scope.Scope,
  transport: typeof Transport.Service,
  connectionOf: (endpoint: RedisConfig.Endpoint) => RedisConfig.ConnectionOptions
): Watchers => {
  const listeners = new Set<(event: SentinelEvent) => void>()
  const watched = new Set<string>()
  const emit = (event: SentinelEvent) => {
    for (const l of listeners) l(event)
  }
  const watch = (endpoint: RedisConfig.Endpoint): Effect.Effect<void> =>
    Effect.suspend(() => {
      const address = keyOf(endpoint)
      if (watched.has(address)) return Effect.void
      watched.add(address)
      const onPush = (value: RespValue) => {
        const items = value instanceof RespPush ? value.items : Array.isArray(value) ? value : undefined
        if (items === undefined || items.length < 3) return
        if (Cmd.Reply.string(items[0]) !== "message") return
        emit({
          channel: Cmd.Reply.string(items[1]),
          payload: Cmd.Reply.string(items[2]),
          sentinel: address,
          receivedAt: preciseNow()
        })
      }
      return Connection.make(
        {
          ...connectionOf(endpoint),
          // A watcher never gives up: a sentinel that comes back is watched again.
          reconnect: Schedule.spaced("1 second").pipe(Schedule.setInputType<RedisError.RedisError>()),
          connectTimeout: Duration.seconds(2)
        },
        {
          onPush,
          onConnect: (c) =>
            Effect.andThen(
              c.sendNoReply(["SUBSCRIBE", ...EVENT_CHANNELS]),
              // Events may have been missed while disconnected: a reconnect is a cue too.
              Effect.sync(() => emit({ channel: "reconnect", payload: "", sentinel: address, receivedAt: preciseNow() }))
            )
        }
      ).pipe(Scope.provide(scope), Effect.provideService(Transport, transport), Effect.asVoid)
    })
  return { listeners, watch }
}

// -----------------------------------------------------------------------------
// discovery rounds
// -----------------------------------------------------------------------------

// What one round needs.
interface Asking {
  readonly sentinels: SentinelList
  readonly ask: Ask
  /** The address to dial for one a sentinel reported (`addressRemap`). */
  readonly remap: (endpoint: RedisConfig.Endpoint) => RedisConfig.Endpoint
  readonly connectionOf: (endpoint: RedisConfig.Endpoint) => RedisConfig.ConnectionOptions
  readonly minOther: number
  readonly verifyMaster: Verify
  /** Adds what `SENTINEL SENTINELS` reported to the list (and watches them). */
  readonly learn: (reply: RespValue) => Effect.Effect<void>
  /** Publishes the asking order in `State`. */
  readonly publishOrder: Effect.Effect<void>
}

// The sentinels a `SENTINEL SENTINELS` reply names.
const sentinelsIn = (reply: RespValue): ReadonlyArray<RedisConfig.Endpoint> => {
  const out: Array<RedisConfig.Endpoint> = []
  try {
    for (const item of Cmd.Reply.items(reply)) {
      const r = toRecord(item)
      const port = Number(r.port)
      if (r.ip !== undefined && Number.isInteger(port)) out.push(RedisConfig.tcp(r.ip, port))
    }
  } catch {
    // A malformed reply teaches nothing.
  }
  return out
}

// One round: every sentinel in order until one names a usable primary.
const masterRound = (
  asking: Asking,
  name: string,
  data: RedisConfig.ConnectionOptions,
  reject?: (address: RedisConfig.Endpoint) => string | undefined
): Effect.Effect<RedisConfig.Endpoint, DiscoveryFailed> =>
  Effect.gen(function*() {
    const said: Array<string> = []
    let unknownName = 0
    const sentinels = asking.sentinels.all()
    for (const sentinel of sentinels) {
      const where = keyOf(sentinel)
      const exits = yield* Effect.exit(asking.ask(asking.connectionOf(sentinel), [
        sentinelCommand("GET-MASTER-ADDR-BY-NAME", name),
        sentinelCommand("MASTER", name),
        sentinelCommand("SENTINELS", name)
      ]))
      if (Exit.isFailure(exits)) {
        said.push(`${where}: ${errorText(exits)}`)
        continue
      }
      const [addrExit, masterExit, sentinelsExit] = exits.value
      if (Exit.isFailure(addrExit)) {
        said.push(`${where}: ${errorText(addrExit)}`)
        continue
      }
      if (addrExit.value === null) {
        unknownName++
        said.push(`${where}: does not know '${name}'`)
        continue
      }
      if (Exit.isSuccess(sentinelsExit)) yield* asking.learn(sentinelsExit.value as RespValue)
      const pair = Cmd.Reply.items(addrExit.value as RespValue)
      const reported = RedisConfig.tcp(Cmd.Reply.string(pair[0]), Number(Cmd.Reply.string(pair[1])))
      const address = asking.remap(reported)
      const down = Exit.isSuccess(masterExit)
        ? masterRejection(toRecord(masterExit.value as RespValue), keyOf(reported), asking.minOther)
        : undefined
      if (down !== undefined) {
        said.push(`${where}: ${down}`)
        continue
      }
      const rejected = reject?.(address)
      if (rejected !== undefined) {
        said.push(`${where}: names ${keyOf(address)}, ${rejected}`)
        continue
      }
      const verified = yield* Effect.exit(asking.verifyMaster(data, address))
      if (Exit.isFailure(verified)) {
        said.push(`${where}: names ${keyOf(address)}, but ${errorText(verified)}`)
        continue
      }
      asking.sentinels.toFront(sentinel)
      yield* asking.publishOrder
      return address
    }
    const all = unknownName === asking.sentinels.all().length
    return yield* Effect.fail(
      new DiscoveryFailed(
        masterNotFound(
          name,
          `${all ? "no sentinel knows" : "no sentinel named a usable primary for"} '${name}': ${said.join("; ")}`
        ),
        !all
      )
    )
  })

// One round: the first sentinel that lists the replicas.
const replicaRound = (asking: Asking, name: string): Effect.Effect<ReadonlyArray<RedisConfig.Endpoint>, DiscoveryFailed> =>
  Effect.gen(function*() {
    const said: Array<string> = []
    let unknownName = 0
    for (const sentinel of asking.sentinels.all()) {
      const where = keyOf(sentinel)
      const exits = yield* Effect.exit(asking.ask(asking.connectionOf(sentinel), [sentinelCommand("REPLICAS", name)]))
      if (Exit.isFailure(exits)) {
        said.push(`${where}: ${errorText(exits)}`)
        continue
      }
      const [exit] = exits.value
      if (Exit.isFailure(exit)) {
        const text = errorText(exit)
        if (/no such master/i.test(text)) unknownName++
        said.push(`${where}: ${text}`)
        continue
      }
      const out: Array<RedisConfig.Endpoint> = []
      for (const item of Cmd.Reply.items(exit.value as RespValue)) {
        const r = toRecord(item)
        if (isHealthyReplica(r) && r.ip !== undefined) out.push(asking.remap(RedisConfig.tcp(r.ip, Number(r.port))))
      }
      asking.sentinels.toFront(sentinel)
      return out
    }
    const all = unknownName === asking.sentinels.all().length
    return yield* Effect.fail(
      new DiscoveryFailed(masterNotFound(name, `no sentinel listed replicas of '${name}': ${said.join("; ")}`), !all)
    )
  })

// Repeats a round by the schedule, unless it failed for good.
const retried = <A>(
  round: Effect.Effect<A, DiscoveryFailed>,
  schedule: Schedule.Schedule<unknown, RedisError.RedisError>
): Effect.Effect<A, RedisError.RedisError> => {
  // Errors that no retry can fix (every sentinel said it does not know the name).
  const final = new WeakSet<RedisError.RedisError>()
  return Effect.retry(
    Effect.mapError(round, (e) => {
      if (!e.retry) final.add(e.error)
      return e.error
    }),
    { schedule, while: (e) => !final.has(e) }
  )
}

// -----------------------------------------------------------------------------
// the discovery
// -----------------------------------------------------------------------------

/**
 * The sentinels of one service: the `Sentinel` service, plus what the
 * backends use to follow it.
 *
 * @category models
 * @since 0.1.0
 */
export interface Discovery {
  readonly service: SentinelShape
  /** Registers a listener of sentinel events (synchronous, on the watcher's reader). */
  readonly onEvent: (listener: (event: SentinelEvent) => void) => void
  /** The event with the addresses of its switch announcement remapped (`addressRemap`). */
  readonly remapEvent: (event: SentinelEvent) => SentinelEvent
  /** Asks the sentinels, round after round by the discovery schedule; the address is ROLE-verified with `data`. */
  readonly findMaster: (
    data: RedisConfig.ConnectionOptions,
    reject?: (address: RedisConfig.Endpoint) => string | undefined
  ) => Effect.Effect<RedisConfig.Endpoint, RedisError.RedisError>
  /** `ROLE` at `address`; succeeds only if it is a master. */
  readonly verifyMaster: Verify
  /** `ROLE` at `address`; succeeds only if it is a replica linked to its primary (`connected`). */
  readonly verifyReplica: Verify
  readonly updateState: (f: (s: State) => State) => Effect.Effect<void>
}

/**
 * Starts watching the sentinels of `options.masterName` (in the current
 * scope) and returns the discovery. `data` are the data nodes' connection
 * options, used to verify primaries with `ROLE`.
 *
 * @category constructors
 * @since 0.1.0
 */
export const make = (
  options: SentinelOptions,
  data: RedisConfig.ConnectionOptions
): Effect.Effect<Discovery, RedisError.RedisError, Scope.Scope | Transport> =>
  Effect.gen(function*() {
    const scope = yield* Effect.scope
    const transport = yield* Transport
    const masterName = options.masterName
    const sentinels = makeSentinelList()
    for (const seed of yield* parseSeeds(options.sentinels)) sentinels.add(seed)
    const timeout = Duration.fromInputUnsafe(options.sentinelTimeout ?? Duration.millis(500))
    const schedule = options.discoveryRetry ?? defaultDiscoveryRetry
    const connectionOf = sentinelConnection(options, timeout)
    const ask = makeAsk(transport, timeout)
    const stateRef = yield* SubscriptionRef.make<State>({
      masterName,
      master: undefined,
      replicas: [],
      sentinels: sentinels.all(),
      lastEvent: undefined,
      switches: []
    })
    const updateState = (f: (s: State) => State) => SubscriptionRef.update(stateRef, f)
    const publishOrder = Effect.suspend(() => updateState((s) => ({ ...s, sentinels: sentinels.all() })))
    const watchers = makeWatchers(scope, transport, connectionOf)
    const verifyMaster = verifyRole(ask, masterName, "master")
    const remapAddress = remapper(options.addressRemap)
    const remap = (endpoint: RedisConfig.Endpoint): RedisConfig.Endpoint => {
      if (endpoint._tag !== "Tcp") return endpoint
      const to = remapAddress({ host: endpoint.host, port: endpoint.port })
      return to.host === endpoint.host && to.port === endpoint.port ? endpoint : RedisConfig.tcp(to.host, to.port)
    }
    const asking: Asking = {
      sentinels,
      ask,
      remap,
      connectionOf,
      minOther: options.minOtherSentinels ?? 0,
      verifyMaster,
      learn: (reply) =>
        Effect.suspend(() => {
          const fresh = sentinelsIn(reply).map(remap).filter(sentinels.add)
          if (fresh.length === 0) return Effect.void
          return Effect.andThen(Effect.forEach(fresh, watchers.watch, { discard: true }), publishOrder)
        }),
      publishOrder
    }
    const findMaster = (
      data: RedisConfig.ConnectionOptions,
      reject?: (address: RedisConfig.Endpoint) => string | undefined,
      name = masterName
    ) => retried(masterRound(asking, name, data, reject), schedule)

    // Subscribe first, then read the state (events between are not missed).
    yield* Effect.forEach(sentinels.all(), watchers.watch, { discard: true })
    // `lastEvent` is kept by a fiber of this scope: the listener runs on a
    // connection's reader and may not wait for the state's lock.
    const latest = yield* Queue.unbounded<SentinelEvent>()
    watchers.listeners.add((event) => {
      if (event.channel !== "reconnect") Queue.offerUnsafe(latest, event)
    })
    yield* Effect.forkScoped(
      Effect.forever(Effect.flatMap(Queue.take(latest), (event) => updateState((s) => ({ ...s, lastEvent: event }))))
    )

    const service: SentinelShape = {
      discoverMaster: (name) => findMaster(data, undefined, name ?? masterName),
      discoverReplicas: (name) =>
        Effect.tap(retried(replicaRound(asking, name ?? masterName), schedule), (replicas) =>
          name === undefined || name === masterName ? updateState((s) => ({ ...s, replicas })) : Effect.void),
      state: SubscriptionRef.get(stateRef),
      changes: SubscriptionRef.changes(stateRef),
      execute: (command) => executeOnce(ask, connectionOf, sentinels, command),
      executeAll: (command) => executeEverywhere(ask, connectionOf, sentinels, command),
      events: Stream.callback<SentinelEvent>((queue) =>
        Effect.acquireRelease(
          Effect.sync(() => {
            const l = (e: SentinelEvent) => {
              if (e.channel !== "reconnect") Queue.offerUnsafe(queue, e)
            }
            watchers.listeners.add(l)
            return l
          }),
          (l) => Effect.sync(() => watchers.listeners.delete(l))
        ))
    }
    return {
      service,
      onEvent: (l) => {
        watchers.listeners.add(l)
      },
      remapEvent: options.addressRemap === undefined ? (e) => e : (e) => remapAnnouncement(e, remapAddress),
      findMaster: (data, reject) => findMaster(data, reject),
      verifyMaster,
      verifyReplica: verifyRole(ask, masterName, "slave"),
      updateState
    }
  })

// -----------------------------------------------------------------------------
// commands to the sentinels
// -----------------------------------------------------------------------------

const askOne = <A>(
  ask: Ask,
  options: RedisConfig.ConnectionOptions,
  command: Command<A>
): Effect.Effect<A, RedisError.RedisError> =>
  Effect.flatMap(ask(options, [command]), ([exit]) => exit as Exit.Exit<A, RedisError.RedisError>)

// Whether a sentinel answered (a refusal is an answer too), as opposed to
// not being reached.
const unreached = (error: RedisError.RedisError): boolean =>
  error.reason._tag === "ConnectionError" || error.reason._tag === "Timeout" || error.reason._tag === "Closed"

// redis-py's `execute_command(..., once=True)`: the sentinels in asking
// order until one answers; its answer (or refusal) is the result.
const executeOnce = <A>(
  ask: Ask,
  connectionOf: (endpoint: RedisConfig.Endpoint) => RedisConfig.ConnectionOptions,
  sentinels: SentinelList,
  command: Command<A>
): Effect.Effect<A, RedisError.RedisError> =>
  Effect.gen(function*() {
    if (command.invalid !== undefined) return yield* Effect.fail(RedisError.invalidArgument(command.invalid, command.name))
    const said: Array<string> = []
    for (const sentinel of sentinels.all()) {
      const exit = yield* Effect.exit(askOne(ask, connectionOf(sentinel), command))
      const error = RedisError.failureOf(exit)
      if (Exit.isSuccess(exit) || (error !== undefined && !unreached(error))) return yield* exit
      said.push(`${keyOf(sentinel)}: ${errorText(exit)}`)
    }
    return yield* Effect.fail(RedisError.make(
      new RedisError.ConnectionError({ message: `no sentinel answered ${command.name}: ${said.join("; ")}` }),
      "NotSent",
      command.name
    ))
  })

// redis-py's `execute_command`: every known sentinel at once, one result each.
const executeEverywhere = <A>(
  ask: Ask,
  connectionOf: (endpoint: RedisConfig.Endpoint) => RedisConfig.ConnectionOptions,
  sentinels: SentinelList,
  command: Command<A>
): Effect.Effect<Map<string, Exit.Exit<A, RedisError.RedisError>>> =>
  Effect.map(
    Effect.forEach(
      sentinels.all(),
      (sentinel) => Effect.map(Effect.exit(askOne(ask, connectionOf(sentinel), command)), (exit) => [keyOf(sentinel), exit] as const),
      { concurrency: "unbounded" }
    ),
    (pairs) => new Map(pairs)
  )

// -----------------------------------------------------------------------------
// cues
// -----------------------------------------------------------------------------

/**
 * Wakes a backend's re-discovery loop. `cue` is synchronous (event handlers
 * and connection hooks call it); the loop waits with `next`, which gives the
 * hint (an announced primary) and the reason of the cues since the last
 * `next`; `urgent` completes on the next urgent cue, to interrupt the round
 * in progress.
 *
 * @category models
 * @since 0.1.0
 */
export interface Cues {
  readonly cue: (urgent: boolean, hint: RedisConfig.Endpoint | undefined, reason: string) => void
  /** Whether a cue came since the last `next`. */
  readonly isPending: () => boolean
  readonly next: Effect.Effect<{ readonly hint: RedisConfig.Endpoint | undefined; readonly reason: string }>
  readonly urgent: Effect.Effect<void>
}

/**
 * @category constructors
 * @since 0.1.0
 */
export const makeCues = (): Cues => {
  let pending = false
  let hint: RedisConfig.Endpoint | undefined
  let reason = ""
  let wake: ((e: Effect.Effect<void>) => void) | undefined
  let urgentWake: ((e: Effect.Effect<void>) => void) | undefined
  return {
    cue: (urgent, h, why) => {
      // The first reason since the last `next` is what triggered the round.
      if (!pending) reason = why
      pending = true
      if (h !== undefined) hint = h
      // Urgent first: a resumed fiber runs at once, so an idle loop woken
      // first would start its round and register `urgent` before this
      // check, and the cue would interrupt the very round it started.
      if (urgent) {
        const u = urgentWake
        if (u !== undefined) {
          urgentWake = undefined
          u(Effect.void)
        }
      }
      const w = wake
      if (w !== undefined) {
        wake = undefined
        w(Effect.void)
      }
    },
    isPending: () => pending,
    next: Effect.map(
      Effect.callback<void>((resume) => {
        if (pending) resume(Effect.void)
        else wake = resume
      }),
      () => {
        pending = false
        const h = hint
        hint = undefined
        return { hint: h, reason }
      }
    ),
    urgent: Effect.callback<void>((resume) => {
      urgentWake = resume
      return Effect.sync(() => {
        if (urgentWake === resume) urgentWake = undefined
      })
    })
  }
}

/**
 * Cues `cues` every `refreshInterval` (default 10 s), for as long as the
 * current scope lives: the state is re-read even without events.
 *
 * @category constructors
 * @since 0.1.0
 */
export const refreshPeriodically = (
  options: SentinelOptions,
  cues: Cues
): Effect.Effect<void, never, Scope.Scope> => {
  const every = Duration.fromInputUnsafe(options.refreshInterval ?? Duration.seconds(10))
  return Effect.asVoid(Effect.forkScoped(
    Effect.forever(Effect.andThen(Effect.sleep(every), Effect.sync(() => cues.cue(false, undefined, "interval"))))
  ))
}
