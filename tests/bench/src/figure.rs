//! One measured figure and the line it prints.

use std::fmt;

/// A figure next to its raw limit.
pub(crate) struct Figure {
    pub(crate) id: &'static str,
    pub(crate) value: f64,
    pub(crate) unit: &'static str,
    pub(crate) raw: Option<f64>,
}

impl fmt::Display for Figure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "BENCH {} {:.1} {}", self.id, self.value, self.unit)?;
        match self.raw {
            Some(raw) if raw > 0.0 => write!(f, " raw={raw:.1} ratio={:.2}", self.value / raw),
            _ => write!(f, " raw=- ratio=-"),
        }
    }
}

impl Figure {
    /// Prints the figure on its own line, at once (benchmarks run for minutes).
    pub(crate) fn print(&self) {
        println!("{self}");
    }
}
