import type { Broker, ClusterAbilities } from './broker.js';
import { CatchUp, type CatchUpHost } from './catch-up.js';
import { atOrBefore, type Mark, markAt, markOf } from './ids.js';
import type { Logger } from './logger.js';
import type { Member } from './member.js';
import type { Message } from './message.js';
import type { Metrics } from './metrics.js';
import type { Registry } from './registry.js';

/**
 * This node's side of the broker's subscription: hands each message to the live connections it
 * addresses, keeps the node's head (the newest position fanned out, or the start position) for
 * heartbeat ids, resets connections when the backend's history was replaced (a new epoch), and,
 * with a cluster broker, holds live messages while a catch-up after a lost subscription runs.
 */
export class FanOut {
  /** Newest position this node has fanned out (or the start position): heartbeat ids, epoch changes. */
  private current: Mark | undefined;
  /** Catches live connections up after the cluster broker's subscription came back. */
  private readonly catchUp: CatchUp | undefined;

  constructor(
    private readonly registry: Registry<Member>,
    broker: Broker,
    /** The broker's cluster abilities; `undefined` in memory mode. */
    cluster: ClusterAbilities | undefined,
    private readonly metrics: Metrics | undefined,
    private readonly log: Logger,
    /** See `CatchUpHost.refresh`. */
    private readonly refresh?: () => Promise<void>,
  ) {
    // Only a cluster broker loses its subscription: memory mode fans out directly, as ever.
    const catchUp = cluster && new CatchUp(broker, this.catchUpHost(log));
    this.catchUp = catchUp;
    if (catchUp) {
      broker.subscribe((m) => {
        if (!catchUp.hold(m)) this.fanOut(m);
      });
      cluster.onResync(() => catchUp.resync());
    } else broker.subscribe((m) => this.fanOut(m));
  }

  /** The newest position this node has fanned out, or its start position once known. */
  get head(): Mark | undefined {
    return this.current;
  }

  /** The broker's position at start-up becomes the head, unless fan-out has set it already. */
  startAt(id: string): void {
    // Fan-out may have set it first: a position ahead of it is not what this node has sent.
    if (this.current === undefined) this.current = markOf(id);
  }

  /** One timer for all streams; live ones also learn the newest position (see `heartbeat`). */
  beat(): void {
    const frame = this.current ? `:\nid:${this.current.id}\n\n` : ':\n\n';
    const head = this.current;
    this.registry.forEach((c) => {
      c.heartbeat(frame, head);
    });
  }

  close(): void {
    this.catchUp?.close();
  }

  private fanOut(m: Message): void {
    if (this.current && m.epoch !== this.current.epoch) this.epochChanged(m);
    this.setHead(m);
    // Deliveries are counted where they leave: here for live streams, and for messages queued
    // during a replay or batched for a poll when those are flushed.
    let n = 0;
    this.registry.forEachAddressed(m, (c) => {
      if (c.deliver(m)) n++;
    });
    if (n > 0) this.metrics?.delivered.inc(n);
  }

  /** A copy, not the message: the head must not keep a large message alive after history drops it. */
  private setHead(p: Mark): void {
    if (!this.current || !atOrBefore(p, this.current))
      this.current = { id: p.id, epoch: p.epoch, seq: p.seq };
  }

  /**
   * The backend's history was wiped (a flushed Redis) while connections were live: their
   * positions belong to the old epoch. Each is reset to the position just before `m`, the first
   * message of the new history, except those already living in the new epoch (their replay or
   * reset came from the wiped backend): another reset would be needless and move them backwards.
   */
  private epochChanged(m: Message): void {
    const at = markAt(m.epoch, m.seq - 1);
    this.log.warn({ position: at.id }, 'history epoch changed; live connections reset');
    for (const c of this.registry.snapshot()) {
      if (c.live && c.epoch === at.epoch) continue;
      c.reset(at, 'epoch_changed');
    }
  }

  /** What a catch-up after a lost subscription uses of this node (see `catch-up.ts`). */
  private catchUpHost(log: Logger): CatchUpHost {
    return {
      members: () => this.registry.snapshot(),
      head: () => this.current,
      fanOut: (m) => this.fanOut(m),
      caughtUp: (at) => {
        if (!this.current || this.current.epoch === at.epoch) this.setHead(at);
      },
      delivered: (n) => this.metrics?.delivered.inc(n),
      ...(this.refresh ? { refresh: this.refresh } : {}),
      log,
    };
  }
}
