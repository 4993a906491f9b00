/**
 * An in-repo TCP proxy for network faults between a worker and PostgreSQL (RELIABILITY.md §5.0).
 * Modes, switchable at any time:
 * - `pass`: forward both directions (heals: new connections pass).
 * - `reset`: destroy every open connection with a RST (`resetAndDestroy`) and reset new ones.
 * - `blackhole`: stop forwarding without closing anything (no RST, no FIN): bytes from either side
 *   are read and dropped, for open connections and for new ones (a new connection is accepted but
 *   never connected upstream). A blackholed connection stays dead after `pass` (its bytes were
 *   lost, so its protocol stream cannot resume), like a connection whose state a middlebox lost;
 *   its server side is not told either (a server backend in a transaction keeps its locks until
 *   the server notices). Only new connections pass again.
 * - `{ latencyMs }`: forward each chunk after `latencyMs` (order kept).
 */
import { connect, createServer, type Server, type Socket } from 'node:net';

export type ProxyMode = 'pass' | 'reset' | 'blackhole' | { latencyMs: number };

export interface TcpProxy {
  readonly port: number;
  /** The same connection string with host and port pointing at the proxy. */
  url(targetUrl: string): string;
  setMode(mode: ProxyMode): void;
  readonly mode: ProxyMode;
  /** Client connections open right now (including blackholed ones). */
  connections(): number;
  /** Client connections accepted since start. */
  accepted(): number;
  /** Destroys every connection and stops listening. */
  close(): Promise<void>;
}

interface Pair {
  client: Socket;
  upstream: Socket | undefined;
  isBlackholed: boolean;
}

/** Delays chunks by `latencyMs` while keeping their order (a chunk never overtakes an earlier one). */
function delayedWriter(target: () => Socket | undefined) {
  let lastDue = 0;
  return (chunk: Buffer, latencyMs: number) => {
    const due = Math.max(performance.now() + latencyMs, lastDue);
    lastDue = due;
    setTimeout(() => {
      const socket = target();
      if (socket && !socket.destroyed) socket.write(chunk);
    }, due - performance.now());
  };
}

export async function startTcpProxy(options: { targetHost: string; targetPort: number; host?: string }): Promise<TcpProxy> {
  const host = options.host ?? '127.0.0.1';
  let mode: ProxyMode = 'pass';
  let acceptedCount = 0;
  const pairs = new Set<Pair>();
  const sockets = new Set<Socket>();
  const track = (socket: Socket) => {
    sockets.add(socket);
    socket.once('close', () => sockets.delete(socket));
  };

  const reset = (socket: Socket | undefined) => {
    if (!socket || socket.destroyed) return;
    if (typeof socket.resetAndDestroy === 'function' && socket.readyState !== 'opening') socket.resetAndDestroy();
    else socket.destroy();
  };

  const blackhole = (pair: Pair) => {
    // Keep reading (and dropping) so neither side sees back-pressure close anything; send nothing.
    pair.isBlackholed = true;
  };

  const forward = (pair: Pair, from: Socket, to: () => Socket | undefined) => {
    const delayed = delayedWriter(to);
    from.on('data', (chunk: Buffer) => {
      if (pair.isBlackholed) return;
      const current = mode;
      if (typeof current === 'object' && current.latencyMs > 0) {
        delayed(chunk, current.latencyMs);
        return;
      }
      const socket = to();
      if (!socket || socket.destroyed) return;
      if (!socket.write(chunk)) {
        from.pause();
        socket.once('drain', () => {
          if (!pair.isBlackholed) from.resume();
        });
      }
    });
  };

  const end = (pair: Pair) => {
    pairs.delete(pair);
    if (pair.isBlackholed) {
      // A blackhole tells neither side: the upstream (server) half lives on until close().
      pair.client.destroy();
      return;
    }
    pair.client.destroy();
    pair.upstream?.destroy();
  };

  const server: Server = createServer((client) => {
    acceptedCount++;
    track(client);
    client.on('error', () => undefined);
    if (mode === 'reset') {
      reset(client);
      return;
    }
    const pair: Pair = { client, upstream: undefined, isBlackholed: false };
    pairs.add(pair);
    if (mode === 'blackhole') {
      blackhole(pair);
      client.on('data', () => undefined);
      client.on('close', () => pairs.delete(pair));
      return;
    }
    const upstream = connect({ host: options.targetHost, port: options.targetPort });
    pair.upstream = upstream;
    track(upstream);
    upstream.setNoDelay(true);
    client.setNoDelay(true);
    upstream.on('error', () => {
      if (!pair.isBlackholed) reset(client);
    });
    forward(pair, client, () => pair.upstream);
    forward(pair, upstream, () => pair.client);
    client.on('close', () => {
      if (pair.isBlackholed) {
        // The client gave up; the server is never told (no FIN through a blackhole).
        return;
      }
      end(pair);
    });
    client.on('end', () => {
      if (!pair.isBlackholed) upstream.end();
    });
    upstream.on('end', () => {
      if (!pair.isBlackholed) client.end();
    });
    upstream.on('close', () => {
      if (!pair.isBlackholed) end(pair);
    });
  });

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, host, () => resolve());
  });
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : 0;

  return {
    port,
    get mode() {
      return mode;
    },
    url(targetUrl: string) {
      const parsed = new URL(targetUrl);
      parsed.hostname = host;
      parsed.port = String(port);
      return parsed.toString();
    },
    setMode(next) {
      mode = next;
      if (next === 'reset') {
        for (const pair of [...pairs]) {
          pairs.delete(pair);
          reset(pair.client);
          reset(pair.upstream);
        }
      } else if (next === 'blackhole') {
        for (const pair of pairs) blackhole(pair);
      }
    },
    connections() {
      let open = 0;
      for (const pair of pairs) if (!pair.client.destroyed) open++;
      return open;
    },
    accepted() {
      return acceptedCount;
    },
    async close() {
      for (const socket of [...sockets]) socket.destroy();
      pairs.clear();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
