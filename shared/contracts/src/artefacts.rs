//! The published documents, as the registry generates them: what the repository commits
//! under `shared/contracts/`, and the README's catalogue table.

use serde::Serialize;
use serde_json::Value;

use crate::registry::Registry;
use crate::schema::one_line;

/// One generated file: its path relative to the contracts crate, and its contents.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GeneratedFile {
    /// Path relative to the crate's directory, with `/` separators, e.g.
    /// `schemas/brussels.circlemade.membership.member.applied.v1.json`.
    pub path: String,
    /// The exact contents.
    pub contents: String,
}

/// Folder of the JSON Schemas, one file per type: `<type>.json`.
pub const SCHEMAS_DIR: &str = "schemas";

/// Folder of the golden examples, one CloudEvent per type: `<type>.json`.
pub const GOLDEN_DIR: &str = "golden";

/// The AsyncAPI document.
pub const ASYNCAPI_FILE: &str = "asyncapi.json";

/// JSON as every generated file and golden example is written: pretty-printed, keys in
/// the order of the types (or as generated), with a final newline.
pub fn to_pretty_json<T: Serialize + ?Sized>(value: &T) -> Result<String, serde_json::Error> {
    let mut text = serde_json::to_string_pretty(value)?;
    text.push('\n');
    Ok(text)
}

fn pretty_value(value: &Value) -> String {
    // A `Value` has string keys and finite numbers only, so it always serialises.
    to_pretty_json(value).unwrap_or_default()
}

impl Registry {
    /// The AsyncAPI 3.0 document of every channel, message and stream.
    pub fn asyncapi(&self) -> Value {
        crate::asyncapi::document(self)
    }

    /// Every file generated from the catalogue, in a fixed order: one JSON Schema and
    /// one golden example per type, then the AsyncAPI document.
    pub fn generated_files(&self) -> Result<Vec<GeneratedFile>, serde_json::Error> {
        let mut files = Vec::new();
        for info in self.catalogue() {
            files.push(GeneratedFile {
                path: format!("{SCHEMAS_DIR}/{}.json", info.event_type()),
                contents: pretty_value(&info.json_schema()),
            });
        }
        for info in self.catalogue() {
            files.push(GeneratedFile {
                path: format!("{GOLDEN_DIR}/{}.json", info.event_type()),
                contents: to_pretty_json(&info.example_event()?)?,
            });
        }
        files.push(GeneratedFile {
            path: ASYNCAPI_FILE.to_owned(),
            contents: pretty_value(&self.asyncapi()),
        });
        Ok(files)
    }

    /// The catalogue as a Markdown table: type, version, NATS subject, meaning.
    pub fn catalogue_markdown(&self) -> String {
        let mut table = String::from(
            "| event | version | NATS subject | what it means |\n| --- | --- | --- | --- |\n",
        );
        for info in self.catalogue() {
            let event_type = info.event_type();
            let status = if info.is_current() { "" } else { " (retired)" };
            table.push_str(&format!(
                "| `{}.{}` | v{}{status} | `{}` | {} |\n",
                event_type.aggregate(),
                event_type.event(),
                event_type.version(),
                info.nats_subject(),
                one_line(info.description()).replace('|', "\\|"),
            ));
        }
        table
    }
}
