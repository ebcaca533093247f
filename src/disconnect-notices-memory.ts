import {
  type DisconnectNotice,
  type DisconnectNoticeOptions,
  type DisconnectNotices,
  NOTICE_SWEEP_MS,
  type NoticeInput,
  NoticeTable,
  noticeOf,
} from './disconnect-notices.js';
import { closedError } from './errors.js';

/**
 * Disconnect notices of a single-process deployment: a bounded table in memory (the oldest go
 * first past `max`), swept of expired notices on an unref'ed timer. Lost on restart, like the
 * history the notices' cursors point into.
 */
export class MemoryDisconnectNotices implements DisconnectNotices {
  private readonly table: NoticeTable;
  private readonly sweeper: NodeJS.Timeout;
  private closed = false;

  constructor(private readonly opts: DisconnectNoticeOptions) {
    this.table = new NoticeTable(opts.max);
    this.sweeper = setInterval(() => this.table.sweep(Date.now()), NOTICE_SWEEP_MS);
    this.sweeper.unref();
  }

  /** Uids holding a notice (expired ones until the next sweep). */
  get size(): number {
    return this.table.size;
  }

  async record(n: NoticeInput): Promise<void> {
    if (this.closed) throw closedError('disconnect notices');
    if (this.opts.ttlSec <= 0) return;
    const notice = noticeOf(n, Date.now() + this.opts.ttlSec * 1000);
    for (const u of n.uids) this.table.set(u, notice);
  }

  find(uid: string): DisconnectNotice | undefined {
    return this.table.find(uid, Date.now());
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    clearInterval(this.sweeper);
    this.table.clear();
  }
}
