import type { ServerCase } from './util.js';
import { backpressureCases } from './backpressure.js';
import { closeCodeCases, drainCases, driftCases } from './drift-drain.js';
import { handshakeCases } from './handshake.js';
import { hardeningCases } from './hardening.js';
import { livenessCases } from './liveness.js';
import { resumeCases } from './resume.js';
import { sequencingCases } from './sequencing.js';
import { wireCases } from './wire.js';

/** Every server-mode case, in report order. */
export const serverCases: readonly ServerCase[] = [
  ...handshakeCases,
  ...wireCases,
  ...livenessCases,
  ...sequencingCases,
  ...resumeCases,
  ...backpressureCases,
  ...driftCases,
  ...closeCodeCases,
  ...drainCases,
  ...hardeningCases,
];
