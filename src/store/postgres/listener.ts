/**
 * Cross-process wake-ups: one dedicated connection LISTENs on the schema's
 * channel and passes each note to this process's in-process notifier. Notes
 * this process sent itself are skipped (it already woke its own waiters).
 * When the connection drops it reconnects with backoff; meanwhile workers
 * keep polling, so nothing is lost, only later. A connection that goes silent
 * (a blackholed network: no RST, no FIN) never reports itself lost, so an idle
 * one is pinged now and then, with a timeout.
 */
import type { Client, QueryConfig } from 'pg';
import { getProcessLogger } from '../../logger.js';
import { notifierFor } from '../notifier.js';
import { baseConfig, type PgModule, QUERY_TIMEOUT_MS, quoteIdent } from './connection.js';
import { decodeNotes, PROCESS_TOKEN } from './notes.js';

const MAX_BACKOFF_MS = 10_000;

export interface ListenerTiming {
  /** How often the LISTEN connection is pinged (ms). Default 30 s. */
  pingIntervalMs: number;
  /** How long a ping may take before the connection counts as lost (ms). Default QUERY_TIMEOUT_MS. */
  pingTimeoutMs: number;
}

const DEFAULT_TIMING: ListenerTiming = { pingIntervalMs: 30_000, pingTimeoutMs: QUERY_TIMEOUT_MS };

export class NotifyListener {
  private client: Client | undefined;
  private isClosed = false;
  private failures = 0;
  private timer: NodeJS.Timeout | undefined;
  private connecting: Promise<void> | undefined;
  private stopPing: (() => void) | undefined;

  constructor(
    private readonly pg: PgModule,
    private readonly url: string,
    private readonly channel: string,
    private readonly identity: string,
    private readonly location: string,
    private readonly timing: ListenerTiming = DEFAULT_TIMING,
  ) {}

  /** Connects in the background; a failure is logged and retried, never thrown. */
  start(): void {
    this.connecting = this.connect();
  }

  private async connect(): Promise<void> {
    if (this.isClosed) return;
    const client = new this.pg.Client(baseConfig(this.pg, this.url));
    let isDone = false;
    let ping: NodeJS.Timeout | undefined;
    const onLost = (error?: Error) => {
      if (isDone) return;
      isDone = true;
      clearInterval(ping);
      if (this.client === client) this.client = undefined;
      client.end().catch(() => undefined);
      if (this.isClosed) return;
      this.failures++;
      const delay = Math.min(MAX_BACKOFF_MS, 100 * 2 ** Math.min(this.failures, 7));
      getProcessLogger().warn(
        { err: error, database: this.location, retryInMs: delay },
        'lost the PostgreSQL LISTEN connection; workers keep polling until it is back',
      );
      this.timer = setTimeout(() => {
        this.timer = undefined;
        this.connecting = this.connect();
      }, delay);
      this.timer.unref?.();
    };
    client.on('error', onLost);
    client.on('end', () => onLost(new Error('connection ended')));
    client.on('notification', (message) => {
      if (message.channel === this.channel && message.payload) this.dispatch(message.payload);
    });
    try {
      await client.connect();
      await client.query(`LISTEN ${quoteIdent(this.channel)}`);
      if (this.isClosed) {
        isDone = true;
        await client.end().catch(() => undefined);
        return;
      }
      this.client = client;
      this.failures = 0;
      ping = setInterval(() => {
        const query = { text: 'SELECT 1', query_timeout: this.timing.pingTimeoutMs } as QueryConfig;
        client.query(query).catch((error: unknown) => onLost(error instanceof Error ? error : new Error(String(error))));
      }, this.timing.pingIntervalMs);
      ping.unref();
      this.stopPing = () => clearInterval(ping);
    } catch (error) {
      onLost(error as Error);
    }
  }

  private dispatch(payload: string): void {
    const decoded = decodeNotes(payload);
    if (!decoded || decoded.sender === PROCESS_TOKEN) return;
    const notifier = notifierFor(this.identity);
    for (const note of decoded.notes) {
      if (note.t === 'available') notifier.runsAvailable(note.ns);
      else if (note.t === 'run') notifier.runChanged(note.id);
      else if (note.t === 'cancel') notifier.cancelRequested(note.id);
    }
  }

  async close(): Promise<void> {
    this.isClosed = true;
    if (this.timer) clearTimeout(this.timer);
    this.stopPing?.();
    await this.connecting?.catch(() => undefined);
    const client = this.client;
    this.client = undefined;
    await client?.end().catch(() => undefined);
  }
}
