/**
 * A first-in first-out queue over one array and a head index.
 *
 * `Array.prototype.shift` moves every element on large arrays; with
 * thousands of commands in flight that is quadratic. Here `shift` is O(1)
 * and the array is compacted only when the dead prefix dominates.
 * Plain mutable data: it lives inside one connection and never escapes it.
 *
 * @internal
 */
export class Fifo<A> {
  private items: Array<A | undefined> = []
  private head = 0

  get length(): number {
    return this.items.length - this.head
  }

  push(item: A): void {
    this.items.push(item)
  }

  peek(): A | undefined {
    return this.head < this.items.length ? this.items[this.head] : undefined
  }

  shift(): A | undefined {
    if (this.head >= this.items.length) return undefined
    const item = this.items[this.head]
    this.items[this.head] = undefined
    this.head++
    if (this.head === this.items.length) {
      // Empty: restart at 0 so the array never grows while traffic is steady.
      this.items.length = 0
      this.head = 0
    } else if (this.head >= 1024 && this.head * 2 >= this.items.length) {
      this.items = this.items.slice(this.head)
      this.head = 0
    }
    return item
  }

  /** Removes and returns every item, oldest first. */
  drain(): Array<A> {
    const out = this.items.slice(this.head) as Array<A>
    this.items = []
    this.head = 0
    return out
  }

  /** Puts items back at the front, keeping their order. */
  unshiftAll(items: ReadonlyArray<A>): void {
    if (items.length === 0) return
    this.items = [...items, ...this.items.slice(this.head)]
    this.head = 0
  }
}
