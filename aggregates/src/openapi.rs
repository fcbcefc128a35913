//! The manifest's rules as JSON Schema, built from the same constants and values the parsers
//! use, so that the published document states exactly what the server enforces (a client
//! generator then sends nothing the server refuses). `schema_with` targets for the `Raw*` types.

use utoipa::openapi::KnownFormat;
use utoipa::openapi::schema::{
    AnyOfBuilder, Object, ObjectBuilder, Schema, SchemaFormat, SchemaType, Type,
};

use crate::manifest::{
    MAX_FILENAME, MAX_METADATA_KEY, MAX_METADATA_KEYS, MAX_METADATA_VALUE, MAX_REFERENCE, MAX_TITLE,
};
use crate::{AssetType, Limits};

/// What Rust's `str::trim` removes (Unicode `White_Space`), spelled out: `\s` differs between
/// regex dialects.
const WS: &str = r"\t\n\x0b\x0c\r \x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000";
/// `char::is_control` (Unicode `Cc`).
const CONTROL: &str = r"\x00-\x1f\x7f-\x9f";

fn string() -> ObjectBuilder {
    ObjectBuilder::new().schema_type(Type::String)
}

fn nullable(b: ObjectBuilder, ty: Type) -> ObjectBuilder {
    b.schema_type(SchemaType::from_iter([ty, Type::Null]))
}

/// A string whose trimmed value has 1 to `max` characters (none of them a control character
/// unless `controls`).
pub fn trimmed_pattern(max: usize, controls: bool) -> String {
    let edge = if controls {
        format!("[^{WS}]")
    } else {
        format!("[^{WS}{CONTROL}]")
    };
    let inner = if controls {
        r"[\s\S]".to_owned()
    } else {
        format!("[^{CONTROL}]")
    };
    format!(
        "^[{WS}]*{edge}(?:{inner}{{0,{}}}{edge})?[{WS}]*$",
        max.saturating_sub(2)
    )
}

/// A required string of 1 to `max` characters after trimming.
pub fn trimmed(max: usize, controls: bool) -> Object {
    string()
        .min_length(Some(1))
        .pattern(Some(trimmed_pattern(max, controls)))
        .build()
}

pub fn batch_reference() -> Object {
    trimmed(MAX_REFERENCE, false)
}

/// `clientId`: 1 to 64 characters after trimming, no control characters.
pub fn client_id() -> Object {
    trimmed(64, false)
}

/// Optional; blank counts as absent.
pub fn title() -> Object {
    let blank_or_text = format!("^[{WS}]*$|{}", trimmed_pattern(MAX_TITLE, false));
    nullable(string(), Type::String)
        .pattern(Some(blank_or_text))
        .build()
}

/// Not blank, at most 255 characters, no control characters.
pub fn filename() -> Object {
    string()
        .min_length(Some(1))
        .max_length(Some(MAX_FILENAME))
        .pattern(Some(format!(
            "^[^{CONTROL}]*[^{WS}{CONTROL}][^{CONTROL}]*$"
        )))
        .build()
}

/// SHA-256: 64 hex characters or padded base64 of 32 bytes, optionally `sha256:`-prefixed.
pub fn checksum() -> Object {
    string()
        .pattern(Some(format!(
            "^[{WS}]*(?:sha256:)?(?:[0-9a-fA-F]{{64}}|[A-Za-z0-9+/]{{42}}[AEIMQUYcgkosw048]=)[{WS}]*$"
        )))
        .build()
}

/// An optional checksum (`uploads/complete`).
pub fn optional_checksum() -> Object {
    let mut schema = checksum();
    schema.schema_type = SchemaType::from_iter([Type::String, Type::Null]);
    schema
}

pub fn asset_type() -> Object {
    string()
        .enum_values(Some(AssetType::ALL.map(AssetType::as_str)))
        .build()
}

pub fn orientation() -> Object {
    nullable(string(), Type::String)
        .enum_values(Some([Some("HORIZONTAL"), Some("VERTICAL"), None]))
        .build()
}

pub fn content_type() -> Object {
    string()
        .enum_values(Some(Limits::default().allowed_content_types))
        .build()
}

pub fn bytes() -> Object {
    ObjectBuilder::new()
        .schema_type(Type::Integer)
        .format(Some(SchemaFormat::KnownFormat(KnownFormat::Int64)))
        .minimum(Some(1))
        .maximum(Some(Limits::default().max_file_bytes))
        .build()
}

pub fn sequence() -> Object {
    ObjectBuilder::new()
        .schema_type(Type::Integer)
        .minimum(Some(1))
        .maximum(Some(255))
        .build()
}

/// At most 20 keys of 1 to 40 characters, string values of at most 256 characters.
pub fn metadata() -> Object {
    let key = string()
        .min_length(Some(1))
        .max_length(Some(MAX_METADATA_KEY))
        .pattern(Some(format!("^[^{CONTROL}]*$")));
    nullable(ObjectBuilder::new(), Type::Object)
        .max_properties(Some(MAX_METADATA_KEYS))
        .property_names(Some(key))
        .additional_properties(Some(string().max_length(Some(MAX_METADATA_VALUE))))
        .build()
}

/// The rules across a file's fields: per asset type, the content types it accepts and the
/// orientation it must agree with (none for project media).
pub fn file_kinds(limits: &Limits) -> Schema {
    let mut any = AnyOfBuilder::new();
    for t in AssetType::ALL {
        let types: Vec<&str> = limits
            .allowed_content_types
            .iter()
            .map(String::as_str)
            .filter(|ct| t.accepts(ct))
            .collect();
        let orientation = match t.orientation() {
            Some(o) => vec![Some(o.as_str()), None],
            None => vec![Some("HORIZONTAL"), Some("VERTICAL"), None],
        };
        any = any.item(
            ObjectBuilder::new()
                .property("assetType", string().enum_values(Some([t.as_str()])))
                .property("contentType", string().enum_values(Some(types)))
                .property(
                    "orientation",
                    nullable(string(), Type::String).enum_values(Some(orientation)),
                ),
        );
    }
    Schema::AnyOf(any.build())
}
