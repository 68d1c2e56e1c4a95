import { ForbiddenError, UnauthorizedError, ValidationError } from '../core/errors.ts';
import type { Role } from '../core/types.ts';
import type { Db } from '../db/client.ts';
import { countAdminKeys, findKeyBySecret, insertKey, keySecretExists, revokeAdminKeys } from '../db/repositories/keys.ts';

/** Who is calling: the key's id, role and (for non-admin keys) the one project it belongs to. */
export interface Principal {
  keyId: string;
  role: Role;
  projectId: string | null;
  name: string;
}

/** Resolves an `Authorization` header value to a principal; 401 if absent, malformed, unknown or revoked. */
export async function authenticate(db: Db, header: string | undefined): Promise<Principal> {
  if (!header) throw new UnauthorizedError();
  const m = /^Bearer\s+(\S{1,512})$/i.exec(header.trim());
  if (!m) throw new UnauthorizedError('The Authorization header must be "Bearer <key>".');
  const row = await findKeyBySecret(db, m[1]);
  if (!row) throw new UnauthorizedError('This API key is not valid (unknown or revoked).');
  return { keyId: row.id, role: row.role, projectId: row.projectId, name: row.name };
}

/** 403 unless the principal is an admin, or holds one of `roles` on `projectId`. */
export function authorize(p: Principal, roles: readonly Role[], projectId?: string): void {
  if (p.role === 'admin') return;
  if (!roles.includes(p.role)) throw new ForbiddenError(`This route needs one of the roles: admin, ${roles.join(', ')}; this key is ${p.role}.`);
  if (projectId !== undefined && p.projectId !== projectId) throw new ForbiddenError('This key belongs to another project.');
}

/**
 * Makes sure the server has an admin key. FURROW_ADMIN_KEY, when given, is added as an admin key unless that
 * secret is already stored (live, or revoked: a revoked key stays revoked), so setting it and restarting gets
 * an operator back in. Without it, on a database with no admin key yet, a random key is created and returned
 * once (the caller prints it). Returns null when nothing was created.
 */
export async function ensureAdminKey(db: Db, configured?: string): Promise<{ secret: string; generated: boolean } | null> {
  if (configured !== undefined) {
    if (await keySecretExists(db, configured)) return null;
    await insertKey(db, { projectId: null, role: 'admin', name: 'admin', secret: configured });
    return { secret: configured, generated: false };
  }
  if ((await countAdminKeys(db)) > 0) return null;
  const { secret } = await insertKey(db, { projectId: null, role: 'admin', name: 'admin' });
  return { secret, generated: true };
}

/**
 * Recovery: creates a new random admin key (returned once) and, with `revokeOthers`, revokes every other admin
 * key. Used by `npm run admin-key` when the first key was lost.
 */
export async function createAdminKey(db: Db, opts: { revokeOthers?: boolean } = {}): Promise<{ secret: string; revoked: number }> {
  return db.transaction(async (tx) => {
    const { row, secret } = await insertKey(tx, { projectId: null, role: 'admin', name: 'admin (recovery)' });
    const revoked = opts.revokeOthers ? await revokeAdminKeys(tx, row.id) : 0;
    return { secret, revoked };
  });
}

/** Creates a project key; admin keys are global and not made per project. */
export async function createProjectKey(db: Db, projectId: string, role: Role, name: string) {
  if (role === 'admin') throw new ValidationError('Admin keys are global, not per project: choose engineer, annotator or client.', undefined, 'invalid_role');
  const { row, secret } = await insertKey(db, { projectId, role, name });
  return { id: row.id, role: row.role, name: row.name, key: secret, projectId };
}
