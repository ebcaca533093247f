import type { Subscriber } from './auth.js';
import type { Broker } from './broker.js';
import type { DisconnectNotice } from './disconnect-notices.js';
import { type Mark, markOf } from './ids.js';
import { type CloseReason, Member, type SessionHost } from './member.js';
import { type Message, streamsOfSubscriber } from './message.js';
import { pageOf } from './stream-session.js';

/** Replay pages of messages all for others read in one poll before it answers their position. */
const MAX_EMPTY_PAGES = 20;

/** The answer of one long-poll request. */
export interface PollAnswer {
  readonly messages: readonly Message[];
  readonly cursor: string;
  readonly reset?: true;
  /** The backend ended this uid's connections (`POST /disconnect`). */
  readonly disconnect?: { readonly reason: string; readonly reconnect: boolean };
}

/**
 * Most messages in one long-poll answer; the client polls again at once when it got any. An
 * answer also carries at most `maxBytes` (half of MAX_BUFFERED_BYTES) of messages, one at least: its
 * cursor is the last message sent, so the next poll continues from there.
 */
export const POLL_BATCH_MAX = 100;

/**
 * One long-poll request. Without a cursor it answers the current position. With one, it answers
 * retained messages after it at once, a reset when replay cannot be complete, or waits live for
 * the next messages (those of one tick travel together) until its timeout. Answered once.
 */
export class PollSession extends Member {
  private batch: Message[] = [];
  private batchBytes = 0;
  private timer: NodeJS.Timeout | undefined;
  /** The id this poll answers with when it has no message: the client's cursor until live. */
  cursor = '';

  constructor(
    sub: Subscriber,
    /** Answers the request; called at most once. */
    private readonly respond: (a: PollAnswer) => void,
    host: SessionHost,
    /** Most bytes of messages in one answer (half of MAX_BUFFERED_BYTES): an unread one holds twice that. */
    private readonly maxBytes = Number.POSITIVE_INFINITY,
  ) {
    super(sub, host);
  }

  get kind(): 'poll' {
    return 'poll';
  }

  /**
   * Starts answering; `head` is the newest position this node has fanned out, the answer of a
   * fresh poll that ends before it learnt the current one (drain, failure): never an empty cursor.
   * A failure answers like a timeout (its cursor, no messages): the client polls again.
   * `notice` is a disconnect this poll's client has not been told of (it was between two polls):
   * the poll answers what is owed as usual, and once nothing is, the disconnect instead of waiting.
   */
  open(
    broker: Broker,
    cursor: string | undefined,
    timeoutMs: number,
    head: Mark | undefined,
    notice?: DisconnectNotice,
  ): void {
    this.start(broker, cursor, timeoutMs, head, notice).catch((err: unknown) => {
      this.host.log?.warn({ err }, 'poll failed');
      this.end('timeout');
    });
  }

  private async start(
    broker: Broker,
    cursor: string | undefined,
    timeoutMs: number,
    head: Mark | undefined,
    notice: DisconnectNotice | undefined,
  ): Promise<void> {
    if (cursor === undefined) {
      this.cursor = head?.id ?? '';
      this.answer({ messages: [], cursor: await broker.position() });
      return;
    }
    this.cursor = cursor;
    // Only what one answer can carry is read: an old cursor costs the backend one bounded call.
    // Messages for others (`exclude`) are filtered by the broker after the limit, so a page can
    // hold none of ours and still have more after it: read on from its position, a bounded number
    // of times, then answer that position as the cursor (the client polls again at once).
    const streams = streamsOfSubscriber(this.uid, this.groups);
    let r = await broker.replay(streams, cursor, { limit: POLL_BATCH_MAX, reader: this.uid });
    for (let page = 1; r.complete && r.more && page < MAX_EMPTY_PAGES; page++) {
      if (this.closed) return;
      if (r.messages.some((m) => this.addressed(m))) break;
      r = await broker.replay(streams, r.position, { limit: POLL_BATCH_MAX, reader: this.uid });
    }
    if (this.closed) return;
    // Told with a reset or with nothing owed, the client's next cursor (the position) is past the
    // disconnect; told with messages, it might not be, and it would be told twice: those go first.
    const told = notice && { disconnect: { reason: notice.reason, reconnect: notice.reconnect } };
    if (!r.complete) {
      this.host.metrics?.resets.inc({ reason: r.reason ?? 'unknown' });
      this.answer({ messages: [], cursor: r.position, reset: true, ...told });
      return;
    }
    // Groups left since the replay was asked for are not replayed (see `addressed`).
    const replayed = r.messages.filter((m) => this.addressed(m));
    if (replayed.length === 0 && r.more) {
      this.answer({ messages: [], cursor: r.position });
      return;
    }
    if (replayed.length > 0) {
      const first = replayed.slice(0, POLL_BATCH_MAX);
      const messages = first.slice(0, pageOf(first, this.maxBytes).count);
      this.host.metrics?.replayed.inc(messages.length);
      this.answer({ messages, cursor: messages[messages.length - 1]!.id });
      return;
    }
    if (told) {
      this.answer({ messages: [], cursor: r.position, ...told });
      return;
    }
    const at = markOf(r.position);
    this.cursor = at.id;
    for (const m of this.goLive(at.epoch, at.seq)) this.deliver(m);
    this.timer = setTimeout(() => this.end('timeout'), timeoutMs);
    this.timer.unref();
  }

