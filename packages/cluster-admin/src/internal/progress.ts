/**
 * Progress of long administrative work (slots moved, keys migrated, keys
 * imported, bytes saved), the tracker that computes totals and rates from a
 * start time on the `Clock`, and `stream`, which turns an operation that
 * reports progress into a `Stream` of progress events ending with its result.
 *
 * It does not render anything (the `redis-effect` tool draws bars and lines)
 * and it never slows the work down: a slow consumer drops intermediate
 * events (a sliding buffer), never the final one.
 *
 * @internal
 */
import * as Clock from "effect/Clock"
import * as Effect from "effect/Effect"
import * as Queue from "effect/Queue"
import * as Stream from "effect/Stream"

/**
 * One step of progress. `done`/`total` count the operation's unit (`slots`
 * for reshard, rebalance and fix, `keys` for import, `nodes` for backup);
 * `keys` is the number of keys moved or copied so far; `rate` is units per
 * second and `keysPerSecond` keys per second since the start.
 *
 * @internal
 */
export interface Progress {
  readonly _tag: "Progress"
  readonly operation: string
  readonly unit: "slots" | "keys" | "nodes"
  readonly done: number
  readonly total: number
  readonly keys: number
  readonly elapsedMillis: number
  readonly rate: number
  readonly keysPerSecond: number
  /** What is happening now, in a few words ("slot 42: 10 keys"). */
  readonly detail: string
}

/**
 * A callback receiving progress; operations call it after each unit of work.
 *
 * @internal
 */
export type OnProgress = (progress: Progress) => Effect.Effect<void>

/**
 * Counts work and reports it. `step(units, keys, detail)` adds to the counts
 * and calls the callback (nothing when there is none).
 *
 * @internal
 */
export interface Tracker {
  readonly step: (units: number, keys: number, detail: string) => Effect.Effect<void>
  readonly keys: () => number
}

/**
 * A tracker of `total` units starting now.
 *
 * @internal
 */
export const tracker = (
  operation: string,
  unit: Progress["unit"],
  total: number,
  onProgress: OnProgress | undefined
): Effect.Effect<Tracker> =>
  onProgress === undefined ? Effect.succeed(trackKeysOnly()) : Effect.map(Clock.currentTimeMillis, (started) => {
    let done = 0
    let keys = 0
    return {
      keys: () => keys,
      step: (units, moreKeys, detail) =>
        Effect.flatMap(Clock.currentTimeMillis, (now) => {
          done += units
          keys += moreKeys
          const elapsed = Math.max(1, now - started)
          return onProgress({
            _tag: "Progress",
            operation,
            unit,
            done,
            total,
            keys,
            elapsedMillis: now - started,
            rate: (done * 1000) / elapsed,
            keysPerSecond: (keys * 1000) / elapsed,
            detail
          })
        })
    }
  })

// Without a callback only the key count is kept (the result reports it).
const trackKeysOnly = (): Tracker => {
  let keys = 0
  return {
    keys: () => keys,
    step: (_units, moreKeys) =>
      Effect.sync(() => {
        keys += moreKeys
      })
  }
}

/**
 * The final event of a progress stream: the operation's result.
 *
 * @internal
 */
export interface Done<A> {
  readonly _tag: "Done"
  readonly result: A
}

/**
 * Runs `run` with a progress callback and emits each progress event, then
 * `Done` with the result; the stream fails with the operation's error.
 *
 * @internal
 */
export const stream = <A, E, R>(
  run: (onProgress: OnProgress) => Effect.Effect<A, E, R>
): Stream.Stream<Progress | Done<A>, E, R> =>
  Stream.callback<Progress | Done<A>, E, R>((queue) =>
    Effect.flatMap(
      run((p) => Effect.asVoid(Queue.offer(queue, p))),
      (result) =>
        Effect.flatMap(Queue.offer(queue, { _tag: "Done", result } as Done<A>), () => Queue.end(queue))
    ), { bufferSize: 64, strategy: "sliding" })
