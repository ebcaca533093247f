import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  openEvents,
  poll,
  pubToken,
  type SseClient,
  startServer,
  subToken,
  type TestServer,
} from '../helpers.js';

let s: TestServer;
const open: SseClient[] = [];
const PUB = pubToken();
beforeAll(async () => {
  s = await startServer();
});
afterAll(async () => {
  for (const c of open) c.close();
  await s.close();
});

const events = async (token: string, lastEventId?: string) => {
  const c = await openEvents(s.url, token, lastEventId);
  open.push(c);
  await c.waitForId();
  return c;
};

const form = async (body: string) => {
  const res = await fetch(`${s.url}/push`, {
    method: 'POST',
    headers: { authorization: `Bearer ${PUB}`, 'content-type': 'application/x-www-form-urlencoded' },
    body,
  });
  return { status: res.status, body: (await res.json()) as Record<string, unknown> };
};

describe('push exclude', () => {
  it('leaves excluded uids out live, for groups, uids and broadcasts, and delivered does not count them', async () => {
    const sender = await events(subToken('sender', { groups: ['room'] }));
    const senderTab = await events(subToken('sender', { groups: ['room'] }));
    const peer = await events(subToken('peer', { groups: ['room'] }));
    const group = await s.push({ group: 'room', exclude: 'sender', data: 'g' });
    expect(group.body).toMatchObject({ online: true, delivered: 1 });
    const uids = await s.push({ to: ['sender', 'peer'], exclude: ['sender', 'nobody'], data: 'u' });
    expect(uids.body).toMatchObject({ delivered: 1 });
    const alone = await s.push({ to: 'sender', exclude: 'sender', data: 'none' });
    expect(alone.body).toMatchObject({ online: false, delivered: 0 });
    const all = await s.push({ exclude: 'peer', data: 'b' });
    expect(all.body).toMatchObject({ delivered: 2 });
    const marker = await s.push({ data: 'end' });
    expect(marker.body).toMatchObject({ delivered: 3 });
    await peer.waitForEvents(3);
    await sender.waitForEvents(2);
    await senderTab.waitForEvents(2);
    expect(peer.events.map((e) => e.data)).toEqual(['"g"', '"u"', '"end"']);
    expect(sender.events.map((e) => e.data)).toEqual(['"b"', '"end"']);
    expect(senderTab.events.map((e) => e.data)).toEqual(['"b"', '"end"']);
  });

  it('leaves them out on replay: Last-Event-ID resume and poll cursor', async () => {
    const start = (await poll(s.url, subToken('rx'))).cursor;
    await s.push({ group: 'r', exclude: 'rx', data: 1 });
    await s.push({ group: 'r', data: 2 });
    await s.push({ to: ['rx', 'ry'], exclude: ['rx'], data: 3 });
    await s.push({ exclude: ['ry'], data: 4 });
    const x = await events(subToken('rx', { groups: ['r'] }), start);
    const y = await events(subToken('ry', { groups: ['r'] }), start);
    await x.waitForEvents(2);
    await y.waitForEvents(3);
    expect(x.events.map((e) => e.data)).toEqual(['2', '4']);
    expect(y.events.map((e) => e.data)).toEqual(['1', '2', '3']);
    const px = await poll(s.url, subToken('rx', { groups: ['r'] }), start);
    expect(px.messages.map((m) => m.data)).toEqual([2, 4]);
    const py = await poll(s.url, subToken('ry', { groups: ['r'] }), start);
    expect(py.messages.map((m) => m.data)).toEqual([1, 2, 3]);
  });

  it('takes repeatable exclude= in form posts; an empty one means none', async () => {
    const a = await events(subToken('fa'));
    const b = await events(subToken('fb'));
    const c = await events(subToken('fc'));
    const res = await form('type=publish&to=fa&to=fb&to=fc&exclude=fa&exclude=fc&content=hi');
    expect(res).toMatchObject({ status: 200, body: { delivered: 1 } });
    expect((await form('to=fa&exclude=&content=x')).body).toMatchObject({ delivered: 1 });
    await b.waitForEvents(1);
    await a.waitForEvents(1);
    expect(b.events.map((e) => e.data)).toEqual(['"hi"']);
    expect(a.events.map((e) => e.data)).toEqual(['"x"']);
    expect(c.events).toEqual([]);
  });

  it.each([
    ['an empty list', { exclude: [], data: 1 }, /^exclude: /],
    ['1001 uids', { exclude: Array.from({ length: 1001 }, (_, i) => `u${i}`), data: 1 }, /^exclude: .*1000/],
    ['an object', { exclude: { a: 1 }, data: 1 }, /^exclude: /],
    ['a control character', { exclude: 'a\u0000', data: 1 }, /^exclude: /],
    ['a bad batch item', [{ data: 1 }, { exclude: [true], data: 2 }], /^item 1: exclude: /],
  ])('answers 400 naming exclude for %s', async (_what, body, message) => {
    const res = await s.push(body);
    expect(res.status).toBe(400);
    expect(res.body).toMatchObject({ error: 'bad_request', message: expect.stringMatching(message) });
  });
});
