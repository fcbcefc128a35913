//! The upload manifest of API.md §1: what a client sends (`Raw*`, loosely typed so that every
//! broken field can be reported at once) and what the domain keeps once it parsed ([`Manifest`]).

use std::collections::{BTreeMap, HashSet};

use serde::{Deserialize, Serialize};

use crate::values::{AssetType, Checksum, ClientId, Orientation, Sequence};

/// One broken field: `files[3].checksum` and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct FieldError {
    pub field: String,
    pub message: String,
}

impl FieldError {
    pub fn new(field: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            field: field.into(),
            message: message.into(),
        }
    }
}

/// The configurable limits that manifests are checked against (defaults from API.md).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Limits {
    pub max_files_per_batch: usize,
    pub max_file_bytes: u64,
    pub max_total_bytes: u64,
    pub allowed_content_types: Vec<String>,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_files_per_batch: 60,
            max_file_bytes: 256 * 1024 * 1024,
            max_total_bytes: 1024 * 1024 * 1024,
            allowed_content_types: [
                "image/jpeg",
                "image/png",
                "image/heic",
                "image/webp",
                "video/mp4",
                "video/quicktime",
                "application/pdf",
            ]
            .map(String::from)
            .to_vec(),
        }
    }
}

/// A manifest as a client sent it. Absent fields are `None` so that they are reported as
/// broken fields (422) rather than as malformed JSON (400).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct RawManifest {
    #[cfg_attr(feature = "openapi", schema(required = true, schema_with = crate::openapi::batch_reference))]
    pub batch_reference: Option<String>,
    /// 1 to `maxFilesPerBatch` (default 60) files; `clientId`, `sequence` and `title` unique in
    /// the batch; total size at most `maxTotalBytes` (default 1 GiB).
    #[cfg_attr(
        feature = "openapi",
        schema(required = true, nullable = false, min_items = 1, max_items = 60)
    )]
    pub files: Option<Vec<RawFile>>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct RawFile {
    #[cfg_attr(feature = "openapi", schema(required = true, schema_with = crate::openapi::client_id))]
    pub client_id: Option<String>,
    /// Uploadable types only (`THUMBNAIL` and `ZIP` are pipeline outputs).
    #[cfg_attr(feature = "openapi", schema(required = true, schema_with = crate::openapi::asset_type))]
    pub asset_type: Option<String>,
    /// When given, must agree with `assetType`.
    #[cfg_attr(feature = "openapi", schema(schema_with = crate::openapi::orientation))]
    pub orientation: Option<String>,
    /// Never reaches a storage key unsanitised.
    #[cfg_attr(feature = "openapi", schema(required = true, schema_with = crate::openapi::filename))]
    pub filename: Option<String>,
    /// In the allow-list and consistent with `assetType`.
    #[cfg_attr(feature = "openapi", schema(required = true, schema_with = crate::openapi::content_type))]
    pub content_type: Option<String>,
    #[cfg_attr(feature = "openapi", schema(required = true, schema_with = crate::openapi::bytes))]
    #[serde(default, deserialize_with = "crate::json_int::opt_u64")]
    pub bytes: Option<u64>,
    /// The file's SHA-256.
    #[cfg_attr(feature = "openapi", schema(required = true, schema_with = crate::openapi::checksum))]
    pub checksum: Option<String>,
    #[cfg_attr(feature = "openapi", schema(schema_with = crate::openapi::title))]
    pub title: Option<String>,
    #[cfg_attr(feature = "openapi", schema(required = true, schema_with = crate::openapi::sequence))]
    #[serde(default, deserialize_with = "crate::json_int::opt_i64")]
    pub sequence: Option<i64>,
    #[cfg_attr(feature = "openapi", schema(schema_with = crate::openapi::metadata))]
    pub metadata: Option<serde_json::Map<String, serde_json::Value>>,
}

