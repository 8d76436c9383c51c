/**
 * Dedicated connections held for the life of a scope (Effect's
 * `Redis.reserve`), over a client whose dedicated connections are only lent
 * for the duration of a function (`withConnection`).
 *
 * `hold` borrows one connection on a fiber of the scope and keeps the
 * borrow open until the scope closes. Then the connection goes back to its
 * pool if it is clean — no command in flight, every failure an answer of the
 * server or a refusal before sending, no connection state changed (SELECT,
 * MULTI, WATCH, ...) — and is closed otherwise, which also fails a command
 * still in flight on it (Effect's contract for `reserve`).
 *
 * `holdPerNode` is the cluster form: each command goes, by its keys, to a
 * dedicated connection of the primary that owns its slot, borrowed the first
 * time that node is needed and held until the scope closes. A command the
 * node refuses with MOVED or ASK (the slot moved) is sent once more after a
 * topology refresh. Keyless commands use the first node held (or the first
 * primary).
 *
 * Nothing here picks the pool's size or timeouts: those of the client's
 * pools apply (`maxDedicated`, `dedicatedIdleTime`).
 *
 * @since 0.1.0
 */
import * as Cause from "effect/Cause"
import * as Deferred from "effect/Deferred"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"
import * as Scope from "effect/Scope"
import * as Address from "../Address.ts"
import type * as Cluster from "../cluster/Cluster.ts"
import * as ClusterSlot from "../cluster/ClusterSlot.ts"
import type { Command } from "../Command.ts"
import { Flags } from "../Command.ts"
import type * as Connection from "../Connection.ts"
import * as RedisError from "../RedisError.ts"

/**
 * Sends commands on held connections.
 *
 * @category models
 * @since 0.1.0
 */
export interface Held {
  readonly execute: <A>(command: Command<A>) => Effect.Effect<A, RedisError.RedisError>
}

/**
 * Lends a dedicated connection for the duration of `f` (`Redis.withConnection`).
 *
 * @category models
 * @since 0.1.0
 */
export type Borrow = <A, E, R>(
  f: (connection: Connection.Connection) => Effect.Effect<A, E, R>
) => Effect.Effect<A, E | RedisError.RedisError, R>

interface State {
  active: number
  clean: boolean
}

// A failure after which the connection is still in a known state: the
// server answered, or nothing was written. An interruption or a lost reply
// leaves a command possibly running (a BLPOP still blocking).
const leavesClean = (exit: Exit.Exit<unknown, RedisError.RedisError>): boolean => {
  if (Exit.isSuccess(exit)) return true
  if (Cause.hasInterrupts(exit.cause)) return false
  const error = RedisError.failureOf(exit)
  return error !== undefined && error.outcome !== "Unknown"
}

const tracked = (connection: Connection.Connection, state: State) =>
<A>(command: Command<A>): Effect.Effect<A, RedisError.RedisError> => {
  if (command.invalid !== undefined) return Effect.fail(RedisError.invalidArgument(command.invalid, command.name))
  if ((command.flags & Flags.PUBSUB) !== 0) {
    return Effect.fail(RedisError.invalidArgument(`${command.name} on a reserved connection: use subscribe`, command.name))
  }
  return Effect.suspend(() => {
    state.active++
    // Connection state would leak to the pool's next borrower.
    if ((command.flags & Flags.CONNECTION_STATE) !== 0) state.clean = false
    return Effect.onExit(connection.send(command), (exit) => {
      state.active--
      if (!leavesClean(exit)) state.clean = false
      return Effect.void
    })
  })
}

/**
 * Borrows one dedicated connection with `borrow` and holds it until `scope`
 * closes; then returns it to its pool if clean, closes it otherwise.
 *
 * @category constructors
 * @since 0.1.0
 */
export const hold = (borrow: Borrow, scope: Scope.Scope): Effect.Effect<Held, RedisError.RedisError> =>
  Effect.gen(function*() {
    const lent = yield* Deferred.make<Connection.Connection, RedisError.RedisError>()
    const release = yield* Deferred.make<void>()
    const fiber = yield* borrow((c) => Effect.andThen(Deferred.succeed(lent, c), Deferred.await(release))).pipe(
      Effect.onExit((exit) => Exit.isFailure(exit) ? Deferred.failCause(lent, exit.cause) : Effect.void),
      Effect.forkIn(scope)
    )
    const connection = yield* Deferred.await(lent)
    const state: State = { active: 0, clean: true }
    // Added after the fork, so it runs before the scope interrupts the fiber:
    // a clean connection ends the borrow normally (back to the pool); a dirty
    // one is interrupted, which makes the pool close it.
    yield* Scope.addFinalizer(
      scope,
      Effect.suspend(() =>
        state.clean && state.active === 0
          ? Effect.andThen(Deferred.succeed(release, undefined), Fiber.await(fiber))
          : Fiber.interrupt(fiber)
      )
    )
    return { execute: tracked(connection, state) }
  })

/**
 * The cluster form of `hold`: one held connection per primary, borrowed on
 * first use, each command routed by its keys.
 *
 * @category constructors
 * @since 0.1.0
 */
export const holdPerNode = (cluster: Cluster.ClusterShape, scope: Scope.Scope): Held => {
  const nodes = new Map<string, Deferred.Deferred<Held, RedisError.RedisError>>()

  const heldOn = (address: Address.Address): Effect.Effect<Held, RedisError.RedisError> =>
    Effect.suspend(() => {
      const key = Address.format(address)
      const known = nodes.get(key)
      if (known !== undefined) return Deferred.await(known)
      const held = Deferred.makeUnsafe<Held, RedisError.RedisError>()
      nodes.set(key, held)
      const node = cluster.node({ host: address.host, port: address.port })
      return hold(node.withConnection, scope).pipe(
        Effect.onExit((exit) => {
          // A failed borrow is not remembered: the next command tries again.
          if (Exit.isFailure(exit)) nodes.delete(key)
          return Deferred.done(held, exit)
        })
      )
    })

  const anyNode: Effect.Effect<Address.Address, RedisError.RedisError> = Effect.suspend(() => {
    const first = nodes.keys().next()
    if (!first.done) return Effect.succeed(Address.parse(first.value)!)
    return Effect.flatMap(cluster.primaries, (primaries) =>
      primaries.length === 0
        ? Effect.fail(RedisError.make(new RedisError.ClusterDown({ message: "no primary to reserve a connection on" }), "NotSent"))
        : Effect.succeed(primaries[0]))
  })

  const once = <A>(command: Command<A>): Effect.Effect<A, RedisError.RedisError> => {
    const keys = command.keys
    const slot = ClusterSlot.slotOfKeys(keys)
    if (slot === -2) {
      return Effect.fail(RedisError.make(
        new RedisError.CrossSlot({ message: `the keys of ${command.name} hash to different slots` }),
        "NotSent",
        command.name
      ))
    }
    const node = slot === -1 ? anyNode : cluster.nodeFor(keys[0])
    return Effect.flatMap(node, (a) => Effect.flatMap(heldOn(a), (h) => h.execute(command)))
  }

  const redirected = (e: RedisError.RedisError) => e.reason._tag === "Moved" || e.reason._tag === "Ask"

  return {
    execute: (command) =>
      Effect.catchIf(once(command), redirected, () => Effect.andThen(cluster.refresh, once(command)))
  }
}
