/**
 * A blip costs no reconnects (issue 13 item 1): three spawned nodes, each reaching Redis through
 * its own TCP proxy (so one node can stay cut off while the others publish), SSE streams and
 * long-polls on every node. Through a 5 s Redis outage nothing is closed; afterwards every
 * accepted message reaches every addressed client once, in order, with no reset and no
 * reconnect, including the messages a node missed while its subscription was still down (it
 * catches its connections up in place). Where history was evicted meanwhile, the node's clients
 * get an in-band reset, still without a close.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { parseId } from '../../src/ids.js';
import { openEvents, type SpawnedServer, type SseClient, spawnServer, subToken } from '../helpers.js';
import { redisSkipReason, startRedis, type TestRedis } from '../redis-server.js';
import { eventually, pushTo, stopAll } from './cluster-helpers.js';
import { TcpProxy } from './tcp-proxy.js';

const skip = redisSkipReason();
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const seqOf = (id: string) => parseId(id)!.seq;

/** A long-poll client: polls again at once after each answer; counts answers that were not 200. */
class Poller {
  readonly ids: string[] = [];
  readonly resets: string[] = [];
  failures = 0;
  /** 503 answers from a node whose /healthz said 503 too (see `run`). */
  recovering = 0;
  readonly why: string[] = [];
  cursor: string | undefined;
  private stopped = false;
  private readonly abort = new AbortController();
  readonly done: Promise<void>;

  constructor(
    private readonly node: { url: string },
    private readonly token: string,
  ) {
    this.done = this.run();
  }

  private async run(): Promise<void> {
    while (!this.stopped) {
      const q = new URLSearchParams({ token: this.token, timeout: '60' });
      if (this.cursor !== undefined) q.set('cursor', this.cursor);
      try {
        const res = await fetch(`${this.node.url}/poll?${q}`, { signal: this.abort.signal });
        if (res.status !== 200) {
          const text = await res.text();
          // A re-poll that reaches a node still recovering (its own /healthz says 503) is told
          // 503 backend_unavailable, as a connect would be: clients retry it. Counted apart; any
          // other failure, or a 503 from a node that says it is healthy, is a failure.
          const recovering =
            res.status === 503 &&
            text.includes('backend_unavailable') &&
            (await fetch(`${this.node.url}/healthz`).then((h) => h.status)) === 503;
          if (recovering) this.recovering++;
          else {
            this.failures++;
            this.why.push(`${res.status} ${text}`);
          }
          await sleep(200);
          continue;
        }
        const body = (await res.json()) as { messages: { id: string }[]; cursor: string; reset?: boolean };
        if (body.reset) this.resets.push(body.cursor);
        for (const m of body.messages) this.ids.push(m.id);
        this.cursor = body.cursor;
      } catch (err) {
        if (this.stopped) return;
        this.failures++;
        this.why.push(String(err));
        await sleep(200);
      }
    }
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.abort.abort();
    await this.done;
  }
}

interface Accepted {
  readonly id: string;
  /** The uid it was sent to, or undefined for the group / broadcast every client gets. */
  readonly uid?: string;
}

