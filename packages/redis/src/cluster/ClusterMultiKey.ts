/**
 * Multi-key commands across slots, without atomicity: MGET, MSET, DEL,
 * UNLINK, EXISTS and TOUCH split into one command per slot, sent
 * concurrently, their replies put back together (values in the order of the
 * keys, counts summed).
 *
 * The same split applies inside a pipeline (`pipelined`, redis-py's cluster
 * pipeline): a DEL, UNLINK, EXISTS, TOUCH or MSET member whose keys hash to
 * several slots becomes one member per slot, and its reply is put back
 * together (counts summed, MSET's OK once every part succeeded).
 *
 * Not atomic: another client may see some slots' writes and not others',
 * and a failure of one slot's command fails the whole call after the others
 * may have run. `bySlot` and `split` are pure; the commands go through the
 * `execute` given (the cluster's, with routing, redirects and retries).
 *
 * @since 0.1.0
 */
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import type * as Option from "effect/Option"
import type { Command } from "../Command.ts"
import * as Cmd from "../Command.ts"
import * as Commands from "../Commands.ts"
import type * as Middleware from "../Middleware.ts"
import type * as RedisError from "../RedisError.ts"
import type { Arg } from "../Resp.ts"
import * as ClusterSlot from "./ClusterSlot.ts"

/**
 * The indexes of `items` grouped by the slot of their key, each group in
 * input order.
 *
 * @category grouping
 * @since 0.1.0
 */
export const bySlot = <A>(items: ReadonlyArray<A>, keyOf: (item: A) => Arg): Map<number, Array<number>> => {
  const groups = new Map<number, Array<number>>()
  items.forEach((item, i) => {
    const slot = ClusterSlot.keyslot(keyOf(item))
    const group = groups.get(slot)
    if (group === undefined) groups.set(slot, [i])
    else group.push(i)
  })
  return groups
}

/**
 * @category models
 * @since 0.1.0
 */
export interface MultiKey {
  readonly mgetNonAtomic: (keys: ReadonlyArray<Arg>) => Effect.Effect<Array<Option.Option<string>>, RedisError.RedisError>
  readonly msetNonAtomic: (
    pairs: ReadonlyArray<readonly [Arg, Arg]> | Readonly<Record<string, Arg>>
  ) => Effect.Effect<void, RedisError.RedisError>
  readonly delNonAtomic: (keys: ReadonlyArray<Arg>) => Effect.Effect<number, RedisError.RedisError>
  readonly unlinkNonAtomic: (keys: ReadonlyArray<Arg>) => Effect.Effect<number, RedisError.RedisError>
  readonly existsNonAtomic: (keys: ReadonlyArray<Arg>) => Effect.Effect<number, RedisError.RedisError>
  readonly touchNonAtomic: (keys: ReadonlyArray<Arg>) => Effect.Effect<number, RedisError.RedisError>
}

const self = (key: Arg) => key

/**
 * The non-atomic commands over `execute`.
 *
 * @category constructors
 * @since 0.1.0
 */
export const make = (execute: <A>(command: Command<A>) => Effect.Effect<A, RedisError.RedisError>): MultiKey => {
  const countAcross = (build: (keys: ReadonlyArray<Arg>) => Command<number>) => (keys: ReadonlyArray<Arg>) =>
    Effect.map(
      Effect.forEach(bySlot(keys, self).values(), (indexes) => execute(build(indexes.map((i) => keys[i]))), {
        concurrency: "unbounded"
      }),
      (counts) => counts.reduce((a, b) => a + b, 0)
    )
  return {
    mgetNonAtomic: (keys) =>
      Effect.suspend(() => {
        const out = new Array<Option.Option<string>>(keys.length)
        return Effect.as(
          Effect.forEach(bySlot(keys, self).values(), (indexes) =>
            Effect.map(execute(Commands.mget(indexes.map((i) => keys[i]))), (values) => {
              values.forEach((v, j) => {
                out[indexes[j]] = v
              })
            }), { concurrency: "unbounded", discard: true }),
          out
        )
      }),
    msetNonAtomic: (input) => {
      const pairs: ReadonlyArray<readonly [Arg, Arg]> = Array.isArray(input)
        ? input as ReadonlyArray<readonly [Arg, Arg]>
        : Object.entries(input as Record<string, Arg>)
      return Effect.forEach(bySlot(pairs, (p) => p[0]).values(), (indexes) =>
        execute(Commands.mset(indexes.map((i) => pairs[i]) as Array<readonly [Arg, Arg]>)), {
        concurrency: "unbounded",
        discard: true
      })
    },
    delNonAtomic: countAcross((keys) => Commands.del(keys)),
    unlinkNonAtomic: countAcross((keys) => Commands.unlink(keys)),
    existsNonAtomic: countAcross((keys) => Commands.exists(keys)),
    touchNonAtomic: countAcross((keys) => Commands.touch(keys))
  }
}

