// The demo page: connects with ssepush.js (as an ES module), shows the connection and incoming
// messages live, and pushes with the form. In demo mode (no JWT_SECRET) the server hands the page
// tokens; otherwise the page asks for them and never gets a publisher token from the server.
import { connect } from './ssepush.mjs';

const $ = (id) => document.getElementById(id);
const MAX_ITEMS = 200;
const STATE_TEXT = {
  connecting: 'Connecting…',
  open: 'Live',
  reconnecting: 'Reconnecting…',
  closed: 'Disconnected',
};
const ROLE_TEXT = {
  solo: 'holds its own connection',
  leader: 'holds the connection for all tabs',
  follower: 'shares another tab’s connection',
};

let push = null;
let demoMode = null;
let connectedAs = null;
let publisher = '';
let received = 0;
const listening = new Set(['message']);

function text(el, value) {
  el.textContent = value;
}

/**
 * Whether this server hands out demo tokens, without a request that fails on a real deployment:
 * `/healthz` says so when the server reports `demo`; an older server is asked at /demo/tokens
 * (a 404 there means production).
 */
async function serverIsDemo() {
  try {
    const res = await fetch('/healthz', { cache: 'no-store' });
    const health = await res.json();
    if (typeof health?.demo === 'boolean') return health.demo;
  } catch {
    // unreachable or not JSON: ask /demo/tokens, which reports the failure
  }
  return undefined;
}

async function demoTokens(uid, groups) {
  const q = new URLSearchParams({ uid, groups: groups.join(',') });
  const res = await fetch(`/demo/tokens?${q}`, { cache: 'no-store' });
  if (res.status === 404) return null;
  if (!res.ok) throw new Error(`/demo/tokens answered ${res.status}`);
  return res.json();
}

function identity() {
  const uid = $('uid').value.trim() || 'demo';
  const groups = $('groups')
    .value.split(',')
    .map((g) => g.trim())
    .filter(Boolean);
  return { uid, groups };
}

function showState(state, info) {
  const dot = $('status-dot');
  dot.dataset.state = state;
  const via = info?.transport ? ` · ${info.transport === 'sse' ? 'SSE' : 'long-poll'}` : '';
  text($('status-text'), `${STATE_TEXT[state] ?? state}${state === 'open' ? via : ''}`);
  text(
    $('f-transport'),
    info?.transport ? (info.transport === 'sse' ? 'Server-Sent Events' : 'long-poll') : '–',
  );
  text($('f-role'), ROLE_TEXT[info?.role] ?? '–');
  document.body.dataset.state = state;
}

function showLastId() {
  text($('f-last'), push?.lastEventId ?? '–');
}

function renderListening() {
  text($('listening'), [...listening].join(', '));
}

function addItem(kind, title, id, body) {
  const li = document.createElement('li');
  li.className = `item ${kind}`;
  const head = document.createElement('div');
  head.className = 'item-head';
  const badge = document.createElement('span');
  badge.className = 'event';
  badge.textContent = title;
  const meta = document.createElement('span');
  meta.className = 'meta';
  meta.textContent = `${new Date().toLocaleTimeString()}${id ? ` · ${id}` : ''}`;
  head.append(badge, meta);
  const pre = document.createElement('pre');
  pre.textContent = body;
  li.append(head, pre);
  const feed = $('feed');
  feed.prepend(li);
  while (feed.children.length > MAX_ITEMS) feed.lastElementChild.remove();
  $('empty').hidden = true;
  text($('count'), String(++received));
}

function onMessage(m) {
  addItem('msg', m.event, m.id, typeof m.data === 'string' ? m.data : JSON.stringify(m.data, null, 2));
  showLastId();
}

function onReset(r) {
  addItem(
    'reset',
    'reset',
    r.id,
    `History could not be replayed (${r.reason}). An app reloads its state here; live messages continue.`,
  );
  showLastId();
}

function onDisconnect(d) {
  addItem(
    'reset',
    'disconnect',
    '',
    d.reconnect
      ? `The server ended the connection (${d.reason}); reconnecting.`
      : `The server ended the connection (${d.reason}) and asked not to reconnect. Reload, or connect again, to start over.`,
  );
}

/** The unverified claims of a pasted token, only to show whom it belongs to. */
function claimsOf(token) {
  try {
    const json = atob(token.split('.')[1].replace(/-/g, '+').replace(/_/g, '/'));
    return JSON.parse(new TextDecoder().decode(Uint8Array.from(json, (c) => c.charCodeAt(0))));
  } catch {
    return {};
  }
}

function showWho(uid, groups) {
  text($('f-user'), uid === undefined ? '–' : String(uid));
  text($('f-groups'), groups.length ? groups.join(', ') : 'none');
}

