import { parseConfig } from '../config';
import { ensureDatabase, migrate } from '../db/migrate';

async function main() {
  const config = parseConfig();
  await ensureDatabase(config.databaseUrl);
  await migrate(config.databaseUrl);
  console.log('migrations applied');
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
