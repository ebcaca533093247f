/**
 * Groups changed at run time (`POST /groups`), kept server-side so a reconnect, or a connection on
 * another node, gets the same groups as the live connections that followed the change.
 */

/** One `POST /groups` call: groups joined and left, by every uid named. */
export interface GroupChange {
  readonly uids: readonly string[];
  readonly join: readonly string[];
  readonly leave: readonly string[];
}

/** What the store holds for one uid: groups joined and groups left at run time. */
export interface RuntimeDelta {
  readonly joined: readonly string[];
  readonly left: readonly string[];
}

/** Receives every change made anywhere in the deployment, in the order the store applied them. */
export type GroupChangeListener = (change: GroupChange) => void;

/** Bounds of a runtime groups store. */
export interface RuntimeGroupsOptions {
  /** Milliseconds a uid's changes are kept after its last change (`GROUPS_TTL_SECONDS`). */
  readonly ttlMs: number;
  /** Uids kept; a change naming a new uid beyond it is refused with 503 (`MAX_RUNTIME_GROUP_UIDS`). */
  readonly maxUids: number;
  /** Groups joined, and groups left, kept per uid; a change beyond it is 400 (`MAX_GROUPS_PER_TOKEN`). */
  readonly maxGroupsPerUid: number;
}

/**
 * The runtime groups of every uid, for one process (memory) or a cluster (Redis).
 *
 * Guarantees every implementation keeps (checked by the shared contract suite):
 * - a change is applied whole or not at all: a uid that would hold more than `maxGroupsPerUid`
 *   joined (or left) groups makes the call fail with a `bad_input` error naming the uid, a call
 *   that would take the store past `maxUids` uids fails with an `unavailable` error
 *   (`runtime_groups_full`); neither changes anything;
 * - the later change wins for a group named by both: a join removes it from `left`, a leave
 *   from `joined`;
 * - a uid's entry is forgotten `ttlMs` after its last change;
 * - listeners see every change (of this node and of every other one) in one order, the store's,
 *   and a change has reached this node's listeners when `change()` resolves;
 * - `close()` is idempotent; `change`/`get` after it reject with a `closed` error.
 */
export interface RuntimeGroups {
  /** Applies `c` to each uid of it (see the guarantees). */
  change(c: GroupChange): Promise<void>;
  /** What `uid` joined and left at run time; `undefined` when nothing (or it expired). */
  get(uid: string): Promise<RuntimeDelta | undefined>;
  /**
   * The same answer in this call, for a store held in process (memory); absent when the store
   * must be asked (Redis). Lets a new connection open without waiting a turn for its groups.
   */
  getNow?(uid: string): RuntimeDelta | undefined;
  /** Registers the listener of every change (the hub: it regroups live connections). */
  subscribe(listener: GroupChangeListener): void;
  /**
   * Whether changes of other nodes reach the listeners now (Redis: the channel is subscribed);
   * absent: always (memory). A read while they do not may be overtaken by a change never heard.
   */
  readonly listening?: boolean;
  close(): Promise<void>;
}

/**
 * The groups a connection of a token holding `tokenGroups` has: those plus the joined ones, minus
 * the left ones, each once, in token order then join order.
 */
export function effectiveGroups(
  tokenGroups: readonly string[],
  d: RuntimeDelta | undefined,
): readonly string[] {
  if (!d || (d.joined.length === 0 && d.left.length === 0)) return tokenGroups;
  const left = new Set(d.left);
  const out: string[] = [];
  const seen = new Set<string>();
  for (const g of [...tokenGroups, ...d.joined]) {
    if (left.has(g) || seen.has(g)) continue;
    seen.add(g);
    out.push(g);
  }
  return out;
}

/** A live connection's groups after `c`: the joined ones added, the left ones taken out. */
export function applyChange(groups: readonly string[], c: GroupChange): readonly string[] {
  const leave = new Set(c.leave);
  const out = groups.filter((g) => !leave.has(g));
  for (const g of c.join) if (!out.includes(g)) out.push(g);
  return out;
}
