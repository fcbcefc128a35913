//! The embedded object store: a local directory served by the api itself through signed URLs.
//!
//! It stands in for S3 when everything runs in one process, and keeps S3's contract: clients
//! upload with a presigned `PUT` that fixes content type, length and SHA-256 (so the store
//! refuses any other bytes, API.md §1) and download with a presigned `GET` (§5). A refused upload
//! leaves nothing behind (DESIGN.md, guarantee 6).
//!
//! - `signing`: what a URL grants, and checking that a request stays within it.
//! - `local`: the directory: verified writes via temporary file and rename, `head`, `open`.
//! - `routes`: the actix-web handlers for `/storage/{key}`.

pub mod local;
pub mod routes;
pub mod signing;

pub use local::{LocalStore, UploadError, UploadTicket};
