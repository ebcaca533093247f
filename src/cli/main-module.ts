import { realpathSync } from 'node:fs';
import { pathToFileURL } from 'node:url';

/**
 * True when `moduleUrl` is the script node was started with (`node dist/main.js`,
 * `tsx src/cli/token.ts`), so a module can be both imported by the `ssepush` command and run on
 * its own. Cluster workers re-run the same script, so they take the same path.
 */
export function isMainModule(moduleUrl: string): boolean {
  const script = process.argv[1];
  if (!script) return false;
  try {
    return pathToFileURL(realpathSync(script)).href === moduleUrl;
  } catch {
    return false;
  }
}
