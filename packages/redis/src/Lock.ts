/**
 * A distributed lock on one key: `SET name token NX PX ttl` to take it, and
 * Lua scripts that release or extend it only while `token` still owns it
 * (so a holder whose lock expired cannot drop someone else's). It covers
 * what redis-py's `Lock` does: blocking or not, a bound on the wait and a
 * polling interval, `locked`, `owned`, `extend` (adding to or replacing the
 * time to live), `reacquire`, a lock without a time to live only when asked
 * (`ttl: "Infinity"`), and a typed `LockNotOwned` when a holder whose lock
 * expired releases or extends it (`releaseOrFail`, `extendOrFail`,
 * `reacquire`; `release` and `extend` answer `false` instead).
 *
 * It is built over a `Runner` (any `execute` and `runScript`), so the same
 * recipe works on every topology: the `Redis` service's `lock` delegates
 * here with its own. The lock lives on the one node that owns its key; it
 * is not Redlock (no quorum over independent servers), and a failover that
 * loses the SET can let a second holder in. It does not renew itself: a
 * holder that works longer than the ttl extends it.
 *
 * @since 0.1.0
 */
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import * as Schedule from "effect/Schedule"
import * as Schema from "effect/Schema"
import type * as Scope from "effect/Scope"
import type { Command } from "./Command.ts"
import * as Cmd from "./Command.ts"
import * as Commands from "./Commands.ts"
import * as RedisError from "./RedisError.ts"
import type { Arg } from "./Resp.ts"
import * as Script from "./Script.ts"

/**
 * The holder no longer owns the lock: it expired (and maybe someone else
 * took it) before this release, extend or reacquire. Nothing was changed.
 *
 * @category errors
 * @since 0.1.0
 */
export class LockNotOwned extends Schema.TaggedError<LockNotOwned>("@redis-effect/redis/LockNotOwned")("LockNotOwned", {
  name: Schema.String,
  message: Schema.String
}) {}

/**
 * How `extend` changes the time to live.
 *
 * @category models
 * @since 0.1.0
 */
export interface ExtendOptions {
  /**
   * `true`: add `ttl` to what is left (redis-py's default). `false` (the
   * default): the lock lives `ttl` from now (redis-py `replace_ttl=True`).
   */
  readonly add?: boolean | undefined
}

/**
 * A held lock.
 *
 * @category models
 * @since 0.1.0
 */
export interface Lock {
  readonly name: string
  readonly token: string
  /** The time to live it was taken with; `undefined` for a lock without one. */
  readonly ttl: Duration.Duration | undefined
  /** Releases the lock if this holder still owns it; returns whether it did. */
  readonly release: Effect.Effect<boolean, RedisError.RedisError>
  /** `release`, failing with `LockNotOwned` when this holder no longer owned it. */
  readonly releaseOrFail: Effect.Effect<void, LockNotOwned | RedisError.RedisError>
  /**
   * Sets (or, with `add: true`, lengthens) the time to live if this holder
   * still owns the lock; returns whether it did. A lock taken without a
   * time to live fails `InvalidArgument`: it has none to extend.
   */
  readonly extend: (ttl: Duration.Input, options?: ExtendOptions) => Effect.Effect<boolean, RedisError.RedisError>
  /** `extend`, failing with `LockNotOwned` when this holder no longer owns the lock. */
  readonly extendOrFail: (
    ttl: Duration.Input,
    options?: ExtendOptions
  ) => Effect.Effect<void, LockNotOwned | RedisError.RedisError>
  /** Resets the time to live to the one the lock was taken with (redis-py `reacquire`). */
  readonly reacquire: Effect.Effect<void, LockNotOwned | RedisError.RedisError>
  /** Whether anyone holds the lock now. */
  readonly locked: Effect.Effect<boolean, RedisError.RedisError>
  /** Whether this holder still owns the lock. */
  readonly owned: Effect.Effect<boolean, RedisError.RedisError>
}

/**
 * @category models
 * @since 0.1.0
 */
