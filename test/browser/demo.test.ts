/**
 * The demo page (`GET /`) in a real browser: in demo mode it gets tokens, connects, pushes with
 * its form and shows the message; with a real secret it asks for tokens. Its CSP forbids inline
 * script, so any violation or console error fails the test.
 */
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { loadConfig } from '../../src/config.js';
import { SsePushServer } from '../../src/server.js';
import { pubToken, startServer, subToken } from '../helpers.js';
import { describeBrowser, launchBrowser } from './browser.js';

/** Collects console errors, page errors and CSP violations of `page`. */
function problems(page: Page): string[] {
  const seen: string[] = [];
  page.on('console', (m) => {
    if (m.type() === 'error') seen.push(`console: ${m.text()}`);
  });
  page.on('pageerror', (e) => seen.push(`pageerror: ${e.message}`));
  return seen;
}

async function sendFromForm(page: Page, event: string, data: string): Promise<void> {
  await page.fill('#event', event);
  await page.fill('#data', data);
  await page.click('#send');
}

describeBrowser('demo page', () => {
  let browser: Browser;
  beforeAll(async () => {
    browser = await launchBrowser();
  });
  afterAll(async () => {
    await browser?.close();
  });

  it('in demo mode connects by itself, pushes with its form and shows the message live', async () => {
    const server = new SsePushServer(loadConfig({ LOG_LEVEL: 'silent', HOST: '127.0.0.1', PORT: '0' }));
    const port = await server.listen(0, '127.0.0.1');
    const context = await browser.newContext();
    try {
      const page = await context.newPage();
      const seen = problems(page);
      await page.goto(`http://127.0.0.1:${port}/`);
      await page.waitForSelector('body[data-state="open"]');
      expect(await page.textContent('#status-text')).toBe('Live · SSE');
      expect(await page.textContent('#mode-badge')).toBe('demo mode');
      expect(await page.isHidden('#token-fields')).toBe(true);

      await sendFromForm(page, 'chat', '{"text": "hello from the form"}');
      const item = page.locator('#feed li').first();
      await item.waitFor();
      expect(await item.locator('.event').textContent()).toBe('chat');
      expect(await item.locator('pre').textContent()).toContain('"text": "hello from the form"');
      expect(await page.textContent('#push-result')).toMatch(/^Sent \S+ · delivered to 1 connection$/);
      expect(await page.textContent('#count')).toBe('1');
      const curl = await page.textContent('#curl');
      expect(curl).toContain(`'http://127.0.0.1:${port}/push'`);
      expect(curl).toContain(`-d '{"to":"demo","event":"chat","data":{"text":"hello from the form"}}'`);

      // A broadcast reaches the page too; bad JSON is refused before anything is sent.
      await page.check('input[name="target"][value="all"]', { force: true });
      await sendFromForm(page, 'message', '"to everyone"');
      await page.waitForFunction(() => document.querySelectorAll('#feed li').length === 2);
      await sendFromForm(page, 'message', '{oops');
      expect(await page.textContent('#push-error')).toContain('valid JSON');
      expect(await page.locator('#feed li').count()).toBe(2);
      expect(seen).toEqual([]);
    } finally {
      await context.close();
      await server.close();
    }
  });

  it('with a real secret asks for tokens and is never handed a publisher token', async () => {
    const server = await startServer();
    const context = await browser.newContext();
    try {
      expect((await fetch(`${server.url}/demo/tokens?uid=alice`)).status).toBe(404);
      const page = await context.newPage();
      await page.goto(`${server.url}/`);
      await page.waitForSelector('#token-fields:not([hidden])');
      expect(await page.textContent('#mode-badge')).toBe('production');
      expect(await page.textContent('#status-text')).toBe('Needs a token');

      await page.fill('#sub-token', subToken('alice'));
      await page.fill('#pub-token', pubToken());
      await page.click('#identity button[type="submit"]');
      await page.waitForSelector('body[data-state="open"]');
      expect(await page.textContent('#f-user')).toBe('alice');
      await sendFromForm(page, 'message', '{"n": 1}');
      await page.locator('#feed li').first().waitFor();
      expect(await page.locator('#feed li pre').first().textContent()).toContain('"n": 1');
    } finally {
      await context.close();
      await server.close();
    }
  });

  it('says what ssepush is, and connecting as another user retargets the form and clears the feed', async () => {
    const server = new SsePushServer(loadConfig({ LOG_LEVEL: 'silent', HOST: '127.0.0.1', PORT: '0' }));
    const port = await server.listen(0, '127.0.0.1');
    const context = await browser.newContext();
    try {
      const page = await context.newPage();
      const seen = problems(page);
      await page.goto(`http://127.0.0.1:${port}/`);
      expect(await page.textContent('#intro')).toContain('POST /push');
      await page.waitForSelector('body[data-state="open"]');
      await sendFromForm(page, 'message', '"for demo"');
      await page.locator('#feed li').first().waitFor();

      await page.click('#switch summary');
      await page.fill('#uid', 'bob');
      await page.click('#identity button[type="submit"]');
      await page.waitForFunction(() => document.querySelector('#f-user')?.textContent === 'bob');
      await page.waitForSelector('body[data-state="open"]');
      expect(await page.inputValue('#target-name')).toBe('bob');
      expect(await page.locator('#feed li').count()).toBe(0);
      await sendFromForm(page, 'message', '"for bob"');
      await page.locator('#feed li').first().waitFor();
      expect(await page.locator('#feed li pre').first().textContent()).toBe('for bob');
      expect(await page.textContent('#push-result')).toMatch(/delivered to 1 connection$/);
      expect(seen).toEqual([]);
    } finally {
      await context.close();
      await server.close();
    }
  });

  it('at 390 px the feed follows the Send button', async () => {
    const server = new SsePushServer(loadConfig({ LOG_LEVEL: 'silent', HOST: '127.0.0.1', PORT: '0' }));
    const port = await server.listen(0, '127.0.0.1');
    const context = await browser.newContext({ viewport: { width: 390, height: 844 } });
    try {
      const page = await context.newPage();
      await page.goto(`http://127.0.0.1:${port}/`);
      await page.waitForSelector('body[data-state="open"]');
      const send = await page.locator('#send').boundingBox();
      const feed = await page.locator('#msg-title').boundingBox();
      expect(feed!.y - (send!.y + send!.height)).toBeGreaterThan(0);
      expect(feed!.y - (send!.y + send!.height)).toBeLessThan(120);
      const width = await page.evaluate(() => document.documentElement.scrollWidth);
      expect(width).toBeLessThanOrEqual(390);
    } finally {
      await context.close();
      await server.close();
    }
  });

  it('does not probe /demo/tokens when /healthz says the server is not in demo mode', async () => {
    const server = await startServer();
    const context = await browser.newContext();
    try {
      const page = await context.newPage();
      const seen = problems(page);
      const probed: string[] = [];
      page.on('request', (r) => {
        if (r.url().includes('/demo/tokens')) probed.push(r.url());
      });
      // The report the page reads (a server that states its mode in /healthz).
      await page.route('**/healthz', (route) =>
        route.fulfill({ status: 200, contentType: 'application/json', body: '{"status":"ok","demo":false}' }),
      );
      await page.goto(`${server.url}/`);
      await page.waitForSelector('#token-fields:not([hidden])');
      expect(await page.textContent('#status-text')).toBe('Needs a token');
      expect(probed).toEqual([]);
      expect(seen).toEqual([]);
    } finally {
      await context.close();
      await server.close();
    }
  });
});
