/**
 * Issue 16.10: `/online?uid=` answers every asked uid, including names that are special on a
 * plain JavaScript object (`__proto__`, `constructor`, `toString`): a plain `{}` dropped
 * `__proto__` silently (its assignment sets the prototype) and the answer lacked the key.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { openEvents, pubToken, type SseClient, startServer, subToken, type TestServer } from '../helpers.js';
import { rawRequest } from './raw.js';

describe('/online with uids named like Object.prototype members', () => {
  let s: TestServer;
  const open: SseClient[] = [];
  beforeAll(async () => {
    s = await startServer();
  });
  afterEach(() => {
    for (const c of open.splice(0)) c.close();
  });
  afterAll(() => s.close());

  it('counts __proto__, constructor and toString like any uid', async () => {
    for (const uid of ['__proto__', '__proto__', 'constructor']) {
      const c = await openEvents(s.url, subToken(uid));
      open.push(c);
      await c.waitForId();
    }
    const r = await rawRequest(s.url, {
      path: '/online?uid=__proto__&uid=constructor&uid=toString&uid=hasOwnProperty',
      headers: { authorization: `Bearer ${pubToken()}` },
    });
    expect(r.status).toBe(200);
    // The raw text: JSON.parse would hide nothing here, but a missing key must show.
    expect(r.body).toContain('"__proto__":2');
    const body = JSON.parse(r.body) as { connections: number; online: Record<string, number> };
    expect(body.connections).toBe(3);
    expect(Object.entries(body.online)).toEqual([
      ['__proto__', 2],
      ['constructor', 1],
      ['toString', 0],
      ['hasOwnProperty', 0],
    ]);
  });
});
