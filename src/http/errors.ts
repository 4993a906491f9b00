/**
 * Errors as HTTP answers (docs/http-api.md "Errors"): each Baton error class has
 * one status; the body is `{ error: { code, message, issues? } }` and never
 * carries a stack trace. Anything unexpected is a 500 with a generic message
 * (the details go to the log, not to the client).
 */
import type { Context } from 'hono';
import type { ContentfulStatusCode } from 'hono/utils/http-status';
import { BatonError, ValidationError } from '../errors.js';

export class HttpError extends Error {
  readonly status: ContentfulStatusCode;
  readonly code: string;
  readonly issues: { path: string; message: string }[] | undefined;

  constructor(status: ContentfulStatusCode, code: string, message: string, issues?: { path: string; message: string }[]) {
    super(message);
    this.status = status;
    this.code = code;
    this.issues = issues;
  }
}

const STATUS_BY_CODE: Record<string, ContentfulStatusCode> = {
  BATON_VALIDATION: 422,
  BATON_RUN_NOT_FOUND: 404,
  BATON_UNKNOWN_TASK: 404,
  BATON_IDEMPOTENCY_CONFLICT: 409,
  BATON_INVALID_STATE: 409,
  BATON_PAYLOAD_TOO_LARGE: 413,
  BATON_SERIALIZATION: 422,
};

export function errorBody(code: string, message: string, issues?: { path: string; message: string }[]) {
  return { error: { code, message, ...(issues && issues.length > 0 ? { issues } : {}) } };
}

/** The response for an error thrown by a route. */
export function toErrorResponse(c: Context, error: unknown, log: (error: unknown) => void): Response {
  if (error instanceof HttpError) return c.json(errorBody(error.code, error.message, error.issues), error.status);
  if (error instanceof BatonError) {
    const status = STATUS_BY_CODE[error.code];
    if (status) {
      const issues = error instanceof ValidationError ? error.issues : undefined;
      return c.json(errorBody(error.code, error.message, issues), status);
    }
  }
  log(error);
  return c.json(errorBody('BATON_INTERNAL', 'internal error; the server log has the details'), 500);
}
