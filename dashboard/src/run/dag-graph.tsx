/**
 * A workflow run's DAG as SVG: nodes in columns by depth (longest path from a
 * root), ordered in each column near their parents, edges as curves, node
 * colour by state. A node with a task run links to it. Geometry is set with
 * SVG attributes only (the CSP forbids inline styles).
 */
import { useId } from 'react';
import type { DagTask } from '../api/types';
import { stateLabel } from '../components/state-badge';
import { href } from '../lib/router';

const NODE_W = 188;
const NODE_H = 54;
const COL_GAP = 84;
const ROW_GAP = 22;
const PAD = 24;

interface Placed {
  task: DagTask;
  x: number;
  y: number;
}

export function layoutDag(tasks: DagTask[]): { nodes: Map<string, Placed>; width: number; height: number } {
  const byName = new Map(tasks.map((t) => [t.name, t]));
  const depth = new Map<string, number>();
  const depthOf = (name: string, trail: Set<string>): number => {
    const known = depth.get(name);
    if (known !== undefined) return known;
    const task = byName.get(name);
    if (!task || trail.has(name)) return 0;
    trail.add(name);
    const parents = task.parents.filter((p) => byName.has(p));
    const d = parents.length === 0 ? 0 : 1 + Math.max(...parents.map((p) => depthOf(p, trail)));
    trail.delete(name);
    depth.set(name, d);
    return d;
  };
  for (const t of tasks) depthOf(t.name, new Set());

  const columns: DagTask[][] = [];
  for (const t of tasks) {
    const d = depth.get(t.name) ?? 0;
    while (columns.length <= d) columns.push([]);
    columns[d]?.push(t);
  }

  // Order each column by the mean row of its parents, which keeps most edges short and uncrossed.
  const row = new Map<string, number>();
  columns.forEach((column, c) => {
    if (c > 0) {
      const score = (t: DagTask) => {
        const rows = t.parents.map((p) => row.get(p)).filter((r): r is number => r !== undefined);
        return rows.length === 0 ? 0 : rows.reduce((a, b) => a + b, 0) / rows.length;
      };
      column.sort((a, b) => score(a) - score(b));
    }
    column.forEach((t, i) => {
      row.set(t.name, i);
    });
  });

  const maxRows = Math.max(1, ...columns.map((c) => c.length));
  const nodes = new Map<string, Placed>();
  columns.forEach((column, c) => {
    const offset = ((maxRows - column.length) * (NODE_H + ROW_GAP)) / 2;
    column.forEach((task, i) => {
      nodes.set(task.name, { task, x: PAD + c * (NODE_W + COL_GAP), y: PAD + offset + i * (NODE_H + ROW_GAP) });
    });
  });
  return {
    nodes,
    width: PAD * 2 + columns.length * NODE_W + Math.max(0, columns.length - 1) * COL_GAP,
    height: PAD * 2 + maxRows * NODE_H + (maxRows - 1) * ROW_GAP,
  };
}

function truncate(text: string, max: number): string {
  return text.length > max ? `${text.slice(0, max - 1)}…` : text;
}

export function DagGraph({ tasks }: { tasks: DagTask[] }) {
  const markerId = `dag-arrow-${useId().replace(/:/g, '')}`;
  const { nodes, width, height } = layoutDag(tasks);
  const edges: { from: Placed; to: Placed }[] = [];
  for (const node of nodes.values()) {
    for (const parent of node.task.parents) {
      const from = nodes.get(parent);
      if (from) edges.push({ from, to: node });
    }
  }

  return (
    <div className="dag-wrap">
      <svg
        className="dag"
        data-testid="dag"
        width={width}
        height={height}
        viewBox={`0 0 ${width} ${height}`}
        role="img"
        aria-label={`Workflow graph with ${tasks.length} tasks`}
      >
        <title>Workflow graph</title>
        <defs>
          <marker id={markerId} viewBox="0 0 10 10" refX="9" refY="5" markerWidth="7" markerHeight="7" orient="auto">
            <path d="M 0 0 L 10 5 L 0 10 z" className="dag-arrow" />
          </marker>
        </defs>
        {edges.map(({ from, to }) => {
          const x1 = from.x + NODE_W;
          const y1 = from.y + NODE_H / 2;
          const x2 = to.x - 2;
          const y2 = to.y + NODE_H / 2;
          const dx = Math.max(30, (x2 - x1) / 2);
          const done = from.task.state?.type === 'COMPLETED';
          return (
            <path
              key={`${from.task.name}->${to.task.name}`}
              className={`dag-edge ${done ? 'is-done' : ''}`}
              d={`M ${x1} ${y1} C ${x1 + dx} ${y1}, ${x2 - dx} ${y2}, ${x2} ${y2}`}
              markerEnd={`url(#${markerId})`}
            />
          );
        })}
        {[...nodes.values()].map(({ task, x, y }) => {
          const type = task.state?.type.toLowerCase() ?? 'none';
          const label = task.state ? stateLabel(task.state.name) : 'Not started';
          const body = (
            <>
              <title>{`${task.name}: ${label}${task.state?.message ? ` — ${task.state.message}` : ''}`}</title>
              <rect className="dag-node-box" width={NODE_W} height={NODE_H} rx="10" />
              <rect className="dag-node-stripe" width="5" height={NODE_H - 16} x="8" y="8" rx="2.5" />
              <text className="dag-node-name" x="22" y="23">
                {truncate(task.name, 22)}
              </text>
              <text className="dag-node-state" x="22" y="41">
                {label}
              </text>
            </>
          );
          return (
            <g
              key={task.name}
              className={`dag-node state-${type} ${task.runId ? 'is-link' : ''}`}
              transform={`translate(${x} ${y})`}
              data-testid="dag-node"
              data-task={task.name}
              data-run-id={task.runId}
              data-state-name={task.state?.name}
            >
              {task.runId ? <a href={href(`/runs/${encodeURIComponent(task.runId)}`)}>{body}</a> : body}
            </g>
          );
        })}
      </svg>
    </div>
  );
}
