/** The Node client's retries with idempotency keys against the real server. */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PushClient, PushError } from '../../clients/node/client.js';
import { openEvents, startServer, subToken, TEST_SECRET, type TestServer } from '../helpers.js';

let s: TestServer;
beforeAll(async () => {
  s = await startServer();
});
afterAll(() => s.close());

/** A fetch whose first `lose` answers are lost after the request reached the server. */
function losing(lose: number) {
  const keys: (string | undefined)[] = [];
  const f: typeof fetch = async (input, init) => {
    keys.push(new Headers(init?.headers).get('idempotency-key') ?? undefined);
    const res = await fetch(input, init);
    const text = await res.text();
    if (lose-- > 0) throw new TypeError('fetch failed');
    return new Response(text, { status: res.status, headers: res.headers });
  };
  return { f, keys };
}

describe('Node PushClient retries', () => {
  it('retries a push whose answer was lost with the same key: delivered once, first id answered', async () => {
    const sse = await openEvents(s.url, subToken('nr1'));
    await sse.waitForId();
    const { f, keys } = losing(2);
    const c = new PushClient(s.url, { secret: TEST_SECRET, fetch: f, retries: 3, retryDelayMs: 5 });
    const r = await c.push('nr1', { n: 1 });
    const [ev] = await sse.waitForEvents(1);
    expect(ev!.id).toBe(r.id);
    expect(keys.length).toBe(3);
    expect(keys[0]).toMatch(/^[0-9a-f]{32}$/);
    expect(new Set(keys).size).toBe(1);
    await new Promise((res) => setTimeout(res, 300));
    expect(sse.events.length).toBe(1);
    await c.push('nr1', { n: 2 });
    expect(keys[keys.length - 1]).not.toBe(keys[0]);
    sse.close();
  });

  it('does not retry by default, and sends an explicit key', async () => {
    const { f, keys } = losing(1);
    const c = new PushClient(s.url, { secret: TEST_SECRET, fetch: f });
    await expect(c.push('nr2', 1)).rejects.toBeInstanceOf(PushError);
    expect(keys).toEqual([undefined]);
    const a = await c.send({ to: 'nr2', data: 1 }, 'order-1001-paid');
    const b = await c.send({ to: 'nr2', data: 1 }, 'order-1001-paid');
    expect(b).toEqual(a);
    await expect(c.send({ data: 1 }, 'has space')).rejects.toThrow(/idempotency key/);
  });
});
