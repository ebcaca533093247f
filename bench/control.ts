/**
 * Backend control figures (not a test): how long a kick of N uids takes until every one of their
 * streams has ended (memory mode, one process, clients over real loopback HTTP), and the memory
 * one revocation costs.
 *
 *   npm run bench:control -- [uids=1000]
 */
import { request } from 'node:http';
import jwt from 'jsonwebtoken';
import { loadConfig } from '../src/config.js';
import { nowSec } from '../src/revocations.js';
import { MemoryRevocations } from '../src/revocations-memory.js';
import { SsePushServer } from '../src/server.js';

const SECRET = 'bench-secret-0123456789abcdef';
const uids = Number(process.argv[2] ?? 1000);

async function kick(): Promise<void> {
  const config = loadConfig({ JWT_SECRET: SECRET, LOG_LEVEL: 'silent', MAX_CONNECTIONS_PER_UID: '0' });
  const server = new SsePushServer(config);
  const port = await server.listen(0, '127.0.0.1');
  const ended: Promise<number>[] = [];
  await Promise.all(
    Array.from({ length: uids }, (_, i) => {
      const token = jwt.sign({ sub: `u${i}` }, SECRET);
      return new Promise<void>((ready) => {
        const req = request(
          { port, host: '127.0.0.1', path: `/events?token=${token}`, agent: false },
          (res) => {
            ended.push(new Promise((done) => res.on('close', () => done(performance.now()))));
            res.once('data', () => ready());
            res.resume();
          },
        );
        req.end();
      });
    }),
  );
  const control = jwt.sign({ scope: 'control' }, SECRET);
  const body = JSON.stringify({ uid: Array.from({ length: uids }, (_, i) => `u${i}`), reason: 'bench' });
  const started = performance.now();
  const res = await fetch(`http://127.0.0.1:${port}/disconnect`, {
    method: 'POST',
    headers: { authorization: `Bearer ${control}`, 'content-type': 'application/json' },
    body,
  });
  const answered = performance.now();
  const answer = await res.json();
  const last = Math.max(...(await Promise.all(ended)));
  console.log(
    `kick of ${uids} uids (${uids} streams): answered in ${(answered - started).toFixed(1)} ms ${JSON.stringify(answer)}, all streams ended after ${(last - started).toFixed(1)} ms`,
  );
  await server.close();
}

function revocationMemory(n: number): void {
  const gc = (globalThis as { gc?: () => void }).gc;
  if (!gc) {
    console.log('run with node --expose-gc for the memory figure');
    return;
  }
  const names = Array.from({ length: n }, (_, i) => `user-${i}`);
  gc();
  const before = process.memoryUsage().heapUsed;
  const r = new MemoryRevocations({ ttlSec: 86_400, max: n });
  void r.revoke(names, nowSec());
  gc();
  const after = process.memoryUsage().heapUsed;
  console.log(
    `${n} revocations (uids already held by the caller): ${((after - before) / n).toFixed(1)} bytes each in the table`,
  );
  void r.close();
}

revocationMemory(100_000);
await kick();
