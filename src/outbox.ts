import { Counter, Gauge, type Registry } from 'prom-client';
import type { Config } from './config.js';
import { SsePushError } from './errors.js';
import { type IdempotencyStore, type Publisher, publishIdempotent } from './idempotency.js';
import type { Logger } from './logger.js';
import { type ParsedPush, parseJsonPush } from './push-input.js';

/** Rows read per transaction. A full batch is followed by the next one at once. */
export const OUTBOX_BATCH = 100;
/** Longest pause between attempts while the database is unreachable. */
export const OUTBOX_MAX_BACKOFF_MS = 5000;

/** One committed outbox row: its id (a decimal string: BIGINT), body text and age. */
export interface OutboxRow {
  readonly id: string;
  readonly body: string;
  /** Milliseconds since the row was inserted, by the database's clock. */
  readonly ageMs: number;
}

/** The rows of one transaction, and what may be done to them inside it. */
export interface OutboxBatch {
  /** The oldest committed rows, in id order. */
  readonly rows: readonly OutboxRow[];
  /** Moves a row to the dead-letter table `<table>_dead` with its error. */
  deadLetter(row: OutboxRow, error: string): Promise<void>;
  /** Deletes published rows. */
  remove(ids: readonly string[]): Promise<void>;
}

/**
 * One database dialect. `batch` runs `fn` inside one transaction that holds the table's
 * consumer lock (an advisory lock: one consumer in the whole deployment at a time, so rows are
 * published in id order); it resolves false without calling `fn` when another consumer holds
 * the lock. Any error aborts the transaction: nothing `fn` did to the rows is kept.
 */
export interface OutboxDb {
  batch(limit: number, fn: (b: OutboxBatch) => Promise<void>): Promise<boolean>;
  close(): Promise<void>;
}

/** What `/healthz` reports about the outbox: its database reachable or not. */
export interface OutboxStatus {
  readonly state: 'starting' | 'ok' | 'unavailable';
  /** The last error while unavailable (no credentials: driver messages only). */
  readonly error?: string;
}

export interface OutboxOptions {
  readonly db: OutboxDb;
  /** The table (OUTBOX_TABLE); part of every idempotency key: `outbox:<table>:<id>`. */
  readonly table: string;
  /** Milliseconds between reads of an empty table (OUTBOX_POLL_MS). */
  readonly pollMs: number;
  readonly maxMessageBytes: number;
  /** Publishes one row's messages at most once per key. */
  readonly publish: (key: string, push: ParsedPush) => Promise<unknown>;
  readonly registry?: Registry;
  readonly log?: Logger;
  /** Rows per transaction (default OUTBOX_BATCH). */
  readonly batchSize?: number;
}

/**
 * The transactional outbox consumer: reads the rows the application committed, in id order,
 * publishes each through `Idempotency-Key` `outbox:<table>:<id>`, then deletes them in the same
 * transaction. A crash (of ssepush or the database) between the publish and the commit leaves
 * the rows in place; the next attempt publishes them with the same keys, so in Redis mode they
 * are answered from the idempotency record and nothing is published twice. Rows that are not
 * valid pushes go to `<table>_dead` with their error and never block the rows after them. While
 * the database is unreachable the server keeps serving, and the consumer retries with backoff.
 */
export class Outbox {
  private closed = false;
  private current: OutboxStatus = { state: 'starting' };
  private wake: (() => void) | undefined;
  private readonly loop: Promise<void>;
  private readonly batchSize: number;
  private readonly lag: Gauge | undefined;
  private readonly published: Counter | undefined;
  private readonly dead: Counter | undefined;

  constructor(private readonly opts: OutboxOptions) {
    this.batchSize = opts.batchSize ?? OUTBOX_BATCH;
    const registers = opts.registry ? [opts.registry] : [];
    if (opts.registry) {
      this.lag = new Gauge({
        name: 'ssepush_outbox_lag_seconds',
        help: 'Age of the oldest unpublished outbox row at the last read (0 when none)',
        registers,
      });
      this.published = new Counter({
        name: 'ssepush_outbox_published_total',
        help: 'Outbox rows published and removed',
        registers,
      });
      this.dead = new Counter({
        name: 'ssepush_outbox_dead_letters_total',
        help: 'Outbox rows moved to the dead-letter table',
        registers,
      });
    }
    this.loop = this.run();
  }

  /** For `/healthz`: the outbox never turns the server red, it only says how it is. */
  status(): OutboxStatus {
    return this.current;
  }

