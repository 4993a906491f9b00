/**
 * What the CLI writes: JSON for scripts (`--json`: the HTTP API's shapes, ISO
 * time strings), aligned tables and short lines for people, notes on stderr,
 * and a spinner for long waits (only when stderr is a terminal). Owns no
 * command logic.
 */
import { jsonView } from '../http/views.js';

/** Writes `value` as JSON (values JSON cannot carry shown plainly, times as ISO strings) on one line per call. */
export function printJson(value: unknown, options: { pretty?: boolean } = {}): void {
  const view = jsonView(value);
  process.stdout.write(`${options.pretty === false ? JSON.stringify(view) : JSON.stringify(view, null, 2)}\n`);
}

/** Writes lines to stdout. */
export function print(...lines: string[]): void {
  process.stdout.write(`${lines.join('\n')}\n`);
}

/** A note for people on stderr (stdout stays clean for pipes). */
export function note(message: string): void {
  process.stderr.write(`${message}\n`);
}

/** Rows under headers, columns padded to their widest cell; an empty table says so. */
export function printTable(headers: string[], rows: string[][], empty = 'nothing to show'): void {
  if (rows.length === 0) {
    note(empty);
    return;
  }
  const widths = headers.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: string[]) =>
    cells
      .map((cell, i) => (i === cells.length - 1 ? cell : cell.padEnd(widths[i] ?? 0)))
      .join('  ')
      .trimEnd();
  print(line(headers), ...rows.map(line));
}

/** A time for tables: ISO-8601 in UTC, to the second. */
export function formatTime(value: Date | number | null | undefined): string {
  if (value === null || value === undefined) return '-';
  const date = typeof value === 'number' ? new Date(value) : value;
  return Number.isNaN(date.getTime()) ? '-' : `${date.toISOString().slice(0, 19)}Z`;
}

/** `k=v, k2=v2` for tags and labels. */
export function formatPairs(record: Record<string, unknown> | undefined): string {
  const entries = Object.entries(record ?? {});
  return entries.length === 0 ? '-' : entries.map(([k, v]) => `${k}=${String(v)}`).join(',');
}

/** A value for a line of text: strings as they are, anything else as compact JSON, cut at `max` characters. */
export function formatValue(value: unknown, max = Number.POSITIVE_INFINITY): string {
  const text = typeof value === 'string' ? value : JSON.stringify(jsonView(value));
  return text.length > max ? `${text.slice(0, Math.max(0, max - 1))}…` : text;
}

/** A value printed on its own: strings as they are, anything else as indented JSON. */
export function formatBlock(value: unknown): string {
  return typeof value === 'string' ? value : JSON.stringify(jsonView(value), null, 2);
}

/** `1.2 s`, `340 ms`, `2 m 5 s`. */
export function formatElapsed(ms: number): string {
  if (ms < 1000) return `${Math.round(ms)} ms`;
  if (ms < 60_000) return `${(ms / 1000).toFixed(1)} s`;
  return `${Math.floor(ms / 60_000)} m ${Math.round((ms % 60_000) / 1000)} s`;
}

const FRAMES = ['⠋', '⠙', '⠹', '⠸', '⠼', '⠴', '⠦', '⠧', '⠇', '⠏'];

/**
 * A one-line spinner on stderr with elapsed time, drawn only when stderr is a terminal
 * (pipes and CI logs get nothing). `stop()` erases it.
 */
export class Spinner {
  readonly #isEnabled: boolean;
  #timer: NodeJS.Timeout | undefined;
  #text = '';
  #frame = 0;
  #startedAt = 0;

  constructor(stream: NodeJS.WriteStream = process.stderr) {
    this.#isEnabled = stream.isTTY === true && process.env.CI === undefined;
  }

  get isEnabled(): boolean {
    return this.#isEnabled;
  }

  start(text: string): void {
    if (!this.#isEnabled || this.#timer) return;
    this.#text = text;
    this.#startedAt = performance.now();
    this.#timer = setInterval(() => this.#draw(), 80);
    this.#timer.unref();
    this.#draw();
  }

  update(text: string): void {
    this.#text = text;
  }

  stop(): void {
    if (!this.#timer) return;
    clearInterval(this.#timer);
    this.#timer = undefined;
    process.stderr.write('\r\x1b[2K');
  }

  #draw(): void {
    const frame = FRAMES[this.#frame++ % FRAMES.length];
    const elapsed = formatElapsed(performance.now() - this.#startedAt);
    const width = Math.max(20, (process.stderr.columns ?? 80) - 1);
    const line = `${frame} ${this.#text} (${elapsed})`;
    process.stderr.write(`\r\x1b[2K${line.length > width ? `${line.slice(0, width - 1)}…` : line}`);
  }
}
