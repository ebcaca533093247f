import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openEvents, poll, startServer, subToken, type TestServer } from '../helpers.js';

let s: TestServer;
beforeAll(async () => {
  s = await startServer();
});
afterAll(() => s.close());

describe('smoke', () => {
  it('delivers a push to an open stream and a poll', async () => {
    const c = await openEvents(s.url, subToken('u1'));
    await c.waitForId();
    const r = await s.push({ to: 'u1', data: { n: 1 } });
    expect(r.status).toBe(200);
    await c.waitForEvents(1);
    expect(JSON.parse(c.events[0]!.data)).toEqual({ n: 1 });
    const p = await poll(s.url, subToken('u1'), c.lastId, 1);
    expect(p.messages).toEqual([]);
    c.close();
  });
});
