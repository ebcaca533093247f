/**
 * Entry of public/ssepush.mjs: `import { connect } from '/ssepush.mjs'`. Like the module it
 * replaces (which loaded ssepush.js for its side effect) it also defines the global `SsePush`.
 */
import { api } from './index.js';

(globalThis as { SsePush?: typeof api }).SsePush = api;

export { connect, version } from './index.js';
export default api;
