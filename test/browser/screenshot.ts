/**
 * Regenerates docs/demo.png: boots a demo-mode server (no JWT_SECRET, so the page gets demo
 * tokens), pushes a few messages through the page's own form, and captures the page.
 * Run: `npx tsx test/browser/screenshot.ts [out.png] [width]` (defaults: docs/demo.png, 1280).
 */
import { fileURLToPath } from 'node:url';
import { loadConfig } from '../../src/config.js';
import { SsePushServer } from '../../src/server.js';
import { launchBrowser } from './browser.js';

const out = process.argv[2] ?? fileURLToPath(new URL('../../docs/demo.png', import.meta.url));
const width = Number(process.argv[3] ?? 1280);
const phone = width < 600;

const server = new SsePushServer(loadConfig({ LOG_LEVEL: 'silent', HOST: '127.0.0.1', PORT: '0' }));
const port = await server.listen(0, '127.0.0.1');
const browser = await launchBrowser();
try {
  const page = await browser.newPage({
    viewport: { width, height: phone ? 844 : 900 },
    deviceScaleFactor: phone ? 2 : 1,
  });
  await page.goto(`http://127.0.0.1:${port}/`);
  await page.waitForSelector('body[data-state="open"]');
  const sends: [string, string, string][] = [
    ['to', 'message', '{"text": "Welcome back, Alice!"}'],
    ['group', 'order.shipped', '{"order": 1042, "carrier": "DHL", "eta": "2026-12-01"}'],
    ['to', 'message', '{"text": "Your report is ready", "url": "/reports/7"}'],
  ];
  for (const [target, event, data] of sends) {
    await page.check(`input[name="target"][value="${target}"]`, { force: true });
    await page.fill('#event', event);
    await page.fill('#data', data);
    const before = await page.locator('#feed li').count();
    await page.click('#send');
    await page.waitForFunction((n) => document.querySelectorAll('#feed li').length > n, before);
  }
  await page.check('input[name="target"][value="to"]', { force: true });
  await page.fill('#event', 'message');
  await page.fill('#data', '{"text": "Hello from ssepush"}');
  await page.evaluate(() => {
    if (document.activeElement instanceof HTMLElement) document.activeElement.blur();
    window.scrollTo(0, 0);
  });
  await page.screenshot({ path: out, fullPage: true, animations: 'disabled' });
  process.stdout.write(`wrote ${out}\n`);
} finally {
  await browser.close();
  await server.close();
}
