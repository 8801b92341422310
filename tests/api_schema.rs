//! API schema testing: schemathesis (property-based, from the OpenAPI
//! document) against a real `amina serve --demo` on a free loopback port.
//!
//! Two passes over every operation of the served document
//! (`/openapi.json`): one unsigned, where every device and integration
//! endpoint must refuse cleanly, and one where `tests/schema/amina_hooks.py`
//! signs each request as a bound phone (RFC 9421, P-256) or as the
//! configured integration sender (hmac-sha256), so the generated bodies
//! reach the parsers and the store. Every schemathesis check runs
//! (`--checks all`): the test fails on any 5xx, any status code the
//! document does not list for the operation, any response body or header
//! that breaks the documented schema, any schema-violating request the
//! server takes, and any schema-valid request it refuses for a reason the
//! document could have stated (`tests/schema/schemathesis.toml` and the
//! hook's own check, which allows only refusals that depend on time or
//! stored state).
//!
//! Needs a Python with schemathesis, cryptography and requests:
//! `AMINA_TEST_PYTHON`, or `target/test-venv/bin/python` (made by .ci/run).
//! The number of examples per operation is `AMINA_SCHEMA_EXAMPLES`
//! (default 25; the documented long run uses more).

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

const SENDER_KEY: &str = "c2NoZW1hLXRlc3Qtc2VuZGVyLWtleS0wMTIzNDU2Nzg5YWJjZGVm";

fn python() -> Option<PathBuf> {
    let path = match std::env::var_os("AMINA_TEST_PYTHON") {
        Some(p) => PathBuf::from(p),
        None => PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target/test-venv/bin/python"),
    };
    let ok = Command::new(&path)
        .args(["-c", "import schemathesis, cryptography, requests"])
        .output()
        .is_ok_and(|o| o.status.success());
    if ok {
        Some(path)
    } else {
        amina_testkit::skip_or_fail(
            "API schema testing",
            &format!(
                "no Python with schemathesis at {} (set AMINA_TEST_PYTHON, or: python3 -m venv \
                 target/test-venv && target/test-venv/bin/pip install schemathesis cryptography)",
                path.display()
            ),
        );
        None
    }
}

/// `amina serve --demo` on a port the kernel picks; killed on drop.
struct Server {
    child: Child,
    base: String,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn serve(data_dir: &Path) -> Server {
    let mut child = Command::new(env!("CARGO_BIN_EXE_amina"))
        .arg("--data-dir")
        .arg(data_dir)
        .args(["serve", "--demo", "--listen", "127.0.0.1:0"])
        .env_remove("AMINA_CONFIG")
        .env("AMINA_INTEGRATION__SENDERS__FMS", SENDER_KEY)
        .env("AMINA_SCHEDULER__ENABLED", "false")
        // One phone plays hundreds of cases in seconds: a burst that large
        // keeps the cases testing the endpoints, not the device limit (its
        // 429 is in the document all the same).
        .env("AMINA_LIMITS__DEVICE_BURST", "100000")
        .env("RUST_LOG", "warn")
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("start amina serve");
    let stdout = child.stdout.take().expect("stdout");
    let mut lines = BufReader::new(stdout).lines();
    let base = loop {
        let line = lines
            .next()
            .expect("amina serve printed its address before exiting")
            .expect("readable stdout");
        if let Some(url) = line.strip_prefix("amina listening on ") {
            break url.trim().to_string();
        }
    };
    // Keep draining stdout so the server never blocks on a full pipe.
    std::thread::spawn(move || for _ in lines {});
    Server { child, base }
}

/// One schemathesis run; returns (exit success, its output).
fn schemathesis(
    python: &Path,
    base: &str,
    sign: bool,
    examples: u32,
    report: &Path,
) -> (bool, String) {
    let hooks = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/schema");
    let out = Command::new(python)
        .args(["-m", "schemathesis.cli", "--config-file"])
        .arg(hooks.join("schemathesis.toml"))
        .arg("run")
        .arg(format!("{base}/openapi.json"))
        .args([
            "--checks",
            "all",
            "--max-examples",
            &examples.to_string(),
            "--seed",
            "9421",
            "--workers",
            "1",
            "--request-timeout",
            "30",
            "--phases",
            "examples,coverage,fuzzing",
            "--suppress-health-check",
            "all",
            "--report",
            "junit",
            "--report-junit-path",
        ])
        .arg(report)
        // schemathesis keeps a cache in its working directory.
        .current_dir(report.parent().expect("report in a directory"))
        .env("PYTHONPATH", &hooks)
        .env("SCHEMATHESIS_HOOKS", "amina_hooks")
        .env("AMINA_SCHEMA_BASE", base)
        .env("AMINA_SCHEMA_SIGN", if sign { "1" } else { "0" })
        .env("AMINA_SCHEMA_SENDER", "fms")
        .env("AMINA_SCHEMA_SENDER_KEY", SENDER_KEY)
        .env("AMINA_SCHEMA_CARD", "DEMO000001")
        .env("AMINA_SCHEMA_SECRET", "demo-secret-1")
        .env("NO_COLOR", "1")
        .output()
        .expect("run schemathesis");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.success(), text)
}

/// Test cases per run, from schemathesis' summary ("Test cases:" and then
/// "N generated, …").
fn cases(output: &str) -> Option<u64> {
    let mut lines = output.lines();
    lines.find(|l| l.trim() == "Test cases:")?;
    lines
        .next()?
        .split_whitespace()
        .next()
        .and_then(|w| w.parse().ok())
}

#[test]
fn every_operation_answers_within_its_documented_schema() {
    let Some(python) = python() else { return };
    let examples: u32 = std::env::var("AMINA_SCHEMA_EXAMPLES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(25);
    let dir = tempfile::tempdir().expect("temp dir");
    let mut failed = Vec::new();
    for sign in [false, true] {
        // A fresh server per pass: the signed pass binds its own phone.
        let data = dir.path().join(if sign { "signed" } else { "unsigned" });
        let server = serve(&data);
        let report = dir.path().join(format!("junit-{sign}.xml"));
        let (ok, output) = schemathesis(&python, &server.base, sign, examples, &report);
        let label = if sign { "signed" } else { "unsigned" };
        println!("---- schemathesis, {label} pass ----\n{output}");
        println!(
            "schemathesis {label}: {} test cases",
            cases(&output).map_or("?".to_string(), |n| n.to_string())
        );
        assert!(
            cases(&output).unwrap_or(0) > 0,
            "schemathesis ran no test case in the {label} pass"
        );
        if !ok {
            failed.push(label);
        }
        drop(server);
    }
    assert!(
        failed.is_empty(),
        "schemathesis found failures: {failed:?} (output above)"
    );
}
