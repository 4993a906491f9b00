-- Events pushed with an idempotency key (DESIGN.md §2.8): a repeat of the key in the
-- namespace within the idempotency window stores nothing and wakes nothing; it returns
-- the first event. After the window the key moves to the new event.
ALTER TABLE events ADD COLUMN idempotency_key text;
CREATE UNIQUE INDEX events_idempotency ON events (namespace, idempotency_key) WHERE idempotency_key IS NOT NULL;
