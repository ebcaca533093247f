import { closedError } from './errors.js';
import {
  type IdempotencyStore,
  type KeyedOutcome,
  type KeyedPush,
  type OnceRecord,
  type Publisher,
  type PushAnswer,
  parseOnceRecord,
} from './idempotency.js';
import type { Logger } from './logger.js';
import type { RedisClient } from './redis-connect.js';

/** How long a duplicate waits for the first request's answer before rebuilding it from the ids. */
export const DEFAULT_ANSWER_WAIT_MS = 5000;
const POLL_MS = 20;

export interface RedisIdempotencyOptions {
  /** Connected command client (the broker's). */
  readonly client: RedisClient;
  /** Key prefix of the deployment (the broker's, default `ssepush:`); keys are `<prefix>idem:<key>`. */
  readonly prefix: string;
  /** Milliseconds a key is kept after its first publish (IDEMPOTENCY_TTL_SECONDS). */
  readonly ttlMs: number;
  /** See `DEFAULT_ANSWER_WAIT_MS`. */
  readonly answerWaitMs?: number;
  readonly log?: Logger;
}

/**
 * The cluster store. The publish script itself looks the key up and, only when it is absent,
 * publishes and records `fingerprint + ids` with the TTL: one atomic step, so two nodes given one
 * key concurrently publish once. The publishing node then adds its full answer (online,
 * delivered) to the record, keeping the TTL.
 *
 * A duplicate that finds a record without an answer (the first is still counting who it reached,
 * or its node died in between) polls for it up to `answerWaitMs`, then answers from the recorded
 * ids with `online: false, delivered: 0`, which is all a dead node left behind.
 */
export class RedisIdempotencyStore implements IdempotencyStore {
  private closed = false;
  private readonly waitMs: number;

  constructor(private readonly opts: RedisIdempotencyOptions) {
    this.waitMs = opts.answerWaitMs ?? DEFAULT_ANSWER_WAIT_MS;
  }

  async run(push: KeyedPush, via: Publisher): Promise<KeyedOutcome> {
    if (this.closed) throw closedError('idempotency store');
    const key = `${this.opts.prefix}idem:${push.key}`;
    const r = await via.publishOnce(push.inputs, {
      key,
      fingerprint: push.fingerprint,
      ttlMs: this.opts.ttlMs,
    });
    if (r.kind === 'published') {
      await this.keepAnswer(key, push.fingerprint, r.value);
      return { kind: 'published', answers: r.value };
    }
    const rec = parseOnceRecord(r.record);
    if (rec.fingerprint !== push.fingerprint) return { kind: 'conflict' };
    return { kind: 'replayed', answers: rec.answers ?? (await this.awaitAnswer(key, rec)) };
  }

  async close(): Promise<void> {
    this.closed = true;
  }

  /**
   * Rewrites the record the script wrote (same fingerprint and ids, known from the answers) with
   * the answer added, keeping its TTL: one round trip. A failure only costs a rebuilt replay.
   */
  private async keepAnswer(key: string, fingerprint: string, answers: PushAnswer[]): Promise<void> {
    const first = answers[0]?.id ?? '';
    const epoch = first.slice(0, first.lastIndexOf('-'));
    const seqs = answers.map((a) => a.id.slice(a.id.lastIndexOf('-') + 1)).join(',');
    const record = `${fingerprint}\n${epoch}\n${seqs}\n${JSON.stringify(answers)}`;
    try {
      await this.opts.client.set(key, record, 'KEEPTTL', 'XX');
    } catch (err) {
      this.opts.log?.warn({ err }, 'idempotency answer not stored; a replay rebuilds it from the ids');
    }
  }

  private async awaitAnswer(key: string, rec: OnceRecord): Promise<PushAnswer[]> {
    const deadline = Date.now() + this.waitMs;
    while (Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, POLL_MS));
      if (this.closed) throw closedError('idempotency store');
      const text = await this.opts.client.get(key);
      if (text === null) break;
      const now = parseOnceRecord(text);
      if (now.answers) return now.answers;
    }
    return rec.ids.map((id) => ({ id, online: false, delivered: 0 }));
  }
}
