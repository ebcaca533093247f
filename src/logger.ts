import { pino } from 'pino';

export type Logger = pino.Logger;

/**
 * JSON logs on stdout. Tokens never reach a log line: routes log no URLs or headers, and the
 * redact list below catches the fields a careless caller might pass.
 */
export function createLogger(level: string): Logger {
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
  });
}
