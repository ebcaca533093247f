import type { Subscriber } from './auth.js';
import type { Broker } from './broker.js';
import { atOrBefore, type Mark, markOf, type Position } from './ids.js';
import { type CloseReason, MAX_PENDING, Member, type SessionHost } from './member.js';
import { type Message, streamsOfSubscriber } from './message.js';
import { type Corkable, corkUntilTickEnd, currentTick } from './tick.js';

/**
 * Where an SSE stream's bytes go. Node's `ServerResponse` fits as is; tests use a fake.
 * `writableLength` is the unsent output, which is what the slow-client bound watches.
 */
export interface SseSink extends Corkable {
  write(chunk: string): unknown;
  readonly writableLength: number;
  end(): unknown;
  destroy(): unknown;
  /**
   * Calls `f` once what was written has been handed to the OS, or the sink closed (at once when
   * nothing waits). A replay fetches its next page only then, so a client that does not read
   * holds one page, not its whole backlog. A sink without it is treated as always drained.
   */
  onDrained?(f: () => void): void;
}

/**
 * Most messages one replay page asks the broker for. The page is cut further to half of
 * `maxBuffered` bytes, and the next page's limit adapts to the sizes seen, so a history of large
 * messages is not fetched only to be dropped.
 */
export const REPLAY_PAGE = 100;

/** The frame that tells a client its history is gone and where to continue from. */
export function resetFrame(id: string, reason: string): string {
  return `id:${id}\nevent:reset\ndata:${JSON.stringify({ reason })}\n\n`;
}

/** The frame that tells a client the backend ended its stream: no `id:`, it is not a message. */
export function disconnectFrame(reason: string, reconnect: boolean): string {
  return `event:disconnect\ndata:${JSON.stringify({ reason, reconnect })}\n\n`;
}

/**
 * An open `text/event-stream` response: replays what the client missed (or tells it the history
 * is gone), then goes live without a gap or a duplicate at the seam. Messages published while
 * the replay is fetched wait in `pending` and are written after it, each once.
 */
export class StreamSession extends Member {
  get kind(): 'stream' {
    return 'stream';
  }
  /** The tick of this stream's last write, and the tick whose later writes are corked. */
  private lastTick = -1;
  private corkTick = -1;
  /** Unsent replay bytes tolerated above the bound; shrinks as the client reads. */
  private allowance = 0;

  constructor(
    sub: Subscriber,
    readonly sink: SseSink,
    host: SessionHost,
    private readonly maxBuffered: number,
  ) {
    super(sub, host);
  }

  /**
   * Writes `retry:`, then (asynchronously) the replay after `resumeId`, a reset, or the bare
   * current position for a fresh stream (at once when the broker knows it), and goes live. A failed start closes the stream: the
   * client reconnects and resumes.
   */
  open(broker: Broker, resumeId: string | undefined, retryMs: number): void {
    // A fresh stream on a backend whose position is known now goes live at once, `retry:` and
    // `id:` in the one write that also carries the head. Never a resume: it must not be told a
    // position before its replay.
    const now = resumeId === undefined ? broker.positionNow?.() : undefined;
    if (now !== undefined) {
      this.write(`retry:${retryMs}\n\nid:${now}\n\n`);
      // Nothing can be queued yet (registered in this same step): this goes live synchronously.
      void this.catchUp(markOf(now), 0);
      return;
    }
    this.write(`retry:${retryMs}\n\n`);
    this.start(broker, resumeId).catch((err: unknown) => {
      this.host.log?.warn({ err }, 'stream start failed');
      this.end('client');
      this.sink.destroy();
    });
  }

