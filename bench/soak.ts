/**
 * Soak: `npm run soak [-- --minutes 10 --connections 500 --churn 100 --rate 500 --uids 200]`.
 *
 * Runs the real server in its own process and churns it: a pool of SSE connections where
 * `--churn` per second are closed and as many opened (half of them resuming with Last-Event-ID),
 * while `--rate` pushes per second go to single uids, groups and everyone. It prints the
 * server's RSS, V8 heap, open file descriptors (`/proc/<pid>/fd`) and event-loop delay after a
 * warm-up, every minute, and at the end, then compares the end with the start: nothing may grow
 * without bound.
 */
import { spawn } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { Agent, request } from 'node:http';
import { connect, createServer, type Socket } from 'node:net';
import { fileURLToPath } from 'node:url';
import jwt from 'jsonwebtoken';

function arg(name: string, def: number): number {
  const i = process.argv.indexOf(`--${name}`);
  if (i < 0) return def;
  const v = Number(process.argv[i + 1]);
  if (!Number.isFinite(v) || v <= 0) throw new Error(`--${name} needs a positive number`);
  return v;
}

const MINUTES = arg('minutes', 10);
const POOL = arg('connections', 500);
const CHURN = arg('churn', 100);
const RATE = arg('rate', 500);
/**
 * uids pushed to and subscribed as. With the default HISTORY_SIZE (100) their history fills
 * (200 × 100 messages) within the warm-up, so the start figures already hold a full history
 * and any later growth is a leak, not history filling up.
 */
const UIDS = arg('uids', 200);
const WARMUP_MS = Math.min(60_000, (MINUTES * 60_000) / 5);
const GROUPS = 20;
const SECRET = 'soak-secret-0123456789abcdef';
const ROOT = fileURLToPath(new URL('..', import.meta.url));

const freePort = (): Promise<number> =>
  new Promise((resolve) => {
    const s = createServer().listen(0, '127.0.0.1', () => {
      const { port } = s.address() as { port: number };
      s.close(() => resolve(port));
    });
  });

const port = await freePort();
const server = spawn(process.execPath, ['--import', 'tsx', 'src/main.ts'], {
  cwd: ROOT,
  env: {
    ...process.env,
    JWT_SECRET: SECRET,
    HOST: '127.0.0.1',
    PORT: String(port),
    LOG_LEVEL: 'warn',
    MAX_CONNECTIONS_PER_UID: '0',
  },
  stdio: ['ignore', 'inherit', 'inherit'],
});
const pid = server.pid!;
// The server is ours: it never outlives this command, however it ends.
process.on('exit', () => server.kill('SIGKILL'));
for (const sig of ['SIGINT', 'SIGTERM'] as const) process.on(sig, () => process.exit(130));
const base = `http://127.0.0.1:${port}`;
const agent = new Agent({ keepAlive: true, maxSockets: 16 });

function get(path: string): Promise<string> {
  return new Promise((resolve, reject) => {
    request(`${base}${path}`, { agent }, (res) => {
      let b = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => {
        b += c;
      });
      res.on('end', () => resolve(b));
    })
      .on('error', reject)
      .end();
  });
}

for (let i = 0; ; i++) {
  try {
    await get('/healthz');
    break;
  } catch {
    if (i > 200) throw new Error('server did not start');
    await new Promise((r) => setTimeout(r, 100));
  }
}

const pub = jwt.sign({ scope: 'push' }, SECRET);
const subTokens = Array.from({ length: UIDS }, (_, i) =>
  jwt.sign({ sub: `u${i}`, groups: [`g${i % GROUPS}`] }, SECRET),
);

interface Conn {
  socket: Socket;
  lastId: string | undefined;
  tail: string;
  uid: number;
}
const pool = new Set<Conn>();
let opened = 0;
let closed = 0;
let bytesIn = 0;
let pushes = 0;
let pushErrors = 0;
const lastIds = new Map<number, string>();

function open(): void {
  const uid = Math.floor(Math.random() * UIDS);
  const resume = Math.random() < 0.5 ? lastIds.get(uid) : undefined;
  const socket = connect({ host: '127.0.0.1', port });
  const c: Conn = { socket, lastId: undefined, tail: '', uid };
  socket.setEncoding('utf8');
  socket.on('connect', () => {
    socket.write(
      `GET /events?token=${subTokens[uid]} HTTP/1.1\r\nHost: x\r\nAccept: text/event-stream\r\n${resume ? `Last-Event-ID: ${resume}\r\n` : ''}\r\n`,
    );
  });
  socket.on('data', (d: string) => {
    bytesIn += d.length;
    // Keep only enough to find the newest id, as a client would.
    const text = c.tail + d;
    const at = text.lastIndexOf('\nid:');
    if (at >= 0) {
      const end = text.indexOf('\n', at + 4);
      if (end > 0) c.lastId = text.slice(at + 4, end);
    }
    c.tail = text.slice(-200);
  });
  socket.on('error', () => {});
  socket.on('close', () => {
    if (pool.delete(c)) closed++;
  });
  pool.add(c);
  opened++;
}

