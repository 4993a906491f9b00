/** Opaque page cursors for run lists: (createdAt, id) of the last item, base64url JSON. */
import { ValidationError } from '../errors.js';

export function encodeCursor(createdAt: number, id: string): string {
  return Buffer.from(JSON.stringify([createdAt, id])).toString('base64url');
}

export function decodeCursor(cursor: string): { createdAt: number; id: string } {
  try {
    const value = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8')) as unknown;
    if (Array.isArray(value) && typeof value[0] === 'number' && typeof value[1] === 'string') {
      return { createdAt: value[0], id: value[1] };
    }
  } catch {
    // fall through to the error below
  }
  throw new ValidationError(`cursor ${JSON.stringify(cursor)} is not one this API returned`, [
    { path: 'cursor', message: 'malformed cursor' },
  ]);
}
