/**
 * The servers under test, behind one interface: ssepush (the compiled `src/`, run as a child
 * process like `npm start` does), Nchan (nginx with the module, one worker, `bench/nchan.conf`)
 * and the floor (bare `node:http` doing the same work, `floor-server.mjs`). All listen on
 * 127.0.0.1 only and are stopped by the PID we started.
 */
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { closeSync, mkdirSync, openSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { Agent, request } from 'node:http';
import { createServer } from 'node:net';
import { fileURLToPath } from 'node:url';
import jwt from 'jsonwebtoken';
import { childPids, sleep } from './measure.js';
import type { Payload } from './protocol.js';

export const ROOT = fileURLToPath(new URL('../..', import.meta.url));
export const OUT = `${ROOT}bench/out`;
const GC_HOOK = fileURLToPath(new URL('./gc-hook.mjs', import.meta.url));
const FLOOR = fileURLToPath(new URL('./floor-server.mjs', import.meta.url));
const SECRET = 'bench-secret-not-for-production-0123456789';

/** One push: to a uid, or to everyone when `to` is undefined. */
export interface Push {
  readonly to?: string;
  readonly data: Payload;
}

export interface Target {
  /** `ssepush`, `nchan`, `floor`, or a variant's label (e.g. `ssepush-pretenuring`). */
  readonly name: string;
  /** The process that holds the connections (node itself; nginx's single worker). */
  readonly pid: number;
  readonly port: number;
  /** The subscription request path for `uid` (query included). */
  subPath(uid: string): string;
  push(p: Push): Promise<void>;
  /** Publishes several messages in one request when the server can, else one request each. */
  pushBatch(ps: readonly Push[]): Promise<void>;
  readonly batches: boolean;
  /** Keeps history and resumes from `Last-Event-ID` (the floor does not: no reconnect storm). */
  readonly replays: boolean;
  /** Open SSE connections as the server counts them. */
  connections(): Promise<number>;
  /** Used JS heap in bytes (ssepush only). */
  heapUsed(): Promise<number | undefined>;
  /** Runs a full GC where there is one (ssepush), so memory figures hold no garbage. */
  gc(): Promise<void>;
  stop(): Promise<void>;
}

const agent = new Agent({ keepAlive: true, maxSockets: 64 });
/** Source address of the publisher's requests (see `SOURCE_NET` in pool.ts). */
const PUBLISHER_ADDRESS = '127.0.5.250';

/** One HTTP request over the shared keep-alive agent; resolves with status and body text. */
export function http(
  port: number,
  method: string,
  path: string,
  body?: string,
  headers: Record<string, string> = {},
): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request(
      {
        host: '127.0.0.1',
        localAddress: PUBLISHER_ADDRESS,
        port,
        method,
        path,
        headers,
        agent,
        timeout: 30_000,
      },
      (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (c: string) => {
          text += c;
        });
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body: text }));
        res.on('error', reject);
      },
    );
    req.on('timeout', () => req.destroy(new Error(`${method} ${path} timed out`)));
    req.on('error', reject);
    req.end(body);
  });
}

/** A free loopback TCP port. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const addr = s.address();
      const port = typeof addr === 'object' && addr ? addr.port : 0;
      s.close(() => resolve(port));
    });
  });
}

function waitExit(p: ChildProcess, ms: number): Promise<boolean> {
  if (p.exitCode !== null || p.signalCode !== null) return Promise.resolve(true);
  return new Promise((resolve) => {
    const t = setTimeout(() => resolve(false), ms);
    p.once('exit', () => {
      clearTimeout(t);
      resolve(true);
    });
  });
}

async function stopProcess(p: ChildProcess, signal: NodeJS.Signals): Promise<void> {
  if (p.exitCode !== null || p.signalCode !== null) return;
  p.kill(signal);
  if (!(await waitExit(p, 15_000))) {
    p.kill('SIGKILL');
    await waitExit(p, 5000);
  }
}

/**
 * Waits until `path` answers 200; on failure stops the child (it would outlive the benchmark).
 * 60 s: on a machine shared with test suites a start can take far longer than on a quiet one.
 */
async function waitReady(port: number, path: string, p: ChildProcess): Promise<void> {
  try {
    await pollReady(port, path, p);
  } catch (err) {
    await stopProcess(p, 'SIGKILL');
    throw err;
  }
}

