import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { poll, pubToken, startServer, subToken, type TestServer } from '../helpers.js';

let s: TestServer;
beforeAll(async () => {
  s = await startServer({ HISTORY_SIZE: '5' });
});
afterAll(() => s.close());
const idOf = (r: { body: unknown }) => (r.body as { id: string }).id;

describe('GET /poll', () => {
  it('answers the position at once without a cursor', async () => {
    const t0 = Date.now();
    const p = await poll(s.url, subToken('p1'));
    expect(p).toEqual({ messages: [], cursor: expect.stringMatching(/^[A-Za-z0-9._:-]+$/) });
    expect(Date.now() - t0).toBeLessThan(2000);
  });

  it('answers retained messages at once, in order, with time and parsed data', async () => {
    const { cursor } = await poll(s.url, subToken('p2', { groups: ['pg'] }));
    const ids = [
      idOf(await s.push({ to: 'p2', event: 'a', data: { x: 1 } })),
      idOf(await s.push({ group: 'pg', data: [1, 2] })),
      idOf(await s.push({ data: 'all' })),
    ];
    const before = Date.now();
    const p = await poll(s.url, subToken('p2', { groups: ['pg'] }), cursor);
    expect(p.messages.map((m) => m.id)).toEqual(ids);
    expect(p.messages[0]).toEqual({ id: ids[0], event: 'a', data: { x: 1 }, time: expect.any(Number) });
    expect(p.messages[0]!.time).toBeLessThanOrEqual(before);
    expect(p.messages[0]!.time).toBeGreaterThan(before - 60_000);
    expect(p.cursor).toBe(ids[2]);
    expect(p.reset).toBeUndefined();
  });

  it('holds the request until a message arrives', async () => {
    const { cursor } = await poll(s.url, subToken('p3'));
    const waiting = poll(s.url, subToken('p3'), cursor, 10);
    await new Promise((r) => setTimeout(r, 100));
    const sent = await s.push({ to: 'p3', data: 'wake' });
    expect(sent.body).toMatchObject({ online: true, delivered: 1 });
    const p = await waiting;
    expect(p.messages.map((m) => m.data)).toEqual(['wake']);
    expect(p.cursor).toBe(idOf(sent));
  });

  it('answers an empty list with a resumable cursor when the timeout ends', async () => {
    const { cursor } = await poll(s.url, subToken('p4'));
    const t0 = Date.now();
    const p = await poll(s.url, subToken('p4'), cursor, 1);
    expect(Date.now() - t0).toBeGreaterThanOrEqual(900);
    expect(p.messages).toEqual([]);
    const id = idOf(await s.push({ to: 'p4', data: 1 }));
    const next = await poll(s.url, subToken('p4'), p.cursor, 1);
    expect(next.messages.map((m) => m.id)).toEqual([id]);
  });

  it('resets when history after the cursor is gone, or the cursor is not ours', async () => {
    const { cursor } = await poll(s.url, subToken('p5'));
    let last = '';
    for (let i = 0; i < 6; i++) last = idOf(await s.push({ to: 'p5', data: i }));
    expect(await poll(s.url, subToken('p5'), cursor, 1)).toEqual({ messages: [], cursor: last, reset: true });
    const garbage = await poll(s.url, subToken('p5'), 'garbage', 1);
    expect(garbage).toMatchObject({ messages: [], reset: true });
    // After a reset the client continues from the returned cursor without loss.
    const id = idOf(await s.push({ to: 'p5', data: 'after' }));
    expect((await poll(s.url, subToken('p5'), garbage.cursor, 1)).messages.map((m) => m.id)).toEqual([id]);
  });

  it('walks a long backlog 100 messages at a time', async () => {
    const big = await startServer({ HISTORY_SIZE: '500' });
    try {
      const { cursor } = await poll(big.url, subToken('p6'));
      const res = await fetch(`${big.url}/push`, {
        method: 'POST',
        headers: { authorization: `Bearer ${pubToken()}`, 'content-type': 'application/json' },
        body: JSON.stringify(Array.from({ length: 250 }, (_, i) => ({ to: 'p6', data: i }))),
      });
      expect(res.status).toBe(200);
      const got: unknown[] = [];
      let c = cursor;
      for (let round = 0; round < 4; round++) {
        const p = await poll(big.url, subToken('p6'), c, 1);
        got.push(...p.messages.map((m) => m.data));
        c = p.cursor;
        if (p.messages.length === 0) break;
        expect(p.messages.length).toBeLessThanOrEqual(100);
      }
      expect(got).toEqual(Array.from({ length: 250 }, (_, i) => i));
    } finally {
      await big.close();
    }
  });

  it('refuses a bad timeout with 400, and caps a long one', async () => {
    const res = await fetch(`${s.url}/poll?token=${subToken('p7')}&cursor=x&timeout=abc`);
    expect(res.status).toBe(400);
    expect(await res.json()).toMatchObject({
      error: 'bad_request',
      message: expect.stringContaining('timeout'),
    });
  });
});
