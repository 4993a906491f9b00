-- Durable sleeps and waits: a suspended run is 'Waiting' with the time it wakes
-- (wake_at); claims first move due sleepers back to 'Pending'.
ALTER TABLE runs ADD COLUMN wake_at bigint;
CREATE INDEX runs_sleeping ON runs (namespace, wake_at) WHERE status = 'Waiting' AND wake_at IS NOT NULL;
