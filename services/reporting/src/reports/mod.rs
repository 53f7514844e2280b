//! The reports: queries over the [`ReportingState`](crate::ReportingState), each as of
//! a moment, each a scan of its compact timelines (no replay of the log), each
//! serialising to the same bytes for the same facts.

mod collaboration;
mod composition;
mod counts;
mod growth;
mod kpis;
mod participation;
mod reached;

pub use collaboration::CollaborationReport;
pub use composition::CompositionReport;
pub use counts::Counts;
pub use growth::{GrowthReport, MonthGrowth};
pub use kpis::{Kpi, KpiReport};
pub use participation::ParticipationReport;
pub use reached::{ReachedTarget, newly_reached};
