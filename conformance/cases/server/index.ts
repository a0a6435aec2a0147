import type { ServerCase } from './util.js';
import { admissionCases } from './admission.js';
import { backpressureCases } from './backpressure.js';
import { closeCodeCases, drainCases, driftCases } from './drift-drain.js';
import { frameCases } from './frames.js';
import { handshakeCases } from './handshake.js';
import { hardeningCases } from './hardening.js';
import { httpCarrierCases } from './http-carrier.js';
import { httpFlowCases } from './http-flow.js';
import { livenessCases } from './liveness.js';
import { multiNodeCases } from './multi-node.js';
import { resumeCases } from './resume.js';
import { sequencingCases } from './sequencing.js';
import { specAnswerServerCases } from './spec-answers.js';
import { wireCases } from './wire.js';

/** Every server-mode case, in report order. */
export const serverCases: readonly ServerCase[] = [
  ...handshakeCases,
  ...admissionCases,
  ...wireCases,
  ...frameCases,
  ...livenessCases,
  ...sequencingCases,
  ...resumeCases,
  ...backpressureCases,
  ...driftCases,
  ...closeCodeCases,
  ...drainCases,
  ...multiNodeCases,
  ...specAnswerServerCases,
  ...hardeningCases,
  ...httpCarrierCases,
  ...httpFlowCases,
];