async function pollReady(port: number, path: string, p: ChildProcess): Promise<void> {
  const deadline = Date.now() + 60_000;
  while (Date.now() < deadline) {
    if (p.exitCode !== null) throw new Error(`server exited with code ${p.exitCode}`);
    try {
      if ((await http(port, 'GET', path)).status === 200) return;
    } catch {
      // not listening yet
    }
    await sleep(50);
  }
  throw new Error(`server on port ${port} did not become ready`);
}

let built = false;

/**
 * The compiled server to run: `SSEPUSH_BUILD` (a directory holding a built `main.js`, e.g. to
 * measure an experimental copy of `src/`), else `bench/out/build`.
 */
const BUILD = process.env.SSEPUSH_BUILD || `${OUT}/build`;

/** Compiles `src/` once per benchmark run into `bench/out/build` (what `npm start` would run). */
export function buildSsepush(): void {
  if (built || process.env.SSEPUSH_BUILD) return;
  execFileSync(
    `${ROOT}node_modules/.bin/tsc`,
    ['-p', 'tsconfig.build.json', '--outDir', BUILD, '--declaration', 'false'],
    {
      cwd: ROOT,
      stdio: 'inherit',
    },
  );
  built = true;
}

export interface SsepushOptions {
  /** Extra node flags, e.g. `--cpu-prof`. */
  readonly nodeArgs?: readonly string[];
  readonly env?: Readonly<Record<string, string>>;
  readonly cwd?: string;
  /** The label in tables (default `ssepush`). */
  readonly name?: string;
  /** A file for the server's stdout (e.g. `--trace-gc-nvp` output); default: inherited. */
  readonly stdoutFile?: string;
  /** A directory holding another built `main.js` (an A/B build); default: this run's build. */
  readonly build?: string;
}

/** The child's stdout: inherited, or a file opened for it (closed here once the child has it). */
function stdoutOf(file: string | undefined): 'inherit' | number {
  return file === undefined ? 'inherit' : openSync(file, 'w');
}

export async function startSsepush(opts: SsepushOptions = {}): Promise<Target> {
  if (opts.build === undefined) buildSsepush();
  const port = await freePort();
  const out = stdoutOf(opts.stdoutFile);
  const proc = spawn(
    process.execPath,
    [...(opts.nodeArgs ?? []), '--expose-gc', '--import', GC_HOOK, `${opts.build ?? BUILD}/main.js`],
    {
      cwd: opts.cwd ?? ROOT,
      stdio: ['ignore', out, 'inherit'],
      env: {
        PATH: process.env.PATH ?? '',
        NODE_ENV: 'production',
        JWT_SECRET: SECRET,
        LOG_LEVEL: 'warn',
        HOST: '127.0.0.1',
        PORT: String(port),
        MAX_CONNECTIONS_PER_UID: '0',
        ...opts.env,
      },
    },
  );
  if (typeof out === 'number') closeSync(out);
  await waitReady(port, '/healthz', proc);
  const pid = proc.pid!;
  const pub = `Bearer ${jwt.sign({ scope: 'push' }, SECRET, { algorithm: 'HS256', expiresIn: 7200 })}`;
  const headers = { 'content-type': 'application/json', authorization: pub };
  const body = (p: Push) => (p.to === undefined ? { data: p.data } : { to: p.to, data: p.data });
  const check = (r: { status: number; body: string }) => {
    if (r.status !== 200) throw new Error(`ssepush push: ${r.status} ${r.body.slice(0, 200)}`);
  };
  const metric = async (name: string) => {
    const text = (await http(port, 'GET', '/metrics')).body;
    const m = new RegExp(`^${name}(?:\\{[^}]*\\})? ([0-9.e+]+)$`, 'm').exec(text);
    return m ? Number(m[1]) : undefined;
  };
  return {
    name: opts.name ?? 'ssepush',
    pid,
    port,
    batches: true,
    replays: true,
    subPath: (uid) =>
      `/events?token=${jwt.sign({ sub: uid }, SECRET, { algorithm: 'HS256', expiresIn: 7200 })}`,
    push: async (p) => check(await http(port, 'POST', '/push', JSON.stringify(body(p)), headers)),
    pushBatch: async (ps) => check(await http(port, 'POST', '/push', JSON.stringify(ps.map(body)), headers)),
    connections: async () => (await metric('ssepush_connections')) ?? 0,
    heapUsed: () => metric('nodejs_heap_size_used_bytes'),
    gc: async () => {
      process.kill(pid, 'SIGUSR2');
      await sleep(300);
    },
    stop: () => stopProcess(proc, 'SIGTERM'),
  };
}

let nchanRuns = 0;

