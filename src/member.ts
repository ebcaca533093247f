import type { Subscriber } from './auth.js';
import type { Mark, Position } from './ids.js';
import type { Logger } from './logger.js';
import type { Message } from './message.js';
import type { Metrics } from './metrics.js';

/** Why a connection ended. */
export type CloseReason =
  | 'client'
  | 'slow'
  | 'expired'
  | 'shutdown'
  | 'resync'
  | 'timeout'
  | 'answered'
  | 'disconnected';

/**
 * Most live messages queued on one connection while its replay is fetched. Past it the
 * connection is closed like a slow client: it reconnects and replays, nothing is lost.
 */
export const MAX_PENDING = 10_000;

/** What the sessions of one hub share: one object per hub, so a session costs one pointer for it. */
export interface SessionHost {
  readonly metrics?: Metrics | undefined;
  readonly log?: Logger | undefined;
  /** The session ended, whatever ended it (called once): the hub unregisters it. */
  ended(m: Member): void;
  /** A stream's unsent output (`buffered` bytes) passed its bound: the hub ends it as slow. */
  slow(m: Member, buffered: number): void;
}

/**
 * What the hub indexes by uid and group: an open SSE stream or a waiting long-poll. A member is
 * at a position, the newest message handed to it: anything at or before it is a duplicate. Until
 * it goes live its epoch is `''` and live messages wait in `pending`; going live sets the
 * position it continues from (after a replay, a reset, or the current position).
 *
 * The hub drives every member through the same six calls and never asks which kind it is.
 */
export abstract class Member implements Position {
  epoch = '';
  seq = 0;
  /** Live messages that arrived while the replay was being fetched; `null` once live. */
  pending: Message[] | null = [];
  closed = false;

  constructor(
    /** Its token's subscriber, its groups replaced when they change at run time (see `groups`). */
    public sub: Subscriber,
    protected readonly host: SessionHost,
  ) {}

  /** For counts only; the hub never branches on it. A getter: no memory per connection. */
  abstract get kind(): 'stream' | 'poll';

  get uid(): string {
    return this.sub.uid;
  }
  get groups(): readonly string[] {
    return this.sub.groups;
  }
  /** Runtime groups (`POST /groups`): only the registry sets it, re-indexing the member. */
  set groups(groups: readonly string[]) {
    this.sub = Object.freeze({ ...this.sub, groups: Object.freeze([...groups]) });
  }
  get expiresAt(): number | undefined {
    return this.sub.expiresAt;
  }
  get live(): boolean {
    return this.pending === null;
  }

  /**
   * Hands over one live message. Returns true when it was written to the client now (counted as
   * delivered); a message queued or batched is counted when it leaves.
   */
  abstract deliver(msg: Message): boolean;

  /**
   * Hands over, in id order, messages this member missed while live fan-out was interrupted (the
   * backend subscription came back, see `catch-up.ts`). Returns how many were written now.
   */
  missed(messages: readonly Message[]): number {
    let n = 0;
    // Read for the groups it had then: one left since (`POST /groups`) is not handed over.
    for (const m of messages) if (this.addressed(m) && this.deliver(m)) n++;
    return n;
  }

  /**
   * The history this member lives in was replaced (a wiped backend): continue from `at`, the
   * position just before the new history's first message, or end so the client resumes there.
   */
  abstract reset(at: Mark, reason: string): void;

  /** The shared heartbeat: `frame` carries the hub's head position, for members at or past it. */
  abstract heartbeat(frame: string, head: Position | undefined): void;

  /** Ends the member (a stream closes, a poll answers what it has). Idempotent. */
  abstract end(reason: CloseReason): void;

  /**
   * The backend ends this uid's connections (`POST /disconnect`): the client is told why and
   * whether to reconnect (a stream's `event: disconnect`, a poll answer's `disconnect`), then the
   * member ends. Not a message: nothing is stored, counted as delivered, or replayed. `head` is
   * the newest position the hub has fanned out: a live member has been handed everything
   * addressed to it up to there.
   */
  abstract disconnect(reason: string, reconnect: boolean, head?: Mark): void;

  /** Whether `msg` is new here: after this member's position, and of its epoch once live. */
  protected fresh(msg: Message): boolean {
    if (this.closed || msg.seq <= this.seq) return false;
    // A member already living in a newer epoch (its reset came from the wiped backend before
    // this node saw the new epoch) never takes a late message of the old one.
    return this.epoch === '' || this.epoch === msg.epoch;
  }

  /** Queues a live message while the replay is in flight; false for a repeat of the last one. */
  protected queue(msg: Message): boolean {
    const pending = this.pending!;
    // Matched through its uid and groups, a message is handed over once per match, in a row.
    if ((pending[pending.length - 1]?.seq ?? 0) >= msg.seq) return false;
    pending.push(msg);
    return true;
  }

  /**
   * Whether `msg` is addressed to this member's uid or groups as they are now: a message queued or
   * replayed for a group the member has left since is never handed over.
   */
  protected addressed(msg: Message): boolean {
    if (msg.to.length === 0 && msg.groups.length === 0) return true;
    if (msg.to.includes(this.uid)) return true;
    const groups = this.groups;
    return msg.groups.some((g) => groups.includes(g));
  }

  /** Goes live at `epoch`/`seq`: returns the queued messages still addressed to it, to hand over again in order. */
  protected goLive(epoch: string, seq: number): Message[] {
    const queued = (this.pending ?? []).filter((m) => this.addressed(m));
    this.pending = null;
    this.epoch = epoch;
    this.seq = Math.max(this.seq, seq);
    return queued;
  }
}
