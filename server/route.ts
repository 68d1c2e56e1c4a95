import type { Request, Response } from 'express';
import type { z } from 'zod';
import type { Role } from '../core/types.ts';
import type { ProjectRow } from '../db/repositories/projects.ts';
import type { Principal } from '../pipelines/access.ts';

/**
 * Who may call a route: `public` (no key), a list of roles (admin always passes), or `project-member`
 * (any role of the project in the path). Project routes take the project from the `:id` path parameter.
 */
export type Access = 'public' | 'project-member' | readonly Role[];

export interface RouteInput<B, Q> {
  principal: Principal | null;
  /** The project of `:id`, loaded after the key was checked against it. */
  project: ProjectRow | null;
  body: B;
  query: Q;
  params: Record<string, string>;
  req: Request;
  res: Response;
}

/** What a handler returns: a JSON answer, or `undefined` when it wrote the response itself (streams). */
export type RouteResult = { status?: number; body: unknown } | undefined;

/** One HTTP route: its contract (validation + OpenAPI) and its handler, declared once. */
export interface RouteDef<B extends z.ZodType = z.ZodType, Q extends z.ZodType = z.ZodType> {
  method: 'get' | 'post' | 'patch' | 'delete';
  path: string;
  /**
   * The OpenAPI operationId (camelCase, unique). Derived from the method and path when absent
   * (`GET /api/projects/:id/items/:itemId` -> `getProjectItem`); set it only to keep a name stable across a path change.
   */
  operationId?: string;
  summary: string;
  tag: string;
  access: Access;
  /** Load and check the project of `:id`. */
  project?: boolean;
  body?: B;
  /**
   * The body as documented, when `body` validates loosely on purpose (each item is checked by the pipeline, so
   * one bad item is reported by index instead of failing the whole request). Defaults to `body`.
   */
  docBody?: z.ZodType;
  /** Extra request content types accepted besides JSON (e.g. NDJSON); the handler gets the raw text. */
  rawTypes?: string[];
  /**
   * The handler checks HTTP Basic credentials itself (Label Studio's ML-backend protocol) under `access: 'public'`;
   * the document then names the `basic` scheme instead of none.
   */
  basicAuth?: boolean;
  /** Request content types the handler streams from `req` itself (no body parser, no body limit: it sets its own). */
  streamTypes?: string[];
  query?: Q;
  responses: { status: number; description: string; schema?: z.ZodType; contentType?: string }[];
  /** The answer carries a secret shown only once (a new API key): an Idempotency-Key retry does not replay it. */
  secretInAnswer?: boolean;
  handler: (input: RouteInput<z.infer<B>, z.infer<Q>>) => Promise<RouteResult>;
}

/** Declares a route with its types inferred from its schemas. */
export function route<B extends z.ZodType, Q extends z.ZodType>(def: RouteDef<B, Q>): RouteDef {
  return def as unknown as RouteDef;
}
