-- Recorded steps of durable tasks (and their recorded now() / randomUUID()
-- values). A step's identity is `name#n`, the n-th call of that name in the
-- run; the first writer wins, fenced by the attempt's lease epoch.
CREATE TABLE steps (
  run_id      text COLLATE "C" NOT NULL,
  step_key    text COLLATE "C" NOT NULL,
  seq         integer NOT NULL,
  kind        text NOT NULL,
  output      text,
  error       json,
  attempt     integer NOT NULL,
  epoch       bigint NOT NULL,
  created_at  bigint NOT NULL,
  PRIMARY KEY (run_id, step_key)
);