/// A manifest that satisfies every rule of API.md §1.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Manifest {
    pub batch_reference: String,
    pub files: Vec<ManifestFile>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ManifestFile {
    pub client_id: ClientId,
    pub asset_type: AssetType,
    pub filename: String,
    pub content_type: String,
    pub bytes: u64,
    pub checksum: Checksum,
    pub title: Option<String>,
    pub sequence: Sequence,
    pub metadata: BTreeMap<String, String>,
}

pub(crate) const MAX_REFERENCE: usize = 120;
pub(crate) const MAX_TITLE: usize = 120;
pub(crate) const MAX_FILENAME: usize = 255;
pub(crate) const MAX_METADATA_KEYS: usize = 20;
pub(crate) const MAX_METADATA_KEY: usize = 40;
pub(crate) const MAX_METADATA_VALUE: usize = 256;

/// Collects every broken field of one request.
#[derive(Default)]
pub(crate) struct Problems(Vec<FieldError>);

impl Problems {
    pub(crate) fn add(&mut self, field: impl Into<String>, message: impl Into<String>) {
        self.0.push(FieldError::new(field, message));
    }
    /// Keeps the parsed value, or records why it could not be parsed.
    pub(crate) fn take<T, E: ToString>(
        &mut self,
        field: impl Into<String>,
        parsed: Result<T, E>,
    ) -> Option<T> {
        parsed.map_err(|e| self.add(field, e.to_string())).ok()
    }
    pub(crate) fn into_result<T>(self, value: impl FnOnce() -> T) -> Result<T, Vec<FieldError>> {
        if self.0.is_empty() {
            Ok(value())
        } else {
            Err(self.0)
        }
    }
}

fn chars(s: &str) -> usize {
    s.chars().count()
}

fn has_control(s: &str) -> bool {
    s.chars().any(char::is_control)
}

impl Manifest {
    /// Checks every rule and reports every broken field at once.
    pub fn parse(raw: &RawManifest, limits: &Limits) -> Result<Self, Vec<FieldError>> {
        let mut problems = Problems::default();

        let batch_reference = raw.batch_reference.as_deref().map(str::trim);
        match batch_reference {
            None => problems.add("batchReference", "is required"),
            Some(r) if r.is_empty() || chars(r) > MAX_REFERENCE => problems.add(
                "batchReference",
                format!("must be 1 to {MAX_REFERENCE} characters after trimming"),
            ),
            Some(r) if has_control(r) => {
                problems.add("batchReference", "must not contain control characters")
            }
            Some(_) => {}
        }

        let raw_files = raw.files.as_deref().unwrap_or_default();
        let mut files = parse_files(raw_files, limits, &mut problems);

        problems.into_result(|| {
            files.sort_by_key(|f| f.sequence);
            Manifest {
                batch_reference: batch_reference.unwrap_or_default().to_owned(),
                files,
            }
        })
    }

    /// Replacement files for a batch (API.md §3b): the rules of §1 for each entry and among
    /// them; the batch itself checks them against the files they replace.
    pub fn parse_replacements(
        raw: &[RawFile],
        limits: &Limits,
    ) -> Result<Vec<ManifestFile>, Vec<FieldError>> {
        let mut problems = Problems::default();
        let mut files = parse_files(raw, limits, &mut problems);
        problems.into_result(|| {
            files.sort_by_key(|f| f.sequence);
            files
        })
    }

    pub fn total_bytes(&self) -> u64 {
        self.files.iter().map(|f| f.bytes).sum()
    }
}

