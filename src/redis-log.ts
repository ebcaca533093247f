/**
 * What of a Redis client error may be logged. ioredis attaches the failed command to its errors
 * (`err.command = {name, args}`), and a publish script's arguments are the messages themselves:
 * logging the error object as is would log every payload of the batch. Only the class, the
 * code and the first line of the message (Redis' own reply text, which carries no arguments)
 * are kept.
 */
export interface RedisErrorLog {
  readonly type: string;
  readonly message: string;
  readonly code?: string;
}

const MAX_MESSAGE = 300;

export function redisErrorLog(err: unknown): RedisErrorLog {
  if (!(err instanceof Error)) return { type: typeof err, message: 'non-error thrown' };
  const first = err.message.split('\n', 1)[0] ?? '';
  const code = (err as { code?: unknown }).code;
  return {
    type: err.name,
    message: first.length > MAX_MESSAGE ? `${first.slice(0, MAX_MESSAGE)}…` : first,
    ...(typeof code === 'string' ? { code } : {}),
  };
}
