//! Reading a service's data dir without changing it: a private snapshot of its sled
//! files, taken while holding the directory's lock.
//!
//! sled has no read-only mode: opening a database may replay and tidy its files, and
//! the log writes its stream-heads checkpoint and flushes when it closes. So the tool
//! never opens the directory it is given. It takes the lock sled itself takes (an
//! exclusive advisory lock on the `db` file), which fails at once when a running
//! service holds the directory; copies sled's files (`conf`, `db`, `snap.*`, `blobs/`,
//! nothing else: never the membership service's personal-data key file) into a fresh
//! private directory under `$TMPDIR`; releases the lock; and opens the copy. The
//! source is left byte for byte as it was, and the copy is removed when the snapshot
//! is closed or dropped.

use std::fs::{self, File};
use std::io;
use std::path::{Path, PathBuf};

use circlemade_eventlog::{EventLog, LogConfig, LogReader, OpenError, ReadError};
use fs2::FileExt;
use tempfile::TempDir;

use super::interrupt::{Scratch, interrupted};

/// sled's own files in a data dir, the only ones a snapshot copies.
const SLED_FILES: [&str; 2] = ["conf", "db"];
/// sled's snapshot files start with this.
const SLED_SNAPSHOT_PREFIX: &str = "snap.";
/// sled's directory of large values.
const SLED_BLOBS: &str = "blobs";

/// Why a data dir could not be read.
#[derive(Debug, thiserror::Error)]
pub enum DataDirError {
    /// Nothing is at the path.
    #[error("{path}: no such directory")]
    Missing {
        /// The path given.
        path: PathBuf,
    },
    /// Something other than a directory is at the path.
    #[error("{path} is not a directory")]
    NotADirectory {
        /// The path given.
        path: PathBuf,
    },
    /// The directory holds no sled database.
    #[error(
        "{path} holds no event log (no sled files `conf` and `db`): \
         is it the data dir of a circlemade service?"
    )]
    NoLog {
        /// The path given.
        path: PathBuf,
    },
    /// A running service holds the directory.
    #[error(
        "{path} is in use: a running service holds its lock. Stop the service first, or \
         copy the directory and point --data-dir at the copy"
    )]
    Locked {
        /// The path given.
        path: PathBuf,
    },
    /// Reading the directory or copying its files failed.
    #[error("cannot copy {path} into a private snapshot: {source}")]
    Copy {
        /// The file or directory that failed.
        path: PathBuf,
        /// What the system said.
        #[source]
        source: io::Error,
    },
    /// The run was interrupted while copying.
    #[error("interrupted while copying {path}")]
    Interrupted {
        /// The data dir being copied.
        path: PathBuf,
    },
    /// The snapshot is not a log this build can read.
    #[error(transparent)]
    Open(#[from] OpenError),
    /// A record of the log could not be read.
    #[error("reading the event log: {0}")]
    Read(#[from] ReadError),
}

/// A private, opened copy of a data dir's log. See the module docs.
#[derive(Debug)]
pub struct Snapshot {
    log: EventLog,
    source: PathBuf,
    /// The private copy, removed when the snapshot is dropped.
    _copy: TempDir,
    /// Dropped after `_copy`, which removes the directory.
    _scratch: Scratch,
}

impl Snapshot {
    /// Copies the sled files of `data_dir` into a private directory and opens the copy.
    /// Refused when `data_dir` is not a data dir or a running service holds it.
    ///
    /// Blocking (it copies the whole database): call it off the async runtime.
    pub fn take(data_dir: &Path) -> Result<Snapshot, DataDirError> {
        let source = data_dir.to_path_buf();
        let copy = tempfile::Builder::new()
            .prefix("circlemade-snapshot-")
            .tempdir()
            .map_err(|source| DataDirError::Copy {
                path: std::env::temp_dir(),
                source,
            })?;
        let scratch = Scratch::register(copy.path());
        copy_locked(data_dir, copy.path())?;
        let log = EventLog::open(LogConfig::new(copy.path()))?;
        Ok(Snapshot {
            log,
            source,
            _copy: copy,
            _scratch: scratch,
        })
    }

    /// The data dir the snapshot was taken of.
    pub fn source(&self) -> &Path {
        &self.source
    }

    /// Blocking reads of the whole log, as it was when the snapshot was taken.
    pub fn reader(&self) -> LogReader {
        self.log.reader()
    }

    /// Closes the copy's log and removes the copy.
    pub async fn close(self) {
        self.log.close().await;
    }
}

/// Checks that `data_dir` is a data dir nobody holds, and copies sled's files into
/// `into` while holding its lock, so that no service starts on it mid-copy.
fn copy_locked(data_dir: &Path, into: &Path) -> Result<(), DataDirError> {
    let path = data_dir.to_path_buf();
    match fs::metadata(data_dir) {
        Ok(metadata) if metadata.is_dir() => {}
        Ok(_) => return Err(DataDirError::NotADirectory { path }),
        Err(error) if error.kind() == io::ErrorKind::NotFound => {
            return Err(DataDirError::Missing { path });
        }
        Err(source) => return Err(DataDirError::Copy { path, source }),
    }
    if !SLED_FILES.iter().all(|name| data_dir.join(name).is_file()) {
        return Err(DataDirError::NoLog { path });
    }
    let db = data_dir.join("db");
    let lock = File::open(&db).map_err(|source| DataDirError::Copy {
        path: db.clone(),
        source,
    })?;
    if let Err(error) = lock.try_lock_exclusive() {
        if error.kind() == fs2::lock_contended_error().kind() {
            return Err(DataDirError::Locked { path });
        }
        return Err(DataDirError::Copy {
            path: db,
            source: error,
        });
    }
    let copied = copy_sled_files(data_dir, into);
    // Closing the file releases the lock; unlocking first says so.
    let _ = FileExt::unlock(&lock);
    copied
}

fn copy_sled_files(from: &Path, into: &Path) -> Result<(), DataDirError> {
    let failed = |path: &Path| {
        let path = path.to_path_buf();
        move |source| DataDirError::Copy { path, source }
    };
    for entry in fs::read_dir(from).map_err(failed(from))? {
        if interrupted() {
            return Err(DataDirError::Interrupted {
                path: from.to_path_buf(),
            });
        }
        let entry = entry.map_err(failed(from))?;
        let name = entry.file_name();
        let Some(name) = name.to_str() else { continue };
        let path = entry.path();
        if SLED_FILES.contains(&name) || name.starts_with(SLED_SNAPSHOT_PREFIX) {
            fs::copy(&path, into.join(name)).map_err(failed(&path))?;
        } else if name == SLED_BLOBS && path.is_dir() {
            copy_tree(&path, &into.join(name))?;
        }
    }
    Ok(())
}

fn copy_tree(from: &Path, into: &Path) -> Result<(), DataDirError> {
    let failed = |path: &Path| {
        let path = path.to_path_buf();
        move |source| DataDirError::Copy { path, source }
    };
    fs::create_dir_all(into).map_err(failed(into))?;
    for entry in fs::read_dir(from).map_err(failed(from))? {
        let entry = entry.map_err(failed(from))?;
        let path = entry.path();
        let target = into.join(entry.file_name());
        if path.is_dir() {
            copy_tree(&path, &target)?;
        } else {
            fs::copy(&path, &target).map_err(failed(&path))?;
        }
    }
    Ok(())
}
