/**
 * Starting and stopping the processes the deployment tests run (the installed `ssepush` command,
 * nginx). Each is started in its own process group, so stopping it by its PID also ends the
 * children a launcher like `npx` starts; nothing else is ever signalled.
 */
import { type ChildProcess, spawn } from 'node:child_process';

export interface Started {
  readonly proc: ChildProcess;
  output(): string;
  /** Sends `signal` to the process group this test started; resolves with the exit code. */
  stop(signal?: NodeJS.Signals): Promise<number | null>;
}

export function start(cmd: string, args: string[], opts: { cwd: string; env: NodeJS.ProcessEnv }): Started {
  const proc = spawn(cmd, args, {
    cwd: opts.cwd,
    env: opts.env,
    stdio: ['ignore', 'pipe', 'pipe'],
    detached: true,
  });
  let out = '';
  proc.stdout!.on('data', (d: Buffer) => {
    out += d.toString();
  });
  proc.stderr!.on('data', (d: Buffer) => {
    out += d.toString();
  });
  const exited = new Promise<number | null>((resolve) => proc.once('exit', (code) => resolve(code)));
  return {
    proc,
    output: () => out,
    async stop(signal: NodeJS.Signals = 'SIGTERM') {
      if (proc.exitCode === null && proc.signalCode === null && proc.pid !== undefined) {
        try {
          process.kill(-proc.pid, signal);
        } catch {
          // already gone
        }
      }
      return exited;
    },
  };
}

/** Waits until `pred(output)` holds, failing with the output when the process exits or time runs out. */
export function waitForOutput<T>(s: Started, pred: (out: string) => T | undefined, ms = 30_000): Promise<T> {
  return new Promise((resolve, reject) => {
    const check = () => {
      const v = pred(s.output());
      if (v !== undefined) {
        cleanup();
        resolve(v);
      }
    };
    const onExit = (code: number | null) => {
      cleanup();
      reject(new Error(`exited with ${code}:\n${s.output()}`));
    };
    const timer = setTimeout(() => {
      cleanup();
      reject(new Error(`timed out after ${ms} ms:\n${s.output()}`));
    }, ms);
    const cleanup = () => {
      clearTimeout(timer);
      s.proc.stdout!.off('data', check);
      s.proc.stderr!.off('data', check);
      s.proc.off('exit', onExit);
    };
    s.proc.stdout!.on('data', check);
    s.proc.stderr!.on('data', check);
    s.proc.once('exit', onExit);
    check();
  });
}

/** The port of ssepush's `listening` log line. */
export const listeningPort = (out: string): number | undefined => {
  const m = /"port":(\d+)[^\n]*"msg":"listening"/.exec(out);
  return m ? Number(m[1]) : undefined;
};
