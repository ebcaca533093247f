/**
 * deploy/ssepush.service passes `systemd-analyze verify`. The unit names /usr/bin/node and
 * /opt/ssepush, which verify requires to exist; the test points them at this Node and at a
 * package layout in a temp dir, changing nothing else. Skipped where systemd-analyze is missing.
 */
import { spawnSync } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ROOT } from '../helpers.js';

const HAVE = !spawnSync('systemd-analyze', ['--version']).error;

describe.skipIf(!HAVE)(`deploy/ssepush.service${HAVE ? '' : ' (skipped: systemd-analyze not found)'}`, () => {
  it('passes systemd-analyze verify', () => {
    const dir = mkdtempSync(join(tmpdir(), 'ssepush-unit-'));
    try {
      const unit = readFileSync(join(ROOT, 'deploy/ssepush.service'), 'utf8');
      expect(unit).toContain(
        'ExecStart=/usr/bin/node /opt/ssepush/node_modules/ssepush/bin/ssepush.js serve',
      );
      const bin = join(dir, 'opt/node_modules/ssepush/bin');
      mkdirSync(bin, { recursive: true });
      copyFileSync(join(ROOT, 'bin/ssepush.js'), join(bin, 'ssepush.js'));
      const path = join(dir, 'ssepush.service');
      writeFileSync(
        path,
        unit.replaceAll('/usr/bin/node', process.execPath).replaceAll('/opt/ssepush', join(dir, 'opt')),
      );
      const r = spawnSync('systemd-analyze', ['verify', path], { encoding: 'utf8' });
      expect(r.status, r.stderr).toBe(0);
      expect(`${r.stdout}${r.stderr}`.split('\n').filter((l) => l.includes('ssepush.service'))).toEqual([]);
      // The check is real: a broken unit fails it.
      writeFileSync(path, unit.replace(/^ExecStart=.*$/m, 'ExecStart=relative/ssepush'));
      expect(spawnSync('systemd-analyze', ['verify', path], { encoding: 'utf8' }).status).not.toBe(0);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
