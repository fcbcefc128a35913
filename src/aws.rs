//! The AWS SDK's shared configuration: credentials and region from the standard chain
//! (`AWS_*` variables, profile, instance or task role), with a region to fall back on so an
//! emulator works with nothing but an endpoint.

use aws_config::{BehaviorVersion, Region, SdkConfig};

/// Used when the chain names no region.
const DEFAULT_REGION: &str = "us-east-1";

pub async fn sdk_config() -> SdkConfig {
    let region = aws_config::meta::region::RegionProviderChain::default_provider()
        .or_else(Region::new(DEFAULT_REGION));
    aws_config::defaults(BehaviorVersion::latest())
        .region(region)
        .load()
        .await
}
