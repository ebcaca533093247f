import { parseArgs } from 'node:util';
import { mintToken } from '../auth.js';
import { ConfigError, loadConfig } from '../config.js';

/**
 * Mints tokens with the server's configuration (same JWT_SECRET, issuer and audience):
 *   npm run token -- --sub 42 --groups a,b --ttl 3600
 *   npm run token -- --push
 *   npm run token -- --push --control
 */
function run(): void {
  const { values } = parseArgs({
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
    process.stdout.write(
      'usage: npm run token -- --sub <uid> [--groups a,b] [--ttl seconds] | [--push] [--control] [--ttl s]\n',
    );
    process.exit(values.help ? 0 : 2);
  }
  if (!process.env.JWT_SECRET) {
    throw new ConfigError("JWT_SECRET must be set to the server's secret to mint tokens");
  }
  const config = loadConfig();
  const ttl = values.ttl === undefined ? undefined : Number(values.ttl);
  if (ttl !== undefined && (!Number.isSafeInteger(ttl) || ttl <= 0))
    throw new ConfigError('--ttl must be seconds > 0');
  const groups = values.groups
    ? values.groups
        .split(',')
        .map((g) => g.trim())
        .filter(Boolean)
    : [];
  const token = mintToken(config, {
    ...(publisher ? { push: values.push, control: values.control } : { sub: values.sub, groups }),
    ...(ttl ? { ttlSec: ttl } : {}),
  });
  process.stdout.write(`${token}\n`);
}

try {
  run();
} catch (err) {
  process.stderr.write(`ssepush token: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(1);
}
