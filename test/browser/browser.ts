/**
 * Helpers for the real-browser suite: Debian's Chromium driven by playwright-core (never a
 * downloaded browser), the fixture page served on the server's own origin, and waits on
 * conditions instead of fixed sleeps.
 */
import { existsSync } from 'node:fs';
import { basename } from 'node:path';
import { fileURLToPath } from 'node:url';
import { type Browser, type BrowserContext, chromium, type Page } from 'playwright-core';
import { describe, it } from 'vitest';
import type { PushClient, PushReset, PushRole, PushState, PushTransport } from '../../public/ssepush.js';
import { pubToken } from '../helpers.js';

/** Debian's Chromium; `CHROMIUM_PATH` overrides it (also to try the skip path). */
export const CHROMIUM = process.env.CHROMIUM_PATH || '/usr/bin/chromium';
export const HAVE_CHROMIUM = existsSync(CHROMIUM);
const SKIP_REASON = `${CHROMIUM} not found (apt-get install -y chromium)`;
const FIXTURES = fileURLToPath(new URL('./fixtures/', import.meta.url));

/** Flags that keep Chromium headless, sandbox-free as root, and off the network. */
const CHROMIUM_ARGS = [
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

/**
 * `describe` for browser tests: skipped with a visible reason when Chromium is missing locally,
 * but a failing test in CI (`CI=true`), where a missing browser means a broken setup.
 */
export function describeBrowser(name: string, fn: () => void): void {
  if (HAVE_CHROMIUM) {
    describe(name, fn);
  } else if (process.env.CI === 'true') {
    describe(name, () => {
      it('needs Chromium in CI', () => {
        throw new Error(`${SKIP_REASON}; CI must install it (.ci/run does)`);
      });
    });
  } else {
    process.stderr.write(`[browser tests] ${name}: skipped, ${SKIP_REASON}\n`);
    describe.skip(`${name} (skipped: ${SKIP_REASON})`, fn);
  }
}

export function launchBrowser(): Promise<Browser> {
  return chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS });
}

/** What the fixture page (`fixtures/client.js`) exposes on `window`. */
export interface FixtureWindow {
  __push: PushClient;
  __states: {
    state: PushState;
    transport: PushTransport | null;
    role: PushRole;
    disconnect?: { reason: string; reconnect: boolean };
  }[];
}

export interface ReceivedMessage {
  id: string;
  event: string;
  data: unknown;
}

/** Serves `fixtures/*` at `<origin>/__fixture/*`, so the test page shares the server's origin. */
export async function serveFixtures(context: BrowserContext, origin: string): Promise<void> {
  await context.route(`${origin}/__fixture/**`, (route) =>
    route.fulfill({ path: `${FIXTURES}${basename(new URL(route.request().url()).pathname)}` }),
  );
}

/** Opens the fixture page, which connects with `params` (token, transport, share, events, opts). */
export async function openClient(
  context: BrowserContext,
  origin: string,
  params: Record<string, string>,
): Promise<Page> {
  const page = await context.newPage();
  await page.goto(`${origin}/__fixture/client.html?${new URLSearchParams(params)}`);
  return page;
}

function stored<T>(page: Page, key: string): Promise<T[]> {
  return page.evaluate((k) => JSON.parse(sessionStorage.getItem(k) ?? '[]'), key) as Promise<T[]>;
}

/** Ids the page delivered to `onMessage`, across reloads, in delivery order. */
export const receivedIds = (page: Page): Promise<string[]> => stored<string>(page, 'fx:received');
export const receivedMessages = (page: Page): Promise<ReceivedMessage[]> =>
  stored<ReceivedMessage>(page, 'fx:messages');
export const resets = (page: Page): Promise<PushReset[]> => stored<PushReset>(page, 'fx:resets');

/** The client's `state`, `transport` and `role` as the page sees them. */
export function clientState(
  page: Page,
): Promise<{ state: PushState; transport: PushTransport | null; role: PushRole }> {
  return page.evaluate(() => {
    const p = (window as unknown as FixtureWindow).__push;
    return { state: p.state, transport: p.transport, role: p.role };
  });
}

/** Waits until the page's client is `open` (optionally on `transport`, in `role`). */
export async function waitOpen(
  page: Page,
  want: { transport?: PushTransport; role?: PushRole } = {},
  timeout = 10_000,
): Promise<void> {
  await page.waitForFunction(
    (w) => {
      const p = (window as unknown as FixtureWindow).__push;
      return (
        p !== undefined &&
        p.state === 'open' &&
        (w.transport === undefined || p.transport === w.transport) &&
        (w.role === undefined || p.role === w.role)
      );
    },
    want,
    { timeout, polling: 50 },
  );
}

