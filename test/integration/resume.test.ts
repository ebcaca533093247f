import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openEvents, SseClient, startServer, subToken, type TestServer } from '../helpers.js';

let s: TestServer;
const open: SseClient[] = [];
beforeAll(async () => {
  s = await startServer({ HISTORY_SIZE: '5' });
});
afterAll(async () => {
  for (const c of open) c.close();
  await s.close();
});
async function events(uid: string, lastEventId?: string, groups?: string[]) {
  const c = await openEvents(s.url, subToken(uid, groups ? { groups } : {}), lastEventId);
  open.push(c);
  return c;
}
const idOf = (r: { body: unknown }) => (r.body as { id: string }).id;

describe('resuming with Last-Event-ID', () => {
  it('replays exactly the missed messages of uid, groups and broadcasts, in order, then goes live', async () => {
    const c = await events('r1', undefined, ['rg']);
    const start = await c.waitForId();
    c.close();
    const missed = [
      idOf(await s.push({ to: 'r1', data: 1 })),
      idOf(await s.push({ group: 'rg', data: 2 })),
      idOf(await s.push({ data: 3 })),
    ];
    await s.push({ to: 'other', data: 'not mine' });
    const back = await events('r1', start, ['rg']);
    await back.waitForEvents(3);
    expect(back.events.map((e) => e.id)).toEqual(missed);
    expect(back.events.map((e) => JSON.parse(e.data))).toEqual([1, 2, 3]);
    const live = idOf(await s.push({ to: 'r1', data: 4 }));
    await back.waitForEvents(4);
    expect(back.events.map((e) => e.id)).toEqual([...missed, live]);
  });

  it('accepts ?lastEventId= and lets the header win when both are given', async () => {
    const c = await events('r2');
    const start = await c.waitForId();
    c.close();
    const m1 = idOf(await s.push({ to: 'r2', data: 1 }));
    const m2 = idOf(await s.push({ to: 'r2', data: 2 }));
    const byQuery = await SseClient.open(`${s.url}/events?token=${subToken('r2')}&lastEventId=${start}`);
    open.push(byQuery);
    await byQuery.waitForEvents(2);
    expect(byQuery.events.map((e) => e.id)).toEqual([m1, m2]);
    // EventSource reconnects on its old URL with a newer header: the header is the truth.
    const both = await SseClient.open(`${s.url}/events?token=${subToken('r2')}&lastEventId=${start}`, {
      'last-event-id': m1,
    });
    open.push(both);
    await both.waitForEvents(1);
    expect(both.events.map((e) => e.id)).toEqual([m2]);
  });

  it('replays nothing (and resets nothing) when nothing was missed', async () => {
    const c = await events('r3');
    const id = idOf(await s.push({ to: 'r3', data: 1 }));
    await c.waitForEvents(1);
    c.close();
    const back = await events('r3', id);
    await s.push({ to: 'r3', data: 2 });
    await back.waitForEvents(1);
    expect(back.events.map((e) => JSON.parse(e.data))).toEqual([2]);
  });

  it('replays a full window rather than resetting (at most HISTORY_SIZE missed per stream)', async () => {
    const c = await events('r4');
    const start = await c.waitForId();
    c.close();
    const ids = [];
    for (let i = 0; i < 5; i++) ids.push(idOf(await s.push({ to: 'r4', data: i })));
    const back = await events('r4', start);
    await back.waitForEvents(5);
    expect(back.events.map((e) => e.id)).toEqual(ids);
    expect(back.events.some((e) => e.event === 'reset')).toBe(false);
  });

  it('sends a reset with the current position when messages were evicted, never a partial replay', async () => {
    const c = await events('r5');
    const start = await c.waitForId();
    c.close();
    let last = '';
    for (let i = 0; i < 6; i++) last = idOf(await s.push({ to: 'r5', data: i }));
    const back = await events('r5', start);
    await back.waitForEvents(1);
    expect(back.status).toBe(200);
    expect(back.events).toEqual([{ id: last, event: 'reset', data: '{"reason":"history_lost"}' }]);
    const live = idOf(await s.push({ to: 'r5', data: 'live' }));
    await back.waitForEvents(2);
    expect(back.events[1]!.id).toBe(live);
  });

  it.each([
    ['garbage', 'not-an-id\u00e9', 'bad_id'],
    ['another epoch', 'zzzzzzzzzzzz-1', 'epoch_changed'],
    ['a future id', 'FUTURE', 'unknown_id'],
  ])('answers a %s id with 200 and a reset, not a 4xx', async (_name, id, reason) => {
    const c = await events('r6');
    const pos = await c.waitForId();
    c.close();
    const resumeId = id === 'FUTURE' ? pos.replace(/-\d+$/, '-999999') : id;
    const back = await SseClient.open(
      `${s.url}/events?token=${subToken('r6')}&lastEventId=${encodeURIComponent(resumeId)}`,
    );
    open.push(back);
    expect(back.status).toBe(200);
    await back.waitForEvents(1);
    expect(back.events[0]).toMatchObject({ event: 'reset', data: JSON.stringify({ reason }) });
  });

  it('answers a repeated lastEventId parameter with 200 and a reset, not a 400', async () => {
    const back = await SseClient.open(`${s.url}/events?token=${subToken('r7')}&lastEventId=a&lastEventId=b`);
    open.push(back);
    expect(back.status).toBe(200);
    await back.waitForEvents(1);
    expect(back.events[0]).toMatchObject({ event: 'reset', data: '{"reason":"bad_id"}' });
  });

  it('has no gap and no duplicate at the seam when pushes race the reconnect', async () => {
    const wide = await startServer({ HISTORY_SIZE: '1000' });
    try {
      const total = 300;
      const first = await openEvents(wide.url, subToken('seam'));
      await first.waitForId();
      const sent: string[] = [];
      const pushing = (async () => {
        for (let i = 0; i < total; i++) sent.push(idOf(await wide.push({ to: 'seam', data: i })));
      })();
      // Drop and resume several times while the pushes flow.
      const seen: string[] = [];
      let current = first;
      for (let k = 0; k < 5; k++) {
        await current.waitUntil(() => current.events.length >= 10 || sent.length >= total, 10_000);
        current.close();
        for (const e of current.events) seen.push(e.id!);
        const resumeFrom = current.lastId!;
        current = await openEvents(wide.url, subToken('seam'), resumeFrom);
      }
      await pushing;
      await current.waitUntil(() => seen.length + current.events.length >= total, 10_000);
      for (const e of current.events) seen.push(e.id!);
      current.close();
      expect(seen).toEqual(sent);
    } finally {
      await wide.close();
    }
  });
});
