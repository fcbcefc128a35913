//! Old event payloads are upcast when read, never rewritten in the store.

use cqrs_es::persist::{EventUpcaster, SerializedEvent};
use serde_json::Value;

use crate::listing::SYNCED_VERSION;

/// Every upcaster, for the event store and for rebuilds.
pub fn upcasters() -> Vec<Box<dyn EventUpcaster>> {
    vec![Box::new(SyncedV1)]
}

/// `Synced` v1 predates project media: such listings had none.
struct SyncedV1;

impl EventUpcaster for SyncedV1 {
    fn can_upcast(&self, event_type: &str, event_version: &str) -> bool {
        event_type == "Synced" && event_version == "1"
    }

    fn upcast(&self, mut event: SerializedEvent) -> SerializedEvent {
        if let Some(body) = event
            .payload
            .get_mut("Synced")
            .and_then(Value::as_object_mut)
        {
            body.entry("projectMedia").or_insert(Value::Bool(false));
        }
        event.event_version = SYNCED_VERSION.to_owned();
        event
    }
}
