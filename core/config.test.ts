import { describe, expect, it } from 'vitest';
import { loadConfig } from './config.ts';

describe('config', () => {
  it('has the documented defaults', () => {
    const c = loadConfig({});
    expect(c).toMatchObject({ port: 8080, host: '127.0.0.1', databaseUrl: undefined, demo: true, leaseSeconds: 600 });
    expect(c.dataDir.endsWith('/data')).toBe(true);
  });
  it('reads every variable', () => {
    const c = loadConfig({
      PORT: '9000',
      HOST: '0.0.0.0',
      DATABASE_URL: 'postgres://u@h/db',
      FURROW_DEMO: '0',
      FURROW_ADMIN_KEY: 'k'.repeat(20),
      FURROW_TF_BACKEND: 'cpu',
    });
    expect(c).toMatchObject({ port: 9000, host: '0.0.0.0', databaseUrl: 'postgres://u@h/db', demo: false, adminKey: 'k'.repeat(20), tfBackend: 'cpu' });
  });
  it('lists every bad variable at once', () => {
    expect(() => loadConfig({ PORT: 'abc', DATABASE_URL: 'mysql://x', FURROW_ADMIN_KEY: 'short' })).toThrow(/PORT[\s\S]*DATABASE_URL[\s\S]*FURROW_ADMIN_KEY/);
  });
  it('reads FURROW_ROLE: all by default, api and worker on PostgreSQL', () => {
    expect(loadConfig({}).role).toBe('all');
    expect(loadConfig({ FURROW_ROLE: 'api', DATABASE_URL: 'postgres://u@h/db' }).role).toBe('api');
    expect(loadConfig({ FURROW_ROLE: 'worker', DATABASE_URL: 'postgres://u@h/db' }).role).toBe('worker');
    expect(() => loadConfig({ FURROW_ROLE: 'both' })).toThrow(/FURROW_ROLE/);
  });
  it('refuses FURROW_ROLE api or worker on PGlite, which serves one process', () => {
    expect(() => loadConfig({ FURROW_ROLE: 'api' })).toThrow(/FURROW_ROLE: "api" needs PostgreSQL \(set DATABASE_URL\)/);
    expect(() => loadConfig({ FURROW_ROLE: 'worker', DATABASE_URL: '' })).toThrow(/FURROW_ROLE: "worker" needs PostgreSQL/);
  });
});
