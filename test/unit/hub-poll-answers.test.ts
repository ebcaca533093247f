/**
 * Every long-poll gets an answer that carries a usable cursor, also when the backend
 * fails mid-request or the server drains before a fresh poll learnt its position.
 */
import { afterEach, describe, expect, it } from 'vitest';
import type { Subscriber } from '../../src/auth.js';
import type { BrokerReplay } from '../../src/broker.js';
import { MemoryBroker } from '../../src/broker-memory.js';
import { loadConfig } from '../../src/config.js';
import { unavailable } from '../../src/errors.js';
import { Hub } from '../../src/hub.js';
import { parseId } from '../../src/ids.js';
import { createLogger } from '../../src/logger.js';
import type { PollAnswer } from '../../src/poll-session.js';

const config = loadConfig({ JWT_SECRET: 'x'.repeat(32) });
const log = createLogger('silent');
const opts = { size: 100, ttlMs: 0, maxStreams: 1000, maxBytes: 1 << 30 };
const sub: Subscriber = { uid: 'a', groups: [], expiresAt: undefined };
const tick = () => new Promise((r) => setImmediate(r));

/** A backend that fails replays and positions (Redis dropped the connection mid-request). */
class FailingBroker extends MemoryBroker {
  failing = false;
  override async replay(streams: readonly string[], resumeId: string): Promise<BrokerReplay> {
    if (this.failing) throw unavailable('backend unavailable', 'backend_unavailable');
    return super.replay(streams, resumeId);
  }
  override async position(): Promise<string> {
    if (this.failing) throw unavailable('backend unavailable', 'backend_unavailable');
    return super.position();
  }
}

let hubs: Hub[] = [];
afterEach(async () => {
  for (const h of hubs) await h.close();
  hubs = [];
});

describe('long-poll answers', () => {
  it('a poll whose replay fails is answered (same cursor, no messages) instead of hanging', async () => {
    const broker = new FailingBroker(opts);
    const hub = new Hub(config, broker, undefined, log);
    hubs.push(hub);
    const [m] = await hub.publish([{ to: ['a'], groups: [], event: 'm', data: '1' }]);
    broker.failing = true;
    const answers: PollAnswer[] = [];
    hub.poll(sub, m!.id, 60_000, (a) => answers.push(a));
    for (let i = 0; i < 5; i++) await tick();
    expect(answers).toEqual([{ messages: [], cursor: m!.id }]);
  });

  it('a fresh poll answered before it learnt the position (drain, failure) still gets a position', async () => {
    const broker = new FailingBroker(opts);
    const hub = new Hub(config, broker, undefined, log);
    hubs.push(hub);
    const [m] = await hub.publish([{ to: ['b'], groups: [], event: 'm', data: '1' }]);
    const drained: PollAnswer[] = [];
    hub.poll(sub, undefined, 60_000, (a) => drained.push(a));
    broker.failing = true;
    const failed: PollAnswer[] = [];
    hub.poll(sub, undefined, 60_000, (a) => failed.push(a));
    hub.drain();
    for (let i = 0; i < 5; i++) await tick();
    for (const answers of [drained, failed]) {
      expect(answers).toHaveLength(1);
      expect(parseId(answers[0]!.cursor)).toBeDefined();
      expect(answers[0]!.cursor).toBe(m!.id);
    }
  });
});
