-- Without statistics (a fresh or freshly bulk-loaded table) the planner picked
-- runs_due for the claim and sorted every queued run on each claim (20 ms at
-- 20,000 queued); with only runs_queue it walks the index in claim order and
-- stops after LIMIT rows (0.1 ms). nextDueAt reads runs_queue instead.
DROP INDEX runs_due;
