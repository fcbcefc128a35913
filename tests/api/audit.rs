//! Audit evidence end to end: the public key, a checkpoint signed by the CLI, a batch's export
//! over HTTP, and its offline checks by `audit check` and by the README's Python script — each
//! passing on the file as served and failing after any byte of it changes.

use std::path::Path;
use std::process::{Command, Output};

use serde_json::Value;
use toq_media::auth::Role;

use crate::helpers::*;

fn cli(app: &TestApp, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_toq-media"))
        .args(args)
        .env("TOQ_MEDIA_DATA_DIR", &app.data_dir)
        .env(
            "TOQ_MEDIA_DATABASE_URL",
            format!("sqlite://{}/toq.db?mode=rwc", app.data_dir.display()),
        )
        .env_remove("TOQ_MEDIA_AUDIT_KEY")
        .env_remove("TOQ_MEDIA_AUDIT_KEY_FILE")
        .output()
        .expect("the CLI runs")
}

fn stdout(out: &Output) -> String {
    assert!(
        out.status.success(),
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().to_owned()
}

#[tokio::test]
async fn an_export_is_checked_offline_and_fails_after_any_change() {
    let app = spawn_app().await;
    app.awaiting_media(123).await;
    let photographer = app.token(PHOTOGRAPHER, Role::Photographer);
    let (batch, _) = app.ready_batch(&photographer, 123).await;
    let auditor = app.token(99, Role::Auditor);
    let proof = format!(
        "/api/v2/listings/media/batches/{}/events?proof=true",
        batch.id
    );

    // The key the service serves is the CLI's, and the one the checkpoints are signed with.
    let served = app.get("/api/v2/listings/media/audit/key", None).await;
    assert_eq!(served.status, 200);
    let key = stdout(&cli(&app, &["audit", "key"]));
    assert_eq!(served.body["publicKey"], Value::from(key.clone()));
    assert_eq!(served.body["algorithm"], "Ed25519");

    assert_error(
        &app.get(&proof, Some(&auditor)).await,
        409,
        "NOT_CHECKPOINTED",
    );
    assert_error(
        &app.get(&proof, Some(&photographer)).await,
        403,
        "FORBIDDEN",
    );

    let signed = stdout(&cli(&app, &["audit", "checkpoint"]));
    assert!(signed.contains("audit/checkpoints/"), "{signed}");
    let bytes_of = async |path: &str| {
        let res = app
            .client
            .get(format!("{}{path}", app.address))
            .bearer_auth(&auditor)
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 200, "{path}");
        res.bytes().await.unwrap().to_vec()
    };
    let export = bytes_of(&proof).await;
    // An export carries every event: `asOf` does not cut it.
    let as_of = bytes_of(&format!("{proof}&asOf=2000-01-01T00:00:00Z")).await;
    assert_eq!(as_of, export);

    // The CLI's export of the same batch under the same checkpoint is the same file.
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("export.json");
    let out = file.to_str().unwrap();
    stdout(&cli(&app, &["audit", "export", &batch.id, "--out", out]));
    assert_eq!(std::fs::read(&file).unwrap(), export);

    let trusted = toq_evidence::verifying_key(&key).unwrap();
    let checked = toq_evidence::export::check(&export, &trusted).unwrap();
    assert_eq!(checked.aggregate_id, batch.id);
    assert!(
        checked.covered >= 3,
        "requested, received, processing, ready"
    );

    let holds = stdout(&cli(&app, &["audit", "check", out, "--key", &key]));
    assert!(holds.starts_with("export holds"), "{holds}");
    for at in [0, export.len() / 3, export.len() / 2, export.len() - 2] {
        let mut changed = export.clone();
        changed[at] ^= 0x01;
        std::fs::write(&file, &changed).unwrap();
        let out = cli(&app, &["audit", "check", out, "--key", &key]);
        assert!(
            !out.status.success(),
            "byte {at} changed and the export held"
        );
    }
    std::fs::write(&file, &export).unwrap();
    let other = stdout(&cli(&app, &["secret", "audit-key"]));
    let other = hex::encode(
        toq_evidence::SigningKey::from_bytes(&hex::decode(other).unwrap().try_into().unwrap())
            .verifying_key()
            .as_bytes(),
    );
    assert!(
        !cli(&app, &["audit", "check", out, "--key", &other])
            .status
            .success()
    );

    python_checks(dir.path(), &file, &key);
}

