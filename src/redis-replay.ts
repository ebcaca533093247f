import { type BrokerReplay, type ReplayOptions, type ReplayRead, replayLimit } from './broker.js';
import { mergeBySeq } from './history.js';
import { formatId, type Position, parseId } from './ids.js';
import { type Message, visibleTo } from './message.js';
import { keyBytes } from './names.js';
import type { RedisClient } from './redis-connect.js';
import type { IssuedPosition } from './redis-issued.js';
import { parseRecord } from './redis-record.js';
import { REPLAY_LUA, Script } from './redis-scripts.js';

const replayScript = new Script(REPLAY_LUA);

/** What a replay needs of the Redis broker it reads for. */
export interface ReplayHost {
  /** The command client. */
  readonly pub: RedisClient;
  /** The key prefix in use (see `keyPrefix`). */
  readonly prefix: string;
  /** The key every script declares (`KEYS[1]`). */
  readonly stateKey: string;
  /** Milliseconds a message is kept; 0 = no time limit. */
  readonly ttlMs: number;
  /** Positions Redis issued: sent with every script, and told of each answer. */
  readonly issued: IssuedPosition;
  /** Runs a Redis call; a connection failure becomes a 503. */
  call<T>(f: () => Promise<T>): Promise<T>;
}

/**
 * Replays from Redis history: one read per script call, or many in pipelined rounds (a node's
 * catch-up after an outage). Each answer is a value (`BrokerReplay`), `complete: false` with the
 * script's reason when history no longer covers the position.
 */
export class RedisReplay {
  constructor(private readonly host: ReplayHost) {}

  async replay(streams: readonly string[], resumeId: string, opts?: ReplayOptions): Promise<BrokerReplay> {
    const pos = parseId(resumeId);
    const args = this.replayArgs(streams, pos, replayLimit(opts));
    const h = this.host;
    const r = (await h.call(() => replayScript.run(h.pub, h.stateKey, args))) as string[];
    return this.replayAnswer(r, pos, opts?.reader);
  }

  /**
   * Many replays in pipelined rounds of at most `perRound` script calls, one round trip each: a
   * node catching its connections up after an outage (`catch-up.ts`) reads 10k streams in about
   * 40 round trips. Each read is bounded by HISTORY_SIZE (no limit is needed). A failed round
   * rejects with a 503 error; Redis restarted without its script cache is answered by `EVAL`.
   */
  async replayMany(reads: readonly ReplayRead[], perRound: number): Promise<BrokerReplay[]> {
    const out: BrokerReplay[] = [];
    const step = Math.max(1, perRound);
    for (let i = 0; i < reads.length; i += step) {
      const round = reads.slice(i, i + step);
      const pos = round.map((r) => parseId(r.resumeId));
      const rows = await this.host.call(() => this.replayRound(round, pos, false));
      for (let j = 0; j < round.length; j++) out.push(this.replayAnswer(rows[j]!, pos[j]));
    }
    return out;
  }

  private async replayRound(
    round: readonly ReplayRead[],
    pos: readonly (Position | undefined)[],
    source: boolean,
  ): Promise<string[][]> {
    const p = this.host.pub.pipeline();
    round.forEach((r, j) => {
      const script = source ? replayScript.source : replayScript.sha;
      const args: (string | number | Buffer)[] = [script, 1, this.host.stateKey];
      p.call(source ? 'EVAL' : 'EVALSHA', args.concat(this.replayArgs(r.streams, pos[j], 0)));
    });
    const res = (await p.exec()) ?? [];
    if (!source && res.some(([e]) => e?.message.startsWith('NOSCRIPT')))
      return this.replayRound(round, pos, true);
    return res.map(([err, v]) => {
      if (err) throw err;
      return v as string[];
    });
  }

  private replayArgs(
    streams: readonly string[],
    pos: Position | undefined,
    limit: number,
  ): (string | number | Buffer)[] {
    return [
      this.host.prefix,
      this.host.ttlMs,
      pos?.seq ?? 0,
      pos?.epoch ?? '',
      ...this.host.issued.args(),
      limit,
      ...streams.map(keyBytes),
    ];
  }

  /** A replay script's answer `{epoch, seq, status, records...}` as a value. */
  private replayAnswer(r: string[], pos: Position | undefined, reader?: string): BrokerReplay {
    const epoch = r[0]!;
    this.host.issued.saw(epoch, Number(r[1]));
    const position = formatId(epoch, Number(r[1]));
    if (!pos) return { complete: false, messages: [], position, reason: 'bad_id' };
    const status = r[2]!;
    if (status !== 'ok' && status !== 'more')
      return { complete: false, messages: [], position, reason: status };
    const parts: Message[][] = [];
    for (let i = 3; i < r.length; i++) parts.push([parseRecord(epoch, r[i]!)]);
    const all = mergeBySeq(parts);
    const messages = visibleTo(all, reader);
    if (status === 'ok') return { complete: true, messages, position };
    return { complete: true, messages, position: all[all.length - 1]!.id, more: true };
  }
}