  private async start(broker: Broker, resumeId: string | undefined): Promise<void> {
    const metrics = this.host.metrics;
    if (resumeId === undefined) {
      const id = await broker.position();
      if (this.closed) return;
      this.write(`id:${id}\n\n`);
      await this.catchUp(markOf(id), 0);
      return;
    }
    // The replay goes out in pages, each fetched once the previous one has left: what a client
    // that does not read holds here is one page (see `pageBytes`), whatever its backlog.
    // Live messages queue in `pending` meanwhile (at most MAX_PENDING, else the stream is closed
    // as slow and resumes); those a later page also holds are skipped when it goes live.
    const streams = streamsOfSubscriber(this.uid, this.groups);
    let from = resumeId;
    let limit = REPLAY_PAGE;
    let replayedSeq = 0;
    for (;;) {
      const r = await broker.replay(streams, from, { limit, reader: this.uid });
      if (this.closed) return;
      if (!r.complete) {
        // Also between pages: history after `from` was evicted meanwhile (or Redis was wiped).
        metrics?.resets.inc({ reason: r.reason ?? 'unknown' });
        this.write(resetFrame(r.position, r.reason ?? 'history_lost'));
        await this.catchUp(markOf(r.position), 0);
        return;
      }
      const { count, bytes } = pageOf(r.messages, this.pageBytes);
      if (count > 0) {
        // Groups left since the replay was asked for are not replayed (see `addressed`).
        const page = r.messages.slice(0, count).filter((m) => this.addressed(m));
        if (page.length > 0) {
          let chunk = '';
          for (const m of page) chunk += m.frame;
          this.writeReplay(chunk);
          metrics?.replayed.inc(page.length);
        }
        replayedSeq = r.messages[count - 1]!.seq;
      }
      if (count === r.messages.length && !r.more) {
        await this.catchUp(markOf(r.position), replayedSeq);
        return;
      }
      // A page whose messages were all for others (`exclude`, filtered by the broker) moves on
      // from its position.
      from = count > 0 ? r.messages[count - 1]!.id : r.position;
      if (count > 0) {
        limit = Math.max(1, Math.min(REPLAY_PAGE, Math.floor((count * this.pageBytes) / Math.max(1, bytes))));
      }
      await this.drained();
      if (this.closed) return;
    }
  }

  /**
   * Bytes of one replay page: half the bound, because a write the OS has not taken yet is held
   * twice (the text, and the copy encoded for the socket); a client that does not read then
   * costs about MAX_BUFFERED_BYTES, as live output does.
   */
  private get pageBytes(): number {
    return this.maxBuffered / 2;
  }

  /**
   * Continues after `at` (or the replayed `replayedSeq`, if later): the live messages queued
   * meanwhile are a backlog like the replay, so they go out the same way, a page at a time as the
   * socket drains, until none is left; then the stream is live. Without a wait (the usual case:
   * a short queue, a reading client) this runs to the end synchronously.
   */
  private async catchUp(at: Position, replayedSeq: number): Promise<void> {
    this.seq = Math.max(this.seq, at.seq, replayedSeq);
    const queue = this.pending!;
    for (;;) {
      // Anything at or before the position came with the replay (or is before the reset); a late
      // message of another epoch is not of the history this stream now lives in.
      const page: Message[] = [];
      let bytes = 0;
      let used = 0;
      for (; used < queue.length; used++) {
        const m = queue[used]!;
        if (m.seq <= this.seq || m.epoch !== at.epoch) continue;
        // A group left while the replay was running: its queued messages are not ours any more.
        if (!this.addressed(m)) continue;
        if (page.length > 0 && bytes + m.frame.length > this.pageBytes) break;
        page.push(m);
        bytes += m.frame.length;
        this.seq = m.seq;
      }
      queue.splice(0, used);
      if (page.length === 0) {
        this.goLive(at.epoch, this.seq);
        return;
      }
      const wait = this.drained();
      if (wait) {
        await wait;
        if (this.closed) return;
      }
      let chunk = '';
      for (const m of page) chunk += m.frame;
      this.writeReplay(chunk);
      this.host.metrics?.delivered.inc(page.length);
    }
  }

