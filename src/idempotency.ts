import { createHash } from 'node:crypto';
import { badRequest, conflict } from './errors.js';
import type { Message, PublishInput } from './message.js';

/** Seconds an answer is kept for its key (`IDEMPOTENCY_TTL_SECONDS`). */
export const DEFAULT_IDEMPOTENCY_TTL_SECONDS = 86_400;
/** Keys the memory store keeps; the least recently used is forgotten first (`IDEMPOTENCY_MAX_KEYS`). */
export const DEFAULT_IDEMPOTENCY_MAX_KEYS = 100_000;

const KEY_RE = /^[A-Za-z0-9._:-]{1,128}$/;

/**
 * The `Idempotency-Key` header as a value: undefined when absent, 400 when malformed (1-128 of
 * `[A-Za-z0-9._:-]`, given once).
 */
export function parseIdempotencyKey(header: string | string[] | undefined): string | undefined {
  if (header === undefined) return undefined;
  if (typeof header !== 'string' || !KEY_RE.test(header)) {
    throw badRequest('Idempotency-Key must be 1-128 of [A-Za-z0-9._:-]', 'bad_idempotency_key');
  }
  return header;
}

/**
 * What a keyed request asks for, hashed: the validated messages and whether it was a batch. Taken
 * after validation rather than from the raw bytes, so a retry is recognised whatever its
 * whitespace, key order or encoding (JSON or form) as long as it asks for the same messages.
 */
export function fingerprintOf(inputs: readonly PublishInput[], batch: boolean): string {
  const h = createHash('sha256');
  h.update(batch ? 'batch\n' : 'single\n');
  for (const i of inputs) h.update(`${JSON.stringify([i.event, i.to, i.groups])}\n${i.data}\n`);
  return h.digest('hex');
}

/** One published message's answer, as `POST /push` gives it (`PushResult`). */
export interface PushAnswer {
  readonly id: string;
  readonly online: boolean;
  readonly delivered: number;
}

/** A keyed publish as the atomic broker step sees it. */
export interface OnceArgs {
  /** The storage key (prefix and key), never shared with unkeyed data. */
  readonly key: string;
  readonly fingerprint: string;
  /** Milliseconds the record lives. */
  readonly ttlMs: number;
}

/** A keyed publish either published, or found the key already recorded (its record text). */
export type OnceResult<T> =
  | { readonly kind: 'published'; readonly value: T }
  | { readonly kind: 'recorded'; readonly record: string };

/**
 * Optional broker ability (Redis): look the key up and, only when absent, publish and record
 * `key -> fingerprint + ids` with a TTL, all in one atomic step across every node.
 */
export interface OnceBroker {
  publishOnce(inputs: readonly PublishInput[], once: OnceArgs): Promise<OnceResult<Message[]>>;
}

/** The broker's `OnceBroker` ability, found by shape (the hub imports no Redis code). */
export function onceAbility<B extends object>(b: B): (B & OnceBroker) | undefined {
  const o = b as B & Partial<OnceBroker>;
  return typeof o.publishOnce === 'function' ? (o as B & OnceBroker) : undefined;
}

/** What a store publishes through (the hub): a plain publish, and the atomic keyed one. */
export interface Publisher {
  publish(inputs: readonly PublishInput[]): Promise<PushAnswer[]>;
  publishOnce(inputs: readonly PublishInput[], once: OnceArgs): Promise<OnceResult<PushAnswer[]>>;
}

/** A request carrying an `Idempotency-Key`. */
export interface KeyedPush {
  readonly key: string;
  readonly fingerprint: string;
  readonly inputs: readonly PublishInput[];
}

/** The outcome of a keyed push: an expected outcome, so a value. */
export type KeyedOutcome =
  | { readonly kind: 'published'; readonly answers: PushAnswer[] }
  | { readonly kind: 'replayed'; readonly answers: PushAnswer[] }
  | { readonly kind: 'conflict' };

/**
 * Remembers, per `Idempotency-Key`, what its first request published and answered.
 *
 * Guarantees every implementation keeps (checked by test/contract/idempotency-contract.ts):
 * - one publish per key while the key is kept: the memory store within its process (the check
 *   and the reservation happen with no await between them), the Redis store across every node
 *   (the check and the publish are one Lua script);
 * - the same key with the same fingerprint answers the first answer, field for field, and
 *   publishes nothing; with another fingerprint it is `conflict`;
 * - a duplicate arriving while the first is in flight waits for the first's answer (it never
 *   gets `in_progress`); if the first publish fails, nothing is recorded and a retry publishes;
 * - keys are kept `ttlMs` after their first publish; the memory store keeps at most `maxKeys`
 *   (least recently used forgotten first): a forgotten key publishes again;
 * - after `close()` resolves, `run` rejects with a `closed` error. `close()` is idempotent.
 */
export interface IdempotencyStore {
  run(push: KeyedPush, via: Publisher): Promise<KeyedOutcome>;
  close(): Promise<void>;
}

/** A key reused with another body (409 at the edge). */
export const idempotencyConflict = () =>
  conflict('this Idempotency-Key was used with a different request body', 'idempotency_conflict');

/** The Redis record: `<fingerprint>\n<epoch>\n<seq,seq,...>[\n<answer JSON>]`. */
export interface OnceRecord {
  readonly fingerprint: string;
  readonly ids: string[];
  /** The first request's answers, once its node stored them. */
  readonly answers: PushAnswer[] | undefined;
}

export function parseOnceRecord(text: string): OnceRecord {
  const [fingerprint = '', epoch = '', seqs = '', answer] = text.split('\n', 4);
  const ids = seqs === '' ? [] : seqs.split(',').map((s) => `${epoch}-${s}`);
  return {
    fingerprint,
    ids,
    answers: answer === undefined ? undefined : (JSON.parse(answer) as PushAnswer[]),
  };
}

/**
 * The one call a push route makes for a request with an `Idempotency-Key`: publishes through the
 * store (at most once per key) and answers the first answer; 409 `idempotency_conflict` when the
 * key came with other messages.
 */
export async function publishIdempotent(
  store: IdempotencyStore,
  via: Publisher,
  key: string,
  inputs: readonly PublishInput[],
  batch: boolean,
): Promise<{ answers: PushAnswer[]; replayed: boolean }> {
  const r = await store.run({ key, fingerprint: fingerprintOf(inputs, batch), inputs }, via);
  if (r.kind === 'conflict') throw idempotencyConflict();
  return { answers: r.answers, replayed: r.kind === 'replayed' };
}
