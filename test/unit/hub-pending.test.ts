/**
 * A connection addressed through its uid and its groups is handed each message once per
 * match by the fan-out. While its replay is in flight those hand-overs are queued: the queue must
 * hold each message once, or MAX_PENDING is reached (and the client dropped as slow) several
 * times sooner than the bound says.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config.js';
import { Hub } from '../../src/hub.js';
import { createLogger } from '../../src/logger.js';
import { MAX_PENDING } from '../../src/member.js';
import type { PublishInput } from '../../src/message.js';
import { FakeSink, SlowReplayBroker } from '../fakes.js';

const config = loadConfig({ JWT_SECRET: 'x'.repeat(32) });
const log = createLogger('silent');
const tick = () => new Promise((r) => setImmediate(r));

let hubs: Hub[] = [];
afterEach(async () => {
  for (const h of hubs) await h.close();
  hubs = [];
});

describe('the replay queue', () => {
  it('holds a message addressed through uid and two groups once, so MAX_PENDING means messages', async () => {
    const broker = new SlowReplayBroker({ size: 10, ttlMs: 0, maxStreams: 1000, maxBytes: 1 << 30 });
    const hub = new Hub(config, broker, undefined, log);
    hubs.push(hub);
    const [first] = await hub.publish([{ to: ['a'], groups: [], event: 'm', data: '0' }]);
    const sink = new FakeSink();
    hub.openStream({ uid: 'a', groups: ['g1', 'g2'], expiresAt: undefined }, sink, first!.id);
    await tick();
    const n = Math.floor(MAX_PENDING / 2);
    const input: PublishInput = { to: ['a'], groups: ['g1', 'g2'], event: 'm', data: '1' };
    for (let i = 0; i < n; i += 500) await hub.publish(Array.from({ length: 500 }, () => input));
    expect(sink.destroyed).toBe(false);
    broker.release();
    await tick();
    expect(sink.out.match(/^data:/gm)?.length).toBe(n);
  });
});
