/**
 * Profiles ssepush under the benchmark workloads: a CPU profile (`node --cpu-prof`) of N
 * connections receiving broadcasts and unicast pushes, and a heap snapshot with N idle
 * connections, each summarised (self time per function / package; retained objects per
 * constructor, with counts per connection).
 *
 *   npm run bench:profile -- [--n 5000] [--what cpu|heap|both|push|connect|warm-push|warm-push-alloc|warm-connect]
 *
 * `--target floor` profiles the bare `node:http` floor instead (warm modes), for comparison.
 * `warm-push-alloc` records what a warm push allocates (sampling heap profiler, garbage included).
 * `warm-push` and `warm-connect` profile only the measured round of a warm server (the
 * profiler is started by a signal after a warm-up round, `lib/prof-hook.mjs`) and print self
 * time per operation in µs: 20,000 single pushes at N idle streams after 10,000 warm-up pushes;
 * 2,000 new connections on top of N idle ones after 2,000 warm-up connections (opened, closed).
 */
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { cpuMicros, fmt, parseArgs, sleep } from './lib/measure.js';
import { ClientPool } from './lib/pool.js';
import { OUT, startFloor, startSsepush } from './lib/targets.js';
import { broadcast, openIdle, unicast, warmConnect } from './lib/workloads.js';

const args = parseArgs(process.argv.slice(2));
const N = Number(args.get('n') ?? 5000);
const what = args.get('what') ?? 'both';
const DIR = `${OUT}/prof`;

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  hitCount?: number;
  children?: number[];
}
interface CpuProfile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
}

/** Where a function lives: our source, a dependency, or Node itself. */
function area(url: string): string {
  if (url === '') return '(native/vm)';
  const nm = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(url);
  if (nm) return nm[1]!;
  if (url.startsWith('node:')) return url.replace(/^node:(internal\/)?/, 'node:').split('/')[0]!;
  const src = /bench\/out\/build\/(.*)$/.exec(url);
  if (src) return `ssepush ${src[1]}`;
  return url;
}

/**
 * Self time per function and per package. With `cpuPerOp` (the server's `/proc` CPU per
 * operation over the profiled round), also in µs per operation: each item's share of the busy
 * (non-idle) samples times that CPU. Samples are wall-clock: on a busy machine a thread
 * descheduled inside a system call still collects samples, so the shares, scaled to the
 * measured CPU, are the figures to compare.
 */
function summariseCpu(file: string, cpuPerOp?: number): void {
  const p = JSON.parse(readFileSync(file, 'utf8')) as CpuProfile;
  const self = new Map<number, number>();
  for (let i = 0; i < p.samples.length; i++) {
    const id = p.samples[i]!;
    self.set(id, (self.get(id) ?? 0) + (p.timeDeltas[i] ?? 0));
  }
  const total = [...self.values()].reduce((a, b) => a + b, 0);
  const byFn = new Map<string, number>();
  const byArea = new Map<string, number>();
  for (const n of p.nodes) {
    const us = self.get(n.id) ?? 0;
    if (us === 0) continue;
    const f = n.callFrame;
    const key = `${f.functionName || '(anonymous)'} ${area(f.url)}:${f.lineNumber + 1}`;
    byFn.set(key, (byFn.get(key) ?? 0) + us);
    const a = f.url === '' ? f.functionName || '(native)' : area(f.url);
    byArea.set(a, (byArea.get(a) ?? 0) + us);
  }
  const idle = byArea.get('(idle)') ?? 0;
  const busy = total - idle;
  const perOp = (us: number) =>
    cpuPerOp === undefined ? '' : `  ${fmt((us / busy) * cpuPerOp, 3).padStart(7)} µs/op`;
  const top = (m: Map<string, number>, k: number) =>
    [...m.entries()]
      .sort((a, b) => b[1] - a[1])
      .slice(0, k)
      .map(([name, us]) => `  ${fmt((100 * us) / total, 3).padStart(6)}%${perOp(us)}  ${name}`)
      .join('\n');
  process.stdout.write(
    `\nCPU profile ${file}: ${fmt(total / 1000)} ms sampled, ${fmt((100 * idle) / total)}% idle` +
      (cpuPerOp === undefined ? '' : `; µs/op = share of busy samples × ${fmt(cpuPerOp)} µs CPU per op`) +
      '\n',
  );
  process.stdout.write(`self time by package/area:\n${top(byArea, 20)}\n`);
  process.stdout.write(`self time by function:\n${top(byFn, 30)}\n`);
}

interface Snapshot {
  snapshot: { meta: { node_fields: string[]; node_types: [string[]] }; node_count: number };
  nodes: number[];
  strings: string[];
}

