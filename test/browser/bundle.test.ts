/**
 * public/ssepush.js and public/ssepush.mjs are generated from clients/browser/*.ts and
 * committed (the server serves public/ as it is, so a fresh clone needs no build step). This
 * keeps them true to their sources, and the sources type-checked as browser code (DOM, no Node).
 */
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { bundleClient } from '../../scripts/build-client.js';
import { ROOT } from '../helpers.js';

describe('browser client bundle', () => {
  it('public/ssepush.js and ssepush.mjs are what npm run build:client makes of clients/browser', async () => {
    const outputs = await bundleClient();
    expect(outputs.map((o) => o.path)).toEqual(['public/ssepush.js', 'public/ssepush.mjs']);
    for (const { path, text } of outputs) {
      const committed = readFileSync(`${ROOT}${path}`, 'utf8');
      expect(committed === text, `${path} is out of date: run npm run build:client`).toBe(true);
    }
  });

  it('the client modules type-check as browser code, without Node types', () => {
    const tsc = `${ROOT}node_modules/typescript/bin/tsc`;
    const run = spawnSync(process.execPath, [tsc, '--noEmit', '-p', `${ROOT}clients/browser`], {
      encoding: 'utf8',
    });
    expect(`${run.stdout}${run.stderr}`).toBe('');
    expect(run.status).toBe(0);
  });
});
