// Thin fetch wrapper for Podium's same-origin JSON API.
//
// Every failure becomes an ApiError with a human `message` that can be shown
// as is. Server errors have the shape
//   {"error": {"code": "...", "message": "...", "field": "email" | null}}
// Network failures and non-JSON answers (e.g. a proxy's HTML error page) get
// a generic message so the UI never shows a blank page.

export class ApiError extends Error {
  constructor(status, code, message, field = null) {
    super(message);
    this.name = 'ApiError';
    this.status = status; // 0 when the server could not be reached
    this.code = code;
    this.field = field;
  }
}

function fallbackMessage(status) {
  if (status === 401) return 'Please sign in to continue.';
  if (status === 403) return 'You don’t have permission to do that.';
  if (status === 404) return 'The Podium server did not recognise this request (HTTP 404). Is the server running and up to date?';
  if (status === 409) return 'That conflicts with the current state. Reload and try again.';
  if (status === 413) return 'That is too large for the server to accept.';
  if (status === 429) return 'Too many requests. Please wait a moment and try again.';
  if (status >= 500) return `The server had a problem (HTTP ${status}). Please try again in a moment.`;
  return `The request failed (HTTP ${status}).`;
}

function fallbackCode(status) {
  if (status === 401) return 'unauthenticated';
  if (status === 403) return 'forbidden';
  if (status === 404) return 'not_found';
  if (status === 429) return 'too_many_requests';
  if (status >= 500) return 'server_error';
  return 'http_error';
}

/**
 * Perform a request. Resolves with the parsed JSON body (or null for 204),
 * rejects with ApiError. An AbortError from `signal` is re-thrown untouched.
 */
export async function request(method, path, body, { signal } = {}) {
  const init = {
    method,
    credentials: 'same-origin',
    headers: { Accept: 'application/json' },
    cache: 'no-store',
    signal,
  };
  if (body !== undefined) {
    init.headers['Content-Type'] = 'application/json';
    init.body = JSON.stringify(body);
  }

  let res;
  try {
    res = await fetch(path, init);
  } catch (err) {
    if (err && err.name === 'AbortError') throw err;
    throw new ApiError(0, 'network', 'Could not reach the Podium server. Check your connection and try again.');
  }

  if (res.status === 204 || res.status === 205) return null;

  let data = null;
  const type = res.headers.get('Content-Type') || '';
  if (type.includes('json')) {
    try {
      data = await res.json();
    } catch {
      data = null;
    }
  }

  if (res.ok) {
    if (data === null) {
      throw new ApiError(res.status, 'bad_response', 'The server sent an unexpected response. Please try again.');
    }
    return data;
  }

  const e = data && typeof data === 'object' ? data.error : null;
  if (e && typeof e.message === 'string' && e.message) {
    throw new ApiError(res.status, String(e.code || fallbackCode(res.status)), e.message, e.field ?? null);
  }
  throw new ApiError(res.status, fallbackCode(res.status), fallbackMessage(res.status));
}

export const api = {
  get: (path, opts) => request('GET', path, undefined, opts),
  post: (path, body, opts) => request('POST', path, body === undefined ? {} : body, opts),
  patch: (path, body, opts) => request('PATCH', path, body, opts),
  put: (path, body, opts) => request('PUT', path, body, opts),
  del: (path, opts) => request('DELETE', path, undefined, opts),
  /** DELETE with a JSON body (e.g. a password that confirms it). */
  delWith: (path, body, opts) => request('DELETE', path, body, opts),
};

export default api;
