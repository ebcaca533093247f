/**
 * The coordinator's handle on its load-client processes: forks them, spreads the subscriptions
 * over them (each stays far under the per-process file-descriptor limit) and merges replies.
 */
import { fork } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { IpcChild } from './ipc-child.js';
import type { CollectReply, Command, ConnSpec, OpenReply, Reply, ResumeReply } from './protocol.js';

const WORKER = fileURLToPath(new URL('./worker.ts', import.meta.url));

/**
 * Load clients connect from 127.0.5.<n>, one address each: ports bound by other programs on the
 * machine (anything connecting from an explicit loopback address) then cannot exhaust ours.
 */
export const SOURCE_NET = '127.0.5';

/** Subscriptions per client process at most (the hard `ulimit -n` here is 20,000). */
export const MAX_PER_WORKER = 5000;

/** One load-client process of the pool. */
class Worker extends IpcChild<Command, Reply> {}

export interface Collected {
  recv: Map<string, number[]>;
  closed: number;
  resets: number;
}

export class ClientPool {
  private constructor(
    private readonly workers: Worker[],
    private readonly firstHost: number,
  ) {}

  /**
   * Forks enough load clients for `conns` subscriptions (at least `min`). Client `i` connects
   * from `SOURCE_NET.<firstHost + i>`: a second pool (a warm-up batch) gets its own addresses.
   */
  static start(conns: number, min = 1, firstHost = 1): ClientPool {
    const n = Math.max(min, Math.ceil(conns / MAX_PER_WORKER));
    const workers = Array.from(
      { length: n },
      () =>
        new Worker(
          fork(WORKER, [], {
            execArgv: ['--import', 'tsx'],
            stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
          }),
        ),
    );
    return new ClientPool(workers, firstHost);
  }

  get size(): number {
    return this.workers.length;
  }

  /** Opens the subscriptions, split into contiguous slices, one per client process. */
  async open(port: number, conns: readonly ConnSpec[], concurrency = 64, timeoutMs = 20_000) {
    const per = Math.ceil(conns.length / this.workers.length);
    const replies = await Promise.all(
      this.workers.map((w, i) =>
        w.call<OpenReply>({
          type: 'open',
          host: '127.0.0.1',
          port,
          localAddress: `${SOURCE_NET}.${this.firstHost + i}`,
          conns: conns.slice(i * per, (i + 1) * per),
          concurrency: Math.max(1, Math.ceil(concurrency / this.workers.length)),
          timeoutMs,
        }),
      ),
    );
    const statuses: Record<string, number> = {};
    for (const r of replies)
      for (const [k, v] of Object.entries(r.statuses)) statuses[k] = (statuses[k] ?? 0) + v;
    return {
      ok: replies.reduce((s, r) => s + r.ok, 0),
      failed: replies.reduce((s, r) => s + r.failed, 0),
      statuses,
      ms: Math.max(...replies.map((r) => r.ms)),
    };
  }

  /** Receive times per message key, merged over all clients (and forgotten by them). */
  async collect(): Promise<Collected> {
    const replies = await Promise.all(this.workers.map((w) => w.call<CollectReply>({ type: 'collect' })));
    const recv = new Map<string, number[]>();
    for (const r of replies) {
      for (const [k, times] of Object.entries(r.recv)) {
        const acc = recv.get(k);
        if (acc) acc.push(...times);
        else recv.set(k, times);
      }
    }
    return {
      recv,
      closed: replies.reduce((s, r) => s + r.closed, 0),
      resets: replies.reduce((s, r) => s + r.resets, 0),
    };
  }

  async drop(): Promise<void> {
    await Promise.all(this.workers.map((w) => w.call({ type: 'drop' })));
  }

  async resume(expect: number, timeoutMs: number, concurrency = 64) {
    const replies = await Promise.all(
      this.workers.map((w) =>
        w.call<ResumeReply>({
          type: 'resume',
          expect,
          timeoutMs,
          concurrency: Math.max(1, Math.ceil(concurrency / this.workers.length)),
        }),
      ),
    );
    const sum = (f: (r: ResumeReply) => number) => replies.reduce((s, r) => s + f(r), 0);
    return {
      caughtUp: sum((r) => r.caughtUp),
      doneAt: replies.flatMap((r) => r.doneAt),
      lost: sum((r) => r.lost),
      duplicates: sum((r) => r.duplicates),
      resets: sum((r) => r.resets),
      failed: sum((r) => r.failed),
      noId: sum((r) => r.noId),
    };
  }

  /** Closes every subscription and ends the client processes (killing any that hang). */
  async close(): Promise<void> {
    await Promise.all(
      this.workers.map(async (w) => {
        if (w.exited) return;
        const killer = setTimeout(() => w.proc.kill('SIGKILL'), 5000);
        await w.call({ type: 'close' }).catch(() => {});
        await new Promise<void>((r) => (w.exited ? r() : w.proc.once('exit', () => r())));
        clearTimeout(killer);
      }),
    );
  }
}
