/** What the chaos checker (`checker.ts`) is asked to run, what it counts, and how it fails. */

export interface ChaosOptions {
  readonly ops: number;
  readonly seed: number;
  /** Must equal the server's HISTORY_SIZE. */
  readonly historySize: number;
  readonly sseClients?: number;
  readonly pollClients?: number;
  /**
   * Issue 17: also publish through the transactional outbox (commit one row holding the push
   * body; its message is recognised on the broker) and retry keyed pushes (the retry must answer
   * the same ids and publish nothing). Off by default, so existing seeds keep their schedule.
   */
  readonly outbox?: (body: unknown) => Promise<void>;
  readonly keyedRetries?: boolean;
  /** Runtime group joins and leaves (`POST /groups`) in the mix; default true. */
  readonly groupChanges?: boolean;
  /**
   * Backend disruptions (Redis mode): every `every`-th operation is the next of `list`, in turn. It begins while nothing is in flight; until it has ended and `/healthz` answers 200
   * again, a push must answer 503. Streams the server ends when its subscription is back count
   * as dropped clients (they resume); streams it keeps must simply go on, nothing missed.
   */
  readonly disruptions?: { readonly every: number; readonly list: readonly Disruption[] };
  /** Progress callback, every 1000 operations. */
  readonly progress?: (done: number, stats: ChaosStats) => void;
}

/** A backend failure the checker puts in its schedule (see `ChaosOptions.disruptions`). */
export interface Disruption {
  readonly name: string;
  /** Takes the backend away (e.g. stops Redis, kills the Sentinel primary). */
  begin(): Promise<void>;
  /** Brings it back (or waits until it is back); the checker then waits for `/healthz`. */
  end(): Promise<void>;
}

export interface ChaosStats {
  ops: number;
  pushes: number;
  messages: number;
  connects: number;
  disconnects: number;
  polls: number;
  waitingPolls: number;
  replays: number;
  resets: number;
  delivered: number;
  /** Messages published with an `exclude`. */
  excludes: number;
  /** `POST /disconnect` calls, and the streams they ended. */
  kicks: number;
  kicked: number;
  /** Acknowledged `POST /groups` joins and leaves. */
  joins: number;
  leaves: number;
  /** Disruptions, and the streams the server ended when it recovered from one. */
  disruptions: number;
  /** Pushes answered 503 `backend_unavailable` after a recovery, sent again once healthy. */
  retried503: number;
  endedByRecovery: number;
}

/** A failed check: carries the seed and operation so the run can be reproduced. */
export class ChaosError extends Error {
  override name = 'ChaosError';
}
