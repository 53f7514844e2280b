//! The canonical form of the reporting state: every fact it keeps, in an order that
//! depends on the facts alone (ids sorted, each stream's facts in stream order), never
//! on memory layout or arrival order. Its SHA-256 is the state's digest.

use sha2::{Digest, Sha256};
use uuid::Uuid;

use super::timeline::DomainTime;

/// Writes the canonical form into a SHA-256, and into a buffer when asked (tests read
/// it back). Every variable-length part is preceded by its length, so two different
/// states never write the same bytes.
pub(crate) struct Canonical {
    hasher: Sha256,
    bytes: Option<Vec<u8>>,
}

impl Canonical {
    /// A writer that only hashes.
    pub(crate) fn hashing() -> Self {
        Canonical {
            hasher: Sha256::new(),
            bytes: None,
        }
    }

    /// A writer that also keeps the bytes.
    #[cfg(test)]
    pub(crate) fn keeping() -> Self {
        Canonical {
            hasher: Sha256::new(),
            bytes: Some(Vec::new()),
        }
    }

    fn put(&mut self, bytes: &[u8]) {
        self.hasher.update(bytes);
        if let Some(kept) = &mut self.bytes {
            kept.extend_from_slice(bytes);
        }
    }

    /// A count of what follows.
    pub(crate) fn len(&mut self, len: usize) {
        self.put(&(len as u64).to_be_bytes());
    }

    /// An id.
    pub(crate) fn uuid(&mut self, id: Uuid) {
        self.put(id.as_bytes());
    }

    /// A moment.
    pub(crate) fn time(&mut self, at: DomainTime) {
        self.put(&at.nanos().to_be_bytes());
    }

    /// A number.
    pub(crate) fn number(&mut self, value: u32) {
        self.put(&value.to_be_bytes());
    }

    /// One byte.
    pub(crate) fn byte(&mut self, value: u8) {
        self.put(&[value]);
    }

    /// A name (a wire name of an enum value, never free text from an event).
    pub(crate) fn text(&mut self, text: &str) {
        self.len(text.len());
        self.put(text.as_bytes());
    }

    /// The digest.
    pub(crate) fn finish(self) -> [u8; 32] {
        self.hasher.finalize().into()
    }

    /// The bytes written, when kept.
    #[cfg(test)]
    pub(crate) fn into_bytes(self) -> Vec<u8> {
        self.bytes.unwrap_or_default()
    }
}
