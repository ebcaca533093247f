import * as SsePush from './ssepush.js';

export * from './ssepush.js';
export default SsePush;
