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
}

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
      this.goLiveAt(markOf(now));
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
      this.goLiveAt(markOf(id));
      return;
    }
    const r = await broker.replay(streamsOfSubscriber(this.uid, this.groups), resumeId, { reader: this.uid });
    if (this.closed) return;
    const at = markOf(r.position);
    if (!r.complete) {
      metrics?.resets.inc({ reason: r.reason ?? 'unknown' });
      this.write(resetFrame(r.position, r.reason ?? 'history_lost'));
      this.goLiveAt(at);
      return;
    }
    // Groups left since the replay was asked for are not replayed (see `addressed`).
    const replayed = r.messages.filter((m) => this.addressed(m));
    if (replayed.length > 0) {
      let chunk = '';
      for (const m of replayed) chunk += m.frame;
      this.writeReplay(chunk);
      metrics?.replayed.inc(replayed.length);
    }
    this.goLiveAt(at, r.messages[r.messages.length - 1]?.seq ?? 0);
  }

  /** Goes live at `at` (or past it, up to `replayedSeq`): queued messages newer than that follow. */
  private goLiveAt(at: Position, replayedSeq = 0): void {
    let delivered = 0;
    for (const m of this.goLive(at.epoch, Math.max(at.seq, replayedSeq))) if (this.deliver(m)) delivered++;
    if (delivered > 0) this.host.metrics?.delivered.inc(delivered);
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
