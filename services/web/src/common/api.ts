/** A refused request, as the API's SCIM error body describes it. */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly detail: string,
    readonly scimType?: string,
  ) {
    super(detail);
    this.name = 'ApiError';
  }
}

/** What every call adds to the request: the setup link's bearer secret, or the console's CSRF token. */
export type Authorize = (headers: Headers) => void;

/**
 * One JSON call to this origin's API. Answers other than 2xx become an ApiError carrying the
 * SCIM error's detail, which pages show as it is: the API words them for people.
 */
export async function callApi<T>(authorize: Authorize, path: string, init: { method?: string; body?: unknown } = {}): Promise<T> {
  const headers = new Headers({ Accept: 'application/scim+json, application/json' });
  if (init.body !== undefined) headers.set('Content-Type', 'application/json');
  authorize(headers);
  let res: Response;
  try {
    res = await fetch(path, {
      method: init.method ?? 'GET',
      headers,
      body: init.body === undefined ? undefined : JSON.stringify(init.body),
      credentials: 'same-origin',
      cache: 'no-store',
    });
  } catch {
    throw new ApiError(0, 'The server could not be reached. Check your connection and try again.');
  }
  const text = await res.text();
  const body = text ? safeJson(text) : undefined;
  if (!res.ok) {
    const error = body as { detail?: string; scimType?: string } | undefined;
    throw new ApiError(res.status, error?.detail ?? `The server answered ${res.status}.`, error?.scimType);
  }
  return body as T;
}

function safeJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}
