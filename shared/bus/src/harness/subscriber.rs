//! The Python subscriber, `tests/subscriber/validate_streams.py`: an outside reader
//! that checks every message of the streams against the committed schemas and the
//! AsyncAPI channels, run as a process the way a subscriber of the cluster would be.

use std::path::{Path, PathBuf};
use std::time::Duration;

/// How long the validator may take beyond its own wait for messages.
const MARGIN: Duration = Duration::from_secs(30);

/// What to validate, and how.
#[derive(Clone, Debug)]
pub struct StreamValidation {
    /// Messages expected in all the streams together.
    pub expect: u64,
    /// How long the validator waits for them.
    pub wait: Duration,
    /// Streams whose messages must carry every log position, comma-separated (those of
    /// producers that consume nothing into their log); `None` for the default.
    pub gapless: Option<&'static str>,
}

/// How the validator exited and what it printed.
#[derive(Debug)]
pub struct Verdict {
    /// Its exit code (`None` when a signal ended it).
    pub code: Option<i32>,
    /// Its standard output.
    pub stdout: String,
    /// Its status, standard output and standard error, to explain a failed assertion.
    pub text: String,
}

/// The Python that has nats-py and jsonschema: the virtual environment that
/// `deploy/setup.sh` makes under `target/tools/venv`.
pub fn subscriber_python() -> PathBuf {
    workspace_root().join("target/tools/venv/bin/python")
}

fn workspace_root() -> PathBuf {
    // The crate sits at <workspace>/shared/bus.
    let crate_dir = Path::new(env!("CARGO_MANIFEST_DIR"));
    crate_dir
        .ancestors()
        .nth(2)
        .unwrap_or(crate_dir)
        .to_path_buf()
}

/// Runs the validator on MEMBERSHIP, EVENTS and REPORTING at `url`. An error means it
/// could not run (no Python environment, or it outlived its wait by far).
pub async fn validate_streams(
    url: &str,
    validation: &StreamValidation,
) -> std::io::Result<Verdict> {
    let python = subscriber_python();
    if !python.is_file() {
        return Err(std::io::Error::new(
            std::io::ErrorKind::NotFound,
            format!(
                "{} is missing: run `bash deploy/setup.sh` to install the Python \
                 subscriber's packages (nats-py, jsonschema)",
                python.display()
            ),
        ));
    }
    let mut command = tokio::process::Command::new(python);
    command
        .current_dir(workspace_root())
        .arg("tests/subscriber/validate_streams.py")
        .args(["--url", url])
        .args(["--contracts", "shared/contracts"])
        .args(["--streams", "MEMBERSHIP,EVENTS,REPORTING"])
        .args(["--expect", &validation.expect.to_string()])
        .args(["--timeout", &validation.wait.as_secs().to_string()])
        .kill_on_drop(true);
    if let Some(gapless) = validation.gapless {
        command.args(["--gapless-streams", gapless]);
    }
    let output = tokio::time::timeout(validation.wait + MARGIN, command.output())
        .await
        .map_err(|_| {
            std::io::Error::new(
                std::io::ErrorKind::TimedOut,
                "the validator did not end within its wait",
            )
        })??;
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&output.stderr);
    let hint = if stderr.contains("ModuleNotFoundError") {
        "\nrun `bash deploy/setup.sh` to install the Python subscriber's packages"
    } else {
        ""
    };
    let text = format!(
        "{}\n--- stdout ---\n{stdout}--- stderr ---\n{stderr}{hint}",
        output.status
    );
    Ok(Verdict {
        code: output.status.code(),
        stdout,
        text,
    })
}
