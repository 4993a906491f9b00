-- API tokens (DESIGN.md §2.12 "HTTP in code"): only a SHA-256 of the token is kept.
CREATE TABLE api_tokens (
  id          TEXT NOT NULL PRIMARY KEY,
  token_hash  TEXT NOT NULL UNIQUE,
  name        TEXT,
  namespaces  TEXT NOT NULL,
  scope       TEXT NOT NULL,
  created_at  BIGINT NOT NULL,
  revoked_at  BIGINT,
  last_used_at BIGINT
);
