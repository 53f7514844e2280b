//! Where a command writes: standard output, or a file that appears only once it is
//! complete (a failed export leaves no half file behind).

use std::fs::File;
use std::io::{self, BufWriter, Stdout, Write};
use std::path::{Path, PathBuf};

use anyhow::Context;
use tempfile::NamedTempFile;

use super::interrupt::Scratch;

/// A buffered destination; [`Output::finish`] flushes it and, for a file, puts it in
/// place.
pub(super) enum Output {
    Stdout(BufWriter<Stdout>),
    File {
        writer: BufWriter<NamedTempFile>,
        path: PathBuf,
        /// The temporary file, removed if the run is interrupted.
        scratch: Scratch,
    },
}

impl Output {
    pub(super) fn stdout() -> Output {
        Output::Stdout(BufWriter::new(io::stdout()))
    }

    /// `path`, or standard output when there is none. The file is written beside
    /// `path` under a temporary name and renamed to it by [`Output::finish`].
    pub(super) fn to(path: Option<&Path>) -> anyhow::Result<Output> {
        let Some(path) = path else {
            return Ok(Output::stdout());
        };
        let folder = match path.parent() {
            Some(parent) if !parent.as_os_str().is_empty() => parent,
            _ => Path::new("."),
        };
        let mut temporary = tempfile::Builder::new();
        // An export is an ordinary file: the umask decides, not tempfile's private 0600.
        #[cfg(unix)]
        temporary.permissions(std::os::unix::fs::PermissionsExt::from_mode(0o666));
        let file = temporary
            .tempfile_in(folder)
            .with_context(|| format!("cannot write in {}", folder.display()))?;
        Ok(Output::File {
            scratch: Scratch::register(file.path()),
            writer: BufWriter::new(file),
            path: path.to_path_buf(),
        })
    }

    /// Flushes everything; a file is renamed to its final name only now.
    pub(super) fn finish(self) -> anyhow::Result<()> {
        match self {
            Output::Stdout(mut writer) => writer.flush()?,
            Output::File {
                writer,
                path,
                scratch,
            } => {
                let file = writer
                    .into_inner()
                    .map_err(|error| error.into_error())
                    .with_context(|| format!("cannot write {}", path.display()))?;
                let file: File = file
                    .persist(&path)
                    .with_context(|| format!("cannot create {}", path.display()))?;
                drop(scratch);
                file.sync_all()
                    .with_context(|| format!("cannot write {}", path.display()))?;
            }
        }
        Ok(())
    }
}

impl Write for Output {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match self {
            Output::Stdout(writer) => writer.write(buf),
            Output::File { writer, .. } => writer.write(buf),
        }
    }

    fn write_all(&mut self, buf: &[u8]) -> io::Result<()> {
        match self {
            Output::Stdout(writer) => writer.write_all(buf),
            Output::File { writer, .. } => writer.write_all(buf),
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        match self {
            Output::Stdout(writer) => writer.flush(),
            Output::File { writer, .. } => writer.flush(),
        }
    }
}
