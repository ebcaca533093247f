/**
 * Entry of public/ssepush.js, the classic `<script>`: defines the global `SsePush`, and is
 * `module.exports` where loaded as CommonJS.
 */
import { api } from './index.js';

declare const module: { exports?: unknown } | undefined;

const root: { SsePush?: typeof api } | undefined =
  typeof globalThis !== 'undefined' ? globalThis : typeof self !== 'undefined' ? self : undefined;
if (typeof module === 'object' && module && typeof module.exports === 'object') module.exports = api;
if (root) root.SsePush = api;
