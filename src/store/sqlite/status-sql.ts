/**
 * Status tests for SQLite statements and partial indexes, written as comparisons rather than
 * `status IN (…)`: SQLite evaluates an IN list of three or more constants through a temporary
 * b-tree that it builds on every execution, and an UPDATE does so again for each partial index it
 * maintains, which made every status change several times slower (docs/decisions/0011-hot-path-costs.md). A query
 * only uses a partial index whose WHERE it repeats, so migrations and queries share these texts.
 */
export const IS_QUEUED = `(status = 'Scheduled' OR status = 'Pending' OR status = 'AwaitingRetry')`;
export const IS_LEASED = `(status = 'Running' OR status = 'Retrying' OR status = 'Cancelling')`;
