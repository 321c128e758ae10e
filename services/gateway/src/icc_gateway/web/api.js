// The gateway's HTTP JSON API (services/gateway/API.md): one fetch wrapper, one error type.

export class ApiError extends Error {
  constructor(status, code, message, fields = [], retryAfter = null) {
    super(message);
    this.status = status;
    this.code = code;
    this.fields = fields;
    // Seconds to wait before trying again (a 429's or 503's Retry-After), else null.
    this.retryAfter = retryAfter;
  }
}

const CODES = { 400: 'invalid_argument', 401: 'unauthenticated', 403: 'permission_denied', 404: 'not_found', 409: 'conflict', 429: 'resource_exhausted', 503: 'unavailable' };

let onUnauthenticated = () => {};
/** Called when any call but the session ones answers 401 (the session has ended). */
export const setUnauthenticatedHandler = (fn) => {
  onUnauthenticated = fn;
};

/** `api('/incidents', {method: 'POST', body})` -> the parsed JSON (null for 204); throws ApiError. */
export async function api(path, { method = 'GET', body, signal } = {}) {
  let res;
  try {
    res = await fetch(`/api/v1${path}`, {
      method,
      signal,
      credentials: 'same-origin',
      headers: body === undefined ? { Accept: 'application/json' } : { Accept: 'application/json', 'Content-Type': 'application/json' },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
  } catch (e) {
    if (e.name === 'AbortError') throw e;
    throw new ApiError(0, 'network', e.message || String(e));
  }
  if (res.status === 204) return null;
  let data = null;
  try {
    data = await res.json();
  } catch {
    /* an empty or non-JSON body: the status says enough */
  }
  if (!res.ok) {
    const err = (data && data.error) || {};
    const code = err.code || CODES[res.status] || (res.status >= 500 ? 'internal' : 'unknown');
    if (res.status === 401 && !path.startsWith('/session')) onUnauthenticated();
    const wait = Number.parseInt(res.headers.get('Retry-After') ?? '', 10);
    throw new ApiError(res.status, code, err.message || res.statusText, err.fields || [], Number.isFinite(wait) ? wait : null);
  }
  return data;
}
