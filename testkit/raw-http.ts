/** Raw HTTP over TCP for tests: the conformance runner's helper, one implementation (conformance/server-mode/raw-http.ts). */
export { rawHttp, upgradeRequest, type RawHttpAnswer, type RawHttpOptions } from '../conformance/server-mode/raw-http.js';
