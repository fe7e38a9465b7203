// A small GraphQL client for the seed: it goes through the public API like any client, so every invariant
// (counters, events, fan-out, notifications, media checks) holds for the demo data.

export class ApiError extends Error {
  constructor(
    message: string,
    readonly code: string | undefined,
  ) {
    super(message);
    this.name = 'ApiError';
  }
}

export interface Api {
  <T = Record<string, any>>(query: string, variables?: Record<string, unknown>, token?: string): Promise<T>;
}

export function createApi(url: string): Api {
  return async (query, variables = {}, token) => {
    const response = await fetch(url, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...(token ? { authorization: `Bearer ${token}` } : {}) },
      body: JSON.stringify({ query, variables }),
    });
    const body = (await response.json()) as {
      data?: any;
      errors?: { message: string; extensions?: { code?: string } }[];
    };
    const error = body.errors?.[0];
    if (error) throw new ApiError(error.message, error.extensions?.code);
    return body.data;
  };
}

/** The browser's part of an upload: the ticket's fields, then the file, as multipart/form-data. */
export async function postUpload(
  ticket: { url: string; fields: { name: string; value: string }[] },
  body: Buffer,
  contentType: string,
) {
  const form = new FormData();
  for (const { name, value } of ticket.fields) form.append(name, value);
  form.append('file', new Blob([new Uint8Array(body)], { type: contentType }), 'upload');
  const response = await fetch(ticket.url, { method: 'POST', body: form });
  await response.arrayBuffer();
  if (response.status >= 300) throw new Error(`upload refused: HTTP ${response.status}`);
}
