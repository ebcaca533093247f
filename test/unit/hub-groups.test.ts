/**
 * Runtime groups at the replay/live seam: a group left while a replay is in flight (the replay was
 * read with the old groups, live messages of the group are queued) is never handed over, neither
 * from the replay nor from the queue; a group joined meanwhile is.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config.js';
import { Hub } from '../../src/hub.js';
import { createLogger } from '../../src/logger.js';
import { FakeSink, SlowReplayBroker } from '../fakes.js';

const config = loadConfig({ JWT_SECRET: 'x'.repeat(32) });
const log = createLogger('silent');
const tick = () => new Promise((r) => setImmediate(r));

let hubs: Hub[] = [];
afterEach(async () => {
  for (const h of hubs) await h.close();
  hubs = [];
});

const data = (sink: FakeSink) => sink.out.match(/^data:.*$/gm) ?? [];

describe('runtime groups at the replay seam', () => {
  it('drops replayed and queued messages of a group left during the replay', async () => {
    const broker = new SlowReplayBroker({ size: 100, ttlMs: 0, maxStreams: 1000, maxBytes: 1 << 30 });
    const hub = new Hub(config, broker, undefined, log);
    hubs.push(hub);
    const [start] = await hub.publish([{ to: ['other'], groups: [], event: 'm', data: '"start"' }]);
    await hub.publish([{ to: [], groups: ['room'], event: 'm', data: '"room-before"' }]);
    await hub.publish([{ to: ['a'], groups: [], event: 'm', data: '"mine-before"' }]);
    const sink = new FakeSink();
    const sub = await hub.subscriberNow({ uid: 'a', groups: ['room'], expiresAt: undefined });
    hub.openStream(sub, sink, start!.id);
    await tick();
    await hub.publish([{ to: [], groups: ['room'], event: 'm', data: '"room-queued"' }]);
    await hub.publish([{ to: [], groups: ['lobby'], event: 'm', data: '"lobby-before-join"' }]);
    expect(await hub.changeGroups({ uids: ['a'], join: ['lobby'], leave: ['room'] })).toEqual({
      uids: 1,
      connections: 1,
    });
    await hub.publish([{ to: [], groups: ['lobby'], event: 'm', data: '"lobby-queued"' }]);
    await hub.publish([{ to: [], groups: ['room'], event: 'm', data: '"room-after"' }]);
    broker.release();
    await tick();
    expect(data(sink)).toEqual(['data:"mine-before"', 'data:"lobby-queued"']);
    await hub.publish([{ to: [], groups: ['lobby', 'room'], event: 'm', data: '"both"' }]);
    await hub.publish([{ to: [], groups: ['room'], event: 'm', data: '"room-live"' }]);
    expect(data(sink)).toEqual(['data:"mine-before"', 'data:"lobby-queued"', 'data:"both"']);
  });

  it('answers a waiting poll without a message of a group left after it was batched', async () => {
    const broker = new SlowReplayBroker({ size: 100, ttlMs: 0, maxStreams: 1000, maxBytes: 1 << 30 });
    const hub = new Hub(config, broker, undefined, log);
    hubs.push(hub);
    const [start] = await hub.publish([{ to: ['other'], groups: [], event: 'm', data: '0' }]);
    const answers: { messages: readonly { data: string }[]; cursor: string }[] = [];
    const sub = await hub.subscriberNow({ uid: 'a', groups: ['room'], expiresAt: undefined });
    hub.poll(sub, start!.id, 5000, (a) => answers.push(a));
    await tick();
    broker.release();
    await tick();
    // Live now: a room message is batched, and the leave comes before the answer goes out.
    const [m] = await hub.publish([{ to: [], groups: ['room'], event: 'm', data: '"room"' }]);
    await hub.changeGroups({ uids: ['a'], join: [], leave: ['room'] });
    await tick();
    expect(answers).toEqual([{ messages: [], cursor: m!.id }]);
  });

  it('gives a new connection its token groups plus joined minus left, the later call winning', async () => {
    const broker = new SlowReplayBroker({ size: 100, ttlMs: 0, maxStreams: 1000, maxBytes: 1 << 30 });
    const hub = new Hub(config, broker, undefined, log);
    hubs.push(hub);
    const token = { uid: 'a', groups: ['t1', 't2'], expiresAt: undefined };
    expect(await hub.subscriberNow(token)).toBe(token);
    await hub.changeGroups({ uids: ['a'], join: ['j1', 'j2'], leave: ['t1'] });
    expect((await hub.subscriberNow(token)).groups).toEqual(['t2', 'j1', 'j2']);
    await hub.changeGroups({ uids: ['a'], join: ['t1'], leave: ['j1'] });
    expect((await hub.subscriberNow(token)).groups).toEqual(['t1', 't2', 'j2']);
    // Another uid, and the token itself, are untouched.
    expect((await hub.subscriberNow({ ...token, uid: 'b' })).groups).toEqual(['t1', 't2']);
    expect(token.groups).toEqual(['t1', 't2']);
  });
});
