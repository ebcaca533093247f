/**
 * Catching live connections up after a lost subscription (issue 13, "a blip costs no
 * reconnects"), on an in-process broker that can drop its fan-out: the messages published while
 * it is down stay in history, live messages that arrive during the catch-up read are held, and
 * every connection gets each message once, in id order, without being closed.
 */
import { afterEach, describe, expect, it } from 'vitest';
import type { BrokerListener, BrokerReplay } from '../../src/broker.js';
import { MemoryBroker } from '../../src/broker-memory.js';
import { CatchUp, cutOf, missedOf } from '../../src/catch-up.js';
import { loadConfig } from '../../src/config.js';
import { Hub, type PollAnswer } from '../../src/hub.js';
import { createLogger } from '../../src/logger.js';
import { createMessage, type Message, type PublishInput } from '../../src/message.js';
import type { Presence } from '../../src/presence.js';
import { StreamSession } from '../../src/stream-session.js';
import { FakeSink } from '../fakes.js';

const config = loadConfig({ JWT_SECRET: 'x'.repeat(32) });
const log = createLogger('silent');
const tick = () => new Promise((r) => setImmediate(r));

const presence: Presence = {
  add() {},
  remove() {},
  regroup() {},
  reach: async (t) => t.map(() => 0),
  online: async () => ({ uids: 0, connections: 0 }),
  uids: async () => ({ uids: [], next: undefined }),
  close: async () => {},
};

/**
 * A memory broker shaped like a cluster broker: `down()` stops its fan-out (messages still go to
 * history, as other nodes would publish them), `up()` restores it and signals the resync. Its
 * replay can be held (`holdReads`) to widen the catch-up's seam.
 */
class BlipBroker extends MemoryBroker {
  readonly presence = presence;
  private resyncs: (() => void)[] = [];
  private out: BrokerListener[] = [];
  private isDown = false;
  private gate: Promise<void> | undefined;
  private open: () => void = () => {};
  reads = 0;

  override subscribe(listener: BrokerListener): void {
    this.out.push(listener);
    super.subscribe((m) => {
      if (!this.isDown) for (const l of this.out) l(m);
    });
  }
  onResync(l: () => void): void {
    this.resyncs.push(l);
  }
  down(): void {
    this.isDown = true;
  }
  up(): void {
    this.isDown = false;
    for (const l of this.resyncs) l();
  }
  holdReads(): () => void {
    this.gate = new Promise((r) => {
      this.open = r;
    });
    return () => {
      this.gate = undefined;
      this.open();
    };
  }
  override async replay(streams: readonly string[], resumeId: string): Promise<BrokerReplay> {
    this.reads++;
    const r = await super.replay(streams, resumeId);
    if (this.gate) await this.gate;
    return r;
  }
}

const hubs: Hub[] = [];
afterEach(async () => {
  for (const h of hubs.splice(0)) await h.close();
});

function setup(size = 100) {
  const broker = new BlipBroker({ size, ttlMs: 0, maxStreams: 1000, maxBytes: 1 << 30 });
  const hub = new Hub(config, broker, undefined, log);
  hubs.push(hub);
  return { broker, hub };
}

const to = (uid: string, data: string, extra: Partial<PublishInput> = {}): PublishInput => ({
  to: [uid],
  groups: [],
  event: 'm',
  data,
  ...extra,
});
const dataOf = (sink: FakeSink) => sink.events.filter((e) => e[1] === 'm').map((e) => e[2]);