export async function startNchan(): Promise<Target> {
  const port = await freePort();
  const prefix = `${OUT}/nchan-${process.pid}-${nchanRuns++}`;
  rmSync(prefix, { recursive: true, force: true });
  mkdirSync(prefix, { recursive: true });
  const conf = readFileSync(`${ROOT}bench/nchan.conf`, 'utf8')
    .replaceAll('{{PREFIX}}', prefix)
    .replaceAll('{{PORT}}', String(port));
  writeFileSync(`${prefix}/nginx.conf`, conf);
  const proc = spawn('nginx', ['-p', prefix, '-c', `${prefix}/nginx.conf`, '-e', `${prefix}/error.log`], {
    stdio: ['ignore', 'inherit', 'inherit'],
  });
  await waitReady(port, '/status', proc);
  let worker = 0;
  for (let i = 0; i < 100 && worker === 0; i++) {
    worker = childPids(proc.pid!)[0] ?? 0;
    if (worker === 0) await sleep(20);
  }
  if (worker === 0) throw new Error('nginx worker not found');
  const check = (r: { status: number; body: string }) => {
    if (r.status < 200 || r.status > 202)
      throw new Error(`nchan publish: ${r.status} ${r.body.slice(0, 200)}`);
  };
  const pushOne = async (p: Push) =>
    check(await http(port, 'POST', `/pub?id=${p.to === undefined ? 'all' : p.to}`, JSON.stringify(p.data)));
  return {
    name: 'nchan',
    pid: worker,
    port,
    batches: false,
    replays: true,
    subPath: (uid) => `/sub?uid=${uid}`,
    push: pushOne,
    pushBatch: async (ps) => {
      for (const p of ps) await pushOne(p);
    },
    connections: async () => {
      const m = /^subscribers: (\d+)$/m.exec((await http(port, 'GET', '/status')).body);
      return m ? Number(m[1]) : 0;
    },
    heapUsed: async () => undefined,
    gc: async () => {},
    stop: async () => {
      await stopProcess(proc, 'SIGTERM');
      rmSync(prefix, { recursive: true, force: true });
    },
  };
}

/**
 * The floor: bare `node:http` (`floor-server.mjs`) run like ssepush (same node flags, GC hook,
 * `SSEPUSH_PRETENURING` setting), answering the same requests with the least work.
 */
export async function startFloor(opts: SsepushOptions = {}): Promise<Target> {
  const port = await freePort();
  const out = stdoutOf(opts.stdoutFile);
  const proc = spawn(
    process.execPath,
    [...(opts.nodeArgs ?? []), '--expose-gc', '--import', GC_HOOK, FLOOR],
    {
      cwd: opts.cwd ?? ROOT,
      stdio: ['ignore', out, 'inherit'],
      env: {
        PATH: process.env.PATH ?? '',
        NODE_ENV: 'production',
        HOST: '127.0.0.1',
        PORT: String(port),
        ...opts.env,
      },
    },
  );
  if (typeof out === 'number') closeSync(out);
  await waitReady(port, '/healthz', proc);
  const pid = proc.pid!;
  // The same request bytes as ssepush's: a publisher token in the header, a token in the URL.
  const pub = `Bearer ${jwt.sign({ scope: 'push' }, SECRET, { algorithm: 'HS256', expiresIn: 7200 })}`;
  const headers = { 'content-type': 'application/json', authorization: pub };
  const body = (p: Push) => (p.to === undefined ? { data: p.data } : { to: p.to, data: p.data });
  const check = (r: { status: number; body: string }) => {
    if (r.status !== 200) throw new Error(`floor push: ${r.status} ${r.body.slice(0, 200)}`);
  };
  const number = async (path: string) => Number((await http(port, 'GET', path)).body);
  return {
    name: opts.name ?? 'floor',
    pid,
    port,
    batches: true,
    replays: false,
    subPath: (uid) =>
      `/events?uid=${uid}&token=${jwt.sign({ sub: uid }, SECRET, { algorithm: 'HS256', expiresIn: 7200 })}`,
    push: async (p) => check(await http(port, 'POST', '/push', JSON.stringify(body(p)), headers)),
    pushBatch: async (ps) => check(await http(port, 'POST', '/push', JSON.stringify(ps.map(body)), headers)),
    connections: () => number('/count'),
    heapUsed: () => number('/heap'),
    gc: async () => {
      process.kill(pid, 'SIGUSR2');
      await sleep(300);
    },
    stop: () => stopProcess(proc, 'SIGTERM'),
  };
}
