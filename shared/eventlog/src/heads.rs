//! The head of every stream: its version and the position of its last event.
//!
//! Heads live in memory, shared by the writer (which checks expected versions against
//! them) and readers (which start a stream read from them and follow each record's link
//! to the previous event of its stream). Keeping them out of the append transaction
//! keeps every write on the durable path sequential: records by position and event ids,
//! which are time-ordered (UUID v7). A random-key index write per event would cost more
//! than the records themselves.
//!
//! They are derived state: from time to time the writer saves the heads that changed
//! into the `log.heads` tree, together with the position they are complete up to (the
//! watermark), in one atomic batch. Opening the log loads that checkpoint and replays the
//! record headers after the watermark; with no usable checkpoint it replays them all.

use std::collections::{HashMap, HashSet};
use std::sync::{PoisonError, RwLock};

use crate::record;
use crate::{OpenError, Position, StreamId, StreamVersion};

/// Key of the watermark in the `log.heads` tree; no stream name starts with 0xFF.
const WATERMARK_KEY: &[u8] = &[0xFF];

/// Where a stream stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Head {
    pub(crate) version: StreamVersion,
    pub(crate) last: Position,
}

impl Head {
    fn to_bytes(self) -> [u8; 16] {
        let mut bytes = [0; 16];
        bytes[..8].copy_from_slice(&self.version.0.to_be_bytes());
        bytes[8..].copy_from_slice(&self.last.0.to_be_bytes());
        bytes
    }

    fn from_bytes(bytes: &[u8]) -> Option<Head> {
        let bytes: [u8; 16] = bytes.try_into().ok()?;
        let (version, last) = bytes.split_at(8);
        Some(Head {
            version: StreamVersion(u64::from_be_bytes(version.try_into().ok()?)),
            last: Position(u64::from_be_bytes(last.try_into().ok()?)),
        })
    }
}

/// Every stream's head. Includes heads of events committed but not yet flushed: readers
/// bound what they return by the durable head.
#[derive(Default)]
pub(crate) struct Heads {
    map: RwLock<HashMap<StreamId, Head>>,
}

impl Heads {
    pub(crate) fn get(&self, stream: &StreamId) -> Option<Head> {
        self.map
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .get(stream)
            .copied()
    }

    /// Applies the heads a batch moved, and adds their streams to `dirty` (the streams
    /// the next checkpoint must save).
    pub(crate) fn update(
        &self,
        changes: impl IntoIterator<Item = (StreamId, Head)>,
        dirty: &mut HashSet<StreamId>,
    ) {
        let mut map = self.map.write().unwrap_or_else(PoisonError::into_inner);
        for (stream, head) in changes {
            // Most streams are dirty already between two checkpoints: no copy for them.
            if !dirty.contains(&stream) {
                dirty.insert(stream.clone());
            }
            map.insert(stream, head);
        }
    }

    /// Loads the checkpoint and replays the record headers after it, up to `head`.
    /// Also returns the streams whose heads the checkpoint lacks: the next save must
    /// write them.
    pub(crate) fn recover(
        path: &std::path::Path,
        checkpoint: &sled::Tree,
        events: &sled::Tree,
        head: Position,
    ) -> Result<(Heads, HashSet<StreamId>), OpenError> {
        let storage = |source| OpenError::Storage {
            path: path.to_owned(),
            source,
        };
        let mut map = HashMap::new();
        let mut watermark = match checkpoint.get(WATERMARK_KEY).map_err(storage)? {
            Some(bytes) => Position::from_key(&bytes).unwrap_or(Position::START),
            None => Position::START,
        };
        if watermark > head {
            // A checkpoint ahead of the records cannot be trusted: start from scratch.
            watermark = Position::START;
        }
        if watermark > Position::START {
            for item in checkpoint.iter() {
                let (key, value) = item.map_err(storage)?;
                if key.as_ref() == WATERMARK_KEY {
                    continue;
                }
                let stream = std::str::from_utf8(&key)
                    .ok()
                    .and_then(|name| StreamId::new(name).ok());
                match (stream, Head::from_bytes(&value)) {
                    (Some(stream), Some(head)) => {
                        map.insert(stream, head);
                    }
                    // A damaged checkpoint is only a cache: rebuild it.
                    _ => {
                        map.clear();
                        watermark = Position::START;
                        break;
                    }
                }
            }
        }
        let mut stale = HashSet::new();
        let replayed = events.range(watermark.next().to_key()..=head.to_key());
        for item in replayed {
            let (key, value) = item.map_err(storage)?;
            let position = Position::from_key(&key).unwrap_or(Position::START);
            let raw = record::split(&value).map_err(|failure| OpenError::Corrupted {
                path: path.to_owned(),
                position,
                reason: failure.to_string(),
            })?;
            let stream = StreamId::new(raw.stream).map_err(|e| OpenError::Corrupted {
                path: path.to_owned(),
                position,
                reason: e.to_string(),
            })?;
            stale.insert(stream.clone());
            map.insert(
                stream,
                Head {
                    version: raw.version,
                    last: position,
                },
            );
        }
        let heads = Heads {
            map: RwLock::new(map),
        };
        Ok((heads, stale))
    }

    /// Saves the heads of `dirty` streams with the watermark `upto`, atomically.
    /// Not flushed here: a checkpoint lost in a crash is rebuilt from the records.
    pub(crate) fn save(
        &self,
        checkpoint: &sled::Tree,
        dirty: impl IntoIterator<Item = StreamId>,
        upto: Position,
    ) -> Result<(), sled::Error> {
        let map = self.map.read().unwrap_or_else(PoisonError::into_inner);
        let mut batch = sled::Batch::default();
        for stream in dirty {
            if let Some(head) = map.get(&stream) {
                batch.insert(stream.as_str().as_bytes(), &head.to_bytes());
            }
        }
        batch.insert(WATERMARK_KEY, &upto.to_key());
        drop(map);
        checkpoint.apply_batch(batch)
    }
}
