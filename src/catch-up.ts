import type { Broker, BrokerReplay, ReplayRead } from './broker.js';
import { mergeBySeq } from './history.js';
import { type Mark, markAt, markOf } from './ids.js';
import type { Logger } from './logger.js';
import type { Member } from './member.js';
import { excludes, type Message, streamsOfSubscriber } from './message.js';

/** Stream reads per Redis round trip (one pipeline) while catching up. */
export const CATCH_UP_READS_PER_ROUND = 256;

/**
 * Live messages held while a catch-up runs. Past it they are dropped and the catch-up runs once
 * more from where it got (they are in history), so memory stays bounded under any publish rate.
 */
export const MAX_HELD = 10_000;

/**
 * Milliseconds before the next attempt while the reads fail: the subscriber connection can be
 * back before the command connection, so soon at first, then up to a second apart.
 */
const retryMs = (attempt: number) => Math.min(1000, 25 * 2 ** attempt);

/** Connections handed their messages between two turns of the event loop. */
const YIELD_EVERY = 500;

/** What a catch-up needs of the hub it serves. */
export interface CatchUpHost {
  /** The live connections now (a copy). */
  members(): Member[];
  /** The newest position this node has fanned out (or its start position). */
  head(): Mark | undefined;
  /** Hands a held live message on, as the subscription would have. */
  fanOut(m: Message): void;
  /** Every connection has everything up to `at` (it moves the heartbeat position). */
  caughtUp(at: Mark): void;
  /** Messages written to clients by the catch-up (the `delivered` metric). */
  delivered(n: number): void;
  /**
   * Brings up to date what else the node may have missed while its subscription was down (the
   * runtime group changes of its connections' uids), before each pass plans its reads: a
   * connection that joined a group meanwhile then gets that group's missed messages too. Rejects
   * while the backend cannot answer (retried like a read).
   */
  refresh?(): Promise<void>;
  readonly log: Logger;
}

/** One read of a catch-up: a stream from a position, read once however many connections need it. */
interface Read {
  readonly stream: string;
  readonly from: Mark;
  result?: BrokerReplay;
}

/** A member's part of a catch-up: where it continues from and the reads of its streams. */
interface Want {
  readonly from: Mark;
  readonly reads: Read[];
}

/**
 * Brings a node's live connections up to date after its backend subscription came back (issue
 * 13): instead of ending them so that every client reconnects and replays, the node reads what it
 * missed once per (stream, position), in pipelined rounds, and hands each connection its part in
 * id order. Live messages that arrive meanwhile are held and handed on after, through the usual
 * fan-out, so the seam has the rules of a client replay: nothing twice, nothing out of order.
 * A connection whose streams' history no longer covers the gap gets the in-band `reset`.
 *
 * Why the positions are right: a connection that was live when the subscription dropped has
 * every message addressed to it up to the node's head (the last one fanned out), so it continues
 * from there or from its own position if newer; one still replaying gets the missed messages
 * queued behind its replay, from the head on (its replay drops what it covers itself).
 */
export class CatchUp {
  /** Live messages held during a catch-up; `null` when none runs. */
  private held: Message[] | null = null;
  /** Held messages were dropped (too many, or the subscription dropped again): run once more. */
  private dirty = false;
  /** Connections known to have everything up to `floor`, and the head at the first pass. */
  private covered = new Set<Member>();
  private floor: Mark | undefined;
  private start: Mark | undefined;
  private closed = false;

  constructor(
    private readonly broker: Broker,
    private readonly host: CatchUpHost,
    private readonly perRound = CATCH_UP_READS_PER_ROUND,
    private readonly maxHeld = MAX_HELD,
  ) {}

  /** Whether a catch-up is running (live fan-out is held). */
  get running(): boolean {
    return this.held !== null;
  }

  /** Holds a live message while a catch-up runs; false when none does (fan it out as usual). */
  hold(m: Message): boolean {
    const held = this.held;
    if (held === null) return false;
    if (this.dirty) return true;
    if (held.length >= this.maxHeld) this.drop();
    else held.push(m);
    return true;
  }

  /** Live fan-out may have missed messages (the subscription was re-established): catch up. */
  resync(): void {
    if (this.closed) return;
    if (this.held !== null) {
      // Dropped again while catching up: what is held has a hole; this pass ends, another follows.
      this.drop();
      return;
    }
    this.held = [];
    this.dirty = false;
    this.start = this.host.head();
    this.floor = this.start;
    this.covered = new Set(this.host.members());
    void this.run();
  }

  close(): void {
    this.closed = true;
    this.held = null;
    this.covered.clear();
  }

  private drop(): void {
    this.dirty = true;
    if (this.held) this.held.length = 0;
  }

