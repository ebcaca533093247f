import { readFileSync } from 'node:fs';

const HELP = `ssepush: real-time push over Server-Sent Events

usage: ssepush [serve] [--workers N]   run the server (the default command)
       ssepush token --sub <uid> [--groups a,b] [--ttl seconds]
       ssepush token --push [--ttl seconds]
       ssepush outbox schema mysql|postgres   print the outbox tables (name: OUTBOX_TABLE)
       ssepush --version | --help

Settings come from the environment (PORT, HOST, JWT_SECRET, REDIS_URL, ...); see the README.
Without JWT_SECRET (and without NODE_ENV=production) it runs in demo mode with a random secret.
`;

function version(): string {
  const pkg: unknown = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8'));
  return typeof pkg === 'object' && pkg !== null && 'version' in pkg ? String(pkg.version) : 'unknown';
}

/**
 * The `ssepush` command: one binary for the server, the token minter and the outbox schema, so a production install
 * needs only the package (compiled JavaScript and run-time dependencies, no TypeScript tooling).
 */
export async function run(argv: readonly string[]): Promise<void> {
  const [command, ...rest] = argv;
  // Each command loads only what it needs: minting a token does not load the server.
  if (command === 'token') {
    const { tokenCommand } = await import('./token.js');
    process.exitCode = tokenCommand(rest);
    return;
  }
  if (command === 'outbox') {
    const { outboxCommand } = await import('./outbox.js');
    process.exitCode = await outboxCommand(rest);
    return;
  }
  if (command === '--help' || command === '-h' || command === 'help') {
    process.stdout.write(HELP);
    return;
  }
  if (command === '--version' || command === '-v') {
    process.stdout.write(`${version()}\n`);
    return;
  }
  if (command === undefined || command === 'serve' || command.startsWith('-')) {
    const { serve } = await import('../main.js');
    serve(command === 'serve' ? rest : argv);
    return;
  }
  process.stderr.write(`ssepush: unknown command "${command}"\n\n${HELP}`);
  process.exitCode = 2;
}

await run(process.argv.slice(2));
