/**
 * Backend control from the Node client (a publisher token with the `control` scope, signed
 * apart from the `push` one): kick and revoke (`POST /disconnect`), groups at run time
 * (`POST /groups`). Each answers how many of the uids were online, with how many connections.
 */
import type { Transport } from './client-transport.js';
import type { Counts, DisconnectOptions, Name } from './client-types.js';

/** `POST /disconnect` of the uid(s). */
export function disconnect(t: Transport, uid: Name | Name[], options: DisconnectOptions): Promise<Counts> {
  return t.counted('POST', '/disconnect', { uid, ...options }, 'control');
}

/** `POST /groups`: joins and leaves in one call; a group may not be in both. */
export function changeGroups(
  t: Transport,
  uid: Name | Name[],
  change: { join?: Name | Name[]; leave?: Name | Name[] },
): Promise<Counts> {
  if (change.join === undefined && change.leave === undefined) {
    throw new TypeError('ssepush: groups() needs join or leave');
  }
  return t.counted('POST', '/groups', { uid, ...change }, 'control');
}