/** Polls `probe` until `pred` holds; rejects with the last value after `ms`. */
export async function waitFor<T>(
  probe: () => Promise<T> | T,
  pred: (v: T) => boolean,
  what: string,
  ms = 10_000,
): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const v = await probe();
    if (pred(v)) return v;
    if (Date.now() > deadline)
      throw new Error(`timed out waiting for ${what}; last value ${JSON.stringify(v)}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** `GET /online?uid=` with a publisher token: the server's connection count for `uid`. */
export async function connectionsOf(origin: string, uid: string): Promise<number> {
  const res = await fetch(`${origin}/online?uid=${encodeURIComponent(uid)}`, {
    headers: { authorization: `Bearer ${pubToken()}` },
  });
  const body = (await res.json()) as { online: Record<string, number> };
  return body.online[uid] ?? 0;
}

/** `POST /push` with a publisher token to any server; resolves with the new id. */
export async function pushTo(origin: string, body: unknown): Promise<string> {
  const res = await fetch(`${origin}/push`, {
    method: 'POST',
    headers: { authorization: `Bearer ${pubToken()}`, 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
  if (res.status !== 200) throw new Error(`push answered ${res.status}: ${await res.text()}`);
  return ((await res.json()) as { id: string }).id;
}

/** Pushes `n` messages to `uid` one after the other (data `{i}`), resolving with their ids. */
export async function pushMany(origin: string, uid: string, n: number, from = 0): Promise<string[]> {
  const ids: string[] = [];
  for (let i = 0; i < n; i++) ids.push(await pushTo(origin, { to: uid, data: { i: from + i } }));
  return ids;
}

/** Messages pushed in the background while a test reloads or closes pages. */
export interface Pusher {
  /** Ids in publication order. */
  readonly pushed: string[];
  /** Resolves once `n` more messages than now have been pushed. */
  more(n: number): Promise<void>;
  /** Stops pushing and resolves with every id pushed. */
  stop(): Promise<string[]>;
}

/** Pushes to `uid` every ~10 ms (at most 400 messages) until `stop()`. */
export function keepPushing(
  origin: string,
  uid: string,
  eventOf: (i: number) => string = () => 'message',
): Pusher {
  const pushed: string[] = [];
  let stopped = false;
  const loop = (async () => {
    for (let i = 0; i < 400 && !stopped; i++) {
      pushed.push(await pushTo(origin, { to: uid, event: eventOf(i), data: { i } }));
      await new Promise((r) => setTimeout(r, 10));
    }
  })();
  return {
    pushed,
    async more(n: number) {
      const target = pushed.length + n;
      await waitFor(
        () => pushed.length,
        (len) => len >= target,
        `${n} more pushes`,
      );
    },
    async stop() {
      stopped = true;
      await loop;
      return pushed;
    },
  };
}

/** `POST /disconnect` with a `control` publisher token. */
export async function kick(origin: string, body: Record<string, unknown>): Promise<void> {
  const res = await fetch(`${origin}/disconnect`, {
    method: 'POST',
    headers: {
      authorization: `Bearer ${pubToken({ extra: { scope: 'control' } })}`,
      'content-type': 'application/json',
    },
    body: JSON.stringify(body),
  });
  if (res.status !== 200) throw new Error(`disconnect answered ${res.status}: ${await res.text()}`);
}

/** Resolves once the server counts a connection (stream or waiting poll) of `uid`. */
export async function waitOnline(origin: string, uid: string, ms = 10_000): Promise<void> {
  const end = Date.now() + ms;
  for (;;) {
    const res = await fetch(`${origin}/online?uid=${encodeURIComponent(uid)}`, {
      headers: { authorization: `Bearer ${pubToken()}` },
    });
    const body = (await res.json()) as { online?: Record<string, number> };
    if ((body.online?.[uid] ?? 0) > 0) return;
    if (Date.now() > end) throw new Error(`${uid} never came online`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

/** What the fixture recorded through `onDisconnect`. */
export const disconnects = (page: Page): Promise<{ reason: string; reconnect: boolean }[]> =>
  page.evaluate(() => JSON.parse(sessionStorage.getItem('fx:disconnects') ?? '[]'));
