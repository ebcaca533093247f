/**
 * Property-based tests (fast-check) over what a backend controls on the control routes: any
 * `POST /disconnect` body and any push `exclude`. Whatever is sent, the server never answers 5xx,
 * every error is JSON naming a field, and it is still healthy and delivering afterwards.
 */
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { scopedToken } from '../control-helpers.js';
import { openEvents, startServer, subToken, type TestServer } from '../helpers.js';
import { isJsonError } from './raw.js';

const RUNS = Number(process.env.PROPERTY_RUNS ?? 150);

const leaf = fc.oneof(
  fc.string({ maxLength: 20 }),
  fc.integer(),
  fc.double(),
  fc.boolean(),
  fc.constant(null),
  fc.constantFrom('', 'a\nb', 'x'.repeat(200), -1, 2 ** 60, '__proto__', '\ud83d', 'r'.repeat(129)),
);
const field = fc.oneof(
  leaf,
  fc.array(leaf, { maxLength: 4 }),
  fc.dictionary(fc.string({ maxLength: 6 }), leaf),
);
const disconnectBody = fc.record(
  { uid: field, reason: field, reconnect: field, revoke: field, extra: field },
  { requiredKeys: [] },
);

describe('property: hostile control input never breaks the server', () => {
  let s: TestServer;
  const control = scopedToken(['push', 'control']);
  beforeAll(async () => {
    s = await startServer({ MAX_BODY_BYTES: '8192' });
  });
  afterAll(() => s.close());

  const post = async (path: string, body: string) => {
    const res = await fetch(`${s.url}${path}`, {
      method: 'POST',
      headers: { authorization: `Bearer ${control}`, 'content-type': 'application/json' },
      body,
    });
    const text = await res.text();
    return { status: res.status, headers: Object.fromEntries(res.headers), body: text };
  };

  it('POST /disconnect: any JSON, any object shape', async () => {
    const body = fc.oneof(
      disconnectBody.map((o) => JSON.stringify(o)),
      fc.jsonValue({ maxDepth: 3 }).map((v) => JSON.stringify(v)),
      fc.string({ maxLength: 100 }),
    );
    await fc.assert(
      fc.asyncProperty(body, async (b) => {
        const r = await post('/disconnect', b);
        expect(r.status, b).toBeLessThan(500);
        if (r.status >= 400) expect(isJsonError(r), `${b} → ${r.status} ${r.body}`).toBe(true);
        if (r.status === 200)
          expect(JSON.parse(r.body)).toEqual({ uids: expect.any(Number), connections: 0 });
      }),
      { numRuns: RUNS },
    );
  });

  it('push exclude: any value', async () => {
    await fc.assert(
      fc.asyncProperty(field, async (exclude) => {
        const b = JSON.stringify({ exclude, data: 1 });
        const r = await post('/push', b);
        expect(r.status, b).toBeLessThan(500);
        if (r.status >= 400) {
          expect(isJsonError(r), `${b} → ${r.status} ${r.body}`).toBe(true);
          expect(JSON.parse(r.body).message, b).toMatch(/^exclude: /);
        }
      }),
      { numRuns: RUNS },
    );
  });

  it('is healthy and delivering afterwards', async () => {
    expect((await fetch(`${s.url}/healthz`)).status).toBe(200);
    const c = await openEvents(s.url, subToken('after'));
    await c.waitForId();
    await s.push({ to: 'after', data: 'ok' });
    await c.waitForEvents(1);
    c.close();
  });
});
