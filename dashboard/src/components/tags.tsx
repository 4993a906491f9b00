/** Tags (`key:value`) as small chips. */
export function Tags({ tags }: { tags: Record<string, string> | undefined }) {
  const entries = Object.entries(tags ?? {});
  if (entries.length === 0) return <span className="muted">—</span>;
  return (
    <span className="chips">
      {entries.map(([k, v]) => (
        <span key={k} className="chip" title={`${k}:${v}`}>
          <span className="chip-key">{k}</span>
          <span className="chip-value">{v}</span>
        </span>
      ))}
    </span>
  );
}
