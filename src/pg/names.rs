//! How PostgreSQL names a standby: the node name as `application_name`
//! (what `pg_stat_replication` and `synchronous_standby_names` match), as a
//! quoted identifier of `synchronous_standby_names`, and the name of its
//! replication slot.

use crate::ocf::code::{OcfError, OcfResult};

/// Why node `name` cannot be a standby PostgreSQL knows by name, or Ok.
///
/// A standby is matched by its `application_name`, which PostgreSQL cuts at
/// 63 bytes (NAMEDATALEN - 1) and in which it replaces every byte that is
/// not printable ASCII with `?` (`pg_clean_ascii`): such a node would never
/// be found in `pg_stat_replication` nor in `synchronous_standby_names`. A
/// node named `*` would be the wildcard there, quoted or not.
pub fn check_node_name(name: &str) -> OcfResult<()> {
    // Escaped, then cut: the exit reason, with the resource name before
    // it, must stay under 128 bytes.
    let shown: String = name.escape_debug().take(24).collect();
    let why = if name.is_empty() {
        "is empty"
    } else if name.len() > 63 {
        "is over 63 bytes (application_name is cut there)"
    } else if !name.bytes().all(|b| (0x20..=0x7e).contains(&b)) {
        "is not printable ASCII (application_name rewrites it)"
    } else if name == "*" {
        "is the wildcard of synchronous_standby_names"
    } else {
        return Ok(());
    };
    Err(OcfError::configured(format!(
        "node name \"{shown}\" {why}: rename the node"
    )))
}

/// `name` as a double-quoted identifier of `synchronous_standby_names`
/// (`"` doubled, as its scanner reads it).
pub fn quote_standby_name(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

/// FNV-1a, 32 bits (the reference constants): a stable hash of a node
/// name that needs no dependency and never changes between releases.
pub fn fnv1a32(bytes: &[u8]) -> u32 {
    bytes.iter().fold(0x811c_9dc5_u32, |h, b| {
        (h ^ u32::from(*b)).wrapping_mul(0x0100_0193)
    })
}

/// The replication slot of `node`. Slot names allow lower-case letters,
/// digits and underscores, 63 bytes at most:
/// - a node name already made of those, and short enough, keeps
///   `pgha_<name>`;
/// - any other is folded (lower case, anything else `_`, cut to fit) and
///   gets `_` and the FNV-1a hash of the exact name in 8 hex digits, so that
///   `db-1`, `db_1` and `DB.1`, or two long names with a common prefix, get
///   different slots.
///
/// A collision is still possible in theory; the primary checks the cluster's
/// nodes for one (`crate::replication::slots`).
pub fn slot_name(node: &str) -> String {
    const PREFIX: &str = "pgha_";
    const MAX: usize = 63;
    let plain = !node.is_empty()
        && PREFIX.len() + node.len() <= MAX
        && node
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_');
    if plain {
        return format!("{PREFIX}{node}");
    }
    let mut folded: String = node
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_lowercase()
            } else {
                '_'
            }
        })
        .collect();
    folded.truncate(MAX - PREFIX.len() - 9); // only ASCII: bytes are chars
    format!("{PREFIX}{folded}_{:08x}", fnv1a32(node.as_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slot_names_keep_plain_names_and_tell_folded_ones_apart() {
        // FNV-1a reference values ("" and "a", from the specification).
        assert_eq!(fnv1a32(b""), 0x811c_9dc5);
        assert_eq!(fnv1a32(b"a"), 0xe40c_292c);
        let long_a = format!("{}.a", "n".repeat(70));
        let long_b = format!("{}.b", "n".repeat(70));
        let table: &[(&str, &str)] = &[
            ("node1", "pgha_node1"),
            ("db_1", "pgha_db_1"),
            ("db-1", "pgha_db_1_4476ec01"),
            ("DB.1", "pgha_db_1_871ccd92"),
            ("node-b", "pgha_node_b_05c3b726"),
            ("node\"1", "pgha_node_1_6ce92a24"),
        ];
        for (node, slot) in table {
            assert_eq!(slot_name(node), *slot, "{node}");
        }
        for node in [long_a.as_str(), long_b.as_str(), "db-1", "x"] {
            let slot = slot_name(node);
            assert!(slot.len() <= 63, "{slot}");
            assert!(
                slot.bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
            );
        }
        assert_ne!(slot_name(&long_a), slot_name(&long_b));
        assert_eq!(slot_name(&"a".repeat(58)), format!("pgha_{}", "a".repeat(58)));
        assert_ne!(slot_name(&"a".repeat(59)), format!("pgha_{}", "a".repeat(59)));
    }

    #[test]
    fn node_names_postgresql_would_rewrite_are_refused() {
        let table: &[(&str, bool)] = &[
            ("node-1", true),
            ("node\"1", true),
            ("it's a node", true),
            (r"back\slash", true),
            (&"a".repeat(63), true),
            (&"a".repeat(64), false),
            ("nœud", false),
            ("tab\there", false),
            ("", false),
            ("*", false),
        ];
        for (name, ok) in table {
            let result = check_node_name(name);
            assert_eq!(result.is_ok(), *ok, "{name:?}: {result:?}");
            if let Err(e) = result {
                assert_eq!(e.code, crate::ocf::code::OcfCode::ErrConfigured);
                assert!(
                    e.reason.len() < 128 && e.reason.contains("rename"),
                    "{}",
                    e.reason
                );
            }
        }
    }
}
