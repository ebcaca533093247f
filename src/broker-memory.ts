import {
  type Broker,
  type BrokerListener,
  type BrokerReplay,
  type BrokerStats,
  type ReplayOptions,
  replayLimit,
} from './broker.js';
import { closedError } from './errors.js';
import { History, type HistoryOptions } from './history.js';
import { formatId, newEpoch, parseId } from './ids.js';
import { createMessage, type Message, type PublishInput, streamsOfMessage, visibleTo } from './message.js';

/** How often expired history is swept, at most. */
export const DEFAULT_SWEEP_MS = 60_000;

/**
 * The single-process broker: a counter for ids, `History` for replay, and a synchronous call
 * of the listener for fan-out. Its epoch is new at every start, because its history dies with
 * the process.
 */
export class MemoryBroker implements Broker {
  readonly epoch = newEpoch();
  readonly healthy = true;
  private seq = 0;
  private readonly history: History;
  private listeners: BrokerListener[] = [];
  private closed = false;
  private readonly sweeper: NodeJS.Timeout;

  constructor(opts: HistoryOptions) {
    this.history = new History(opts);
    const every =
      opts.ttlMs > 0 ? Math.min(DEFAULT_SWEEP_MS, Math.max(1000, opts.ttlMs / 4)) : DEFAULT_SWEEP_MS;
    this.sweeper = setInterval(() => this.history.sweep(), every);
    this.sweeper.unref();
  }

  /** Streams and bytes of history held, for metrics. */
  stats(): BrokerStats {
    return { streams: this.history.streamCount, bytes: this.history.bytes };
  }

  async publish(inputs: readonly PublishInput[]): Promise<Message[]> {
    return this.publishNow(inputs);
  }

  /** Synchronous publish: the hub's fast path, and why memory mode has no replay/live seam. */
  publishNow(inputs: readonly PublishInput[]): Message[] {
    if (this.closed) throw closedError('broker');
    const out: Message[] = [];
    for (const input of inputs) {
      const seq = ++this.seq;
      const msg = createMessage(input, { epoch: this.epoch, seq }, Date.now());
      this.history.append(streamsOfMessage(input), msg);
      for (const l of this.listeners) l(msg);
      out.push(msg);
    }
    return out;
  }

  async replay(streams: readonly string[], resumeId: string, opts?: ReplayOptions): Promise<BrokerReplay> {
    if (this.closed) throw closedError('broker');
    const position = formatId(this.epoch, this.seq);
    const pos = parseId(resumeId);
    if (!pos) return { complete: false, messages: [], position, reason: 'bad_id' };
    if (pos.epoch !== this.epoch) return { complete: false, messages: [], position, reason: 'epoch_changed' };
    if (pos.seq > this.seq) return { complete: false, messages: [], position, reason: 'unknown_id' };
    const r = this.history.replay(streams, pos.seq, replayLimit(opts));
    if (!r.complete) return { ...r, position, reason: 'history_lost' };
    const messages = visibleTo(r.messages, opts?.reader);
    if (!r.more) return { complete: true, messages, position };
    return { complete: true, messages, position: r.messages[r.messages.length - 1]!.id, more: true };
  }

  async position(): Promise<string> {
    if (this.closed) throw closedError('broker');
    return formatId(this.epoch, this.seq);
  }

  positionNow(): string | undefined {
    return this.closed ? undefined : formatId(this.epoch, this.seq);
  }

  subscribe(listener: BrokerListener): void {
    this.listeners.push(listener);
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.listeners = [];
    clearInterval(this.sweeper);
    this.history.clear();
  }
}
