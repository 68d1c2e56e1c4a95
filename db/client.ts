/**
 * One code path over two drivers: embedded PGlite (default, data under FURROW_DATA_DIR) or postgres.js when
 * DATABASE_URL is set. Migrations run on open.
 */
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { sql } from 'drizzle-orm';
import type { PgDatabase, PgQueryResultHKT } from 'drizzle-orm/pg-core';
import * as schema from './schema.ts';

export type Db = PgDatabase<PgQueryResultHKT, typeof schema>;
/** A transaction handle; repositories accept either. */
export type Tx = Parameters<Parameters<Db['transaction']>[0]>[0];
export type DbOrTx = Db | Tx;

export interface Database {
  db: Db;
  driver: 'pglite' | 'postgres';
  /** Cheap liveness check (`select 1`). */
  ping(): Promise<void>;
  close(): Promise<void>;
  /**
   * PostgreSQL only (undefined on PGlite, whose one process has nothing to tell): `NOTIFY channel, payload`,
   * and `LISTEN channel` on a connection of its own that reconnects by itself. Wake-ups between processes.
   */
  notify?(channel: string, payload: string): Promise<void>;
  listen?(channel: string, onMessage: (payload: string) => void): Promise<{ unlisten(): Promise<void> }>;
}

/** pg_advisory_lock key that serialises migrations between processes ("furrow" as an int). */
const MIGRATION_LOCK = 0x6675_7277;

export const MIGRATIONS_DIR = path.join(path.dirname(fileURLToPath(import.meta.url)), 'migrations');

export interface OpenOptions {
  databaseUrl?: string;
  /** PGlite data directory, or `memory://` for an in-memory database. */
  dataDir: string;
  /** Max connections of the postgres.js pool. */
  poolSize?: number;
}

export async function openDatabase(opts: OpenOptions): Promise<Database> {
  if (opts.databaseUrl) {
    const { default: postgres } = await import('postgres');
    const { drizzle } = await import('drizzle-orm/postgres-js');
    const { migrate } = await import('drizzle-orm/postgres-js/migrator');
    const client = postgres(opts.databaseUrl, {
      // At least 2: migrations hold one connection for the advisory lock while they run on another.
      max: Math.max(2, opts.poolSize ?? 10),
      onnotice: () => {},
      // Fail fast while the server is down, so requests answer 503 instead of hanging.
      connect_timeout: 5,
      // Reconnect attempts back off at most 2 s (the default grows to 20 s): while the server is away requests
      // wait that long before their 503, and once it is back the service answers again within seconds.
      backoff: (retries: number) => Math.min(0.05 * 2 ** retries, 2),
      idle_timeout: 60,
    });
    const db = drizzle(client, { schema }) as unknown as Db;
    // Several processes of a team (API replicas, workers) may start at once: one migrates at a time, the
    // others wait on this session lock and then find nothing left to do.
    const gate = await client.reserve();
    try {
      await gate`select pg_advisory_lock(${MIGRATION_LOCK})`;
      await migrate(db as never, { migrationsFolder: MIGRATIONS_DIR });
    } finally {
      await gate`select pg_advisory_unlock(${MIGRATION_LOCK})`.catch(() => {});
      gate.release();
    }
    return {
      db,
      driver: 'postgres',
      ping: async () => {
        await db.execute(sql`select 1`);
      },
      close: () => client.end({ timeout: 5 }),
      notify: async (channel, payload) => {
        await client.notify(channel, payload);
      },
      listen: async (channel, onMessage) => {
        const l = await client.listen(channel, (payload) => onMessage(payload));
        return { unlisten: () => l.unlisten() };
      },
    };
  }
  const { PGlite } = await import('@electric-sql/pglite');
  const { drizzle } = await import('drizzle-orm/pglite');
  const { migrate } = await import('drizzle-orm/pglite/migrator');
  const memory = opts.dataDir.startsWith('memory://');
  if (!memory) fs.mkdirSync(opts.dataDir, { recursive: true });
  const client = memory ? new PGlite() : new PGlite(path.join(opts.dataDir, 'pg'));
  await client.waitReady;
  const db = drizzle(client, { schema }) as unknown as Db;
  await migrate(db as never, { migrationsFolder: MIGRATIONS_DIR });
  return {
    db,
    driver: 'pglite',
    ping: async () => {
      await db.execute(sql`select 1`);
    },
    close: () => client.close(),
  };
}
