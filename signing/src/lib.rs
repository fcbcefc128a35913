//! The HMAC signatures of toq-media, apart from the service so that they can be fuzzed (see
//! `fuzz/`) without building the HTTP server, the database drivers and the AWS SDK.
//!
//! - [`callback`]: the processing pipeline's `X-Toq-Signature` over timestamp and body.
//! - [`url`]: the local object store's signed PUT and GET URLs.

#![forbid(unsafe_code)]

pub mod callback;
pub mod url;
