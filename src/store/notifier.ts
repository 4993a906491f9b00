/**
 * In-process wake-ups, shared by every Baton instance in this process that uses
 * the same database (keyed by store identity): new runs wake idle workers,
 * settled runs wake `handle.result()` waiters, cancellations reach the worker
 * holding the run. Cross-process wake-ups come from the backend (LISTEN/NOTIFY
 * on PostgreSQL) or from polling.
 */
import { EventEmitter } from 'node:events';

export class Notifier {
  private readonly emitter = new EventEmitter();

  constructor() {
    this.emitter.setMaxListeners(0);
  }

  runsAvailable(namespace: string): void {
    this.emitter.emit('available', namespace);
  }

  onRunsAvailable(listener: (namespace: string) => void): () => void {
    this.emitter.on('available', listener);
    return () => this.emitter.off('available', listener);
  }

  runChanged(runId: string): void {
    this.emitter.emit(`run:${runId}`);
    this.emitter.emit('run', runId);
  }

  /** Every run change, with its id. */
  onAnyRunChanged(listener: (runId: string) => void): () => void {
    this.emitter.on('run', listener);
    return () => this.emitter.off('run', listener);
  }

  onRunChanged(runId: string, listener: () => void): () => void {
    this.emitter.on(`run:${runId}`, listener);
    return () => this.emitter.off(`run:${runId}`, listener);
  }

  cancelRequested(runId: string): void {
    this.emitter.emit('cancel', runId);
  }

  onCancelRequested(listener: (runId: string) => void): () => void {
    this.emitter.on('cancel', listener);
    return () => this.emitter.off('cancel', listener);
  }
}

const KEY = Symbol.for('baton.notifiers');
const holder = globalThis as unknown as Record<symbol, Map<string, Notifier> | undefined>;

/** The process-wide notifier for one database. */
export function notifierFor(identity: string): Notifier {
  holder[KEY] ??= new Map();
  const notifiers = holder[KEY];
  let notifier = notifiers.get(identity);
  if (!notifier) {
    notifier = new Notifier();
    notifiers.set(identity, notifier);
  }
  return notifier;
}
