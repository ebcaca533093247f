import { LRUCache } from 'lru-cache';
import { type Message, messageBytes } from './message.js';
import { RingBuffer } from './ring.js';

/** Bounds of the in-process history. Every field has a hard limit, so memory has a ceiling. */
export interface HistoryOptions {
  /** Messages kept per stream (uid, group, broadcast). */
  readonly size: number;
  /** Milliseconds a message is kept; 0 keeps messages until evicted by the other bounds. */
  readonly ttlMs: number;
  /** Streams kept; the least recently used stream is forgotten first. */
  readonly maxStreams: number;
  /** Approximate bytes of all kept messages; least recently used streams go first. */
  readonly maxBytes: number;
  /** Clock, for tests. Defaults to `Date.now`. */
  readonly now?: () => number;
}

/** What a replay found: `complete: false` means history after the position was lost. */
export interface ReplayResult {
  readonly complete: boolean;
  /** Messages after the position, in seq order, each once (empty when incomplete). */
  readonly messages: Message[];
  /** True when a limit cut the answer: `messages` is then the first `limit` of them. */
  readonly more?: boolean;
}

class Stream {
  readonly ring: RingBuffer<Message>;
  bytes = 0;
  constructor(size: number, evictedSeq: number) {
    this.ring = new RingBuffer<Message>(size);
    this.ring.evictedSeq = evictedSeq;
  }
}

/**
 * Per-stream ring buffers with TTL, an LRU bound on streams and a byte bound on their content.
 *
 * Completeness is tracked per stream as the newest seq it has lost. A stream forgotten as a
 * whole leaves a tombstone (its newest seq) in a second bounded LRU; a forgotten tombstone
 * raises one global watermark. So a replay is refused only when something after the position
 * may really have been lost, never on a guess.
 */
export class History {
  private readonly streams: LRUCache<string, Stream>;
  private readonly tombstones: LRUCache<string, number>;
  private droppedWatermark = 0;
  private totalBytes = 0;
  private readonly now: () => number;

  constructor(private readonly opts: HistoryOptions) {
    this.now = opts.now ?? Date.now;
    this.tombstones = new LRUCache<string, number>({
      max: Math.max(1000, opts.maxStreams),
      dispose: (seq, _key, reason) => {
        if (reason === 'evict' && seq > this.droppedWatermark) this.droppedWatermark = seq;
      },
    });
    this.streams = new LRUCache<string, Stream>({
      max: opts.maxStreams,
      dispose: (stream, key) => {
        this.totalBytes -= stream.bytes;
        const newest = Math.max(stream.ring.newest()?.seq ?? 0, stream.ring.evictedSeq);
        if (newest > 0) this.tombstones.set(key, Math.max(newest, this.tombstones.peek(key) ?? 0));
      },
    });
  }

  /** Number of streams currently kept. */
  get streamCount(): number {
    return this.streams.size;
  }

  /** Approximate bytes held by kept messages. */
  get bytes(): number {
    return this.totalBytes;
  }

  /** Appends a message to each of the given streams (in seq order: callers append in order). */
  append(keys: readonly string[], msg: Message): void {
    const size = messageBytes(msg);
    for (const key of keys) {
      let s = this.streams.get(key);
      if (!s) {
        const lost = this.tombstones.peek(key) ?? this.droppedWatermark;
        this.tombstones.delete(key);
        s = new Stream(this.opts.size, lost);
        this.streams.set(key, s);
      }
      this.expire(s);
      const evicted = s.ring.push(msg);
      if (evicted) this.account(s, -messageBytes(evicted));
      this.account(s, size);
    }
    this.enforceBytes();
  }

  /**
   * Messages of the given streams with `seq > after`, merged in seq order and deduplicated, or
   * `complete: false` when any stream has lost a message newer than `after`. With a `limit`
   * (0 = none), each stream is read for at most `limit + 1` messages and the first `limit` of
   * the merge are returned, with `more` when there were more: the work is bounded by the limit.
   */
  replay(keys: readonly string[], after: number, limit = 0): ReplayResult {
    const parts: Message[][] = [];
    for (const key of keys) {
      const s = this.streams.get(key);
      if (s) {
        this.expire(s);
        if (s.ring.evictedSeq > after) return { complete: false, messages: [] };
        const part = s.ring.after(after, limit > 0 ? limit + 1 : 0);
        if (part.length > 0) parts.push(part);
      } else {
        const lost = this.tombstones.get(key) ?? this.droppedWatermark;
        if (lost > after) return { complete: false, messages: [] };
      }
    }
    const messages = mergeBySeq(parts);
    if (limit > 0 && messages.length > limit)
      return { complete: true, messages: messages.slice(0, limit), more: true };
    return { complete: true, messages };
  }

  /** Drops expired messages everywhere and forgets emptied streams; call periodically. */
  sweep(): void {
    if (this.opts.ttlMs <= 0) return;
    const empty: string[] = [];
    for (const [key, s] of this.streams.entries()) {
      this.expire(s);
      if (s.ring.size === 0) empty.push(key);
    }
    for (const key of empty) this.streams.delete(key);
  }

  clear(): void {
    this.streams.clear();
    this.tombstones.clear();
  }

  private expire(s: Stream): void {
    if (this.opts.ttlMs <= 0) return;
    const cutoff = this.now() - this.opts.ttlMs;
    for (let m = s.ring.oldest(); m && m.time <= cutoff; m = s.ring.oldest()) {
      s.ring.shift();
      this.account(s, -messageBytes(m));
    }
  }

  private account(s: Stream, delta: number): void {
    s.bytes += delta;
    this.totalBytes += delta;
  }

  private enforceBytes(): void {
    while (this.totalBytes > this.opts.maxBytes && this.streams.size > 1) this.streams.pop();
  }
}

/** Merges seq-ordered lists into one seq-ordered list without duplicates. */
export function mergeBySeq(parts: Message[][]): Message[] {
  if (parts.length === 0) return [];
  if (parts.length === 1) return parts[0]!;
  const all = parts.flat().sort((a, b) => a.seq - b.seq);
  const out: Message[] = [];
  let last = -1;
  for (const m of all) {
    if (m.seq !== last) out.push(m);
    last = m.seq;
  }
  return out;
}
