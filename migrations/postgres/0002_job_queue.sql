-- The embedded durable queue (postgres): the outbox relay moves messages here in the same database;
-- consumers receive with a visibility timeout, delete when done; after max receives a message is dead.
CREATE TABLE job_queue (
    id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    queue TEXT NOT NULL,
    message_key TEXT NOT NULL,
    payload TEXT NOT NULL,
    attributes TEXT NOT NULL,
    enqueued_at TEXT NOT NULL,
    visible_at TEXT NOT NULL,
    receive_count BIGINT NOT NULL DEFAULT 0,
    receipt TEXT,
    dead BIGINT NOT NULL DEFAULT 0
);
CREATE UNIQUE INDEX job_queue_key ON job_queue (queue, message_key);
CREATE INDEX job_queue_ready ON job_queue (queue, dead, visible_at);
