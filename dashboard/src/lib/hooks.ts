/**
 * Data hooks: load a value (optionally polling it while the tab is visible),
 * a shared "now" ticker for relative times, and a server-sent-events
 * subscription that closes on `end`.
 */
import { useCallback, useEffect, useRef, useState, useSyncExternalStore } from 'react';

export interface Resource<T> {
  data: T | undefined;
  error: unknown;
  isLoading: boolean;
  reload: () => void;
}

/**
 * Loads `load()` when `key` changes, and again every `pollMs` while the page is
 * visible (`pollMs` undefined or 0: no polling). Results of superseded loads are dropped.
 */
export function useResource<T>(key: string, load: (signal: AbortSignal) => Promise<T>, pollMs?: number): Resource<T> {
  const [data, setData] = useState<T | undefined>(undefined);
  const [error, setError] = useState<unknown>(undefined);
  const [isLoading, setIsLoading] = useState(true);
  const [tick, setTick] = useState(0);
  const loadRef = useRef(load);
  loadRef.current = load;
  const keyRef = useRef(key);

  // biome-ignore lint/correctness/useExhaustiveDependencies: `tick` re-runs the load on purpose.
  useEffect(() => {
    if (keyRef.current !== key) {
      keyRef.current = key;
      setData(undefined);
      setError(undefined);
    }
    setIsLoading(true);
    const controller = new AbortController();
    loadRef.current(controller.signal).then(
      (value) => {
        if (controller.signal.aborted) return;
        setData(value);
        setError(undefined);
        setIsLoading(false);
      },
      (e: unknown) => {
        if (controller.signal.aborted) return;
        setError(e);
        setIsLoading(false);
      },
    );
    return () => controller.abort();
  }, [key, tick]);

  useEffect(() => {
    if (!pollMs) return;
    const timer = window.setInterval(() => {
      if (document.visibilityState === 'visible') setTick((t) => t + 1);
    }, pollMs);
    return () => window.clearInterval(timer);
  }, [pollMs]);

  const reload = useCallback(() => setTick((t) => t + 1), []);
  return { data, error, isLoading, reload };
}

let now = Date.now();
const listeners = new Set<() => void>();
let ticker: number | undefined;

function subscribeNow(listener: () => void): () => void {
  listeners.add(listener);
  if (ticker === undefined) {
    ticker = window.setInterval(() => {
      now = Date.now();
      for (const l of listeners) l();
    }, 1000);
  }
  return () => {
    listeners.delete(listener);
    if (listeners.size === 0 && ticker !== undefined) {
      window.clearInterval(ticker);
      ticker = undefined;
    }
  };
}

const nowSnapshot = () => now;

/** The current time in ms, updated once a second by one shared timer. */
export function useNow(): number {
  return useSyncExternalStore(subscribeNow, nowSnapshot, nowSnapshot);
}

export type SseStatus = 'connecting' | 'open' | 'closed' | 'failed';

/**
 * Subscribes to server-sent events at `url` (null: none). `handlers` maps event
 * names to callbacks (data parsed as JSON when it is JSON). The `end` event
 * closes the source, so the browser does not reconnect to a finished run.
 */
export function useEventSource(url: string | null, handlers: Record<string, (data: unknown) => void>): SseStatus {
  const [status, setStatus] = useState<SseStatus>('connecting');
  const handlersRef = useRef(handlers);
  handlersRef.current = handlers;
  const names = Object.keys(handlers).sort().join(',');

  useEffect(() => {
    if (url === null) {
      setStatus('closed');
      return;
    }
    setStatus('connecting');
    const source = new EventSource(url, { withCredentials: true });
    let failures = 0;
    source.onopen = () => {
      failures = 0;
      setStatus('open');
    };
    source.onerror = () => {
      failures += 1;
      // EventSource retries by itself; after a few failures in a row, give up and let polling work.
      if (source.readyState === EventSource.CLOSED || failures >= 3) {
        source.close();
        setStatus('failed');
      }
    };
    for (const name of names.split(',')) {
      if (name === '') continue;
      source.addEventListener(name, (event) => {
        const raw = (event as MessageEvent<string>).data;
        let data: unknown = raw;
        try {
          data = JSON.parse(raw);
        } catch {
          // Not JSON: hand over the text.
        }
        handlersRef.current[name]?.(data);
      });
    }
    source.addEventListener('end', () => {
      source.close();
      setStatus('closed');
    });
    return () => source.close();
  }, [url, names]);

  return status;
}
