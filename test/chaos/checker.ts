/**
 * A seeded, reproducible delivery checker. It drives a real server over HTTP with a random mix
 * of pushes (to uids, groups, both, everyone, batches; some excluding uids), kicks
 * (`POST /disconnect` of a uid), runtime group joins and leaves (`POST /groups`), SSE clients
 * that connect, resume (with their last id, without one, with a garbage id, with a stale id) and
 * drop, long-poll clients that poll at once or wait, and, when the caller provides them, backend
 * disruptions (a Redis outage, a Sentinel failover). Operations run one after another, so a model
 * of the server's history (one ring of HISTORY_SIZE per stream) knows at every step what each
 * client must get: every message addressed to it (and not excluding its uid) after its resume
 * point, in order, once, or a `reset` exactly when a stream it reads has evicted a message after
 * that point; a kicked stream ends with `event: disconnect` (no id) after what it had received.
 * Groups: a live stream gets a group's messages from the acknowledged join on and none after the
 * acknowledged leave; a replay or poll covers the groups the client has at that time.
 */

import jwt from 'jsonwebtoken';
import { DISCONNECT_MARK_UID } from '../../src/disconnect-notices.js';
import { formatId, parseId } from '../../src/ids.js';
import {
  openEvents,
  type PollBody,
  poll,
  pubToken,
  subToken,
  TEST_SECRET,
  type TestServer,
} from '../helpers.js';
import {
  type CheckContext,
  type Client,
  checkPoll as checkPollOf,
  checkStream as checkStreamOf,
  EVENT,
  kickedStream as kickedStreamOf,
  seqOf,
} from './checks.js';
import { Model, prng, type Sent } from './model.js';
import { ChaosError, type ChaosOptions, type ChaosStats, type Disruption } from './options.js';

export { ChaosError, type ChaosOptions, type ChaosStats, type Disruption } from './options.js';

/** The publisher token the checker kicks with (`scope: control`). */
const CONTROL = jwt.sign({ scope: 'control' }, TEST_SECRET, { algorithm: 'HS256' });

