/**
 * ssepush.js sharing one server connection between the tabs of a browser: leader election,
 * relays, takeover when the leader closes or reloads, catch-up of a reloading follower, and the
 * one-connection-per-tab fallbacks. Connection counts come from the server's `GET /online`.
 */
import type { Browser, BrowserContext } from 'playwright-core';
import { afterAll, afterEach, beforeAll, beforeEach, expect, it } from 'vitest';
import { startServer, subToken, type TestServer } from '../helpers.js';
import {
  clientState,
  connectionsOf,
  describeBrowser,
  disconnects,
  type FixtureWindow,
  keepPushing,
  kick,
  launchBrowser,
  openClient,
  pushMany,
  receivedIds,
  serveFixtures,
  waitFor,
  waitOpen,
} from './browser.js';

describeBrowser('browser client: tabs share one connection', () => {
  let browser: Browser;
  let server: TestServer;
  let context: BrowserContext;

  beforeAll(async () => {
    [browser, server] = await Promise.all([launchBrowser(), startServer()]);
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

  const oneConnection = (uid: string) =>
    waitFor(
      () => connectionsOf(server.url, uid),
      (n) => n === 1,
      `one connection for ${uid}`,
    );

  it('shares one server connection between two tabs, and the next tab takes over without loss', async () => {
    const uid = 't-share';
    const token = subToken(uid);
    const first = await openClient(context, server.url, { token });
    await waitOpen(first, { role: 'leader' });
    const second = await openClient(context, server.url, { token });
    await waitOpen(second, { role: 'follower' });
    await oneConnection(uid);
    const early = await pushMany(server.url, uid, 3);
    await waitFor(
      () => receivedIds(second),
      (r) => r.length >= 3,
      'relayed messages',
    );
    expect(await receivedIds(first)).toEqual(early);
    expect(await receivedIds(second)).toEqual(early);
    expect(await connectionsOf(server.url, uid)).toBe(1);

    // Close the leader while messages keep coming; the follower takes over from its last id.
    const pusher = keepPushing(server.url, uid);
    try {
      await pusher.more(12);
      await first.close();
      await waitOpen(second, { role: 'leader' });
      await pusher.more(10);
    } finally {
      await pusher.stop();
    }
    const pushed = [...early, ...pusher.pushed];
    const got = await waitFor(
      () => receivedIds(second),
      (r) => r.length >= pushed.length,
      `${pushed.length} messages`,
    );
    expect(got).toEqual(pushed);
    await oneConnection(uid);
  });

  it('a follower tab reloading during pushes catches up: nothing lost, nothing twice', async () => {
    const uid = 't-follower-reload';
    const token = subToken(uid);
    const leader = await openClient(context, server.url, { token, events: 'chat' });
    await waitOpen(leader, { role: 'leader' });
    // The follower listens for an event name the leader does not: the leader must hear it too.
    const follower = await openClient(context, server.url, { token, events: 'side' });
    await waitOpen(follower, { role: 'follower' });
    const pusher = keepPushing(server.url, uid, (i) => (i % 2 ? 'side' : 'message'));
    try {
      for (let k = 0; k < 2; k++) {
        await pusher.more(10);
        await follower.reload();
        await waitOpen(follower, { role: 'follower' });
      }
      await pusher.more(10);
    } finally {
      await pusher.stop();
    }
    const pushed = pusher.pushed;
    const got = await waitFor(
      () => receivedIds(follower),
      (r) => r.length >= pushed.length,
      `${pushed.length} messages`,
    );
    expect(got).toEqual(pushed);
    // The leader listens for `message` and `chat` only: it delivers the `message` half itself.
    expect(await receivedIds(leader)).toEqual(pushed.filter((_, i) => i % 2 === 0));
    expect(await connectionsOf(server.url, uid)).toBe(1);
  });

  it('tabs reloading in turn during pushes swap leadership and each gets everything once', async () => {
    const uid = 't-swap';
    const token = subToken(uid);
    const a = await openClient(context, server.url, { token });
    await waitOpen(a, { role: 'leader' });
    const b = await openClient(context, server.url, { token });
    await waitOpen(b, { role: 'follower' });
    const pusher = keepPushing(server.url, uid);
    try {
      // Reload whichever tab leads: the other takes over, the reloaded one comes back following.
      for (let k = 0; k < 4; k++) {
        await pusher.more(8);
        const leader = (await clientState(a)).role === 'leader' ? a : b;
        const other = leader === a ? b : a;
        await leader.reload();
        await waitOpen(other, { role: 'leader' });
        await waitOpen(leader, { role: 'follower' });
      }
      await pusher.more(8);
    } finally {
      await pusher.stop();
    }
    const pushed = pusher.pushed;
    for (const page of [a, b]) {
      const got = await waitFor(
        () => receivedIds(page),
        (r) => r.length >= pushed.length,
        `${pushed.length} messages`,
      );
      expect(got).toEqual(pushed);
    }
    await oneConnection(uid);
  });

  it('closes every tab on a disconnect without reconnect: no follower takes over', async () => {
    const uid = 't-kick';
    const token = subToken(uid);
    const first = await openClient(context, server.url, { token });
    await waitOpen(first, { role: 'leader' });
    const second = await openClient(context, server.url, { token });
    await waitOpen(second, { role: 'follower' });
    await oneConnection(uid);
    await kick(server.url, { uid, reason: 'banned', reconnect: false });
    for (const page of [first, second]) {
      await page.waitForFunction(() => (window as unknown as FixtureWindow).__push.state === 'closed');
      expect(await disconnects(page)).toEqual([{ reason: 'banned', reconnect: false }]);
    }
    await pushMany(server.url, uid, 1);
    await new Promise((r) => setTimeout(r, 1500));
    expect(await connectionsOf(server.url, uid)).toBe(0);
    expect(await receivedIds(second)).toEqual([]);
    expect((await clientState(second)).state).toBe('closed');
  });

  it('hands the connection to the next tab when the leader calls close()', async () => {
    const uid = 't-close';
    const token = subToken(uid);
    const first = await openClient(context, server.url, { token });
    await waitOpen(first, { role: 'leader' });
    const second = await openClient(context, server.url, { token });
    await waitOpen(second, { role: 'follower' });
    const before = await pushMany(server.url, uid, 2);
    await waitFor(
      () => receivedIds(second),
      (r) => r.length >= 2,
      'relayed messages',
    );
    await first.evaluate(() => (window as unknown as FixtureWindow).__push.close());
    expect((await clientState(first)).state).toBe('closed');
    await waitOpen(second, { role: 'leader' });
    const after = await pushMany(server.url, uid, 2, 2);
    await waitFor(
      () => receivedIds(second),
      (r) => r.length >= 4,
      'messages after the handover',
    );
    expect(await receivedIds(second)).toEqual([...before, ...after]);
    expect(await receivedIds(first)).toEqual(before);
    await oneConnection(uid);
  });

  it('keeps one connection per tab when sharing is turned off', async () => {
    const uid = 't-noshare';
    const token = subToken(uid);
    const a = await openClient(context, server.url, { token, share: '0' });
    const b = await openClient(context, server.url, { token, share: '0' });
    await waitOpen(a, { role: 'solo' });
    await waitOpen(b, { role: 'solo' });
    await waitFor(
      () => connectionsOf(server.url, uid),
      (n) => n === 2,
      'two connections',
    );
  });

  it('falls back to one connection per tab where Web Locks are missing', async () => {
    const uid = 't-nolocks';
    const token = subToken(uid);
    const a = await openClient(context, server.url, { token, noLocks: '1' });
    const b = await openClient(context, server.url, { token, noLocks: '1' });
    await waitOpen(a, { role: 'solo' });
    await waitOpen(b, { role: 'solo' });
    const ids = await pushMany(server.url, uid, 2);
    await waitFor(
      () => receivedIds(b),
      (r) => r.length >= 2,
      'messages',
    );
    await waitFor(
      () => receivedIds(a),
      (r) => r.length >= 2,
      'messages',
    );
    expect(await receivedIds(a)).toEqual(ids);
    expect(await receivedIds(b)).toEqual(ids);
    expect(await connectionsOf(server.url, uid)).toBe(2);
  });
});
