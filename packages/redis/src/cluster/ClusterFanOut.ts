/**
 * Commands addressed to nodes rather than to a slot: which nodes a target
 * names (primaries, replicas, all, one at random, given addresses), running
 * a command on each with one result per node, and combining the replies of
 * a keyless command that goes to every shard by its response policy (DBSIZE
 * sums, KEYS concatenates, SCRIPT EXISTS ands, FLUSHALL must succeed
 * everywhere, ...).
 *
 * No redirects (a keyless command is not redirected). A node's failure that
 * `Delivery.decide` calls `Retry` (a lost connection, `CLUSTERDOWN`, a node
 * that left) asks for a topology refresh and, after the retry schedule's
 * delay, the target is resolved again on the new topology: the nodes it
 * names then that have no result yet get the command (the new primary of a
 * shard whose primary failed over, another node for `random`). Any other
 * failure is that node's result. `targets` and `aggregate` are pure. Nothing
 * here decides whether a command fans out: that is its policy
 * (`CommandTable`).
 *
 * @since 0.1.0
 */
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Option from "effect/Option"
import * as Schedule from "effect/Schedule"
import * as Address from "../Address.ts"
import type { Command } from "../Command.ts"
import * as Delivery from "../Delivery.ts"
import * as RedisError from "../RedisError.ts"
import * as ClusterRouter from "./ClusterRouter.ts"
import type * as ClusterTopology from "./ClusterTopology.ts"
import type * as ClusterView from "./ClusterView.ts"
import type * as CommandTable from "./CommandTable.ts"

/**
 * Which nodes a keyless command runs on.
 *
 * @category models
 * @since 0.1.0
 */
export type Target =
  | "primaries"
  | "replicas"
  | "all"
  | "random"
  | Address.Address
  | ReadonlyArray<Address.Address>

/**
 * The nodes of `view` a target names: `replicas` and `all` leave out
 * replicas marked failed; `random` is one node of `all` (redis-py's
 * `RANDOM`: primaries and replicas alike).
 *
 * @category targets
 * @since 0.1.0
 */
export const targets = (view: ClusterView.View, target: Target): ReadonlyArray<Address.Address> => {
  const shards = view.shards
  if (target === "primaries") return shards.map((s) => s.primary)
  if (target === "replicas") return shards.flatMap((s) => s.replicas.filter((r) => r.health !== "failed"))
  if (target === "all") return shards.flatMap((s) => [s.primary, ...s.replicas.filter((r) => r.health !== "failed")])
  if (target === "random") {
    const all = targets(view, "all")
    return all.length === 0 ? [] : [all[Math.floor(Math.random() * all.length)]]
  }
  if (Array.isArray(target)) return target as ReadonlyArray<Address.Address>
  return [target as Address.Address]
}

const truthy = (v: unknown): boolean => v === true || v === 1 || v === "1"

const elementwise = (values: ReadonlyArray<unknown>, all: boolean): unknown => {
  if (!Array.isArray(values[0])) return all ? values.every(truthy) : values.some(truthy)
  const first = values[0] as ReadonlyArray<unknown>
  return first.map((_, i) => {
    const column = values.map((v) => (v as ReadonlyArray<unknown>)[i])
    return all ? column.every(truthy) : column.some(truthy)
  })
}

/**
 * The replies of every node combined into one, by a response policy:
 *
 * - `aggSum` / `aggMin` / `aggMax`: of numbers;
 * - `aggLogicalAnd` / `aggLogicalOr`: of booleans, element by element when
 *   the replies are arrays (SCRIPT EXISTS);
 * - `default`: arrays are concatenated (KEYS); other replies give the first
 *   that is not empty (`null` or `None`: RANDOMKEY);
 * - `allSucceeded`, `oneSucceeded`, `special`: the first reply.
 *
 * `values` holds at least one reply.
 *
 * @category aggregation
 * @since 0.1.0
 */
export const aggregate = (policy: CommandTable.ResponsePolicy, values: ReadonlyArray<unknown>): unknown => {
  switch (policy) {
    case "aggSum":
      return values.reduce((a: number, b) => a + (b as number), 0)
    case "aggMin":
      return values.reduce((a: number, b) => Math.min(a, b as number), Infinity)
    case "aggMax":
      return values.reduce((a: number, b) => Math.max(a, b as number), -Infinity)
    case "aggLogicalAnd":
      return elementwise(values, true)
    case "aggLogicalOr":
      return elementwise(values, false)
    case "default":
      if (values.every(Array.isArray)) return values.flatMap((v) => v as ReadonlyArray<unknown>)
      // RANDOMKEY: a key from whichever shard has one.
      return values.find((v) => v !== null && v !== undefined && !(Option.isOption(v) && Option.isNone(v))) ?? values[0]
    case "allSucceeded":
    case "oneSucceeded":
    case "special":
      return values[0]
  }
}

/**
 * @category models
 * @since 0.1.0
 */
