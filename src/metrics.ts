import { monitorEventLoopDelay } from 'node:perf_hooks';
import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from 'prom-client';

/** Figures the hub reports on demand (gauges are read at scrape time, not kept up to date). */
export interface HubGauges {
  streams(): number;
  polls(): number;
  uids(): number;
  historyStreams(): number;
}

/**
 * A label-less counter kept as a plain number and handed to prom-client only when scraped: the
 * counters below are bumped once per push or delivery, and prom-client's `inc` hashes its
 * (empty) label set on every call.
 */
class PlainCounter {
  private n = 0;

  constructor(opts: { name: string; help: string; registers: Registry[] }) {
    const self = this;
    new Counter({
      ...opts,
      collect() {
        this.reset();
        this.inc(self.n);
      },
    });
  }

  inc(v = 1): void {
    this.n += v;
  }
}

/** The counters the hub and routes increment. One registry per server, so tests stay isolated. */
export class Metrics {
  readonly registry = new Registry();
  readonly published = new PlainCounter({
    name: 'ssepush_messages_published_total',
    help: 'Messages accepted by POST /push',
    registers: [this.registry],
  });
  readonly delivered = new PlainCounter({
    name: 'ssepush_messages_delivered_total',
    help: 'Message deliveries written to SSE streams or long-poll answers',
    registers: [this.registry],
  });
  readonly replayed = new PlainCounter({
    name: 'ssepush_messages_replayed_total',
    help: 'Messages sent from history to resuming clients',
    registers: [this.registry],
  });
  readonly resets = new Counter({
    name: 'ssepush_resets_total',
    help: 'Resumes answered with a reset because history could not prove completeness',
    labelNames: ['reason'],
    registers: [this.registry],
  });
  readonly slowDropped = new Counter({
    name: 'ssepush_slow_clients_dropped_total',
    help: 'Connections closed because their unsent output passed MAX_BUFFERED_BYTES',
    registers: [this.registry],
  });
  readonly rejected = new Counter({
    name: 'ssepush_connections_rejected_total',
    help: 'Connections refused by a limit',
    labelNames: ['limit'],
    registers: [this.registry],
  });
  readonly idempotentReplays = new Counter({
    name: 'ssepush_idempotent_replays_total',
    help: 'POST /push requests answered from an earlier request with the same Idempotency-Key',
    registers: [this.registry],
  });
  readonly pushLatency = new Histogram({
    name: 'ssepush_push_duration_seconds',
    help: 'Time to accept, store and fan out one POST /push',
    buckets: [0.0001, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1],
    registers: [this.registry],
  });
  private readonly loopDelay = monitorEventLoopDelay({ resolution: 20 });

  constructor(gauges: HubGauges) {
    const r = [this.registry];
    new Gauge({
      name: 'ssepush_connections',
      help: 'Open SSE streams',
      registers: r,
      collect() {
        this.set(gauges.streams());
      },
    });
    new Gauge({
      name: 'ssepush_poll_waiters',
      help: 'Long-poll requests waiting for a message',
      registers: r,
      collect() {
        this.set(gauges.polls());
      },
    });
    new Gauge({
      name: 'ssepush_uids_online',
      help: 'Distinct uids with an open stream or waiting poll on this process',
      registers: r,
      collect() {
        this.set(gauges.uids());
      },
    });
    new Gauge({
      name: 'ssepush_history_streams',
      help: 'History streams kept in memory',
      registers: r,
      collect() {
        this.set(gauges.historyStreams());
      },
    });
    const loop = this.loopDelay;
    loop.enable();
    new Gauge({
      name: 'ssepush_event_loop_lag_seconds',
      help: 'p99 event-loop delay since the previous scrape',
      registers: r,
      collect() {
        this.set(loop.percentile(99) / 1e9);
        loop.reset();
      },
    });
    collectDefaultMetrics({ register: this.registry });
  }

  close(): void {
    this.loopDelay.disable();
  }
}
