/**
 * The dashboard's login page: a form that posts the ops key once and gets an HttpOnly session
 * cookie back. No script, so it works under the strictest content security policy.
 * @module
 */

const escapeHtml = (text: string) =>
  text.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c] ?? c);

/**
 * The login page's HTML.
 * @param action - the path the form posts to
 * @param message - an error to show (invalid key, too many attempts), or undefined
 * @internal
 */
export function loginPage(action: string, message: string | undefined): string {
  const error = message ? `<p class="error" role="alert">${escapeHtml(message)}</p>` : '';
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="referrer" content="same-origin">
<title>taskpulse dashboard: log in</title>
<style>
  body { font: 15px/1.4 system-ui, sans-serif; background: #0f172a; color: #e2e8f0; display: grid; place-items: center; min-height: 100vh; margin: 0; }
  form { background: #1e293b; padding: 2rem; border-radius: 8px; width: min(22rem, 90vw); }
  h1 { font-size: 1.2rem; margin: 0 0 1rem; }
  label { display: block; margin-bottom: .4rem; }
  input { width: 100%; box-sizing: border-box; padding: .5rem; border-radius: 4px; border: 1px solid #475569; background: #0f172a; color: inherit; }
  button { margin-top: 1rem; padding: .5rem 1rem; border: 0; border-radius: 4px; background: #38bdf8; color: #0f172a; font-weight: 600; cursor: pointer; }
  .error { color: #fca5a5; }
  p.hint { color: #94a3b8; font-size: .85rem; }
</style>
</head>
<body>
<form method="post" action="${escapeHtml(action)}">
  <h1>taskpulse operations dashboard</h1>
  ${error}
  <label for="key">Operations API key</label>
  <input id="key" name="key" type="password" autocomplete="current-password" required autofocus>
  <button type="submit">Log in</button>
  <p class="hint">The key is sent once; the hub answers with a session cookie (HttpOnly) that never contains it.</p>
</form>
</body>
</html>
`;
}
