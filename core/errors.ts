/**
 * Typed, HTTP-free domain errors. The server maps each `code`/`status` pair onto the
 * error shape of API.md (`{error: {code, message, details?}}`); nothing here knows about express.
 */
export class AppError extends Error {
  constructor(
    /** HTTP-like status the server will answer with (4xx/5xx). */
    readonly status: number,
    /** snake_case machine-readable code. */
    readonly code: string,
    message: string,
    readonly details?: unknown,
  ) {
    super(message);
    this.name = new.target.name;
  }
}

export class ValidationError extends AppError {
  constructor(message: string, details?: unknown, code = 'invalid_request') {
    super(400, code, message, details);
  }
}
export class UnauthorizedError extends AppError {
  constructor(message = 'A valid API key is required: send "Authorization: Bearer <key>".') {
    super(401, 'unauthorized', message);
  }
}
export class ForbiddenError extends AppError {
  constructor(message = 'This key does not have the role needed for this route or project.') {
    super(403, 'forbidden', message);
  }
}
export class NotFoundError extends AppError {
  constructor(what: string) {
    super(404, 'not_found', `${what} was not found.`);
  }
}
export class ConflictError extends AppError {
  constructor(message: string, code = 'conflict', details?: unknown) {
    super(409, code, message, details);
  }
}
export class PayloadTooLargeError extends AppError {
  constructor(limit: string) {
    super(413, 'payload_too_large', `The request body is larger than the limit of ${limit}.`);
  }
}
export class UnsupportedMediaTypeError extends AppError {
  constructor(message: string) {
    super(415, 'unsupported_media_type', message);
  }
}
export class ServiceUnavailableError extends AppError {
  constructor(message = 'The database is unavailable; try again shortly.') {
    super(503, 'service_unavailable', message);
  }
}

/** Longest error text written to a log line or a job's `error`. */
export const MAX_ERROR_TEXT = 2_000;

/**
 * An error as text fit for a log line or a job record: a failed database query is shown by the database's
 * own message and the start of its SQL, without the bound values (drizzle's message carries them all: a
 * 10,000-item insert is tens of megabytes of user data), and anything longer is cut at MAX_ERROR_TEXT.
 * `withStack` adds the stack frames.
 */
export function describeError(err: unknown, withStack = false): string {
  if (!(err instanceof Error)) return cut(String(err));
  const query = /^Failed query: ([\s\S]*?)\nparams: /.exec(err.message);
  const text = query ? `${err.cause instanceof Error ? err.cause.message : 'database error'} (query: ${cut(query[1], 200)})` : cut(err.message);
  if (!withStack) return text;
  return [`${err.name}: ${text}`, ...(err.stack ?? '').split('\n').filter((l) => /^\s+at /.test(l))].join('\n');
}

function cut(text: string, max = MAX_ERROR_TEXT): string {
  return text.length > max ? `${text.slice(0, max)}… (${text.length} characters)` : text;
}

/**
 * The speech engine (pocketsphinx, its headers, a C compiler) is not installed, so the recogniser cannot start.
 * The message names the Debian packages to install.
 */
export class SpeechEngineUnavailableError extends AppError {
  constructor(message: string, details?: unknown) {
    super(503, 'speech_engine_unavailable', message, details);
  }
}

/** Why a clip could not be transcribed: the worker crashed or hung twice, rejected the audio, or the pool closed. */
export type TranscriptionFailure = 'crashed' | 'timeout' | 'rejected' | 'closed';

/**
 * A clip could not be transcribed. `reason` says why; `exitCode`/`signal` describe the worker's last exit when it
 * died on the clip. Audio the decoder rejects is the client's problem (422); a crash, a hang or a closed pool is ours.
 */
export class TranscriptionError extends AppError {
  constructor(
    message: string,
    readonly reason: TranscriptionFailure,
    readonly exitCode: number | null = null,
    readonly signal: string | null = null,
  ) {
    super(reason === 'rejected' ? 422 : 500, 'transcription_failed', message, { reason, exitCode, signal });
  }
}

/** A speech model could not be built or loaded (its workers did not start); the previous model keeps serving. */
export class SpeechModelError extends AppError {
  constructor(message: string, details?: unknown) {
    super(500, 'speech_model_failed', message, details);
  }
}
