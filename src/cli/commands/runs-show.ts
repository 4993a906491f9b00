/** `baton runs show` for people: the Run object of GET /api/v1/runs/:id as labelled lines and small tables. */
import { formatBlock, formatPairs, formatValue, print, printTable } from '../output.js';

interface StateView {
  type: string;
  name: string;
  timestamp: string;
  message?: string;
  error?: { name: string; message: string };
  waitingOn?: { reason: string; message: string };
  attempt?: number;
}

interface RunView {
  id: string;
  kind: 'task' | 'workflow';
  taskName: string;
  workflowName: string;
  parentRunId?: string;
  state: StateView;
  tags: Record<string, string>;
  createdAt: string;
  input: unknown;
  output: unknown;
  error?: { name: string; message: string };
  trigger: { kind: string };
  priority: number;
  progress?: { value: number; message?: string };
  states: StateView[];
  attempts: { attempt: number; epoch: number; workerId: string; startedAt: string; endedAt?: string; outcome?: string }[];
  children: { id: string; taskName: string; state: StateView; createdAt: string }[];
  dag?: { tasks: { name: string; parents: string[]; runId?: string; state?: StateView }[] };
  steps: { name: string; kind: string; error?: { message: string }; attempt: number; createdAt: string }[];
}

function time(iso: string | undefined): string {
  return iso ? `${iso.slice(0, 19)}Z` : '-';
}

function section(title: string): void {
  print('', title);
}

export function printRunDetail(detail: unknown): void {
  const run = detail as RunView;
  const { state } = run;
  const lines: [string, string][] = [
    ['run', run.id],
    [
      run.kind === 'workflow' ? 'workflow' : 'task',
      run.taskName === run.workflowName ? run.taskName : `${run.taskName} (workflow ${run.workflowName})`,
    ],
    ['state', `${state.name} (${state.type}) since ${time(state.timestamp)}, attempt ${state.attempt ?? 0}`],
  ];
  if (state.message) lines.push(['message', state.message]);
  if (state.waitingOn) lines.push(['waiting', `${state.waitingOn.message} [${state.waitingOn.reason}]`]);
  if (run.progress) {
    lines.push(['progress', `${Math.round(run.progress.value * 100)}%${run.progress.message ? ` ${run.progress.message}` : ''}`]);
  }
  const error = state.error ?? run.error;
  if (error) lines.push(['error', `${error.name}: ${error.message}`]);
  lines.push(['trigger', run.trigger.kind], ['priority', String(run.priority)], ['created', time(run.createdAt)]);
  if (run.parentRunId) lines.push(['parent', run.parentRunId]);
  lines.push(['tags', formatPairs(run.tags)], ['input', formatValue(run.input, 200)]);
  if (run.output !== null && run.output !== undefined) lines.push(['output', formatValue(run.output, 200)]);
  const width = Math.max(...lines.map(([label]) => label.length));
  print(...lines.map(([label, value]) => `${label.padEnd(width)}  ${value}`));

  section('states');
  printTable(
    ['TIME', 'STATE', 'ATTEMPT', 'DETAIL'],
    run.states.map((s) => [
      time(s.timestamp),
      s.name,
      String(s.attempt ?? 0),
      s.error ? `${s.error.name}: ${s.error.message}` : (s.waitingOn?.message ?? s.message ?? ''),
    ]),
  );
  if (run.attempts.length > 0) {
    section('attempts');
    printTable(
      ['ATTEMPT', 'EPOCH', 'WORKER', 'STARTED', 'ENDED', 'OUTCOME'],
      run.attempts.map((a) => [
        String(a.attempt),
        String(a.epoch),
        a.workerId,
        time(a.startedAt),
        time(a.endedAt),
        a.outcome ?? '-',
      ]),
    );
  }
  if (run.steps.length > 0) {
    section('steps');
    printTable(
      ['STEP', 'KIND', 'ATTEMPT', 'RECORDED', 'ERROR'],
      run.steps.map((s) => [s.name, s.kind, String(s.attempt), time(s.createdAt), s.error?.message ?? '']),
    );
  }
  if (run.dag) {
    section('tasks');
    printTable(
      ['TASK', 'STATE', 'PARENTS', 'RUN'],
      run.dag.tasks.map((t) => [t.name, t.state?.name ?? '-', t.parents.join(',') || '-', t.runId ?? '-']),
    );
  }
  if (run.children.length > 0) {
    section('children');
    printTable(
      ['ID', 'TASK', 'STATE', 'CREATED'],
      run.children.map((c) => [c.id, c.taskName, c.state.name, time(c.createdAt)]),
    );
  }
  if (state.error && 'stack' in state.error && typeof state.error.stack === 'string') {
    section('stack');
    print(formatBlock(state.error.stack));
  }
}
