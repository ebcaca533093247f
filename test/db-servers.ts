/**
 * Throw-away MariaDB and PostgreSQL servers for the outbox tests: each on a free loopback port
 * with its own temporary data directory, run as the packaged unprivileged user when the tests
 * run as root (both refuse or dislike root). `close()` stops the server by its PID and removes
 * the directory. Without the binaries, `*SkipReason()` says why the suites skip.
 */
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { chownSync, existsSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import mysql from 'mysql2/promise';
import pg from 'pg';
import { freePort } from './redis-server.js';

export interface TestDb {
  readonly kind: 'mysql' | 'postgres';
  readonly url: string;
  readonly port: number;
  /** Runs one statement on a fresh connection (parameters as `?` for mysql, `$1` for postgres). */
  query(sql: string, params?: unknown[]): Promise<Record<string, unknown>[]>;
  /**
   * Runs statements in one transaction on a fresh connection, then commits (or rolls back when
   * `commit` is false). Placeholders: `?` for mysql, `$1` for postgres (see `ph`).
   */
  tx(statements: [string, unknown[]][], commit?: boolean): Promise<void>;
  /** The n-th (1-based) placeholder of this dialect. */
  ph(n: number): string;
  /** Stops the server (data kept); `start` brings it back on the same port. */
  stop(): Promise<void>;
  start(): Promise<void>;
  close(): Promise<void>;
}

const MARIADBD = ['/usr/sbin/mariadbd', '/usr/sbin/mysqld'].find((p) => existsSync(p));
const PG_BIN = (() => {
  const base = '/usr/lib/postgresql';
  if (!existsSync(base)) return undefined;
  const v = readdirSync(base).sort().pop();
  return v && existsSync(join(base, v, 'bin', 'postgres')) ? join(base, v, 'bin') : undefined;
})();

function skipReason(what: string, present: boolean): string | undefined {
  if (present) return undefined;
  if (process.env.CI === 'true') throw new Error(`${what} is required in CI but was not found`);
  return `${what} is not installed; its outbox tests skipped`;
}
export const mariadbSkipReason = () =>
  skipReason('mariadb-server', MARIADBD !== undefined && existsSync('/usr/bin/mariadb-install-db'));
export const postgresSkipReason = () => skipReason('postgresql', PG_BIN !== undefined);

/** uid/gid of a system user when running as root (servers refuse root), else nothing. */
function runAs(user: string): { uid: number; gid: number } | undefined {
  if (process.getuid?.() !== 0) return undefined;
  const uid = Number(execFileSync('id', ['-u', user]).toString().trim());
  const gid = Number(execFileSync('id', ['-g', user]).toString().trim());
  return { uid, gid };
}

async function until(what: string, ms: number, probe: () => Promise<boolean>, proc: () => ChildProcess) {
  const deadline = Date.now() + ms;
  for (;;) {
    const p = proc();
    if (p.exitCode !== null || p.signalCode !== null) throw new Error(`${what} exited while starting`);
    if (await probe().catch(() => false)) return;
    if (Date.now() > deadline) throw new Error(`${what} did not start within ${ms} ms`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** Common lifecycle: spawn, wait until a probe connects, stop with `signal` by PID. */
async function serve(
  what: string,
  spawnIt: () => ChildProcess,
  probe: () => Promise<boolean>,
  signal: NodeJS.Signals,
  dir: string,
): Promise<Pick<TestDb, 'stop' | 'start' | 'close'>> {
  let proc: ChildProcess | undefined;
  let exited: Promise<void> = Promise.resolve();
  let log = '';
  const start = async () => {
    const p = spawnIt();
    proc = p;
    log = '';
    p.stdout?.on('data', (d: Buffer) => (log += d.toString()));
    p.stderr?.on('data', (d: Buffer) => (log += d.toString()));
    exited = new Promise((resolve) => p.once('exit', () => resolve()));
    try {
      await until(what, 30_000, probe, () => p);
    } catch (err) {
      if (p.exitCode === null && p.signalCode === null) p.kill('SIGKILL');
      await exited;
      throw new Error(`${(err as Error).message}\n${log.slice(-2000)}`);
    }
  };
  const stop = async () => {
    const p = proc;
    if (!p || p.exitCode !== null || p.signalCode !== null) return;
    p.kill(signal);
    await exited;
  };
  await start();
  return {
    start,
    stop,
    async close() {
      await stop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** MariaDB with database `app` and user `ssepush`/`ssepush` allowed from 127.0.0.1. */
export async function startMariaDb(): Promise<TestDb> {
  const dir = mkdtempSync(join(tmpdir(), 'ssepush-mariadb-'));
  const data = join(dir, 'data');
  const user = runAs('mysql');
  if (user) chownSync(dir, user.uid, user.gid);
  const init = join(dir, 'init.sql');
  writeFileSync(
    init,
    "CREATE DATABASE IF NOT EXISTS app;\nCREATE USER IF NOT EXISTS 'ssepush'@'%' IDENTIFIED BY 'ssepush';\n" +
      "GRANT ALL ON app.* TO 'ssepush'@'%';\n",
  );
  execFileSync(
    '/usr/bin/mariadb-install-db',
    [
      `--datadir=${data}`,
      '--auth-root-authentication-method=socket',
      '--skip-test-db',
      '--no-defaults',
    ].concat(user ? ['--user=mysql'] : []),
    { stdio: 'ignore' },
  );
  const port = await freePort();
  const url = `mysql://ssepush:ssepush@127.0.0.1:${port}/app`;
  const args = [
    '--no-defaults',
    `--datadir=${data}`,
    `--socket=${join(dir, 'sock')}`,
    `--pid-file=${join(dir, 'pid')}`,
    `--port=${port}`,
    '--bind-address=127.0.0.1',
    `--init-file=${init}`,
    '--skip-name-resolve',
    '--innodb-flush-log-at-trx-commit=2',
    '--innodb-buffer-pool-size=32M',
    '--skip-log-bin',
  ].concat(user ? ['--user=mysql'] : []);
  const query = async (sql: string, params: unknown[] = []) => {
    const c = await mysql.createConnection({ uri: url, connectTimeout: 2000 });
    try {
      const [rows] = await c.query(sql, params);
      return Array.isArray(rows) ? (rows as Record<string, unknown>[]) : [];
    } finally {
      await c.end();
    }
  };
  const tx = async (statements: [string, unknown[]][], commit = true) => {
    const c = await mysql.createConnection({ uri: url, connectTimeout: 2000 });
    try {
      await c.beginTransaction();
      for (const [sql, params] of statements) await c.query(sql, params);
      await (commit ? c.commit() : c.rollback());
    } finally {
      await c.end();
    }
  };
  const life = await serve(
    'mariadbd',
    () => spawn(MARIADBD!, args, { stdio: ['ignore', 'pipe', 'pipe'] }),
    async () => (await query('SELECT 1 AS ok')).length === 1,
    'SIGTERM',
    dir,
  );
  return { kind: 'mysql', url, port, query, tx, ph: () => '?', ...life };
}

/** PostgreSQL with trust auth for `postgres` on 127.0.0.1 (database `postgres`). */
export async function startPostgres(): Promise<TestDb> {
  const dir = mkdtempSync(join(tmpdir(), 'ssepush-pg-'));
  const data = join(dir, 'data');
  const user = runAs('postgres');
  if (user) chownSync(dir, user.uid, user.gid);
  execFileSync(join(PG_BIN!, 'initdb'), ['-D', data, '-U', 'postgres', '--auth=trust', '-E', 'UTF8'], {
    stdio: 'ignore',
    ...(user ?? {}),
  });
  const port = await freePort();
  const url = `postgres://postgres@127.0.0.1:${port}/postgres`;
  const args = ['-D', data, '-p', String(port), '-k', dir, '-h', '127.0.0.1', '-c', 'fsync=off'];
  const query = async (sql: string, params: unknown[] = []) => {
    const c = new pg.Client({ connectionString: url, connectionTimeoutMillis: 2000 });
    // The server may be stopped by the test meanwhile: the pending query rejects with it.
    c.on('error', () => {});
    await c.connect();
    try {
      return (await c.query(sql, params)).rows as Record<string, unknown>[];
    } finally {
      await c.end();
    }
  };
  const tx = async (statements: [string, unknown[]][], commit = true) => {
    const c = new pg.Client({ connectionString: url, connectionTimeoutMillis: 2000 });
    // The server may be stopped by the test meanwhile: the pending query rejects with it.
    c.on('error', () => {});
    await c.connect();
    try {
      await c.query('BEGIN');
      for (const [sql, params] of statements) await c.query(sql, params);
      await c.query(commit ? 'COMMIT' : 'ROLLBACK');
    } finally {
      await c.end();
    }
  };
  const life = await serve(
    'postgres',
    () => spawn(join(PG_BIN!, 'postgres'), args, { stdio: ['ignore', 'pipe', 'pipe'], ...(user ?? {}) }),
    async () => (await query('SELECT 1 AS ok')).length === 1,
    'SIGINT',
    dir,
  );
  return { kind: 'postgres', url, port, query, tx, ph: (n) => `$${n}`, ...life };
}
