/**
 * Multi-key commands across slots, without atomicity: MGET, MSET, DEL,
 * UNLINK, EXISTS and TOUCH split into one command per slot, sent
 * concurrently, their replies put back together (values in the order of the
 * keys, counts summed).
 *
 * Not atomic: another client may see some slots' writes and not others',
 * and a failure of one slot's command fails the whole call after the others
 * may have run. `bySlot` is pure; the commands go through the `execute`
 * given (the cluster's, with routing, redirects and retries).
 *
 * @since 0.1.0
 */
import * as Effect from "effect/Effect"
import type * as Option from "effect/Option"
import type { Command } from "../Command.ts"
import * as Commands from "../Commands.ts"
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
