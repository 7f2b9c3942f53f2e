// Public face of the configuration module.
export {
  type Config, type SyncInterface, type AcceptProtocol, type ExpectProtocol, type SyncMode, type EventSourceName,
  ConfigSchema, TreeSchema, DEFAULTS, ACCEPT_PROTOCOLS, EXPECT_PROTOCOLS, MODES, EVENT_SOURCES, transportOf,
} from './schema.ts';
export { type ConfigIssue, formatIssue } from './issues.ts';
export { type ParseResult, parseConfig, parseConfigJson } from './parse.ts';
export { type HostView, type HostInterface, checkEnvironment, environmentWarnings, readHostView } from './env.ts';
export { configToSetLines, configToJson, hostPort } from './render.ts';
export { type ReloadPlan, type ReloadChange, planReload, LIVE_NODES } from './reload.ts';
export { EXPECT_HELPERS, expectHelperNames, expectHelperMatches } from './expect.ts';
export { type CheckReport, type CheckOptions, checkConfig, formatCheckText, formatCheckJson } from './check.ts';
export { VYOS } from './verify.ts';
