import type { Control, ControlCommand, ControlListener } from './control.js';
import { closedError } from './errors.js';

/**
 * Control for a single-process deployment: this node is the whole deployment, so a command is
 * applied by its own listeners, synchronously, before `send` resolves. Nothing is ever missed.
 */
export class MemoryControl implements Control {
  private listeners: ControlListener[] = [];
  private closed = false;

  async send(cmd: ControlCommand): Promise<void> {
    if (this.closed) throw closedError('control');
    for (const l of this.listeners) l(cmd);
  }

  listen(listener: ControlListener): void {
    this.listeners.push(listener);
  }

  onLost(_listener: () => void): void {}

  onGap(_listener: () => void): void {}

  async close(): Promise<void> {
    this.closed = true;
    this.listeners = [];
  }
}
