-- The embedded durable queue (mysql): the outbox relay moves messages here in the same database;
-- consumers receive with a visibility timeout, delete when done; after max receives a message is dead.
CREATE TABLE job_queue (
    id BIGINT NOT NULL AUTO_INCREMENT PRIMARY KEY,
    queue VARCHAR(128) NOT NULL,
    message_key VARCHAR(128) NOT NULL,
    payload LONGTEXT NOT NULL,
    attributes LONGTEXT NOT NULL,
    enqueued_at VARCHAR(128) NOT NULL,
    visible_at VARCHAR(128) NOT NULL,
    receive_count BIGINT NOT NULL DEFAULT 0,
    receipt VARCHAR(128),
    dead BIGINT NOT NULL DEFAULT 0
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;
CREATE UNIQUE INDEX job_queue_key ON job_queue (queue, message_key);
CREATE INDEX job_queue_ready ON job_queue (queue, dead, visible_at);
