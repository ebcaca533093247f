import { parseDisconnect } from '../control-input.js';
import { unsupportedMedia } from '../errors.js';
import type { Logger } from '../logger.js';
import { readBody } from './body.js';
import { sendJson } from './errors.js';
import type { PublishDeps } from './publish.js';
import type { Handler } from './route.js';
import { tokenOf } from './token.js';

/**
 * `POST /disconnect` (publisher token with the `control` scope): ends every stream and waiting
 * poll of the named uids on every node, optionally revoking their older tokens. JSON only.
 */
export function disconnectRoute({ config, auth, hub, log }: PublishDeps): Handler {
  return (req, res, query) => {
    auth.publisher(tokenOf({ headers: req.headers, query }), ['control']);
    return new Promise((resolve, reject) => {
      readBody(req, config.maxBodyBytes, (err, body) => {
        if (err || !body) return reject(err);
        if (body.type !== 'json') return reject(unsupportedMedia('send application/json'));
        answer(body.value, log).then((text) => {
          sendJson(res, 200, text);
          resolve();
        }, reject);
      });
    });
  };

  async function answer(value: unknown, log: Logger): Promise<string> {
    const request = parseDisconnect(value);
    const found = await hub.disconnect(request);
    log.info(
      {
        uids: request.uids.length,
        online: found.uids,
        connections: found.connections,
        revoke: request.revoke,
        reconnect: request.reconnect,
      },
      'disconnect',
    );
    return JSON.stringify(found);
  }
}
