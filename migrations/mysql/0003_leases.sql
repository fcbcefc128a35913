-- Leases: a background loop that must run in one process at a time (the outbox relay, the
-- reconciler) holds its row until `expires_at` (RFC 3339, UTC, sortable as text) and renews it.
CREATE TABLE leases (
    name VARCHAR(64) NOT NULL PRIMARY KEY,
    holder VARCHAR(128) NOT NULL,
    expires_at VARCHAR(128) NOT NULL
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;
