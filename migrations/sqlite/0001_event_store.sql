-- Event store, outbox and read tables (sqlite). Times are RFC 3339 text, so rows compare byte for byte across backends.

CREATE TABLE events (
    position INTEGER PRIMARY KEY AUTOINCREMENT,
    aggregate_type TEXT NOT NULL,
    aggregate_id TEXT NOT NULL,
    sequence INTEGER NOT NULL,
    event_type TEXT NOT NULL,
    event_version TEXT NOT NULL,
    payload TEXT NOT NULL,
    metadata TEXT NOT NULL,
    hash TEXT NOT NULL,
    recorded_at TEXT NOT NULL
);
CREATE UNIQUE INDEX events_stream ON events (aggregate_type, aggregate_id, sequence);

CREATE TABLE outbox (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    topic TEXT NOT NULL,
    aggregate_type TEXT NOT NULL,
    aggregate_id TEXT NOT NULL,
    sequence INTEGER NOT NULL,
    payload TEXT NOT NULL,
    created_at TEXT NOT NULL,
    available_at TEXT NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0
);
CREATE UNIQUE INDEX outbox_event ON outbox (aggregate_type, aggregate_id, sequence, topic);
CREATE INDEX outbox_due ON outbox (topic, available_at);

CREATE TABLE media_batches (
    batch_id TEXT NOT NULL,
    listing_id INTEGER NOT NULL,
    batch_reference TEXT NOT NULL,
    status TEXT NOT NULL,
    status_message TEXT,
    failure_code TEXT,
    attempt INTEGER NOT NULL,
    current_job_id TEXT,
    open_listing_id INTEGER,
    deleted INTEGER NOT NULL,
    deleted_at TEXT,
    upload_expires_at TEXT NOT NULL,
    received_at TEXT,
    ready_at TEXT,
    ready_attempt INTEGER,
    asset_count INTEGER NOT NULL,
    total_bytes INTEGER NOT NULL,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    last_seq INTEGER NOT NULL,
    PRIMARY KEY (batch_id)
);
CREATE UNIQUE INDEX media_batches_open_listing ON media_batches (open_listing_id);
CREATE INDEX media_batches_listing ON media_batches (listing_id, created_at);
CREATE INDEX media_batches_status ON media_batches (status, updated_at);

CREATE TABLE media_assets (
    batch_id TEXT NOT NULL,
    client_id TEXT NOT NULL,
    sequence INTEGER NOT NULL,
    title TEXT,
    asset_type TEXT NOT NULL,
    content_type TEXT NOT NULL,
    filename TEXT NOT NULL,
    bytes INTEGER NOT NULL,
    checksum TEXT NOT NULL,
    status TEXT NOT NULL,
    raw_key TEXT NOT NULL,
    renditions TEXT NOT NULL,
    width INTEGER,
    height INTEGER,
    duration_millis INTEGER,
    error_code TEXT,
    error_message TEXT,
    metadata TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    last_seq INTEGER NOT NULL,
    PRIMARY KEY (batch_id, client_id)
);

CREATE TABLE media_jobs (
    job_id TEXT NOT NULL,
    batch_id TEXT NOT NULL,
    listing_id INTEGER NOT NULL,
    attempt INTEGER NOT NULL,
    status TEXT NOT NULL,
    scope TEXT NOT NULL,
    reason TEXT,
    asset_count INTEGER NOT NULL,
    created_at TEXT NOT NULL,
    started_at TEXT,
    completed_at TEXT,
    last_seq INTEGER NOT NULL,
    PRIMARY KEY (job_id)
);
CREATE INDEX media_jobs_batch ON media_jobs (batch_id, attempt);
CREATE INDEX media_jobs_status ON media_jobs (status, created_at);

CREATE TABLE listings (
    listing_id INTEGER NOT NULL,
    status TEXT NOT NULL,
    owner_user_id INTEGER NOT NULL,
    photographer_user_id INTEGER,
    project_media INTEGER NOT NULL,
    updated_at TEXT NOT NULL,
    last_seq INTEGER NOT NULL,
    PRIMARY KEY (listing_id)
);
