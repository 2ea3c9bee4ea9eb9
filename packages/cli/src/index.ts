/**
 * `@taskpulse/cli`: the `taskpulse-hub` command, and the pieces it is composed of for programs
 * that want the same configuration file without the command (validate a config, start a hub
 * process from it).
 *
 * @packageDocumentation
 */

export type { RunningBridge } from './compose/bridges';
// Composition
export { type HubProcess, ListenError, type StartHubProcessOptions, startHubProcess } from './compose/start-hub';
// Configuration file
export { ConfigError, loadConfigFile, parseConfig } from './config/load';
export {
  type CliInput,
  type HubSettings,
  type JwtSettings,
  type OpsPolicy,
  type RedisSettings,
  resolveSettings,
} from './config/resolve';
export {
  type BridgeConfig,
  bridgeConfigSchema,
  configSchema,
  type HubConfig,
  type NamespaceConfig,
  namespaceConfigSchema,
  type SecretSource,
  secretSchema,
} from './config/schema';
// Command
export { type CliIo, runCli } from './run';
