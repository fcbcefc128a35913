use super::*;
use futures_util::stream;
use tokio::io::AsyncReadExt;

const SECRET: &[u8] = b"local store test secret";

fn store(dir: &tempfile::TempDir) -> LocalStore {
    LocalStore::new(
        dir.path().to_path_buf(),
        "http://media.test/".into(),
        SECRET,
    )
}

fn key(raw: &str) -> ObjectKey {
    ObjectKey::parse(raw).unwrap()
}

#[tokio::test]
async fn start_up_sweeps_only_parts_no_write_touched_for_a_while() {
    let dir = tempfile::tempdir().unwrap();
    let tmp = dir.path().join(TMP_DIR);
    std::fs::create_dir_all(&tmp).unwrap();
    let hour_ago = std::time::SystemTime::now() - std::time::Duration::from_secs(3600);
    for name in ["killed.part", "live.part", "old-but-not-a-part"] {
        let file = std::fs::File::create(tmp.join(name)).unwrap();
        if name != "live.part" {
            file.set_modified(hour_ago).unwrap();
        }
    }
    let store = store(&dir);
    let idle = std::time::Duration::from_secs(900);
    assert_eq!(store.sweep_stale_parts(idle).await.unwrap(), 1);
    let mut left: Vec<_> = std::fs::read_dir(&tmp)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    left.sort();
    assert_eq!(left, ["live.part", "old-but-not-a-part"]);
    let empty = tempfile::tempdir().unwrap();
    assert_eq!(
        self::store(&empty).sweep_stale_parts(idle).await.unwrap(),
        0
    );
}

/// Signs a PUT for `body` and verifies it, as the route would.
fn signed_put(store: &LocalStore, key: &ObjectKey, body: &[u8]) -> SignedRequest {
    let checksum = Checksum::from_bytes(Sha256::digest(body).into());
    let now = Utc::now();
    let ticket = store.presign_put(
        key,
        "image/png",
        body.len() as u64,
        &checksum,
        Duration::minutes(5),
        now,
    );
    let (path, query) = ticket.url.split_once('?').unwrap();
    let encoded = path.strip_prefix("http://media.test/storage/").unwrap();
    store.verify(Method::Put, encoded, query, now).unwrap()
}

fn files_under(root: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut dirs = vec![root.to_path_buf()];
    while let Some(dir) = dirs.pop() {
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                dirs.push(path);
            } else {
                out.push(path);
            }
        }
    }
    out.sort();
    out
}

#[test]
fn ticket_carries_the_s3_style_headers() {
    let dir = tempfile::tempdir().unwrap();
    let checksum = Checksum::from_bytes([1; 32]);
    let now = DateTime::from_timestamp(1_700_000_000, 500).unwrap();
    let ticket = store(&dir).presign_put(
        &key("1/raw/a b.jpg"),
        "image/jpeg",
        42,
        &checksum,
        Duration::seconds(900),
        now,
    );
    assert!(
        ticket
            .url
            .starts_with("http://media.test/storage/1/raw/a%20b.jpg?")
    );
    assert_eq!(ticket.method, "PUT");
    assert_eq!(ticket.headers["Content-Length"], "42");
    assert_eq!(
        ticket.headers["x-amz-checksum-sha256"],
        checksum.to_base64()
    );
    assert_eq!(ticket.expires_at.timestamp(), 1_700_000_900);
}

#[tokio::test]
async fn put_head_open_roundtrip() {
    let dir = tempfile::tempdir().unwrap();
    let store = store(&dir);
    let k = key("9/raw/photo/01-a.png");
    let body = b"not really a png".repeat(1000);
    let signed = signed_put(&store, &k, &body);
    let chunks = stream::iter(body.chunks(333).map(Ok::<_, io::Error>));
    let stored = store
        .put_verified(&signed, Some("image/png"), chunks)
        .await
        .unwrap();
    assert_eq!(stored.bytes, body.len() as u64);
    assert_eq!(store.head(&k).await.unwrap(), Some(stored));
    let (mut file, len, content_type) = store.open(&k).await.unwrap().unwrap();
    let mut read = Vec::new();
    file.read_to_end(&mut read).await.unwrap();
    assert_eq!(
        (read, len, content_type.as_str()),
        (body, stored.bytes, "image/png")
    );
    assert_eq!(store.head(&key("9/raw/other")).await.unwrap(), None);
    assert_eq!(
        store.head(&key("9/raw")).await.unwrap(),
        None,
        "a directory"
    );
}

#[tokio::test]
async fn refuses_as_soon_as_the_body_outgrows_the_signed_length() {
    let dir = tempfile::tempdir().unwrap();
    let store = store(&dir);
    let k = key("9/raw/too-long");
    let signed = signed_put(&store, &k, &[0; 10]);
    let chunks = stream::iter([Ok::<_, io::Error>(vec![0; 6]), Ok(vec![0; 6])])
        .chain(stream::poll_fn(|_| panic!("read past the signed length")));
    let err = store
        .put_verified(&signed, Some("image/png"), chunks)
        .await
        .unwrap_err();
    assert!(matches!(err, UploadError::TooLong { signed: 10 }), "{err}");
    assert_eq!(files_under(dir.path()), Vec::<PathBuf>::new());
}

#[tokio::test]
async fn a_dropped_upload_leaves_no_temporary_file() {
    let dir = tempfile::tempdir().unwrap();
    let store = store(&dir);
    let k = key("9/raw/abandoned");
    let signed = signed_put(&store, &k, &[0; 10]);
    let chunks = stream::iter([Ok::<_, io::Error>(vec![0; 4])]).chain(stream::pending());
    let upload = store.put_verified(&signed, Some("image/png"), chunks);
    let timed_out = tokio::time::timeout(std::time::Duration::from_millis(50), upload).await;
    assert!(timed_out.is_err());
    assert_eq!(files_under(dir.path()), Vec::<PathBuf>::new());
}

#[tokio::test]
async fn head_rehashes_when_the_sidecar_is_missing_or_stale() {
    let dir = tempfile::tempdir().unwrap();
    let store = store(&dir);
    let k = key("9/processed/large/01-a.jpg");
    let stored = store.write(&k, b"rendition", "image/jpeg").await.unwrap();
    let object = dir.path().join("9/processed/large/01-a.jpg");
    std::fs::remove_file(sidecar_path(&object)).unwrap();
    assert_eq!(store.head(&k).await.unwrap(), Some(stored));
    store.write(&k, b"rendition", "image/jpeg").await.unwrap();
    std::fs::write(&object, b"changed behind our back").unwrap();
    let fresh = store.head(&k).await.unwrap().unwrap();
    assert_eq!(fresh.bytes, 23);
    assert_ne!(fresh.checksum, stored.checksum);
}

#[tokio::test]
async fn keys_never_leave_the_root_or_touch_the_stores_own_files() {
    let dir = tempfile::tempdir().unwrap();
    let store = store(&dir);
    // Built unchecked, as serde would: `ObjectKey::parse` refuses every one of them.
    let unchecked = |raw: &str| -> ObjectKey { serde_json::from_value(raw.into()).unwrap() };
    for k in ["../outside", ".tmp/x", "9/.hidden", "9/a.meta"].map(unchecked) {
        let err = store.write(&k, b"x", "image/jpeg").await.unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::InvalidInput, "{k}");
        assert!(store.head(&k).await.is_err(), "{k}");
    }
    assert_eq!(files_under(dir.path()), Vec::<PathBuf>::new());
}
