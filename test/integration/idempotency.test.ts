/** `Idempotency-Key` on `POST /push` over real HTTP: both push paths (raw JSON and Express). */
import { connect } from 'node:net';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { openEvents, pubToken, type SseClient, startServer, subToken, type TestServer } from '../helpers.js';

let srv: TestServer;
let clients: SseClient[] = [];
beforeEach(async () => {
  srv = await startServer();
});
afterEach(async () => {
  for (const c of clients) c.close();
  clients = [];
  await srv.close();
});

const pub = pubToken();
async function push(body: string, key: string | undefined, type = 'application/json') {
  const headers: Record<string, string> = { authorization: `Bearer ${pub}`, 'content-type': type };
  if (key !== undefined) headers['idempotency-key'] = key;
  const res = await fetch(`${srv.url}/push`, { method: 'POST', headers, body });
  return { status: res.status, body: (await res.json()) as Record<string, unknown> };
}

async function listen(uid: string): Promise<SseClient> {
  const c = await openEvents(srv.url, subToken(uid));
  clients.push(c);
  await c.waitForId();
  return c;
}

const quiet = () => new Promise((r) => setTimeout(r, 200));

describe('Idempotency-Key on POST /push', () => {
  it('a retry after a lost answer publishes nothing and answers the same id', async () => {
    const sse = await listen('u1');
    const body = JSON.stringify({ to: 'u1', data: { order: 7 } });
    // The publisher sends the whole request, then its connection dies before the answer.
    await new Promise<void>((resolve, reject) => {
      const s = connect(srv.port, '127.0.0.1', () => {
        s.write(
          `POST /push HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${pub}\r\nContent-Type: application/json\r\n` +
            `Idempotency-Key: order-7\r\nContent-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`,
          () => {
            s.destroy();
            resolve();
          },
        );
      });
      s.on('error', reject);
    });
    const [first] = await sse.waitForEvents(1);
    const retry = await push(body, 'order-7');
    expect(retry.status).toBe(200);
    expect(retry.body.id).toBe(first!.id);
    await quiet();
    expect(sse.events.length).toBe(1);
  });

  it('replays the first answer field for field, on the raw and the Express path alike', async () => {
    await listen('u2');
    const body = JSON.stringify({ to: 'u2', data: 1 });
    const first = await push(body, 'k-raw');
    const again = await push(body, 'k-raw', 'application/json; charset=UTF-8'); // served by Express
    expect(first.body).toMatchObject({ online: true, delivered: 1 });
    expect(again).toEqual(first);
    const metrics = await (await fetch(`${srv.url}/metrics`)).text();
    expect(metrics).toMatch(/^ssepush_idempotent_replays_total 1$/m);
  });

  it('works for batches and form posts', async () => {
    const sse = await listen('u3');
    const batch = JSON.stringify([
      { to: 'u3', data: 1 },
      { to: 'u3', data: 2 },
    ]);
    const a = await push(batch, 'batch-1');
    const b = await push(batch, 'batch-1');
    expect(Array.isArray(a.body)).toBe(true);
    expect(b).toEqual(a);
    const form = 'type=publish&to=u3&content=hello';
    const f1 = await push(form, 'form-1', 'application/x-www-form-urlencoded');
    const f2 = await push(form, 'form-1', 'application/x-www-form-urlencoded');
    expect(f2).toEqual(f1);
    await sse.waitForEvents(3);
    await quiet();
    expect(sse.events.length).toBe(3);
  });

  it('answers 409 idempotency_conflict for the same key with another body', async () => {
    const sse = await listen('u4');
    expect((await push(JSON.stringify({ to: 'u4', data: 1 }), 'k4')).status).toBe(200);
    const other = await push(JSON.stringify({ to: 'u4', data: 2 }), 'k4');
    expect(other.status).toBe(409);
    expect(other.body.error).toBe('idempotency_conflict');
    await quiet();
    expect(sse.events.length).toBe(1);
  });

  it('concurrent duplicates on one node publish once', async () => {
    const sse = await listen('u5');
    const body = JSON.stringify({ to: 'u5', data: 'c' });
    const all = await Promise.all(Array.from({ length: 10 }, () => push(body, 'dup-5')));
    expect(new Set(all.map((r) => r.body.id)).size).toBe(1);
    await sse.waitForEvents(1);
    await quiet();
    expect(sse.events.length).toBe(1);
  });

  it('refuses a malformed key with 400 on both paths', async () => {
    const body = JSON.stringify({ to: 'u6', data: 1 });
    for (const key of ['', 'has space', 'x'.repeat(129), 'ключ']) {
      for (const type of ['application/json', 'application/json; charset=UTF-8']) {
        const r = await fetch(`${srv.url}/push`, {
          method: 'POST',
          headers: { authorization: `Bearer ${pub}`, 'content-type': type, 'idempotency-key': key },
          body,
        }).catch(() => undefined);
        if (!r) continue; // fetch itself refuses non-ASCII header values
        expect(r.status).toBe(400);
        expect(((await r.json()) as { error: string }).error).toBe('bad_idempotency_key');
      }
    }
  });
});

describe('Idempotency-Key expiry', () => {
  it('publishes again once IDEMPOTENCY_TTL_SECONDS has passed', async () => {
    await srv.close();
    srv = await startServer({ IDEMPOTENCY_TTL_SECONDS: '1' });
    const body = JSON.stringify({ to: 'u7', data: 1 });
    const a = await push(body, 'ttl');
    const b = await push(body, 'ttl');
    expect(b.body.id).toBe(a.body.id);
    await new Promise((r) => setTimeout(r, 1200));
    const c = await push(body, 'ttl');
    expect(c.body.id).not.toBe(a.body.id);
  });
});
