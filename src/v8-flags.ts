/**
 * V8 flags set before anything else is loaded (imported first by `main.ts`).
 *
 * Allocation-site pretenuring off: with thousands of `GET /events` requests held open, V8 sees
 * Node's per-request objects (`IncomingMessage`, `ServerResponse`, header arrays) survive and
 * starts allocating them straight in old space, for every request, including the short-lived
 * `POST /push` ones; each scavenge then promotes megabytes and its pause grows. Node refuses this
 * flag in `NODE_OPTIONS`, hence `setFlagsFromString` before the server starts. The figures behind
 * it are in `bench/RESULTS.md`. `SSEPUSH_PRETENURING=1` keeps V8's default (for the benchmark).
 */
import { setFlagsFromString } from 'node:v8';

if (process.env.SSEPUSH_PRETENURING !== '1') setFlagsFromString('--no-allocation-site-pretenuring');
