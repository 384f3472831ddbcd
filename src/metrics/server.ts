import http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Registry } from 'prom-client';

export interface MetricsServer {
  url: string;
  stop(): Promise<void>;
}

/**
 * GET /metrics in Prometheus text format: the process's registry, followed by what `more` adds
 * (the Temporal Runtime's worker metrics, in a worker). On a port of its own, apart from the API,
 * because its labels name tenants: expose it to Prometheus, not to the world.
 */
export async function startMetricsServer(opts: {
  registry: Registry;
  host: string;
  port: number;
  more?: () => Promise<string>;
}): Promise<MetricsServer> {
  const server = http.createServer((req, res) => {
    if (req.method !== 'GET' || (req.url ?? '').split('?')[0] !== '/metrics') {
      res.writeHead(404, { 'content-type': 'text/plain' }).end('GET /metrics\n');
      return;
    }
    Promise.all([opts.registry.metrics(), opts.more?.() ?? ''])
      .then(([own, more]) => res.writeHead(200, { 'content-type': opts.registry.contentType }).end(more ? `${own}\n${more}` : own))
      .catch((err: Error) => res.writeHead(500, { 'content-type': 'text/plain' }).end(`${err.message}\n`));
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port, opts.host, () => resolve());
  });
  const { port } = server.address() as AddressInfo;
  const host = opts.host === '0.0.0.0' ? '127.0.0.1' : opts.host;
  return {
    url: `http://${host}:${port}/metrics`,
    stop: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}
