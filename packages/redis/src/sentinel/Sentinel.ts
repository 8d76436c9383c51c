/**
 * Redis Sentinel: discovery of the primary and the replicas of a named
 * service, and `Redis` layers that follow failovers.
 *
 * Discovery follows the Sentinel client guidelines (redis.io, "Sentinel
 * client spec"): the sentinels are asked in order; the first that names a
 * primary moves to the front of the list; the address is verified with
 * `ROLE` before use; the list is extended with what `SENTINEL SENTINELS`
 * reports; replicas come from `SENTINEL REPLICAS`, minus those flagged
 * `s_down`, `o_down` or `disconnected`. Like redis-py, a primary that its
 * sentinel sees as down, or that fewer than `minOtherSentinels` other
 * sentinels watch, does not count.
 *
 * Following failovers: a subscriber connection to every known sentinel
 * listens to `+switch-master`, `+sdown`, `-sdown`, `+odown`, `-odown`,
 * `+slave`, `+sentinel` and `+slave-reconf-done` *before* the state is read,
 * and any event is a cue to read the whole state again. `+switch-master`,
 * a `READONLY` reply, or a sentinel answer naming another primary is
 * evidence that the primary changed: the master backend then stops using the
 * old primary at once (no command is written to it, and a reply it sends
 * afterwards is not reported as a success), holds new commands for a bounded
 * time until the new primary answers `ROLE master`, and sends them there.
 * Commands that were queued but never written move to the new primary (at
 * most once); commands that were written fail `Unknown`. A pipeline moves
 * as a whole when none of it can have run on the old primary; otherwise what
 * was written fails `Unknown` and the rest `NotSent` (it never hangs: every
 * wait is bounded).
 *
 * The replica layer reads only from replicas that the sentinels list as
 * healthy, that report the role `slave`, and that answer `ROLE` as a replica
 * linked to its primary when first used: a restarted stale primary, listed
 * as a replica while it is still a master with an empty dataset, is skipped.
 *
 * It does not make the server's asynchronous replication safe: writes
 * acknowledged by a primary before any sentinel announced its demotion can
 * still be lost by the server (see FAULTS.md 0.4).
 *
 * @since 0.1.0
 */
import * as Cause from "effect/Cause"
import * as Config from "effect/Config"
import * as Context from "effect/Context"
import * as Deferred from "effect/Deferred"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Layer from "effect/Layer"
import * as Queue from "effect/Queue"
import * as Redacted from "effect/Redacted"
import * as Schedule from "effect/Schedule"
import * as Scope from "effect/Scope"
import * as Stream from "effect/Stream"
import * as SubscriptionRef from "effect/SubscriptionRef"
import type { Command } from "../Command.ts"
import * as Cmd from "../Command.ts"
import * as Commands from "../Commands.ts"
import * as Connection from "../Connection.ts"
import * as Delivery from "../Delivery.ts"
import * as Pool from "../Pool.ts"
import * as PubSub from "../PubSub.ts"
import * as Redis from "../Redis.ts"
import * as RedisConfig from "../RedisConfig.ts"
import * as RedisError from "../RedisError.ts"
import type { RespValue } from "../Resp.ts"
import { RespPush } from "../Resp.ts"
import { Transport } from "../Transport.ts"

// -----------------------------------------------------------------------------
// options and models
// -----------------------------------------------------------------------------

/**
 * How to reach the sentinels of one service.
 *
 * @category models
 * @since 0.1.0
 */
export interface SentinelOptions {
  /** Seed sentinels: `"host:port"` or `{ host, port }`. More are learnt from `SENTINEL SENTINELS`. */
  readonly sentinels: ReadonlyArray<string | { readonly host: string; readonly port: number }>
  /** The service name (`sentinel monitor <name> ...`). */
  readonly masterName: string
  /** Credentials of the sentinels themselves (they may differ from the data nodes'). */
  readonly sentinelUsername?: string | undefined
  readonly sentinelPassword?: Redacted.Redacted<string> | string | undefined
  /** TLS to the sentinels. */
  readonly sentinelTls?: RedisConfig.TlsOptions | undefined
  /** Connect plus answer, per sentinel, during discovery (default 500 ms: "a few hundreds of milliseconds"). */
  readonly sentinelTimeout?: Duration.Input | undefined
  /** A primary counts only when its sentinel sees at least this many other sentinels (default 0). */
  readonly minOtherSentinels?: number | undefined
  /** Retries of a discovery that found nothing (default `defaultDiscoveryRetry`). */
  readonly discoveryRetry?: Schedule.Schedule<unknown, RedisError.RedisError> | undefined
  /** Re-read the state this often even without events (default 10 s). */
  readonly refreshInterval?: Duration.Input | undefined
}

/**
 * Options of the master and replica layers: the sentinels, plus the options
 * of the data-node connections (credentials, TLS, timeouts, ...).
 *
 * @category models
 * @since 0.1.0
 */
export type Options =
  & SentinelOptions
  & Omit<Redis.Options, "url" | "host" | "port" | "path" | "endpoint">
  & {
    /** How long a command waits for a verified primary during a switch (default 10 s). */
    readonly switchTimeout?: Duration.Input | undefined
  }

/**
 * One message a sentinel published.
 *
 * @category models
 * @since 0.1.0
 */
export interface SentinelEvent {
  /** `+switch-master`, `+sdown`, ... */
  readonly channel: string
  readonly payload: string
  /** The sentinel it came from. */
  readonly sentinel: string
  /** When it was received: epoch milliseconds with sub-millisecond precision (`preciseNow`). */
  readonly receivedAt: number
}

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
 * A change of primary as the master layer carried it out.
 *
 * @category models
 * @since 0.1.0
 */
export interface Switch {
  readonly from: string | undefined
  readonly to: string
  /** What made the client stop using `from`: `+switch-master`, `READONLY`, `discovery`, ... */
  readonly evidence: string
  /** When the evidence arrived (`preciseNow`): from then on nothing was sent to `from`. */
  readonly evidenceAt: number
  /** When `to` was verified and commands flowed again (`preciseNow`). */
  readonly switchedAt: number
}

/**
 * What the client knows of the service.
 *
 * @category models
 * @since 0.1.0
 */
export interface State {
  readonly masterName: string
  /** The verified primary in use (undefined before the first discovery and during a switch). */
  readonly master: RedisConfig.Endpoint | undefined
  readonly replicas: ReadonlyArray<RedisConfig.Endpoint>
  /** Sentinels in the order they are asked. */
  readonly sentinels: ReadonlyArray<RedisConfig.Endpoint>
  readonly lastEvent: SentinelEvent | undefined
  readonly switches: ReadonlyArray<Switch>
}

