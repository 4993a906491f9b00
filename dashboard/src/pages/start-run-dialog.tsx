/**
 * "Start run": pick a task or workflow from the registry, type its input as
 * JSON (checked here before sending), optional tags; POST api/v1/runs, then
 * open the new run. A 422 shows the server's issues next to the fields.
 */
import { type FormEvent, useMemo, useState } from 'react';
import { ApiError, api } from '../api/client';
import { exampleFor, schemaFields } from '../api/tasks';
import type { Issue, RegisteredTask } from '../api/types';
import { ErrorBanner } from '../components/layout-parts';
import { Modal } from '../components/modal';
import { issuePath, parseJsonInput, parseTags } from '../lib/format';
import { navigate } from '../lib/router';

/** `input.user.email`, `/user/email` and `user.email` all name the field `user.email`. */
function fieldOf(issue: Issue): string {
  return issuePath(issue.path)
    .replace(/^\//, '')
    .replaceAll('/', '.')
    .replace(/^input\.?/, '');
}

export function StartRunDialog({ tasks, onClose }: { tasks: RegisteredTask[]; onClose: () => void }) {
  const [chosen, setTarget] = useState('');
  // Until the user picks one, the first registered task (the registry may still be loading).
  const target = chosen !== '' ? chosen : tasks[0] ? `${tasks[0].kind}:${tasks[0].name}` : '';
  const [inputText, setInputText] = useState('{}');
  const [tagsText, setTagsText] = useState('');
  const [issues, setIssues] = useState<Issue[]>([]);
  const [error, setError] = useState<unknown>(undefined);
  const [isBusy, setIsBusy] = useState(false);

  const selected = tasks.find((t) => `${t.kind}:${t.name}` === target);
  const fields = useMemo(() => schemaFields(selected?.inputSchema), [selected]);
  const parsed = parseJsonInput(inputText);
  const tags = parseTags(tagsText);
  const jsonError = 'error' in parsed ? parsed.error : undefined;
  const tagsError = 'error' in tags ? tags.error : undefined;

  const fieldIssues = (name: string) => issues.filter((i) => fieldOf(i) === name || fieldOf(i).startsWith(`${name}.`));
  const otherIssues = issues.filter((i) => !fields.some((f) => fieldIssues(f.name).includes(i)));

  const submit = async (event: FormEvent) => {
    event.preventDefault();
    if (!selected || 'error' in parsed || 'error' in tags) return;
    setIsBusy(true);
    setIssues([]);
    setError(undefined);
    try {
      const body: Record<string, unknown> = { [selected.kind]: selected.name };
      if (parsed.value !== undefined) body.input = parsed.value;
      if (Object.keys(tags.tags).length > 0) body.options = { tags: tags.tags };
      const result = await api.post<{ id: string; outcome: string }>('runs', body);
      onClose();
      navigate(`/runs/${encodeURIComponent(result.id)}`);
    } catch (e) {
      if (e instanceof ApiError && e.issues.length > 0) setIssues(e.issues);
      setError(e);
      setIsBusy(false);
    }
  };

  const tasksOnly = tasks.filter((t) => t.kind === 'task');
  const workflows = tasks.filter((t) => t.kind === 'workflow');

  return (
    <Modal title="Start a run" onClose={onClose} testId="start-run-dialog" isWide>
      <form className="form" onSubmit={(e) => void submit(e)}>
        <label className="field">
          <span>Task or workflow</span>
          <select
            className="input"
            data-testid="start-run-target"
            value={target}
            onChange={(e) => {
              setTarget(e.target.value);
              setIssues([]);
              setError(undefined);
            }}
            required
          >
            {tasks.length === 0 && <option value="">No task is registered yet</option>}
            {tasksOnly.length > 0 && (
              <optgroup label="Tasks">
                {tasksOnly.map((t) => (
                  <option key={t.name} value={`task:${t.name}`}>
                    {t.name}
                  </option>
                ))}
              </optgroup>
            )}
            {workflows.length > 0 && (
              <optgroup label="Workflows">
                {workflows.map((t) => (
                  <option key={t.name} value={`workflow:${t.name}`}>
                    {t.name}
                  </option>
                ))}
              </optgroup>
            )}
          </select>
        </label>

        {fields.length > 0 && (
          <div className="schema-fields">
            <div className="schema-fields-header">
              <span className="field-label">Input fields</span>
              <button
                type="button"
                className="button button-small"
                data-testid="start-run-example"
                onClick={() => setInputText(JSON.stringify(exampleFor(selected?.inputSchema), null, 2))}
              >
                Fill example
              </button>
            </div>
            <ul className="schema-field-list">
              {fields.map((f) => (
                <li key={f.name} className={fieldIssues(f.name).length > 0 ? 'has-issue' : ''}>
                  <code>{f.name}</code>
                  <span className="muted"> {f.type}</span>
                  {f.isRequired && <span className="required"> required</span>}
                  {f.description && <span className="muted"> — {f.description}</span>}
                  {fieldIssues(f.name).map((i) => (
                    <div key={`${issuePath(i.path)}:${i.message}`} className="issue" data-testid="start-run-issue">
                      {fieldOf(i) !== f.name && <code>{fieldOf(i)}: </code>}
                      {i.message}
                    </div>
                  ))}
                </li>
              ))}
            </ul>
          </div>
        )}

        <label className="field">
          <span>Input (JSON)</span>
          <textarea
            className={`input textarea mono ${jsonError ? 'is-invalid' : ''}`}
            data-testid="start-run-input"
            rows={10}
            spellCheck={false}
            value={inputText}
            onChange={(e) => setInputText(e.target.value)}
            aria-invalid={jsonError !== undefined}
          />
          {jsonError && (
            <span className="field-error" data-testid="start-run-json-error">
              Not valid JSON: {jsonError}
            </span>
          )}
        </label>

        {otherIssues.length > 0 && (
          <ul className="issues">
            {otherIssues.map((i) => (
              <li key={`${issuePath(i.path)}:${i.message}`} data-testid="start-run-issue">
                <code>{fieldOf(i) || 'input'}</code>: {i.message}
              </li>
            ))}
          </ul>
        )}

        <label className="field">
          <span>Tags (optional)</span>
          <input
            className={`input ${tagsError ? 'is-invalid' : ''}`}
            data-testid="start-run-tags"
            placeholder="customer:acme, env:staging"
            value={tagsText}
            onChange={(e) => setTagsText(e.target.value)}
          />
          {tagsError && <span className="field-error">{tagsError}</span>}
        </label>

        {issues.length === 0 && <ErrorBanner error={error} testId="start-run-error" />}
        {issues.length > 0 && (
          <div className="banner banner-error" role="alert" data-testid="start-run-error">
            The input does not match the task's schema.
          </div>
        )}

        <div className="modal-footer modal-footer-inline">
          <button type="button" className="button" onClick={onClose}>
            Cancel
          </button>
          <button
            type="submit"
            className="button button-primary"
            data-testid="start-run-submit"
            disabled={isBusy || !selected || jsonError !== undefined || tagsError !== undefined}
          >
            {isBusy ? 'Starting…' : 'Start run'}
          </button>
        </div>
      </form>
    </Modal>
  );
}
