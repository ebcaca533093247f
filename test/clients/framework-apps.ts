/**
 * Real framework applications for the docs' framework snippets, from Debian's packages:
 * `php-laravel-framework` (Laravel 8, the minimal application in test/clients/apps/laravel) and
 * `python3-django` (a project made by `django-admin startproject`). The docs' blocks are written
 * into them as pasted. A missing framework is a skip locally and a failure in CI (`CI=true`).
 */
import { appendFileSync, cpSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import type { TestContext } from 'vitest';
import { ROOT } from '../helpers.js';
import { IN_CI, missing, runSuite } from './external.js';

/** One file of an application: written, or appended to what is there. */
export interface AppFile {
  path: string;
  code: string;
  append?: boolean;
}

export function writeAppFile(dir: string, f: AppFile): void {
  const file = join(dir, f.path);
  mkdirSync(dirname(file), { recursive: true });
  if (f.append) appendFileSync(file, `\n${f.code}`);
  else writeFileSync(file, f.code);
}

/** The fenced blocks of the section under `heading`, by language. */
export function sectionBlocks(doc: string, heading: string): Record<string, string[]> {
  const text = readFileSync(join(ROOT, doc), 'utf8');
  const at = text.indexOf(`\n${heading}\n`);
  if (at < 0) throw new Error(`${doc} has no section "${heading}"`);
  const level = heading.indexOf(' ');
  const rest = text.slice(at + heading.length + 2);
  const end = rest.search(new RegExp(`\\n#{1,${level}} `));
  const section = end < 0 ? rest : rest.slice(0, end);
  const blocks: Record<string, string[]> = {};
  for (const m of section.matchAll(/^```(\w+)\n([\s\S]*?)^```$/gm)) {
    const list = blocks[m[1]!] ?? [];
    list.push(m[2]!);
    blocks[m[1]!] = list;
  }
  return blocks;
}

/** The one block containing `needle`. */
export function pick(blocks: string[] | undefined, needle: string): string {
  const hits = (blocks ?? []).filter((b) => b.includes(needle));
  if (hits.length !== 1) throw new Error(`expected one block containing ${needle}, found ${hits.length}`);
  return hits[0]!;
}

/** Skips (locally) or fails (in CI) a test whose framework package is missing. */
export function requireFramework(ctx: TestContext, pkg: string, why: string | undefined): void {
  if (!why) return;
  if (IN_CI) throw new Error(`CI=true but ${pkg} is missing: ${why}`);
  ctx.skip(`${pkg} is not installed (apt-get install ${pkg}): ${why}`);
}

/** The first Python that imports every module of `mods` (pyenv's `python3` may not see Debian's). */
export function pythonWith(...mods: string[]): string | undefined {
  const code = mods.map((m) => `import ${m}`).join('; ');
  return ['python3', '/usr/bin/python3'].find((py) => !missing(py, ['-c', code]));
}

export const LARAVEL_PKG = 'php-laravel-framework';
export const DJANGO_PKG = 'python3-django';

/** Why Laravel cannot run here, or `undefined`. */
export function laravelMissing(): string | undefined {
  return missing('php', [
    '-r',
    'exit(stream_resolve_include_path("Illuminate/Foundation/Application.php") === false ? 1 : 0);',
  ]);
}

/** The minimal Laravel 8 application every Laravel snippet is written into. */
const LARAVEL_SKELETON = join(ROOT, 'test/clients/apps/laravel');

/** Lays out the Laravel application in `dir` with `files` written into it. */
export function buildLaravel(dir: string, files: AppFile[]): void {
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
  for (const f of files) writeAppFile(dir, f);
}

/** Why Django cannot run here, or `undefined`. */
export function djangoMissing(): string | undefined {
  return pythonWith('django') ? undefined : 'no python3 here imports django';
}

/**
 * Makes a Django project `mysite` in `dir` with an app `app` (`startproject`, `startapp`), then
 * writes `files`; returns the Python that has Django.
 */
export async function buildDjango(dir: string, app: string, files: AppFile[]): Promise<string> {
  const py = pythonWith('django')!;
  for (const args of [
    ['-m', 'django', 'startproject', 'mysite', dir],
    ['manage.py', 'startapp', app],
  ]) {
    const r = await runSuite(py, args, { cwd: dir, env: {}, timeoutMs: 60_000 });
    if (r.code !== 0) throw new Error(`${py} ${args.join(' ')} failed:\n${r.output}`);
  }
  for (const f of files) writeAppFile(dir, f);
  return py;
}
