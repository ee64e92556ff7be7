import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { REGISTRY_URL } from './stack';

/** A pass-through proxy to the real registry that can be switched off (connections dropped, like a dead host). */
export async function switchableRegistry(
  initiallyUp = true,
): Promise<{ url: string; up: boolean; requests: number; refused: number; close(): Promise<void> }> {
  const target = new URL(REGISTRY_URL);
  const state = { up: initiallyUp, requests: 0, refused: 0 };
  const server: Server = createServer((req, res) => {
    state.requests += 1;
    if (!state.up) {
      state.refused += 1;
      req.socket.destroy();
      return;
    }
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const body = chunks.length ? Buffer.concat(chunks) : undefined;
      fetch(`${target.origin}${req.url ?? '/'}`, {
        method: req.method,
        headers: {
          'content-type': String(req.headers['content-type'] ?? 'application/json'),
          accept: String(req.headers.accept ?? '*/*'),
        },
        body: req.method === 'GET' || req.method === 'HEAD' ? undefined : body,
      }).then(
        async (r) => {
          res.writeHead(r.status, { 'content-type': r.headers.get('content-type') ?? 'application/json' });
          res.end(Buffer.from(await r.arrayBuffer()));
        },
        () => req.socket.destroy(),
      );
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as AddressInfo).port;
  return Object.assign(state, {
    url: `http://127.0.0.1:${port}${target.pathname}`,
    close: () =>
      new Promise<void>((r) => {
        server.closeAllConnections();
        server.close(() => r());
      }),
  });
}
