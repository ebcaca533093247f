import { closedError } from './errors.js';
import {
  nowSec,
  REVOCATION_SWEEP_MS,
  type RevocationOptions,
  type Revocations,
  RevocationTable,
  tooManyRevocations,
} from './revocations.js';

/**
 * Revocations of a single-process deployment: a table in memory, bounded by `max` (a revoke past
 * it is refused, never an older revocation dropped: a dropped one would let a revoked token in
 * again). Lost on restart, like everything in memory mode (as are the tokens' connections).
 */
export class MemoryRevocations implements Revocations {
  private readonly table: RevocationTable;
  private readonly sweeper: NodeJS.Timeout;
  private closed = false;

  constructor(private readonly opts: RevocationOptions) {
    this.table = new RevocationTable(opts.ttlSec);
    this.sweeper = setInterval(() => this.table.sweep(nowSec()), REVOCATION_SWEEP_MS);
    this.sweeper.unref();
  }

  /** Uids holding a revocation (expired ones until the next sweep). */
  get size(): number {
    return this.table.size;
  }

  async revoke(uids: readonly string[], atSec: number): Promise<void> {
    if (this.closed) throw closedError('revocations');
    const unique = [...new Set(uids)];
    if (this.table.size + this.table.freshCount(unique) > this.opts.max) {
      this.table.sweep(nowSec());
      if (this.table.size + this.table.freshCount(unique) > this.opts.max)
        throw tooManyRevocations(this.opts.max);
    }
    for (const u of unique) this.table.set(u, atSec);
  }

  isRevoked(uid: string, iat: number | undefined): boolean {
    return this.table.isRevoked(uid, iat, nowSec());
  }

  async close(): Promise<void> {
    this.closed = true;
    clearInterval(this.sweeper);
  }
}