function summariseHeap(file: string, n: number): void {
  const s = JSON.parse(readFileSync(file, 'utf8')) as Snapshot;
  const fields = s.snapshot.meta.node_fields;
  const width = fields.length;
  const fType = fields.indexOf('type');
  const fName = fields.indexOf('name');
  const fSize = fields.indexOf('self_size');
  const types = s.snapshot.meta.node_types[0];
  const agg = new Map<string, { count: number; bytes: number }>();
  for (let i = 0; i < s.nodes.length; i += width) {
    const type = types[s.nodes[i + fType]!]!;
    const named = type === 'object' || type === 'native' || type === 'closure' || type === 'array';
    let name = named ? s.strings[s.nodes[i + fName]!]! : '';
    if (name.length > 60) name = `${name.slice(0, 57)}...`;
    const key = `${type} ${name}`.trim();
    const a = agg.get(key) ?? { count: 0, bytes: 0 };
    a.count++;
    a.bytes += s.nodes[i + fSize]!;
    agg.set(key, a);
  }
  const rows = [...agg.entries()].sort((a, b) => b[1].bytes - a[1].bytes).slice(0, 35);
  process.stdout.write(`\nheap snapshot ${file} with ${n} connections: top self sizes\n`);
  process.stdout.write('  bytes/conn  count/conn  kind\n');
  for (const [k, a] of rows) {
    process.stdout.write(`  ${fmt(a.bytes / n).padStart(10)}  ${fmt(a.count / n).padStart(10)}  ${k}\n`);
  }
}

function newest(ext: string): string {
  const files = readdirSync(DIR).filter((f) => f.endsWith(ext));
  files.sort();
  if (files.length === 0) throw new Error(`no ${ext} written in ${DIR}`);
  return `${DIR}/${files[files.length - 1]}`;
}

async function cpu(): Promise<void> {
  const t = await startSsepush({ nodeArgs: ['--cpu-prof', '--cpu-prof-dir', DIR] });
  const pool = ClientPool.start(N);
  try {
    await openIdle(t, pool, N);
    await broadcast(t, pool, N, 10);
    await unicast(t, pool, { uids: N, pushes: 5000, lanes: 16, batch: 1, kind: 'u' });
    await unicast(t, pool, { uids: N, pushes: 20_000, lanes: 4, batch: 100, kind: 'v' });
  } finally {
    await pool.close();
    await t.stop();
  }
  summariseCpu(newest('.cpuprofile'));
}

/** Single unicast pushes only, to see what one authenticated `POST /push` costs. */
async function cpuPush(): Promise<void> {
  const t = await startSsepush({ nodeArgs: ['--cpu-prof', '--cpu-prof-dir', DIR] });
  const pool = ClientPool.start(N);
  try {
    await openIdle(t, pool, N);
    await unicast(t, pool, { uids: N, pushes: 20_000, lanes: 16, batch: 1, kind: 'u' });
  } finally {
    await pool.close();
    await t.stop();
  }
  summariseCpu(newest('.cpuprofile'));
}

/** Only opening subscriptions: what accepting, authenticating and starting a stream costs. */
async function cpuConnect(): Promise<void> {
  const t = await startSsepush({ nodeArgs: ['--cpu-prof', '--cpu-prof-dir', DIR] });
  const pool = ClientPool.start(N);
  try {
    await openIdle(t, pool, N);
  } finally {
    await pool.close();
    await t.stop();
  }
  summariseCpu(newest('.cpuprofile'));
}

const PROF_HOOK = fileURLToPath(new URL('./lib/prof-hook.mjs', import.meta.url));

/** A server whose profiler starts and stops on signals (`lib/prof-hook.mjs`). */
async function signalled(file: string) {
  return (args.get('target') === 'floor' ? startFloor : startSsepush)({
    nodeArgs: ['--import', PROF_HOOK],
    env: {
      BENCH_PROFILE_OUT: file,
      ...(process.env.SSEPUSH_PRETENURING ? { SSEPUSH_PRETENURING: '1' } : {}),
      ...(what === 'warm-push-alloc' ? { BENCH_PROFILE_KIND: 'alloc' } : {}),
    },
  });
}

/** Profiles `round` only; prints the server's CPU (`/proc`) per op over it, for scale. */
async function profiled(pid: number, file: string, ops: number, round: () => Promise<void>): Promise<number> {
  process.kill(pid, 'SIGTTIN');
  await sleep(300);
  const cpu0 = cpuMicros(pid);
  await round();
  const cpu = cpuMicros(pid) - cpu0;
  process.kill(pid, 'SIGTTOU');
  process.stdout.write(
    `server CPU (/proc utime+stime) over the profiled round: ${fmt(cpu / ops)} µs per op\n`,
  );
  for (let i = 0; i < 100 && !existsSync(file); i++) await sleep(100);
  return cpu / ops;
}

