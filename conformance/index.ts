/**
 * The conformance suite as a library (`lifeline/conformance`): run the catalogue against a server
 * URL or a client command from your own test runner, and write the JSON or JUnit report. The
 * `lifeline conformance` command is a thin shell over these.
 *
 * @module lifeline/conformance
 */
export { DEFAULT_RUNS, DEFAULT_TIMEOUT_MS, runConformance, writeReports, type ConformanceOptions, type ConformanceResult } from './run.js';
export { catalogue, selectCases } from './catalogue.js';
export { loadConfig, parseConfig, referenceClientConfig, referenceServerConfig, type ClientConfig, type ImplConfig, type ServerConfig } from './config.js';
export { FEATURES, type Case, type CaseContext, type CaseResult, type Feature, type Level, type Mode, type Verdict } from './framework/types.js';
export type { Hooks } from './server-mode/hooks.js';
export type { RunSummary } from './framework/runner.js';
export type { Coverage } from './framework/coverage.js';
export type { JsonReport } from './framework/report.js';