/// Checking needs a key that exists: without one configured and without `--key`, `audit
/// check` fails naming what to set, and creates no key.
#[test]
fn a_check_without_a_key_makes_none_up() {
    let dir = tempfile::tempdir().unwrap();
    let export = dir.path().join("export.json");
    std::fs::write(&export, b"{}").unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_toq-media"))
        .args(["audit", "check"])
        .arg(&export)
        .env("TOQ_MEDIA_DATA_DIR", dir.path())
        .env_remove("TOQ_MEDIA_AUDIT_KEY")
        .env_remove("TOQ_MEDIA_AUDIT_KEY_FILE")
        .output()
        .unwrap();
    assert!(!out.status.success());
    let said = String::from_utf8_lossy(&out.stderr);
    assert!(said.contains("--key"), "{said}");
    assert!(!dir.path().join("audit.key").exists(), "a key was made up");
}

/// The README's script, run as an auditor would, then over every one-byte change of the file.
fn python_checks(dir: &Path, export: &Path, key: &str) {
    let readme =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/README.md")).unwrap();
    let start = readme
        .find("<!-- check_export.py -->\n```python\n")
        .expect("the README carries the script");
    let body = &readme[start..];
    let body = &body[body.find("```python\n").unwrap() + 10..];
    let script = &body[..body.find("\n```").unwrap()];
    let path = dir.join("check_export.py");
    std::fs::write(&path, script).unwrap();

    let python = venv_with_cryptography();
    let run =
        |args: &[&std::ffi::OsStr]| stdout(&Command::new(&python).args(args).output().unwrap());
    let (path, export, key) = (path.as_os_str(), export.as_os_str(), key.as_ref());
    let said = run(&[path, export, key]);
    assert!(said.starts_with("export holds"), "{said}");

    let harness = r#"
import importlib.util, sys
spec = importlib.util.spec_from_file_location("check_export", sys.argv[1])
m = importlib.util.module_from_spec(spec); spec.loader.exec_module(m)
data = open(sys.argv[2], "rb").read()
m.check(data, sys.argv[3])
held = []
for i in range(len(data)):
    for flip in (0x01, 0x20):
        changed = bytearray(data); changed[i] ^= flip
        try:
            m.check(bytes(changed), sys.argv[3]); held.append((i, flip))
        except Exception:
            pass
print(len(data), "bytes;", "held after change:", held)
sys.exit(1 if held else 0)
"#;
    let said = run(&["-c".as_ref(), harness.as_ref(), path, export, key]);
    assert!(said.ends_with("held after change: []"), "{said}");
}

/// A virtualenv with `cryptography`, made once per build directory (a fresh machine makes it
/// again; pip must reach PyPI, as CI's does).
fn venv_with_cryptography() -> std::path::PathBuf {
    let venv = Path::new(env!("CARGO_TARGET_TMPDIR")).join("audit-venv");
    let python = venv.join("bin/python");
    let ready = Command::new(&python)
        .args(["-c", "import cryptography"])
        .status()
        .is_ok_and(|s| s.success());
    if !ready {
        let made = Command::new("python3")
            .args(["-m", "venv"])
            .arg(&venv)
            .status()
            .expect("python3 is installed");
        assert!(made.success(), "python3 -m venv failed");
        let pip = Command::new(venv.join("bin/pip"))
            .args(["install", "--quiet", "cryptography"])
            .status()
            .unwrap();
        assert!(
            pip.success(),
            "pip install cryptography failed (is PyPI reachable?)"
        );
    }
    python
}
