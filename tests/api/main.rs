//! The HTTP API over real HTTP on the embedded stack (SQLite, local object store, table queue),
//! and (`aws`, run by CI against emulators) on S3 and SQS.

mod audit;
mod authz;
mod aws;
mod bad_input;
mod callback;
mod concurrency;
mod errors;
mod flow;
mod helpers;
mod methods;
mod observability;
mod openapi;
