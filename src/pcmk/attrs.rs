//! Node attributes through `attrd_updater` and promotion scores through
//! `crm_attribute --promotion`.
//!
//! Private attributes (`--private`) live only in pacemaker-attrd and never
//! reach the CIB: they carry the election data between nodes. Public ones
//! (lifetime reboot) are what `crm_mon -A` shows. Callers name an
//! attribute by its [`Attr`], which alone knows its spelling and its
//! visibility.

use std::collections::BTreeMap;
use std::time::Duration;

use crate::deadline::Deadline;
use crate::exec;
use crate::ocf::code::{OcfError, OcfResult};
use crate::vocab::{Attr, Visibility};

/// Per-call bound of a Pacemaker tool, within the action's deadline.
const TOOL_TIMEOUT: Duration = Duration::from_secs(10);

/// Runs Pacemaker tool `program` within its bound; its stdout, or an error
/// naming the call and the tool's last message.
pub(crate) fn run(program: &str, args: &[&str], deadline: Deadline) -> OcfResult<String> {
    let out = exec::run(program, args, None, deadline.within(TOOL_TIMEOUT))?;
    if !out.success() {
        return Err(OcfError::generic(format!(
            "{program} {} failed: {}",
            args.join(" "),
            out.last_message()
        )));
    }
    Ok(out.stdout)
}

/// The node argument of `crm_attribute` and `attrd_updater`, in the one
/// form that cannot be read as an option: a node name comes from other
/// nodes (and once came from any replication client's application_name),
/// and `-N -D` would have been an option. Values go the same way
/// (`--update=-1000`).
fn node_arg(node: &str) -> String {
    format!("--node={node}")
}

/// Sets (or, with `None`, deletes) attribute `attr` of resource `rsc` on
/// `node` (None: here), with the attribute's own [`Visibility`].
pub fn set(
    rsc: &str,
    attr: Attr,
    value: Option<&str>,
    node: Option<&str>,
    deadline: Deadline,
) -> OcfResult<()> {
    let mut args = vec![format!("--name={}", attr.name(rsc))];
    match value {
        Some(v) => args.push(format!("--update={v}")),
        None => args.push("--delete".into()),
    }
    if let Some(node) = node {
        args.push(node_arg(node));
    }
    if attr.visibility() == Visibility::Private {
        args.push("--private".into());
    }
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    run("attrd_updater", &args, deadline).map(|_| ())
}

/// The value of attribute `attr` of resource `rsc` on every node that has
/// one.
///
/// An attribute no node has yet is an empty answer, not an error:
/// attrd_updater says "attribute does not exist" and exits 78 for it.
pub fn query_all(rsc: &str, attr: Attr, deadline: Deadline) -> OcfResult<BTreeMap<String, String>> {
    let name = attr.name(rsc);
    // Under Pacemaker, attrd_updater takes CRM_meta_on_node for -N, and "-A"
    // then answers for this node only (seen in the lab: promote found no
    // other node's election position). The query must not see it.
    let out = exec::run_without_env(
        "attrd_updater",
        &["--query", "--all", &format!("--name={name}")],
        None,
        deadline.within(TOOL_TIMEOUT),
        &["OCF_RESKEY_CRM_meta_on_node", "OCF_RESKEY_CRM_meta_on_node_uuid"],
    )?;
    if out.success() {
        return Ok(parse_query_all(&out.stdout));
    }
    if out.last_message().contains("does not exist") {
        return Ok(BTreeMap::new());
    }
    Err(OcfError::generic(format!(
        "attrd_updater --query --all --name={name} failed: {}",
        out.last_message()
    )))
}

/// Parses `name="x" host="node1" value="5"` lines.
pub fn parse_query_all(text: &str) -> BTreeMap<String, String> {
    text.lines()
        .filter_map(|line| {
            let host = quoted_field(line, "host=")?;
            let value = quoted_field(line, "value=")?;
            (!value.is_empty()).then(|| (host.to_string(), value.to_string()))
        })
        .collect()
}

fn quoted_field<'a>(line: &'a str, key: &str) -> Option<&'a str> {
    let start = line.find(key)? + key.len();
    let rest = line[start..].strip_prefix('"')?;
    rest.find('"').map(|end| &rest[..end])
}

/// Sets the promotion score of `rsc` on `node` (None: here), lifetime reboot.
pub fn set_promotion_score(rsc: &str, node: Option<&str>, score: i64, deadline: Deadline) -> OcfResult<()> {
    let promotion = format!("--promotion={rsc}");
    let value = format!("--update={score}");
    let node = node.map(node_arg);
    let mut args = vec![promotion.as_str(), "--lifetime=reboot", value.as_str()];
    args.extend(node.as_deref());
    run("crm_attribute", &args, deadline).map(|_| ())
}

/// Deletes the promotion score of `rsc` on `node`: with no score an
/// instance is not promotable, and a standby with no primary may later
/// give itself the bootstrap score (a negative one would bar that).
pub fn delete_promotion_score(rsc: &str, node: &str, deadline: Deadline) -> OcfResult<()> {
    let promotion = format!("--promotion={rsc}");
    let node = node_arg(node);
    let args = [promotion.as_str(), "--lifetime=reboot", "--delete", node.as_str()];
    run("crm_attribute", &args, deadline).map(|_| ())
}

/// Every node's promotion score for `rsc`, in one query of pacemaker-attrd.
pub fn promotion_scores(rsc: &str, deadline: Deadline) -> OcfResult<BTreeMap<String, i64>> {
    Ok(query_all(rsc, Attr::Promotion, deadline)?
        .into_iter()
        .filter_map(|(node, v)| Some((node, parse_score(&v)?)))
        .collect())
}

/// Pacemaker scores: integers, or +/-INFINITY (1,000,000).
pub fn parse_score(v: &str) -> Option<i64> {
    match v.trim() {
        "INFINITY" | "+INFINITY" => Some(1_000_000),
        "-INFINITY" => Some(-1_000_000),
        n => n.parse().ok(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn node_names_cannot_be_read_as_options() {
        assert_eq!(node_arg("-D"), "--node=-D");
        assert_eq!(node_arg("node a"), "--node=node a");
    }

    #[test]
    fn parses_attrd_updater_query_all() {
        let text = "name=\"master-pgsqld\" host=\"node1\" value=\"1001\"\n\
                    name=\"master-pgsqld\" host=\"node2\" value=\"\"\n\
                    name=\"master-pgsqld\" host=\"node3\" value=\"-1000\"\n";
        let all = parse_query_all(text);
        assert_eq!(all.len(), 2);
        assert_eq!(all["node1"], "1001");
        assert_eq!(parse_score(&all["node3"]), Some(-1000));
        assert_eq!(parse_score("-INFINITY"), Some(-1_000_000));
    }

    #[test]
    fn scores_round_trip_as_crm_attribute_is_given_them() {
        // The agent's scores (primary, standby, behind, bootstrap, catch-up,
        // lagging, disconnected) as `--update=<score>` writes them.
        for score in [1001, 1000, 900, 500, 2, 1, 0, -1, -10, -1000] {
            assert_eq!(parse_score(&score.to_string()), Some(score), "{score}");
        }
        assert_eq!(parse_score("+INFINITY"), Some(1_000_000));
        assert_eq!(parse_score(" 5 "), Some(5));
        assert_eq!(parse_score(""), None);
        assert_eq!(parse_score("high"), None);
    }
}