export async function runChaos(s: TestServer, opts: ChaosOptions): Promise<ChaosStats> {
  const rnd = prng(opts.seed);
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rnd() * xs.length)]!;
  const model = new Model(opts.historySize);
  const stats: ChaosStats = {
    ops: 0,
    pushes: 0,
    messages: 0,
    connects: 0,
    disconnects: 0,
    polls: 0,
    waitingPolls: 0,
    replays: 0,
    resets: 0,
    delivered: 0,
    excludes: 0,
    kicks: 0,
    kicked: 0,
    joins: 0,
    leaves: 0,
    disruptions: 0,
    retried503: 0,
    endedByRecovery: 0,
  };
  const uids = ['u0', 'u1', 'u2', 'u3', 'u4', 'u5'];
  const groupNames = ['g0', 'g1', 'g2', 'g3'];
  const clients: Client[] = [];
  const make = (kind: 'sse' | 'poll', i: number): Client => {
    const groups = groupNames.filter(() => rnd() < 0.3);
    return {
      name: `${kind}${i}`,
      kind,
      uid: pick(uids),
      tokenGroups: groups,
      lastId: undefined,
      history: [],
      conn: undefined,
      start: 0,
      expectReset: false,
      expected: [],
    };
  };
  for (let i = 0; i < (opts.sseClients ?? 12); i++) clients.push(make('sse', i));
  for (let i = 0; i < (opts.pollClients ?? 8); i++) clients.push(make('poll', i));
  const tokens = new Map(clients.map((c) => [c, subToken(c.uid, { groups: c.tokenGroups })]));
  const fail = (op: number, c: Client | undefined, what: string): never => {
    throw new ChaosError(
      `chaos seed ${opts.seed}, operation ${op}${c ? `, client ${c.name} (uid ${c.uid}, groups [${model.groupsOf(c)}])` : ''}: ${what}`,
    );
  };
  /** A message the server accepted: into history, and due to every open stream it addresses now. */
  const record = (m: Sent): void => {
    model.append(m);
    for (const c of clients) if (c.conn && model.addressed(c, m)) c.expected.push(m.seq);
  };
  const idOf = (seq: number) => formatId(model.epoch, seq);
  const redisMode = s.config.redis !== undefined;

  model.epoch = parseId(await s.server.broker.position())!.epoch;
  model.lastSeq = parseId(await s.server.broker.position())!.seq;
  if (model.lastSeq !== 0) throw new Error('the chaos checker needs a fresh server');

  const checks: CheckContext = {
    model,
    stats,
    fail,
    mayBeTold: (c, cursor) => mayBeTold(c, cursor),
  };
  const checkStream = (op: number, c: Client, final: boolean): void => checkStreamOf(checks, op, c, final);

  const connect = async (op: number, c: Client): Promise<void> => {
    const r = rnd();
    let resumeId: string | undefined;
    if (r < 0.7) resumeId = c.lastId;
    else if (r < 0.8) resumeId = undefined;
    else if (r < 0.9) resumeId = pick(['garbage', `${model.epoch}-999999999`, 'zz-1', `x${model.epoch}-1`]);
    else resumeId = c.history.length > 0 ? pick(c.history) : c.lastId;
    const resumeSeq = resumeId === undefined ? -1 : seqOf(resumeId);
    const validResume =
      resumeId !== undefined && parseId(resumeId)?.epoch === model.epoch && resumeSeq <= model.lastSeq;
    c.expectReset = resumeId !== undefined && (!validResume || model.incomplete(c, resumeSeq));
    c.start = validResume && !c.expectReset ? resumeSeq : model.lastSeq;
    c.expected = model.between(c, c.start);
    if (c.expectReset) stats.resets++;
    else if (resumeId !== undefined) stats.replays++;
    const conn = await openEvents(s.url, tokens.get(c)!, resumeId);
    if (conn.status !== 200) fail(op, c, `/events answered ${conn.status}: ${conn.body}`);
    c.conn = conn;
    // `retry:` is written before the replay is taken, and the replay is taken before the server
    // reads another request: once it is here, the next push comes after the replay.
    await conn.waitUntil(() => conn.retry !== undefined, 5000, 'retry');
    stats.connects++;
  };

  const disconnect = async (op: number, c: Client, graceful: boolean): Promise<void> => {
    const conn = c.conn!;
    if (graceful) {
      const want = c.expected.length + (c.expectReset ? 1 : 0);
      await conn
        .waitForEvents(want, 5000)
        .catch(() => fail(op, c, `only ${conn.events.length} of ${want} events arrived`));
    }
    conn.close();
    checkStream(op, c, graceful);
    // What a browser's EventSource would resume from: the last id it saw, bare ids included.
    c.lastId = conn.lastId ?? c.lastId;
    if (c.lastId) c.history.push(c.lastId);
    stats.delivered += conn.events.length;
    c.conn = undefined;
    stats.disconnects++;
  };

  /**
   * Per uid, the seq of its latest kick's mark (the kick takes an id, delivered to nobody): a poll
   * of that uid from a cursor before it may be told of the kick (disconnect notices) instead of
   * waiting, once nothing is owed; a poll from the mark or later never is.
   */
  const kickMarks = new Map<string, number>();
  /**
   * Per uid, when its latest kick was answered. The contract ends connections "everywhere, within
   * 2 s": in Redis mode the kick reaches even the answering node over the control channel, so a
   * poll opened just after the answer can still be waiting when it lands and be ended by it.
   */
  const kickedAt = new Map<string, number>();
  const KICK_PROPAGATION_MS = 2000;
  const mayBeTold = (c: Client, cursor: string | undefined) =>
    (cursor !== undefined && seqOf(cursor) < (kickMarks.get(c.uid) ?? -1)) ||
    (redisMode && Date.now() - (kickedAt.get(c.uid) ?? Number.NEGATIVE_INFINITY) < KICK_PROPAGATION_MS);

  const checkPoll = (op: number, c: Client, cursor: string | undefined, a: PollBody): void =>
    checkPollOf(checks, op, c, cursor, a);

  const kickedStream = (op: number, c: Client, reason: string): void => kickedStreamOf(checks, op, c, reason);

  const kick = async (op: number, uid: string): Promise<void> => {
    const reason = `op${op}`;
    const open = sse.filter((c) => c.conn && c.uid === uid);
    const res = await fetch(`${s.url}/disconnect`, {
      method: 'POST',
      headers: { authorization: `Bearer ${CONTROL}`, 'content-type': 'application/json' },
      body: JSON.stringify({ uid, reason }),
    });
    const body = (await res.json()) as { connections?: number };
    if (res.status !== 200) fail(op, undefined, `disconnect answered ${res.status}: ${JSON.stringify(body)}`);
    kickedAt.set(uid, Date.now());
    if (s.config.disconnectNoticeSec > 0) {
      model.append({ seq: model.lastSeq + 1, to: [DISCONNECT_MARK_UID], groups: [], exclude: [] });
      kickMarks.set(uid, model.lastSeq);
    }
    // Streams the client closed may not have been noticed yet: at least the open ones. The count
    // is what presence knew at the call; Redis presence of a stream opened just before can lag,
    // so there only the kick itself (every open stream ends) is checked.
    if (!redisMode && (body.connections ?? -1) < open.length)
      fail(op, undefined, `disconnect of ${uid} found ${body.connections}, ${open.length} open`);
    for (const c of open) {
      const conn = c.conn!;
      await conn
        .waitUntil(() => conn.closed, 5000, 'the kicked stream to end')
        .catch(() => fail(op, c, 'a kicked stream did not end'));
      kickedStream(op, c, reason);
    }
    stats.kicks++;
  };

  /** A runtime join or leave of one group by one uid, acknowledged before the model has it. */
  const regroup = async (op: number): Promise<void> => {
    const uid = pick(uids);
    const group = pick(groupNames);
    const join = rnd() < 0.5;
    // Everything published so far must have reached the uid's open streams (their replays over)
    // before the change, or whether it counts for them would be a race: a probe to the uid
    // arrives after all of it.
    const open = sse.filter((c) => c.conn && c.uid === uid);
    if (open.length > 0) {
      await push(op, [{ to: [uid] }]);
      for (const c of open) {
        const conn = c.conn!;
        const want = c.expected.length + (c.expectReset ? 1 : 0);
        await conn
          .waitForEvents(want, 5000)
          .catch(() =>
            fail(op, c, `only ${conn.events.length} of ${want} events arrived before a group change`),
          );
      }
    }
    const change = () =>
      fetch(`${s.url}/groups`, {
        method: 'POST',
        headers: { authorization: `Bearer ${CONTROL}`, 'content-type': 'application/json' },
        body: JSON.stringify({ uid, [join ? 'join' : 'leave']: group }),
      }).then(async (res) => ({ status: res.status, body: (await res.json()) as unknown }));
    // A join or leave is idempotent: one applied before its 503 changes nothing when sent again.
    const res = await retried503(op, change);
    if (res.status !== 200) fail(op, undefined, `groups answered ${res.status}: ${JSON.stringify(res.body)}`);
    model.change(uid, group, join);
    if (join) stats.joins++;
    else stats.leaves++;
  };

  const untilHealthy = async (op: number, after: string): Promise<void> => {
    const t0 = Date.now();
    while ((await fetch(`${s.url}/healthz`)).status !== 200) {
      if (Date.now() - t0 > 60_000) fail(op, undefined, `not healthy 60 s after ${after}`);
      await new Promise((res) => setTimeout(res, 20));
    }
  };

  /**
   * Sends a request again, once healthy, while it answers 503 `backend_unavailable` after a
   * disruption (at most 5 times), counted. A 503 after `/healthz` said 200 used to be the
   * revocations mirror counted as loaded until the control channel resubscribed (fixed: it is
   * incomplete from the loss on); still allowed for a backend that genuinely blips again after
   * a recovery (a reconnect under load), as a publisher retries a 503.
   */
  const retried503 = async <T extends { status: number; body: unknown }>(
    op: number,
    send: () => Promise<T>,
  ): Promise<T> => {
    let r = await send();
    for (let attempt = 0; r.status === 503 && opts.disruptions && attempt < 5; attempt++) {
      if ((r.body as { error?: string }).error !== 'backend_unavailable') break;
      stats.retried503++;
      await untilHealthy(op, 'a 503 after recovery');
      r = await send();
    }
    return r;
  };

  /** One backend disruption: 503 while it lasts, then recovery without loss (see `disruptions`). */
  const disrupt = async (op: number, d: Disruption): Promise<void> => {
    await d.begin();
    const r = await s.push({ to: [pick(uids)], event: EVENT, data: { op, during: d.name } });
    if (r.status !== 503)
      fail(op, undefined, `push during ${d.name} answered ${r.status}: ${JSON.stringify(r.body)}`);
    await d.end();
    await untilHealthy(op, d.name);
    // Healthy means subscribed again: a server that ends its streams on recovery has ended them.
    const open = sse.filter((c) => c.conn);
    const ended = open.length - s.server.hub.counts.streams;
    if (ended > 0) {
      const t1 = Date.now();
      while (open.filter((c) => c.conn!.closed).length < ended) {
        if (Date.now() - t1 > 5000) fail(op, undefined, `${ended} streams ended by the server, fewer closed`);
        await new Promise((res) => setTimeout(res, 5));
      }
      for (const c of open) {
        if (!c.conn!.closed) continue;
        await disconnect(op, c, false);
        stats.endedByRecovery++;
      }
    }
    stats.disruptions++;
  };

  const push = async (
    op: number,
    items: { to?: string[]; group?: string[]; exclude?: string[] }[],
  ): Promise<void> => {
    const body = items.map((t, i) => ({ ...t, event: EVENT, data: { op, i } }));
    // Nothing was published by a 503 sent again (if it had been, the next id would not follow
    // the model's and the check below would fail).
    const r = await retried503(op, () => s.push(body.length === 1 ? body[0] : body));
    if (r.status !== 200) fail(op, undefined, `push answered ${r.status}: ${JSON.stringify(r.body)}`);
    const results = (Array.isArray(r.body) ? r.body : [r.body]) as { id: string }[];
    for (const [i, res] of results.entries()) {
      const seq = seqOf(res.id);
      if (seq !== model.lastSeq + 1) fail(op, undefined, `push got ${res.id} after ${idOf(model.lastSeq)}`);
      const item = items[i]!;
      record({ seq, to: item.to ?? [], groups: item.group ?? [], exclude: item.exclude ?? [] });
      if (item.exclude) stats.excludes++;
    }
    stats.pushes++;
    stats.messages += results.length;
  };

  // Messages the broker published, by their `data.op`, to learn the id of an outbox row.
  const published = new Map<number, number[]>();
  if (opts.outbox) {
    s.server.broker.subscribe((m) => {
      if (m.event !== EVENT) return;
      const d = JSON.parse(m.data) as { op: number };
      published.set(d.op, [...(published.get(d.op) ?? []), m.seq]);
    });
  }
  const viaOutbox = async (
    op: number,
    item: { to?: string[]; group?: string[]; exclude?: string[] },
  ): Promise<void> => {
    await opts.outbox!({ ...item, event: EVENT, data: { op, i: 0 } });
    const t0 = Date.now();
    while (!published.has(op)) {
      if (Date.now() - t0 > 10_000) fail(op, undefined, 'the outbox row was never published');
      await new Promise((res) => setTimeout(res, 2));
    }
    const seqs = published.get(op)!;
    if (seqs.length !== 1 || seqs[0] !== model.lastSeq + 1) {
      fail(op, undefined, `outbox row published as ${seqs.map(idOf)} after ${idOf(model.lastSeq)}`);
    }
    record({ seq: seqs[0]!, to: item.to ?? [], groups: item.group ?? [], exclude: item.exclude ?? [] });
    stats.pushes++;
    stats.messages++;
  };
  const keyedTwice = async (
    op: number,
    item: { to?: string[]; group?: string[]; exclude?: string[] },
  ): Promise<void> => {
    const body = JSON.stringify({ ...item, event: EVENT, data: { op, i: 0 } });
    const send = async () => {
      const res = await fetch(`${s.url}/push`, {
        method: 'POST',
        headers: {
          authorization: `Bearer ${pubToken()}`,
          'content-type': 'application/json',
          'idempotency-key': `chaos-${opts.seed}-${op}`,
        },
        body,
      });
      if (res.status !== 200) fail(op, undefined, `keyed push answered ${res.status}`);
      return (await res.json()) as { id: string };
    };
    const first = await send();
    const again = await send();
    if (again.id !== first.id) fail(op, undefined, `keyed retry answered ${again.id}, first ${first.id}`);
    const seq = seqOf(first.id);
    if (seq !== model.lastSeq + 1) fail(op, undefined, `push got ${first.id} after ${idOf(model.lastSeq)}`);
    record({ seq, to: item.to ?? [], groups: item.group ?? [], exclude: item.exclude ?? [] });
    stats.pushes++;
    stats.messages++;
  };

  const randomTarget = (): { to?: string[]; group?: string[]; exclude?: string[] } => {
    const t = randomAddress();
    // Some messages leave out one or two uids (GatewayWorker's "everyone but the sender").
    if (rnd() < 0.2) return { ...t, exclude: [...new Set([pick(uids), pick(uids)])] };
    return t;
  };
  const randomAddress = (): { to?: string[]; group?: string[] } => {
    const r = rnd();
    if (r < 0.35) return { to: [pick(uids)] };
    if (r < 0.45) return { to: [pick(uids), pick(uids)].filter((u, i, a) => a.indexOf(u) === i) };
    if (r < 0.65) return { group: [pick(groupNames)] };
    if (r < 0.8) return { to: [pick(uids)], group: [pick(groupNames)] };
    return {};
  };

  const sse = clients.filter((c) => c.kind === 'sse');
  const pollers = clients.filter((c) => c.kind === 'poll');
  try {
    const disruptions = opts.disruptions;
    let nextDisruption = 0;
    for (let op = 0; op < opts.ops; op++) {
      const r = rnd();
      const extra = opts.outbox || opts.keyedRetries ? rnd() : 1;
      const g = opts.groupChanges === false ? 1 : rnd();
      // A recovering server may end streams again a little later (a second `+switch-master`
      // moves its subscription once more): those are dropped clients too.
      if (disruptions) {
        for (const c of sse) {
          if (!c.conn?.closed) continue;
          await disconnect(op, c, false);
          stats.endedByRecovery++;
        }
      }
      if (disruptions && op > 0 && op % disruptions.every === 0) {
        await disrupt(op, disruptions.list[nextDisruption++ % disruptions.list.length]!);
      } else if (g < 0.02) {
        await regroup(op);
      } else if (opts.outbox && extra < 0.1) {
        await viaOutbox(op, randomTarget());
      } else if (opts.keyedRetries && extra < 0.2) {
        await keyedTwice(op, randomTarget());
      } else if (r < 0.45) {
        await push(op, [randomTarget()]);
      } else if (r < 0.5) {
        await push(
          op,
          Array.from({ length: 2 + Math.floor(rnd() * 4) }, () => randomTarget()),
        );
      } else if (r < 0.68) {
        const c = pick(sse);
        if (c.conn) await disconnect(op, c, rnd() < 0.3);
        else await connect(op, c);
      } else if (r < 0.7) {
        await kick(op, pick(uids));
      } else if (r < 0.9) {
        const c = pick(pollers);
        const cursor = rnd() < 0.1 ? pick([undefined, 'garbage', ...c.history]) : c.lastId;
        const a = await poll(s.url, tokens.get(c)!, cursor, 0);
        checkPoll(op, c, cursor, a);
        if (c.lastId) c.history.push(c.lastId);
        stats.polls++;
      } else {
        // A waiting poll: nothing is pending, it waits, and a push for its uid wakes it.
        const c = pick(pollers);
        const cursor = c.lastId;
        if (
          cursor === undefined ||
          model.incomplete(c, seqOf(cursor)) ||
          model.between(c, seqOf(cursor)).length > 0 ||
          mayBeTold(c, cursor)
        ) {
          continue;
        }
        const waiting = s.server.hub.counts.polls;
        const answer = poll(s.url, tokens.get(c)!, cursor, 10);
        const t0 = Date.now();
        while (s.server.hub.counts.polls === waiting) {
          if (Date.now() - t0 > 5000) fail(op, c, 'the poll never started waiting');
          await new Promise((res) => setTimeout(res, 1));
        }
        await push(op, [{ to: [c.uid] }]);
        checkPoll(op, c, cursor, await answer);
        stats.waitingPolls++;
      }
      stats.ops = op + 1;
      if (opts.progress && (op + 1) % 1000 === 0) opts.progress(op + 1, stats);
      // Keep the ids a browser would hold bounded.
      for (const c of clients) if (c.history.length > 20) c.history.splice(0, c.history.length - 20);
    }
    // Every operation ran (a step that found nothing to do ends its iteration early).
    stats.ops = opts.ops;
    // The end: every open stream must catch up with everything addressed to it, and every
    // poller must be able to collect everything still retained.
    for (const c of sse) if (c.conn) await disconnect(opts.ops, c, true);
    for (const c of pollers) {
      for (let i = 0; i < 100 && c.lastId !== undefined; i++) {
        const before = c.lastId;
        const a = await poll(s.url, tokens.get(c)!, before, 0);
        checkPoll(opts.ops, c, before, a);
        if (a.messages.length === 0) break;
      }
    }
  } finally {
    for (const c of sse) c.conn?.close();
  }
  return stats;
}
