//! `circlemade`, the analysts' command-line tool: see `circlemade --help` and
//! [`circlemade_reporting::cli`].

use std::io::ErrorKind;
use std::process::ExitCode;

use circlemade_reporting::cli::Cli;

fn main() -> ExitCode {
    // A usage error exits with status 2 and says what is wrong; --help and --version
    // with 0.
    let cli = Cli::from_args();
    match cli.run() {
        Ok(()) => ExitCode::SUCCESS,
        // The reader went away (`circlemade export ... | head`): nothing is wrong.
        Err(error) if is_broken_pipe(&error) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("error: {error:#}");
            ExitCode::FAILURE
        }
    }
}

/// Whether writing failed because the reader of standard output went away. The JSON
/// and CSV writers wrap the I/O error in their own, which do not chain it.
fn is_broken_pipe(error: &anyhow::Error) -> bool {
    let broken = |kind: Option<ErrorKind>| kind == Some(ErrorKind::BrokenPipe);
    error.chain().any(|cause| {
        broken(
            cause
                .downcast_ref::<std::io::Error>()
                .map(std::io::Error::kind),
        ) || broken(
            cause
                .downcast_ref::<serde_json::Error>()
                .and_then(serde_json::Error::io_error_kind),
        ) || broken(
            cause
                .downcast_ref::<csv::Error>()
                .and_then(|error| match error.kind() {
                    csv::ErrorKind::Io(io) => Some(io.kind()),
                    _ => None,
                }),
        )
    })
}
