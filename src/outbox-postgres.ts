import { createHash } from 'node:crypto';
import pg from 'pg';
import type { OutboxBatch, OutboxDb, OutboxRow } from './outbox.js';

/** The tables for PostgreSQL 12+: the outbox the app writes, and its dead letters. */
export function postgresSchema(table: string): string {
  return `CREATE TABLE IF NOT EXISTS "${table}" (
  id bigserial PRIMARY KEY,
  body json NOT NULL,
  created_at timestamptz NOT NULL DEFAULT clock_timestamp()
);

CREATE TABLE IF NOT EXISTS "${table}_dead" (
  id bigint PRIMARY KEY,
  body text NOT NULL,
  error text NOT NULL,
  created_at timestamptz NOT NULL,
  failed_at timestamptz NOT NULL DEFAULT clock_timestamp()
);
`;
}

interface Row {
  row_id: string;
  body: string;
  age: number;
}

/**
 * PostgreSQL dialect. One consumer at a time through a transaction-scoped advisory lock (gone
 * with the transaction, so a dead consumer never holds it); rows of transactions not yet
 * committed are invisible to the read, so rolled-back rows never appear.
 */
export class PostgresOutboxDb implements OutboxDb {
  private readonly pool: pg.Pool;
  private readonly lock: string;

  constructor(
    url: string,
    private readonly table: string,
  ) {
    this.pool = new pg.Pool({ connectionString: url, max: 1, connectionTimeoutMillis: 3000 });
    // An idle client whose server went away: the next batch reports it; nothing to do here.
    this.pool.on('error', () => {});
    this.lock = BigInt.asIntN(
      64,
      BigInt(`0x${createHash('sha1').update(`ssepush:${table}`).digest('hex').slice(0, 16)}`),
    ).toString();
  }

  async batch(limit: number, fn: (b: OutboxBatch) => Promise<void>): Promise<boolean> {
    const c = await this.pool.connect();
    let failure: Error | undefined;
    // A checked-out client has no pool listener: the server ending the session between two
    // queries (a fast shutdown while rows are being published) would be an unhandled 'error'
    // event, which ends the process. Kept as the failure instead; the next query rejects.
    const onError = (err: Error) => {
      failure ??= err;
    };
    c.on('error', onError);
    try {
      await c.query('BEGIN');
      const got = await c.query<{ got: boolean }>('SELECT pg_try_advisory_xact_lock($1::bigint) AS got', [
        this.lock,
      ]);
      if (!got.rows[0]?.got) {
        await c.query('COMMIT');
        return false;
      }
      // The id is selected as text (BIGINT beyond 2^53) under another name: `ORDER BY id` must
      // sort the column, not the text.
      const rows = await c.query<Row>(
        `SELECT id::text AS row_id, body::text AS body,
                extract(epoch FROM clock_timestamp() - created_at)::float8 * 1000 AS age
           FROM "${this.table}" ORDER BY id LIMIT $1`,
        [limit],
      );
      await fn(this.batchOf(c, rows.rows));
      await c.query('COMMIT');
      return true;
    } catch (err) {
      failure = err instanceof Error ? err : new Error(String(err));
      throw err;
    } finally {
      // A failed client is destroyed: the server rolls back and drops the lock.
      c.off('error', onError);
      c.release(failure ?? false);
    }
  }

  private batchOf(c: pg.PoolClient, rows: Row[]): OutboxBatch {
    const t = this.table;
    return {
      rows: rows.map((r): OutboxRow => ({ id: r.row_id, body: r.body, ageMs: Number(r.age) })),
      async deadLetter(row, error) {
        await c.query(
          `WITH gone AS (DELETE FROM "${t}" WHERE id = $1 RETURNING id, body, created_at)
           INSERT INTO "${t}_dead" (id, body, error, created_at) SELECT id, body::text, $2, created_at FROM gone`,
          [row.id, error.slice(0, 10_000)],
        );
      },
      async remove(ids) {
        await c.query(`DELETE FROM "${t}" WHERE id = ANY($1::bigint[])`, [ids]);
      },
    };
  }

  async close(): Promise<void> {
    await this.pool.end().catch(() => {});
  }
}
