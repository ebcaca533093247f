/**
 * The chaos checker's model of the server: every message it published and, per stream, the ring
 * of HISTORY_SIZE the server keeps and the newest seq it evicted; and the runtime group changes
 * (`POST /groups`) of each uid, so it knows a client's groups at every step.
 */

/** mulberry32: small, fast, and the same sequence for the same seed everywhere. */
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** A message as the checker published it. */
export interface Sent {
  seq: number;
  to: string[];
  groups: string[];
  exclude: string[];
}

/** What the model needs of a client: its uid and the groups its token names. */
export interface Reader {
  readonly uid: string;
  readonly tokenGroups: readonly string[];
}

export class Model {
  readonly log: Sent[] = [];
  lastSeq = 0;
  epoch = '';
  private readonly rings = new Map<string, number[]>();
  private readonly evicted = new Map<string, number>();
  /** Per uid, per group: joined (true) or left (false) at run time, the later call winning. */
  private readonly runtime = new Map<string, Map<string, boolean>>();

  constructor(private readonly size: number) {}

  append(m: Sent): void {
    this.log.push(m);
    this.lastSeq = m.seq;
    const streams =
      m.to.length === 0 && m.groups.length === 0
        ? ['*']
        : [...m.to.map((u) => `u:${u}`), ...m.groups.map((g) => `g:${g}`)];
    for (const s of streams) {
      let ring = this.rings.get(s);
      if (!ring) {
        ring = [];
        this.rings.set(s, ring);
      }
      ring.push(m.seq);
      if (ring.length > this.size) this.evicted.set(s, ring.shift()!);
    }
  }

  /** A `POST /groups` the server acknowledged. */
  change(uid: string, group: string, join: boolean): void {
    let m = this.runtime.get(uid);
    if (!m) {
      m = new Map();
      this.runtime.set(uid, m);
    }
    m.set(group, join);
  }

  /** The client's groups now: its token's, plus those joined, minus those left. */
  groupsOf(c: Reader): string[] {
    const out = new Set(c.tokenGroups);
    for (const [g, joined] of this.runtime.get(c.uid) ?? []) {
      if (joined) out.add(g);
      else out.delete(g);
    }
    return [...out];
  }

  /** True when a replay after `after` would miss something a stream `c` reads now has evicted. */
  incomplete(c: Reader, after: number): boolean {
    for (const s of [`u:${c.uid}`, ...this.groupsOf(c).map((g) => `g:${g}`), '*']) {
      if ((this.evicted.get(s) ?? 0) > after) return true;
    }
    return false;
  }

  /** Whether `m` is for `c` with the groups `c` has now. */
  addressed(c: Reader, m: Sent): boolean {
    if (m.exclude.includes(c.uid)) return false;
    if (m.to.length === 0 && m.groups.length === 0) return true;
    if (m.to.includes(c.uid)) return true;
    const groups = this.groupsOf(c);
    return m.groups.some((g) => groups.includes(g));
  }

  /** Seqs addressed to `c` (with the groups it has now) in (after, upTo], in order. */
  between(c: Reader, after: number, upTo = this.lastSeq): number[] {
    const out: number[] = [];
    // Seqs are 1..lastSeq in log order (the checker is the only publisher).
    for (let i = after; i < upTo && i < this.log.length; i++) {
      const m = this.log[i]!;
      if (this.addressed(c, m)) out.push(m.seq);
    }
    return out;
  }
}