/**
 * The Sentinel service.
 *
 * @category models
 * @since 0.1.0
 */
export interface SentinelShape {
  /** The primary of `name` (default: the configured service), verified with `ROLE`. */
  readonly discoverMaster: (name?: string) => Effect.Effect<RedisConfig.Endpoint, RedisError.RedisError>
  /** The healthy replicas of `name`. */
  readonly discoverReplicas: (name?: string) => Effect.Effect<ReadonlyArray<RedisConfig.Endpoint>, RedisError.RedisError>
  /** The current state. */
  readonly state: Effect.Effect<State>
  /** The state, then every change of it. */
  readonly changes: Stream.Stream<State>
  /** Every event any sentinel publishes on the watched channels, from now on. */
  readonly events: Stream.Stream<SentinelEvent>
}

/**
 * @category services
 * @since 0.1.0
 */
export class Sentinel extends Context.Service<Sentinel, SentinelShape>()("@redis-effect/redis/Sentinel") {}

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
 * The channels watched on every sentinel.
 *
 * @category constants
 * @since 0.1.0
 */
export const EVENT_CHANNELS = [
  "+switch-master",
  "+sdown",
  "-sdown",
  "+odown",
  "-odown",
  "+slave",
  "+sentinel",
  "+slave-reconf-done",
  "+reboot",
  // A stale primary turned into a replica, and a node whose reported role
  // changed: the replica set changed.
  "+convert-to-slave",
  "+role-change",
  // Published when the chosen replica answers as a master, about a second
  // before +switch-master: from then on the old primary's writes are lost.
  "+promoted-slave"
] as const

// -----------------------------------------------------------------------------
// pure helpers
// -----------------------------------------------------------------------------

/**
 * Parses `"host:port"` (IPv6 as `[::1]:26379`).
 *
 * @category parsing
 * @since 0.1.0
 */
export const parseAddress = (input: string | { readonly host: string; readonly port: number }): RedisConfig.Endpoint => {
  if (typeof input !== "string") return RedisConfig.tcp(input.host, input.port)
  const colon = input.lastIndexOf(":")
  if (colon < 0) return RedisConfig.tcp(input, 26379)
  let host = input.slice(0, colon)
  if (host.startsWith("[") && host.endsWith("]")) host = host.slice(1, -1)
  return RedisConfig.tcp(host, Number(input.slice(colon + 1)))
}

/**
 * The payload of `+switch-master`: `<name> <old-ip> <old-port> <new-ip> <new-port>`.
 *
 * @category parsing
 * @since 0.1.0
 */
export const parseSwitchMaster = (
  payload: string
): { readonly name: string; readonly from: RedisConfig.Endpoint; readonly to: RedisConfig.Endpoint } | undefined => {
  const parts = payload.trim().split(/\s+/)
  if (parts.length !== 5) return undefined
  const oldPort = Number(parts[2])
  const newPort = Number(parts[4])
  if (!Number.isInteger(oldPort) || !Number.isInteger(newPort)) return undefined
  return { name: parts[0], from: RedisConfig.tcp(parts[1], oldPort), to: RedisConfig.tcp(parts[3], newPort) }
}

/**
 * The payload of `+promoted-slave`: `slave <ip>:<port> <ip> <port> @ <name> <master-ip> <master-port>`,
 * read as a switch from the master to the promoted replica.
 *
 * @category parsing
 * @since 0.1.0
 */
export const parsePromoted = (
  payload: string
): { readonly name: string; readonly from: RedisConfig.Endpoint; readonly to: RedisConfig.Endpoint } | undefined => {
  const parts = payload.trim().split(/\s+/)
  if (parts.length !== 8 || parts[4] !== "@") return undefined
  const port = Number(parts[3])
  const masterPort = Number(parts[7])
  if (!Number.isInteger(port) || !Number.isInteger(masterPort)) return undefined
  return { name: parts[5], from: RedisConfig.tcp(parts[6], masterPort), to: RedisConfig.tcp(parts[2], port) }
}

/**
 * Whether an event concerns the service `name`. Instance events read
 * `<type> <name> <ip> <port> [@ <master> <ip> <port>]`; `+switch-master`
 * starts with the master name.
 *
 * @category parsing
 * @since 0.1.0
 */
export const concerns = (event: { readonly channel: string; readonly payload: string }, name: string): boolean => {
  const parts = event.payload.trim().split(/\s+/)
  if (event.channel === "+switch-master") return parts[0] === name
  const at = parts.indexOf("@")
  if (at >= 0) return parts[at + 1] === name
  return parts[0] === "master" && parts[1] === name
}

/**
 * A record from a RESP2 flat array or a RESP3 map of strings.
 *
 * @category parsing
 * @since 0.1.0
 */
export const toRecord = (reply: RespValue): Record<string, string> => {
  const flat = Cmd.Reply.flatPairs(reply)
  const out: Record<string, string> = {}
  for (let i = 0; i + 1 < flat.length; i += 2) out[Cmd.Reply.string(flat[i])] = String(Cmd.Reply.string(flat[i + 1]))
  return out
}

/**
 * Whether a replica entry of `SENTINEL REPLICAS` may serve reads.
 *
 * @category parsing
 * @since 0.1.0
 */
export const isHealthyReplica = (entry: Record<string, string>): boolean => {
  const flags = (entry.flags ?? "").split(",")
  if (flags.includes("s_down") || flags.includes("o_down") || flags.includes("disconnected")) return false
  // A restarted stale primary is listed as a replica while it still reports
  // itself master (FAULTS.md C4): it is not a replica of anything yet.
  return entry["role-reported"] === undefined || entry["role-reported"] === "slave"
}

const key = (e: RedisConfig.Endpoint): string => RedisConfig.formatEndpoint(e)

const masterNotFound = (masterName: string, message: string, outcome: RedisError.Outcome = "NotSent") =>
  RedisError.make(new RedisError.MasterNotFound({ masterName, message }), outcome)

const sentinelCommand = (...args: Array<string>): Command<RespValue> =>
  Cmd.unsafeMake("SENTINEL", ["SENTINEL", ...args], [], Cmd.Flags.READONLY, Cmd.Reply.raw)

const errorText = (exit: Exit.Exit<unknown, RedisError.RedisError>): string => {
  if (Exit.isSuccess(exit)) return "ok"
  const f = exit.cause.reasons.find((r) => r._tag === "Fail") as { readonly error?: unknown } | undefined
  const e = f?.error
  if (RedisError.isRedisError(e)) {
    const reason = e.reason as { readonly message?: string }
    return reason.message ?? e.reason._tag
  }
  return "interrupted"
}

