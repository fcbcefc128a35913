//! Old event payloads are upcast when read, never rewritten in the store.

use cqrs_es::persist::{EventUpcaster, SemanticVersionEventUpcaster};
use serde_json::Value;

use crate::listing::SYNCED_VERSION;

/// Every upcaster, for the event store and for rebuilds.
pub fn upcasters() -> Vec<Box<dyn EventUpcaster>> {
    vec![Box::new(SemanticVersionEventUpcaster::new(
        "Synced",
        SYNCED_VERSION,
        Box::new(synced_v1_to_v2),
    ))]
}

/// `Synced` v1 predates project media: such listings had none.
fn synced_v1_to_v2(mut payload: Value) -> Value {
    if let Some(body) = payload.get_mut("Synced").and_then(Value::as_object_mut) {
        body.entry("projectMedia").or_insert(Value::Bool(false));
    }
    payload
}