export interface FanOut {
  /** Runs a command on the target nodes; one result per node address. */
  readonly onNodes: <A>(
    target: Target,
    command: Command<A>
  ) => Effect.Effect<Map<string, Exit.Exit<A, RedisError.RedisError>>>
  /** Runs a command on the target nodes and fails with the first failure (all-succeeded policy). */
  readonly onAll: <A>(target: Target, command: Command<A>) => Effect.Effect<Array<A>, RedisError.RedisError>
  /** Runs a keyless command on every shard (or node) by its policy and combines the replies. */
  readonly run: <A>(command: Command<A>, policy: CommandTable.Policy) => Effect.Effect<A, RedisError.RedisError>
}

/**
 * What the fan-out needs: one send per node, the current view, and what a
 * failure that may be retried does (`retry`, `requestRefresh`; without
 * them, none is retried).
 *
 * @category models
 * @since 0.1.0
 */
export interface Io {
  readonly send: <A>(address: Address.Address, command: Command<A>) => Effect.Effect<A, RedisError.RedisError>
  readonly view: () => ClusterView.View
  /** Between two resolutions of a target whose nodes failed retryably (default: no retry). */
  readonly retry?: Schedule.Schedule<unknown, RedisError.RedisError> | undefined
  /** Asks for a topology refresh without waiting. */
  readonly requestRefresh?: ((trigger: ClusterTopology.Trigger) => void) | undefined
  /** The refresh a failure asks for (`ClusterExecutor.refreshTrigger`). */
  readonly triggerOf?: ((error: RedisError.RedisError) => ClusterTopology.Trigger | undefined) | undefined
}

const NO_RETRY: Schedule.Schedule<unknown, RedisError.RedisError> = Schedule.recurs(0).pipe(
  Schedule.setInputType<RedisError.RedisError>()
)

/**
 * Builds the fan-out over one send per node and the current view.
 *
 * @category constructors
 * @since 0.1.0
 */
export const make = (io: Io): FanOut => {
  const retry = io.retry ?? NO_RETRY
  const onNodes = <A>(target: Target, command: Command<A>) =>
    Effect.suspend(() => {
      type Result = Exit.Exit<A, RedisError.RedisError>
      // Final results by node, and the retryable failures of the last round.
      const results = new Map<string, Result>()
      let retryable = new Map<string, Result>()
      const round = Effect.suspend(() => {
        const nodes = targets(io.view(), target).filter((a) => !results.has(Address.format(a)))
        retryable = new Map()
        return Effect.flatMap(
          Effect.forEach(nodes, (a) => Effect.map(Effect.exit(io.send(a, command)), (exit) => [Address.format(a), exit] as const), {
            concurrency: "unbounded"
          }),
          (pairs): Effect.Effect<void, RedisError.RedisError> => {
            let first: RedisError.RedisError | undefined
            for (const [key, exit] of pairs) {
              const error = RedisError.failureOf(exit)
              if (error !== undefined && Delivery.isRetry(command, error, "nodes")) {
                retryable.set(key, exit)
                first ??= error
              } else {
                results.set(key, exit)
              }
            }
            if (first === undefined) return Effect.void
            const trigger = io.triggerOf?.(first)
            if (trigger !== undefined) io.requestRefresh?.(trigger)
            return Effect.fail(first)
          }
        )
      })
      // The schedule ran out: the last round's failures are those nodes' results.
      return Effect.map(Effect.ignore(Effect.retry(round, retry)), () => {
        for (const [key, exit] of retryable) results.set(key, exit)
        return results
      })
    })
  const onAll = <A>(target: Target, command: Command<A>): Effect.Effect<Array<A>, RedisError.RedisError> =>
    Effect.flatMap(onNodes(target, command), (results): Effect.Effect<Array<A>, RedisError.RedisError> => {
      const out: Array<A> = []
      for (const exit of results.values()) {
        if (Exit.isFailure(exit)) return exit as Exit.Exit<never, RedisError.RedisError>
        out.push(exit.value)
      }
      return Effect.succeed(out)
    })
  const run = <A>(command: Command<A>, policy: CommandTable.Policy): Effect.Effect<A, RedisError.RedisError> => {
    const target: Target = policy.request === "allNodes" ? "all" : "primaries"
    if (io.view().shards.length === 0) return Effect.fail(ClusterRouter.uncovered(-1))
    if (policy.response !== "oneSucceeded") {
      return Effect.map(onAll(target, command), (values) => aggregate(policy.response, values) as A)
    }
    // One success is enough (SCRIPT KILL: the script runs on one shard).
    return Effect.flatMap(onNodes(target, command), (results): Effect.Effect<A, RedisError.RedisError> => {
      let failed: Exit.Exit<A, RedisError.RedisError> | undefined
      for (const exit of results.values()) {
        if (Exit.isSuccess(exit)) return exit
        failed ??= exit
      }
      return failed ?? Effect.fail(ClusterRouter.uncovered(-1))
    })
  }
  return { onNodes, onAll, run }
}
