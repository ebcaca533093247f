import type { Auth } from '../auth.js';
import type { Config } from '../config.js';
import { badRequest } from '../errors.js';
import type { Hub } from '../hub.js';
import { normalizeName } from '../names.js';
import type { GroupChange } from '../runtime-groups.js';
import { readBody } from './body.js';
import { sendJson } from './errors.js';
import type { Handler } from './route.js';
import { tokenOf } from './token.js';

/** Most uids one `POST /groups` may name. */
export const MAX_GROUP_CALL_UIDS = 1000;
/** Most groups one `POST /groups` may name in `join` or in `leave`. */
export const MAX_GROUP_CALL_GROUPS = 1000;

const NAME_RULE =
  'a string of 1-128 characters without control characters or lone surrogates, or a non-negative integer';
const FIELDS = new Set(['uid', 'join', 'leave']);

/**
 * A name or a list of names as JSON or a form gives it, each normalized, each once; a 400 naming
 * `field` otherwise. `required` lists hold at least one name.
 */
function namesOf(field: string, v: unknown, max: number, required: boolean): string[] {
  if (v === undefined) {
    if (required) throw badRequest(`${field} is required: a uid or an array of 1 to ${max} uids`);
    return [];
  }
  const list = Array.isArray(v) ? v : [v];
  if (list.length > max || (required && list.length === 0))
    throw badRequest(`${field}: an array must hold ${required ? 1 : 0} to ${max} names`);
  const out = new Set<string>();
  for (const item of list) {
    const n = normalizeName(item);
    if (n === undefined) throw badRequest(`${field}: each name must be ${NAME_RULE}`);
    out.add(n);
  }
  return [...out];
}

/** Validates a `POST /groups` body (JSON object or form) into a change; 400 naming the field. */
export function parseGroupChange(body: unknown): GroupChange {
  if (typeof body !== 'object' || body === null || Array.isArray(body))
    throw badRequest('body: must be a JSON object {"uid", "join"?, "leave"?}');
  const o = body as Record<string, unknown>;
  for (const k of Object.keys(o))
    if (!FIELDS.has(k))
      throw badRequest(`unknown field ${JSON.stringify(k)} (a groups call has uid, join and leave)`);
  const uids = namesOf('uid', o.uid, MAX_GROUP_CALL_UIDS, true);
  const join = namesOf('join', o.join, MAX_GROUP_CALL_GROUPS, false);
  const leave = namesOf('leave', o.leave, MAX_GROUP_CALL_GROUPS, false);
  if (join.length === 0 && leave.length === 0) throw badRequest('join or leave: name at least one group');
  const both = join.find((g) => leave.includes(g));
  if (both !== undefined)
    throw badRequest(`join and leave: group ${JSON.stringify(both)} is in both; name it in one`);
  return { uids, join, leave };
}

/**
 * `POST /groups` (publisher token with the `control` scope): runtime group changes; answers the
 * presence of the uids named, as it is once this node's live connections have followed.
 */
export function groupsRoute(config: Config, auth: Auth, hub: Hub): Handler {
  return (req, res, query) => {
    auth.publisher(tokenOf({ headers: req.headers, query }), 'control');
    return new Promise((resolve, reject) => {
      readBody(req, config.maxBodyBytes, (err, body) => {
        if (err || !body) {
          reject(err);
          return;
        }
        const run = async () => {
          const change = parseGroupChange(body.value);
          if (change.join.length > config.maxGroupsPerToken)
            throw badRequest(`join: at most ${config.maxGroupsPerToken} groups (MAX_GROUPS_PER_TOKEN)`);
          sendJson(res, 200, JSON.stringify(await hub.changeGroups(change)));
        };
        run().then(resolve, reject);
      });
    });
  };
}
