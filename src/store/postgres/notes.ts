/**
 * Wake-up notes sent with NOTIFY: `{ p, e }` where `p` names the sending
 * process (so it can skip its own notes: it already woke itself in-process)
 * and `e` is a batch of `{t:'available',ns}`, `{t:'run',id}`, `{t:'cancel',id}`.
 * Batches are split to stay under PostgreSQL's 8000-byte payload limit.
 */
import { randomUUID } from 'node:crypto';

export type Note = { t: 'available'; ns: string } | { t: 'run'; id: string } | { t: 'cancel'; id: string };

/** This process's sender id. */
export const PROCESS_TOKEN = randomUUID();

const MAX_PAYLOAD = 7_000;

export function encodeNotes(notes: readonly Note[]): string[] {
  if (notes.length === 0) return [];
  const seen = new Set<string>();
  const unique: string[] = [];
  for (const note of notes) {
    const text = JSON.stringify(note);
    if (!seen.has(text)) {
      seen.add(text);
      unique.push(text);
    }
  }
  const head = `{"p":${JSON.stringify(PROCESS_TOKEN)},"e":[`;
  const payloads: string[] = [];
  let batch: string[] = [];
  let size = head.length + 2;
  for (const text of unique) {
    if (batch.length > 0 && size + text.length + 1 > MAX_PAYLOAD) {
      payloads.push(`${head}${batch.join(',')}]}`);
      batch = [];
      size = head.length + 2;
    }
    batch.push(text);
    size += text.length + 1;
  }
  if (batch.length > 0) payloads.push(`${head}${batch.join(',')}]}`);
  return payloads;
}

export function decodeNotes(payload: string): { sender: string; notes: Note[] } | undefined {
  try {
    const value = JSON.parse(payload) as { p?: unknown; e?: unknown };
    if (typeof value.p !== 'string' || !Array.isArray(value.e)) return undefined;
    return { sender: value.p, notes: value.e as Note[] };
  } catch {
    return undefined;
  }
}
