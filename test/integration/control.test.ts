import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { formatId, parseId } from '../../src/ids.js';
import { nowSec } from '../../src/revocations.js';
import { connectionsOf, disconnect, readStream, scopedToken, subTokenAt, until } from '../control-helpers.js';
import {
  openEvents,
  type PollBody,
  poll,
  pubToken,
  type SseClient,
  startServer,
  subToken,
  type TestServer,
} from '../helpers.js';

let s: TestServer;
const open: SseClient[] = [];
beforeAll(async () => {
  s = await startServer({ MAX_REVOCATIONS: '5' });
});
afterAll(async () => {
  for (const c of open) c.close();
  await s.close();
});

const events = async (token: string, lastEventId?: string) => {
  const c = await openEvents(s.url, token, lastEventId);
  open.push(c);
  return c;
};

/** A poll that waits (cursor given); resolves with status and body once answered. */
const waitingPoll = async (token: string, cursor: string) => {
  const res = await fetch(`${s.url}/poll?${new URLSearchParams({ token, cursor, timeout: '30' })}`);
  return { status: res.status, body: (await res.json()) as PollBody & { disconnect?: unknown } };
};

describe('POST /disconnect', () => {
  it('ends every stream of the uid with event: disconnect (no id line) and answers a waiting poll', async () => {
    const raw = readStream(`${s.url}/events?token=${subToken('kick')}`);
    const sse = await events(subToken('kick'));
    const position = await sse.waitForId();
    const waiting = waitingPoll(subToken('kick'), position);
    const bystander = await events(subToken('stay'));
    await bystander.waitForId();
    await until(async () => (await connectionsOf(s, 'kick')) === 3, 5000, 'three connections of kick');

    const res = await disconnect(s, { uid: ['kick', 'offline'], reason: 'banned', reconnect: false });
    expect(res).toEqual({ status: 200, body: { uids: 1, connections: 3 } });

    const text = await raw;
    expect(text).toMatch(/\n\nevent:disconnect\ndata:\{"reason":"banned","reconnect":false\}\n\n$/);
    await sse.waitUntil(() => sse.closed, 5000, 'the stream to end');
    expect(sse.events.at(-1)).toMatchObject({ event: 'disconnect' });
    expect(JSON.parse(sse.events.at(-1)!.data)).toEqual({ reason: 'banned', reconnect: false });
    // Not a message: the stream's position stays where it was.
    expect(sse.lastId).toBe(position);
    const answered = await waiting;
    // Its cursor is the kick's own position (its mark, one id past the stream's position), so the
    // client's next poll is not told again (disconnect notices).
    const mark = parseId(position)!;
    expect(answered).toEqual({
      status: 200,
      body: {
        messages: [],
        cursor: formatId(mark.epoch, mark.seq + 1),
        disconnect: { reason: 'banned', reconnect: false },
      },
    });
    expect(await connectionsOf(s, 'kick')).toBe(0);
    expect(bystander.closed).toBe(false);
    // A disconnect is never replayed.
    const again = await events(subToken('kick'), position);
    await s.push({ to: 'kick', data: 'after' });
    await again.waitForEvents(1);
    expect(again.events.map((e) => e.event)).toEqual(['message']);
  });

  it('defaults reason to "disconnected" and reconnect to true, and counts nothing for offline uids', async () => {
    const sse = await events(subToken(7));
    await sse.waitForId();
    expect(await disconnect(s, { uid: 7 })).toEqual({ status: 200, body: { uids: 1, connections: 1 } });
    await sse.waitUntil(() => sse.closed, 5000, 'the stream to end');
    expect(JSON.parse(sse.events.at(-1)!.data)).toEqual({ reason: 'disconnected', reconnect: true });
    expect(await disconnect(s, { uid: 'nobody-here' })).toEqual({
      status: 200,
      body: { uids: 0, connections: 0 },
    });
  });

  it('revokes: tokens issued before the call (or without iat) get 401 token_revoked, a newer one works', async () => {
    const before = nowSec() - 5;
    const old = subTokenAt('rev', before);
    const sse = await events(old);
    await sse.waitForId();
    const res = await disconnect(s, { uid: 'rev', revoke: true, reason: 'logout' });
    expect(res).toEqual({ status: 200, body: { uids: 1, connections: 1 } });
    await sse.waitUntil(() => sse.closed, 5000, 'the stream to end');

    for (const token of [old, subTokenAt('rev', null)]) {
      const refused = await fetch(`${s.url}/events?token=${token}`);
      expect(refused.status).toBe(401);
      expect(refused.headers.get('www-authenticate')).toMatch(/^Bearer error="invalid_token"/);
      expect(await refused.json()).toMatchObject({ error: 'token_revoked' });
      for (const q of [{ token }, { token, cursor: 'x-1' }] as Record<string, string>[]) {
        const p = await fetch(`${s.url}/poll?${new URLSearchParams(q)}`);
        expect(p.status).toBe(401);
        expect(await p.json()).toMatchObject({ error: 'token_revoked' });
      }
    }
    // Signed after the call: accepted on both routes. Other uids are untouched.
    const fresh = subTokenAt('rev', nowSec() + 1);
    const ok = await events(fresh);
    await ok.waitForId();
    expect(ok.status).toBe(200);
    expect((await poll(s.url, fresh)).cursor).toEqual(expect.any(String));
    const other = await events(subTokenAt('other', before));
    expect(other.status).toBe(200);
  });

  it('refuses revocations past MAX_REVOCATIONS with 429, revoking nothing', async () => {
    const uids = ['m1', 'm2', 'm3', 'm4'];
    expect((await disconnect(s, { uid: uids, revoke: true })).status).toBe(200);
    const res = await disconnect(s, { uid: ['m1', 'm5', 'm6'], revoke: true });
    expect(res).toMatchObject({ status: 429, body: { error: 'too_many_revocations' } });
    const p = await fetch(`${s.url}/poll?token=${subTokenAt('m5', nowSec() - 10)}`);
    expect(p.status).toBe(200);
    // Without revoke the kick itself still works.
    expect((await disconnect(s, { uid: ['m5', 'm6'] })).status).toBe(200);
  });

  it.each([
    ['no uid', {}, /^uid: /],
    ['an empty uid list', { uid: [] }, /^uid: /],
    ['1001 uids', { uid: Array.from({ length: 1001 }, (_, i) => `u${i}`) }, /^uid: .*1000/],
    ['a uid with a control character', { uid: 'a\nb' }, /^uid: /],
    ['a negative uid', { uid: -1 }, /^uid: /],
    ['a uid of 129 characters', { uid: 'x'.repeat(129) }, /^uid: /],
    ['a reason of 129 characters', { uid: 'a', reason: 'r'.repeat(129) }, /^reason: .*128/],
    ['a reason that is not a string', { uid: 'a', reason: 5 }, /^reason: /],
    ['reconnect as a string', { uid: 'a', reconnect: 'no' }, /^reconnect: /],
    ['revoke as a number', { uid: 'a', revoke: 1 }, /^revoke: /],
    ['an unknown field', { uid: 'a', kick: true }, /kick/],
    ['an array body', [{ uid: 'a' }], /^body: /],
  ])('answers 400 naming the field for %s', async (_what, body, message) => {
    const res = await disconnect(s, body);
    expect(res.status).toBe(400);
    expect(res.body).toMatchObject({ error: 'bad_request', message: expect.stringMatching(message) });
  });

  it('answers 400 for malformed JSON and 415 for a form body; the server stays healthy', async () => {
    expect((await disconnect(s, '{"uid":')).status).toBe(400);
    const form = await fetch(`${s.url}/disconnect`, {
      method: 'POST',
      headers: {
        authorization: `Bearer ${scopedToken()}`,
        'content-type': 'application/x-www-form-urlencoded',
      },
      body: 'uid=a',
    });
    expect(form.status).toBe(415);
    expect((await fetch(`${s.url}/healthz`)).status).toBe(200);
    expect((await fetch(`${s.url}/disconnect`)).status).toBe(405);
  });
});

