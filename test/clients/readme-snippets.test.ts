/**
 * Runs every shell, PHP, Python and Node snippet of README.md and README.zh-CN.md, as pasted,
 * against a real server, so an example cannot rot. The only change made to a snippet is the port
 * (`127.0.0.1:8080` becomes the test server's). The environment is what the READMEs tell a reader
 * to set: `JWT_SECRET` (the server's), `SSEPUSH_SECRET` (equal to it), `SSEPUSH_URL`, and
 * `$SUB` / `$PUB` as `npm run -s token` prints them.
 *
 * A comment on the line before a fence says how to treat a snippet:
 * - `<!-- snippet: skip (reason) -->`: cannot run here (starts a server on :8080, needs Redis or
 *   a framework); the reason names what covers it instead;
 * - `<!-- snippet: stream -->`: runs until stopped (curl -N); it must print the stream's start;
 * - `<!-- snippet: file <path> -->`: must be exactly that file of the repository.
 * Every other snippet must exit 0 with no error answer, warning or traceback in its output.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { start, waitForOutput } from '../deploy/process.js';
import { pubToken, ROOT, startServer, subToken, TEST_SECRET, type TestServer } from '../helpers.js';
import { IN_CI, LOOPBACK_ENV, missing, runSuite } from './external.js';

type Kind = 'run' | 'skip' | 'stream' | 'file';
interface Snippet {
  readonly doc: string;
  readonly line: number;
  readonly lang: string;
  readonly code: string;
  readonly kind: Kind;
  readonly arg: string;
}

const RUNNERS: Record<string, { cmd: string; ext: string }> = {
  sh: { cmd: 'bash', ext: 'sh' },
  bash: { cmd: 'bash', ext: 'sh' },
  php: { cmd: 'php', ext: 'php' },
  python: { cmd: 'python3', ext: 'py' },
  js: { cmd: process.execPath, ext: 'mjs' },
};

/** Every fenced block of `doc` with the marker on the line before it. */
function snippets(doc: string): Snippet[] {
  const text = readFileSync(join(ROOT, doc), 'utf8');
  const out: Snippet[] = [];
  for (const m of text.matchAll(
    /^(?:<!-- snippet: (skip|stream|file)\b ?(.*?) -->\n)?```(\w*)\n([\s\S]*?)^```$/gm,
  )) {
    out.push({
      doc,
      line: text.slice(0, m.index).split('\n').length,
      kind: (m[1] as Kind | undefined) ?? 'run',
      arg: m[2] ?? '',
      lang: m[3] ?? '',
      code: m[4] ?? '',
    });
  }
  return out;
}

const DOCS = ['README.md', 'README.zh-CN.md'];
const all = DOCS.flatMap(snippets);
const runnable = all.filter((s) => s.lang in RUNNERS && s.kind !== 'skip' && s.kind !== 'file');
const why = missing('php') ?? missing('python3');

describe('README snippets', () => {
  let server: TestServer;
  let env: Record<string, string>;
  const dir = join(ROOT, '.tmp', 'readme-snippets');

  beforeAll(async () => {
    server = await startServer();
    // `npm run -s token` runs the compiled command; a clone has it after `npm ci` (prepare).
    if (!existsSync(join(ROOT, 'dist/cli/ssepush.js')))
      execFileSync('npm', ['run', '-s', 'build'], { cwd: ROOT });
    mkdirSync(dir, { recursive: true });
    env = {
      ...LOOPBACK_ENV,
      JWT_SECRET: TEST_SECRET,
      SSEPUSH_SECRET: TEST_SECRET,
      SSEPUSH_URL: server.url,
      SUB: subToken('42'),
      PUB: pubToken(),
    };
  });
  afterAll(async () => {
    await server?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('every snippet is runnable, or marked with what covers it instead', () => {
    for (const s of all) {
      if (s.kind === 'skip') expect(s.arg, `${s.doc}:${s.line} skip needs a reason`).toMatch(/^\(.{10,}\)$/);
    }
    const count = (doc: string, lang: string) =>
      runnable.filter((s) => s.doc === doc && RUNNERS[s.lang]?.cmd === RUNNERS[lang]!.cmd).length;
    for (const doc of DOCS) {
      expect(count(doc, 'sh'), `${doc} shell snippets`).toBeGreaterThanOrEqual(4);
      expect(count(doc, 'php'), `${doc} PHP snippets`).toBeGreaterThanOrEqual(3);
      expect(count(doc, 'python'), `${doc} Python snippets`).toBeGreaterThanOrEqual(1);
      expect(count(doc, 'js'), `${doc} Node snippets`).toBeGreaterThanOrEqual(1);
    }
  });

  it.each(all.filter((s) => s.kind === 'file').map((s) => [`${s.doc}:${s.line} ${s.arg}`, s] as const))(
    '%s is the file itself',
    (_name, s) => {
      expect(s.code).toBe(readFileSync(join(ROOT, s.arg), 'utf8'));
    },
  );

  it.for(
    runnable.map(
      (s) => [`${s.doc}:${s.line} (${s.lang}${s.kind === 'stream' ? ', stream' : ''})`, s] as const,
    ),
  )('runs %s', { timeout: 90_000 }, async ([, s], ctx) => {
    if (why && s.lang !== 'sh' && s.lang !== 'js') {
      if (IN_CI) throw new Error(why);
      ctx.skip(why);
    }
    const code = s.code.replaceAll('127.0.0.1:8080', `127.0.0.1:${server.port}`);
    const file = join(dir, `snippet-${s.doc.replace(/\W/g, '_')}-${s.line}.${RUNNERS[s.lang]!.ext}`);
    writeFileSync(file, s.lang === 'sh' || s.lang === 'bash' ? `set -e -o pipefail\n${code}` : code);
    if (s.kind === 'stream') {
      // Runs until stopped: wait for the stream's start (curl's progress meter shares the output),
      // then stop the process group it is in.
      const p = start(RUNNERS[s.lang]!.cmd, [file], { cwd: ROOT, env: { ...process.env, ...env } });
      try {
        await waitForOutput(
          p,
          (out) => (/retry:\d+\n/.test(out) && /\nid:[\w.-]+\n/.test(out) ? true : undefined),
          20_000,
        );
      } finally {
        await p.stop('SIGTERM');
      }
      return;
    }
    const r = await runSuite(RUNNERS[s.lang]!.cmd, [file], { cwd: ROOT, env, timeoutMs: 60_000 });
    expect(r.code, r.output).toBe(0);
    expect(r.output).not.toMatch(/"error":|Warning:|Notice:|Deprecated:|Fatal error|Traceback|Error:/);
  });
});
