/** A three-master Redis Cluster for tests (cluster-mode Redis), optionally with one replica. */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { freePort } from '../redis-server.js';
import { type RedisProc, spawnRedis } from './topologies.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export interface RedisClusterSet {
  readonly ports: readonly number[];
  /** With `{ replica: true }`: a replica of the first master (a node that may die harmlessly). */
  readonly replica: RedisProc | undefined;
  /** `redis://127.0.0.1:<first port>`: one node, as a managed endpoint gives it. */
  readonly url: string;
  close(): Promise<void>;
}

/** Three cluster-mode masters joined with `redis-cli --cluster create … --cluster-replicas 0`. */
export async function startRedisCluster(opts: { replica?: boolean } = {}): Promise<RedisClusterSet> {
  const dir = mkdtempSync(join(tmpdir(), 'ssepush-rcluster-'));
  const procs: RedisProc[] = [];
  try {
    const ports: number[] = [];
    for (let i = 0; i < 3; i++) {
      const port = await freePort();
      execFileSync('mkdir', ['-p', join(dir, String(i))]);
      const args = ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no']
        .concat(['--dir', join(dir, String(i)), '--cluster-enabled', 'yes'])
        .concat(['--cluster-config-file', join(dir, String(i), 'nodes.conf')]);
      procs.push(await spawnRedis(port, args));
      ports.push(port);
    }
    execFileSync(
      'redis-cli',
      [
        '--cluster',
        'create',
        ...ports.map((p) => `127.0.0.1:${p}`),
        '--cluster-replicas',
        '0',
        '--cluster-yes',
      ],
      { stdio: 'pipe' },
    );
    let replica: RedisProc | undefined;
    if (opts.replica) {
      const port = await freePort();
      execFileSync('mkdir', ['-p', join(dir, 'r')]);
      const args = ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no']
        .concat(['--dir', join(dir, 'r'), '--cluster-enabled', 'yes'])
        .concat(['--cluster-config-file', join(dir, 'r', 'nodes.conf')]);
      replica = await spawnRedis(port, args);
      procs.push(replica);
      execFileSync(
        'redis-cli',
        ['--cluster', 'add-node', `127.0.0.1:${port}`, `127.0.0.1:${ports[0]}`, '--cluster-slave'],
        { stdio: 'pipe' },
      );
    }
    // Wait until every node reports the cluster as ok (all slots covered, gossip settled).
    const deadline = Date.now() + 20_000;
    for (const port of [...ports, ...(replica ? [replica.port] : [])]) {
      for (;;) {
        const c = new Redis({ port, host: '127.0.0.1', maxRetriesPerRequest: 1 });
        c.on('error', () => {});
        const info = (await c.call('CLUSTER', 'INFO').catch(() => '')) as string;
        c.disconnect();
        if (/cluster_state:ok/.test(info)) break;
        if (Date.now() > deadline) throw new Error('redis cluster did not reach cluster_state:ok');
        await sleep(100);
      }
    }
    return {
      ports,
      url: `redis://127.0.0.1:${ports[0]}`,
      replica,
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
