import { badRequest, closedError, unavailable } from './errors.js';
import type {
  GroupChange,
  GroupChangeListener,
  RuntimeDelta,
  RuntimeGroups,
  RuntimeGroupsOptions,
} from './runtime-groups.js';

interface Entry {
  readonly joined: Set<string>;
  readonly left: Set<string>;
  /** When the entry is forgotten (ms since the epoch). */
  expiresAt: number;
}

/**
 * Runtime groups of a single-process deployment. Entries sit in a `Map` in the order of their
 * last change (a change moves its uid to the end), so the expired ones are always at the front:
 * forgetting them costs nothing per entry that stays. A full store refuses new uids (503) rather
 * than evicting one: forgetting a uid's groups would silently move its users out of their rooms.
 */
export class MemoryRuntimeGroups implements RuntimeGroups {
  private readonly entries = new Map<string, Entry>();
  private listeners: GroupChangeListener[] = [];
  private closed = false;

  constructor(private readonly opts: RuntimeGroupsOptions) {}

  /** Uids held (expired ones may linger until the next change or read). */
  get size(): number {
    return this.entries.size;
  }

  async change(c: GroupChange): Promise<void> {
    if (this.closed) throw closedError('runtime groups');
    const now = Date.now();
    this.sweep(now);
    const { maxUids, maxGroupsPerUid, ttlMs } = this.opts;
    let added = 0;
    for (const uid of c.uids) {
      const e = this.entries.get(uid);
      if (!e) added++;
      const joined = countAfter(e?.joined, c.join, c.leave);
      const left = countAfter(e?.left, c.leave, c.join);
      if (joined > maxGroupsPerUid || left > maxGroupsPerUid) throw tooMany(uid, maxGroupsPerUid);
    }
    if (added > 0 && this.entries.size + added > maxUids) throw full(maxUids);
    for (const uid of c.uids) {
      const e = this.entries.get(uid) ?? { joined: new Set(), left: new Set(), expiresAt: 0 };
      for (const g of c.join) {
        e.joined.add(g);
        e.left.delete(g);
      }
      for (const g of c.leave) {
        e.left.add(g);
        e.joined.delete(g);
      }
      e.expiresAt = now + ttlMs;
      this.entries.delete(uid);
      if (e.joined.size > 0 || e.left.size > 0) this.entries.set(uid, e);
    }
    for (const l of this.listeners) l(c);
  }

  async get(uid: string): Promise<RuntimeDelta | undefined> {
    return this.getNow(uid);
  }

  getNow(uid: string): RuntimeDelta | undefined {
    if (this.closed) throw closedError('runtime groups');
    const e = this.entries.get(uid);
    if (!e) return undefined;
    if (e.expiresAt <= Date.now()) {
      this.entries.delete(uid);
      return undefined;
    }
    return { joined: [...e.joined], left: [...e.left] };
  }

  subscribe(listener: GroupChangeListener): void {
    this.listeners.push(listener);
  }

  async close(): Promise<void> {
    this.closed = true;
    this.listeners = [];
  }

  /** Forgets expired entries: they are the oldest, so at the front. */
  private sweep(now: number): void {
    for (const [uid, e] of this.entries) {
      if (e.expiresAt > now) return;
      this.entries.delete(uid);
    }
  }
}

/** Size of `set` after adding `plus` and removing `minus`. */
function countAfter(
  set: ReadonlySet<string> | undefined,
  plus: readonly string[],
  minus: readonly string[],
): number {
  const out = new Set(set);
  for (const g of plus) out.add(g);
  for (const g of minus) out.delete(g);
  return out.size;
}

/** The 400 of a uid past its bound (shared by the backends: one wording). */
export function tooMany(uid: string, max: number) {
  return badRequest(
    `uid ${JSON.stringify(uid)} would hold more than ${max} groups joined (or left) at run time (MAX_GROUPS_PER_TOKEN)`,
    'too_many_groups',
  );
}

/** The 503 of a full store (shared by the backends: one wording). */
export function full(max: number) {
  return unavailable(
    `runtime group changes are kept for at most ${max} uids (MAX_RUNTIME_GROUP_UIDS); try again when older ones expire (GROUPS_TTL_SECONDS)`,
    'runtime_groups_full',
  );
}
