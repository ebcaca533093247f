/**
 * ssepush.js in a real browser against the real server: delivery on each transport, fallback,
 * reloads, resets, token refresh and backoff (tab sharing: tabs.test.ts). Every wait is on a condition.
 */
import type { Browser, BrowserContext } from 'playwright-core';
import { afterAll, afterEach, beforeAll, beforeEach, expect, it } from 'vitest';
import { loadConfig } from '../../src/config.js';
import { SsePushServer } from '../../src/server.js';
import { startServer, subToken, TEST_SECRET, type TestServer } from '../helpers.js';
import {
  clientState,
  describeBrowser,
  disconnects,
  type FixtureWindow,
  keepPushing,
  kick,
  launchBrowser,
  openClient,
  pushMany,
  pushTo,
  receivedIds,
  receivedMessages,
  resets,
  serveFixtures,
  waitFor,
  waitOnline,
  waitOpen,
} from './browser.js';

/** Quick retries so failure paths finish in well under a second. */
const FAST = JSON.stringify({ minRetryDelay: 100, maxRetryDelay: 1000 });

describeBrowser('browser client (ssepush.js)', () => {
  let browser: Browser;
  let server: TestServer;
  let context: BrowserContext;

  beforeAll(async () => {
    [browser, server] = await Promise.all([
      launchBrowser(),
      startServer({ JWT_CLOCK_TOLERANCE_SECONDS: '0' }),
    ]);
  });
  afterAll(async () => {
    await browser?.close();
    await server?.close();
  });
  beforeEach(async () => {
    context = await browser.newContext();
    await serveFixtures(context, server.url);
  });
  afterEach(async () => {
    await context?.close();
  });

  it('delivers over SSE, parsed, in order, for the event names it listens to', async () => {
    const page = await openClient(context, server.url, { token: subToken('b-sse'), events: 'chat' });
    await waitOpen(page, { transport: 'sse' });
    const a = await pushTo(server.url, { to: 'b-sse', data: { text: 'hi', n: 1 } });
    await pushTo(server.url, { to: 'b-sse', event: 'unheard', data: 1 });
    const b = await pushTo(server.url, { to: 'b-sse', event: 'chat', data: ['x', 2] });
    const c = await pushTo(server.url, { data: 'to everyone' });
    await waitFor(
      () => receivedIds(page),
      (ids) => ids.length >= 3,
      '3 messages',
    );
    expect(await receivedMessages(page)).toEqual([
      { id: a, event: 'message', data: { text: 'hi', n: 1 } },
      { id: b, event: 'chat', data: ['x', 2] },
      { id: c, event: 'message', data: 'to everyone' },
    ]);
  });

  it('delivers over forced long-poll', async () => {
    const page = await openClient(context, server.url, { token: subToken('b-poll'), transport: 'poll' });
    await waitOpen(page, { transport: 'poll' });
    const ids = await pushMany(server.url, 'b-poll', 5);
    await waitFor(
      () => receivedIds(page),
      (r) => r.length >= 5,
      '5 messages',
    );
    expect(await receivedIds(page)).toEqual(ids);
    expect((await receivedMessages(page)).map((m) => m.data)).toEqual([0, 1, 2, 3, 4].map((i) => ({ i })));
  });

  it('uses long-poll over XMLHttpRequest where EventSource and fetch are missing', async () => {
    const kinds = new Set<string>();
    context.on('request', (r) => {
      if (r.url().includes('/poll?')) kinds.add(r.resourceType());
    });
    const page = await openClient(context, server.url, {
      token: subToken('b-old'),
      noEventSource: '1',
      noFetch: '1',
    });
    await waitOpen(page, { transport: 'poll' });
    const ids = await pushMany(server.url, 'b-old', 3);
    await waitFor(
      () => receivedIds(page),
      (r) => r.length >= 3,
      '3 messages',
    );
    expect(await receivedIds(page)).toEqual(ids);
    expect([...kinds]).toEqual(['xhr']);
  });

  it('backs off with jitter while the server keeps failing (never hammers it)', async () => {
    const times: number[] = [];
    await context.route(`${server.url}/{events,poll}**`, (route) => {
      times.push(Date.now());
      return route.fulfill({ status: 503, contentType: 'application/json', body: '{"error":"x"}' });
    });
    const page = await openClient(context, server.url, { token: subToken('b-backoff') });
    // Defaults: delays drawn from 0.5-1 s, 1-2 s, 2-4 s, ... so 3.5 s hold at most 4 requests.
    await new Promise((r) => setTimeout(r, 3500));
    expect(times.length).toBeGreaterThanOrEqual(2);
    expect(times.length).toBeLessThanOrEqual(4);
    const gaps = times.slice(1).map((t, i) => t - times[i]!);
    expect(gaps[0]).toBeGreaterThanOrEqual(450);
    if (gaps[1] !== undefined) expect(gaps[1]).toBeGreaterThanOrEqual(950);
    expect((await clientState(page)).state).toBe('connecting');
  });

  it('stops with onError on a refused token when it has no getToken', async () => {
    const page = await openClient(context, server.url, { token: subToken('b-bad', { secret: 'wrong' }) });
    await page.waitForFunction(() => (window as unknown as FixtureWindow).__push.state === 'closed');
    const errors = await page.evaluate(() => JSON.parse(sessionStorage.getItem('fx:errors') ?? '[]'));
    expect(errors).toEqual([expect.stringContaining('401')]);
  });

  it('switches to long-poll by itself when streams keep failing (a buffering proxy)', async () => {
    await context.route(`${server.url}/events**`, (route) =>
      route.fulfill({ status: 200, contentType: 'text/plain', body: 'buffered by a proxy' }),
    );
    let streams = 0;
    context.on('request', (r) => {
      if (r.url().includes('/events?')) streams++;
    });
    const page = await openClient(context, server.url, { token: subToken('b-fallback'), opts: FAST });
    await waitOpen(page, { transport: 'poll' });
    expect(streams).toBe(2);
    const ids = await pushMany(server.url, 'b-fallback', 3);
    await waitFor(
      () => receivedIds(page),
      (r) => r.length >= 3,
      '3 messages',
    );
    expect(await receivedIds(page)).toEqual(ids);
    // The tab remembers: after a reload it goes straight to long-poll and misses nothing.
    await page.reload();
    await waitOpen(page, { transport: 'poll' });
    const more = await pushMany(server.url, 'b-fallback', 2, 3);
    await waitFor(
      () => receivedIds(page),
      (r) => r.length >= 5,
      '5 messages',
    );
    expect(await receivedIds(page)).toEqual([...ids, ...more]);
    expect(streams).toBe(2);
  });

  it('switches to long-poll when streams never open (a proxy holding the whole response)', async () => {
    await context.route(`${server.url}/events**`, () => {
      // never answered: the proxy waits for a response end that a stream never has
    });
    const opts = JSON.stringify({ minRetryDelay: 100, maxRetryDelay: 1000, openTimeout: 300 });
    const page = await openClient(context, server.url, { token: subToken('b-held'), opts });
    await waitOpen(page, { transport: 'poll' });
    const ids = await pushMany(server.url, 'b-held', 2);
    await waitFor(
      () => receivedIds(page),
      (r) => r.length >= 2,
      '2 messages',
    );
    expect(await receivedIds(page)).toEqual(ids);
  });

  it('loses nothing and repeats nothing while the page reloads during pushes', async () => {
    const uid = 'b-reload';
    const page = await openClient(context, server.url, { token: subToken(uid) });
    await waitOpen(page);
    const pusher = keepPushing(server.url, uid);
    try {
      for (let k = 0; k < 3; k++) {
        await pusher.more(10);
        await page.reload();
        await waitOpen(page);
      }
      await pusher.more(10);
    } finally {
      await pusher.stop();
    }
    const pushed = pusher.pushed;
    const got = await waitFor(
      () => receivedIds(page),
      (r) => r.length >= pushed.length,
      `${pushed.length} messages`,
    );
    expect(got).toEqual(pushed);
  });

  it('surfaces a reset when the server lost history (restart), then continues live', async () => {
    const env = { JWT_SECRET: TEST_SECRET, LOG_LEVEL: 'silent', HOST: '127.0.0.1', PORT: '0' };
    const first = new SsePushServer(loadConfig(env));
    const port = await first.listen(0, '127.0.0.1');
    const origin = `http://127.0.0.1:${port}`;
    let second: SsePushServer | undefined;
    try {
      await serveFixtures(context, origin);
      const page = await openClient(context, origin, { token: subToken('b-reset'), opts: FAST });
      await waitOpen(page);
      const before = await pushTo(origin, { to: 'b-reset', data: 'before' });
      await waitFor(
        () => receivedIds(page),
        (r) => r.length === 1,
        'first message',
      );
      await first.close();
      second = new SsePushServer(loadConfig(env));
      await second.listen(port, '127.0.0.1');
      const [reset] = await waitFor(
        () => resets(page),
        (r) => r.length === 1,
        'a reset',
      );
      expect(reset?.reason).toBe('epoch_changed');
      await waitOpen(page);
      const after = await pushTo(origin, { to: 'b-reset', data: 'after' });
      await waitFor(
        () => receivedIds(page),
        (r) => r.length === 2,
        'message after the reset',
      );
      expect(await receivedIds(page)).toEqual([before, after]);
    } finally {
      await first.close();
      await second?.close();
    }
  });

  it('refreshes an expiring token with getToken() and resumes without loss', async () => {
    const uid = 'b-expiry';
    let minted = 0;
    await context.exposeFunction('__mintToken', () => {
      minted++;
      return subToken(uid, { ttlSec: 3600 });
    });
    const page = await openClient(context, server.url, {
      token: subToken(uid, { ttlSec: 4 }),
      refresh: '1',
      opts: FAST,
    });
    await waitOpen(page, { transport: 'sse' });
    expect(minted).toBe(0); // the stream runs on the short-lived token until the server ends it
    const pushed: string[] = [];
    // Push across the expiry: before it, while the stream is down, and after the refresh.
    while (minted === 0 || pushed.length < 5) {
      pushed.push(await pushTo(server.url, { to: uid, data: pushed.length }));
      await new Promise((r) => setTimeout(r, 100));
      if (pushed.length > 80) throw new Error('the token was never refreshed');
    }
    pushed.push(...(await pushMany(server.url, uid, 3)));
    const got = await waitFor(
      () => receivedIds(page),
      (r) => r.length >= pushed.length,
      'all messages',
    );
    expect(got).toEqual(pushed);
    expect(minted).toBe(1);
    const states = await page.evaluate(() =>
      (window as unknown as FixtureWindow).__states.map((s) => s.state),
    );
    expect(states).toContain('reconnecting');
    expect((await clientState(page)).state).toBe('open');
  });

  for (const transport of ['sse', 'poll'] as const) {
    it(`closes for good on a disconnect without reconnect, with the reason (${transport})`, async () => {
      const uid = `b-kick-${transport}`;
      let streams = 0;
      context.on('request', (r) => {
        if (r.url().includes('/events?') || r.url().includes('/poll?')) streams++;
      });
      const page = await openClient(context, server.url, { token: subToken(uid), transport, opts: FAST });
      await waitOpen(page, { transport });
      // Kicked once the server holds its connection (a long-poll client kicked between two polls
      // is told on its next poll: see the test after these).
      await waitOnline(server.url, uid);
      await kick(server.url, { uid, reason: 'banned', reconnect: false });
      await page.waitForFunction(() => (window as unknown as FixtureWindow).__push.state === 'closed');
      expect(await disconnects(page)).toEqual([{ reason: 'banned', reconnect: false }]);
      const closed = await page.evaluate(() =>
        (window as unknown as FixtureWindow).__states.filter((s) => s.state === 'closed'),
      );
      expect(closed).toEqual([
        expect.objectContaining({ disconnect: { reason: 'banned', reconnect: false } }),
      ]);
      // No retry: well past several backoff delays, no request was made and nothing is delivered.
      const made = streams;
      await pushTo(server.url, { to: uid, data: 'after the kick' });
      await new Promise((r) => setTimeout(r, 1500));
      expect(streams).toBe(made);
      expect(await receivedIds(page)).toEqual([]);
    });

    it(`reconnects after a disconnect with reconnect, and after a revoke with a new token (${transport})`, async () => {
      const uid = `b-revoke-${transport}`;
      let minted = 0;
      await context.exposeFunction('__mintToken', () => {
        minted++;
        return subToken(uid, { ttlSec: 3600 });
      });
      const page = await openClient(context, server.url, {
        token: subToken(uid, { extra: { iat: Math.floor(Date.now() / 1000) - 10 } }),
        transport,
        refresh: '1',
        opts: FAST,
      });
      await waitOpen(page, { transport });
      const first = await pushTo(server.url, { to: uid, data: 1 });
      await waitFor(
        () => receivedIds(page),
        (r) => r.length === 1,
        'first message',
      );
      await kick(server.url, { uid, reason: 'moved', reconnect: true });
      await waitFor(
        () => disconnects(page),
        (d) => d.length === 1,
        'the first disconnect',
      );
      await waitOpen(page, { transport });
      const second = await pushTo(server.url, { to: uid, data: 2 });
      await waitFor(
        () => receivedIds(page),
        (r) => r.length === 2,
        'second message',
      );
      expect(minted).toBe(0); // the old token still works: nothing was revoked
      await kick(server.url, { uid, reason: 'logged out elsewhere', reconnect: true, revoke: true });
      await waitFor(
        () => disconnects(page),
        (d) => d.length === 2,
        'the second disconnect',
      );
      const third = await pushTo(server.url, { to: uid, data: 3 });
      await waitFor(
        () => receivedIds(page),
        (r) => r.length === 3,
        'third message, on a new token',
      );
      expect(minted).toBe(1);
      expect(await receivedIds(page)).toEqual([first, second, third]);
      expect(await disconnects(page)).toEqual([
        { reason: 'moved', reconnect: true },
        { reason: 'logged out elsewhere', reconnect: true },
      ]);
      expect((await clientState(page)).state).toBe('open');
    });
  }

  it.each([
    ['on its next poll', false],
    ["in its next poll's 401 (revoked), refreshes its token", true],
  ])('tells a long-poll client kicked between two polls %s, once, and it goes on', async (_what, revoke) => {
    const uid = `b-between-${revoke}`;
    let minted = 0;
    await context.exposeFunction('__mintToken', () => {
      minted++;
      return subToken(uid, { ttlSec: 3600 });
    });
    // Holds the client's next poll before it reaches the server: the kick finds nothing waiting.
    let hold = false;
    let held = 0;
    let release: () => void = () => {};
    const gate = new Promise<void>((r) => {
      release = r;
    });
    await context.route(
      (url) => url.pathname === '/poll',
      async (route) => {
        if (hold) {
          held++;
          await gate;
        }
        await route.continue();
      },
    );
    const page = await openClient(context, server.url, {
      token: subToken(uid, { extra: { iat: Math.floor(Date.now() / 1000) - 10 } }),
      transport: 'poll',
      refresh: '1',
      opts: FAST,
    });
    await waitOpen(page, { transport: 'poll' });
    await waitOnline(server.url, uid);
    hold = true;
    const first = await pushTo(server.url, { to: uid, data: 1 });
    await waitFor(
      async () => held,
      (n) => n === 1,
      'the next poll to be held',
    );
    await kick(server.url, { uid, reason: 'moved', reconnect: true, revoke });
    hold = false;
    release();
    await waitFor(
      () => disconnects(page),
      (d) => d.length === 1,
      'the disconnect',
    );
    expect(await disconnects(page)).toEqual([{ reason: 'moved', reconnect: true }]);
    await waitOpen(page, { transport: 'poll' });
    const second = await pushTo(server.url, { to: uid, data: 2 });
    await waitFor(
      () => receivedIds(page),
      (r) => r.length === 2,
      'the message after the reconnect',
    );
    expect(await receivedIds(page)).toEqual([first, second]);
    // Told once: the reconnect resumed from a cursor past the kick.
    expect(await disconnects(page)).toEqual([{ reason: 'moved', reconnect: true }]);
    expect((await clientState(page)).state).toBe('open');
    expect(minted).toBe(revoke ? 1 : 0);
  });
});
