import { ForbiddenError, UnauthorizedError, ValidationError } from '../core/errors.ts';
import type { Role } from '../core/types.ts';
import type { Db } from '../db/client.ts';
import { countAdminKeys, findKeyBySecret, insertKey } from '../db/repositories/keys.ts';

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
 * On an empty key table, creates the first admin key: FURROW_ADMIN_KEY when given, else a random one that
 * is returned once (the caller prints it). Returns null when an admin key already exists.
 */
export async function ensureAdminKey(db: Db, configured?: string): Promise<{ secret: string; generated: boolean } | null> {
  if ((await countAdminKeys(db)) > 0) return null;
  const { secret } = await insertKey(db, { projectId: null, role: 'admin', name: 'admin', secret: configured });
  return { secret, generated: configured === undefined };
}

/** Creates a project key; admin keys are global and not made per project. */
export async function createProjectKey(db: Db, projectId: string, role: Role, name: string) {
  if (role === 'admin') throw new ValidationError('Admin keys are global, not per project: choose engineer, annotator or client.', undefined, 'invalid_role');
  const { row, secret } = await insertKey(db, { projectId, role, name });
  return { id: row.id, role: row.role, name: row.name, key: secret, projectId };
}
