//! What both manual pages say in the same words: parameter defaults, the
//! return codes (from [`OcfCode::ALL`] and [`OcfCode::meaning`]) and the
//! installed files.

use super::roff::{entry, escape};
use crate::ocf::code::OcfCode;
use crate::params::ParamSpec;

/// A parameter's default as the pages state it: `default 5432`, `default
/// empty`, or `default computed` (the long description says how); None for
/// a required parameter, which has none.
pub fn default_phrase(p: &ParamSpec) -> Option<String> {
    match (p.required, p.default) {
        (true, _) => None,
        (false, Some("")) => Some("default empty".to_string()),
        (false, Some(d)) => Some(format!("default {d}")),
        (false, None) => Some("default computed".to_string()),
    }
}

/// Where Pacemaker finds the agent: the OCF link to /usr/sbin/pgha.
pub fn ocf_path(provider: &str, agent: &str) -> String {
    format!("/usr/lib/ocf/resource.d/{provider}/{agent}")
}

/// One entry per return code, with the meaning the code table gives it. A
/// primitive has no roles: without `promotable` the codes only a promotable
/// clone returns are left out.
pub fn return_code_entries(out: &mut String, promotable: bool) {
    for code in OcfCode::ALL {
        if !promotable && code.promotable_only() {
            continue;
        }
        entry(
            out,
            &format!("\\fB{}\\fR ({})", code.as_i32(), escape(code.name())),
            &escape(code.meaning()),
        );
    }
}

/// The FILES section: the binary, the OCF link to it, and what it keeps.
pub fn files(out: &mut String, provider: &str, agent: &str) {
    out.push_str(".SH \"FILES\"\n");
    entry(out, "/usr/sbin/pgha", "The agent.");
    entry(
        out,
        &escape(&ocf_path(provider, agent)),
        "Symbolic link to it, which Pacemaker runs.",
    );
    entry(
        out,
        "/run/pgha/",
        "The agent's memory of each resource (lost at reboot, like Pacemaker's transient attributes) and the lock that serializes its actions; root's alone.",
    );
    entry(
        out,
        "/var/lib/pgha/",
        "What it must remember across a reboot: a demoted primary not yet compared with the primary; root's alone.",
    );
}