async function start() {
  if (push) push.close();
  push = null;
  const { uid, groups } = identity();
  const transport = $('transport').value;
  showState('connecting', null);
  showWho(uid, groups);
  let options;
  if (demoMode === null && (await serverIsDemo()) === false) demoMode = false;
  if (demoMode !== false) {
    let tokens;
    try {
      tokens = await demoTokens(uid, groups);
    } catch (err) {
      showState('closed', null);
      text($('status-text'), 'Server unreachable');
      text($('f-role'), `${err.message}; press Reconnect`);
      return;
    }
    demoMode = tokens !== null;
    if (tokens) {
      publisher = tokens.publisher;
      options = {
        token: tokens.subscriber,
        getToken: () => demoTokens(uid, groups).then((t) => t.subscriber),
      };
    }
  }
  $('mode-badge').textContent = demoMode ? 'demo mode' : 'production';
  $('token-fields').hidden = demoMode;
  $('who-row').hidden = !demoMode;
  if (!demoMode) {
    $('switch').open = true;
    text($('switch').querySelector('summary'), 'Tokens');
    text($('identity').querySelector('button'), 'Connect');
    publisher = $('pub-token').value.trim();
    const subscriber = $('sub-token').value.trim();
    if (!subscriber) {
      showState('closed', null);
      showWho(undefined, []);
      text($('status-text'), 'Needs a token');
      renderCurl();
      return;
    }
    const claims = claimsOf(subscriber);
    showWho(claims.sub, Array.isArray(claims.groups) ? claims.groups : []);
    options = { token: subscriber };
    switchedTo(
      claims.sub === undefined ? '' : String(claims.sub),
      Array.isArray(claims.groups) ? claims.groups : [],
    );
  } else {
    switchedTo(uid, groups);
  }
  push = connect({
    ...options,
    transport,
    events: [...listening],
    onMessage,
    onReset,
    onDisconnect,
    onStateChange: (state, info) => {
      showState(state, info);
      showLastId();
    },
    onError: (err) => text($('status-text'), `Disconnected: ${err.message}`),
  });
  showState(push.state, { transport: push.transport, role: push.role });
  renderCurl();
}

/**
 * Connecting as someone else starts a new conversation: the push form now addresses the new user
 * (or their first group) and the previous user's messages leave the feed.
 */
function switchedTo(uid, groups) {
  if (connectedAs !== null && connectedAs !== uid) clearFeed();
  connectedAs = uid;
  const target = $('push-form').elements.target.value;
  if (target === 'to' && uid) $('target-name').value = uid;
  if (target === 'group') $('target-name').value = groups[0] ?? $('target-name').value;
}

function clearFeed() {
  $('feed').replaceChildren();
  received = 0;
  text($('count'), '0');
  $('empty').hidden = false;
}

function pushBody() {
  const form = $('push-form');
  const target = form.elements.target.value;
  const name = $('target-name').value.trim();
  const event = $('event').value.trim() || 'message';
  const raw = $('data').value;
  let data;
  try {
    data = raw.trim() === '' ? null : JSON.parse(raw);
  } catch {
    return { error: 'Data must be valid JSON, e.g. {"text": "hi"} or "hi".' };
  }
  const body = {};
  if (target === 'to') body.to = name;
  if (target === 'group') body.group = name;
  if (event !== 'message') body.event = event;
  body.data = data;
  return { body, event };
}

function shellQuote(s) {
  return `'${s.replace(/'/g, `'\\''`)}'`;
}

function renderCurl() {
  const { body } = pushBody();
  const token = publisher || '<publisher token>';
  const json = body ? JSON.stringify(body) : '{"data": …}';
  text(
    $('curl'),
    `curl -X POST ${shellQuote(`${location.origin}/push`)} \\\n  -H ${shellQuote(`Authorization: Bearer ${token}`)} \\\n  -H 'Content-Type: application/json' \\\n  -d ${shellQuote(json)}`,
  );
}

function syncTargetLabel() {
  const target = $('push-form').elements.target.value;
  const label = $('target-label');
  const input = $('target-name');
  label.firstChild.textContent = target === 'group' ? 'Group ' : 'User id ';
  input.disabled = target === 'all';
  if (target === 'group' && input.value === identity().uid) input.value = identity().groups[0] ?? 'news';
  if (target === 'to' && identity().groups.includes(input.value)) input.value = identity().uid;
  renderCurl();
}

async function send(ev) {
  ev.preventDefault();
  const error = $('push-error');
  const result = $('push-result');
  const { body, event, error: bad } = pushBody();
  error.hidden = !bad;
  if (bad) {
    text(error, bad);
    return;
  }
  if (!publisher) {
    error.hidden = false;
    text(error, 'Paste a publisher token above to push from this page.');
    return;
  }
  if (!listening.has(event)) {
    listening.add(event);
    push?.on(event, () => {}); // the feed shows it through onMessage
    renderListening();
  }
  $('send').disabled = true;
  text(result, 'Sending…');
  try {
    const res = await fetch('/push', {
      method: 'POST',
      headers: { authorization: `Bearer ${publisher}`, 'content-type': 'application/json' },
      body: JSON.stringify(body),
    });
    const answer = await res.json();
    if (!res.ok) throw new Error(answer.message || `push answered ${res.status}`);
    const n = answer.delivered;
    text(
      result,
      `Sent ${answer.id} · ${answer.online ? `delivered to ${n} connection${n === 1 ? '' : 's'}` : 'nobody online'}`,
    );
  } catch (err) {
    error.hidden = false;
    text(error, err.message);
    text(result, '');
  } finally {
    $('send').disabled = false;
  }
}

$('identity').addEventListener('submit', (ev) => {
  ev.preventDefault();
  start();
});
$('reconnect').addEventListener('click', () => start());
$('push-form').addEventListener('submit', send);
$('push-form').addEventListener('input', renderCurl);
$('push-form').addEventListener('change', syncTargetLabel);
$('pub-token').addEventListener('input', () => {
  publisher = $('pub-token').value.trim();
  renderCurl();
});
$('clear').addEventListener('click', clearFeed);
$('copy-curl').addEventListener('click', async () => {
  try {
    await navigator.clipboard.writeText($('curl').textContent);
    text($('copy-curl'), 'Copied');
  } catch {
    text($('copy-curl'), 'Select and copy');
  }
  setTimeout(() => text($('copy-curl'), 'Copy'), 1500);
});

renderListening();
renderCurl();
start();
