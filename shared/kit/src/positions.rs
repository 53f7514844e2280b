//! Reading one's own writes: `?min_position=N` and the watch projections advance.

use std::sync::Arc;
use std::time::Duration;

use axum::extract::FromRequestParts;
use axum::http::header::RETRY_AFTER;
use axum::http::request::Parts;
use axum::http::{HeaderValue, StatusCode};
use circlemade_eventlog::Position;
use tokio::sync::watch;

use crate::Problem;

/// The name of the query parameter.
pub const MIN_POSITION_PARAM: &str = "min_position";

/// The `?min_position=N` of a query: the log position (from a write's answer) that the
/// read model must have reached before the query is answered. Other parameters of the
/// query string are left to the handler's own extractor (which must not refuse
/// `min_position` as unknown).
///
/// Anything but one whole number is refused with 400 `malformed_query`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct MinPosition(pub Option<Position>);

impl MinPosition {
    /// Reads `min_position` from a query string (without the `?`).
    pub fn from_query(query: &str) -> Result<Self, Problem> {
        let mut found = None;
        for pair in query.split('&') {
            let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
            if name != MIN_POSITION_PARAM {
                continue;
            }
            let refuse = |reason: &str| {
                Problem::bad_request("malformed_query", format!("min_position {reason}"))
                    .with_field_error(MIN_POSITION_PARAM, reason.to_owned())
            };
            if found.is_some() {
                return Err(refuse("is given more than once"));
            }
            if value.is_empty() || !value.bytes().all(|b| b.is_ascii_digit()) {
                return Err(refuse("must be a log position: a whole number"));
            }
            let position = value.parse::<u64>().map_err(|_| refuse("is too large"))?;
            found = Some(Position(position));
        }
        Ok(MinPosition(found))
    }
}

impl From<MinPosition> for Option<Position> {
    fn from(min: MinPosition) -> Self {
        min.0
    }
}

impl<S: Send + Sync> FromRequestParts<S> for MinPosition {
    type Rejection = Problem;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Problem> {
        MinPosition::from_query(parts.uri.query().unwrap_or(""))
    }
}

/// The log position a service's read models reflect, advanced by its projections
/// after they apply events, and awaited by queries that carry `min_position`.
///
/// Cheap to clone; clones share one position. It only moves forward: a projection
/// that reports an older position (a rebuild restarting) leaves it where it was.
#[derive(Clone, Debug)]
pub struct PositionWatch {
    sender: Arc<watch::Sender<Position>>,
}

impl PositionWatch {
    /// A watch starting at `start` (what the read models reflect when loaded).
    pub fn new(start: Position) -> Self {
        PositionWatch {
            sender: Arc::new(watch::Sender::new(start)),
        }
    }

    /// Records that the read models now reflect everything up to `to`.
    pub fn advance(&self, to: Position) {
        self.sender.send_if_modified(|current| {
            let moved = to > *current;
            if moved {
                *current = to;
            }
            moved
        });
    }

    /// The position the read models reflect now.
    pub fn current(&self) -> Position {
        *self.sender.borrow()
    }

    /// A receiver that sees each advance.
    pub fn subscribe(&self) -> watch::Receiver<Position> {
        self.sender.subscribe()
    }

    /// Whether a query is waiting (through [`PositionWatch::wait_for`], or anyone
    /// holding a receiver): a projection then applies what it has at once rather than
    /// gathering more events first.
    pub fn is_awaited(&self) -> bool {
        self.sender.receiver_count() > 0
    }

    /// Waits until the read models reach `min`, at most `max_wait`. Without a minimum
    /// it answers at once. Gives the position reached, or 503 `position_not_reached`
    /// with the `current_position` and a `Retry-After`.
    pub async fn wait_for(
        &self,
        min: impl Into<Option<Position>>,
        max_wait: Duration,
    ) -> Result<Position, Problem> {
        let Some(min) = min.into() else {
            return Ok(self.current());
        };
        let mut receiver = self.subscribe();
        let reached = tokio::time::timeout(max_wait, async {
            receiver
                .wait_for(|current| *current >= min)
                .await
                .map(|p| *p)
        })
        .await;
        match reached {
            Ok(Ok(position)) => Ok(position),
            // The sender lives as long as `self`: a closed channel cannot happen here.
            Ok(Err(_)) | Err(_) => {
                let current = self.current();
                Err(Problem::new(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "position_not_reached",
                    "The read model has not reached the requested position yet",
                )
                .with_detail(format!(
                    "waited {} ms for position {min}; the read model is at {current}",
                    max_wait.as_millis()
                ))
                .with_extension("min_position", min.0)
                .with_extension("current_position", current.0)
                .with_header(RETRY_AFTER, HeaderValue::from_static("1")))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn min_position_is_read_among_other_parameters() {
        assert_eq!(MinPosition::from_query("").unwrap(), MinPosition(None));
        assert_eq!(
            MinPosition::from_query("status=admitted&min_position=17").unwrap(),
            MinPosition(Some(Position(17)))
        );
        for bad in [
            "min_position=",
            "min_position=-1",
            "min_position=x",
            "min_position=1&min_position=2",
        ] {
            let problem = MinPosition::from_query(bad).unwrap_err();
            assert_eq!(problem.code, "malformed_query", "{bad}");
            assert_eq!(problem.errors[0].field, "min_position");
        }
    }

    #[test]
    fn a_watch_knows_whether_a_query_waits() {
        let watch = PositionWatch::new(Position(1));
        assert!(!watch.is_awaited());
        let waiting = watch.subscribe();
        assert!(watch.is_awaited());
        drop(waiting);
        assert!(!watch.is_awaited());
    }

    #[test]
    fn the_watch_never_moves_back() {
        let watch = PositionWatch::new(Position(5));
        watch.advance(Position(3));
        assert_eq!(watch.current(), Position(5));
        watch.advance(Position(9));
        assert_eq!(watch.current(), Position(9));
    }

    #[tokio::test]
    async fn a_wait_ends_when_another_task_advances_the_watch() {
        let watch = PositionWatch::new(Position(1));
        let mut seen = watch.subscribe();
        let projection = watch.clone();
        let waiter = tokio::spawn({
            let watch = watch.clone();
            async move { watch.wait_for(Position(3), Duration::from_secs(30)).await }
        });
        projection.advance(Position(2));
        seen.changed().await.unwrap();
        projection.advance(Position(4));
        let reached = tokio::time::timeout(Duration::from_secs(30), waiter)
            .await
            .unwrap()
            .unwrap()
            .unwrap();
        assert_eq!(reached, Position(4));
    }

    #[tokio::test]
    async fn a_wait_that_times_out_says_where_the_read_model_is() {
        let watch = PositionWatch::new(Position(2));
        let problem = watch
            .wait_for(Position(3), Duration::from_millis(10))
            .await
            .unwrap_err();
        assert_eq!(problem.status(), StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(problem.code, "position_not_reached");
        assert_eq!(problem.extensions["current_position"], 2);
        assert_eq!(problem.extensions["min_position"], 3);
        assert_eq!(problem.headers()[RETRY_AFTER], "1");
        assert_eq!(
            watch.wait_for(None, Duration::ZERO).await.unwrap(),
            Position(2)
        );
        assert_eq!(
            watch.wait_for(Position(2), Duration::ZERO).await.unwrap(),
            Position(2)
        );
    }
}
