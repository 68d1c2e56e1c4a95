import { describe, expect, it } from 'vitest';
import { createLabelStudioMedia } from './media.ts';

function jwt(payload: Record<string, unknown>): string {
  const part = (o: unknown) => Buffer.from(JSON.stringify(o)).toString('base64url');
  return `${part({ alg: 'HS256' })}.${part(payload)}.sig`;
}

/** A fetch that records calls and answers from a table of `METHOD url` -> response. */
function fakeFetch(routes: Record<string, () => Response>) {
  const calls: { url: string; method: string; auth?: string; body?: string }[] = [];
  const fn = (async (input: string | URL | Request, init?: RequestInit) => {
    const url = String(input);
    const method = init?.method ?? 'GET';
    const headers = new Headers(init?.headers);
    calls.push({ url, method, auth: headers.get('authorization') ?? undefined, body: init?.body as string | undefined });
    const route = routes[`${method} ${url}`];
    return route ? route() : new Response('no', { status: 404 });
  }) as typeof fetch;
  return { fn, calls };
}

describe('Label Studio media', () => {
  it('exchanges a personal access token for a Bearer access token, once while it is valid', async () => {
    const pat = jwt({ token_type: 'refresh' });
    const access = jwt({ exp: Math.floor(Date.now() / 1000) + 300 });
    const f = fakeFetch({
      'POST http://ls:8080/api/token/refresh/': () => Response.json({ access }),
      'GET http://ls:8080/storage-data/uploaded/?filepath=upload%2F1%2Fa.png': () => new Response(new Uint8Array([1, 2, 3])),
    });
    const media = createLabelStudioMedia({ url: 'http://ls:8080/', apiKey: pat, fetch: f.fn });
    expect([...(await media.fetchImage('/data/upload/1/a.png', 7))]).toEqual([1, 2, 3]);
    await media.fetchImage('/data/upload/1/a.png', 7);
    expect(f.calls.filter((c) => c.url.endsWith('/api/token/refresh/'))).toHaveLength(1);
    expect(JSON.parse(f.calls[0].body as string)).toEqual({ refresh: pat });
    expect(f.calls[1].auth).toBe(`Bearer ${access}`);
  });

  it('sends the key only to Label Studio, resolves cloud URIs through the presign route, and falls back to /data/upload', async () => {
    const f = fakeFetch({
      'GET https://cdn.example/x.png': () => new Response(new Uint8Array([9])),
      'GET http://ls:8080/tasks/42/presign/?fileuri=czM6Ly9iL2sucG5n': () => new Response(new Uint8Array([8])),
      'GET http://ls:8080/data/upload/2/b.png': () => new Response(new Uint8Array([7])),
    });
    const media = createLabelStudioMedia({ url: 'http://ls:8080', apiKey: 'abc123', fetch: f.fn });
    expect([...(await media.fetchImage('https://cdn.example/x.png', 1))]).toEqual([9]);
    expect(f.calls[0].auth).toBeUndefined();
    expect([...(await media.fetchImage('s3://b/k.png', 42))]).toEqual([8]);
    expect(f.calls[1].auth).toBe('Token abc123');
    expect([...(await media.fetchImage('/data/upload/2/b.png', 1))]).toEqual([7]);
    expect(f.calls.map((c) => c.url).slice(2)).toEqual([
      'http://ls:8080/storage-data/uploaded/?filepath=upload%2F2%2Fb.png',
      'http://ls:8080/data/upload/2/b.png',
    ]);
  });

  it('says what to configure when it cannot fetch, and refuses oversized images', async () => {
    const none = createLabelStudioMedia({});
    await expect(none.fetchImage('/data/upload/1/a.png', 1)).rejects.toThrow(/LABEL_STUDIO_URL/);
    await expect(none.fetchImage('not a url', 1)).rejects.toThrow(/not an image URL/);
    const f = fakeFetch({ 'GET http://ls/a.png': () => new Response(new Uint8Array(100)), 'GET http://ls/b.png': () => new Response('x', { status: 401 }) });
    const small = createLabelStudioMedia({ url: 'http://ls', apiKey: 'k', maxBytes: 10, fetch: f.fn });
    await expect(small.fetchImage('http://ls/a.png', 1)).rejects.toThrow(/over the limit/);
    await expect(small.fetchImage('http://ls/b.png', 1)).rejects.toThrow(/LABEL_STUDIO_API_KEY/);
  });
});
