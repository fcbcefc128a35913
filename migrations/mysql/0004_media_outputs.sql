-- What videos, documents and the batch ZIP add to the read tables: a document's page count,
-- and the READY attempt's ZIP of originals. NULL for everything recorded before.
ALTER TABLE media_assets ADD COLUMN page_count BIGINT;
ALTER TABLE media_batches ADD COLUMN zip_key TEXT;
ALTER TABLE media_batches ADD COLUMN zip_bytes BIGINT;
