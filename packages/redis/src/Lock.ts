/**
 * A distributed lock on one key: `SET name token NX PX ttl` to take it, and
 * Lua scripts that release or extend it only while `token` still owns it
 * (so a holder whose lock expired cannot drop someone else's).
 *
 * It is built over a `Runner` (any `execute` and `runScript`), so the same
 * recipe works on every topology: the `Redis` service's `lock` delegates
 * here with its own. The lock lives on the one node that owns its key; it
 * is not Redlock (no quorum over independent servers), and a failover that
 * loses the SET can let a second holder in.
 *
 * @since 0.1.0
 */
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Schedule from "effect/Schedule"
import type * as Scope from "effect/Scope"
import type { Command } from "./Command.ts"
import * as Cmd from "./Command.ts"
import * as Commands from "./Commands.ts"
import * as RedisError from "./RedisError.ts"
import type { Arg } from "./Resp.ts"
import * as Script from "./Script.ts"

/**
 * A held lock.
 *
 * @category models
 * @since 0.1.0
 */
export interface Lock {
  readonly name: string
  readonly token: string
  /** Releases the lock if this holder still owns it; returns whether it did. */
  readonly release: Effect.Effect<boolean, RedisError.RedisError>
  /** Extends the lock's time to live if this holder still owns it. */
  readonly extend: (ttl: Duration.Input) => Effect.Effect<boolean, RedisError.RedisError>
}

/**
 * @category models
 * @since 0.1.0
 */
export interface LockOptions {
  /** How long the lock lives unless released or extended. */
  readonly ttl: Duration.Input
  /** How to retry while someone else holds it (default: `defaultLockRetry`). */
  readonly retry?: Schedule.Schedule<unknown, RedisError.RedisError> | undefined
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

const releaseScript = Script.make(
  "if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) else return 0 end",
  Cmd.Reply.boolean
)

const extendScript = Script.make(
  "if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('pexpire', KEYS[1], ARGV[2]) else return 0 end",
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

/**
 * Acquires the lock `name` (retrying by `options.retry` while another owner
 * holds it) and releases it when the scope closes. Fails with
 * `InvalidArgument` for a ttl that is not positive, and with a `ReplyError`
 * of code `LOCKED` when retries run out.
 *
 * @category constructors
 * @since 0.1.0
 */
export const acquire = (
  runner: Runner,
  name: string,
  options: LockOptions
): Effect.Effect<Lock, RedisError.RedisError, Scope.Scope> => {
  const ttlMs = Duration.toMillis(Duration.fromInputUnsafe(options.ttl))
  if (!(ttlMs > 0)) return Effect.fail(RedisError.invalidArgument("lock ttl must be positive", "SET"))
  const token = newToken()
  const tryAcquire = Effect.flatMap(
    runner.execute(Commands.set(name, token, { px: Math.ceil(ttlMs), nx: true })),
    (ok) => (ok ? Effect.void : Effect.fail(lockHeld(name)))
  )
  const held: Lock = {
    name,
    token,
    release: runner.runScript(releaseScript, [name], [token]),
    extend: (ttl) =>
      runner.runScript(extendScript, [name], [token, Math.ceil(Duration.toMillis(Duration.fromInputUnsafe(ttl)))])
  }
  return Effect.acquireRelease(
    Effect.as(Effect.retry(tryAcquire, { schedule: options.retry ?? defaultLockRetry, while: isHeld }), held),
    (l) => Effect.ignore(l.release)
  )
}
