/** Messages between the benchmark coordinator and its load-client processes (over fork IPC). */

/** One SSE subscription: the request path (with query) and the uid it belongs to. */
export interface ConnSpec {
  readonly path: string;
  readonly uid: string;
}

/**
 * Benchmark payloads are `{"k":<kind>,"n":<number>}` in both servers, so the clients can tell
 * messages apart without knowing either server's id format. Kinds: `b` broadcast, `u` unicast,
 * `s` storm broadcast, `t` storm unicast, `w` pre-storm marker; warm-up rounds, discarded or
 * reported apart: `c` broadcast, `x` unicast, `y` batch.
 */
export interface Payload {
  readonly k: string;
  readonly n: number;
}

export type Command =
  | {
      type: 'open';
      host: string;
      port: number;
      /** Source address (127.x.y.z): its own ephemeral ports, whatever else runs on the machine. */
      localAddress: string;
      conns: ConnSpec[];
      concurrency: number;
      timeoutMs: number;
    }
  /** Returns and forgets the receive times recorded for each message key (`k:n`). */
  | { type: 'collect' }
  /** Cuts every connection (TCP reset, so no TIME_WAIT), keeping each one's last event id. */
  | { type: 'drop' }
  /** Reopens every dropped connection with `Last-Event-ID` and waits until each has `expect` messages. */
  | { type: 'resume'; concurrency: number; expect: number; timeoutMs: number }
  | { type: 'close' };

export interface OpenReply {
  type: 'opened';
  ok: number;
  failed: number;
  statuses: Record<string, number>;
  ms: number;
}

export interface CollectReply {
  type: 'collected';
  /** Message key → receive times (ms, CLOCK_MONOTONIC), one per connection that got it. */
  recv: Record<string, number[]>;
  /** Connections that closed unexpectedly since they opened. */
  closed: number;
  /** Reset events seen (ssepush `event: reset`). */
  resets: number;
}

export interface ResumeReply {
  type: 'resumed';
  /** Connections that reached `expect` distinct messages. */
  caughtUp: number;
  /** Time each caught-up connection got its last owed message (ms, CLOCK_MONOTONIC). */
  doneAt: number[];
  /** Owed messages never received, summed over connections. */
  lost: number;
  /** Messages received twice on one connection, summed over connections. */
  duplicates: number;
  /** Reset events received instead of a replay. */
  resets: number;
  failed: number;
  /** Connections that had no event id to resume from. */
  noId: number;
}

export type Reply = OpenReply | CollectReply | ResumeReply | { type: 'closed' } | { type: 'dropped' };
