-- Leases: a background loop that must run in one process at a time (the outbox relay, the
-- reconciler) holds its row until `expires_at` (RFC 3339, UTC, sortable as text) and renews it.
CREATE TABLE leases (
    name TEXT NOT NULL PRIMARY KEY,
    holder TEXT NOT NULL,
    expires_at TEXT NOT NULL
);
