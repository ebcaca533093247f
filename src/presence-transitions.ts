import { newEpoch } from './ids.js';
import type { WebhookEvent } from './webhook-signature.js';

/** Default `OFFLINE_GRACE_SECONDS`: a page reload or a network blip within it makes no event. */
export const DEFAULT_OFFLINE_GRACE_SECONDS = 10;

/**
 * Turns one process's per-uid connection counts into online/offline events (memory mode; in Redis
 * mode the presence script does the same for the whole cluster, atomically). A uid goes online
 * at its first connection; when its last connection ends it becomes "pending offline", and only
 * when it stays without a connection for `graceMs` is `offline` emitted, dated at the last
 * disconnect. A reconnect within the grace cancels the pending offline and emits nothing, so per
 * uid the types alternate.
 */
export class PresenceTransitions {
  private readonly online = new Set<string>();
  /** uid -> time of its last disconnect, oldest first (Map keeps insertion order). */
  private readonly pending = new Map<string, number>();
  private readonly prefix = newEpoch();
  private seq = 0;

  constructor(private readonly graceMs: number) {}

  /** The uid got its first connection on this process. */
  up(uid: string, now = Date.now()): WebhookEvent | undefined {
    if (this.pending.delete(uid)) return undefined;
    if (this.online.has(uid)) return undefined;
    this.online.add(uid);
    return this.event('online', uid, now);
  }

  /** The uid's last connection ended. */
  down(uid: string, now = Date.now()): void {
    if (!this.online.has(uid)) return;
    this.pending.delete(uid);
    this.pending.set(uid, now);
  }

  /** The offline events whose grace has run out by `now`, oldest first. */
  due(now = Date.now()): WebhookEvent[] {
    const out: WebhookEvent[] = [];
    for (const [uid, since] of this.pending) {
      if (now - since < this.graceMs) break;
      this.pending.delete(uid);
      this.online.delete(uid);
      out.push(this.event('offline', uid, since));
    }
    return out;
  }

  /** Uids online or pending offline (what the process still remembers). */
  get size(): number {
    return this.online.size;
  }

  private event(type: WebhookEvent['type'], uid: string, time: number): WebhookEvent {
    return { id: `${this.prefix}-${++this.seq}`, type, uid, time };
  }
}
