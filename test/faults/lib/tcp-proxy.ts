import net from 'node:net';

// A TCP proxy in front of the API that can swallow a response: when the API starts answering a
// request chosen by its Idempotency-Key, the proxy keeps the bytes, cuts the client's
// connection and calls onDrop (which kills the API). From the client's side the API died after
// doing the work and before answering: it must retry with the same key.

export interface DroppedResponse {
  key: string;
  /** What the API had started to send (status line, headers, maybe the body). */
  response: string;
  at: number;
}

export interface DropProxy {
  port: number;
  url: string;
  dropped: DroppedResponse[];
  /** Resolves when every onDrop started so far has finished. */
  settled(): Promise<void>;
  close(): Promise<void>;
}

export async function startDropProxy(opts: {
  upstreamPort: number;
  shouldDrop: (idempotencyKey: string) => boolean;
  onDrop: (idempotencyKey: string) => Promise<void>;
}): Promise<DropProxy> {
  const dropped: DroppedResponse[] = [];
  const pending = new Set<Promise<void>>();
  const sockets = new Set<net.Socket>();

  const server = net.createServer((client) => {
    sockets.add(client);
    client.on('close', () => sockets.delete(client));
    const upstream = net.connect(opts.upstreamPort, '127.0.0.1');
    sockets.add(upstream);
    upstream.on('close', () => sockets.delete(upstream));
    let head = '';
    let key: string | undefined;
    let decided = false;

    client.on('data', (chunk: Buffer) => {
      if (key === undefined && head.length < 64 * 1024) {
        head += chunk.toString('latin1');
        key = /\r\nidempotency-key:\s*([^\r\n]+)/i.exec(head)?.[1]?.trim();
      }
      upstream.write(chunk);
    });
    upstream.on('data', (chunk: Buffer) => {
      if (!decided) {
        decided = true;
        if (key !== undefined && opts.shouldDrop(key)) {
          dropped.push({ key, response: chunk.toString('latin1'), at: Date.now() });
          client.destroy();
          upstream.destroy();
          const p = opts.onDrop(key).finally(() => pending.delete(p));
          pending.add(p);
          return;
        }
      }
      if (!client.destroyed) client.write(chunk);
    });
    upstream.on('end', () => client.end());
    client.on('end', () => upstream.end());
    upstream.on('error', () => client.destroy());
    client.on('error', () => upstream.destroy());
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const port = (server.address() as net.AddressInfo).port;
  return {
    port,
    url: `http://127.0.0.1:${port}`,
    dropped,
    async settled() {
      while (pending.size > 0) await Promise.all([...pending]);
    },
    async close() {
      for (const s of sockets) s.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
