import type { Case, CaseContext } from '../../framework/types.js';
import { closeCodeClientCases } from './close-codes.js';
import { deliveryClientCases } from './delivery.js';
import { httpSwitchClientCases } from './http-switch.js';
import { reconnectClientCases } from './reconnect.js';
import { specAnswerClientCases } from './spec-answers.js';
import { strictClientCases } from './strict.js';

/** Every client-mode case, in report order. */
export const clientCases: readonly Case<CaseContext>[] = [
  ...deliveryClientCases,
  ...reconnectClientCases,
  ...closeCodeClientCases,
  ...specAnswerClientCases,
  ...strictClientCases,
  ...httpSwitchClientCases,
] as readonly Case<never>[] as readonly Case<CaseContext>[];
