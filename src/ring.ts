/**
 * A bounded FIFO of messages ordered by `seq`. Besides what it keeps, it remembers the newest
 * `seq` it has dropped: replay from a position is provably complete exactly when nothing newer
 * than that position was ever dropped (the oldest kept id alone cannot tell that).
 *
 * Its array grows on demand (doubling, up to `capacity`) instead of being allocated at full
 * capacity: with HISTORY_SIZE=2000, 100k streams of one message each held 1.6 GiB of empty slots.
 * `slots` says how many are allocated, for memory accounting.
 */
export class RingBuffer<T extends { readonly seq: number }> {
  private items: (T | undefined)[];
  private head = 0; // index of the oldest item
  private count = 0;
  /** Newest `seq` ever evicted (by capacity or expiry); 0 when nothing was. */
  evictedSeq = 0;

  constructor(
    readonly capacity: number,
    initialSlots = 4,
  ) {
    if (!Number.isSafeInteger(capacity) || capacity < 1) throw new RangeError('capacity must be >= 1');
    this.items = new Array(Math.max(1, Math.min(capacity, initialSlots)));
  }

  get size(): number {
    return this.count;
  }

  /** Slots allocated (at most `capacity`). */
  get slots(): number {
    return this.items.length;
  }

  /** Appends an item; when full, the oldest is evicted and returned. */
  push(item: T): T | undefined {
    let evicted: T | undefined;
    if (this.count === this.items.length) {
      if (this.items.length < this.capacity) this.grow();
      else evicted = this.shift();
    }
    this.items[(this.head + this.count) % this.items.length] = item;
    this.count++;
    return evicted;
  }

  /** Removes and returns the oldest item, recording it as evicted. */
  shift(): T | undefined {
    if (this.count === 0) return undefined;
    const item = this.items[this.head]!;
    this.items[this.head] = undefined;
    this.head = (this.head + 1) % this.items.length;
    this.count--;
    if (item.seq > this.evictedSeq) this.evictedSeq = item.seq;
    return item;
  }

  oldest(): T | undefined {
    return this.count === 0 ? undefined : this.items[this.head];
  }

  newest(): T | undefined {
    return this.count === 0 ? undefined : this.at(this.count - 1);
  }

  /** Every item, oldest first. */
  all(): T[] {
    return this.after(-Infinity);
  }

  /** Items with `seq > after`, oldest first, at most `limit` of them (0 = all; binary search). */
  after(after: number, limit = 0): T[] {
    let lo = 0;
    let hi = this.count;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (this.at(mid).seq <= after) lo = mid + 1;
      else hi = mid;
    }
    const end = limit > 0 ? Math.min(this.count, lo + limit) : this.count;
    const out: T[] = [];
    for (let i = lo; i < end; i++) out.push(this.at(i));
    return out;
  }

  private at(i: number): T {
    return this.items[(this.head + i) % this.items.length]!;
  }

  /** Doubles the array (up to `capacity`), oldest item first. */
  private grow(): void {
    const next: (T | undefined)[] = new Array(Math.min(this.capacity, this.items.length * 2));
    for (let i = 0; i < this.count; i++) next[i] = this.at(i);
    this.items = next;
    this.head = 0;
  }
}
