/**
 * Recovery for a lost admin key: `npm run admin-key` creates a new admin key on the database the server uses
 * (DATABASE_URL, or PGlite under FURROW_DATA_DIR: stop the server first, PGlite allows one process) and prints
 * it once; `npm run admin-key -- --reset` also revokes every other admin key.
 */
import { Command } from 'commander';
import { loadConfig } from '../core/config.ts';
import { openDatabase } from '../db/client.ts';
import { createAdminKey } from '../pipelines/access.ts';

const program = new Command('admin-key')
  .description('Create a new admin key on the configured database and print it once.')
  .option('--reset', 'also revoke every other admin key')
  .parse();
const opts = program.opts<{ reset?: boolean }>();

const config = loadConfig();
const database = await openDatabase({ databaseUrl: config.databaseUrl, dataDir: config.dataDir, poolSize: 1 });
try {
  const { secret, revoked } = await createAdminKey(database.db, { revokeOthers: opts.reset });
  process.stdout.write(`Admin key (shown once, store it now): ${secret}\n`);
  if (opts.reset) process.stdout.write(`Revoked ${revoked} other admin key(s).\n`);
} finally {
  await database.close();
}
