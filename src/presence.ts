import type { Targets } from './message.js';

/** Presence figures for `GET /online`. */
export interface OnlineStats {
  /** Distinct uids with at least one connection. */
  readonly uids: number;
  readonly connections: number;
  /** Connections per asked uid (0 for one that is offline); only when uids were asked. */
  readonly online?: Record<string, number>;
  /** Distinct uids and connections per asked group; only when groups were asked. */
  readonly groups?: Record<string, GroupStats>;
}

/** Presence of one group: distinct uids with a connection in it, and those connections. */
export interface GroupStats {
  readonly uids: number;
  readonly connections: number;
}

/** Which page of online uids (`GET /online/uids`). */
export interface UidPageQuery {
  /** Only uids with a connection in this group now; all online uids when absent. */
  readonly group?: string | undefined;
  /** Most uids on the page (1 to 1000). */
  readonly limit: number;
  /** The last uid of the previous page (`UidPage.next`); absent for the first page. */
  readonly after?: string | undefined;
}

/**
 * One page of online uids, in the backend's order of uids (code units in memory, bytes in Redis):
 * a walk that passes each page's `next` as the following `after` names no uid twice.
 */
export interface UidPage {
  readonly uids: string[];
  /** Where the next page starts (its `after`); `undefined` on the last page. */
  readonly next: string | undefined;
}

/**
 * What this node alone holds, answered synchronously from its registry of connections. The
 * memory backend is exactly this; the Redis backend adds the other nodes.
 */
export interface LocalPresence {
  /** Connections addressed by `t`, each counted once (a broadcast reaches every connection). */
  reach(t: Targets): number;
  online(uids?: readonly string[], groups?: readonly string[]): OnlineStats;
  uidPage(q: UidPageQuery): UidPage;
}

/**
 * Who is online across the deployment: one node (memory) or a cluster (Redis).
 *
 * A node registers each connection in its own registry first, then reports it here with
 * `add`/`remove` (synchronous and cheap: a backend batches whatever it must send). Queries answer
 * for every node. Guarantees every implementation keeps (checked by the shared contract suite):
 * - per-uid counts, distinct uids and total connections are exact: a node's own `add`/`remove`
 *   count in its per-uid and connection figures at once, everything else within the backend's
 *   propagation delay (Redis: `PRESENCE_FLUSH_MS`);
 * - per-group figures (distinct uids, connections) and uid pages are exact within that delay and
 *   follow `regroup`; a walk through the uid pages names no uid twice;
 * - `reach` counts a connection addressed by a target at least once, and never more than the
 *   total number of connections (a connection that matches a target through its uid and one
 *   of its groups may be counted twice where the backend does not know connection identities);
 * - `close()` is idempotent (a Redis node also leaves the totals; a dead one is reaped).
 */
export interface Presence {
  /** A connection (stream or waiting poll) of `uid` in `groups` opened on this node. */
  add(uid: string, groups: readonly string[]): void;
  remove(uid: string, groups: readonly string[]): void;
  /** A connection of `uid` on this node changed groups at run time (`added`, `removed`). */
  regroup(uid: string, added: readonly string[], removed: readonly string[]): void;
  /** Connections addressed by each target, deployment-wide, in the order of `targets`. */
  reach(targets: readonly Targets[]): Promise<number[]>;
  /** Distinct uids and connections, plus per-uid counts for `uids` and per-group ones for `groups`. */
  online(uids?: readonly string[], groups?: readonly string[]): Promise<OnlineStats>;
  /** One page of the online uids, deployment-wide (see `UidPage`). */
  uids(q: UidPageQuery): Promise<UidPage>;
  close(): Promise<void>;
}