  /**
   * A promise of the sink having handed its output to the OS (or closed), or `undefined` when
   * nothing waits: the caller then goes on in the same tick.
   */
  private drained(): Promise<void> | undefined {
    const sink = this.sink;
    if (!sink.onDrained) return undefined;
    let done = false;
    let resolve!: () => void;
    const p = new Promise<void>((r) => {
      resolve = r;
    });
    sink.onDrained(() => {
      done = true;
      resolve();
    });
    return done ? undefined : p;
  }

  deliver(msg: Message): boolean {
    if (!this.fresh(msg)) return false;
    if (this.pending) {
      if (this.queue(msg) && this.pending.length > MAX_PENDING)
        this.host.slow(this, this.sink.writableLength);
      return false;
    }
    this.seq = msg.seq;
    this.write(msg.frame);
    return true;
  }

  /** Missed messages (see `Member.missed`) leave in one write, which may pass the bound like a replay. */
  override missed(messages: readonly Message[]): number {
    if (this.pending) return super.missed(messages);
    let chunk = '';
    let n = 0;
    for (const m of messages) {
      if (!this.fresh(m) || !this.addressed(m)) continue;
      chunk += m.frame;
      this.seq = m.seq;
      n++;
    }
    if (n > 0) this.writeReplay(chunk);
    return n;
  }

  reset(at: Mark, reason: string): void {
    // Still replaying the old history: end, and let the client resume (and get its reset).
    if (this.pending) {
      this.end('shutdown');
      return;
    }
    this.host.metrics?.resets.inc({ reason });
    this.write(resetFrame(at.id, reason));
    this.seq = at.seq;
    this.epoch = at.epoch;
  }

  heartbeat(frame: string, head: Position | undefined): void {
    if (this.pending) return;
    // A stream that went live past the head (its position came from a shared backend ahead of
    // this node's fan-out) must not be moved back: its resume would replay duplicates. Nor may a
    // stream living in a newer epoch than the head be told an old-epoch id.
    this.write(head && atOrBefore(this, head) ? frame : ':\n\n');
  }

  disconnect(reason: string, reconnect: boolean): void {
    if (this.closed) return;
    // The frame and the response's last chunk leave in one write (a kick ends thousands at once).
    const tick = currentTick();
    if (this.corkTick !== tick) {
      this.corkTick = tick;
      corkUntilTickEnd(this.sink);
    }
    this.write(disconnectFrame(reason, reconnect));
    this.end('disconnected');
  }

  end(reason: CloseReason): void {
    if (this.closed) return;
    this.closed = true;
    this.host.ended(this);
    if (reason === 'slow' || reason === 'expired') this.sink.destroy();
    else if (reason !== 'client') this.sink.end();
    this.host.log?.debug({ uid: this.uid, reason }, 'stream closed');
  }

  /**
   * Writes raw SSE text, ending the stream as slow if the client does not keep up. The first
   * write of a tick goes straight out; later ones in the same tick are corked (see `tick.ts`).
   */
  write(chunk: string, replay = false): void {
    if (this.closed) return;
    const tick = currentTick();
    if (this.lastTick !== tick) this.lastTick = tick;
    else if (this.corkTick !== tick) {
      this.corkTick = tick;
      corkUntilTickEnd(this.sink);
    }
    // A replay sits at the head of the queue, so what is left of it is at most what is queued.
    this.allowance = replay ? Buffer.byteLength(chunk) : Math.min(this.allowance, this.sink.writableLength);
    this.sink.write(chunk);
    const buffered = this.sink.writableLength;
    if (buffered > this.maxBuffered + this.allowance) this.host.slow(this, buffered);
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

/**
 * How many of `messages` (at least one, when there are any) fit in `budget` bytes of SSE frames,
 * and their size, measured as `writableLength` measures queued text (string length).
 */
export function pageOf(messages: readonly Message[], budget: number): { count: number; bytes: number } {
  let bytes = 0;
  let count = 0;
  for (const m of messages) {
    const b = m.frame.length;
    if (count > 0 && bytes + b > budget) break;
    bytes += b;
    count++;
  }
  return { count, bytes };
}
