/**
 * How webhook-receivers.test.ts runs each receiver of docs/webhooks.md: the standalone ones as a
 * single file, the framework ones inside a real application of that framework (Debian's packages:
 * `python3-django`, `php-laravel-framework`), with the doc's blocks written into it as pasted.
 */
import { appendFileSync, cpSync, mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { ROOT } from '../helpers.js';
import { missing, runSuite } from './external.js';

/** One code block of the doc: `<!-- receiver: LANG [file=PATH | append=PATH] -->`. */
export interface DocBlock {
  lang: string;
  /** Where the block goes inside the application (absent for a standalone receiver). */
  file?: string;
  append: boolean;
  code: string;
}

export function docBlocks(text: string): DocBlock[] {
  const re = /^<!-- receiver: (\w+)(?: (file|append)=(\S+))? -->\n```\w*\n([\s\S]*?)^```$/gm;
  return [...text.matchAll(re)].map((m) => ({
    lang: m[1]!,
    ...(m[3] ? { file: m[3] } : {}),
    append: m[2] === 'append',
    code: m[4]!,
  }));
}

export interface ReceiverApp {
  /** The Debian package that brings the runtime or framework, for the skip/failure message. */
  readonly pkg: string;
  /** The URL path the receiver answers on. */
  readonly path: string;
  /** Why it cannot run here, or `undefined`. */
  missing(): string | undefined;
  /** Lays the application out in `dir` with the doc's blocks; returns the command that serves it. */
  build(dir: string, blocks: DocBlock[], port: number): Promise<{ cmd: string; args: string[]; cwd: string }>;
}

/** The first Python that imports `mod` (pyenv's `python3` may not see Debian's packages). */
function pythonWith(mod: string): string | undefined {
  return ['python3', '/usr/bin/python3'].find((py) => !missing(py, ['-c', `import ${mod}`]));
}

function write(dir: string, b: DocBlock): void {
  const file = join(dir, b.file!);
  mkdirSync(dirname(file), { recursive: true });
  if (b.append) appendFileSync(file, `\n${b.code}`);
  else writeFileSync(file, b.code);
}

function single(
  file: string,
  cmd: (f: string, port: number) => [string, string[]],
  pkg: string,
): ReceiverApp {
  return {
    pkg,
    path: '/hooks/ssepush',
    missing: () => {
      const [bin] = cmd(file, 0);
      return bin === process.execPath ? undefined : missing(bin);
    },
    async build(dir, blocks, port) {
      const f = join(dir, file);
      writeFileSync(f, blocks[0]!.code);
      const [c, args] = cmd(f, port);
      return { cmd: c, args, cwd: ROOT };
    },
  };
}

const django: ReceiverApp = {
  pkg: 'python3-django',
  path: '/hooks/ssepush',
  missing: () => (pythonWith('django') ? undefined : 'no python3 here imports django'),
  async build(dir, blocks, port) {
    const py = pythonWith('django')!;
    for (const args of [
      ['-m', 'django', 'startproject', 'mysite', dir],
      ['manage.py', 'startapp', 'hooks'],
    ]) {
      const r = await runSuite(py, args, { cwd: dir, env: {}, timeoutMs: 60_000 });
      if (r.code !== 0) throw new Error(`${py} ${args.join(' ')} failed:\n${r.output}`);
    }
    for (const b of blocks) write(dir, b);
    return { cmd: py, args: ['manage.py', 'runserver', `127.0.0.1:${port}`, '--noreload'], cwd: dir };
  },
};

/** The minimal Laravel 8 application the doc's route and config are written into. */
const LARAVEL_SKELETON = join(ROOT, 'test/clients/webhook-apps/laravel');

const laravel: ReceiverApp = {
  pkg: 'php-laravel-framework',
  path: '/api/hooks/ssepush',
  missing: () =>
    missing('php', [
      '-r',
      'exit(stream_resolve_include_path("Illuminate/Foundation/Application.php") === false ? 1 : 0);',
    ]),
  async build(dir, blocks, port) {
    cpSync(LARAVEL_SKELETON, dir, { recursive: true });
    for (const d of [
      'routes',
      'resources/views',
      'storage/framework/views',
      'storage/logs',
      'bootstrap/cache',
    ]) {
      mkdirSync(join(dir, d), { recursive: true });
    }
    for (const b of blocks) write(dir, b);
    return { cmd: 'php', args: ['-S', `127.0.0.1:${port}`, 'public/index.php'], cwd: dir };
  },
};

export const APPS: Record<string, ReceiverApp> = {
  php: single('receiver.php', (f, port) => ['php', ['-S', `127.0.0.1:${port}`, f]], 'php-cli'),
  python: single('receiver.py', (f) => ['python3', [f]], 'python3'),
  node: single('receiver.mjs', (f) => [process.execPath, [f]], 'nodejs'),
  django,
  laravel,
};

/** What every receiver process gets in its environment besides the loopback settings. */
export function receiverEnv(port: number, secret: string): Record<string, string> {
  return {
    PORT: String(port),
    SSEPUSH_WEBHOOK_SECRET: secret,
    PYTHONPATH: join(ROOT, 'clients/python'),
    SSEPUSH_PHP_SDK: join(ROOT, 'clients/php'),
  };
}
