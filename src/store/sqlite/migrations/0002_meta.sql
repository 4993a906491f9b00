-- Instance-wide settings shared by every process on this database
-- (the secret that signs serialized contexts).
CREATE TABLE baton_meta (
  key    TEXT PRIMARY KEY,
  value  TEXT NOT NULL
) STRICT, WITHOUT ROWID;
