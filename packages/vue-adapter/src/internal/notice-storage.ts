/**
 * "Don't show again" for the polling notice: localStorage when the browser offers it.
 * @module
 * @internal
 */

/** The browser's localStorage, or null (server, privacy mode, storage disabled). @internal */
function storage(): Storage | null {
  try {
    return typeof localStorage === 'undefined' ? null : localStorage;
  } catch {
    // Reading `localStorage` itself throws when storage is disabled (some privacy settings).
    return null;
  }
}

/** Whether the user asked never to see the notice again. @internal */
export function isNoticeHidden(key: string): boolean {
  try {
    return storage()?.getItem(key) === '1';
  } catch {
    return false;
  }
}

/** Remembers "don't show again"; returns false when it cannot be persisted (then it lasts for the page only). @internal */
export function hideNoticeForever(key: string): boolean {
  const s = storage();
  if (s === null) return false;
  try {
    s.setItem(key, '1');
    return true;
  } catch {
    return false; // quota exceeded or storage disabled
  }
}