describe.skipIf(skip !== undefined)(`a Redis blip costs no reconnects${skip ? ` (${skip})` : ''}`, () => {
  let redis: TestRedis | undefined;
  let proxies: TcpProxy[] = [];
  let nodes: SpawnedServer[] = [];
  let streams: { uid: string; c: SseClient }[] = [];
  let pollers: { uid: string; p: Poller }[] = [];
  const accepted: Accepted[] = [];

  afterEach(async () => {
    for (const s of streams) s.c.close();
    await Promise.all(pollers.map((p) => p.p.stop()));
    await stopAll(nodes);
    for (const p of proxies) await p.close();
    await redis?.close();
    redis = undefined;
    proxies = [];
    nodes = [];
    streams = [];
    pollers = [];
    accepted.length = 0;
  });

  async function setUp(env: Record<string, string>): Promise<void> {
    redis = await startRedis({ persist: true });
    for (let i = 0; i < 3; i++) proxies.push(await TcpProxy.start(redis.port));
    nodes = await Promise.all(
      proxies.map((p) => spawnServer({ REDIS_URL: p.url, HEARTBEAT_SECONDS: '1', ...env }, 30_000)),
    );
    for (const [i, n] of nodes.entries()) {
      for (const s of ['a', 'b']) {
        const uid = `s${i}${s}`;
        const c = await openEvents(n.url, subToken(uid, { groups: ['room'] }));
        await c.waitForId();
        streams.push({ uid, c });
      }
      const uid = `p${i}`;
      pollers.push({ uid, p: new Poller(n, subToken(uid, { groups: ['room'] })) });
    }
    // Every poller holds a waiting poll (it counts as a connection) before anything is pushed.
    await eventually(
      async () => {
        const res = await fetch(`${nodes[0]!.url}/online`, {
          headers: { authorization: `Bearer ${(await import('../helpers.js')).pubToken()}` },
        });
        return ((await res.json()) as { connections: number }).connections === 9;
      },
      10_000,
      '9 connections online',
    );
  }

  /** Pushes `n` messages through `via` (round robin): to the room, to everyone, to one uid. */
  async function pushSome(n: number, via: readonly SpawnedServer[]): Promise<void> {
    const uids = [...streams.map((s) => s.uid), ...pollers.map((p) => p.uid)];
    for (let i = 0; i < n; i++) {
      const k = accepted.length;
      const uid = uids[k % uids.length]!;
      const body =
        k % 3 === 0
          ? { group: 'room', data: { k } }
          : k % 3 === 1
            ? { data: { k } }
            : { to: uid, data: { k } };
      // Sent only to nodes whose /healthz said 200 since their recovery: they must take it at
      // once (a node once answered 503 here, its revocations mirror still counted as loaded
      // from before the outage until its control channel resubscribed and the reload began).
      const r = await pushTo(via[i % via.length]!, body);
      expect(r.status).toBe(200);
      accepted.push(k % 3 === 2 ? { id: r.body.id!, uid } : { id: r.body.id! });
    }
  }

  const expectedFor = (uid: string) =>
    accepted.filter((a) => a.uid === undefined || a.uid === uid).map((a) => a.id);
  const seenBy = (c: SseClient) => c.events.filter((e) => e.event !== 'reset').map((e) => e.id!);
  const allHave = (total: (uid: string) => number) =>
    streams.every((s) => seenBy(s.c).length >= total(s.uid)) &&
    pollers.every((p) => p.p.ids.length >= total(p.uid));
  /** What every client holds and what node B logged about its subscription, for a failure message. */
  const state = () => ({
    accepted: accepted.map((a) => a.id),
    streams: streams.map((s) => ({
      uid: s.uid,
      closed: s.c.closed,
      ev: s.c.events.map((e) => `${e.event}:${e.id}`),
    })),
    pollers: pollers.map((p) => ({ uid: p.uid, ids: p.p.ids, resets: p.p.resets, why: p.p.why })),
    b: nodes[1]
      ?.output()
      .split('\n')
      .filter((l) => /subscri|caught|catch|resync/.test(l)),
  });
  const healthy = async (n: SpawnedServer) => (await fetch(`${n.url}/healthz`)).status === 200;

  it('5 s outage, one node cut off longer: no stream closed, no reconnect, every accepted message once and in order, no reset', async () => {
    await setUp({});
    const [a, b, c] = nodes as [SpawnedServer, SpawnedServer, SpawnedServer];
    await pushSome(12, nodes);
    await eventually(() => allHave((u) => expectedFor(u).length), 10_000, 'first messages');

    await redis!.stop();
    for (const n of nodes) await eventually(async () => !(await healthy(n)), 5000, 'healthz 503');
    for (const n of nodes) expect((await pushTo(n, { data: 'refused' })).status).toBe(503);
    const beats = streams.map((s) => s.c.comments);
    await sleep(5000);
    // Heartbeats kept flowing on every stream; none was closed.
    streams.forEach((s, i) => {
      expect(s.c.closed).toBe(false);
      expect(s.c.comments).toBeGreaterThan(beats[i]!);
    });

    // Redis is back, but node B stays cut off a while: what A and C publish meanwhile, B misses
    // on its subscription and must catch up by itself.
    proxies[1]!.block();
    await redis!.start();
    for (const n of [a, c]) await eventually(() => healthy(n), 20_000, 'healthz 200');
    await pushSome(12, [a, c]);
    await sleep(1000);
    proxies[1]!.unblock();
    await eventually(() => healthy(b), 20_000, 'B healthz 200');
    await pushSome(12, nodes);

    await eventually(() => allHave((u) => expectedFor(u).length), 20_000, 'every message everywhere').catch(
      (err: unknown) => {
        throw new Error(`${String(err)}: ${JSON.stringify(state())}`);
      },
    );
    await sleep(300);
    for (const s of streams) {
      expect(s.c.closed, `${s.uid} closed`).toBe(false);
      expect(
        s.c.events.some((e) => e.event === 'reset'),
        `${s.uid} reset`,
      ).toBe(false);
      expect(seenBy(s.c), s.uid).toEqual(expectedFor(s.uid));
    }
    for (const p of pollers) {
      expect(p.p.why, `${p.uid} poll failures`).toEqual([]);
      expect(p.p.resets, `${p.uid} resets`).toEqual([]);
      expect(p.p.ids, p.uid).toEqual(expectedFor(p.uid));
    }
    const caughtUp = b
      .output()
      .split('\n')
      .filter((l) => l.includes('caught up after resubscribe'))
      .map((l) => JSON.parse(l) as { messages: number; connections: number });
    expect(caughtUp.some((l) => l.messages > 0)).toBe(true);
  }, 90_000);

  it('history evicted while a node was cut off: its clients get an in-band reset, none is closed', async () => {
    await setUp({ HISTORY_SIZE: '4' });
    const [a, b, c] = nodes as [SpawnedServer, SpawnedServer, SpawnedServer];
    await pushSome(3, nodes);
    await eventually(() => allHave((u) => expectedFor(u).length), 10_000, 'first messages');
    const before = accepted.length;

    proxies[1]!.block();
    await eventually(async () => !(await healthy(b)), 5000, 'B healthz 503');
    // More than HISTORY_SIZE messages on the room stream while B cannot hear them.
    for (let i = 0; i < 10; i++) {
      const r = await pushTo(i % 2 ? a : c, { group: 'room', data: { evict: i } });
      expect(r.status).toBe(200);
      accepted.push({ id: r.body.id! });
    }
    await sleep(500);
    proxies[1]!.unblock();
    await eventually(() => healthy(b), 20_000, 'B healthz 200');
    await pushSome(3, nodes);
    // Covered by then: delivered, or before the position of a reset (which may be as new as it).
    const last = accepted[accepted.length - 1]!.id;

    const onB = (uid: string) => uid.startsWith('s1') || uid === 'p1';
    await eventually(
      () =>
        streams.every(
          (s) =>
            s.c.events.some((e) => e.id === last || (e.event === 'reset' && seqOf(e.id!) >= seqOf(last))) ||
            !expectedFor(s.uid).includes(last),
        ) &&
        pollers.every(
          (p) =>
            p.p.ids.includes(last) ||
            p.p.resets.some((id) => seqOf(id) >= seqOf(last)) ||
            !expectedFor(p.uid).includes(last),
        ),
      20_000,
      'the last message everywhere',
    ).catch((err: unknown) => {
      throw new Error(`${String(err)}: ${JSON.stringify(state())}`);
    });
    await sleep(300);
    for (const s of streams) {
      expect(s.c.closed, `${s.uid} closed`).toBe(false);
      const resets = s.c.events.filter((e) => e.event === 'reset');
      if (!onB(s.uid)) {
        expect(resets, s.uid).toEqual([]);
        expect(seenBy(s.c), s.uid).toEqual(expectedFor(s.uid));
        continue;
      }
      // Before the reset what it had; after it, everything newer than the reset position.
      expect(resets, s.uid).toHaveLength(1);
      expect(JSON.parse(resets[0]!.data)).toEqual({ reason: 'history_lost' });
      const at = seqOf(resets[0]!.id!);
      const i = s.c.events.indexOf(resets[0]!);
      const want = expectedFor(s.uid);
      expect(s.c.events.slice(0, i).map((e) => e.id)).toEqual(
        want.filter((id) => accepted.findIndex((x) => x.id === id) < before),
      );
      expect(s.c.events.slice(i + 1).map((e) => e.id)).toEqual(want.filter((id) => seqOf(id) > at));
    }
    for (const p of pollers) {
      expect(p.p.why, `${p.uid} poll failures`).toEqual([]);
      if (!onB(p.uid)) {
        expect(p.p.resets).toEqual([]);
        expect(p.p.ids).toEqual(expectedFor(p.uid));
        continue;
      }
      expect(p.p.resets).toHaveLength(1);
      const at = seqOf(p.p.resets[0]!);
      const want = expectedFor(p.uid);
      const early = want.filter((id) => accepted.findIndex((x) => x.id === id) < before);
      expect(p.p.ids).toEqual([...early, ...want.filter((id) => seqOf(id) > at)]);
    }
  }, 90_000);
});
