/**
 * How webhook-receivers.test.ts runs each receiver of docs/webhooks.md: the standalone ones as a
 * single file, the framework ones inside a real application of that framework (Debian's packages:
 * `python3-django`, `php-laravel-framework`), with the doc's blocks written into it as pasted.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ROOT } from '../helpers.js';
import { missing } from './external.js';
import {
  type AppFile,
  buildDjango,
  buildLaravel,
  DJANGO_PKG,
  djangoMissing,
  LARAVEL_PKG,
  laravelMissing,
} from './framework-apps.js';

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

function appFile(b: DocBlock): AppFile {
  return { path: b.file!, code: b.code, append: b.append };
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
  pkg: DJANGO_PKG,
  path: '/hooks/ssepush',
  missing: djangoMissing,
  async build(dir, blocks, port) {
    const py = await buildDjango(dir, 'hooks', blocks.map(appFile));
    return { cmd: py, args: ['manage.py', 'runserver', `127.0.0.1:${port}`, '--noreload'], cwd: dir };
  },
};

const laravel: ReceiverApp = {
  pkg: LARAVEL_PKG,
  path: '/api/hooks/ssepush',
  missing: laravelMissing,
  async build(dir, blocks, port) {
    buildLaravel(dir, blocks.map(appFile));
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
