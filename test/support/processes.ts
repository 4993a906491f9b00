/**
 * Worker processes for multi-process tests: fork a fixture worker (test/fixtures/*-process.ts)
 * under tsx, wait (bounded) for its `ready` message, and kill whatever is left after a test.
 */
import { type ChildProcess, fork } from 'node:child_process';

export interface WorkerProcess {
  child: ChildProcess;
  name: string;
  /** Resolves with the exit code (or the signal name) once the process ended. */
  exited: Promise<number | string | null>;
  stop(): Promise<number | string | null>;
  kill(): Promise<number | string | null>;
}

const started = new Set<ChildProcess>();

/** Forks `script` and resolves once it reports `ready` (or `migrated`); rejects on `error`, exit or timeout. */
export async function startWorkerProcess(
  script: string,
  env: Record<string, string>,
  timeoutMs = 30_000,
): Promise<WorkerProcess> {
  const debug = Boolean(process.env.DEBUG_SCALE);
  const name = env.WORKER_NAME ?? 'worker';
  const child = fork(script, [], {
    execArgv: ['--import', 'tsx', '--conditions=baton-source'],
    env: { ...process.env, ...(debug ? { BATON_LOG_LEVEL: 'warn' } : {}), ...env },
    stdio: ['ignore', 'inherit', debug ? 'inherit' : 'pipe', 'ipc'],
  });
  started.add(child);
  let stderr = '';
  child.stderr?.on('data', (chunk: Buffer) => {
    stderr = (stderr + chunk.toString()).slice(-4_000);
  });
  const exited = new Promise<number | string | null>((resolve) => {
    child.once('exit', (code, signal) => {
      started.delete(child);
      if (code !== 0 && code !== null) console.error(`worker ${name} exited with code ${code}:\n${stderr}`);
      resolve(code ?? signal);
    });
  });
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(
      () => reject(new Error(`worker ${name} did not start within ${timeoutMs} ms\n${stderr}`)),
      timeoutMs,
    );
    child.on('message', (message: { type?: string; message?: string }) => {
      if (message.type === 'ready' || message.type === 'migrated') {
        clearTimeout(timer);
        resolve();
      } else if (message.type === 'error') {
        clearTimeout(timer);
        reject(new Error(`worker ${name} failed to start: ${message.message}\n${stderr}`));
      }
    });
    void exited.then((code) => {
      clearTimeout(timer);
      reject(new Error(`worker ${name} exited (${code}) before it was ready\n${stderr}`));
    });
  });
  return {
    child,
    name,
    exited,
    stop: () => {
      child.kill('SIGTERM');
      return exited;
    },
    kill: () => {
      child.kill('SIGKILL');
      return exited;
    },
  };
}

/** SIGKILLs every worker process a test left running and waits for them to exit. */
export async function killWorkerProcesses(): Promise<void> {
  await Promise.all(
    [...started].map(
      (child) =>
        new Promise<void>((resolve) => {
          child.once('exit', () => resolve());
          child.kill('SIGKILL');
        }),
    ),
  );
}
