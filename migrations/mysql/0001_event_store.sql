-- Event store, outbox and read tables (mysql). Times are RFC 3339 text, so rows compare byte for byte across backends.

CREATE TABLE events (
    position BIGINT NOT NULL AUTO_INCREMENT PRIMARY KEY,
    aggregate_type VARCHAR(64) NOT NULL,
    aggregate_id VARCHAR(64) NOT NULL,
    sequence BIGINT NOT NULL,
    event_type VARCHAR(64) NOT NULL,
    event_version VARCHAR(64) NOT NULL,
    payload LONGTEXT NOT NULL,
    metadata LONGTEXT NOT NULL,
    hash VARCHAR(64) NOT NULL,
    recorded_at VARCHAR(64) NOT NULL
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;
CREATE UNIQUE INDEX events_stream ON events (aggregate_type, aggregate_id, sequence);

CREATE TABLE outbox (
    id BIGINT NOT NULL AUTO_INCREMENT PRIMARY KEY,
    topic VARCHAR(64) NOT NULL,
    aggregate_type VARCHAR(64) NOT NULL,
    aggregate_id VARCHAR(64) NOT NULL,
    sequence BIGINT NOT NULL,
    payload LONGTEXT NOT NULL,
    created_at VARCHAR(64) NOT NULL,
    available_at VARCHAR(64) NOT NULL,
    attempts BIGINT NOT NULL DEFAULT 0
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;
CREATE UNIQUE INDEX outbox_event ON outbox (aggregate_type, aggregate_id, sequence, topic);
CREATE INDEX outbox_due ON outbox (topic, available_at);

CREATE TABLE media_batches (
    batch_id VARCHAR(64) NOT NULL,
    listing_id BIGINT NOT NULL,
    batch_reference TEXT NOT NULL,
    status VARCHAR(64) NOT NULL,
    status_message TEXT,
    failure_code VARCHAR(64),
    attempt BIGINT NOT NULL,
    current_job_id VARCHAR(64),
    open_listing_id BIGINT,
    deleted BIGINT NOT NULL,
    deleted_at VARCHAR(64),
    upload_expires_at VARCHAR(64) NOT NULL,
    received_at VARCHAR(64),
    ready_at VARCHAR(64),
    ready_attempt BIGINT,
    asset_count BIGINT NOT NULL,
    total_bytes BIGINT NOT NULL,
    created_at VARCHAR(64) NOT NULL,
    updated_at VARCHAR(64) NOT NULL,
    last_seq BIGINT NOT NULL,
    PRIMARY KEY (batch_id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;
CREATE UNIQUE INDEX media_batches_open_listing ON media_batches (open_listing_id);
CREATE INDEX media_batches_listing ON media_batches (listing_id, created_at);
CREATE INDEX media_batches_status ON media_batches (status, updated_at);

CREATE TABLE media_assets (
    batch_id VARCHAR(64) NOT NULL,
    client_id VARCHAR(64) NOT NULL,
    sequence BIGINT NOT NULL,
    title TEXT,
    asset_type VARCHAR(64) NOT NULL,
    content_type VARCHAR(64) NOT NULL,
    filename TEXT NOT NULL,
    bytes BIGINT NOT NULL,
    checksum VARCHAR(64) NOT NULL,
    status VARCHAR(64) NOT NULL,
    raw_key TEXT NOT NULL,
    renditions TEXT NOT NULL,
    width BIGINT,
    height BIGINT,
    duration_millis BIGINT,
    error_code VARCHAR(64),
    error_message TEXT,
    metadata TEXT NOT NULL,
    updated_at VARCHAR(64) NOT NULL,
    last_seq BIGINT NOT NULL,
    PRIMARY KEY (batch_id, client_id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;

CREATE TABLE media_jobs (
    job_id VARCHAR(64) NOT NULL,
    batch_id VARCHAR(64) NOT NULL,
    listing_id BIGINT NOT NULL,
    attempt BIGINT NOT NULL,
    status VARCHAR(64) NOT NULL,
    scope VARCHAR(64) NOT NULL,
    reason TEXT,
    asset_count BIGINT NOT NULL,
    created_at VARCHAR(64) NOT NULL,
    started_at VARCHAR(64),
    completed_at VARCHAR(64),
    last_seq BIGINT NOT NULL,
    PRIMARY KEY (job_id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;
CREATE INDEX media_jobs_batch ON media_jobs (batch_id, attempt);
CREATE INDEX media_jobs_status ON media_jobs (status, created_at);

CREATE TABLE listings (
    listing_id BIGINT NOT NULL,
    status VARCHAR(64) NOT NULL,
    owner_user_id BIGINT NOT NULL,
    photographer_user_id BIGINT,
    project_media BIGINT NOT NULL,
    updated_at VARCHAR(64) NOT NULL,
    last_seq BIGINT NOT NULL,
    PRIMARY KEY (listing_id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;
