//! Processes that follow on from one aggregate's commits to another's.

pub mod ready_listing;
