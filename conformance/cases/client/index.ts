import type { Case, CaseContext } from '../../framework/types.js';

/** Every client-mode case, in report order. */
export const clientCases: readonly Case<CaseContext>[] = [];