  /** Stops after the current transaction; idempotent. */
  async close(): Promise<void> {
    if (this.closed) return this.loop;
    this.closed = true;
    this.wake?.();
    await this.loop;
    await this.opts.db.close();
  }

  private async run(): Promise<void> {
    let backoff = 0;
    while (!this.closed) {
      let delay = this.opts.pollMs;
      try {
        let full = false;
        await this.opts.db.batch(this.batchSize, async (b) => {
          full = b.rows.length === this.batchSize;
          await this.consume(b);
        });
        if (this.current.state !== 'ok') this.opts.log?.info({ table: this.opts.table }, 'outbox consuming');
        this.current = { state: 'ok' };
        backoff = 0;
        if (full) delay = 0;
      } catch (err) {
        backoff = Math.min(OUTBOX_MAX_BACKOFF_MS, Math.max(100, backoff * 2));
        delay = backoff;
        const error = err instanceof Error ? err.message : String(err);
        if (this.current.state !== 'unavailable' || this.current.error !== error) {
          this.opts.log?.warn({ err: error, retryMs: delay }, 'outbox unavailable; retrying');
        }
        this.current = { state: 'unavailable', error };
      }
      if (delay > 0 && !this.closed) await this.sleep(delay);
    }
  }

  private async consume(b: OutboxBatch): Promise<void> {
    this.lag?.set((b.rows[0]?.ageMs ?? 0) / 1000);
    const done: string[] = [];
    for (const row of b.rows) {
      let push: ParsedPush;
      try {
        push = parseJsonPush(JSON.parse(row.body), this.opts.maxMessageBytes);
      } catch (err) {
        const error = err instanceof SsePushError ? err.detail : `invalid JSON: ${(err as Error).message}`;
        await this.deadLetter(b, row, error);
        continue;
      }
      try {
        await this.opts.publish(`outbox:${this.opts.table}:${row.id}`, push);
      } catch (err) {
        // A refusal that a retry cannot change (a key already used by another body, e.g. a
        // recreated table reusing ids) is the row's fault; anything else (503) is retried.
        if (!(err instanceof SsePushError) || err.kind === 'unavailable' || err.kind === 'internal')
          throw err;
        await this.deadLetter(b, row, `${err.code}: ${err.detail}`);
        continue;
      }
      done.push(row.id);
    }
    if (done.length > 0) await b.remove(done);
    this.published?.inc(done.length);
  }

  private async deadLetter(b: OutboxBatch, row: OutboxRow, error: string): Promise<void> {
    await b.deadLetter(row, error);
    this.dead?.inc();
    this.opts.log?.warn({ id: row.id, table: this.opts.table, error }, 'outbox row dead-lettered');
  }

  private sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const t = setTimeout(done, ms);
      t.unref();
      function done() {
        clearTimeout(t);
        resolve();
      }
      this.wake = done;
    });
  }
}

/** What the server lends the outbox: its hub, its idempotency store, metrics and log. */
export interface OutboxHost {
  readonly hub: Publisher;
  readonly idempotency: IdempotencyStore;
  readonly metrics: { readonly registry: Registry; readonly idempotentReplays: Counter };
  readonly log: Logger;
}

/**
 * Starts the consumer when `OUTBOX_URL` is set (the server calls this once it listens); the
 * driver is loaded only then.
 */
export async function startOutbox(config: Config, host: OutboxHost): Promise<Outbox | undefined> {
  const url = config.outboxUrl;
  if (!url) return undefined;
  const db = /^postgres(ql)?:/.test(url)
    ? new (await import('./outbox-postgres.js')).PostgresOutboxDb(url, config.outboxTable)
    : new (await import('./outbox-mysql.js')).MysqlOutboxDb(url, config.outboxTable);
  return new Outbox({
    db,
    table: config.outboxTable,
    pollMs: config.outboxPollMs,
    maxMessageBytes: config.maxMessageBytes,
    publish: async (key, push) => {
      const r = await publishIdempotent(host.idempotency, host.hub, key, push.inputs, push.batch);
      if (r.replayed) host.metrics.idempotentReplays.inc();
    },
    registry: host.metrics.registry,
    log: host.log,
  });
}

/** `ssepush outbox schema mysql|postgres`: the CREATE TABLE statements for `table`. */
export async function outboxSchema(dialect: 'mysql' | 'postgres', table: string): Promise<string> {
  return dialect === 'postgres'
    ? (await import('./outbox-postgres.js')).postgresSchema(table)
    : (await import('./outbox-mysql.js')).mysqlSchema(table);
}
