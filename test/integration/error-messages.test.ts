/**
 * The mistakes a newcomer makes first get an answer that says what to do (issue 14.10), over
 * real HTTP on both the fast paths and Express: JSON sent as a form, a push without data, a
 * "Bearer " token in the query string, and a token signed with another secret.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { pubToken, startServer, subToken, type TestServer } from '../helpers.js';

let s: TestServer;
beforeAll(async () => {
  s = await startServer();
});
afterAll(() => s.close());

async function push(body: string, headers: Record<string, string>, token = pubToken()) {
  const res = await fetch(`${s.url}/push`, {
    method: 'POST',
    headers: { authorization: `Bearer ${token}`, ...headers },
    body,
  });
  return { status: res.status, body: (await res.json()) as { error: string; message: string } };
}

describe('error messages say what to do', () => {
  it('JSON without the JSON content type: send Content-Type: application/json', async () => {
    // What `curl -d '{"to":"42","data":1}'` sends.
    const r = await push('{"to":"42","data":1}', { 'content-type': 'application/x-www-form-urlencoded' });
    expect(r.status).toBe(400);
    expect(r.body.message).toContain('send Content-Type: application/json');
    expect(r.body.message).not.toContain('Unrecognized');
  });

  it('a push without data: data is required', async () => {
    const r = await push('{"to":"42"}', { 'content-type': 'application/json' });
    expect(r).toEqual({ status: 400, body: { error: 'bad_request', message: expect.any(String) } });
    expect(r.body.message).toMatch(/^data is required/);
    const batch = await push('[{"to":"42"}]', { 'content-type': 'application/json' });
    expect(batch.body.message).toMatch(/^item 0: data is required/);
    const unknown = await push('{"to":"42","text":"hi"}', { 'content-type': 'application/json' });
    expect(unknown.body.message).toBe('body: unknown field "text" (a push has to, group, event and data)');
  });

  it('?token=Bearer%20…: pass the token alone', async () => {
    for (const path of ['/events', '/poll']) {
      const res = await fetch(`${s.url}${path}?token=Bearer%20${subToken('42')}`);
      expect(res.status).toBe(401);
      const body = (await res.json()) as { message: string };
      expect(body.message).toContain('starts with "Bearer"');
    }
  });

  it("a token signed with another secret: it must equal the server's JWT_SECRET", async () => {
    const r = await push(
      '{"data":1}',
      { 'content-type': 'application/json' },
      pubToken({ secret: 'another-secret-0123456789' }),
    );
    expect(r.status).toBe(401);
    expect(r.body.message).toContain("must equal the server's JWT_SECRET");
    const res = await fetch(`${s.url}/poll?token=${subToken('42', { secret: 'another-secret-0123456789' })}`);
    expect(((await res.json()) as { message: string }).message).toContain('JWT_SECRET');
  });
});
