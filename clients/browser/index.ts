/**
 * ssepush.js: browser client for the ssepush push server (API: docs/client.md, types:
 * public/ssepush.d.ts). The public surface is `connect()` and `version`; `connect()` returns a
 * thin facade so the client's internals stay private. Bundled by `npm run build:client` into
 * public/ssepush.js (classic script, global `SsePush`) and public/ssepush.mjs (ES module).
 */
import type { connect as Connect, PushClient } from '../../public/ssepush.js';
import { Client } from './client.js';

export const version = '0.1.0';

export const connect: typeof Connect = (options) => {
  if (!options || typeof options !== 'object') throw new TypeError('ssepush: connect() needs options');
  const c = new Client(options);
  const handle: PushClient = {
    on(event: string, handler: (...args: never[]) => void) {
      c.on(event, handler);
      return handle;
    },
    off(event, handler) {
      c.off(event, handler);
      return handle;
    },
    close() {
      c.close();
    },
    get state() {
      return c.state;
    },
    get transport() {
      return c.transport;
    },
    get role() {
      return c.role;
    },
    get lastEventId() {
      return c.lastId;
    },
  };
  return handle;
};

/** What the classic script puts in the global `SsePush`, and the ES module's default export. */
export const api = { connect, version };
