/**
 * A long-poll client between two polls when `POST /disconnect` ends its uid has nothing waiting to
 * be answered: its next poll is told instead (disconnect notices), once, within the window.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseId } from '../../src/ids.js';
import { nowSec } from '../../src/revocations.js';
import { disconnect, subTokenAt, until } from '../control-helpers.js';
import { type PollBody, poll, startServer, type TestServer } from '../helpers.js';

type Answer = PollBody & { disconnect?: { reason: string; reconnect: boolean } };

let s: TestServer;
let short: TestServer;
beforeAll(async () => {
  s = await startServer();
  short = await startServer({ DISCONNECT_NOTICE_SECONDS: '1' });
});
afterAll(async () => {
  await s.close();
  await short.close();
});

/** A token signed `ago` seconds before now (before a kick made now). */
const older = (uid: string, ago = 5) => subTokenAt(uid, nowSec() - ago);

/** One poll, its body as sent (the `disconnect` field included). */
const ask = (server: TestServer, token: string, cursor: string, timeout = 30) =>
  poll(server.url, token, cursor, timeout) as Promise<Answer>;

/**
 * A poll that must wait (nothing owed, not told): resolves with its answer once a push to `uid`
 * wakes it, after the server holds it.
 */
async function waitsThenGets(
  server: TestServer,
  token: string,
  uid: string,
  cursor: string,
): Promise<Answer> {
  const before = server.server.hub.counts.polls;
  const answer = ask(server, token, cursor);
  await until(() => server.server.hub.counts.polls > before, 5000, 'the poll to wait');
  await server.push({ to: uid, data: 'woke' });
  return answer;
}

describe('disconnect notices for long-poll clients between two polls', () => {
  it('tells the next poll once nothing is owed, then polls go on as before', async () => {
    const tok = older('np1');
    const { cursor: c0 } = await poll(s.url, tok);
    const owed = (await s.push({ to: 'np1', data: 'owed' })).body as { id: string };
    await s.push({ to: 'someone-else', data: 'not ours' });
    expect(await disconnect(s, { uid: 'np1', reason: 'logout' })).toEqual({
      status: 200,
      body: { uids: 0, connections: 0 },
    });

    // What was owed comes first, as always (its cursor is that message: not past the kick yet).
    const first = await ask(s, tok, c0);
    expect(first.messages.map((m) => m.data)).toEqual(['owed']);
    expect(first.cursor).toBe(owed.id);
    expect(first.disconnect).toBeUndefined();
    // Nothing owed: told at once instead of waiting, with a cursor past the kick.
    const told = await ask(s, tok, first.cursor);
    expect(told).toEqual({
      messages: [],
      cursor: expect.any(String),
      disconnect: { reason: 'logout', reconnect: true },
    });
    // Another client of the uid still at the old cursor is told too, once it has what it is owed.
    expect((await ask(s, tok, owed.id)).disconnect).toEqual({ reason: 'logout', reconnect: true });
    // Reconnecting from the cursor it was told with: an ordinary poll that waits.
    const next = await waitsThenGets(s, tok, 'np1', told.cursor);
    expect(next.messages.map((m) => m.data)).toEqual(['woke']);
    expect(next.disconnect).toBeUndefined();
  });

  it('does not tell a token signed after the call (a fresh page load), nor a fresh poll', async () => {
    const { cursor: c0 } = await poll(s.url, older('np2'));
    await disconnect(s, { uid: 'np2', reason: 'moved', reconnect: false });
    const fresh = subTokenAt('np2', nowSec() + 1);
    const a = await waitsThenGets(s, fresh, 'np2', c0);
    expect(a.messages.map((m) => m.data)).toEqual(['woke']);
    expect(a.disconnect).toBeUndefined();
    // Without a cursor a poll only learns the position, whatever its token.
    expect((await poll(s.url, older('np2'))) as Answer).not.toHaveProperty('disconnect');
  });

  it('tells a token without iat, and tells a poll whose cursor needs a reset with the reset', async () => {
    await poll(s.url, older('np3'));
    await disconnect(s, { uid: 'np3', reason: 'gone', reconnect: false });
    const a = await ask(s, subTokenAt('np3', null), 'not-an-id');
    expect(a).toEqual({
      messages: [],
      cursor: expect.any(String),
      reset: true,
      disconnect: { reason: 'gone', reconnect: false },
    });
  });

  it('answers a waiting poll with a cursor past the kick, so its next poll is not told again', async () => {
    const tok = older('np4');
    const { cursor: c0 } = await poll(s.url, tok);
    const before = s.server.hub.counts.polls;
    const waiting = ask(s, tok, c0);
    await until(() => s.server.hub.counts.polls > before, 5000, 'the poll to wait');
    const other = (await s.push({ to: 'not-np4', data: 1 })).body as { id: string };
    await disconnect(s, { uid: 'np4', reason: 'kick' });
    const a = await waiting;
    // Its cursor is the kick's own position (the mark), one past the last message it was handed.
    expect(a).toEqual({
      messages: [],
      cursor: expect.any(String),
      disconnect: { reason: 'kick', reconnect: true },
    });
    expect(parseId(a.cursor)).toEqual({ ...parseId(other.id), seq: parseId(other.id)!.seq + 1 });
    const next = await waitsThenGets(s, tok, 'np4', a.cursor);
    expect(next.disconnect).toBeUndefined();
  });

  it('tells a revoked token between two polls in its 401, and nothing else; a new token resumes', async () => {
    const tok = older('np6');
    const { cursor: c0 } = await poll(s.url, tok);
    await s.push({ to: 'np6', data: 'before' });
    await disconnect(s, { uid: 'np6', reason: 'signed out', reconnect: true, revoke: true });
    const after = (await s.push({ to: 'np6', data: 'after' })).body as { id: string };
    const refused = async (cursor?: string) => {
      const q = new URLSearchParams({ token: tok, ...(cursor === undefined ? {} : { cursor }) });
      const res = await fetch(`${s.url}/poll?${q}`);
      return { status: res.status, body: (await res.json()) as Record<string, unknown> };
    };
    // Refused (no message reaches the revoked token), and told why, as a waiting poll was.
    expect(await refused(c0)).toEqual({
      status: 401,
      body: {
        error: 'token_revoked',
        message: expect.any(String),
        disconnect: { reason: 'signed out', reconnect: true },
      },
    });
    // Past the call (a cursor after its mark) or without a cursor: refused without the notice.
    expect((await refused(after.id)).body).not.toHaveProperty('disconnect');
    expect((await refused()).body).not.toHaveProperty('disconnect');
    // A token signed after the call resumes from the old cursor: everything owed, not told again.
    const a = await ask(s, subTokenAt('np6', nowSec() + 1), c0);
    expect(a.messages.map((m) => m.data)).toEqual(['before', 'after']);
    expect(a.disconnect).toBeUndefined();
  });

  it('forgets the notice after DISCONNECT_NOTICE_SECONDS', async () => {
    const tok = older('np5');
    const { cursor: c0 } = await poll(short.url, tok);
    await disconnect(short, { uid: 'np5' });
    expect((await ask(short, tok, c0)).disconnect).toEqual({ reason: 'disconnected', reconnect: true });
    await new Promise((r) => setTimeout(r, 1100));
    const a = await waitsThenGets(short, tok, 'np5', c0);
    expect(a.disconnect).toBeUndefined();
  });
});
