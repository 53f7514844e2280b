//! Finding a nats-server executable recent enough for the bus.

use std::{
    env,
    ffi::OsString,
    path::{Path, PathBuf},
    process::Stdio,
    time::Duration,
};

use tokio::process::Command;

use super::HarnessError;

/// The oldest nats-server accepted, as (major, minor).
const MINIMUM: (u64, u64) = (2, 10);

/// How long `nats-server --version` may take before it counts as broken.
const VERSION_TIMEOUT: Duration = Duration::from_secs(10);

/// Where the set-up script installs a pinned nats-server when none is present.
pub(crate) fn venv_binary() -> PathBuf {
    // The crate sits at <workspace>/shared/bus; the set-up script installs into
    // <workspace>/target/tools/venv whatever CARGO_TARGET_DIR says.
    let crate_dir = Path::new(env!("CARGO_MANIFEST_DIR"));
    crate_dir
        .ancestors()
        .nth(2)
        .unwrap_or(crate_dir)
        .join("target/tools/venv/bin/nats-server")
}

/// Finds the nats-server to run: `NATS_SERVER` if set (it is then the only candidate,
/// so an explicit choice is never silently overridden), otherwise the first of
/// `nats-server` on `PATH` and the set-up script's copy that is 2.10 or newer.
pub(crate) async fn locate() -> Result<PathBuf, HarnessError> {
    let explicit = env::var_os("NATS_SERVER").filter(|value| !value.is_empty());
    if let Some(path) = explicit {
        let path = PathBuf::from(path);
        if !path.is_file() {
            return Err(not_found(Some(path.into_os_string())));
        }
        check_version(&path).await?;
        return Ok(path);
    }

    let on_path = env::var_os("PATH")
        .map(|paths| {
            env::split_paths(&paths)
                .map(|dir| dir.join("nats-server"))
                .find(|candidate| candidate.is_file())
        })
        .unwrap_or_default();

    let mut first_failure = None;
    for candidate in on_path.into_iter().chain([venv_binary()]) {
        if !candidate.is_file() {
            continue;
        }
        match check_version(&candidate).await {
            Ok(()) => return Ok(candidate),
            // An old Debian nats-server on PATH must not hide the pinned one.
            Err(error) => {
                first_failure.get_or_insert(error);
            }
        }
    }
    Err(first_failure.unwrap_or_else(|| not_found(None)))
}

fn not_found(nats_server_env: Option<OsString>) -> HarnessError {
    HarnessError::BinaryNotFound {
        nats_server_env: nats_server_env.map_or_else(
            || "unset".to_owned(),
            |value| format!("{}: no such file", value.to_string_lossy()),
        ),
        venv: venv_binary(),
    }
}

/// Runs `--version` and refuses anything older than [`MINIMUM`].
async fn check_version(path: &Path) -> Result<(), HarnessError> {
    let unreadable = |detail: String| HarnessError::VersionUnreadable {
        path: path.to_owned(),
        detail,
    };
    let run = Command::new(path)
        .arg("--version")
        .stdin(Stdio::null())
        .kill_on_drop(true)
        .output();
    let output = tokio::time::timeout(VERSION_TIMEOUT, run)
        .await
        .map_err(|_| unreadable(format!("no answer within {VERSION_TIMEOUT:?}")))?
        .map_err(|error| unreadable(error.to_string()))?;
    let text = String::from_utf8_lossy(&output.stdout).into_owned()
        + &String::from_utf8_lossy(&output.stderr);
    let (major, minor, version) =
        parse_version(&text).ok_or_else(|| unreadable(format!("unexpected output {text:?}")))?;
    if (major, minor) < MINIMUM {
        return Err(HarnessError::TooOld {
            path: path.to_owned(),
            version,
            minimum: format!("{}.{}", MINIMUM.0, MINIMUM.1),
        });
    }
    Ok(())
}

/// Reads "nats-server: v2.12.8" (or a bare "2.12.8") into (2, 12, "2.12.8").
fn parse_version(text: &str) -> Option<(u64, u64, String)> {
    text.split_whitespace().find_map(|word| {
        let version = word.strip_prefix('v').unwrap_or(word);
        let mut parts = version.split('.');
        let major = parts.next()?.parse().ok()?;
        let minor = parts.next()?.parse().ok()?;
        Some((major, minor, version.to_owned()))
    })
}

#[cfg(test)]
mod tests {
    use super::parse_version;

    #[test]
    fn reads_the_version_nats_server_prints() {
        assert_eq!(
            parse_version("nats-server: v2.12.8\n"),
            Some((2, 12, "2.12.8".to_owned()))
        );
        assert_eq!(
            parse_version("nats-server: v2.9.25"),
            Some((2, 9, "2.9.25".to_owned()))
        );
    }

    #[test]
    fn refuses_output_without_a_version() {
        assert_eq!(parse_version("command not found"), None);
    }

    #[test]
    fn compares_versions_numerically_not_as_text() {
        let (major, minor, _) = parse_version("v2.9.0").expect("a version");
        assert!((major, minor) < super::MINIMUM);
        let (major, minor, _) = parse_version("v2.10.0").expect("a version");
        assert!((major, minor) >= super::MINIMUM);
    }
}
