/**
 * A child process that answers each IPC command with one reply, in the order sent: the load
 * clients of `pool.ts` (benchmark workers) and of `load-client.ts` (cluster benchmarks).
 */
import type { ChildProcess, Serializable } from 'node:child_process';

export class IpcChild<C extends Serializable, R> {
  private readonly waiting: ((r: R) => void)[] = [];
  exited = false;

  constructor(readonly proc: ChildProcess) {
    // Every call in flight listens for the exit.
    proc.setMaxListeners(200);
    proc.on('message', (r) => this.waiting.shift()?.(r as R));
    proc.on('exit', () => {
      this.exited = true;
    });
  }

  /** Sends `cmd` and resolves with its reply; rejects if the process exits first. */
  call<T extends R>(cmd: C): Promise<T> {
    if (this.exited) return Promise.reject(new Error('load client exited'));
    return new Promise((resolve, reject) => {
      const onExit = () => reject(new Error('load client exited'));
      this.proc.once('exit', onExit);
      this.waiting.push((r) => {
        this.proc.off('exit', onExit);
        resolve(r as T);
      });
      this.proc.send(cmd);
    });
  }
}
