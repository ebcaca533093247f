import { type Mark, markOf, parseId } from './ids.js';
import type { PublishInput } from './message.js';

/**
 * Disconnect notices: what `POST /disconnect` told the uids it ended, kept for a short window so a
 * long-poll client that was between two polls at the call (nothing of it waited to be answered)
 * is told on its next poll, as a waiting poll was. Not a revocation: a notice never refuses
 * anything, and a poll that is past the call (a cursor after its position, a token signed in its
 * second or later) is not told.
 *
 * Guarantees every implementation keeps (checked by the shared contract suite):
 * - `find` is synchronous and local (it runs on every poll with a cursor), and answers for
 *   notices recorded on any node: at once for this node's own `record`, within one control-channel
 *   hop for others (Redis), and after a restart while the window lasts (Redis keeps them);
 * - for one uid the later notice replaces the earlier one;
 * - a notice is forgotten `ttlSec` after it was recorded; with `ttlSec` 0 nothing is kept;
 * - at most `max` uids hold a notice: past it the oldest are forgotten. Never a refusal: a kick
 *   must not fail for its notice, and a forgotten notice only leaves a client between two polls
 *   untold (the behaviour without notices);
 * - `close()` is idempotent.
 */
export interface DisconnectNotices {
  /** Records the notice for every uid of `n`; rejects (`unavailable`) when the backend cannot. */
  record(n: NoticeInput): Promise<void>;
  /** The live notice of `uid`, if any. */
  find(uid: string): DisconnectNotice | undefined;
  close(): Promise<void>;
}

/** One `POST /disconnect` call, as the notices of its uids remember it. */
export interface NoticeInput {
  readonly uids: readonly string[];
  readonly reason: string;
  readonly reconnect: boolean;
  /** The second of the call (seconds since the Unix epoch). */
  readonly atSec: number;
  /** The id of the call's mark (see `markInput`). */
  readonly position: string;
}

/** What a poll of a noticed uid is told, and what decides whether it is told. */
export interface DisconnectNotice {
  readonly reason: string;
  readonly reconnect: boolean;
  /** Tokens issued in this second or later (`iat`) were signed after the call: not told. */
  readonly atSec: number;
  /** The call's mark: polls resuming from it or later were answered after the call: not told. */
  readonly position: Mark;
  /** When the notice is forgotten, milliseconds since the Unix epoch. */
  readonly until: number;
}

/** Options shared by both backends. */
export interface DisconnectNoticeOptions {
  /** Seconds a notice is kept (`DISCONNECT_NOTICE_SECONDS`; 0 = off). */
  readonly ttlSec: number;
  /** Uids holding a notice at once (`MAX_DISCONNECT_NOTICES`); the oldest go first. */
  readonly max: number;
}

/**
 * The uid of a disconnect's mark: a name no token or push can carry (control characters are
 * refused where names enter), so the mark lies in a history stream nobody reads and is delivered
 * to nobody.
 */
export const DISCONNECT_MARK_UID = '\u0000disconnect';

/**
 * A disconnect's mark: one message to `DISCONNECT_MARK_UID` that gives the call an id of its own.
 * A position that did not move across the call cannot tell a cursor handed out before the call
 * from one handed out after it; past the mark it can, so every client is told once: an answer
 * given after the call (a waiting poll's disconnect, a told poll, any later poll) carries a cursor
 * at or past the mark, and a poll with such a cursor is not told again.
 */
export function markInput(reason: string): PublishInput {
  return { to: [DISCONNECT_MARK_UID], groups: [], event: 'disconnect', data: JSON.stringify(reason) };
}

/**
 * Whether a poll from `cursor` with a token issued at `iat` (seconds; `undefined` = no `iat`) is
 * one the call ended without telling: its token predates the call and its cursor is before the
 * call's mark (a cursor of another history, or not ours, is not past it).
 */
export function untold(n: DisconnectNotice, cursor: string, iat: number | undefined): boolean {
  if (iat !== undefined && iat >= n.atSec) return false;
  const c = parseId(cursor);
  return c === undefined || c.epoch !== n.position.epoch || c.seq < n.position.seq;
}

/** The notice one call leaves for each of its uids (one object, shared by all of them). */
export function noticeOf(n: Omit<NoticeInput, 'uids'>, until: number): DisconnectNotice {
  return Object.freeze({
    reason: n.reason,
    reconnect: n.reconnect,
    atSec: n.atSec,
    position: markOf(n.position),
    until,
  });
}

/**
 * The in-process table both backends answer `find` from: the whole store in memory mode, the
 * local mirror of Redis in Redis mode. Insertion order is age order (a uid noticed again moves to
 * the end), so the oldest notice is the first: bounding and expiry look at the front only.
 */
export class NoticeTable {
  private readonly byUid = new Map<string, DisconnectNotice>();

  constructor(private readonly max: number) {}

  get size(): number {
    return this.byUid.size;
  }

  set(uid: string, n: DisconnectNotice): void {
    this.byUid.delete(uid);
    this.byUid.set(uid, n);
    if (this.byUid.size > this.max) {
      for (const old of this.byUid.keys()) {
        this.byUid.delete(old);
        if (this.byUid.size <= this.max) break;
      }
    }
  }

  find(uid: string, now: number): DisconnectNotice | undefined {
    const n = this.byUid.get(uid);
    if (n === undefined) return undefined;
    if (n.until <= now) {
      this.byUid.delete(uid);
      return undefined;
    }
    return n;
  }

  /** Forgets expired notices from the front (notices of other nodes may arrive a little out of order: the rest go when looked up). */
  sweep(now: number): void {
    for (const [uid, n] of this.byUid) {
      if (n.until > now) return;
      this.byUid.delete(uid);
    }
  }

  clear(): void {
    this.byUid.clear();
  }
}

/** How often expired notices are swept from memory, at most. */
export const NOTICE_SWEEP_MS = 10_000;