// -----------------------------------------------------------------------------
// inside pipelines
// -----------------------------------------------------------------------------

// The commands a pipeline splits by slot, and how many arguments follow each
// key (MSET: its value).
const SPLIT: ReadonlyMap<string, number> = new Map([["DEL", 0], ["UNLINK", 0], ["EXISTS", 0], ["TOUCH", 0], ["MSET", 1]])

/**
 * A multi-key command whose keys hash to several slots, as one command per
 * slot (keys in their order within each), or `undefined` when it is not
 * one of DEL, UNLINK, EXISTS, TOUCH and MSET, has its keys in one slot, or
 * was not built with the usual layout (the command word, then each key
 * followed by its value for MSET).
 *
 * @category pipelines
 * @since 0.1.0
 */
export const split = (command: Command<unknown>): Array<Command<unknown>> | undefined => {
  const keys = command.keys
  const per = SPLIT.get(command.name)
  if (per === undefined || keys.length < 2 || ClusterSlot.slotOfKeys(keys) !== -2) return undefined
  const width = per + 1
  const args = command.args
  if (args.length !== 1 + keys.length * width) return undefined
  for (let i = 0; i < keys.length; i++) if (args[1 + i * width] !== keys[i]) return undefined
  const parts: Array<Command<unknown>> = []
  for (const indexes of bySlot(keys, (k) => k).values()) {
    const partArgs: Array<Arg> = [args[0]]
    for (const i of indexes) for (let j = 0; j < width; j++) partArgs.push(args[1 + i * width + j])
    parts.push(
      Cmd.unsafeMake(command.name, partArgs, indexes.map((i) => keys[i]), command.flags, command.decode, command.binary)
    )
  }
  return parts
}

/**
 * The reply of a split command from its parts' replies: the first failure,
 * else the counts summed (DEL, UNLINK, EXISTS, TOUCH) or the first reply
 * (MSET).
 *
 * @category pipelines
 * @since 0.1.0
 */
export const recombine = (
  name: string,
  exits: ReadonlyArray<Exit.Exit<unknown, RedisError.RedisError>>
): Exit.Exit<unknown, RedisError.RedisError> => {
  for (const exit of exits) if (Exit.isFailure(exit)) return exit
  if (name === "MSET") return exits[0]
  let sum = 0
  for (const exit of exits) sum += (exit as Exit.Success<number>).value
  return Exit.succeed(sum)
}

type ExecuteAll<R> = (commands: ReadonlyArray<Command<unknown>>, resend: R) => Effect.Effect<Middleware.Exits>

/**
 * A pipeline runner that splits cross-slot DEL, UNLINK, EXISTS, TOUCH and
 * MSET members (`split`) before `executeAll` and puts their replies back
 * together after it. A pipeline with no such member goes to `executeAll`
 * as it is, after one pass over its members.
 *
 * @category pipelines
 * @since 0.1.0
 */
export const pipelined = <R>(executeAll: ExecuteAll<R>): ExecuteAll<R> => (commands, resend) => {
  let splits: Map<number, Array<Command<unknown>>> | undefined
  for (let i = 0; i < commands.length; i++) {
    const c = commands[i]
    if (c.keys.length < 2 || !SPLIT.has(c.name)) continue
    const parts = split(c)
    if (parts !== undefined) (splits ??= new Map()).set(i, parts)
  }
  if (splits === undefined) return executeAll(commands, resend)
  const found = splits
  // The expanded pipeline, and where each member's replies start in it.
  const expanded: Array<Command<unknown>> = []
  const starts: Array<number> = []
  commands.forEach((c, i) => {
    starts.push(expanded.length)
    const parts = found.get(i)
    if (parts === undefined) expanded.push(c)
    else expanded.push(...parts)
  })
  return Effect.map(executeAll(expanded, resend), (exits) =>
    commands.map((c, i) => {
      const parts = found.get(i)
      return parts === undefined ? exits[starts[i]] : recombine(c.name, exits.slice(starts[i], starts[i] + parts.length))
    }))
}