/// The files of a manifest, each checked, unique by client id, sequence and title, within the
/// count and total size limits; every broken field recorded in `problems`.
fn parse_files(
    raw_files: &[RawFile],
    limits: &Limits,
    problems: &mut Problems,
) -> Vec<ManifestFile> {
    if raw_files.is_empty() || raw_files.len() > limits.max_files_per_batch {
        problems.add(
            "files",
            format!("must hold 1 to {} files", limits.max_files_per_batch),
        );
    }

    let mut files = Vec::with_capacity(raw_files.len());
    let mut client_ids = HashSet::new();
    let mut sequences = HashSet::new();
    let mut titles = HashSet::new();
    let mut total: u64 = 0;
    for (i, file) in raw_files.iter().enumerate() {
        let parsed = parse_file(&format!("files[{i}]"), file, limits, problems);
        total = total.saturating_add(file.bytes.unwrap_or(0));
        // Uniqueness is checked on every file whose own value parses, broken or not.
        let at = format!("files[{i}]");
        if let Some(id) = file
            .client_id
            .as_deref()
            .and_then(|c| ClientId::parse(c).ok())
            && !client_ids.insert(id)
        {
            problems.add(format!("{at}.clientId"), "is not unique in the batch");
        }
        if let Some(seq) = file.sequence.and_then(|s| Sequence::parse(s).ok())
            && !sequences.insert(seq)
        {
            problems.add(format!("{at}.sequence"), "is not unique in the batch");
        }
        if let Some(title) = file
            .title
            .as_deref()
            .map(str::trim)
            .filter(|t| !t.is_empty())
            && !titles.insert(title.to_owned())
        {
            problems.add(format!("{at}.title"), "is not unique in the batch");
        }
        files.extend(parsed);
    }
    if total > limits.max_total_bytes {
        problems.add(
            "files",
            format!(
                "total size {total} bytes exceeds the limit of {} bytes",
                limits.max_total_bytes
            ),
        );
    }

    files
}

/// Parses one file; `None` when any of its fields is broken (each one recorded).
fn parse_file(
    at: &str,
    raw: &RawFile,
    limits: &Limits,
    problems: &mut Problems,
) -> Option<ManifestFile> {
    let before = problems.0.len();
    let required =
        |problems: &mut Problems, name: &str| problems.add(format!("{at}.{name}"), "is required");

    let client_id = match &raw.client_id {
        Some(c) => problems.take(format!("{at}.clientId"), ClientId::parse(c)),
        None => {
            required(problems, "clientId");
            None
        }
    };
    let asset_type = match &raw.asset_type {
        Some(t) => problems.take(format!("{at}.assetType"), AssetType::parse(t)),
        None => {
            required(problems, "assetType");
            None
        }
    };
    if let Some(o) = &raw.orientation
        && let Some(orientation) = problems.take(format!("{at}.orientation"), Orientation::parse(o))
        && let Some(expected) = asset_type.and_then(AssetType::orientation)
        && expected != orientation
    {
        problems.add(
            format!("{at}.orientation"),
            format!("{o} does not agree with assetType"),
        );
    }
    match &raw.filename {
        None => required(problems, "filename"),
        Some(f) if f.trim().is_empty() || chars(f) > MAX_FILENAME => problems.add(
            format!("{at}.filename"),
            format!("must be 1 to {MAX_FILENAME} characters"),
        ),
        Some(f) if has_control(f) => problems.add(
            format!("{at}.filename"),
            "must not contain control characters",
        ),
        Some(_) => {}
    }
    match &raw.content_type {
        None => required(problems, "contentType"),
        Some(ct) if !limits.allowed_content_types.iter().any(|a| a == ct) => problems.add(
            format!("{at}.contentType"),
            format!("must be one of {}", limits.allowed_content_types.join(", ")),
        ),
        Some(ct) => {
            if let Some(t) = asset_type
                && !t.accepts(ct)
            {
                problems.add(
                    format!("{at}.contentType"),
                    format!("{ct} is not allowed for {}", t.as_str()),
                );
            }
        }
    }
    match raw.bytes {
        None => required(problems, "bytes"),
        Some(b) if b == 0 || b > limits.max_file_bytes => problems.add(
            format!("{at}.bytes"),
            format!("must be 1 to {} bytes", limits.max_file_bytes),
        ),
        Some(_) => {}
    }
    let checksum = match &raw.checksum {
        Some(c) => problems.take(format!("{at}.checksum"), Checksum::parse(c)),
        None => {
            required(problems, "checksum");
            None
        }
    };
    let title = raw
        .title
        .as_deref()
        .map(str::trim)
        .filter(|t| !t.is_empty());
    if let Some(t) = title
        && (chars(t) > MAX_TITLE || has_control(t))
    {
        problems.add(
            format!("{at}.title"),
            format!("must be at most {MAX_TITLE} characters, without control characters"),
        );
    }
    let sequence = match raw.sequence {
        Some(s) => problems.take(format!("{at}.sequence"), Sequence::parse(s)),
        None => {
            required(problems, "sequence");
            None
        }
    };
    let metadata = parse_metadata(&format!("{at}.metadata"), raw.metadata.as_ref(), problems);

    if problems.0.len() != before {
        return None;
    }
    Some(ManifestFile {
        client_id: client_id?,
        asset_type: asset_type?,
        filename: raw.filename.clone()?,
        content_type: raw.content_type.clone()?,
        bytes: raw.bytes?,
        checksum: checksum?,
        title: title.map(str::to_owned),
        sequence: sequence?,
        metadata,
    })
}

