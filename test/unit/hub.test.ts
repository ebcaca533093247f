import { afterEach, describe, expect, it } from 'vitest';
import type { Subscriber } from '../../src/auth.js';
import { MemoryBroker } from '../../src/broker-memory.js';
import { loadConfig } from '../../src/config.js';
import { Hub } from '../../src/hub.js';
import { createLogger } from '../../src/logger.js';
import type { PublishInput } from '../../src/message.js';
import type { PollAnswer } from '../../src/poll-session.js';
import { FakeSink, SlowReplayBroker } from '../fakes.js';

const config = loadConfig({ JWT_SECRET: 'x'.repeat(32), MAX_BUFFERED_BYTES: '2048' });
const log = createLogger('silent');
const brokerOpts = { size: 100, ttlMs: 0, maxStreams: 1000, maxBytes: 1 << 30 };
const sub = (uid: string, groups: string[] = []): Subscriber => ({ uid, groups, expiresAt: undefined });
const to = (uid: string, data = '1'): PublishInput => ({ to: [uid], groups: [], event: 'message', data });
const tick = () => new Promise((r) => setImmediate(r));

let hubs: Hub[] = [];
afterEach(async () => {
  for (const h of hubs) await h.close();
  hubs = [];
});
function makeHub(broker = new MemoryBroker(brokerOpts)): Hub {
  const h = new Hub(config, broker, undefined, log);
  hubs.push(h);
  return h;
}

describe('Hub streams', () => {
  it('sends retry and the bare position first, then live messages', async () => {
    const hub = makeHub();
    const first = await hub.publish([to('x')]);
    const sink = new FakeSink();
    hub.openStream(sub('a'), sink, undefined);
    await tick();
    expect(sink.out.startsWith(`retry:${config.retryMs}\n\nid:${first[0]!.id}\n\n`)).toBe(true);
    const [r] = await hub.publish([to('a', '{"k":1}')]);
    expect(r).toEqual({ id: expect.any(String), online: true, delivered: 1 });
    expect(sink.events).toEqual([[r!.id, 'message', '{"k":1}']]);
  });

  it('delivers once to a connection addressed through its uid and two groups', async () => {
    const hub = makeHub();
    const sink = new FakeSink();
    hub.openStream(sub('a', ['g1', 'g2']), sink, undefined);
    await tick();
    const [r] = await hub.publish([{ to: ['a'], groups: ['g1', 'g2'], event: 'e', data: '2' }]);
    expect(r!.delivered).toBe(1);
    expect(sink.events).toHaveLength(1);
  });

  it('gets the seam right: messages published during a replay arrive after it, once, in order', async () => {
    const broker = new SlowReplayBroker(brokerOpts);
    const hub = makeHub(broker);
    const [m1] = await hub.publish([to('a', '1')]);
    await hub.publish([to('a', '2'), to('a', '3')]);
    const sink = new FakeSink();
    hub.openStream(sub('a'), sink, m1!.id); // replay snapshot taken now: owes 2 and 3
    await tick();
    await hub.publish([to('a', '4'), to('a', '5')]); // published while the replay is in flight
    broker.release();
    await tick();
    await hub.publish([to('a', '6')]);
    expect(sink.events.map((e) => e[2])).toEqual(['2', '3', '4', '5', '6']);
  });

  it('answers an unprovable resume with a reset carrying the position, then goes live', async () => {
    const hub = makeHub();
    const [m] = await hub.publish([to('b')]);
    const sink = new FakeSink();
    hub.openStream(sub('a'), sink, 'otherepoch-1');
    await tick();
    expect(sink.out).toContain(`id:${m!.id}\nevent:reset\ndata:{"reason":"epoch_changed"}\n\n`);
    await hub.publish([to('a', '7')]);
    expect(sink.events.map((e) => e[1])).toEqual(['reset', 'message']);
  });

  it('closes a connection whose unsent output passes the bound', async () => {
    const hub = makeHub();
    const sink = new FakeSink();
    hub.openStream(sub('a'), sink, undefined);
    await tick();
    sink.stalled = true;
    await hub.publish([to('a', JSON.stringify('x'.repeat(3000)))]);
    expect(sink.destroyed).toBe(true);
    expect(hub.online(['a']).online).toEqual({ a: 0 });
  });

  it('enforces per-uid and total connection limits', () => {
    const small = loadConfig({
      JWT_SECRET: 'x'.repeat(32),
      MAX_CONNECTIONS_PER_UID: '2',
      MAX_CONNECTIONS: '3',
    });
    const hub = new Hub(small, new MemoryBroker(brokerOpts), undefined, log);
    hubs.push(hub);
    for (let i = 0; i < 2; i++) {
      hub.admit(sub('a'));
      hub.openStream(sub('a'), new FakeSink(), undefined);
    }
    expect(() => hub.admit(sub('a'))).toThrow(expect.objectContaining({ kind: 'limited' }));
    hub.admit(sub('b'));
    hub.openStream(sub('b'), new FakeSink(), undefined);
    expect(() => hub.admit(sub('c'))).toThrow(expect.objectContaining({ kind: 'unavailable' }));
  });

  it('drain ends streams and refuses new work', async () => {
    const hub = makeHub();
    const sink = new FakeSink();
    hub.openStream(sub('a'), sink, undefined);
    hub.drain();
    expect(sink.ended).toBe(true);
    expect(() => hub.admit(sub('a'))).toThrow(expect.objectContaining({ kind: 'unavailable' }));
    await expect(hub.publish([to('a')])).rejects.toMatchObject({ kind: 'unavailable' });
  });
});

