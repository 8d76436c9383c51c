/**
 * The bounded buffer between a subscriber connection and one subscription
 * stream: what the parse loop has delivered and the stream's consumer has
 * not taken yet.
 *
 * At most `capacity` messages wait in it. When one more arrives, the
 * strategy drops one: `dropping` drops the newcomer (the buffer keeps the
 * oldest run, in order), `sliding` drops the oldest waiting message (the
 * buffer keeps the newest). A buffer made with a `gap` function records each
 * run of drops as a marker at the place the messages went missing, which
 * `takeAll` turns into one gap event carrying the count; gap events offered
 * by the caller (`offerGap`: a reconnect, a move) are never dropped and do
 * not count against `capacity`. Every drop is counted in `dropped`.
 *
 * `pull` is the stream side: it takes everything waiting, or waits for the
 * next offer. A consumer holds at most one taken batch (at most `capacity`
 * messages) while it works, so one subscription holds at most twice
 * `capacity` messages in memory.
 *
 * It does not know what a message is, nor talk to a connection: `PubSub`
 * routes frames to buffers. Plain mutable state: it lives inside one
 * subscription and never escapes it.
 *
 * @internal
 */
import type * as Arr from "effect/Array"
import * as Effect from "effect/Effect"

/**
 * What a full buffer drops: the newcomer (`dropping`) or the oldest waiting
 * message (`sliding`).
 *
 * @internal
 */
export type Strategy = "dropping" | "sliding"

// A run of dropped messages at its place in the buffer. Mutable while it
// waits (later drops of the same run add to it); `takeAll` hands the
// consumer an immutable gap event made from it.
class Dropped {
  count = 1
}

// A gap event offered by the caller, wrapped so that `sliding` tells it
// from a message without knowing what either is.
class Held<G> {
  readonly gap: G
  constructor(gap: G) {
    this.gap = gap
  }
}

/** @internal */
export class SubscriptionBuffer<A, G> {
  private items: Array<A | Held<G> | Dropped | undefined> = []
  private head = 0
  // How many messages (not gaps, not markers) wait.
  private messages = 0
  // How many markers and held gap events wait: `takeAll` converts only
  // when there are some.
  private specials = 0
  /** Messages dropped since the buffer was made. */
  dropped = 0
  /** Called once by the next offer, when a `pull` is waiting for one. */
  waiter: (() => void) | undefined = undefined

  readonly capacity: number
  readonly strategy: Strategy
  private readonly gap: ((dropped: number) => G) | undefined

  /**
   * `gap` makes the gap event of a run of `dropped` messages; without it,
   * drops are only counted.
   */
  constructor(capacity: number, strategy: Strategy, gap?: (dropped: number) => G) {
    this.capacity = capacity
    this.strategy = strategy
    this.gap = gap
  }

  /** How many entries wait: messages, gap events and markers. */
  get size(): number {
    return this.items.length - this.head
  }

  /**
   * Adds a message; returns `true` when a message was dropped to make room
   * (the newcomer under `dropping`, the oldest under `sliding`).
   */
  offer(message: A): boolean {
    if (this.messages < this.capacity) {
      this.items.push(message)
      this.messages++
      this.wake()
      return false
    }
    this.dropped++
    if (this.strategy === "dropping") {
      if (this.gap !== undefined) this.markTail()
      return true
    }
    this.items.push(message)
    this.dropOldest()
    return true
  }

  /** Adds a gap event: never dropped, not counted against `capacity`. */
  offerGap(gap: G): void {
    this.items.push(new Held(gap))
    this.specials++
    this.wake()
  }

  /** Removes and returns everything waiting, oldest first, markers as gap events. */
  takeAll(): Array<A | G> {
    const out = (this.head === 0 ? this.items : this.items.slice(this.head)) as Array<A | G | Held<G> | Dropped>
    this.items = []
    this.head = 0
    this.messages = 0
    if (this.specials === 0) return out as Array<A | G>
    this.specials = 0
    for (let i = 0; i < out.length; i++) {
      const item = out[i]
      if (item instanceof Dropped) out[i] = this.gap!(item.count)
      else if (item instanceof Held) out[i] = item.gap
    }
    return out as Array<A | G>
  }

  private wake(): void {
    const waiter = this.waiter
    if (waiter === undefined) return
    this.waiter = undefined
    waiter()
  }

  // `dropping`: the newcomer is lost after everything waiting; a marker at
  // the tail counts the run (it wakes nobody: a full buffer has no waiter).
  private markTail(): void {
    const tail = this.items.length > this.head ? this.items[this.items.length - 1] : undefined
    if (tail instanceof Dropped) {
      tail.count++
      return
    }
    this.items.push(new Dropped())
    this.specials++
  }

  // `sliding`: the oldest waiting message goes. Gap events and markers
  // before it stay, in order; a marker right before it absorbs it.
  private dropOldest(): void {
    const items = this.items
    let i = this.head
    while (items[i] instanceof Dropped || items[i] instanceof Held) i++
    if (this.gap !== undefined && !(i > this.head && items[i - 1] instanceof Dropped)) {
      items[i] = new Dropped()
      this.specials++
      return
    }
    if (this.gap !== undefined) (items[i - 1] as Dropped).count++
    // Close the hole: what precedes the dropped message moves up one.
    for (let j = i; j > this.head; j--) items[j] = items[j - 1]
    items[this.head] = undefined
    this.head++
    this.compact()
  }

  // Like `Fifo`: compact only when the dead prefix dominates.
  private compact(): void {
    if (this.head >= 1024 && this.head * 2 >= this.items.length) {
      this.items = this.items.slice(this.head)
      this.head = 0
    }
  }
}

/**
 * The stream side of a buffer: everything waiting, or the next offer's
 * batch. The wake-up runs inside the parse loop, so the consumer is only
 * rescheduled (`yieldNow`), never run there.
 *
 * @internal
 */
export const pull = <A, G>(buffer: SubscriptionBuffer<A, G>): Effect.Effect<Arr.NonEmptyReadonlyArray<A | G>> => {
  const take = Effect.sync(() => buffer.takeAll() as unknown as Arr.NonEmptyReadonlyArray<A | G>)
  const afterWake = Effect.andThen(Effect.yieldNow, take)
  const wait = Effect.callback<Arr.NonEmptyReadonlyArray<A | G>>((resume) => {
    buffer.waiter = () => resume(afterWake)
    return Effect.sync(() => {
      buffer.waiter = undefined
    })
  })
  return Effect.suspend(() => buffer.size > 0 ? take : wait)
}