export interface LockOptions {
  /**
   * How long the lock lives unless released or extended. `"Infinity"` (or
   * `Duration.infinity`) takes a lock that never expires: it stays until
   * released, even if its holder dies, so it is only ever taken when asked.
   */
  readonly ttl: Duration.Input
  /**
   * How to retry while someone else holds it (default: `defaultLockRetry`).
   * Give this or `blocking` / `blockingTimeout` / `pollInterval`, not both.
   */
  readonly retry?: Schedule.Schedule<unknown, RedisError.RedisError> | undefined
  /** `false`: one attempt; a held lock fails `LOCKED` at once (redis-py `blocking=False`). Default true. */
  readonly blocking?: boolean | undefined
  /**
   * Give up (`LOCKED`) after waiting about this long (redis-py
   * `blocking_timeout`); `"Infinity"` waits for as long as it takes.
   * Default 10 s, like `defaultLockRetry`.
   */
  readonly blockingTimeout?: Duration.Input | undefined
  /** Between attempts while someone else holds it (redis-py `sleep`). Default 50 ms with jitter. */
  readonly pollInterval?: Duration.Input | undefined
}

/**
 * What the lock needs of a client: one command, and one script.
 *
 * @category models
 * @since 0.1.0
 */
export interface Runner {
  readonly execute: <A>(command: Command<A>) => Effect.Effect<A, RedisError.RedisError>
  readonly runScript: <A>(
    script: Script.Script<A>,
    keys: ReadonlyArray<Arg>,
    args?: ReadonlyArray<Arg>
  ) => Effect.Effect<A, RedisError.RedisError>
}

/**
 * The default retry while the lock is held by someone else: every 50 ms
 * with jitter, up to 200 more attempts (about 10 s).
 *
 * @category defaults
 * @since 0.1.0
 */
export const defaultLockRetry: Schedule.Schedule<unknown, RedisError.RedisError> = Schedule.spaced("50 millis").pipe(
  Schedule.jittered,
  Schedule.upTo({ times: 200 }),
  Schedule.setInputType<RedisError.RedisError>()
)

const DEFAULT_BLOCKING_TIMEOUT = Duration.seconds(10)

const releaseScript = Script.make(
  "if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) else return 0 end",
  Cmd.Reply.boolean
)

// ARGV: token, milliseconds, "1" to add them to what is left. A key with no
// expiry (-1) is not extended: the lock was taken without a ttl.
const extendScript = Script.make(
  [
    "if redis.call('get', KEYS[1]) ~= ARGV[1] then return 0 end",
    "local ttl = tonumber(ARGV[2])",
    "if ARGV[3] == '1' then",
    "  local left = redis.call('pttl', KEYS[1])",
    "  if left > 0 then ttl = ttl + left end",
    "end",
    "return redis.call('pexpire', KEYS[1], ttl)"
  ].join("\n"),
  Cmd.Reply.boolean
)

// "Held by someone else" is the only failure the acquire schedule retries;
// it is Rejected: the SET NX ran and changed nothing.
const lockHeld = (name: string) =>
  RedisError.make(new RedisError.ReplyError({ code: "LOCKED", message: `lock ${name} is held by another owner` }), "Rejected", "SET")

const isHeld = (e: RedisError.RedisError) => e.reason._tag === "ReplyError" && e.reason.code === "LOCKED"

// Unguessable enough that two holders never share one; not a secret.
const newToken = () =>
  `${Date.now().toString(36)}-${Math.random().toString(36).slice(2)}-${Math.random().toString(36).slice(2)}`

const durationOf = (input: Duration.Input): Duration.Duration | undefined => {
  try {
    return Duration.fromInputUnsafe(input)
  } catch {
    return undefined
  }
}

const positive = (d: Duration.Duration | undefined): d is Duration.Duration =>
  d !== undefined && Duration.toMillis(d) > 0

/**
 * The ttl in milliseconds (`undefined`: none) and the acquire schedule, or
 * what is wrong with the options. Pure.
 *
 * @category validation
 * @since 0.1.0
 */
