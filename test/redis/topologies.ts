/**
 * Production Redis shapes for tests, all started by the test on loopback free ports in temporary
 * directories: a TLS Redis with an ACL user (CA and certificate made here with `openssl`) and a
 * Sentinel set (primary, replicas, three sentinels). The Redis Cluster is in `redis-cluster.ts`.
 */
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { ConnectionOptions } from 'node:tls';
import { Redis } from 'ioredis';
import { freePort } from '../redis-server.js';

/** One `redis-server` process started by a test. */
export interface RedisProc {
  readonly port: number;
  readonly proc: ChildProcess;
  /** SIGKILL (a crash) and wait for the exit. */
  kill(): Promise<void>;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Spawns `redis-server args…` and waits until `port` answers PING (over TLS when `tls`). */
export async function spawnRedis(
  port: number,
  args: readonly string[],
  opts: { tls?: ConnectionOptions; username?: string; password?: string } = {},
): Promise<RedisProc> {
  const proc = spawn('redis-server', args, { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  proc.stdout?.on('data', (d: Buffer) => {
    out = (out + d.toString()).slice(-4000);
  });
  proc.stderr?.on('data', (d: Buffer) => {
    out = (out + d.toString()).slice(-4000);
  });
  const exited = new Promise<void>((r) => proc.once('exit', () => r()));
  const deadline = Date.now() + 10_000;
  for (;;) {
    if (proc.exitCode !== null) throw new Error(`redis-server exited:\n${out}`);
    const c = new Redis({
      port,
      host: '127.0.0.1',
      lazyConnect: true,
      maxRetriesPerRequest: 0,
      retryStrategy: () => null,
      ...(opts.tls ? { tls: opts.tls } : {}),
      ...(opts.username ? { username: opts.username } : {}),
      ...(opts.password ? { password: opts.password } : {}),
    });
    c.on('error', () => {});
    let ok = false;
    try {
      await c.connect();
      ok = (await c.ping()) === 'PONG';
    } catch {
      // not up yet
    }
    c.disconnect();
    if (ok) break;
    if (Date.now() > deadline) {
      proc.kill('SIGKILL');
      throw new Error(`redis-server on ${port} did not answer:\n${out}`);
    }
    await sleep(50);
  }
  return {
    port,
    proc,
    async kill() {
      if (proc.exitCode === null && proc.signalCode === null) proc.kill('SIGKILL');
      await exited;
    },
  };
}

/** A CA and a server certificate for 127.0.0.1/localhost, made with `openssl`. */
export interface TestPki {
  readonly dir: string;
  readonly caPem: string;
  readonly caFile: string;
  readonly certFile: string;
  readonly keyFile: string;
}

export function makePki(dir: string, name = 'ca'): TestPki {
  const f = (n: string) => join(dir, `${name}-${n}`);
  const run = (args: string[]) => execFileSync('openssl', args, { stdio: 'pipe' });
  run(
    [
      'req',
      '-x509',
      '-newkey',
      'rsa:2048',
      '-nodes',
      '-days',
      '1',
      '-subj',
      `/CN=ssepush test ${name}`,
    ].concat(['-keyout', f('ca.key'), '-out', f('ca.crt')]),
  );
  run(
    ['req', '-newkey', 'rsa:2048', '-nodes', '-subj', '/CN=localhost', '-keyout', f('server.key')].concat([
      '-out',
      f('server.csr'),
    ]),
  );
  writeFileSync(f('ext.cnf'), 'subjectAltName=IP:127.0.0.1,DNS:localhost\n');
  run(
    ['x509', '-req', '-in', f('server.csr'), '-CA', f('ca.crt'), '-CAkey', f('ca.key')].concat([
      '-CAcreateserial',
      '-days',
      '1',
      '-extfile',
      f('ext.cnf'),
      '-out',
      f('server.crt'),
    ]),
  );
  return {
    dir,
    caPem: readFileSync(f('ca.crt'), 'utf8'),
    caFile: f('ca.crt'),
    certFile: f('server.crt'),
    keyFile: f('server.key'),
  };
}

export interface TlsRedis {
  readonly port: number;
  readonly pki: TestPki;
  /** A CA that did not sign the server certificate. */
  readonly otherCaPem: string;
  close(): Promise<void>;
}

/**
 * `redis-server --port 0 --tls-port P` (TLS only, no client certificates) with the default user
 * disabled and one ACL user `username`/`password` allowed everything.
 */
export async function startTlsRedis(username: string, password: string): Promise<TlsRedis> {
  const dir = mkdtempSync(join(tmpdir(), 'ssepush-tls-'));
  const pki = makePki(dir);
  const other = makePki(dir, 'other');
  const port = await freePort();
  const args = ['--port', '0', '--tls-port', String(port), '--bind', '127.0.0.1']
    .concat(['--tls-cert-file', pki.certFile, '--tls-key-file', pki.keyFile])
    .concat(['--tls-ca-cert-file', pki.caFile, '--tls-auth-clients', 'no'])
    .concat(['--save', '', '--appendonly', 'no', '--dir', dir])
    .concat(['--user', 'default', 'off'])
    .concat(['--user', username, 'on', `>${password}`, '~*', '&*', '+@all']);
  const p = await spawnRedis(port, args, { tls: { ca: pki.caPem }, username, password });
  return {
    port,
    pki,
    otherCaPem: other.caPem,
    async close() {
      await p.kill();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

export interface SentinelSet {
  readonly name: string;
  /** `127.0.0.1:p1,127.0.0.1:p2,127.0.0.1:p3` for REDIS_SENTINELS. */
  readonly sentinels: string;
  readonly primary: RedisProc;
  readonly replicas: readonly RedisProc[];
  /** The three sentinels, in the order of `sentinels`. */
  readonly sentinelProcs: readonly RedisProc[];
  /** The primary's port as a sentinel (the first by default) knows it now. */
  currentPrimaryPort(sentinel?: number): Promise<number>;
  /**
   * Writes to the primary and waits (up to 10 s) until the replicas confirm it: they then hold
   * everything written so far. Answers how many confirmed.
   */
  replicasSynced(): Promise<number>;
  close(): Promise<void>;
}

/**
 * A primary, `replicaCount` replicas and three sentinels (quorum 2, down after `downAfterMs`).
 */
export async function startSentinels(replicaCount: number, downAfterMs = 1000): Promise<SentinelSet> {
  const dir = mkdtempSync(join(tmpdir(), 'ssepush-sentinel-'));
  const name = 'ssepushprimary';
  const base = (port: number, sub: string) =>
    ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'].concat([
      '--dir',
      join(dir, sub),
    ]);
  const procs: RedisProc[] = [];
  const mk = (sub: string) => {
    execFileSync('mkdir', ['-p', join(dir, sub)]);
  };
  try {
    const pport = await freePort();
    mk('p');
    const primary = await spawnRedis(pport, base(pport, 'p'));
    procs.push(primary);
    const replicas: RedisProc[] = [];
    for (let i = 0; i < replicaCount; i++) {
      const port = await freePort();
      mk(`r${i}`);
      const r = await spawnRedis(port, [...base(port, `r${i}`), '--replicaof', '127.0.0.1', String(pport)]);
      procs.push(r);
      replicas.push(r);
    }
    const sports: number[] = [];
    const sprocs: RedisProc[] = [];
    for (let i = 0; i < 3; i++) {
      const port = await freePort();
      const conf = join(dir, `sentinel${i}.conf`);
      writeFileSync(
        conf,
        [
          `port ${port}`,
          'bind 127.0.0.1',
          `dir ${dir}`,
          `sentinel monitor ${name} 127.0.0.1 ${pport} 2`,
          `sentinel down-after-milliseconds ${name} ${downAfterMs}`,
          `sentinel failover-timeout ${name} 10000`,
          `sentinel parallel-syncs ${name} 1`,
          '',
        ].join('\n'),
      );
      const sp = await spawnRedis(port, [conf, '--sentinel']);
      procs.push(sp);
      sprocs.push(sp);
      sports.push(port);
    }
    const ask = async (sentinel = 0): Promise<number> => {
      const c = new Redis({ port: sports[sentinel]!, host: '127.0.0.1', maxRetriesPerRequest: 1 });
      c.on('error', () => {});
      try {
        const r = (await c.call('SENTINEL', 'get-master-addr-by-name', name)) as string[];
        return Number(r[1]);
      } finally {
        c.disconnect();
      }
    };
    // Wait until every sentinel knows the replicas and the other sentinels.
    const deadline = Date.now() + 20_000;
    for (;;) {
      const c = new Redis({ port: sports[0]!, host: '127.0.0.1', maxRetriesPerRequest: 1 });
      c.on('error', () => {});
      const info = (await c.call('SENTINEL', 'master', name).catch(() => [])) as string[];
      c.disconnect();
      const field = (k: string) => Number(info[info.indexOf(k) + 1] ?? 0);
      if (field('num-slaves') >= replicaCount && field('num-other-sentinels') >= 2) break;
      if (Date.now() > deadline) throw new Error('sentinels did not discover each other');
      await sleep(200);
    }
    return {
      name,
      sentinels: sports.map((p) => `127.0.0.1:${p}`).join(','),
      primary,
      replicas,
      sentinelProcs: sprocs,
      currentPrimaryPort: ask,
      async replicasSynced() {
        const c = new Redis({ port: pport, host: '127.0.0.1' });
        try {
          await c.incr('sync');
          return await c.wait(replicaCount, 10_000);
        } finally {
          c.disconnect();
        }
      },
      async close() {
        await Promise.all(procs.map((p) => p.kill()));
        rmSync(dir, { recursive: true, force: true });
      },
    };
  } catch (err) {
    await Promise.all(procs.map((p) => p.kill()));
    rmSync(dir, { recursive: true, force: true });
    throw err;
  }
}
