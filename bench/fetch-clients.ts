/**
 * node-fetch 2 (what the OpenCell and Odoo clients use, with a keep-alive agent) against Node's built-in fetch, on
 * the same in-process HTTP server that answers like OpenCell (a small JSON body after a fixed delay): requests per
 * second, latency and CPU of the process (client and server together) at the projector's default concurrency. Figures for docs/decisions/0007-node-fetch.md; no stack.
 *   npx tsx bench/fetch-clients.ts [requests] [concurrency] [serverDelayMs]
 */
import './env';
import { createServer, Agent } from 'node:http';
import type { AddressInfo } from 'node:net';
import nodeFetch from 'node-fetch';

const REQUESTS = Number(process.argv[2] ?? 20_000);
const CONCURRENCY = Number(process.argv[3] ?? 16);
const DELAY_MS = Number(process.argv[4] ?? 2);
const BODY = JSON.stringify({
  actionStatus: { status: 'SUCCESS', errorCode: null, message: '' },
  customer: { code: 'C1' },
});

type Fetcher = (url: string) => Promise<string>;

async function run(name: string, fetcher: Fetcher, url: string) {
  const lat: number[] = [];
  let next = 0;
  const t0 = performance.now();
  const cpu0 = process.cpuUsage();
  await Promise.all(
    Array.from({ length: CONCURRENCY }, async () => {
      while (next < REQUESTS) {
        next++;
        const s = performance.now();
        const text = await fetcher(url);
        if (text.length !== BODY.length) throw new Error(`${name}: unexpected body`);
        lat.push(performance.now() - s);
      }
    }),
  );
  const wall = (performance.now() - t0) / 1000;
  const cpu = process.cpuUsage(cpu0);
  lat.sort((a, b) => a - b);
  const q = (p: number) => lat[Math.min(lat.length - 1, Math.floor(p * lat.length))].toFixed(2);
  return {
    client: name,
    requestsPerSecond: Math.round(REQUESTS / wall),
    p50Ms: q(0.5),
    p99Ms: q(0.99),
    processCpuMsPerRequest: ((cpu.user + cpu.system) / 1000 / REQUESTS).toFixed(3),
  };
}

async function main() {
  const server = createServer((req, res) => {
    req.resume();
    req.on('end', () =>
      setTimeout(() => {
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end(BODY);
      }, DELAY_MS),
    );
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/opencell/api/rest/account/customer`;
  const agent = new Agent({ keepAlive: true, maxSockets: CONCURRENCY, maxFreeSockets: CONCURRENCY });
  const clients: [string, Fetcher][] = [
    ['node-fetch 2 + keep-alive agent', async (u) => (await nodeFetch(u, { agent })).text()],
    ['built-in fetch (undici)', async (u) => (await fetch(u)).text()],
  ];
  // warm both, then measure each three times, alternating, so neither benefits from running second
  for (const [name, f] of clients) await run(name, f, url).catch((e) => Promise.reject(e));
  const rows = [];
  for (let round = 0; round < 3; round++) for (const [name, f] of clients) rows.push(await run(name, f, url));
  console.log(
    `${REQUESTS} requests, concurrency ${CONCURRENCY}, server delay ${DELAY_MS} ms, Node ${process.version}`,
  );
  console.table(rows);
  agent.destroy();
  server.close();
}

void main();
