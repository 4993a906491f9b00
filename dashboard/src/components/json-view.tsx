/** Payloads (input, output, fields) as pretty JSON text, and stored errors with their cause chain. */
import type { SerializedError } from '../api/types';
import { prettyJson } from '../lib/format';

export function JsonView({ value, testId }: { value: unknown; testId?: string }) {
  if (value === undefined) return <p className="muted">—</p>;
  return (
    <pre className="json" data-testid={testId}>
      {prettyJson(value)}
    </pre>
  );
}

export function ErrorView({ error, testId }: { error: SerializedError; testId?: string }) {
  const chain: SerializedError[] = [];
  for (let e: SerializedError | undefined = error; e && chain.length < 20; e = e.cause) chain.push(e);
  return (
    <div className="error-view" data-testid={testId}>
      {chain.map((e, i) => (
        // biome-ignore lint/suspicious/noArrayIndexKey: a cause chain has no ids and never reorders.
        <div key={i} className="error-item">
          {i > 0 && <div className="error-caused">caused by</div>}
          <div className="error-title">
            <strong>{e.name}</strong>
            {e.code && <code className="error-code">{e.code}</code>}
          </div>
          <div className="error-message">{e.message}</div>
          {e.data !== undefined && <JsonView value={e.data} />}
          {e.stack && (
            <details>
              <summary>Stack trace</summary>
              <pre className="json">{e.stack}</pre>
            </details>
          )}
        </div>
      ))}
    </div>
  );
}