describe('catch-up after a lost subscription', () => {
  it('hands streams and waiting polls what they missed, then the live messages held meanwhile, each once and in order', async () => {
    const { broker, hub } = setup();
    const sink = new FakeSink();
    hub.openStream({ uid: 'a', groups: ['g'], expiresAt: undefined }, sink, undefined);
    await broker.publish([to('a', '1')]);
    const answers: PollAnswer[] = [];
    const [last] = await broker.publish([to('b', '0')]);
    hub.poll({ uid: 'b', groups: [], expiresAt: undefined }, last!.id, 60_000, (a) => answers.push(a));
    await tick();
    broker.down();
    await broker.publish([to('a', '2'), { to: [], groups: ['g'], event: 'm', data: '3' }, to('b', '4')]);
    // A message to `a` and its group is one message; `exclude` leaves `a` out.
    await broker.publish([{ to: ['a'], groups: ['g'], event: 'm', data: '5' }]);
    await broker.publish([{ to: [], groups: ['g'], event: 'm', data: '6', exclude: ['a'] }]);
    const release = broker.holdReads();
    broker.up();
    // Live again, and the catch-up read is in flight: these are held until it is handed out.
    await broker.publish([to('a', '7'), to('b', '8')]);
    expect(dataOf(sink)).toEqual(['1']);
    release();
    for (let i = 0; i < 5; i++) await tick();
    expect(dataOf(sink)).toEqual(['1', '2', '3', '5', '7']);
    expect(sink.ended || sink.destroyed).toBe(false);
    expect(sink.events.some((e) => e[1] === 'reset')).toBe(false);
    expect(answers).toHaveLength(1);
    expect(answers[0]!.messages.map((m) => m.data)).toEqual(['4', '8']);
    expect(answers[0]!.reset).toBeUndefined();
    // The stream is live: the next message goes straight out.
    await broker.publish([to('a', '9')]);
    expect(dataOf(sink)).toEqual(['1', '2', '3', '5', '7', '9']);
    expect(hub.counts.streams).toBe(1);
  });

  it('reads each (stream, position) once however many connections share it', async () => {
    const { broker, hub } = setup();
    const sinks = Array.from({ length: 20 }, () => new FakeSink());
    sinks.forEach((s, i) => {
      hub.openStream({ uid: `u${i % 4}`, groups: ['g'], expiresAt: undefined }, s, undefined);
    });
    await broker.publish([{ to: [], groups: ['g'], event: 'm', data: '1' }]);
    broker.down();
    await broker.publish([{ to: [], groups: [], event: 'm', data: '2' }]);
    broker.reads = 0;
    broker.up();
    for (let i = 0; i < 5; i++) await tick();
    // 4 uid streams, the group, broadcasts: 6 reads for 20 connections.
    expect(broker.reads).toBe(6);
    for (const s of sinks) expect(dataOf(s)).toEqual(['1', '2']);
  });

  it('gives an in-band reset, not a close, where history no longer covers the gap', async () => {
    const { broker, hub } = setup(3);
    const sink = new FakeSink();
    const other = new FakeSink();
    hub.openStream({ uid: 'a', groups: [], expiresAt: undefined }, sink, undefined);
    hub.openStream({ uid: 'c', groups: [], expiresAt: undefined }, other, undefined);
    await broker.publish([to('a', '1')]);
    broker.down();
    for (let i = 2; i <= 6; i++) await broker.publish([to('a', String(i))]);
    await broker.publish([to('c', 'c1')]);
    broker.up();
    for (let i = 0; i < 5; i++) await tick();
    await broker.publish([to('a', '7')]);
    const resets = sink.events.filter((e) => e[1] === 'reset');
    expect(resets).toHaveLength(1);
    expect(JSON.parse(resets[0]![2]!)).toEqual({ reason: 'history_lost' });
    expect(dataOf(sink)).toEqual(['1', '7']);
    expect(sink.ended || sink.destroyed).toBe(false);
    // Another uid whose stream kept everything is caught up, not reset.
    expect(other.events.some((e) => e[1] === 'reset')).toBe(false);
    expect(dataOf(other)).toEqual(['c1']);
  });

  it('drops held messages past its bound and reads again, so nothing is lost or doubled', async () => {
    const broker = new BlipBroker({ size: 1000, ttlMs: 0, maxStreams: 1000, maxBytes: 1 << 30 });
    const sink = new FakeSink();
    const host = { metrics: undefined, log, ended: () => {}, slow: () => {} };
    const s = new StreamSession({ uid: 'a', groups: [], expiresAt: undefined }, sink, host, 1 << 20);
    s.open(broker, undefined, 1000);
    let head = undefined as Message | undefined;
    const cu = new CatchUp(
      broker,
      {
        members: () => [s],
        head: () => head,
        fanOut: (m) => {
          head = m;
          s.deliver(m);
        },
        caughtUp: () => {},
        delivered: () => {},
        log,
      },
      2,
      3,
    );
    broker.subscribe((m) => {
      if (!cu.hold(m)) {
        head = m;
        s.deliver(m);
      }
    });
    broker.onResync(() => cu.resync());
    await broker.publish([to('a', '1')]);
    broker.down();
    await broker.publish([to('a', '2')]);
    const release = broker.holdReads();
    broker.up();
    for (let i = 3; i <= 10; i++) await broker.publish([to('a', String(i))]);
    release();
    for (let i = 0; i < 10; i++) await tick();
    expect(cu.running).toBe(false);
    expect(dataOf(sink)).toEqual(['1', '2', '3', '4', '5', '6', '7', '8', '9', '10']);
    cu.close();
    await broker.close();
  });
});

describe('the seam of one pass', () => {
  const msg = (seq: number, extra: Partial<PublishInput> = {}): Message =>
    createMessage(to('a', String(seq), extra), { epoch: 'e', seq }, 0);

  it('cuts at the oldest read position, merges streams by id, drops repeats and exclusions', () => {
    const cut = cutOf([
      { complete: true, messages: [], position: 'e-9' },
      { complete: true, messages: [], position: 'e-7' },
    ]);
    expect(cut).toMatchObject({ epoch: 'e', seq: 7 });
    const parts = [[msg(2), msg(5), msg(8)], [msg(3), msg(5), msg(6, { exclude: ['a'] })], []];
    expect(missedOf(parts, 2, cut!.seq, 'a').map((m) => m.seq)).toEqual([3, 5]);
    expect(missedOf(parts, 2, cut!.seq, 'b').map((m) => m.seq)).toEqual([3, 5, 6]);
  });
});
