//! Documentation generated from the parameter table: the README's parameter
//! table (`pgha doc markdown`). Like the metadata, it cannot disagree with
//! the parameters the agent really reads; a test checks that README.md holds
//! the current output.

use crate::ocf::metadata::normalize_spaces;
use crate::params::ParamSpec;

/// The Markdown table of parameters.
pub fn markdown_table(params: &[ParamSpec]) -> String {
    let mut out = String::from("| parameter | default | reloadable | description |\n|---|---|---|---|\n");
    for p in params {
        let default = match (p.required, p.default) {
            (true, _) => "(required)".to_string(),
            (false, Some("")) => "(empty)".to_string(),
            (false, Some(d)) => format!("`{d}`"),
            (false, None) => "(computed)".to_string(),
        };
        let reloadable = if p.reloadable { "yes" } else { "no" };
        let text = normalize_spaces(p.longdesc)
            .replace('|', "\\|")
            .replace('<', "&lt;");
        out.push_str(&format!("| `{}` | {default} | {reloadable} | {text} |\n", p.name));
    }
    out
}
