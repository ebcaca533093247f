/**
 * Presence webhooks on a real in-memory server with a real receiver: online at the first
 * connection, offline after the grace, nothing for a reload, alternation, poll-only clients, the
 * queue bound, and what a restart forgets.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { openEvents, poll, type SseClient, startServer, subToken, type TestServer } from '../helpers.js';
import { eventually } from '../redis/cluster-helpers.js';
import { metricOf, type Receiver, startReceiver, WEBHOOK_SECRET } from '../webhook-receiver.js';

const open: { close(): unknown }[] = [];
afterEach(async () => {
  for (const o of open.splice(0).reverse()) await o.close();
});

async function setup(graceSec = 1): Promise<{ s: TestServer; rx: Receiver }> {
  const rx = await startReceiver();
  open.push(rx);
  const s = await startServer({
    WEBHOOK_URL: rx.url,
    WEBHOOK_SECRET,
    OFFLINE_GRACE_SECONDS: String(graceSec),
  });
  open.push(s);
  return { s, rx };
}

const sse = async (s: TestServer, uid: string): Promise<SseClient> => {
  const c = await openEvents(s.url, subToken(uid));
  await c.waitForId();
  return c;
};

describe('presence webhooks (memory)', () => {
  it('one signed online for a uid with several connections; one offline after the grace, not before', async () => {
    const { s, rx } = await setup(1);
    const a = await sse(s, 'alice');
    const b = await sse(s, 'alice');
    await eventually(() => rx.of('alice').length === 1, 5000, 'online');
    const [on] = rx.of('alice');
    expect(on).toMatchObject({ type: 'online', uid: 'alice' });
    expect(typeof on!.id).toBe('string');
    expect(Math.abs(on!.time - Date.now())).toBeLessThan(5000);
    a.close();
    await new Promise((r) => setTimeout(r, 300));
    b.close();
    const closedAt = Date.now();
    await new Promise((r) => setTimeout(r, 600));
    expect(rx.of('alice')).toHaveLength(1); // still within the grace
    await eventually(() => rx.of('alice').length === 2, 5000, 'offline');
    const off = rx.of('alice')[1]!;
    expect(off).toMatchObject({ type: 'offline', uid: 'alice' });
    expect(off.time).toBeGreaterThanOrEqual(closedAt - 50);
    expect(off.time).toBeLessThanOrEqual(closedAt + 2000);
    expect(rx.rejected).toBe(0);
  });

  it('a reload within the grace makes no event; over repeated cycles the types alternate in order', async () => {
    const { s, rx } = await setup(1);
    for (let cycle = 0; cycle < 3; cycle++) {
      const c = await sse(s, 'bob');
      c.close();
      const again = await sse(s, 'bob'); // a reload: within the grace
      await new Promise((r) => setTimeout(r, 200));
      again.close();
      await eventually(() => rx.of('bob').length === 2 * (cycle + 1), 5000, `cycle ${cycle}`);
    }
    expect(rx.of('bob').map((e) => e.type)).toEqual([
      'online',
      'offline',
      'online',
      'offline',
      'online',
      'offline',
    ]);
    const ids = rx.of('bob').map((e) => e.id);
    expect(new Set(ids).size).toBe(ids.length);
  });

  it('a waiting long-poll counts as a connection (poll-only clients)', async () => {
    const { s, rx } = await setup(1);
    const first = await poll(s.url, subToken('carol'));
    const waiting = poll(s.url, subToken('carol'), first.cursor, 2);
    await eventually(() => rx.of('carol').length === 1, 5000, 'online from a poll');
    await waiting;
    await eventually(() => rx.of('carol').length === 2, 6000, 'offline after the poll');
    expect(rx.of('carol').map((e) => e.type)).toEqual(['online', 'offline']);
  });

  it('keeps pushes and connections working while the receiver fails, then delivers the same events', async () => {
    const { s, rx } = await setup(1);
    rx.answer = 500;
    const c = await sse(s, 'dave');
    await eventually(() => rx.requests >= 2, 10_000, 'retries');
    const pushed = await s.push({ to: 'dave', data: 1 });
    expect(pushed.status).toBe(200);
    await c.waitForEvents(1);
    const health = await fetch(`${s.url}/healthz`);
    expect(health.status).toBe(200);
    rx.answer = 200;
    await eventually(() => rx.of('dave').length === 1, 10_000, 'delivered after the receiver recovers');
    c.close();
  });

  it('past WEBHOOK_QUEUE_MAX the oldest events go, counted; the newest are delivered', async () => {
    const rx = await startReceiver();
    open.push(rx);
    const s = await startServer({
      WEBHOOK_URL: rx.url,
      WEBHOOK_SECRET,
      OFFLINE_GRACE_SECONDS: '3600',
      WEBHOOK_QUEUE_MAX: '100',
    });
    open.push(s);
    rx.answer = 503;
    for (let i = 0; i < 120; i++) open.push(await sse(s, `q${i}`));
    await eventually(
      async () => (await metricOf(s.url, 'ssepush_webhook_events_queued_total')) === 120,
      5000,
      '120 online events queued',
    );
    expect(await metricOf(s.url, 'ssepush_webhook_events_dropped_total')).toBe(20);
    expect(await metricOf(s.url, 'ssepush_webhook_queue_length')).toBe(100);
    rx.answer = 204;
    await eventually(
      () => new Set(rx.events.map((e) => e.uid)).size === 100,
      40_000,
      'the newest 100 delivered',
    );
    const delivered = new Set(rx.events.map((e) => e.uid));
    for (let i = 0; i < 120; i++) expect(delivered.has(`q${i}`), `q${i}`).toBe(i >= 20);
  }, 60_000);

  it('a restart forgets who was online (docs/webhooks.md, "Restarts in memory mode")', async () => {
    const rx = await startReceiver();
    open.push(rx);
    const env = { WEBHOOK_URL: rx.url, WEBHOOK_SECRET, OFFLINE_GRACE_SECONDS: '1' };
    const first = await startServer(env);
    open.push(first);
    open.push(await sse(first, 'erin'), await sse(first, 'fred'));
    await eventually(() => rx.of('erin').length === 1 && rx.of('fred').length === 1, 5000, 'online');
    await first.close();
    const second = await startServer(env);
    open.push(second);
    open.push(await sse(second, 'erin'));
    await eventually(() => rx.of('erin').length === 2, 5000, 'online again after the restart');
    await new Promise((r) => setTimeout(r, 2500)); // past the grace, plus a tick
    expect(rx.of('erin').map((e) => e.type)).toEqual(['online', 'online']);
    expect(rx.of('fred').map((e) => e.type)).toEqual(['online']);
  });
});
