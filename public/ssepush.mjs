// ES-module entry of the ssepush browser client: `import { connect } from '/ssepush.mjs'`.
// The client itself lives in ssepush.js (a classic script that also works as a module).
import './ssepush.js';

const SsePush = globalThis.SsePush;

export const connect = SsePush.connect;
export const version = SsePush.version;
export default SsePush;
