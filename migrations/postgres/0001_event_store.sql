-- Event store, outbox and read tables (postgres). Times are RFC 3339 text, so rows compare byte for byte across backends.

CREATE TABLE events (
    position BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    aggregate_type TEXT NOT NULL,
    aggregate_id TEXT NOT NULL,
    sequence BIGINT NOT NULL,
    event_type TEXT NOT NULL,
    event_version TEXT NOT NULL,
    payload TEXT NOT NULL,
    metadata TEXT NOT NULL,
    hash TEXT NOT NULL,
    recorded_at TEXT NOT NULL
);
CREATE UNIQUE INDEX events_stream ON events (aggregate_type, aggregate_id, sequence);

CREATE TABLE outbox (
    id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    topic TEXT NOT NULL,
    aggregate_type TEXT NOT NULL,
    aggregate_id TEXT NOT NULL,
    sequence BIGINT NOT NULL,
    payload TEXT NOT NULL,
    created_at TEXT NOT NULL,
    available_at TEXT NOT NULL,
    attempts BIGINT NOT NULL DEFAULT 0
);
CREATE UNIQUE INDEX outbox_event ON outbox (aggregate_type, aggregate_id, sequence, topic);
CREATE INDEX outbox_due ON outbox (topic, available_at);

CREATE TABLE media_batches (
    batch_id TEXT NOT NULL,
    listing_id BIGINT NOT NULL,
    batch_reference TEXT NOT NULL,
    status TEXT NOT NULL,
    status_message TEXT,
    failure_code TEXT,
    attempt BIGINT NOT NULL,
    current_job_id TEXT,
    open_listing_id BIGINT,
    deleted BIGINT NOT NULL,
    deleted_at TEXT,
    upload_expires_at TEXT NOT NULL,
    received_at TEXT,
    ready_at TEXT,
    ready_attempt BIGINT,
    asset_count BIGINT NOT NULL,
    total_bytes BIGINT NOT NULL,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    last_seq BIGINT NOT NULL,
    PRIMARY KEY (batch_id)
);
CREATE UNIQUE INDEX media_batches_open_listing ON media_batches (open_listing_id);
CREATE INDEX media_batches_listing ON media_batches (listing_id, created_at);
CREATE INDEX media_batches_status ON media_batches (status, updated_at);

CREATE TABLE media_assets (
    batch_id TEXT NOT NULL,
    client_id TEXT NOT NULL,
    sequence BIGINT NOT NULL,
    title TEXT,
    asset_type TEXT NOT NULL,
    content_type TEXT NOT NULL,
    filename TEXT NOT NULL,
    bytes BIGINT NOT NULL,
    checksum TEXT NOT NULL,
    status TEXT NOT NULL,
    raw_key TEXT NOT NULL,
    renditions TEXT NOT NULL,
    width BIGINT,
    height BIGINT,
    duration_millis BIGINT,
    error_code TEXT,
    error_message TEXT,
    metadata TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    last_seq BIGINT NOT NULL,
    PRIMARY KEY (batch_id, client_id)
);

CREATE TABLE media_jobs (
    job_id TEXT NOT NULL,
    batch_id TEXT NOT NULL,
    listing_id BIGINT NOT NULL,
    attempt BIGINT NOT NULL,
    status TEXT NOT NULL,
    scope TEXT NOT NULL,
    reason TEXT,
    asset_count BIGINT NOT NULL,
    created_at TEXT NOT NULL,
    started_at TEXT,
    completed_at TEXT,
    last_seq BIGINT NOT NULL,
    PRIMARY KEY (job_id)
);
CREATE INDEX media_jobs_batch ON media_jobs (batch_id, attempt);
CREATE INDEX media_jobs_status ON media_jobs (status, created_at);

CREATE TABLE listings (
    listing_id BIGINT NOT NULL,
    status TEXT NOT NULL,
    owner_user_id BIGINT NOT NULL,
    photographer_user_id BIGINT,
    project_media BIGINT NOT NULL,
    updated_at TEXT NOT NULL,
    last_seq BIGINT NOT NULL,
    PRIMARY KEY (listing_id)
);