/** Warm single pushes at N idle streams: 10,000 discarded, then 20,000 profiled. */
async function warmPush(ext = '.cpuprofile'): Promise<void> {
  const file = `${DIR}/warm-push${ext}`;
  const t = await signalled(file);
  const pool = ClientPool.start(N);
  const pushes = 20_000;
  let cpuPerOp = 0;
  try {
    await openIdle(t, pool, N);
    await unicast(t, pool, { uids: N, pushes: 10_000, lanes: 16, batch: 1, kind: 'x' });
    cpuPerOp = await profiled(t.pid, file, pushes, async () => {
      await unicast(t, pool, { uids: N, pushes, lanes: 16, batch: 1, kind: 'u' });
    });
  } finally {
    await pool.close();
    await t.stop();
  }
  if (ext === '.heapprofile') summariseAlloc(file, pushes);
  else summariseCpu(file, cpuPerOp);
}

interface AllocNode {
  callFrame: { functionName: string; url: string; lineNumber: number };
  selfSize: number;
  children: AllocNode[];
}

/**
 * Bytes allocated per operation (V8's sampling heap profiler, `warm-push-alloc`), by allocating
 * function and by its caller: the garbage each push leaves for the scavenger.
 */
function summariseAlloc(file: string, ops: number): void {
  const root = (JSON.parse(readFileSync(file, 'utf8')) as { head: AllocNode }).head;
  const byFn = new Map<string, number>();
  const byStack = new Map<string, number>();
  let total = 0;
  const walk = (n: AllocNode, stack: string[]) => {
    const f = n.callFrame;
    const name = `${f.functionName || '(anonymous)'} ${area(f.url)}:${f.lineNumber + 1}`;
    const here = [...stack, name];
    if (n.selfSize > 0) {
      total += n.selfSize;
      byFn.set(name, (byFn.get(name) ?? 0) + n.selfSize);
      const key = here.slice(-3).join(' < ');
      byStack.set(key, (byStack.get(key) ?? 0) + n.selfSize);
    }
    for (const c of n.children) walk(c, here);
  };
  walk(root, []);
  const top = (m: Map<string, number>) =>
    [...m.entries()]
      .sort((a, b) => b[1] - a[1])
      .slice(0, 30)
      .map(([k, v]) => `  ${fmt(v / ops).padStart(8)} B/op  ${k}`);
  process.stdout.write(
    `sampled allocation during the round: ${fmt(total / ops)} B per op\nby allocating function:\n${top(byFn).join('\n')}\nby stack (innermost first, 3 frames):\n${top(
      new Map([...byStack].map(([k, v]) => [k.split(' < ').reverse().join(' < '), v])),
    ).join('\n')}\n`,
  );
}

/** New connections at N idle streams: 2,000 warm-up ones opened and closed, then 2,000 profiled. */
async function warmConnectProfile(): Promise<void> {
  const file = `${DIR}/warm-connect.cpuprofile`;
  const t = await signalled(file);
  const pool = ClientPool.start(N);
  const extra = ClientPool.start(2000, 1, 111);
  let cpuPerOp = 0;
  try {
    await openIdle(t, pool, N);
    await warmConnect(t, 2000);
    cpuPerOp = await profiled(t.pid, file, 2000, async () => {
      const conns = Array.from({ length: 2000 }, (_, i) => ({ uid: `p${i}`, path: t.subPath(`p${i}`) }));
      await extra.open(t.port, conns);
      await sleep(500);
    });
  } finally {
    await extra.close();
    await pool.close();
    await t.stop();
  }
  summariseCpu(file, cpuPerOp);
}

async function heap(): Promise<void> {
  const t = await startSsepush({ nodeArgs: ['--heapsnapshot-signal=SIGHUP'], cwd: DIR });
  const pool = ClientPool.start(N);
  try {
    await openIdle(t, pool, N);
    await t.gc();
    process.kill(t.pid, 'SIGHUP');
    // Writing the snapshot blocks the server; wait until /metrics answers again.
    await sleep(1000);
    await t.connections();
  } finally {
    await pool.close();
    await t.stop();
  }
  summariseHeap(newest('.heapsnapshot'), N);
}

async function main(): Promise<void> {
  rmSync(DIR, { recursive: true, force: true });
  mkdirSync(DIR, { recursive: true });
  if (what === 'cpu' || what === 'both') await cpu();
  if (what === 'heap' || what === 'both') await heap();
  if (what === 'push') await cpuPush();
  if (what === 'connect') await cpuConnect();
  if (what === 'warm-push') await warmPush();
  if (what === 'warm-connect') await warmConnectProfile();
  if (what === 'warm-push-alloc') await warmPush('.heapprofile');
}

main().then(
  () => process.exit(0),
  (err: unknown) => {
    process.stderr.write(`bench:profile failed: ${err instanceof Error ? err.stack : String(err)}\n`);
    process.exit(1);
  },
);
