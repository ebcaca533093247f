import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { ROOT } from '../helpers.js';

/**
 * Keeps the backend docs (docs/backends.md) and both READMEs true to the code: the
 * methods they call exist in each client, and the env vars, npm scripts, endpoints and error
 * codes they name exist in the server. (The READMEs' snippets are executed by readme-snippets.test.ts,
 * the ThinkPHP and Laravel ones by clients/php/tests/DocSnippetsTest.php.)
 */
const read = (path: string) => readFileSync(`${ROOT}${path}`, 'utf8');
const DOCS = ['docs/backends.md', 'README.md', 'README.zh-CN.md'] as const;

function blocks(text: string, langs: string[]): string {
  const out: string[] = [];
  for (const m of text.matchAll(/^```(\w+)\n([\s\S]*?)^```$/gm)) {
    if (langs.includes(m[1]!)) out.push(m[2]!);
  }
  return out.join('\n');
}

function calls(code: string, re: RegExp): string[] {
  return [...new Set([...code.matchAll(re)].map((m) => m[1]!))].sort();
}

// The edge's files (routes, body reader, error answers) and the core files that name settings.
const srcText = [
  'config.ts',
  'webhook-config.ts',
  'errors.ts',
  'auth.ts',
  ...readdirSync(`${ROOT}src/http`).map((f) => `http/${f}`),
]
  .map((f) => read(`src/${f}`))
  .join('\n');

describe.each(DOCS)('%s is true to the code', (doc) => {
  const text = read(doc);

  it('calls only methods the PHP client has', () => {
    const php = read('clients/php/src/Client.php') + read('clients/php/src/Control.php');
    const used = calls(blocks(text, ['php']), /(?:\$push|\$this->push|Client::class\))->(\w+)\(/g);
    expect(used.length).toBeGreaterThan(3);
    for (const m of used) expect(php, `SsePush\\Client::${m}`).toMatch(new RegExp(`public function ${m}\\(`));
  });

  it('calls only methods the Python and Node clients have', () => {
    const py = read('clients/python/ssepush/client.py') + read('clients/python/ssepush/control.py');
    for (const m of calls(blocks(text, ['python']), /(?:push|client\(\))\.(\w+)\(/g)) {
      expect(py, `PushClient.${m}`).toMatch(new RegExp(`def ${m}\\(`));
    }
    const ts = read('clients/node/client.ts');
    for (const m of calls(blocks(text, ['ts', 'js']), /\bpush\.(\w+)\(/g)) {
      expect(ts, `PushClient.${m}`).toMatch(new RegExp(`\\n  (?:async )?${m}\\(`));
    }
  });

  it('names only env vars, npm scripts, endpoints and error codes that exist', () => {
    for (const v of calls(text, /`([A-Z][A-Z0-9_]{3,})`/g)) {
      if (v.startsWith('SSEPUSH_')) continue; // the backend's own settings
      if (['JSON', 'HTTP', 'POST', 'NODE_ENV'].includes(v) || v.startsWith('CURLOPT_')) continue;
      expect(new RegExp(`\\b${v}\\b`).test(srcText), `env var ${v} in src/config.ts`).toBe(true);
    }
    const scripts = Object.keys((JSON.parse(read('package.json')) as { scripts: object }).scripts);
    for (const s of calls(text, /npm run (\w[\w:-]*)/g)) expect(scripts, `npm run ${s}`).toContain(s);
    for (const p of calls(text, /`(?:GET|POST) (\/[a-z/.]*)/g)) {
      const served = srcText.includes(`'${p}'`) || p === '/' || existsSync(`${ROOT}public${p}`);
      expect(served, `route ${p}`).toBe(true);
    }
    const codeCells = calls(text, /\| (`[a-z_]+`(?:、`[a-z_]+`)*) \|$/gm).join(' ');
    const codes = calls(codeCells, /`([a-z_]+)`/g);
    if (doc === 'README.zh-CN.md') expect(codes.length).toBeGreaterThan(10);
    for (const code of codes) {
      expect(srcText.includes(`'${code}'`), `error code ${code} in src/`).toBe(true);
    }
  });
});
