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

/**
 * One kept message, shared by every stream it was addressed to: its bytes are counted once,
 * when the first stream takes it, and released when the last one lets it go.
 */
interface Entry {
  readonly seq: number;
  readonly msg: Message;
  readonly bytes: number;
  refs: number;
}

/** V8 cost of an entry object and its slot in the message's target lists, roughly. */
const ENTRY_BYTES = 48;
/**
 * Fixed cost of one stream: its object, its ring object and array header, its LRU entry and
 * key string header (the key's characters and the ring's slots are added per stream).
 */
const STREAM_BYTES = 320;
/** A tombstone: its LRU entry, key string header and number (plus the key's characters). */
const TOMBSTONE_BYTES = 160;
/** Smallest tombstone budget (about 6,000 tombstones). */
const TOMBSTONE_BUDGET_MIN = 1024 * 1024;
/** One allocated ring slot (a pointer). */
const SLOT_BYTES = 8;

/** Bytes held by a message: `messageBytes` plus its entry and the names it carries. */
function entryBytes(msg: Message): number {
  let names = 0;
  for (const n of msg.to) names += 2 * n.length + 24;
  for (const n of msg.groups) names += 2 * n.length + 24;
  return messageBytes(msg) + ENTRY_BYTES + names;
}

class Stream {
  readonly ring: RingBuffer<Entry>;
  /** Bytes of the stream itself (key, objects, ring slots); its messages are counted apart. */
  bytes: number;
  constructor(key: string, size: number, evictedSeq: number) {
    this.ring = new RingBuffer<Entry>(size);
    this.ring.evictedSeq = evictedSeq;
    this.bytes = STREAM_BYTES + 2 * key.length + SLOT_BYTES * this.ring.slots;
  }
}

/**
 * Per-stream ring buffers with TTL, an LRU bound on streams and a byte bound on what is held.
 *
 * `MAX_HISTORY_BYTES` counts what is really held: each message once however many streams keep
 * it (a push to 1,000 uids is one message, not 1,000), each stream's key, objects and allocated
 * ring slots (rings grow on demand); tombstones have a budget of their own (a quarter of it). Counted per
 * stream, one 64 KiB push to 1,000 uids used to
 * evict every other stream; uncounted, empty ring slots held 1.6 GiB under a 256 MiB bound.
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
    // Tombstones are held too, in a budget of their own beside MAX_HISTORY_BYTES: a quarter of
    // it, at least 1 MiB (an evicted one raises the watermark: completeness stays exact, only
    // precision is lost, so they do not compete with history). No tombstone may exceed the
    // budget: the LRU would drop it without an eviction, and the watermark with it.
    const tombstoneBudget = Math.max(TOMBSTONE_BUDGET_MIN, Math.floor(opts.maxBytes / 4));
    this.tombstones = new LRUCache<string, number>({
      max: Math.max(1000, opts.maxStreams),
      maxSize: tombstoneBudget,
      sizeCalculation: (_seq, key) => Math.min(tombstoneBudget, TOMBSTONE_BYTES + 2 * key.length),
      dispose: (seq, _key, reason) => {
        if (reason === 'evict' && seq > this.droppedWatermark) this.droppedWatermark = seq;
      },
    });
    this.streams = new LRUCache<string, Stream>({
      max: opts.maxStreams,
      dispose: (stream, key) => {
        this.totalBytes -= stream.bytes;
        for (const e of stream.ring.all()) this.release(e);
        const newest = Math.max(stream.ring.newest()?.seq ?? 0, stream.ring.evictedSeq);
        if (newest > 0) this.tombstones.set(key, Math.max(newest, this.tombstones.peek(key) ?? 0));
      },
    });
  }

  /** Number of streams currently kept. */
  get streamCount(): number {
    return this.streams.size;
  }

  /** Approximate bytes held against MAX_HISTORY_BYTES: messages (each once), streams, ring slots. */
  get bytes(): number {
    return this.totalBytes;
  }

  /** Approximate bytes held by tombstones (their own budget: max(1 MiB, MAX_HISTORY_BYTES / 4)). */
  get tombstoneBytes(): number {
    return this.tombstones.calculatedSize;
  }

  /** Appends a message to each of the given streams (in seq order: callers append in order). */
  append(keys: readonly string[], msg: Message): void {
    const entry: Entry = { seq: msg.seq, msg, bytes: entryBytes(msg), refs: 0 };
    for (const key of keys) {
      let s = this.streams.get(key);
      if (!s) {
        const lost = this.tombstones.peek(key) ?? this.droppedWatermark;
        this.tombstones.delete(key);
        s = new Stream(key, this.opts.size, lost);
        this.totalBytes += s.bytes;
        this.streams.set(key, s);
      }
      this.expire(s);
      const slots = s.ring.slots;
      if (entry.refs++ === 0) this.totalBytes += entry.bytes;
      const evicted = s.ring.push(entry);
      if (evicted) this.release(evicted);
      if (s.ring.slots !== slots) this.account(s, SLOT_BYTES * (s.ring.slots - slots));
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
        if (part.length > 0) parts.push(part.map((e) => e.msg));
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
    this.totalBytes = 0;
  }

  private expire(s: Stream): void {
    if (this.opts.ttlMs <= 0) return;
    const cutoff = this.now() - this.opts.ttlMs;
    for (let e = s.ring.oldest(); e && e.msg.time <= cutoff; e = s.ring.oldest()) {
      s.ring.shift();
      this.release(e);
    }
  }

  /** A stream let go of an entry; the last one to do so frees its bytes. */
  private release(e: Entry): void {
    if (--e.refs === 0) this.totalBytes -= e.bytes;
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
