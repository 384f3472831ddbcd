import http from 'node:http';
import type { AddressInfo, Socket } from 'node:net';

// A real HTTP receiver of webhooks, scripted per test: each request is recorded (headers and the
// raw body, as a receiver must verify them) and answered as the test says: a status, a hang (no
// answer until the receiver closes), or a slow answer.

export interface ReceivedWebhook {
  headers: Record<string, string>;
  body: string;
  json: any;
  at: number;
}

export type Answer = number | 'hang' | { status: number; delayMs?: number; headers?: Record<string, string> };

export interface WebhookReceiver {
  url: string;
  received: ReceivedWebhook[];
  /** How to answer the n-th request (0-based, counted since reset); 200 by default. */
  answer?: (request: ReceivedWebhook, index: number) => Answer;
  reset(): void;
  /** Stops listening (connections refused) until start() again, on the same port. */
  stop(): Promise<void>;
  start(): Promise<void>;
  /** Resolves with the requests recorded once `count` of them match. */
  waitFor(match: (r: ReceivedWebhook) => boolean, count?: number, timeoutMs?: number): Promise<ReceivedWebhook[]>;
  close(): Promise<void>;
}

export async function startWebhookReceiver(): Promise<WebhookReceiver> {
  const sockets = new Set<Socket>();
  let index = 0;
  const self: WebhookReceiver = {
    url: '',
    received: [],
    reset() {
      self.received.length = 0;
      self.answer = undefined;
      index = 0;
    },
    // Generous: on a loaded 2-core host a delivery has been seen to wait more than 20 s.
    async waitFor(match, count = 1, timeoutMs = 40_000) {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const found = self.received.filter(match);
        if (found.length >= count) return found;
        if (Date.now() > deadline) {
          throw new Error(
            `receiver: ${found.length} of ${count} matching requests after ${timeoutMs} ms; got ${self.received.map((r) => r.json?.type).join(', ')}`,
          );
        }
        await new Promise((r) => setTimeout(r, 50));
      }
    },
    stop: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
    start: () => new Promise<void>((resolve) => server.listen(port, '127.0.0.1', () => resolve())),
    close: () => (server.listening ? self.stop() : Promise.resolve()),
  };
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const body = Buffer.concat(chunks).toString('utf8');
      let json: unknown;
      try {
        json = JSON.parse(body);
      } catch {
        json = undefined;
      }
      const request: ReceivedWebhook = { headers: req.headers as Record<string, string>, body, json, at: Date.now() };
      self.received.push(request);
      const answer = self.answer?.(request, index++) ?? 200;
      if (answer === 'hang') return;
      const { status, delayMs = 0, headers = {} } = typeof answer === 'number' ? { status: answer } : answer;
      setTimeout(() => res.writeHead(status, { 'content-type': 'text/plain', ...headers }).end(`answered ${status}`), delayMs);
    });
  });
  server.on('connection', (s) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  let port = 0;
  await self.start();
  port = (server.address() as AddressInfo).port;
  self.url = `http://127.0.0.1:${port}/hooks`;
  return self;
}
