import { LRUCache } from 'lru-cache';
import { closedError } from './errors.js';
import type { IdempotencyStore, KeyedOutcome, KeyedPush, Publisher, PushAnswer } from './idempotency.js';

export interface MemoryIdempotencyOptions {
  /** Milliseconds a key is kept after its first publish (IDEMPOTENCY_TTL_SECONDS). */
  readonly ttlMs: number;
  /** Keys kept; the least recently used is forgotten first (IDEMPOTENCY_MAX_KEYS). */
  readonly maxKeys: number;
}

interface Done {
  readonly fingerprint: string;
  readonly answers: PushAnswer[];
}

interface InFlight {
  readonly fingerprint: string;
  readonly answers: Promise<PushAnswer[]>;
}

/**
 * The single-process store: finished keys in a bounded LRU with a TTL, keys being published in a
 * plain map (never evicted while their publish runs, and bounded by the requests in flight).
 * Look-up and reservation happen with no await between them, so two requests with one key
 * publish once.
 */
export class MemoryIdempotencyStore implements IdempotencyStore {
  private readonly done: LRUCache<string, Done>;
  private readonly inFlight = new Map<string, InFlight>();
  private closed = false;

  constructor(opts: MemoryIdempotencyOptions) {
    this.done = new LRUCache<string, Done>({ max: opts.maxKeys, ttl: opts.ttlMs, ttlAutopurge: false });
  }

  /** Keys kept (finished and in flight), for tests and metrics. */
  get size(): number {
    return this.done.size + this.inFlight.size;
  }

  async run(push: KeyedPush, via: Publisher): Promise<KeyedOutcome> {
    if (this.closed) throw closedError('idempotency store');
    const { key, fingerprint } = push;
    const done = this.done.get(key);
    if (done) {
      if (done.fingerprint !== fingerprint) return { kind: 'conflict' };
      return { kind: 'replayed', answers: done.answers };
    }
    const pending = this.inFlight.get(key);
    if (pending) {
      if (pending.fingerprint !== fingerprint) return { kind: 'conflict' };
      return { kind: 'replayed', answers: await pending.answers };
    }
    const answers = via.publish(push.inputs);
    this.inFlight.set(key, { fingerprint, answers });
    try {
      const a = await answers;
      this.done.set(key, { fingerprint, answers: a });
      return { kind: 'published', answers: a };
    } finally {
      // A failed publish records nothing: a retry with the key publishes.
      this.inFlight.delete(key);
    }
  }

  async close(): Promise<void> {
    this.closed = true;
    this.done.clear();
  }
}