fn parse_metadata(
    at: &str,
    raw: Option<&serde_json::Map<String, serde_json::Value>>,
    problems: &mut Problems,
) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    let Some(raw) = raw else { return out };
    if raw.len() > MAX_METADATA_KEYS {
        problems.add(at, format!("must have at most {MAX_METADATA_KEYS} keys"));
    }
    for (key, value) in raw {
        if key.is_empty() || chars(key) > MAX_METADATA_KEY || has_control(key) {
            problems.add(
                format!("{at}.{key}"),
                format!(
                    "keys must be 1 to {MAX_METADATA_KEY} characters without control characters"
                ),
            );
            continue;
        }
        match value.as_str() {
            Some(v) if chars(v) <= MAX_METADATA_VALUE => {
                out.insert(key.clone(), v.to_owned());
            }
            Some(_) => problems.add(
                format!("{at}.{key}"),
                format!("must be at most {MAX_METADATA_VALUE} characters"),
            ),
            None => problems.add(format!("{at}.{key}"), "must be a string"),
        }
    }
    out
}

/// One file as confirmed by `uploads/complete`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct RawConfirmedFile {
    #[cfg_attr(feature = "openapi", schema(required = true, schema_with = crate::openapi::client_id))]
    pub client_id: Option<String>,
    /// When given, the key issued for this file.
    pub object_key: Option<String>,
    /// When given, the manifest's size.
    #[serde(default, deserialize_with = "crate::json_int::opt_u64")]
    pub bytes: Option<u64>,
    /// When given, the manifest's checksum.
    #[cfg_attr(feature = "openapi", schema(schema_with = crate::openapi::optional_checksum))]
    pub checksum: Option<String>,
    pub etag: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    pub(crate) fn good_file(i: usize) -> RawFile {
        RawFile {
            client_id: Some(format!("photo-{i}")),
            asset_type: Some("PHOTO_HORIZONTAL".into()),
            orientation: Some("HORIZONTAL".into()),
            filename: Some(format!("IMG_{i}.jpg")),
            content_type: Some("image/jpeg".into()),
            bytes: Some(1000 + i as u64),
            checksum: Some(format!("{:064x}", i + 1)),
            title: Some(format!("Room {i}")),
            sequence: Some(i as i64 + 1),
            metadata: None,
        }
    }

    fn manifest(files: Vec<RawFile>) -> RawManifest {
        RawManifest {
            batch_reference: Some("slot-1".into()),
            files: Some(files),
        }
    }

    fn fields(raw: &RawManifest) -> Vec<String> {
        Manifest::parse(raw, &Limits::default())
            .unwrap_err()
            .into_iter()
            .map(|e| e.field)
            .collect()
    }

    #[test]
    fn a_good_manifest_parses_sorted_by_sequence() {
        let mut files: Vec<_> = (0..3).map(good_file).collect();
        files.reverse();
        let m = Manifest::parse(&manifest(files), &Limits::default()).unwrap();
        let seqs: Vec<_> = m.files.iter().map(|f| f.sequence.get()).collect();
        assert_eq!(seqs, [1, 2, 3]);
        assert_eq!(m.total_bytes(), 1000 + 1001 + 1002);
    }

    #[test]
    fn every_broken_field_is_reported_at_once() {
        let mut bad = good_file(0);
        bad.checksum = Some("nope".into());
        bad.sequence = Some(0);
        bad.content_type = Some("video/mp4".into());
        bad.orientation = Some("VERTICAL".into());
        let mut dup = good_file(1);
        dup.client_id = Some("photo-2".into());
        let raw = RawManifest {
            batch_reference: Some("   ".into()),
            files: Some(vec![bad, dup, good_file(2)]),
        };
        assert_eq!(
            fields(&raw),
            [
                "batchReference",
                "files[0].orientation",
                "files[0].contentType",
                "files[0].checksum",
                "files[0].sequence",
                "files[2].clientId",
            ]
        );
    }

    #[test]
    fn missing_fields_are_each_required() {
        let raw = manifest(vec![RawFile::default()]);
        assert_eq!(
            fields(&raw),
            [
                "files[0].clientId",
                "files[0].assetType",
                "files[0].filename",
                "files[0].contentType",
                "files[0].bytes",
                "files[0].checksum",
                "files[0].sequence",
            ]
        );
    }

    #[test]
    fn limits_on_count_size_titles_and_metadata() {
        assert_eq!(fields(&manifest(vec![])), ["files"]);
        let too_many: Vec<_> = (0..61).map(good_file).collect();
        assert_eq!(fields(&manifest(too_many)), ["files"]);

        let mut big = good_file(0);
        big.bytes = Some(256 * 1024 * 1024 + 1);
        let mut same_title = good_file(1);
        same_title.title = Some("Room 0".into());
        let mut meta = good_file(2);
        meta.metadata = Some(
            (0..21)
                .map(|k| (format!("k{k}"), serde_json::Value::from("v")))
                .collect(),
        );
        let mut meta_bad = good_file(3);
        meta_bad.metadata = Some(
            [("n".to_string(), serde_json::Value::from(1))]
                .into_iter()
                .collect(),
        );
        assert_eq!(
            fields(&manifest(vec![big, same_title, meta, meta_bad])),
            [
                "files[0].bytes",
                "files[1].title",
                "files[2].metadata",
                "files[3].metadata.n"
            ]
        );
    }

    #[test]
    fn total_size_is_bounded() {
        let files: Vec<_> = (0..5)
            .map(|i| RawFile {
                bytes: Some(250 * 1024 * 1024),
                ..good_file(i)
            })
            .collect();
        assert_eq!(fields(&manifest(files)), ["files"]);
    }

    #[test]
    fn content_type_must_fit_the_asset_type() {
        let mut doc = good_file(0);
        doc.asset_type = Some("PROJECT_DOC".into());
        doc.orientation = None;
        doc.content_type = Some("application/pdf".into());
        let mut render = good_file(1);
        render.asset_type = Some("PROJECT_RENDER".into());
        render.orientation = None;
        render.content_type = Some("application/pdf".into());
        let mut thumb = good_file(2);
        thumb.asset_type = Some("THUMBNAIL".into());
        assert_eq!(
            fields(&manifest(vec![doc, render, thumb])),
            ["files[1].contentType", "files[2].assetType"]
        );
    }

    proptest! {
        #[test]
        fn parse_never_panics_and_errors_name_fields(
            reference in proptest::option::of(".{0,130}"),
            n in 0usize..4,
            seq in proptest::option::of(-5i64..300),
            bytes in proptest::option::of(any::<u64>()),
            checksum in proptest::option::of("[0-9a-fA-F]{0,70}"),
        ) {
            let files = (0..n).map(|i| RawFile { sequence: seq.map(|s| s + i as i64), bytes, checksum: checksum.clone(), ..good_file(i) }).collect();
            let raw = RawManifest { batch_reference: reference, files: Some(files) };
            match Manifest::parse(&raw, &Limits::default()) {
                Ok(m) => {
                    prop_assert!(!m.files.is_empty());
                    prop_assert!(m.total_bytes() <= Limits::default().max_total_bytes);
                }
                Err(errors) => {
                    prop_assert!(!errors.is_empty());
                    for e in errors {
                        prop_assert!(e.field == "batchReference" || e.field.starts_with("files"));
                    }
                }
            }
        }
    }
}