  deliver(msg: Message): boolean {
    if (!this.fresh(msg)) return false;
    if (this.pending) {
      // Beyond one answer's worth the rest stays in history: the next poll replays it.
      if (this.pending.length < POLL_BATCH_MAX) this.queue(msg);
      return false;
    }
    // A full answer leaves the rest in history for the next poll (its cursor is the last sent).
    // Once full it stays full: a smaller message after one that did not fit would leave a gap.
    if (this.batch.length >= POLL_BATCH_MAX || this.batchBytes > this.maxBytes) return false;
    const bytes = msg.frame.length;
    if (this.batch.length > 0 && this.batchBytes + bytes > this.maxBytes) {
      this.batchBytes = Number.POSITIVE_INFINITY;
      return false;
    }
    this.batchBytes += bytes;
    this.seq = msg.seq;
    // Messages published in the same tick travel in one answer.
    if (this.batch.push(msg) === 1) setImmediate(() => this.end('answered'));
    return false;
  }

  reset(at: Mark, _reason: string): void {
    // Old-history messages already batched are answered first; the next poll gets the reset.
    if (this.batch.length > 0) this.end('answered');
    else this.answer({ messages: [], cursor: at.id, reset: true });
  }

  heartbeat(): void {}

  /** Answers with what is batched, or with the cursor. A fresh poll waits out a resync. */
  end(reason: CloseReason): void {
    if (reason === 'resync' && this.cursor === '') return;
    const last = this.batch[this.batch.length - 1];
    // A group left since a message was batched takes it out; the cursor still moves past it.
    const messages = this.batch.filter((m) => this.addressed(m));
    const n = messages.length;
    if (this.answer({ messages, cursor: last ? last.id : this.cursor }) && n > 0)
      this.host.metrics?.delivered.inc(n);
  }

  /**
   * Answers what is batched (or the cursor) with the disconnect; a fresh poll answers anyway. A
   * live poll with nothing batched has been handed everything for it up to the hub's `head`, so
   * it answers that position: its client's next poll is past the disconnect (see `untold`).
   */
  disconnect(reason: string, reconnect: boolean, head?: Mark): void {
    if (this.cursor === '') return;
    const n = this.batch.length;
    const last = this.batch[n - 1];
    const caughtUp = this.live && n === 0 && head !== undefined && head.epoch === this.epoch;
    const a = {
      messages: this.batch,
      cursor: last ? last.id : caughtUp && head.seq > this.seq ? head.id : this.cursor,
      disconnect: { reason, reconnect },
    };
    if (this.answer(a) && n > 0) this.host.metrics?.delivered.inc(n);
  }

  /** The client went away: unregisters without answering. */
  cancel(): void {
    if (this.closed) return;
    this.closed = true;
    if (this.timer) clearTimeout(this.timer);
    this.host.ended(this);
  }

  /** Answers once; false when already answered (or cancelled). */
  private answer(a: PollAnswer): boolean {
    if (this.closed) return false;
    this.closed = true;
    if (this.timer) clearTimeout(this.timer);
    this.host.ended(this);
    this.respond(a);
    return true;
  }
}

/**
 * Poll answers written but not yet handed to the OS (their client is not reading), per uid.
 * They count against MAX_CONNECTIONS and MAX_CONNECTIONS_PER_UID until their bytes are gone,
 * but receive nothing: otherwise a client could hold answers without bound by never reading.
 */
export class UnreadAnswers {
  private readonly byUid = new Map<string, number>();
  private total = 0;

  get size(): number {
    return this.total;
  }

  countOf(uid: string): number {
    return this.byUid.get(uid) ?? 0;
  }

  /** Counts one answer of `uid`; the returned release (idempotent) uncounts it. */
  hold(uid: string): () => void {
    this.total++;
    this.byUid.set(uid, this.countOf(uid) + 1);
    let held = true;
    return () => {
      if (!held) return;
      held = false;
      this.total--;
      const n = this.countOf(uid) - 1;
      if (n > 0) this.byUid.set(uid, n);
      else this.byUid.delete(uid);
    };
  }
}
