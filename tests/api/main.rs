//! The HTTP API over real HTTP on the embedded stack (SQLite, local object store, table queue).

mod authz;
mod callback;
mod concurrency;
mod errors;
mod flow;
mod helpers;
mod openapi;
