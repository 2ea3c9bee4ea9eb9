/**
 * The dialects a configuration can enable, by name. A new dialect is one entry here and one key
 * in `dialectsConfigSchema`.
 * @module
 */
import type { AuthenticateFn, WsDialect } from '@taskpulse/ws-hub';
import { processorStatusDialect, taskProgressDialect } from '@taskpulse/ws-hub/dialects';
import type { HubSettings } from '../config/resolve';

/** The dialects to mount, and an `authenticate` hook one of them may bring. */
export interface BuiltDialects {
  /** Dialects for `createHub({ dialects })`. */
  dialects: WsDialect[];
  /** Names, for the startup line. */
  names: string[];
  /** Seed 001's query-string identity, when `trustQueryIdentity` is set. */
  authenticate?: (fallback: AuthenticateFn | undefined) => AuthenticateFn;
}

/** Builds the dialects enabled in the settings. */
export function buildDialects(settings: HubSettings): BuiltDialects {
  const built: BuiltDialects = { dialects: [], names: [] };
  const processorStatus = settings.dialects['processor-status'];
  if (processorStatus) {
    const options = typeof processorStatus === 'object' ? processorStatus : {};
    built.dialects.push(
      processorStatusDialect({
        ...(options.path ? { path: options.path } : {}),
        ...(options.channel ? { channel: options.channel } : {}),
        ...(options.restPath !== undefined ? { restPath: options.restPath } : {}),
      }),
    );
    built.names.push('processor-status');
  }
  const taskProgress = settings.dialects['task-progress'];
  if (taskProgress) {
    const options = typeof taskProgress === 'object' ? taskProgress : {};
    const dialect = taskProgressDialect(options.apiPrefix ? { apiPrefix: options.apiPrefix } : {});
    built.dialects.push(dialect);
    built.names.push('task-progress');
    if (options.trustQueryIdentity) {
      built.authenticate = (fallback) => dialect.trustQueryIdentity(fallback ? { fallback } : {});
    }
  }
  return built;
}
