//! Outside programs the tests talk to, set up by the tests themselves so
//! `cargo test --workspace` runs everything with nothing to switch on:
//! PostgreSQL (the machine's, at 127.0.0.1:5432 unless
//! IDBRIDGE_TEST_POSTGRES_URL says otherwise), a Python with PyJWT (a
//! virtualenv made once under the target directory unless
//! IDBRIDGE_TEST_PYTHON names one) and panva's oidc-provider (`npm ci` in
//! tests/e2e once unless IDBRIDGE_TEST_OIDC_PROVIDER names the script),
//! pysaml2 (in that Python) with Debian's xmlsec1 for the SAML IdP, and
//! Debian's dnsmasq as a DNS server.
//! When a peer cannot be set up the test fails and says why: nothing is
//! skipped quietly.

use std::path::PathBuf;
use std::process::Command;
use std::sync::{Mutex, OnceLock};

pub const DEFAULT_POSTGRES_URL: &str = "postgres://postgres@127.0.0.1:5432/test";

pub fn postgres_url() -> String {
    std::env::var("IDBRIDGE_TEST_POSTGRES_URL").unwrap_or_else(|_| DEFAULT_POSTGRES_URL.into())
}

/// Runs `setup` once per test process; every caller gets its answer.
fn once(
    cell: &'static OnceLock<Result<PathBuf, String>>,
    setup: impl FnOnce() -> Result<PathBuf, String>,
) -> PathBuf {
    static LOCK: Mutex<()> = Mutex::new(());
    let _guard = LOCK.lock().unwrap_or_else(|p| p.into_inner());
    match cell.get_or_init(setup) {
        Ok(p) => p.clone(),
        Err(e) => panic!("{e}"),
    }
}

fn run(cmd: &mut Command) -> Result<(), String> {
    let out = cmd.output().map_err(|e| format!("{cmd:?}: {e}"))?;
    if out.status.success() {
        Ok(())
    } else {
        Err(format!(
            "{cmd:?} failed:\n{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ))
    }
}

/// A Python interpreter with PyJWT (cryptography), pysaml2 and standardwebhooks.
pub fn python() -> PathBuf {
    static CELL: OnceLock<Result<PathBuf, String>> = OnceLock::new();
    once(&CELL, || {
        if let Ok(p) = std::env::var("IDBRIDGE_TEST_PYTHON") {
            return Ok(PathBuf::from(p));
        }
        let venv = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("pyjwt-venv");
        let py = venv.join("bin/python");
        let ready = Command::new(&py)
            .args(["-c", "import jwt, cryptography, saml2, standardwebhooks"])
            .output()
            .is_ok_and(|o| o.status.success());
        if !ready {
            run(Command::new("python3").args(["-m", "venv"]).arg(&venv))
                .map_err(|e| format!("making a virtualenv for PyJWT: {e}"))?;
            run(Command::new(&py).args([
                "-m",
                "pip",
                "install",
                "--quiet",
                "pyjwt[crypto]",
                "pysaml2",
                "standardwebhooks",
            ]))
            .map_err(|e| {
                format!("installing PyJWT, pysaml2 and standardwebhooks (needs PyPI): {e}")
            })?;
        }
        Ok(py)
    })
}

/// tests/e2e/saml_idp.py (pysaml2's IdP) and the xmlsec1 command it signs with.
pub fn saml_idp() -> (PathBuf, PathBuf) {
    static CELL: OnceLock<Result<PathBuf, String>> = OnceLock::new();
    let script = once(&CELL, || {
        run(Command::new("xmlsec1").arg("--version")).map_err(|e| {
            format!("the SAML IdP signs with xmlsec1 (Debian package xmlsec1): {e}")
        })?;
        Ok(PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/e2e/saml_idp.py"))
    });
    (python(), script)
}

/// dnsmasq, a real DNS server the domain-verification tests publish TXT records with.
pub fn dnsmasq() -> PathBuf {
    static CELL: OnceLock<Result<PathBuf, String>> = OnceLock::new();
    once(&CELL, || {
        for p in ["/usr/sbin/dnsmasq", "/usr/bin/dnsmasq"] {
            if std::path::Path::new(p).exists() {
                return Ok(PathBuf::from(p));
            }
        }
        Err("domain verification is tested against dnsmasq (Debian package dnsmasq-base)".into())
    })
}

/// Debian's Chromium, for the console's browser journey.
pub fn chromium() -> PathBuf {
    static CELL: OnceLock<Result<PathBuf, String>> = OnceLock::new();
    once(&CELL, || {
        for p in ["/usr/bin/chromium", "/usr/bin/chromium-browser"] {
            if std::path::Path::new(p).exists() {
                return Ok(PathBuf::from(p));
            }
        }
        Err(
            "the console journey drives Debian's chromium (apt install chromium chromium-driver)"
                .into(),
        )
    })
}

/// tests/e2e/provider.mjs with its npm dependencies installed.
pub fn oidc_provider() -> PathBuf {
    static CELL: OnceLock<Result<PathBuf, String>> = OnceLock::new();
    once(&CELL, || {
        if let Ok(p) = std::env::var("IDBRIDGE_TEST_OIDC_PROVIDER") {
            return Ok(PathBuf::from(p));
        }
        let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/e2e");
        if !dir.join("node_modules/oidc-provider").is_dir()
            || !dir.join("node_modules/playwright-core").is_dir()
        {
            run(Command::new("npm")
                .args(["ci", "--no-audit", "--no-fund", "--silent", "--prefix"])
                .arg(&dir))
            .map_err(|e| format!("installing oidc-provider (needs node and npm): {e}"))?;
        }
        Ok(dir.join("provider.mjs"))
    })
}

/// Starts a test peer (`command`, told its port in `PORT`) and waits for
/// `path` to answer 2xx: its child and base URL. The port is picked free but
/// not held, so another test can take it first and the peer exits; such a
/// start is tried again on a new port (three tries), and a slow one (a
/// loaded CI machine) is waited for up to 30 s. `None` when none started.
pub async fn serve_peer(
    mut command: impl FnMut() -> Command,
    path: &str,
) -> Option<(std::process::Child, String)> {
    let c = reqwest::Client::new();
    for _ in 0..3 {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .ok()?
            .port();
        let mut child = command()
            .env("PORT", port.to_string())
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .ok()?;
        let base = format!("http://127.0.0.1:{port}");
        for _ in 0..300 {
            if c.get(format!("{base}{path}"))
                .send()
                .await
                .is_ok_and(|r| r.status().is_success())
            {
                return Some((child, base));
            }
            if child.try_wait().ok().flatten().is_some() {
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        }
        let _ = child.kill();
        let _ = child.wait();
    }
    None
}
