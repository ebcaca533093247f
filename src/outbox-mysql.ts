import { createHash } from 'node:crypto';
import mysql, { type Pool, type PoolConnection, type RowDataPacket } from 'mysql2/promise';
import type { OutboxBatch, OutboxDb, OutboxRow } from './outbox.js';

/** The tables for MySQL 8 / MariaDB 10.5+: the outbox the app writes, and its dead letters. */
export function mysqlSchema(table: string): string {
  return `CREATE TABLE IF NOT EXISTS \`${table}\` (
  id BIGINT UNSIGNED NOT NULL AUTO_INCREMENT PRIMARY KEY,
  body JSON NOT NULL,
  created_at TIMESTAMP(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;

CREATE TABLE IF NOT EXISTS \`${table}_dead\` (
  id BIGINT UNSIGNED NOT NULL PRIMARY KEY,
  body LONGTEXT NOT NULL,
  error TEXT NOT NULL,
  created_at TIMESTAMP(6) NOT NULL,
  failed_at TIMESTAMP(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;
`;
}

/**
 * MySQL/MariaDB dialect. One consumer at a time through `GET_LOCK` (a named lock the server
 * drops with the connection, so a dead consumer never holds it); rows are read and deleted in
 * one InnoDB transaction.
 */
export class MysqlOutboxDb implements OutboxDb {
  private readonly pool: Pool;
  private readonly lock: string;

  constructor(
    url: string,
    private readonly table: string,
  ) {
    this.pool = mysql.createPool({
      uri: url.replace(/^mariadb:/, 'mysql:'),
      connectionLimit: 1,
      connectTimeout: 3000,
      supportBigNumbers: true,
      bigNumberStrings: true,
      enableKeepAlive: true,
    });
    // Named locks are at most 64 characters: a digest keeps long table names apart.
    this.lock = `ssepush:${createHash('sha1').update(table).digest('hex').slice(0, 32)}`;
  }

  async batch(limit: number, fn: (b: OutboxBatch) => Promise<void>): Promise<boolean> {
    const c = await this.pool.getConnection();
    let healthy = false;
    try {
      const [[got]] = await c.query<RowDataPacket[]>('SELECT GET_LOCK(?, 0) AS got', [this.lock]);
      if (Number(got?.got) !== 1) {
        healthy = true;
        return false;
      }
      await c.query('START TRANSACTION');
      const [rows] = await c.query<RowDataPacket[]>(
        `SELECT id, CAST(body AS CHAR) AS body, TIMESTAMPDIFF(MICROSECOND, created_at, NOW(6)) AS age
           FROM \`${this.table}\` ORDER BY id LIMIT ?`,
        [limit],
      );
      await fn(this.batchOf(c, rows));
      await c.query('COMMIT');
      await c.query('DO RELEASE_LOCK(?)', [this.lock]);
      healthy = true;
      return true;
    } finally {
      // Any failure: drop the connection, which rolls back and releases the lock server-side.
      if (healthy) c.release();
      else c.destroy();
    }
  }

  private batchOf(c: PoolConnection, rows: RowDataPacket[]): OutboxBatch {
    const t = this.table;
    return {
      rows: rows.map(
        (r): OutboxRow => ({ id: String(r.id), body: String(r.body), ageMs: Number(r.age) / 1000 }),
      ),
      async deadLetter(row, error) {
        await c.query(
          `INSERT INTO \`${t}_dead\` (id, body, error, created_at)
             SELECT id, CAST(body AS CHAR), ?, created_at FROM \`${t}\` WHERE id = ?`,
          [error.slice(0, 10_000), row.id],
        );
        await c.query(`DELETE FROM \`${t}\` WHERE id = ?`, [row.id]);
      },
      async remove(ids) {
        await c.query(`DELETE FROM \`${t}\` WHERE id IN (?)`, [ids]);
      },
    };
  }

  async close(): Promise<void> {
    await this.pool.end().catch(() => {});
  }
}