export const plan = (options: LockOptions): {
  readonly ttlMs: number | undefined
  readonly schedule: Schedule.Schedule<unknown, RedisError.RedisError>
} | { readonly problem: string } => {
  const ttl = durationOf(options.ttl)
  if (!positive(ttl)) return { problem: "lock ttl must be positive (\"Infinity\" for a lock without one)" }
  const ttlMs = Duration.isFinite(ttl) ? Math.ceil(Duration.toMillis(ttl)) : undefined
  const { blocking, blockingTimeout, pollInterval, retry } = options
  const polling = blocking !== undefined || blockingTimeout !== undefined || pollInterval !== undefined
  if (retry !== undefined && polling) return { problem: "give lock retry or blocking/blockingTimeout/pollInterval, not both" }
  if (retry !== undefined) return { ttlMs, schedule: retry }
  if (!polling) return { ttlMs, schedule: defaultLockRetry }
  if (blocking !== undefined && typeof blocking !== "boolean") return { problem: "lock blocking must be a boolean" }
  if (blocking === false) {
    if (blockingTimeout !== undefined || pollInterval !== undefined) {
      return { problem: "lock blockingTimeout and pollInterval need blocking: true" }
    }
    return { ttlMs, schedule: Schedule.recurs(0) }
  }
  const timeout = blockingTimeout === undefined ? DEFAULT_BLOCKING_TIMEOUT : durationOf(blockingTimeout)
  if (timeout === undefined || Duration.toMillis(timeout) < 0) {
    return { problem: "lock blockingTimeout must be a non-negative duration" }
  }
  const interval = pollInterval === undefined ? undefined : durationOf(pollInterval)
  if (pollInterval !== undefined && (!positive(interval) || !Duration.isFinite(interval))) {
    return { problem: "lock pollInterval must be a positive, finite duration" }
  }
  const poll = interval === undefined ? Schedule.spaced("50 millis").pipe(Schedule.jittered) : Schedule.spaced(interval)
  const bounded = Duration.isFinite(timeout) ? poll.pipe(Schedule.upTo({ duration: timeout })) : poll
  return { ttlMs, schedule: bounded.pipe(Schedule.setInputType<RedisError.RedisError>()) }
}

const notOwned = (name: string, what: string) =>
  new LockNotOwned({ name, message: `cannot ${what} lock ${name}: this holder no longer owns it (it expired)` })

// The held lock's methods, over the runner.
const held = (runner: Runner, name: string, token: string, ttlMs: number | undefined): Lock => {
  const release = runner.runScript(releaseScript, [name], [token])
  const extend = (ttl: Duration.Input, options?: ExtendOptions): Effect.Effect<boolean, RedisError.RedisError> => {
    if (ttlMs === undefined) {
      return Effect.fail(RedisError.invalidArgument(`lock ${name} was taken without a ttl: there is none to extend`, "PEXPIRE"))
    }
    const d = durationOf(ttl)
    if (!positive(d) || !Duration.isFinite(d)) {
      return Effect.fail(RedisError.invalidArgument("lock extend ttl must be a positive, finite duration", "PEXPIRE"))
    }
    return runner.runScript(extendScript, [name], [token, Math.ceil(Duration.toMillis(d)), options?.add === true ? "1" : "0"])
  }
  const extendOrFail = (ttl: Duration.Input, options?: ExtendOptions) =>
    Effect.flatMap(extend(ttl, options), (ok) => (ok ? Effect.void : Effect.fail(notOwned(name, "extend"))))
  return {
    name,
    token,
    ttl: ttlMs === undefined ? undefined : Duration.millis(ttlMs),
    release,
    releaseOrFail: Effect.flatMap(release, (ok) => (ok ? Effect.void : Effect.fail(notOwned(name, "release")))),
    extend,
    extendOrFail,
    reacquire: Effect.suspend(() =>
      ttlMs === undefined
        ? Effect.fail(RedisError.invalidArgument(`lock ${name} was taken without a ttl: there is none to reset`, "PEXPIRE"))
        : Effect.mapError(extendOrFail(ttlMs), (e) => (e._tag === "LockNotOwned" ? notOwned(name, "reacquire") : e))
    ),
    locked: Effect.map(runner.execute(Commands.exists([name])), (n) => n > 0),
    owned: Effect.map(runner.execute(Commands.get(name)), (v) => Option.isSome(v) && v.value === token)
  }
}

/**
 * Acquires the lock `name` (retrying by the options while another owner
 * holds it) and releases it when the scope closes. Fails with
 * `InvalidArgument` for a ttl that is not positive or options that
 * contradict each other, and with a `ReplyError` of code `LOCKED` when
 * the wait runs out (at once with `blocking: false`).
 *
 * @category constructors
 * @since 0.1.0
 */
export const acquire = (
  runner: Runner,
  name: string,
  options: LockOptions
): Effect.Effect<Lock, RedisError.RedisError, Scope.Scope> => {
  const planned = plan(options)
  if ("problem" in planned) return Effect.fail(RedisError.invalidArgument(planned.problem, "SET"))
  const { schedule, ttlMs } = planned
  const token = newToken()
  const tryAcquire = Effect.flatMap(
    runner.execute(Commands.set(name, token, ttlMs === undefined ? { nx: true } : { px: ttlMs, nx: true })),
    (ok) => (ok ? Effect.void : Effect.fail(lockHeld(name)))
  )
  return Effect.acquireRelease(
    Effect.as(Effect.retry(tryAcquire, { schedule, while: isHeld }), held(runner, name, token, ttlMs)),
    (l) => Effect.ignore(l.release)
  )
}
