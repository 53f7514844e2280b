//! The ids a command gives what it creates: fresh ones, or ones derived from the seed of
//! its `Idempotency-Key`, so that a retry comes to the same ids.

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use circlemade_contracts::EventId;
use sha2::{Digest, Sha256};
use uuid::Uuid;

use crate::IdempotencySeed;

/// Where the ids of one command come from.
///
/// Without an `Idempotency-Key` each id is fresh (UUID v7). With one, the
/// [`idempotency`](crate::idempotency) middleware hands the handler a seed kept with
/// the key, and every id is derived from it: the new aggregate's
/// ([`CommandIds::aggregate_id`]), the `n`th event's ([`CommandIds::event_id`]), or any
/// other the command names ([`CommandIds::derived`], e.g. a new offer's). The same
/// request retried after a crash therefore creates the same aggregate with the same
/// events, which the log recognises ([`CommandExecutor`](crate::CommandExecutor) looks
/// them up instead of deciding again), instead of a second one.
///
/// Derived ids are valid UUID v7: the seed's timestamp, then bits from a SHA-256 of the
/// seed and the name. As an extractor it never fails.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CommandIds {
    seed: Option<IdempotencySeed>,
    /// The aggregate id when there is no seed, drawn once so that every call agrees.
    fresh: Uuid,
}

impl CommandIds {
    /// Fresh ids, for a command sent without an `Idempotency-Key`.
    pub fn fresh() -> Self {
        CommandIds {
            seed: None,
            fresh: Uuid::now_v7(),
        }
    }

    /// Ids derived from `seed`.
    pub fn seeded(seed: IdempotencySeed) -> Self {
        CommandIds {
            seed: Some(seed),
            fresh: Uuid::nil(),
        }
    }

    /// Whether an earlier run of this very request started and never answered: what it
    /// appended, under these same ids, may be in the log.
    pub fn is_retry(&self) -> bool {
        self.seed.is_some_and(|seed| seed.retried)
    }

    /// Whether the ids are derived from an `Idempotency-Key`'s seed.
    pub fn is_seeded(&self) -> bool {
        self.seed.is_some()
    }

    /// The id of the aggregate the command creates, if it creates one.
    pub fn aggregate_id(&self) -> Uuid {
        match self.seed {
            Some(seed) => derive(seed.seed, b"aggregate", 0),
            None => self.fresh,
        }
    }

    /// The id of the command's `index`th event (from 0).
    pub fn event_id(&self, index: usize) -> EventId {
        match self.seed {
            Some(seed) => EventId(derive(seed.seed, b"event", index as u64)),
            None => EventId::new(),
        }
    }

    /// Another id the command creates, named by `name` (e.g. `b"offer"`).
    pub fn derived(&self, name: &[u8]) -> Uuid {
        match self.seed {
            Some(seed) => derive(seed.seed, name, 0),
            None => Uuid::now_v7(),
        }
    }
}

impl Default for CommandIds {
    fn default() -> Self {
        CommandIds::fresh()
    }
}

/// A UUID v7 with the seed's timestamp, its other bits from `SHA-256(seed, name, n)`.
fn derive(seed: Uuid, name: &[u8], n: u64) -> Uuid {
    let mut hasher = Sha256::new();
    hasher.update(seed.as_bytes());
    hasher.update((name.len() as u64).to_be_bytes());
    hasher.update(name);
    hasher.update(n.to_be_bytes());
    let digest = hasher.finalize();
    let mut random = [0u8; 10];
    random.copy_from_slice(&digest[..10]);
    let millis = seed.get_timestamp().map_or(0, |timestamp| {
        let (seconds, nanos) = timestamp.to_unix();
        seconds * 1000 + u64::from(nanos) / 1_000_000
    });
    uuid::Builder::from_unix_timestamp_millis(millis, &random).into_uuid()
}

impl<S: Send + Sync> FromRequestParts<S> for CommandIds {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        Ok(match parts.extensions.get::<IdempotencySeed>() {
            Some(seed) => CommandIds::seeded(*seed),
            None => CommandIds::fresh(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn seeded(retried: bool) -> CommandIds {
        CommandIds::seeded(IdempotencySeed {
            seed: Uuid::from_u128(0x0190_b1c2_3d4e_7f00_8a9b_0c1d_2e3f_4a5b),
            retried,
        })
    }

    #[test]
    fn seeded_ids_are_the_same_on_a_retry_and_distinct_from_each_other() {
        let (first, retry) = (seeded(false), seeded(true));
        assert_eq!(first.aggregate_id(), retry.aggregate_id());
        assert_eq!(first.event_id(0), retry.event_id(0));
        assert_eq!(first.event_id(1), retry.event_id(1));
        assert_eq!(first.derived(b"offer"), retry.derived(b"offer"));
        assert_ne!(first.event_id(0), first.event_id(1));
        assert_ne!(first.aggregate_id(), first.derived(b"offer"));
        assert_ne!(first.event_id(0).0, first.aggregate_id());
        assert!(retry.is_retry() && !first.is_retry());
    }

    #[test]
    fn derived_ids_are_uuid_v7_with_the_seed_time() {
        let ids = seeded(false);
        for id in [ids.aggregate_id(), ids.event_id(3).0, ids.derived(b"x")] {
            assert_eq!(id.get_version_num(), 7);
            assert_eq!(id.get_variant(), uuid::Variant::RFC4122);
            assert_eq!(
                id.get_timestamp().map(|t| t.to_unix().0),
                Uuid::from_u128(0x0190_b1c2_3d4e_7f00_8a9b_0c1d_2e3f_4a5b)
                    .get_timestamp()
                    .map(|t| t.to_unix().0)
            );
        }
    }

    #[test]
    fn fresh_ids_keep_one_aggregate_id_and_new_event_ids() {
        let ids = CommandIds::fresh();
        assert_eq!(ids.aggregate_id(), ids.aggregate_id());
        assert_ne!(ids.event_id(0), ids.event_id(0));
        assert!(!ids.is_retry() && !ids.is_seeded());
    }
}
