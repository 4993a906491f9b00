-- API tokens (DESIGN.md §2.12 "HTTP in code"): only a SHA-256 of the token is kept.
CREATE TABLE api_tokens (
  id          TEXT NOT NULL PRIMARY KEY,
  token_hash  TEXT NOT NULL UNIQUE,
  name        TEXT,
  namespaces  TEXT NOT NULL,
  scope       TEXT NOT NULL,
  created_at  INTEGER NOT NULL,
  revoked_at  INTEGER,
  last_used_at INTEGER
);
