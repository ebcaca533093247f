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
});
