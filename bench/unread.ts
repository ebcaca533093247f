/**
 * Issue 16.3: what N clients that never read cost a server process. A server is spawned (from
 * `--root`, default this checkout, so an older tree can be measured the same way), a uid gets
 * `--per` messages of `--bytes` bytes in each of its streams (the uid and `--groups` groups),
 * then N raw sockets resume from the oldest id (`--kind sse`) or poll the oldest cursor
 * (`--kind poll`) and never read. Reports RSS before, at peak, and `--hold` seconds later, the
 * server's open file descriptors, and its connection count.
 *
 *   npx tsx bench/unread.ts [--kind poll|sse] [--n 100] [--per 100] [--bytes 60000] [--groups 0]
 *                           [--buffered 1048576] [--hold 10] [--root DIR]
 */
import { spawn } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { connect, type Socket } from 'node:net';
import { pubToken, ROOT, subToken, TEST_SECRET } from '../test/helpers.js';
import { parseArgs } from './lib/measure.js';

const args = parseArgs(process.argv.slice(2));
const KIND = args.get('kind') ?? 'poll';
const N = Number(args.get('n') ?? 100);
const PER = Number(args.get('per') ?? 100);
const BYTES = Number(args.get('bytes') ?? 60_000);
const GROUPS = Number(args.get('groups') ?? 0);
const BUFFERED = Number(args.get('buffered') ?? 1024 * 1024);
const HOLD = Number(args.get('hold') ?? 10);
const root = args.get('root') ?? ROOT;
const MiB = 1024 * 1024;

const rss = (pid: number) =>
  Number(/VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))![1]) * 1024;
const fds = (pid: number) => readdirSync(`/proc/${pid}/fd`).length;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

const proc = spawn(process.execPath, ['--import', 'tsx', 'src/main.ts'], {
  cwd: root,
  env: {
    ...process.env,
    JWT_SECRET: TEST_SECRET,
    HOST: '127.0.0.1',
    PORT: '0',
    LOG_LEVEL: 'info',
    NODE_ENV: 'production',
    MAX_BUFFERED_BYTES: String(BUFFERED),
    MAX_CONNECTIONS_PER_UID: '0',
    HISTORY_SIZE: String(Math.max(PER, 100)),
    MAX_HISTORY_BYTES: String(1024 * MiB),
  },
  stdio: ['ignore', 'pipe', 'inherit'],
});
let out = '';
proc.stdout!.setEncoding('utf8');
const port = await new Promise<number>((resolve, reject) => {
  proc.stdout!.on('data', (c: string) => {
    out += c;
    const m = /"port":(\d+)[^\n]*"msg":"listening"/.exec(out);
    if (m) resolve(Number(m[1]));
    if (out.length > 1e6) out = out.slice(-1e5);
  });
  proc.once('exit', () => reject(new Error('server exited')));
});
const url = `http://127.0.0.1:${port}`;
const pid = proc.pid!;
const sockets: Socket[] = [];
try {
  const pub = pubToken();
  const groups = Array.from({ length: GROUPS }, (_, g) => `ug${g}`);
  const targets = [{ to: 'reader' }, ...groups.map((g) => ({ group: [g] }))];
  let first = '';
  const perPush = Math.max(1, Math.floor((900 * 1024) / BYTES));
  for (const t of targets) {
    for (let i = 0; i < PER; i += perPush) {
      const body = Array.from({ length: Math.min(perPush, PER - i) }, () => ({
        ...t,
        data: 'x'.repeat(BYTES),
      }));
      const res = await fetch(`${url}/push`, {
        method: 'POST',
        headers: { authorization: `Bearer ${pub}`, 'content-type': 'application/json' },
        body: JSON.stringify(body),
      });
      const ids = (await res.json()) as { id: string }[];
      if (!Array.isArray(ids)) throw new Error(`push refused: ${JSON.stringify(ids)}`);
      first ||= ids[0]!.id;
    }
  }
  const token = subToken('reader', { groups });
  await sleep(1000);
  const base = rss(pid);
  const baseFds = fds(pid);
  const answered: boolean[] = [];
  const request =
    KIND === 'sse'
      ? `GET /events?token=${token} HTTP/1.1\r\nHost: x\r\nLast-Event-ID: ${first}\r\n\r\n`
      : `GET /poll?token=${token}&cursor=${encodeURIComponent(first)} HTTP/1.1\r\nHost: x\r\n\r\n`;
  for (let i = 0; i < N; i++) {
    const s = connect({ host: '127.0.0.1', port });
    sockets.push(s);
    s.on('error', () => {});
    s.once('data', () => {
      answered[i] = true;
      s.pause();
    });
    s.write(request);
  }
  let peak = base;
  const started = Date.now();
  while (answered.filter(Boolean).length < N && Date.now() - started < 60_000) {
    await sleep(50);
    peak = Math.max(peak, rss(pid));
  }
  for (let i = 0; i < 40; i++) {
    await sleep(50);
    peak = Math.max(peak, rss(pid));
  }
  const fdsHeld = fds(pid) - baseFds;
  await sleep(HOLD * 1000);
  const later = rss(pid);
  const online = (await (
    await fetch(`${url}/online`, { headers: { authorization: `Bearer ${pub}` } })
  ).json()) as {
    connections: number;
  };
  console.log(
    JSON.stringify({
      kind: KIND,
      n: N,
      answered: answered.filter(Boolean).length,
      perStream: PER,
      bytes: BYTES,
      groups: GROUPS,
      maxBufferedBytes: BUFFERED,
      rssBaseMiB: +(base / MiB).toFixed(1),
      rssPeakMiB: +(peak / MiB).toFixed(1),
      growthMiB: +((peak - base) / MiB).toFixed(1),
      [`rssAfter${HOLD}sMiB`]: +(later / MiB).toFixed(1),
      fdsHeld,
      connectionsCounted: online.connections,
    }),
  );
} finally {
  for (const s of sockets) s.destroy();
  proc.kill('SIGKILL');
}
