/** A timestamp shown relative to now ("5s ago"), with the exact time on hover. */

import { formatRelative, formatTime } from '../lib/format';
import { useNow } from '../lib/hooks';

export function RelTime({ iso }: { iso: string | undefined | null }) {
  const now = useNow();
  if (!iso) return <span className="muted">—</span>;
  return (
    <time dateTime={iso} title={formatTime(iso)}>
      {formatRelative(iso, now)}
    </time>
  );
}
