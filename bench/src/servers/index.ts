/** Variant lookup by name (each module is imported only when its variant runs). */
import type { Variant, VariantName } from './types';

/** Loads one variant's module. */
export async function loadVariant(name: VariantName): Promise<Variant> {
  switch (name) {
    case 'ws':
      return (await import('./ws-server')).wsVariant;
    case 'ws-twin':
      return (await import('./ws-server')).wsTwinVariant;
    case 'ws-scripted':
      return (await import('./ws-server')).wsScriptedVariant;
    case 'socketio':
      return (await import('./socketio-server')).socketioVariant;
    case 'taskpulse':
      return (await import('./taskpulse-server')).taskpulseVariant;
    case 'taskpulse-unverified':
      return (await import('./taskpulse-server')).taskpulseUnverifiedVariant;
  }
}
