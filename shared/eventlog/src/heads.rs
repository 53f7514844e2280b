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

/// A stream's name as the heads keep it. Most names are an aggregate and its id,
/// `<aggregate>/<uuid>` (a CloudEvents subject): those are kept as the aggregate's index
/// in [`Streams::aggregates`] and the id's sixteen bytes, without an allocation of their
/// own, which halves the memory of the heads of a log of many aggregates. Any other
/// name is kept as it is.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
enum Key {
    Id { aggregate: u16, id: [u8; 16] },
    Name(Box<str>),
}

/// The heads, by stream.
#[derive(Default)]
struct Streams {
    /// The `<aggregate>` parts of the names kept as [`Key::Id`].
    aggregates: Vec<Box<str>>,
    heads: HashMap<Key, Head>,
}

impl Streams {
    /// The key `stream` is found under.
    fn key(&self, stream: &StreamId) -> Key {
        match split_id(stream.as_str()) {
            Some((aggregate, id)) => match self.aggregates.iter().position(|a| **a == *aggregate) {
                Some(index) => Key::Id {
                    aggregate: u16::try_from(index).unwrap_or(u16::MAX),
                    id,
                },
                None => Key::Name(stream.as_str().into()),
            },
            None => Key::Name(stream.as_str().into()),
        }
    }

    /// The key `stream` is kept under, its aggregate taken into the list if new.
    fn key_mut(&mut self, stream: &StreamId) -> Key {
        if let Some((aggregate, _)) = split_id(stream.as_str())
            && !self.aggregates.iter().any(|a| **a == *aggregate)
            && self.aggregates.len() < usize::from(u16::MAX)
        {
            self.aggregates.push(aggregate.into());
        }
        self.key(stream)
    }

    fn get(&self, stream: &StreamId) -> Option<Head> {
        self.heads.get(&self.key(stream)).copied()
    }

    fn insert(&mut self, stream: &StreamId, head: Head) {
        let key = self.key_mut(stream);
        self.heads.insert(key, head);
    }
}

/// `name` as `<aggregate>/<uuid>`, when its id is a uuid written as uuids are written
/// (lower case, hyphenated), so that the name can be told again from the two parts.
fn split_id(name: &str) -> Option<(&str, [u8; 16])> {
    let (aggregate, id) = name.rsplit_once('/')?;
    let uuid = uuid::Uuid::try_parse(id).ok()?;
    let mut written = [0u8; uuid::fmt::Hyphenated::LENGTH];
    (uuid.hyphenated().encode_lower(&mut written) == id).then_some((aggregate, *uuid.as_bytes()))
}

/// Every stream's head. Includes heads of events committed but not yet flushed: readers
/// bound what they return by the durable head.
#[derive(Default)]
pub(crate) struct Heads {
    map: RwLock<Streams>,
}

impl Heads {
    pub(crate) fn get(&self, stream: &StreamId) -> Option<Head> {
        self.map
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .get(stream)
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
            map.insert(&stream, head);
            if !dirty.contains(&stream) {
                dirty.insert(stream);
            }
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
        let mut map = Streams::default();
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
                        map.insert(&stream, head);
                    }
                    // A damaged checkpoint is only a cache: rebuild it.
                    _ => {
                        map = Streams::default();
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
            map.insert(
                &stream,
                Head {
                    version: raw.version,
                    last: position,
                },
            );
            stale.insert(stream);
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

#[cfg(test)]
mod tests {
    use super::*;

    fn head(n: u64) -> Head {
        Head {
            version: StreamVersion(n),
            last: Position(n),
        }
    }

    #[test]
    fn every_name_keeps_its_own_head_whether_or_not_it_names_an_aggregate_s_id() {
        let id = "0190b1c2-0000-7000-8000-000000000001";
        let names = [
            format!("member/{id}"),
            format!("activity/{id}"),
            format!("member/{}", id.to_uppercase()),
            format!("member/{}", id.replace('-', "")),
            format!("a/b/{id}"),
            "member".to_owned(),
            format!("/{id}"),
            "target/2018".to_owned(),
        ];
        let mut streams = Streams::default();
        for (n, name) in (1..).zip(&names) {
            streams.insert(&StreamId::new(name.as_str()).unwrap(), head(n));
        }
        for (n, name) in (1..).zip(&names) {
            let stream = StreamId::new(name.as_str()).unwrap();
            assert_eq!(streams.get(&stream), Some(head(n)), "{name}");
        }
        assert_eq!(streams.heads.len(), names.len());
        let unknown = StreamId::new(format!("offer/{id}")).unwrap();
        assert_eq!(streams.get(&unknown), None);
        // Only the names an id can be told again from are kept as one.
        let as_ids = streams
            .heads
            .keys()
            .filter(|key| matches!(key, Key::Id { .. }))
            .count();
        assert_eq!(as_ids, 4, "member, activity, a/b and the empty aggregate");
        streams.insert(&StreamId::new(format!("member/{id}")).unwrap(), head(9));
        assert_eq!(
            streams.get(&StreamId::new(format!("member/{id}")).unwrap()),
            Some(head(9))
        );
    }
}
