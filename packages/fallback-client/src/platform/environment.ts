/**
 * The page around the client: visibility (`document.visibilityState`) and connectivity
 * (`navigator.onLine`, `online`/`offline` events). Outside a browser the page is always visible
 * and online. Injectable for tests and for hosts with their own notion of both.
 * @module
 */
import type { ClientEnvironment } from '../types';

interface EventTargetLike {
  addEventListener(type: string, listener: () => void): void;
  removeEventListener(type: string, listener: () => void): void;
}

/** The browser's environment, or an always-visible, always-online one elsewhere. */
export function defaultEnvironment(): ClientEnvironment {
  const g = globalThis as {
    document?: EventTargetLike & { visibilityState?: string };
    navigator?: { onLine?: boolean };
    addEventListener?: EventTargetLike['addEventListener'];
    removeEventListener?: EventTargetLike['removeEventListener'];
  };
  const doc = g.document;
  return {
    isHidden: () => doc?.visibilityState === 'hidden',
    isOnline: () => g.navigator?.onLine !== false,
    listen(listener) {
      const onVisibility = () => listener.visibility(doc?.visibilityState === 'hidden');
      const onOnline = () => listener.connectivity(true);
      const onOffline = () => listener.connectivity(false);
      doc?.addEventListener('visibilitychange', onVisibility);
      const win = typeof g.addEventListener === 'function' ? (g as EventTargetLike) : undefined;
      win?.addEventListener('online', onOnline);
      win?.addEventListener('offline', onOffline);
      return () => {
        doc?.removeEventListener('visibilitychange', onVisibility);
        win?.removeEventListener('online', onOnline);
        win?.removeEventListener('offline', onOffline);
      };
    },
  };
}
