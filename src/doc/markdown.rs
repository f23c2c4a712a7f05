//! The two generated tables of docs/reference.md: parameters (`pgha doc
//! markdown`, from [`crate::params::PARAMS`]) and return codes (`pgha doc
//! codes`, from [`OcfCode::meaning`]). The integration tests check that
//! docs/reference.md holds the current output of both.

use crate::ocf::code::OcfCode;
use crate::ocf::metadata::normalize_spaces;
use crate::params::ParamSpec;

/// The Markdown table of parameters.
pub fn parameter_table(params: &[ParamSpec]) -> String {
    let mut out = String::from("| parameter | default | reloadable | description |\n|---|---|---|---|\n");
    for p in params {
        let mut default = match (p.required, p.default) {
            (true, _) => "(required)".to_string(),
            (false, Some("")) => "(empty)".to_string(),
            (false, Some(d)) => format!("`{d}`"),
            (false, None) => "(computed)".to_string(),
        };
        if let [_, ..] = p.kind.options() {
            let values: Vec<String> = p.kind.options().iter().map(|v| format!("`{v}`")).collect();
            default.push_str(&format!(" (one of {})", values.join(", ")));
        }
        let reloadable = if p.reloadable { "yes" } else { "no" };
        let text = normalize_spaces(p.longdesc)
            .replace('|', "\\|")
            .replace('<', "&lt;");
        out.push_str(&format!("| `{}` | {default} | {reloadable} | {text} |\n", p.name));
    }
    out
}

/// The Markdown table of return codes.
pub fn return_code_table() -> String {
    let mut out = String::from("| code | name | meaning |\n|---|---|---|\n");
    for code in OcfCode::ALL {
        out.push_str(&format!(
            "| {} | `{}` | {} |\n",
            code.as_i32(),
            code.name(),
            code.meaning().replace('|', "\\|").replace('<', "&lt;")
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn return_code_table_lists_every_code() {
        let table = return_code_table();
        for code in OcfCode::ALL {
            assert!(
                table.contains(&format!("| {} | `{}` |", code.as_i32(), code.name())),
                "{table}"
            );
        }
        assert_eq!(table.lines().count(), OcfCode::ALL.len() + 2);
    }

    #[test]
    fn a_select_lists_its_values_after_its_default() {
        let table = parameter_table(crate::params::PARAMS);
        assert!(
            table.contains("| `replication_mode` | `async` (one of `async`, `sync`, `strict-sync`) | yes |"),
            "{table}"
        );
        assert!(
            table.contains("| `bootstrap` | `none` (one of `none`, `basebackup`) | yes |"),
            "{table}"
        );
    }
}
