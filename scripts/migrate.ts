/**
 * `npm run migrate`: applies the migrations in db/migrations to the configured database (DATABASE_URL, or
 * PGlite under FURROW_DATA_DIR), the same ones the server applies when it starts, and exits. For deployments
 * that migrate before rolling out servers; with PGlite, stop the server first (one process at a time).
 */
import { loadConfig } from '../core/config.ts';
import { openDatabase } from '../db/client.ts';

const config = loadConfig();
const database = await openDatabase({ databaseUrl: config.databaseUrl, dataDir: config.dataDir, poolSize: 1 });
await database.close();
process.stdout.write(`Migrations applied (${database.driver}${config.databaseUrl ? '' : `, ${config.dataDir}`}).\n`);
