import { formatId, parseId } from '../../src/ids.js';
import type { PollBody, SseClient } from '../helpers.js';
import type { Model } from './model.js';
import type { ChaosStats } from './options.js';

/**
 * The chaos checker's verdicts (see `checker.ts`): what an SSE stream, a long-poll answer and a
 * kicked stream must show, given the model of the server's history at that step.
 */

export interface Client {
  readonly name: string;
  readonly kind: 'sse' | 'poll';
  readonly uid: string;
  /** The groups its token names (runtime changes are in the model). */
  readonly tokenGroups: string[];
  /** The id it would resume from (as a browser keeps it), or undefined before its first contact. */
  lastId: string | undefined;
  /** Ids it has held before, to resume from a stale one on purpose. */
  history: string[];
  conn: SseClient | undefined;
  /** Where the open connection started. */
  start: number;
  expectReset: boolean;
  /**
   * What the open connection must get, in order: its replay (the groups it had when it
   * connected), then each message published while it was open that its groups then addressed.
   */
  expected: number[];
}

/** The event name every checker message carries. */
export const EVENT = 'chaos';

/** The seq of an event id; -1 for none or an unreadable one. */
export const seqOf = (id: string | undefined) => parseId(id)?.seq ?? -1;

/** What the checks read and count, shared with the run that drives the server. */
export interface CheckContext {
  readonly model: Model;
  readonly stats: ChaosStats;
  /** Throws a `ChaosError` naming the seed, the operation and the client. */
  fail(op: number, c: Client | undefined, what: string): never;
  /** Whether a poll of `c` from `cursor` may be told of a kick instead of waiting (see `kick`). */
  mayBeTold(c: Client, cursor: string | undefined): boolean;
}

/** Checks an SSE connection's events so far against the model; `final` demands all of them. */
export function checkStream(x: CheckContext, op: number, c: Client, final: boolean): void {
  const { model, fail } = x;
  const idOf = (seq: number) => formatId(model.epoch, seq);
  const conn = c.conn!;
  const evs = [...conn.events];
  if (c.expectReset) {
    const first = evs.shift();
    if (!first) {
      if (final) fail(op, c, 'expected a reset, got nothing');
      return;
    }
    if (first.event !== 'reset') fail(op, c, `expected a reset, got ${first.event} ${first.id}`);
    if (seqOf(first.id) !== c.start) fail(op, c, `reset carries ${first.id}, expected ${idOf(c.start)}`);
  }
  const want = c.expected;
  for (const [i, e] of evs.entries()) {
    if (e.event === 'reset') fail(op, c, `unexpected reset ${e.id} (the window was not exceeded)`);
    if (seqOf(e.id) !== want[i]) {
      fail(
        op,
        c,
        `event ${i} after ${idOf(c.start)} is ${e.id}, expected ${want[i] ? idOf(want[i]) : 'nothing'}`,
      );
    }
  }
  // Every message up to the last id it has seen (bare ids included) must have arrived.
  const seen = Math.max(seqOf(conn.lastId), c.start);
  const upToSeen = want.filter((seq) => seq <= seen).length;
  if (evs.length < upToSeen)
    fail(op, c, `saw id ${conn.lastId} but only ${evs.length} of ${upToSeen} messages`);
  if (final && evs.length !== want.length) fail(op, c, `got ${evs.length} of ${want.length} messages`);
}

/** Checks one long-poll answer for a poll sent with `cursor` while the model stood still. */
export function checkPoll(
  x: CheckContext,
  op: number,
  c: Client,
  cursor: string | undefined,
  a: PollBody,
): void {
  const { model, stats, fail, mayBeTold } = x;
  const idOf = (seq: number) => formatId(model.epoch, seq);
  const told = (a as PollBody & { disconnect?: unknown }).disconnect;
  if (told !== undefined && (!mayBeTold(c, cursor) || a.messages.length > 0))
    fail(op, c, `poll after ${cursor} told of a kick it was not owed: ${JSON.stringify(a)}`);
  if (cursor === undefined) {
    if (a.messages.length !== 0 || seqOf(a.cursor) !== model.lastSeq) {
      fail(op, c, `fresh poll answered ${JSON.stringify(a)}, expected position ${idOf(model.lastSeq)}`);
    }
    c.lastId = a.cursor;
    return;
  }
  const cs = seqOf(cursor);
  const valid = parseId(cursor)?.epoch === model.epoch && cs <= model.lastSeq;
  const mustReset = !valid || model.incomplete(c, cs);
  if (mustReset !== (a.reset === true)) {
    fail(op, c, `poll after ${cursor}: reset ${a.reset === true}, expected ${mustReset}`);
  }
  if (mustReset) {
    stats.resets++;
    if (a.messages.length !== 0 || seqOf(a.cursor) !== model.lastSeq)
      fail(op, c, `bad reset answer ${a.cursor}`);
    c.lastId = a.cursor;
    return;
  }
  const want = model.between(c, cs).slice(0, 100);
  const got = a.messages.map((m) => seqOf(m.id));
  if (got.length === 0 && want.length > 0)
    fail(op, c, `poll after ${cursor} got nothing, expected ${want.length}`);
  for (const [i, g] of got.entries()) {
    if (g !== want[i]) fail(op, c, `poll after ${cursor}: message ${i} is ${idOf(g)}, expected ${want[i]}`);
    if (a.messages[i]!.event !== EVENT) fail(op, c, `poll got event ${a.messages[i]!.event}`);
  }
  const end = got.length > 0 ? got[got.length - 1]! : cs;
  if (got.length > 0 ? seqOf(a.cursor) !== end : model.between(c, cs, seqOf(a.cursor)).length > 0) {
    fail(op, c, `poll cursor ${a.cursor} skips messages after ${idOf(end)}`);
  }
  stats.delivered += got.length;
  stats.replays++;
  c.lastId = a.cursor;
}

/** The stream of `c` was ended by a kick: what arrived must be right, the disconnect last. */
export function kickedStream(x: CheckContext, op: number, c: Client, reason: string): void {
  const { stats, fail } = x;
  const conn = c.conn!;
  const last = conn.events.pop();
  if (last?.event !== 'disconnect') fail(op, c, `kicked stream ended with ${JSON.stringify(last)}`);
  if (last!.data !== JSON.stringify({ reason, reconnect: true }))
    fail(op, c, `disconnect data ${last!.data}`);
  checkStream(x, op, c, false);
  c.lastId = conn.lastId ?? c.lastId;
  if (c.lastId) c.history.push(c.lastId);
  stats.delivered += conn.events.length;
  c.conn = undefined;
  stats.kicked++;
}
