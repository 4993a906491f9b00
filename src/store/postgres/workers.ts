/** The worker table and the task registry. */
import { hostname } from 'node:os';
import type { RegisteredTask, WorkerRow } from '../types.js';
import type { Tx } from './connection.js';

export async function upsertWorker(tx: Tx, worker: Omit<WorkerRow, 'heartbeatAt' | 'startedAt' | 'stoppedAt'>): Promise<void> {
  await tx.query(
    `INSERT INTO ${tx.t.workers} (id, namespace, name, labels, slots, task_names, host, pid, started_at, heartbeat_at, lease_ms)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $9, $10)
     ON CONFLICT (id) DO UPDATE SET heartbeat_at = excluded.heartbeat_at, task_names = excluded.task_names,
       labels = excluded.labels, slots = excluded.slots, stopped_at = NULL`,
    [
      worker.id,
      worker.namespace,
      worker.name,
      JSON.stringify(worker.labels),
      worker.slots,
      JSON.stringify(worker.taskNames),
      worker.host || hostname(),
      worker.pid,
      tx.now,
      worker.leaseMs,
    ],
  );
}

export async function markWorkerStopped(tx: Tx, workerId: string): Promise<void> {
  await tx.query(`UPDATE ${tx.t.workers} SET stopped_at = $1 WHERE id = $2`, [tx.now, workerId]);
}

export async function registerTasks(
  tx: Tx,
  namespace: string,
  tasks: readonly Omit<RegisteredTask, 'updatedAt'>[],
): Promise<void> {
  if (tasks.length === 0) return;
  // The last entry of a name wins, as when written one by one.
  const byName = new Map(
    tasks.map((task) => [
      task.name,
      {
        name: task.name,
        kind: task.kind,
        version: task.version,
        input_schema: task.inputSchema ?? null,
        triggers: task.triggers ?? null,
        template: task.template ?? null,
      },
    ]),
  );
  const rows = [...byName.values()];
  // Sorted, so two processes registering the same tasks lock rows in the same order.
  rows.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  await tx.query(
    `INSERT INTO ${tx.t.registry} (namespace, name, kind, version, input_schema, updated_at, triggers, template)
     SELECT $2, name, kind, version, input_schema, $3, triggers, template
     FROM json_to_recordset($1::json) AS x(name text, kind text, version text, input_schema json, triggers json, template json)
     ON CONFLICT (namespace, name) DO UPDATE SET kind = excluded.kind, version = excluded.version,
       input_schema = excluded.input_schema, updated_at = excluded.updated_at, triggers = excluded.triggers,
       template = excluded.template`,
    [JSON.stringify(rows), namespace, tx.now],
  );
}
