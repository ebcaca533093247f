import { createRequire } from 'node:module';
import { pino } from 'pino';

export type Logger = pino.Logger;

export interface LoggerOptions {
  /**
   * Human-readable lines through pino's pretty transport (pino-pretty, an optional dependency)
   * instead of JSON lines. Default false. Falls back to JSON when pino-pretty is not installed.
   */
  readonly pretty?: boolean;
}

/** Readable logs only for a person at a terminal in development; JSON lines everywhere else. */
export function prettyWanted(production: boolean, stdoutIsTty: boolean): boolean {
  return !production && stdoutIsTty;
}

function prettyInstalled(): boolean {
  try {
    createRequire(import.meta.url).resolve('pino-pretty');
    return true;
  } catch {
    return false;
  }
}

/**
 * One pino logger on stdout: JSON lines by default, pretty-printed on request. Tokens never reach
 * a log line: routes log no URLs or headers, and the redact list catches the fields a careless
 * caller might pass.
 */
export function createLogger(level: string, opts: LoggerOptions = {}): Logger {
  const pretty = opts.pretty === true && prettyInstalled();
  return pino({
    level,
    base: { service: 'ssepush' },
    redact: {
      paths: [
        'token',
        '*.token',
        'authorization',
        '*.authorization',
        'req.headers.authorization',
        'req.headers.cookie',
      ],
      censor: '[redacted]',
    },
    ...(pretty
      ? {
          transport: {
            target: 'pino-pretty',
            options: { translateTime: 'HH:MM:ss.l', ignore: 'pid,hostname,service', singleLine: true },
          },
        }
      : {}),
  });
}
