import type { Subscriber } from './auth.js';
import { parseId } from './ids.js';
import type { Message } from './message.js';

/**
 * Where an SSE stream's bytes go. Node's `ServerResponse` fits as is; tests use a fake.
 * `writableLength` is the unsent output, which is what the slow-client bound watches.
 */
export interface SseSink {
  write(chunk: string): unknown;
  readonly writableLength: number;
  end(): unknown;
  destroy(): unknown;
  /** Optional write coalescing (Node streams have it): writes between the two go out together. */
  cork?(): void;
  uncork?(): void;
}

/** The answer of one long-poll request. */
export interface PollAnswer {
  readonly messages: readonly Message[];
  readonly cursor: string;
  readonly reset?: true;
}

/**
 * Most live messages queued on one connection while its replay is fetched. Past it the
 * connection is closed like a slow client: it reconnects and replays, nothing is lost.
 */
export const MAX_PENDING = 10_000;

/** Most messages in one long-poll answer; the client polls again at once when it got any. */
export const POLL_BATCH_MAX = 100;

/** Why the hub ended a connection. */
export type CloseReason = 'client' | 'slow' | 'expired' | 'shutdown' | 'timeout' | 'answered';

/** What the hub indexes by uid and group: an open SSE stream or a waiting long-poll. */
export abstract class Member {
  /** Newest seq handed to this member; anything at or below is a duplicate. */
  lastSeq = 0;
  /**
   * Epoch `lastSeq` belongs to, set when the member goes live. After a wiped backend this node
   * may still be fanning out (and heartbeating) the old epoch while this member already lives
   * in the new one: it must neither be told an old-epoch position nor be reset again.
   */
  epoch: string | undefined;
  /** Live messages that arrived while the replay was being fetched; `null` once live. */
  pending: Message[] | null = [];
  closed = false;

  constructor(readonly sub: Subscriber) {}

  get uid(): string {
    return this.sub.uid;
  }

  /** Hands over one live message; returns true when it was written or queued. */
  abstract deliver(msg: Message): boolean;
}

let tickNo = 0;
let tickScheduled = false;
const corkedThisTick: SseConn[] = [];

function endTick(): void {
  tickNo++;
  tickScheduled = false;
  for (const c of corkedThisTick.splice(0)) {
    c.corked = false;
    c.sink.uncork?.();
  }
}

/** A number that changes after every tick of the event loop (one shared `nextTick`, not one per write). */
function currentTick(): number {
  if (!tickScheduled) {
    tickScheduled = true;
    process.nextTick(endTick);
  }
  return tickNo;
}

/** An open `text/event-stream` response. */
export class SseConn extends Member {
  /** The tick of this stream's last write, and whether later writes of that tick are corked. */
  private lastTick = -1;
  corked = false;
  /** Unsent replay bytes tolerated above the bound; shrinks as the client reads. */
  private allowance = 0;

  constructor(
    sub: Subscriber,
    readonly sink: SseSink,
    /** Called when the unsent output passes the bound. */
    private readonly onSlow: (c: SseConn) => void,
    private readonly maxBuffered: number,
  ) {
    super(sub);
  }

  deliver(msg: Message): boolean {
    if (msg.seq <= this.lastSeq || this.closed) return false;
    if (this.pending) {
      // Matched through its uid and groups, a message is handed over once per match, in a row.
      if ((this.pending[this.pending.length - 1]?.seq ?? 0) >= msg.seq) return false;
      if (this.pending.push(msg) > MAX_PENDING) this.onSlow(this);
      return true;
    }
    this.lastSeq = msg.seq;
    this.write(msg.frame);
    return true;
  }

  /**
   * Writes raw SSE text, closing the connection if the client does not keep up. Writes of one
   * tick (a batch publish, a burst of pushes) are corked into one socket write: with hundreds of
   * connections, one syscall per message per connection is what saturates the CPU first.
   */
  write(chunk: string, replay = false): void {
    if (this.closed) return;
    // The first write of a tick goes straight out; later ones in the same tick (a batch publish,
    // a burst of pushes) are corked and leave together when the tick ends.
    const tick = currentTick();
    if (this.lastTick !== tick) this.lastTick = tick;
    else if (!this.corked && this.sink.cork) {
      this.corked = true;
      this.sink.cork();
      corkedThisTick.push(this);
    }
    // A replay sits at the head of the queue, so what is left of it is at most what is queued.
    this.allowance = replay ? Buffer.byteLength(chunk) : Math.min(this.allowance, this.sink.writableLength);
    this.sink.write(chunk);
    if (this.sink.writableLength > this.maxBuffered + this.allowance) this.onSlow(this);
  }

  /**
   * Writes a replay, which goes out whole and may be larger than MAX_BUFFERED_BYTES (a history of
   * big messages). Only output beyond the part of the replay still unsent counts against the
   * bound; otherwise a client with a long backlog would be dropped at every resume, forever.
   */
  writeReplay(chunk: string): void {
    this.write(chunk, true);
  }
}

/** A long-poll request waiting for its first message. */
export class PollConn extends Member {
  private batch: Message[] = [];
  timer: NodeJS.Timeout | undefined;
  /** The newest position this poll may answer with when it has no message: the client's cursor until live. */
  cursor = '';

  constructor(
    sub: Subscriber,
    /** Answers the request; called at most once. */
    private readonly answer: (a: PollAnswer) => void,
    /** Called when a batch is ready (the hub unregisters, then `flush`es). */
    private readonly onReady: (p: PollConn) => void,
  ) {
    super(sub);
  }

  deliver(msg: Message): boolean {
    if (msg.seq <= this.lastSeq || this.closed) return false;
    if (this.pending) {
      if ((this.pending[this.pending.length - 1]?.seq ?? 0) >= msg.seq) return false;
      // Beyond one answer's worth the rest stays in history: the next poll replays it.
      if (this.pending.length >= POLL_BATCH_MAX) return false;
      this.pending.push(msg);
      return true;
    }
    // A full answer leaves the rest in history for the next poll (its cursor is the last sent).
    if (this.batch.length >= POLL_BATCH_MAX) return false;
    this.lastSeq = msg.seq;
    // Messages published in the same tick travel in one answer.
    if (this.batch.push(msg) === 1) setImmediate(() => this.onReady(this));
    return true;
  }

  /** Messages batched for the answer (live, not yet answered). */
  get batched(): number {
    return this.batch.length;
  }

  /** Answers with what is batched (or with `fallback` when nothing is). Idempotent. */
  respond(a?: PollAnswer): number {
    if (this.closed) return 0;
    this.closed = true;
    if (this.timer) clearTimeout(this.timer);
    const batch = this.batch;
    const last = batch[batch.length - 1];
    this.answer(a ?? { messages: batch, cursor: last ? last.id : this.cursor });
    return a ? a.messages.length : batch.length;
  }

  /** Starts waiting live from `position`: queued messages newer than it become the batch. */
  goLive(position: string, fromSeq: number): void {
    const queued = this.pending ?? [];
    this.pending = null;
    this.lastSeq = fromSeq;
    this.epoch = parseId(position)?.epoch;
    this.cursor = position;
    const prefix = `${this.epoch}-`;
    for (const m of queued) if (m.id.startsWith(prefix)) this.deliver(m);
  }
}
