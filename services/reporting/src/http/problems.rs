//! The one place where the targets' refusals become problem documents.

use circlemade_kit::{FieldError, Problem};

use crate::domain::TargetsError;

impl From<TargetsError> for Problem {
    fn from(error: TargetsError) -> Self {
        let code = error.code();
        match error {
            TargetsError::TooEarly { .. } => {
                Problem::validation_failed([
                    FieldError::new("at", error.to_string()).with_code("too_early")
                ])
            }
            TargetsError::OtherYear { .. } => Problem::conflict(code, error.to_string()),
        }
    }
}
