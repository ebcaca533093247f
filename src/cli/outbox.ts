import { outboxSchema } from '../outbox.js';
import { isMainModule } from './main-module.js';

const USAGE = 'usage: ssepush outbox schema mysql|postgres   (table: OUTBOX_TABLE, default ssepush_outbox)\n';

/**
 * `ssepush outbox schema mysql|postgres`: prints the CREATE TABLE statements of the outbox and
 * its dead-letter table, named by `OUTBOX_TABLE`. `args` are the words after `outbox`. Returns
 * the exit code; a standalone function so the `ssepush` bin can dispatch to it.
 */
export async function outboxCommand(
  args: readonly string[],
  env: Record<string, string | undefined> = process.env,
  out: (s: string) => void = (s) => process.stdout.write(s),
  err: (s: string) => void = (s) => process.stderr.write(s),
): Promise<number> {
  const [cmd, dialect] = args;
  if (cmd !== 'schema' || (dialect !== 'mysql' && dialect !== 'mariadb' && dialect !== 'postgres')) {
    err(USAGE);
    return 2;
  }
  const table = env.OUTBOX_TABLE || 'ssepush_outbox';
  if (!/^[A-Za-z_][A-Za-z0-9_]{0,57}$/.test(table)) {
    err('ssepush: OUTBOX_TABLE must be 1-58 of [A-Za-z0-9_], not starting with a digit\n');
    return 2;
  }
  out(await outboxSchema(dialect === 'postgres' ? 'postgres' : 'mysql', table));
  return 0;
}

// `npm run outbox -- schema mysql`
if (isMainModule(import.meta.url)) process.exitCode = await outboxCommand(process.argv.slice(2));
