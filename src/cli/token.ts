import { parseArgs } from 'node:util';
import { mintToken } from '../auth.js';
import { ConfigError, loadConfig } from '../config.js';
import { isMainModule } from './main-module.js';

/** Lifetime of a minted token when `--ttl` is not given: an hour, like the demo tokens. */
export const DEFAULT_TTL_SECONDS = 3600;

const USAGE = `usage: ssepush token --sub <uid> [--groups a,b] [--ttl seconds]
       ssepush token --push [--control] [--ttl seconds]
       ssepush token --control [--ttl seconds]   (a publisher token for POST /disconnect and /groups)
Prints one token on stdout, signed with the server's JWT_SECRET (and PUBLISHER_JWT_SECRET,
JWT_ISSUER, JWT_AUDIENCE when set). Tokens expire after --ttl seconds (default ${DEFAULT_TTL_SECONDS}).
From a clone: npm run -s token -- --sub 42   (-s keeps npm's own lines out of $(...))
`;

/** Why minting needs the server's secret, and where a demo-mode server's tokens are instead. */
const NO_SECRET = `JWT_SECRET is not set: tokens must be signed with the server's JWT_SECRET.
  A server started without JWT_SECRET runs in demo mode with a random secret it never prints;
  it printed "export SUB=… PUB=…" at start, and hands out more at
  http://127.0.0.1:8080/demo/tokens?uid=42 (demo mode only).
  For real tokens start the server and this command with the same JWT_SECRET, e.g.
  export JWT_SECRET=$(openssl rand -hex 32)`;

/**
 * `ssepush token`: mints a subscriber or publisher token with the server's configuration.
 * Returns the process exit code; the token goes to stdout and nothing else does.
 */
export function tokenCommand(args: readonly string[], env: NodeJS.ProcessEnv = process.env): number {
  try {
    const { values } = parseArgs({
      args: [...args],
      options: {
        sub: { type: 'string' },
        groups: { type: 'string' },
        ttl: { type: 'string' },
        push: { type: 'boolean', default: false },
        control: { type: 'boolean', default: false },
        help: { type: 'boolean', short: 'h', default: false },
      },
    });
    const publisher = values.push || values.control;
    if (values.help || (!publisher && !values.sub)) {
      (values.help ? process.stdout : process.stderr).write(USAGE);
      return values.help ? 0 : 2;
    }
    if (!env.JWT_SECRET) throw new ConfigError(NO_SECRET);
    const config = loadConfig(env);
    const ttl = values.ttl === undefined ? DEFAULT_TTL_SECONDS : Number(values.ttl);
    if (!Number.isSafeInteger(ttl) || ttl <= 0) throw new ConfigError('--ttl must be whole seconds > 0');
    const groups = (values.groups ?? '')
      .split(',')
      .map((g) => g.trim())
      .filter(Boolean);
    const token = mintToken(config, {
      ...(publisher ? { push: values.push, control: values.control } : { sub: values.sub, groups }),
      ttlSec: ttl,
    });
    process.stdout.write(`${token}\n`);
    return 0;
  } catch (err) {
    process.stderr.write(`ssepush token: ${err instanceof Error ? err.message : String(err)}\n`);
    return 1;
  }
}

if (isMainModule(import.meta.url)) process.exitCode = tokenCommand(process.argv.slice(2));
