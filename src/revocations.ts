import { SsePushError } from './errors.js';

/**
 * Revoked subscriber tokens (`POST /disconnect` with `revoke: true`): per uid, the second of the
 * newest revocation. A token of that uid issued earlier (`iat` before that second), or carrying
 * no `iat`, is refused until the revocation is `ttlSec` old; a token signed afterwards works.
 *
 * Guarantees every implementation keeps (checked by the shared contract suite):
 * - `isRevoked` is synchronous and local (it runs on every connect), and answers for revocations
 *   made on any node: at once for this node's own `revoke`, within the backend's propagation
 *   delay for others (Redis: one pub/sub hop), and after a restart (Redis keeps them);
 * - for one uid the later revocation wins; an earlier second never lowers it;
 * - at most `max` uids hold a live revocation: a `revoke` that would pass it is refused whole
 *   (`too_many_revocations`, HTTP 429) and changes nothing; expired entries never count;
 * - `close()` is idempotent.
 */
export interface Revocations {
  /** Revokes tokens of `uids` issued before second `atSec`; rejects when the bound is reached. */
  revoke(uids: readonly string[], atSec: number): Promise<void>;
  /**
   * Whether a token of `uid` issued at `iat` (seconds; `undefined` = no `iat`) is refused. Throws
   * an `unavailable` error while the store cannot answer yet (Redis: not loaded at start).
   */
  isRevoked(uid: string, iat: number | undefined): boolean;
  /**
   * While `isRevoked` cannot answer yet (Redis: reloading after its channel missed commands, which
   * takes one round trip once Redis is back), a promise that settles when it can, or after
   * `timeoutMs`; `undefined` when it can answer now, or when nothing is reloading (Redis: its
   * channel is down, and `isRevoked` refuses at once). Absent: it always can (memory).
   */
  loading?(timeoutMs: number): Promise<void> | undefined;
  close(): Promise<void>;
}

/** Options shared by both backends. */
export interface RevocationOptions {
  /** Seconds a revocation lasts (`REVOKE_TTL_SECONDS`). */
  readonly ttlSec: number;
  /** Uids with a live revocation kept at once (`MAX_REVOCATIONS`). */
  readonly max: number;
}

/** How often expired revocations are swept from memory, at most. */
export const REVOCATION_SWEEP_MS = 60_000;

export const nowSec = () => Math.floor(Date.now() / 1000);

/** The answer to a revoke past `MAX_REVOCATIONS`. */
export const tooManyRevocations = (max: number) =>
  new SsePushError(
    'limited',
    'too_many_revocations',
    `at most ${max} uids can hold a revocation at once (MAX_REVOCATIONS); retry when older ones expire`,
  );

/**
 * The in-process table both backends answer `isRevoked` from: the whole store in memory mode, the
 * local mirror of Redis in Redis mode. uid -> second of its newest revocation.
 */
export class RevocationTable {
  private readonly at = new Map<string, number>();

  constructor(private readonly ttlSec: number) {}

  get size(): number {
    return this.at.size;
  }

  has(uid: string): boolean {
    return this.at.has(uid);
  }

  /** Records a revocation of `uid` at `atSec`; a later one already held wins. */
  set(uid: string, atSec: number): void {
    const old = this.at.get(uid);
    if (old === undefined || old < atSec) this.at.set(uid, atSec);
  }

  isRevoked(uid: string, iat: number | undefined, now: number): boolean {
    const at = this.at.get(uid);
    if (at === undefined) return false;
    if (at + this.ttlSec <= now) {
      this.at.delete(uid);
      return false;
    }
    return iat === undefined || iat < at;
  }

  /** Forgets expired revocations (a full pass: entries may arrive out of order from other nodes). */
  sweep(now: number): void {
    for (const [uid, at] of this.at) if (at + this.ttlSec <= now) this.at.delete(uid);
  }

  /** How many of `uids` hold no revocation yet. */
  freshCount(uids: readonly string[]): number {
    let n = 0;
    for (const u of uids) if (!this.at.has(u)) n++;
    return n;
  }
}
