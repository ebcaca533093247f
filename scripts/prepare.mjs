// `prepare` (run by `npm ci` / `npm install` in a clone, and by `npm pack`): builds dist/, so
// `npm start` and the `ssepush` command run compiled JavaScript and never compile at start.
// Without the dev dependencies (`npm ci --omit=dev`) there is no compiler: say what to do instead
// of failing the install. The package made by `npm pack` ships dist/ and needs no build.
import { spawnSync } from 'node:child_process';
import { createRequire } from 'node:module';

try {
  createRequire(import.meta.url).resolve('typescript/package.json');
} catch {
  process.stderr.write(
    'ssepush: TypeScript is not installed (dev dependencies omitted), so dist/ was not built.\n' +
      '  For a production install use the package: `npm pack` in a full clone, then\n' +
      '  `npm install --omit=dev ./ssepush-<version>.tgz` (see "Deploy" in the README).\n',
  );
  process.exit(0);
}
const r = spawnSync('npm', ['run', '--silent', 'build'], {
  stdio: 'inherit',
  shell: process.platform === 'win32',
});
process.exit(r.status ?? 1);
