/**
 * Runs another language's test suite (phpunit, python unittest) against a real server started
 * in this process. A missing runtime is a skip locally and a failure in CI (`CI=true`).
 */
import { spawn, spawnSync } from 'node:child_process';

export const IN_CI = process.env.CI === 'true';

/** Keeps an HTTP proxy from the environment away from the loopback server under test. */
export const LOOPBACK_ENV: Record<string, string> = {
  NO_PROXY: '127.0.0.1,localhost',
  no_proxy: '127.0.0.1,localhost',
};

/** Why `cmd --version` cannot run here, or `undefined` when it can. */
export function missing(cmd: string, args: string[] = ['--version']): string | undefined {
  const r = spawnSync(cmd, args, { encoding: 'utf8', timeout: 15_000 });
  if (r.error) return `${cmd} not found (${r.error.message})`;
  if (r.status !== 0) return `${cmd} ${args.join(' ')} exited with ${r.status}: ${r.stderr || r.stdout}`;
  return undefined;
}

export interface SuiteRun {
  code: number | null;
  output: string;
}

/**
 * Spawns `cmd` asynchronously (the server under test lives in this process, so the event loop
 * must stay free) and collects stdout and stderr together. Killed after `timeoutMs`.
 */
export function runSuite(
  cmd: string,
  args: string[],
  opts: { cwd: string; env: Record<string, string>; timeoutMs: number },
): Promise<SuiteRun> {
  return new Promise((resolve, reject) => {
    const proc = spawn(cmd, args, {
      cwd: opts.cwd,
      env: { ...process.env, ...opts.env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    proc.stdout.on('data', (d: Buffer) => {
      output += d.toString();
    });
    proc.stderr.on('data', (d: Buffer) => {
      output += d.toString();
    });
    const timer = setTimeout(() => {
      output += `\n[killed after ${opts.timeoutMs} ms]`;
      proc.kill('SIGKILL');
    }, opts.timeoutMs);
    proc.once('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
    proc.once('close', (code) => {
      clearTimeout(timer);
      resolve({ code, output });
    });
  });
}
