-- Recorded steps of durable tasks (and their recorded now() / randomUUID()
-- values). A step's identity is `name#n`, the n-th call of that name in the
-- run; the first writer wins, fenced by the attempt's lease epoch.
CREATE TABLE steps (
  run_id      TEXT NOT NULL,
  step_key    TEXT NOT NULL,
  seq         INTEGER NOT NULL,
  kind        TEXT NOT NULL,
  output      TEXT,
  error       TEXT,
  attempt     INTEGER NOT NULL,
  epoch       INTEGER NOT NULL,
  created_at  INTEGER NOT NULL,
  PRIMARY KEY (run_id, step_key)
) STRICT, WITHOUT ROWID;
