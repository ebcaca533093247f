#!/usr/bin/env node
// The `ssepush` command. It runs the compiled output (dist/), which the package ships and a clone
// builds on `npm ci` (the prepare script); it never compiles at start.
import { existsSync } from 'node:fs';

const entry = new URL('../dist/cli/ssepush.js', import.meta.url);
if (!existsSync(entry)) {
  process.stderr.write(
    'ssepush: dist/ is missing: this is a clone that was not built.\n' +
      '  Run `npm run build` (needs the dev dependencies: `npm ci`), or install the package\n' +
      '  made by `npm pack`, which contains the compiled output.\n',
  );
  process.exit(1);
}
await import(entry.href);