describe('Hub polls', () => {
  const pollOnce = (hub: Hub, s: Subscriber, cursor: string | undefined, ms = 5000) =>
    new Promise<PollAnswer>((resolve) => hub.poll(s, cursor, ms, resolve));

  it('answers the position without a cursor, retained messages with one, and waits otherwise', async () => {
    const hub = makeHub();
    const start = await pollOnce(hub, sub('a'), undefined);
    expect(start.messages).toEqual([]);
    const [m] = await hub.publish([to('a', '1')]);
    const got = await pollOnce(hub, sub('a'), start.cursor);
    expect(got.messages.map((x) => x.id)).toEqual([m!.id]);
    expect(got.cursor).toBe(m!.id);
    const waiting = pollOnce(hub, sub('a'), got.cursor);
    await tick();
    const [m2] = await hub.publish([to('a', '2')]);
    const next = await waiting;
    expect(next.messages.map((x) => x.id)).toEqual([m2!.id]);
  });

  it('times out with a cursor it can resume from, and counts waiting polls as online', async () => {
    const hub = makeHub();
    const start = await pollOnce(hub, sub('a'), undefined);
    const waiting = pollOnce(hub, sub('a'), start.cursor, 50);
    await tick();
    expect(hub.online(['a']).online).toEqual({ a: 1 });
    const r = await waiting;
    expect(r).toEqual({ messages: [], cursor: start.cursor });
  });

  it('caps an answer at 100 messages; the next poll gets the rest', async () => {
    const hub = makeHub(new MemoryBroker({ ...brokerOpts, size: 500 }));
    const start = await pollOnce(hub, sub('a'), undefined);
    await hub.publish(Array.from({ length: 150 }, (_, i) => to('a', String(i))));
    const a = await pollOnce(hub, sub('a'), start.cursor);
    expect(a.messages).toHaveLength(100);
    const b = await pollOnce(hub, sub('a'), a.cursor);
    expect(b.messages.map((m) => m.data)).toEqual(Array.from({ length: 50 }, (_, i) => String(100 + i)));
  });

  it('caps a waiting poll woken by a burst at 100 messages; the next poll gets the rest', async () => {
    const hub = makeHub(new MemoryBroker({ ...brokerOpts, size: 500 }));
    const start = await pollOnce(hub, sub('a', ['g']), undefined);
    const waiting = pollOnce(hub, sub('a', ['g']), start.cursor);
    await tick();
    await hub.publish(
      Array.from({ length: 150 }, (_, i) => ({ to: ['a'], groups: ['g'], event: 'e', data: String(i) })),
    );
    const first = await waiting;
    expect(first.messages.map((m) => m.data)).toEqual(Array.from({ length: 100 }, (_, i) => String(i)));
    expect(first.cursor).toBe(first.messages[99]!.id);
    const rest = await pollOnce(hub, sub('a', ['g']), first.cursor);
    expect(rest.messages.map((m) => m.data)).toEqual(Array.from({ length: 50 }, (_, i) => String(100 + i)));
  });

  it('drain answers waiting polls with their cursor', async () => {
    const hub = makeHub();
    const start = await pollOnce(hub, sub('a'), undefined);
    const waiting = pollOnce(hub, sub('a'), start.cursor);
    await tick();
    hub.drain();
    expect(await waiting).toEqual({ messages: [], cursor: start.cursor });
  });
});
