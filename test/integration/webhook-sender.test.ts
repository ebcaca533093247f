/**
 * The webhook sender against a real HTTP receiver on loopback: signed batches, retries with the
 * same ids while the receiver fails or hangs, no redirect followed, a huge answer never read.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { verifyWebhook, type WebhookEvent } from '../../clients/node/webhook.js';
import { MemoryWebhookQueue } from '../../src/webhook-queue-memory.js';
import { WebhookSender } from '../../src/webhook-sender.js';

const SECRET = 'receiver-secret';

interface Received {
  events: WebhookEvent[];
  signature: string | undefined;
}

type Answer = (res: ServerResponse, n: number) => void;

async function receiver(answer: Answer): Promise<{ url: string; got: Received[]; server: Server }> {
  const got: Received[] = [];
  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const raw = Buffer.concat(chunks);
      const sig = req.headers['ssepush-signature'] as string | undefined;
      got.push({ events: verifyWebhook(raw, sig, SECRET), signature: sig });
      answer(res, got.length);
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as AddressInfo;
  return { url: `http://127.0.0.1:${port}/hook`, got, server };
}

const events = (n: number, from = 0): WebhookEvent[] =>
  Array.from({ length: n }, (_, i) => ({
    id: `e${from + i}`,
    type: 'online',
    uid: `u${from + i}`,
    time: Date.now(),
  }));

async function until(pred: () => boolean, ms = 10_000): Promise<void> {
  const end = Date.now() + ms;
  while (!pred()) {
    if (Date.now() > end) throw new Error('condition not reached');
    await new Promise((r) => setTimeout(r, 20));
  }
}

const open: { close(): Promise<void> | void }[] = [];
afterEach(async () => {
  for (const o of open.splice(0).reverse()) await o.close();
});

function start(
  url: string,
  queue: MemoryWebhookQueue,
  extra: Partial<ConstructorParameters<typeof WebhookSender>[0]> = {},
) {
  const s = new WebhookSender({
    url,
    secret: SECRET,
    queue,
    intervalMs: 20,
    backoffBaseMs: 50,
    backoffMaxMs: 200,
    ...extra,
  });
  s.start();
  open.push(s);
  return s;
}

describe('webhook sender', () => {
  it('sends signed batches of at most 100, in order, and acknowledges them', async () => {
    const r = await receiver((res) => res.writeHead(204).end());
    open.push({ close: () => new Promise<void>((ok) => r.server.close(() => ok())) });
    const q = new MemoryWebhookQueue();
    await q.push(events(250));
    start(r.url, q);
    await until(() => r.got.reduce((n, g) => n + g.events.length, 0) === 250);
    expect(r.got.every((g) => g.events.length <= 100)).toBe(true);
    expect(r.got.flatMap((g) => g.events.map((e) => e.id))).toEqual(events(250).map((e) => e.id));
    // The last batch is acknowledged just after the receiver answered it.
    for (let i = 0; i < 200 && (await q.size()) > 0; i++) await new Promise((res) => setTimeout(res, 20));
    expect(await q.size()).toBe(0);
  });

  it('retries a failing receiver (500, then a hang past the timeout) with the same ids until a 2xx', async () => {
    const r = await receiver((res, n) => {
      if (n === 1) res.writeHead(500).end('no');
      else if (n === 2)
        return; // hangs: the sender times out
      else res.writeHead(200).end('ok');
    });
    open.push({
      close: () =>
        new Promise<void>((ok) => {
          r.server.closeAllConnections();
          r.server.close(() => ok());
        }),
    });
    const q = new MemoryWebhookQueue();
    await q.push(events(3));
    const retried: string[] = [];
    start(r.url, q, { timeoutMs: 300, hooks: { retried: (_n, why) => retried.push(why) } });
    await until(() => r.got.length >= 3);
    expect(r.got.map((g) => g.events.map((e) => e.id))).toEqual([0, 1, 2].map(() => ['e0', 'e1', 'e2']));
    expect(retried).toEqual(['500', 'timeout']);
    for (let i = 0; i < 200 && (await q.size()) > 0; i++) await new Promise((res) => setTimeout(res, 20));
    expect(await q.size()).toBe(0);
  });

  it('does not follow a redirect nor read a huge answer: a 3xx is a failure, retried', async () => {
    const r = await receiver((res, n) => {
      if (n === 1) res.writeHead(302, { location: 'http://127.0.0.1:1/elsewhere' }).end();
      else if (n === 2) {
        res.writeHead(200, { 'content-type': 'text/plain' });
        res.write('x'.repeat(1 << 20));
        // never ended: the sender must not wait for the body
      } else res.writeHead(204).end();
    });
    open.push({
      close: () =>
        new Promise<void>((ok) => {
          r.server.closeAllConnections();
          r.server.close(() => ok());
        }),
    });
    const q = new MemoryWebhookQueue();
    await q.push(events(1));
    const retried: string[] = [];
    start(r.url, q, { hooks: { retried: (_n, why) => retried.push(why) } });
    await until(() => r.got.length >= 2);
    await new Promise((res) => setTimeout(res, 200));
    expect(retried).toEqual(['302']);
    for (let i = 0; i < 200 && (await q.size()) > 0; i++) await new Promise((res) => setTimeout(res, 20));
    expect(await q.size()).toBe(0);
    expect(r.got).toHaveLength(2);
  });

  it('keeps events queued while the receiver is unreachable, then delivers them', async () => {
    const q = new MemoryWebhookQueue();
    await q.push(events(2));
    const r0 = await receiver((res) => res.writeHead(200).end());
    const url = r0.url;
    await new Promise<void>((ok) => r0.server.close(() => ok()));
    const retried: string[] = [];
    start(url, q, { hooks: { retried: (_n, why) => retried.push(why) } });
    await until(() => retried.length >= 2);
    expect(await q.size()).toBe(2);
    expect(retried[0]).toBe('ECONNREFUSED');
  });
});
