import net from 'node:net';
import path from 'node:path';
import type { Config } from '../config';
import { startEmbeddedPostgres, type EmbeddedPostgres } from './embedded-postgres';

/**
 * The PostgreSQL that `npm start` uses: DATABASE_URL when set; unset, the default URL when a
 * server answers there, else an embedded PostgreSQL with its data in HERALD_DATA_DIR/postgres
 * (also what DATABASE_URL=embedded asks for).
 */
export async function provideDatabase(config: Config): Promise<{ url: string; embedded?: EmbeddedPostgres; note?: string }> {
  const { mode, port } = config.embeddedPostgres;
  if (mode === 'never') return { url: config.databaseUrl };
  let why = 'DATABASE_URL=embedded';
  if (mode === 'when-nothing-answers') {
    const { hostname, port: defaultPort } = new URL(config.databaseUrl);
    if (await answers(hostname, Number(defaultPort || 5432))) return { url: config.databaseUrl };
    why = `DATABASE_URL unset and nothing answers on ${hostname}:${defaultPort || 5432}`;
  }
  const embedded = await startEmbeddedPostgres({ dir: path.join(config.dataDir, 'postgres'), port });
  const note = `herald: ${why}: started an embedded PostgreSQL on 127.0.0.1:${port}, data in ${embedded.dir}${embedded.initialized ? ' (created now)' : ''}`;
  return { url: embedded.url, embedded, note };
}

function answers(host: string, port: number, timeoutMs = 1000): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect({ host, port });
    const done = (ok: boolean) => {
      socket.destroy();
      resolve(ok);
    };
    socket.setTimeout(timeoutMs, () => done(false));
    socket.once('connect', () => done(true));
    socket.once('error', () => done(false));
  });
}
