//! The reference client of the HTTP contract: `toq-media upload`.

mod files;
pub mod upload;