  private async run(): Promise<void> {
    const started = Date.now();
    const stats = { passes: 0, reads: 0, rounds: 0, connections: 0, messages: 0, resets: 0, retries: 0 };
    let attempt = started;
    let refreshed = false;
    let failed = 0;
    // The broker logged the Redis error; one line here says what waits for it.
    const backOff = async (what: string) => {
      if (failed === 0) this.host.log.warn(`catch-up ${what} failed; retrying`);
      stats.retries++;
      await new Promise((r) => setTimeout(r, retryMs(++failed)).unref());
    };
    for (;;) {
      attempt = Date.now();
      if (!refreshed && this.host.refresh) {
        try {
          await this.host.refresh();
        } catch {
          if (this.closed) return;
          await backOff('refresh');
          continue;
        }
        if (this.closed) return;
      }
      refreshed = true;
      const { reads, wants } = this.plan();
      let results: BrokerReplay[];
      try {
        results = await this.read(reads);
      } catch {
        if (this.closed) return;
        await backOff('read');
        continue;
      }
      if (this.closed) return;
      stats.passes++;
      stats.reads += reads.length;
      stats.rounds += Math.ceil(reads.length / this.perRound);
      reads.forEach((r, i) => {
        r.result = results[i];
      });
      const cut = cutOf(results);
      // Redis was wiped between two reads of this pass: nothing was handed out; read again.
      if (cut && results.some((r) => markOf(r.position).epoch !== cut.epoch)) continue;
      let handed = 0;
      for (const [m, want] of wants) {
        // Hand out in slices: heartbeats, pushes and new connections are served in between
        // (live messages stay held until the end, so the order holds).
        if (++handed % YIELD_EVERY === 0) await new Promise((r) => setImmediate(r));
        if (m.closed || this.closed) continue;
        stats.connections++;
        const lost = want.reads.find((r) => !r.result!.complete)?.result;
        if (lost) {
          m.reset(markOf(lost.position), lost.reason ?? 'history_lost');
          stats.resets++;
          continue;
        }
        const parts = want.reads.map((r) => r.result!.messages);
        const missed = cut ? missedOf(parts, want.from.seq, cut.seq, m.uid) : [];
        if (missed.length === 0) continue;
        stats.messages += missed.length;
        const n = m.missed(missed);
        if (n > 0) this.host.delivered(n);
      }
      if (this.closed) return;
      // Held messages were dropped: never release what is left (a connection opened meanwhile
      // would skip them); read again from here, holding afresh.
      if (this.dirty) {
        this.dirty = false;
        // Perhaps lost again: group changes too.
        refreshed = false;
        this.held = [];
        if (cut) {
          this.floor = cut;
          this.covered = new Set(wants.keys());
        }
        continue;
      }
      if (cut) this.host.caughtUp(cut);
      const held = this.held ?? [];
      this.held = null;
      this.covered.clear();
      for (const msg of held) this.host.fanOut(msg);
      // `ms` counts from the resubscription, `lastPassMs` only the pass that succeeded (the
      // command connection may come back after the subscriber: the retries wait for it).
      const end = Date.now();
      this.host.log.info(
        { ...stats, held: held.length, ms: end - started, lastPassMs: end - attempt },
        'caught up after resubscribe',
      );
      return;
    }
  }

  /** Groups the connections by (stream, position): each pair is read once. */
  private plan(): { reads: Read[]; wants: Map<Member, Want> } {
    const byKey = new Map<string, Read>();
    const reads: Read[] = [];
    const wants = new Map<Member, Want>();
    for (const m of this.host.members()) {
      const from = this.fromOf(m);
      if (!from) continue;
      const want: Want = { from, reads: [] };
      for (const stream of streamsOfSubscriber(m.uid, m.groups)) {
        const key = `${stream}\u0000${from.id}`;
        let r = byKey.get(key);
        if (!r) {
          r = { stream, from };
          byKey.set(key, r);
          reads.push(r);
        }
        want.reads.push(r);
      }
      wants.set(m, want);
    }
    return { reads, wants };
  }

  /**
   * Where a connection continues from: a live one from its own position or, if newer, the floor
   * it is known to have; one still replaying from the floor (or the first head, if it came later).
   */
  private fromOf(m: Member): Mark | undefined {
    if (m.closed) return undefined;
    const known = this.covered.has(m) ? this.floor : undefined;
    if (!m.live) return known ?? this.start;
    if (m.epoch === '') return undefined;
    return known && known.epoch === m.epoch && known.seq > m.seq ? known : markAt(m.epoch, m.seq);
  }

  private async read(reads: readonly Read[]): Promise<BrokerReplay[]> {
    const asks: ReplayRead[] = reads.map((r) => ({ streams: [r.stream], resumeId: r.from.id }));
    if (this.broker.replayMany) return this.broker.replayMany(asks, this.perRound);
    const out: BrokerReplay[] = [];
    for (let i = 0; i < asks.length; i += this.perRound) {
      const round = asks.slice(i, i + this.perRound);
      out.push(...(await Promise.all(round.map((a) => this.broker.replay(a.streams, a.resumeId)))));
    }
    return out;
  }
}

/**
 * The position every read of a pass covers: the oldest of their positions. Each read was taken
 * after the subscription was back, so anything newer than it arrives live (held, then fanned
 * out); a read's messages past it are left to the live path, or a connection handed a newer
 * message from one stream would drop an older one of another stream as a duplicate.
 */
export function cutOf(results: readonly BrokerReplay[]): Mark | undefined {
  let cut: Mark | undefined;
  for (const r of results) {
    const p = markOf(r.position);
    if (!cut || p.seq < cut.seq) cut = p;
  }
  return cut;
}

/**
 * What one connection missed: the messages of its streams' reads after `fromSeq` and up to
 * `cutSeq`, in id order, each once (a message to its uid and its group is in both reads), minus
 * those whose `exclude` names its uid.
 */
export function missedOf(
  parts: readonly Message[][],
  fromSeq: number,
  cutSeq: number,
  uid: string,
): Message[] {
  const out: Message[] = [];
  for (const m of mergeBySeq(parts.filter((p) => p.length > 0))) {
    if (m.seq > fromSeq && m.seq <= cutSeq && !excludes(m, uid)) out.push(m);
  }
  return out;
}
