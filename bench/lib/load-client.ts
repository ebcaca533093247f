/**
 * A load-client process (`bench/cluster-load.ts`) driven over IPC: the cluster benchmarks spread
 * their sockets over several of them (one process holds under 20k descriptors).
 */
import { fork } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import type { LoadCommand, LoadReply } from '../cluster-load.js';
import { IpcChild } from './ipc-child.js';

const LOAD = fileURLToPath(new URL('../cluster-load.ts', import.meta.url));

export class LoadClient extends IpcChild<LoadCommand, LoadReply> {
  constructor() {
    super(
      fork(LOAD, [], {
        execArgv: ['--import', 'tsx'],
        stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
      }),
    );
  }
}

/** Asks every load client to close its sockets and exit; kills one that has not within 5 s. */
export function stopLoadClients(clients: readonly LoadClient[]): Promise<void> {
  return Promise.all(
    clients.map(
      (c) =>
        new Promise<void>((resolve) => {
          if (c.proc.exitCode !== null || !c.proc.connected) return resolve();
          c.proc.once('exit', () => resolve());
          c.proc.send({ type: 'close' });
          setTimeout(() => c.proc.kill('SIGKILL'), 5000).unref();
        }),
    ),
  ).then(() => undefined);
}