describe('scopes', () => {
  const call = (path: string, token: string, body?: unknown) =>
    fetch(`${s.url}${path}`, {
      method: body === undefined ? 'GET' : 'POST',
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });

  it('needs control for /disconnect, push for /push, either for /online', async () => {
    const push = pubToken();
    const control = scopedToken('control');
    const both = scopedToken(['push', 'control']);
    const refused = await call('/disconnect', push, { uid: 'a' });
    expect(refused.status).toBe(403);
    expect(await refused.json()).toMatchObject({
      error: 'insufficient_scope',
      message: expect.stringMatching(/control/),
    });
    expect((await call('/disconnect', scopedToken('read'), { uid: 'a' })).status).toBe(403);
    expect((await call('/disconnect', control, { uid: 'a' })).status).toBe(200);
    expect((await call('/disconnect', scopedToken('push control'), { uid: 'a' })).status).toBe(200);
    const noPush = await call('/push', control, { data: 1 });
    expect(noPush.status).toBe(403);
    expect(await noPush.json()).toMatchObject({ error: 'insufficient_scope' });
    expect((await call('/push', both, { data: 1 })).status).toBe(200);
    for (const t of [push, control, both]) expect((await call('/online', t)).status).toBe(200);
    expect((await call('/online', scopedToken('read'))).status).toBe(403);
    expect((await call('/disconnect', 'not-a-token', { uid: 'a' })).status).toBe(401);
  });

  it('never lets a control token subscribe', async () => {
    const res = await fetch(`${s.url}/events?token=${scopedToken('control')}`);
    expect(res.status).toBe(403);
    expect(await res.json()).toMatchObject({ error: 'wrong_token_type' });
  });
});