// Internal: a failed discovery round, and whether trying again may help.
class DiscoveryFailed {
  readonly error: RedisError.RedisError
  readonly retry: boolean
  constructor(error: RedisError.RedisError, retry: boolean) {
    this.error = error
    this.retry = retry
  }
}

// -----------------------------------------------------------------------------
// the core: sentinel list, discovery, event watchers, state
// -----------------------------------------------------------------------------

interface Core {
  readonly options: SentinelOptions
  readonly service: SentinelShape
  /** Registers a listener of sentinel events (synchronous, on the reader's fiber). */
  readonly onEvent: (listener: (event: SentinelEvent) => void) => void
  /** Asks the sentinels once per round, by the discovery schedule; the address is ROLE-verified with `dataOptions`. */
  readonly findMaster: (
    dataOptions: RedisConfig.ConnectionOptions,
    reject?: (address: RedisConfig.Endpoint) => string | undefined
  ) => Effect.Effect<RedisConfig.Endpoint, RedisError.RedisError>
  /** Asks `ROLE` at `address`; succeeds only if it is a master. */
  readonly verifyMaster: (
    dataOptions: RedisConfig.ConnectionOptions,
    address: RedisConfig.Endpoint
  ) => Effect.Effect<void, RedisError.RedisError>
  /** Asks `ROLE` at `address`; succeeds only if it is a replica linked to its primary (`connected`). */
  readonly verifyReplica: (
    dataOptions: RedisConfig.ConnectionOptions,
    address: RedisConfig.Endpoint
  ) => Effect.Effect<void, RedisError.RedisError>
  readonly updateState: (f: (s: State) => State) => Effect.Effect<void>
}