function closeOne(): void {
  const n = Math.floor(Math.random() * pool.size);
  let i = 0;
  for (const c of pool) {
    if (i++ === n) {
      if (c.lastId) lastIds.set(c.uid, c.lastId);
      pool.delete(c);
      closed++;
      c.socket.destroy();
      return;
    }
  }
}

function push(): void {
  const r = Math.random();
  const target =
    r < 0.8
      ? { to: `u${Math.floor(Math.random() * UIDS)}` }
      : r < 0.98
        ? { group: `g${Math.floor(Math.random() * GROUPS)}` }
        : {};
  const body = JSON.stringify({ ...target, event: 'soak', data: { n: pushes, t: Date.now() } });
  const req = request(
    `${base}/push`,
    {
      method: 'POST',
      agent,
      headers: { authorization: `Bearer ${pub}`, 'content-type': 'application/json' },
    },
    (res) => {
      if (res.statusCode !== 200) pushErrors++;
      res.resume();
    },
  );
  req.on('error', () => pushErrors++);
  req.end(body);
  pushes++;
}

interface Sample {
  at: number;
  rssMb: number;
  heapMb: number;
  fds: number;
  /** p99 event-loop delay since the previous scrape. */
  loopP99Ms: number;
  connections: number;
}

function metric(text: string, name: string): number {
  const m = new RegExp(`^${name} (\\S+)$`, 'm').exec(text);
  return m ? Number(m[1]) : Number.NaN;
}

async function sample(t0: number): Promise<Sample> {
  const text = await get('/metrics');
  const rss = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return {
    at: Math.round((Date.now() - t0) / 1000),
    rssMb: Math.round(Number(rss?.[1]) / 1024),
    heapMb: Math.round(metric(text, 'nodejs_heap_size_used_bytes') / 1048576),
    fds: readdirSync(`/proc/${pid}/fd`).length,
    loopP99Ms: Math.round(metric(text, 'nodejs_eventloop_lag_p99_seconds') * 1000 * 10) / 10,
    connections: metric(text, 'ssepush_connections'),
  };
}

const show = (label: string, s: Sample) =>
  process.stdout.write(
    `${label.padEnd(6)} t=${String(s.at).padStart(4)}s  rss ${s.rssMb} MB  heap ${s.heapMb} MB  fds ${s.fds}  loop p99 ${s.loopP99Ms} ms  streams ${s.connections}  (opened ${opened}, closed ${closed}, pushes ${pushes}, push errors ${pushErrors}, ${Math.round(bytesIn / 1048576)} MB read)\n`,
  );

process.stdout.write(
  `soak: ${MINUTES} min, pool ${POOL} streams, ${CHURN} connects + ${CHURN} disconnects/s, ${RATE} pushes/s, server pid ${pid}\n`,
);
for (let i = 0; i < POOL; i++) open();
const t0 = Date.now();
let churnDue = 0;
let pushDue = 0;
let last = Date.now();
const ticker = setInterval(() => {
  const now = Date.now();
  const dt = (now - last) / 1000;
  last = now;
  churnDue += CHURN * dt;
  pushDue += RATE * dt;
  for (; churnDue >= 1; churnDue--) {
    closeOne();
    open();
  }
  for (; pushDue >= 1; pushDue--) push();
}, 10);

// Warm up: the pool fully connected (or the warm-up time spent), and the JIT settled.
await new Promise((r) => setTimeout(r, WARMUP_MS));
for (let i = 0; i < 60 && (await sample(t0)).connections < POOL * 0.9; i++) {
  await new Promise((r) => setTimeout(r, 1000));
}
// The delay figures cover the time since the previous scrape: give them a few seconds.
await new Promise((r) => setTimeout(r, 5000));
const start = await sample(t0);
const samples: Sample[] = [start];
show('start', start);
const end = t0 + MINUTES * 60_000;
let next = t0 + 60_000;
while (Date.now() < end) {
  await new Promise((r) => setTimeout(r, Math.max(0, Math.min(next, end) - Date.now())));
  if (Date.now() >= next && Date.now() < end) {
    const m = await sample(t0);
    samples.push(m);
    show('', m);
    next += 60_000;
  }
}
clearInterval(ticker);
const fin = await sample(t0);
samples.push(fin);
show('end', fin);
// The V8 heap is a sawtooth between collections: its range over the samples says more than
// two points. A leak shows as RSS, fds or the heap's floor rising minute after minute.
const range = (f: (s: Sample) => number) => `${Math.min(...samples.map(f))}-${Math.max(...samples.map(f))}`;
const growth = (a: number, b: number) =>
  `${a} -> ${b} (${b >= a ? '+' : ''}${Math.round(((b - a) / a) * 100)}%)`;
process.stdout.write(
  `summary: rss ${growth(start.rssMb, fin.rssMb)} MB (range ${range((x) => x.rssMb)}), heap ${growth(start.heapMb, fin.heapMb)} MB (range ${range((x) => x.heapMb)}), fds ${growth(start.fds, fin.fds)} (range ${range((x) => x.fds)}), loop p99 ${start.loopP99Ms} -> ${fin.loopP99Ms} ms; ${pushes} pushes (${pushErrors} errors), ${opened} connects, ${closed} disconnects\n`,
);
for (const c of pool) c.socket.destroy();
agent.destroy();
server.kill('SIGTERM');
await new Promise((r) => server.once('exit', r));
