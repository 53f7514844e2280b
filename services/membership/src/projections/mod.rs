//! The read models of the membership service, built from its log by the kit's
//! [`ProjectionRunner`](circlemade_kit::ProjectionRunner), and the queries over them.

mod member_views;

use std::time::Duration;

use circlemade_contracts::membership::{Category, Domain, MemberId};
use circlemade_eventlog::{EventLog, Position};
use circlemade_kit::{MinPosition, PositionWatch, Problem, rebuild, tree_digest};

use crate::domain::MemberStatus;
pub(crate) use member_views::MemberViews;
pub use member_views::{AccompanimentView, MemberView, OfferView};

/// Which members a list shows: all conditions given must hold.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct MemberFilter {
    pub(crate) status: Option<MemberStatus>,
    pub(crate) category: Option<Category>,
    pub(crate) domain: Option<Domain>,
}

impl MemberFilter {
    fn admits(&self, view: &MemberView) -> bool {
        self.status
            .is_none_or(|status| view.status() == Some(status))
            && self
                .category
                .is_none_or(|category| view.category == category)
            && self
                .domain
                .is_none_or(|domain| view.domains.contains(&domain))
    }
}

/// The queries over the member views. Cheap to clone.
#[derive(Clone, Debug)]
pub(crate) struct ReadModels {
    tree: sled::Tree,
    watch: PositionWatch,
    wait: Duration,
}

impl ReadModels {
    /// Queries over `tree`, which the projection keeps at `watch`'s position; a query
    /// waits at most `wait` for its `min_position`.
    pub(crate) fn new(tree: sled::Tree, watch: PositionWatch, wait: Duration) -> Self {
        ReadModels { tree, watch, wait }
    }

    /// The view of `member` once the model has reached `min`.
    pub(crate) async fn member(
        &self,
        member: MemberId,
        min: MinPosition,
    ) -> Result<Option<MemberView>, Problem> {
        self.watch.wait_for(min, self.wait).await?;
        let tree = self.tree.clone();
        blocking(move || {
            tree.get(member_views::view_key(member))?
                .map(|bytes| serde_json::from_slice::<MemberView>(&bytes))
                .transpose()
                .map_err(Failure::from)
        })
        .await
    }

    /// The views that pass `filter`, in the order members applied, once the model has
    /// reached `min`; with the position the list reflects.
    pub(crate) async fn members(
        &self,
        filter: MemberFilter,
        min: MinPosition,
    ) -> Result<(Vec<MemberView>, Position), Problem> {
        self.watch.wait_for(min, self.wait).await?;
        // Read before the scan: the list reflects at least this position.
        let position = self.watch.current();
        let tree = self.tree.clone();
        let views = blocking(move || {
            let mut views = Vec::new();
            for entry in tree.scan_prefix(member_views::VIEWS) {
                let (_, bytes) = entry?;
                let view: MemberView = serde_json::from_slice(&bytes)?;
                if filter.admits(&view) {
                    views.push(view);
                }
            }
            Ok(views)
        })
        .await?;
        Ok((views, position))
    }

    /// The digest of the tree as it is, and of the same projection rebuilt from scratch
    /// from `log` into a temporary database: equal when live updating and a rebuild
    /// agree byte for byte. Call it when the model has caught up with the log.
    pub(crate) async fn digests(&self, log: &EventLog) -> Result<([u8; 32], [u8; 32]), Problem> {
        let tree = self.tree.clone();
        let reader = log.reader();
        blocking(move || {
            let live = tree_digest(&tree)?;
            let scratch = sled::Config::new().temporary(true).open()?;
            let rebuilt = scratch.open_tree(member_views::TREE)?;
            rebuild(&reader, &MemberViews, &rebuilt).map_err(|e| Failure::Other(e.to_string()))?;
            Ok((live, tree_digest(&rebuilt)?))
        })
        .await
    }
}

/// What a blocking query can run into.
#[derive(Debug, thiserror::Error)]
enum Failure {
    #[error("member views: {0}")]
    Storage(#[from] sled::Error),
    #[error("member views: a stored view does not decode: {0}")]
    Decode(#[from] serde_json::Error),
    #[error("member views: {0}")]
    Other(String),
}

async fn blocking<T: Send + 'static>(
    query: impl FnOnce() -> Result<T, Failure> + Send + 'static,
) -> Result<T, Problem> {
    tokio::task::spawn_blocking(query)
        .await
        .map_err(|e| Problem::internal(&e))?
        .map_err(|e| Problem::internal(&e))
}