const makeCore = (
  options: SentinelOptions,
  dataOptions: RedisConfig.ConnectionOptions
): Effect.Effect<Core, RedisError.RedisError, Scope.Scope | Transport> =>
  Effect.gen(function*() {
    const scope = yield* Effect.scope
    const transport = yield* Transport
    const masterName = options.masterName
    if (options.sentinels.length === 0) {
      return yield* Effect.fail(RedisError.invalidArgument("Sentinel needs at least one sentinel address"))
    }
    const sentinelTimeout = Duration.fromInputUnsafe(options.sentinelTimeout ?? Duration.millis(500))
    const minOther = options.minOtherSentinels ?? 0
    const schedule = options.discoveryRetry ?? defaultDiscoveryRetry
    const sentinelPassword = options.sentinelPassword === undefined
      ? undefined
      : typeof options.sentinelPassword === "string"
      ? Redacted.make(options.sentinelPassword)
      : options.sentinelPassword

    const sentinelOptions = (endpoint: RedisConfig.Endpoint): RedisConfig.ConnectionOptions => {
      const o: {
        -readonly [K in keyof RedisConfig.ConnectionOptions]: RedisConfig.ConnectionOptions[K]
      } = { endpoint, setInfo: false, connectTimeout: sentinelTimeout }
      if (options.sentinelTls !== undefined) o.tls = options.sentinelTls
      if (options.sentinelUsername !== undefined) o.username = options.sentinelUsername
      if (sentinelPassword !== undefined) o.password = sentinelPassword
      return o
    }

    // Sentinels in the order they are asked; the first that answers moves to the front.
    let sentinels: Array<RedisConfig.Endpoint> = []
    for (const s of options.sentinels) {
      const e = parseAddress(s)
      if (!sentinels.some((x) => key(x) === key(e))) sentinels.push(e)
    }
    const stateRef = yield* SubscriptionRef.make<State>({
      masterName,
      master: undefined,
      replicas: [],
      sentinels,
      lastEvent: undefined,
      switches: []
    })
    const updateState = (f: (s: State) => State) => SubscriptionRef.update(stateRef, f)

    // A short-lived connection: connect, send, close; bounded in time.
    const oneShot = (
      connectionOptions: RedisConfig.ConnectionOptions,
      commands: ReadonlyArray<Command<unknown>>
    ): Effect.Effect<Array<Exit.Exit<unknown, RedisError.RedisError>>, RedisError.RedisError> =>
      Effect.scoped(Effect.gen(function*() {
        const c = yield* Connection.make({
          ...connectionOptions,
          connectTimeout: sentinelTimeout,
          reconnect: Schedule.recurs(0),
          offline: { _tag: "fail" },
          maxResends: 0
        })
        yield* c.awaitReady
        return yield* c.sendAll(commands)
      })).pipe(
        Effect.provideService(Transport, transport),
        Effect.timeoutOrElse({
          duration: sentinelTimeout,
          orElse: () =>
            Effect.fail(RedisError.make(
              new RedisError.Timeout({
                message: `no answer from ${key(connectionOptions.endpoint)} within ${Duration.toMillis(sentinelTimeout)} ms`,
                millis: Duration.toMillis(sentinelTimeout)
              }),
              "Unknown"
            ))
        })
      )

    const verifyRole = (wanted: "master" | "slave") => (data: RedisConfig.ConnectionOptions, address: RedisConfig.Endpoint) =>
      Effect.flatMap(oneShot({ ...data, endpoint: address }, [Commands.role()]), ([exit]) => {
        if (Exit.isFailure(exit)) return exit as Exit.Exit<never, RedisError.RedisError>
        const reply = exit.value as Commands.ServerRole
        if (reply.role !== wanted) {
          return Effect.fail(masterNotFound(masterName, `${key(address)} answers ROLE ${reply.role}, not ${wanted}`))
        }
        // A replica that is not linked to its primary (a restarted node still
        // syncing) may serve an empty or old dataset.
        if (reply.role === "slave" && reply.state !== "connected") {
          return Effect.fail(masterNotFound(masterName, `${key(address)} is a replica in state ${reply.state}`))
        }
        return Effect.void
      })
    const verifyMaster = verifyRole("master")
    const verifyReplica = verifyRole("slave")

    // Watchers: one subscriber connection per known sentinel.
    const listeners = new Set<(event: SentinelEvent) => void>()
    const watched = new Set<string>()
    const watch = (endpoint: RedisConfig.Endpoint): Effect.Effect<void> =>
      Effect.suspend(() => {
        const address = key(endpoint)
        if (watched.has(address)) return Effect.void
        watched.add(address)
        const onPush = (value: RespValue) => {
          const items = value instanceof RespPush ? value.items : Array.isArray(value) ? value : undefined
          if (items === undefined || items.length < 3) return
          if (Cmd.Reply.string(items[0]) !== "message") return
          const event: SentinelEvent = {
            channel: Cmd.Reply.string(items[1]),
            payload: Cmd.Reply.string(items[2]),
            sentinel: address,
            receivedAt: preciseNow()
          }
          for (const l of listeners) l(event)
        }
        const subscribe = (c: Connection.Connection) => c.sendNoReply(["SUBSCRIBE", ...EVENT_CHANNELS])
        return Connection.make(
          {
            ...sentinelOptions(endpoint),
            // A watcher never gives up: a sentinel that comes back is watched again.
            reconnect: Schedule.spaced("1 second").pipe(Schedule.setInputType<RedisError.RedisError>()),
            connectTimeout: Duration.seconds(2)
          },
          {
            onPush,
            onConnect: (c) =>
              Effect.andThen(subscribe(c), () =>
                // Events may have been missed while disconnected: a reconnect is a cue too.
                Effect.sync(() => {
                  const cue: SentinelEvent = { channel: "reconnect", payload: "", sentinel: address, receivedAt: preciseNow() }
                  for (const l of listeners) l(cue)
                }))
          }
        ).pipe(Scope.provide(scope), Effect.provideService(Transport, transport), Effect.asVoid)
      })

    const learnSentinels = (reply: RespValue): Effect.Effect<void> =>
      Effect.suspend(() => {
        const fresh: Array<RedisConfig.Endpoint> = []
        try {
          for (const item of Cmd.Reply.items(reply)) {
            const r = toRecord(item)
            const port = Number(r.port)
            if (r.ip === undefined || !Number.isInteger(port)) continue
            const e = RedisConfig.tcp(r.ip, port)
            if (!sentinels.some((x) => key(x) === key(e))) {
              sentinels.push(e)
              fresh.push(e)
            }
          }
        } catch {
          return Effect.void
        }
        if (fresh.length === 0) return Effect.void
        return Effect.andThen(
          Effect.forEach(fresh, watch, { discard: true }),
          updateState((s) => ({ ...s, sentinels: [...sentinels] }))
        )
      })

    const toFront = (e: RedisConfig.Endpoint) => {
      sentinels = [e, ...sentinels.filter((x) => x !== e)]
    }

    // One round: every sentinel in order until one names a usable primary.
    const masterRound = (
      name: string,
      data: RedisConfig.ConnectionOptions,
      reject?: (address: RedisConfig.Endpoint) => string | undefined
    ): Effect.Effect<RedisConfig.Endpoint, DiscoveryFailed> =>
      Effect.gen(function*() {
        const said: Array<string> = []
        let unknownName = 0
        for (const sentinel of [...sentinels]) {
          const where = key(sentinel)
          const exits = yield* Effect.exit(oneShot(sentinelOptions(sentinel), [
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
          if (Exit.isSuccess(sentinelsExit)) yield* learnSentinels(sentinelsExit.value as RespValue)
          const pair = Cmd.Reply.items(addrExit.value as RespValue)
          const address = RedisConfig.tcp(Cmd.Reply.string(pair[0]), Number(Cmd.Reply.string(pair[1])))
          if (Exit.isSuccess(masterExit)) {
            const m = toRecord(masterExit.value as RespValue)
            const flags = (m.flags ?? "").split(",")
            if (flags.includes("s_down") || flags.includes("o_down")) {
              said.push(`${where}: reports ${key(address)} down (${m.flags})`)
              continue
            }
            if (Number(m["num-other-sentinels"] ?? 0) < minOther) {
              said.push(`${where}: sees ${m["num-other-sentinels"]} other sentinels, fewer than ${minOther}`)
              continue
            }
          }
          const rejected = reject?.(address)
          if (rejected !== undefined) {
            said.push(`${where}: names ${key(address)}, ${rejected}`)
            continue
          }
          const verified = yield* Effect.exit(verifyMaster(data, address))
          if (Exit.isFailure(verified)) {
            said.push(`${where}: names ${key(address)}, but ${errorText(verified)}`)
            continue
          }
          toFront(sentinel)
          yield* updateState((s) => ({ ...s, sentinels: [...sentinels] }))
          return address
        }
        const all = unknownName === sentinels.length
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

    // Errors that no retry can fix (every sentinel said it does not know the name).
    const final = new WeakSet<RedisError.RedisError>()
    const unwrapFailure = <A>(round: Effect.Effect<A, DiscoveryFailed>): Effect.Effect<A, RedisError.RedisError> =>
      Effect.mapError(round, (e) => {
        if (!e.retry) final.add(e.error)
        return e.error
      })

    const findMaster = (
      data: RedisConfig.ConnectionOptions,
      reject?: (address: RedisConfig.Endpoint) => string | undefined,
      name = masterName
    ) =>
      Effect.retry(unwrapFailure(masterRound(name, data, reject)), { schedule, while: (e) => !final.has(e) })

    const replicaRound = (name: string): Effect.Effect<ReadonlyArray<RedisConfig.Endpoint>, DiscoveryFailed> =>
      Effect.gen(function*() {
        const said: Array<string> = []
        let unknownName = 0
        for (const sentinel of [...sentinels]) {
          const where = key(sentinel)
          const exits = yield* Effect.exit(oneShot(sentinelOptions(sentinel), [sentinelCommand("REPLICAS", name)]))
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
            if (isHealthyReplica(r) && r.ip !== undefined) out.push(RedisConfig.tcp(r.ip, Number(r.port)))
          }
          toFront(sentinel)
          return out
        }
        const all = unknownName === sentinels.length
        return yield* Effect.fail(
          new DiscoveryFailed(masterNotFound(name, `no sentinel listed replicas of '${name}': ${said.join("; ")}`), !all)
        )
      })

    const findReplicas = (name = masterName) =>
      Effect.retry(unwrapFailure(replicaRound(name)), { schedule, while: (e) => !final.has(e) })

    // Subscribe first, then read the state (events between are not missed).
    yield* Effect.forEach([...sentinels], watch, { discard: true })
    listeners.add((event) => {
      if (event.channel === "reconnect") return
      Effect.runFork(updateState((s) => ({ ...s, lastEvent: event })))
    })

    const service: SentinelShape = {
      discoverMaster: (name) => findMaster(dataOptions, undefined, name ?? masterName),
      discoverReplicas: (name) =>
        Effect.tap(findReplicas(name ?? masterName), (replicas) =>
          name === undefined || name === masterName ? updateState((s) => ({ ...s, replicas })) : Effect.void),
      state: SubscriptionRef.get(stateRef),
      changes: SubscriptionRef.changes(stateRef),
      events: Stream.callback<SentinelEvent>((queue) =>
        Effect.acquireRelease(
          Effect.sync(() => {
            const l = (e: SentinelEvent) => {
              if (e.channel !== "reconnect") Queue.offerUnsafe(queue, e)
            }
            listeners.add(l)
            return l
          }),
          (l) => Effect.sync(() => listeners.delete(l))
        ))
    }
    return {
      options,
      service,
      onEvent: (l) => listeners.add(l),
      findMaster: (data, reject) => findMaster(data, reject),
      verifyMaster,
      verifyReplica,
      updateState
    } satisfies Core
  })

// -----------------------------------------------------------------------------
// nodes: the connections of one data node
// -----------------------------------------------------------------------------

interface Node {
  readonly address: RedisConfig.Endpoint
  readonly shared: Connection.Connection
  readonly withDedicated: <A, E, R>(
    f: (connection: Connection.Connection) => Effect.Effect<A, E, R>
  ) => Effect.Effect<A, E | RedisError.RedisError, R>
  readonly pubsub: PubSub.PubSub
  readonly scope: Scope.Closeable
  /** Set once: after this the node is never used again, and its scope is closing. */
  retired: boolean
  readonly retiredSignal: Deferred.Deferred<void>
}

const openNode = (
  parent: Scope.Scope,
  options: RedisConfig.ConnectionOptions,
  poolOptions: { readonly maxDedicated?: number | undefined; readonly dedicatedIdleTime?: Duration.Input | undefined },
  onDisconnect: () => void
): Effect.Effect<Node, never, Transport> =>
  Effect.gen(function*() {
    const scope = yield* Scope.fork(parent, "sequential")
    const { shared, withDedicated } = yield* Pool.make(options, poolOptions, { onDisconnect }).pipe(Scope.provide(scope))
    const pubsub = yield* PubSub.make(options).pipe(Scope.provide(scope))
    return {
      address: options.endpoint,
      shared,
      withDedicated,
      pubsub,
      scope,
      retired: false,
      retiredSignal: Deferred.makeUnsafe<void>()
    }
  })

const closeNode = (n: Node): void => {
  if (n.retired) return
  n.retired = true
  Deferred.doneUnsafe(n.retiredSignal, Effect.void)
  Effect.runFork(Scope.close(n.scope, Exit.void))
}

/**
 * Whether a failed command may be sent again to the (new) primary without
 * risking a second execution: never written (`NotSent`), refused as
 * `READONLY` (not executed), or a read or idempotent command; otherwise the
 * standalone rules (`Redis.isSafeToRetry`).
 *
 * @category retry
 * @since 0.1.0
 */
export const isSafeToResend = (command: Command<unknown>, error: RedisError.RedisError): boolean =>
  Delivery.isRetry(command, error, "nodes")

// Connection options of the data nodes, without the sentinel-only fields.
const dataOptionsOf = (options: Options): Effect.Effect<RedisConfig.ConnectionOptions, RedisError.RedisError> => {
  const {
    sentinels: _s,
    masterName: _m,
    sentinelUsername: _su,
    sentinelPassword: _sp,
    sentinelTls: _st,
    sentinelTimeout: _sto,
    minOtherSentinels: _mo,
    discoveryRetry: _dr,
    refreshInterval: _ri,
    switchTimeout: _sw,
    retry: _r,
    maxDedicated: _md,
    dedicatedIdleTime: _di,
    ...rest
  } = options
  return RedisConfig.resolve({ ...rest, endpoint: RedisConfig.tcp("127.0.0.1", 6379) })
}

// A PubSub that follows the current node: when the node retires, every live
// subscription is made again on the next one (the generation grows).
const followingPubSub = (
  awaitNode: Effect.Effect<Node, RedisError.RedisError>,
  generation: () => number
): PubSub.PubSub => {
  const follow = (kind: PubSub.Kind, names: ReadonlyArray<string>, gaps: boolean) =>
    Stream.callback<PubSub.Event, RedisError.RedisError>((queue) =>
      Effect.forkScoped(
        Effect.gen(function*() {
          let moved = false
          while (true) {
            const n = yield* awaitNode
            // Messages published while the subscription moved are gone.
            if (moved && gaps) Queue.offerUnsafe(queue, { kind: "gap", reason: "moved", subscription: kind, names })
            const inner: Stream.Stream<PubSub.Event, RedisError.RedisError> =
              gaps && n.pubsub.subscribeEvents !== undefined
                ? n.pubsub.subscribeEvents(kind, names)
                : n.pubsub.subscribe(kind, names)
            const exit = yield* Effect.exit(Effect.raceFirst(
              Stream.runForEach(inner, (m) => Effect.sync(() => Queue.offerUnsafe(queue, m))),
              Deferred.await(n.retiredSignal)
            ))
            if (n.retired) {
              moved = true
              continue
            }
            if (Exit.isFailure(exit)) return yield* (exit as Exit.Exit<never, RedisError.RedisError>)
            Queue.endUnsafe(queue)
            return
          }
        }).pipe(Effect.catch((e) => Effect.sync(() => Queue.failCauseUnsafe(queue, Cause.fail(e)))))
      )
    )
  return {
    subscribe: (kind, names) => follow(kind, names, false) as Stream.Stream<PubSub.Message, RedisError.RedisError>,
    subscribeEvents: (kind, names) => follow(kind, names, true),
    generation
  }
}

// Wakes a loop fiber: `cue` is synchronous (event handlers call it), the loop
// waits with `next`; `urgent` also interrupts the round in progress.
const makeCues = () => {
  let pending = false
  let hint: RedisConfig.Endpoint | undefined
  let wake: ((e: Effect.Effect<void>) => void) | undefined
  let urgentWake: ((e: Effect.Effect<void>) => void) | undefined
  return {
    cue: (urgent: boolean, h?: RedisConfig.Endpoint) => {
      pending = true
      if (h !== undefined) hint = h
      const w = wake
      if (w !== undefined) {
        wake = undefined
        w(Effect.void)
      }
      if (urgent) {
        const u = urgentWake
        if (u !== undefined) {
          urgentWake = undefined
          u(Effect.void)
        }
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
        return h
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

// -----------------------------------------------------------------------------
// master
// -----------------------------------------------------------------------------

// An address demoted by evidence is not accepted from a (lagging) sentinel for this long.
const DEMOTED_MILLIS = 15_000

// What the master and the replica layers both start from: the caller's
// scope and transport, the data-node options, and the sentinel core.
const setup = (options: Options) =>
  Effect.gen(function*() {
    const scope = yield* Effect.scope
    const transport = yield* Transport
    const data = yield* dataOptionsOf(options)
    const core = yield* makeCore(options, data)
    return { scope, transport, data, core, masterName: options.masterName }
  })

/**
 * The `Redis` service for the primary of a Sentinel-managed service, and the
 * `Sentinel` service it uses.
 *
 * @category constructors
 * @since 0.1.0
 */
export const makeMaster = (
  options: Options
): Effect.Effect<{ readonly redis: Redis.RedisShape; readonly sentinel: SentinelShape }, RedisError.RedisError, Scope.Scope | Transport> =>
  Effect.gen(function*() {
    const { scope, transport, data, core, masterName } = yield* setup(options)
    const switchTimeout = Duration.fromInputUnsafe(options.switchTimeout ?? Duration.seconds(10))
    const retry = options.retry ?? Delivery.defaultRetry
    const cues = makeCues()

    let node: Node | undefined
    let switching: Deferred.Deferred<Node, RedisError.RedisError> | undefined
    let lastError: RedisError.RedisError | undefined
    let evidence: { readonly what: string; readonly at: number } | undefined
    let closed = false
    let pubsubBase = 0
    const demoted = new Map<string, number>()

    // Stop using `n` now: nothing more is written to it, replies it still
    // sends are not successes, queued commands fail NotSent (and move).
    const retire = (n: Node, what: string, urgent: boolean) => {
      if (n.retired) return
      evidence ??= { what, at: preciseNow() }
      demoted.set(key(n.address), Date.now() + DEMOTED_MILLIS)
      pubsubBase += n.pubsub.generation() + 1
      if (node === n && switching === undefined) switching = Deferred.makeUnsafe()
      closeNode(n)
      if (urgent) cues.cue(true)
    }

    core.onEvent((event) => {
      if (event.channel === "+promoted-slave" || event.channel === "+switch-master") {
        const sw = event.channel === "+switch-master" ? parseSwitchMaster(event.payload) : parsePromoted(event.payload)
        if (sw !== undefined && sw.name === masterName) {
          demoted.delete(key(sw.to))
          const n = node
          if (n !== undefined && !n.retired && key(n.address) !== key(sw.to)) {
            retire(n, `${event.channel} from ${event.sentinel}`, false)
            cues.cue(true, sw.to)
          } else {
            cues.cue(false)
          }
          return
        }
      }
      if (event.channel === "reconnect" || concerns(event, masterName)) cues.cue(false)
    })

    const rejectDemoted = (address: RedisConfig.Endpoint): string | undefined => {
      const until = demoted.get(key(address))
      return until !== undefined && until > Date.now() ? "which was demoted moments ago" : undefined
    }

    const install = (address: RedisConfig.Endpoint) =>
      Effect.uninterruptible(Effect.gen(function*() {
        const current = node
        if (current !== undefined && !current.retired && key(current.address) === key(address)) return
        if (current !== undefined && !current.retired) retire(current, `a sentinel names ${key(address)}`, false)
        const fresh = yield* openNode(scope, { ...data, endpoint: address }, options, () => cues.cue(false)).pipe(
          Effect.provideService(Transport, transport)
        )
        node = fresh
        const ev = evidence
        evidence = undefined
        const waiting = switching
        switching = undefined
        if (waiting !== undefined) Deferred.doneUnsafe(waiting, Effect.succeed(fresh))
        const now = preciseNow()
        yield* core.updateState((s) => ({
          ...s,
          master: address,
          switches: current === undefined ? s.switches : [...s.switches, {
            from: key(current.address),
            to: key(address),
            evidence: ev?.what ?? "discovery",
            evidenceAt: ev?.at ?? now,
            switchedAt: now
          }]
        }))
      }))

    const reconcile = (hint: RedisConfig.Endpoint | undefined) =>
      Effect.gen(function*() {
        let address: RedisConfig.Endpoint | undefined
        if (hint !== undefined) {
          const verified = yield* Effect.exit(core.verifyMaster(data, hint))
          if (Exit.isSuccess(verified)) address = hint
        }
        if (address === undefined) address = yield* core.findMaster(data, rejectDemoted)
        yield* install(address)
      })

    // The first discovery happens now: the layer fails with MasterNotFound.
    yield* reconcile(undefined)

    yield* Effect.forkScoped(Effect.forever(Effect.gen(function*() {
      const hint = yield* cues.next
      const exit = yield* Effect.exit(Effect.raceFirst(reconcile(hint), cues.urgent))
      if (Exit.isFailure(exit)) {
        const found = exit.cause.reasons.find((r) => r._tag === "Fail") as { readonly error?: unknown } | undefined
        if (RedisError.isRedisError(found?.error)) lastError = found.error
        const waiting = switching
        if (waiting !== undefined && !cues.isPending() && lastError !== undefined) {
          switching = undefined
          Deferred.doneUnsafe(waiting, Effect.fail(lastError))
        }
      }
    })))
    const refreshEvery = Duration.fromInputUnsafe(options.refreshInterval ?? Duration.seconds(10))
    yield* Effect.forkScoped(Effect.forever(Effect.andThen(Effect.sleep(refreshEvery), Effect.sync(() => cues.cue(false)))))
    yield* Effect.addFinalizer(() =>
      Effect.sync(() => {
        closed = true
        const waiting = switching
        switching = undefined
        if (waiting !== undefined) {
          Deferred.doneUnsafe(
            waiting,
            Effect.fail(RedisError.make(new RedisError.Closed({ message: "the Sentinel client is closed" }), "NotSent"))
          )
        }
      })
    )

    const closedError = RedisError.make(new RedisError.Closed({ message: "the Sentinel client is closed" }), "NotSent")
    const awaitNode: Effect.Effect<Node, RedisError.RedisError> = Effect.suspend(() => {
      if (closed) return Effect.fail(closedError)
      const n = node
      if (n !== undefined && !n.retired) return Effect.succeed(n)
      if (switching === undefined) {
        switching = Deferred.makeUnsafe()
        cues.cue(false)
      }
      return Deferred.await(switching).pipe(
        Effect.timeoutOrElse({
          duration: switchTimeout,
          orElse: () =>
            Effect.fail(masterNotFound(
              masterName,
              `no verified primary for '${masterName}' within ${Duration.toMillis(switchTimeout)} ms${
                lastError === undefined ? "" : `: ${(lastError.reason as { readonly message?: string }).message ?? ""}`
              }`
            ))
        })
      )
    })

    const demotedReply = (n: Node, command: Command<unknown>) =>
      RedisError.make(
        new RedisError.ConnectionError({
          message: `${key(n.address)} answered after it was demoted; the command may have run there`,
          address: key(n.address)
        }),
        "Unknown",
        command.name
      )

    // One attempt on node `n`. A success that arrives once `n` is retired is
    // not reported as one: the demoted primary will drop it.
    const sendOn = <A>(n: Node, command: Command<A>): Effect.Effect<A, RedisError.RedisError> =>
      Effect.matchEffect(n.shared.send(command), {
        onSuccess: (a) => (n.retired ? Effect.fail(demotedReply(n, command)) : Effect.succeed(a)),
        onFailure: (e) => {
          if (e.reason._tag === "ReadOnly") retire(n, `READONLY from ${key(n.address)}`, true)
          return Effect.fail(e)
        }
      })

    const attempt = <A>(command: Command<A>): Effect.Effect<A, RedisError.RedisError> => {
      const n = node
      return n !== undefined && !n.retired ? sendOn(n, command) : Effect.flatMap(awaitNode, (m) => sendOn(m, command))
    }

    const execute = <A>(command: Command<A>): Effect.Effect<A, RedisError.RedisError> =>
      Effect.catch(attempt(command), (error) =>
        isSafeToResend(command, error)
          ? Effect.retry(attempt(command), { schedule: retry, while: (e) => isSafeToResend(command, e) })
          : Effect.fail(error))

    // A pipeline goes to one primary. When none of it can have run there
    // (every command unwritten, refused READONLY, or a read) and some of it
    // failed — the primary was retired under it, or it was down — the whole
    // pipeline is sent again, in order, by the `retry` schedule (to the next
    // primary after a switch). Otherwise what was written fails `Unknown`
    // and the rest `NotSent`. Every wait is bounded (`switchTimeout`, the
    // schedule), so a pipeline never hangs on a switch.
    const failedWith = (exit: Exit.Exit<unknown, RedisError.RedisError>): RedisError.RedisError | undefined => {
      if (Exit.isSuccess(exit)) return undefined
      const f = exit.cause.reasons.find((r) => r._tag === "Fail") as { readonly error?: unknown } | undefined
      return RedisError.isRedisError(f?.error) ? f.error : undefined
    }
    const pipelineOn = (n: Node, commands: ReadonlyArray<Command<unknown>>) =>
      Effect.map(n.shared.sendAll(commands), (exits) => {
        for (const exit of exits) {
          if (failedWith(exit)?.reason._tag === "ReadOnly") retire(n, `READONLY from ${key(n.address)}`, true)
        }
        const final = n.retired
          ? exits.map((e, i) => (Exit.isSuccess(e) ? Exit.fail(demotedReply(n, commands[i])) : e))
          : exits
        let firstError: RedisError.RedisError | undefined
        let resendable = true
        for (let i = 0; i < final.length && resendable; i++) {
          const e = failedWith(final[i])
          if (Exit.isSuccess(final[i])) resendable = Cmd.isResendable(commands[i])
          else if (e === undefined) resendable = false
          else {
            firstError ??= e
            resendable = isSafeToResend(commands[i], e) ||
              (n.retired && Exit.isSuccess(exits[i]) && Cmd.isResendable(commands[i]))
          }
        }
        return { exits: final, resend: resendable ? firstError : undefined }
      })
    const executeAll = (
      commands: ReadonlyArray<Command<unknown>>
    ): Effect.Effect<Array<Exit.Exit<unknown, RedisError.RedisError>>> => {
      let last: Array<Exit.Exit<unknown, RedisError.RedisError>> = []
      const once: Effect.Effect<Array<Exit.Exit<unknown, RedisError.RedisError>>, RedisError.RedisError> =
        Effect.matchEffect(awaitNode, {
          onFailure: (e) => Effect.succeed(commands.map(() => Exit.fail(e) as Exit.Exit<unknown, RedisError.RedisError>)),
          onSuccess: (n) =>
            Effect.flatMap(pipelineOn(n, commands), ({ exits, resend }) => {
              last = exits
              return resend === undefined ? Effect.succeed(exits) : Effect.fail(resend)
            })
        })
      return Effect.retry(once, { schedule: retry }).pipe(Effect.catch(() => Effect.succeed(last)))
    }

    const redis = Redis.fromBackend({
      execute,
      executeAll,
      withDedicated: (_keys, f) =>
        Effect.flatMap(awaitNode, (n) =>
          Effect.tapError(n.withDedicated(f), (e) =>
            Effect.sync(() => {
              if (RedisError.isRedisError(e) && e.reason._tag === "ReadOnly") {
                retire(n, `READONLY from ${key(n.address)}`, true)
              }
            }))),
      pubsub: followingPubSub(awaitNode, () => pubsubBase + (node !== undefined && !node.retired ? node.pubsub.generation() : 0)),
      monitorConnection: (onPush) =>
        Effect.gen(function*() {
          const n = yield* awaitNode
          return yield* Connection.makeFeed({ ...data, endpoint: n.address }, onPush).pipe(
            Effect.provideService(Transport, transport)
          )
        })
    })
    return { redis, sentinel: core.service }
  })

// -----------------------------------------------------------------------------
// replica
// -----------------------------------------------------------------------------

/**
 * The `Redis` service over the replicas of a Sentinel-managed service: each
 * command goes to the next healthy replica (round robin); with no replica
 * up, to the primary. Meant for reads: a write fails `READONLY`.
 *
 * @category constructors
 * @since 0.1.0
 */
export const makeReplica = (
  options: Options
): Effect.Effect<{ readonly redis: Redis.RedisShape; readonly sentinel: SentinelShape }, RedisError.RedisError, Scope.Scope | Transport> =>
  Effect.gen(function*() {
    const { scope, transport, data, core, masterName } = yield* setup(options)
    const retry = options.retry ?? Delivery.defaultRetry
    const cues = makeCues()
    let nodes: Array<Node> = []
    let next = 0
    let pubsubBase = 0

    // A replica new to the layer is asked ROLE first: a node the sentinels
    // list as a replica may still be a restarted stale primary (FAULTS.md C4).
    const refresh = Effect.gen(function*() {
      const listed = yield* core.service.discoverReplicas()
      const replicas: Array<RedisConfig.Endpoint> = []
      for (const r of listed) {
        if (nodes.some((n) => !n.retired && key(n.address) === key(r))) replicas.push(r)
        else if (Exit.isSuccess(yield* Effect.exit(core.verifyReplica(data, r)))) replicas.push(r)
      }
      const targets = replicas.length > 0 ? replicas : [yield* core.findMaster(data)]
      const wanted = new Set(targets.map(key))
      const keep: Array<Node> = []
      for (const n of nodes) {
        if (wanted.has(key(n.address))) keep.push(n)
        else {
          if (n === nodes[0]) pubsubBase += n.pubsub.generation() + 1
          closeNode(n)
        }
      }
      for (const t of targets) {
        if (keep.some((n) => key(n.address) === key(t))) continue
        keep.push(yield* openNode(scope, { ...data, endpoint: t }, options, () => cues.cue(false)).pipe(
          Effect.provideService(Transport, transport)
        ))
      }
      nodes = keep
    })
    yield* refresh
    core.onEvent((event) => {
      if (event.channel === "reconnect" || concerns(event, masterName)) cues.cue(false)
    })
    yield* Effect.forkScoped(Effect.forever(Effect.andThen(cues.next, Effect.ignore(refresh))))
    const refreshEvery = Duration.fromInputUnsafe(options.refreshInterval ?? Duration.seconds(10))
    yield* Effect.forkScoped(Effect.forever(Effect.andThen(Effect.sleep(refreshEvery), Effect.sync(() => cues.cue(false)))))

    // Round robin over ready nodes; any node when none is ready.
    const pick: Effect.Effect<Node, RedisError.RedisError> = Effect.suspend(() => {
      const n = nodes.length
      if (n === 0) return Effect.fail(masterNotFound(masterName, `no replica or primary known for '${masterName}'`))
      for (let i = 0; i < n; i++) {
        const candidate = nodes[(next + i) % n]
        if (!candidate.retired && candidate.shared.status() === "ready") {
          next = (next + i + 1) % n
          return Effect.succeed(candidate)
        }
      }
      next = (next + 1) % n
      return Effect.succeed(nodes[next % n])
    })
    const attempt = <A>(command: Command<A>) => Effect.flatMap(pick, (n) => n.shared.send(command))
    const execute = <A>(command: Command<A>): Effect.Effect<A, RedisError.RedisError> =>
      Effect.catch(attempt(command), (error) =>
        isSafeToResend(command, error) && error.reason._tag !== "ReadOnly"
          ? Effect.retry(attempt(command), { schedule: retry, while: (e) => isSafeToResend(command, e) })
          : Effect.fail(error))
    const firstNode: Effect.Effect<Node, RedisError.RedisError> = Effect.suspend(() =>
      nodes.length > 0 && !nodes[0].retired ? Effect.succeed(nodes[0]) : pick
    )

    const redis = Redis.fromBackend({
      execute,
      executeAll: (commands) =>
        Effect.matchEffect(pick, {
          onFailure: (e) => Effect.succeed(commands.map(() => Exit.fail(e) as Exit.Exit<unknown, RedisError.RedisError>)),
          onSuccess: (n) => n.shared.sendAll(commands)
        }),
      withDedicated: (_keys, f) => Effect.flatMap(pick, (n) => n.withDedicated(f)),
      pubsub: followingPubSub(firstNode, () => pubsubBase + (nodes[0]?.pubsub.generation() ?? 0)),
      monitorConnection: (onPush) =>
        Effect.gen(function*() {
          const n = yield* pick
          return yield* Connection.makeFeed({ ...data, endpoint: n.address }, onPush).pipe(
            Effect.provideService(Transport, transport)
          )
        })
    })
    return { redis, sentinel: core.service }
  })

// -----------------------------------------------------------------------------
// layers
// -----------------------------------------------------------------------------

/**
 * The `Sentinel` service alone (discovery, state, events). Data-node
 * options (password, TLS) are used to verify primaries with `ROLE`.
 *
 * @category constructors
 * @since 0.1.0
 */
export const make = (options: Options): Effect.Effect<SentinelShape, RedisError.RedisError, Scope.Scope | Transport> =>
  Effect.flatMap(dataOptionsOf(options), (data) => Effect.map(makeCore(options, data), (core) => core.service))

/**
 * @category layers
 * @since 0.1.0
 */
export const layer = (options: Options): Layer.Layer<Sentinel, RedisError.RedisError, Transport> =>
  Layer.effect(Sentinel)(Effect.map(make(options), Sentinel.of))

/**
 * `Redis` for the primary of `masterName` (redis-py's `master_for`), plus the
 * `Sentinel` service it follows.
 *
 * @category layers
 * @since 0.1.0
 */
export const layerMaster = (options: Options): Layer.Layer<Redis.Redis | Sentinel, RedisError.RedisError, Transport> =>
  Layer.effectContext(Effect.map(makeMaster(options), ({ redis, sentinel }) =>
    Context.make(Redis.Redis, Redis.Redis.of(redis)).pipe(Context.add(Sentinel, Sentinel.of(sentinel)))))

/**
 * `Redis` over the replicas of `masterName` (redis-py's `slave_for`): round
 * robin, falling back to the primary when no replica is up.
 *
 * @category layers
 * @since 0.1.0
 */
export const layerReplica = (options: Options): Layer.Layer<Redis.Redis | Sentinel, RedisError.RedisError, Transport> =>
  Layer.effectContext(Effect.map(makeReplica(options), ({ redis, sentinel }) =>
    Context.make(Redis.Redis, Redis.Redis.of(redis)).pipe(Context.add(Sentinel, Sentinel.of(sentinel)))))

/**
 * `layerMaster` with its options read from `Config`: each field may be a
 * `Config` (e.g. `password: Config.Redacted("REDIS_PASSWORD")`,
 * `sentinelPassword: Config.Redacted("SENTINEL_PASSWORD")`), or the whole
 * record one `Config`.
 *
 * @category layers
 * @since 0.1.0
 */
export const layerMasterConfig = (
  options: Config.Wrap<Options>
): Layer.Layer<Redis.Redis | Sentinel, RedisError.RedisError | Config.ConfigError, Transport> =>
  Layer.unwrap(Effect.map(Config.unwrap(options), layerMaster))

/**
 * `layerReplica` with its options read from `Config`.
 *
 * @category layers
 * @since 0.1.0
 */
export const layerReplicaConfig = (
  options: Config.Wrap<Options>
): Layer.Layer<Redis.Redis | Sentinel, RedisError.RedisError | Config.ConfigError, Transport> =>
  Layer.unwrap(Effect.map(Config.unwrap(options), layerReplica))

/**
 * `layer` (the `Sentinel` service alone) with its options read from `Config`.
 *
 * @category layers
 * @since 0.1.0
 */
export const layerConfig = (
  options: Config.Wrap<Options>
): Layer.Layer<Sentinel, RedisError.RedisError | Config.ConfigError, Transport> =>
  Layer.unwrap(Effect.map(Config.unwrap(options), layer))
