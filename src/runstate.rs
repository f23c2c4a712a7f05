//! What the agent remembers between two calls on this node.
//!
//! The monitor runs every few seconds for years, and a Pacemaker tool costs
//! a process and a round trip to pacemaker-attrd. So the agent writes an
//! attribute or a score only when its value changes, and remembers what it
//! last wrote in `/run/pgha/<resource>.state`. /run is a tmpfs: the memory is
//! lost at reboot exactly when Pacemaker's transient attributes (lifetime
//! `reboot`) are, so the two cannot disagree for long; entries also expire
//! so that anything lost elsewhere is written again.
//!
//! `/run/pgha` is root's alone (mode 0700, checked before every write): the
//! system user cannot plant anything there. File names come only from a
//! resource name that [`is_resource_id`] accepted, so no `OCF_RESOURCE_INSTANCE`
//! can make root write outside it; with no valid name the memory lives in
//! the process only and is never written.

use std::collections::BTreeMap;
use std::fs;
use std::io::Write;
use std::os::unix::fs::{DirBuilderExt, MetadataExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

use crate::ocf::env::is_resource_id;

const DIR: &str = "/run/pgha";

/// `/run/pgha/<rsc>.<ext>`, or None when `rsc` is not a resource id.
pub fn agent_file(rsc: &str, ext: &str) -> Option<PathBuf> {
    is_resource_id(rsc).then(|| PathBuf::from(DIR).join(format!("{rsc}.{ext}")))
}

/// Makes sure `dir` is a directory of root's (or of the user running the
/// tests) with no access for anyone else, creating it if missing. A symlink,
/// or a directory others can write, is refused: it was not made by us.
fn private_dir(dir: &Path) -> std::io::Result<()> {
    match fs::symlink_metadata(dir) {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            fs::DirBuilder::new().recursive(true).mode(0o700).create(dir)?;
        }
        Err(e) => return Err(e),
        Ok(_) => {}
    }
    let meta = fs::symlink_metadata(dir)?;
    let ours = meta.uid() == nix::unistd::Uid::effective().as_raw();
    if !meta.is_dir() || !ours || meta.permissions().mode() & 0o077 != 0 {
        return Err(std::io::Error::other(format!(
            "{} is not a private directory of this user",
            dir.display()
        )));
    }
    Ok(())
}

/// Writes `text` to `path` (in the agent's private directory) atomically:
/// a temporary file of mode 0600, then rename.
pub fn write_private(path: &Path, text: &str) -> std::io::Result<()> {
    if let Some(dir) = path.parent() {
        private_dir(dir)?;
    }
    let tmp = path.with_extension(format!("tmp{}", std::process::id()));
    let written = fs::OpenOptions::new()
        .create(true)
        .write(true)
        .truncate(true)
        .mode(0o600)
        .custom_flags(nix::libc::O_NOFOLLOW)
        .open(&tmp)
        .and_then(|mut f| f.write_all(text.as_bytes()))
        .and_then(|()| fs::rename(&tmp, path));
    if written.is_err() {
        let _ = fs::remove_file(&tmp);
    }
    written
}

/// Seconds since the epoch.
pub fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

/// `key value written-at` lines.
pub struct RunState {
    /// None: no valid resource name, kept in memory only.
    path: Option<PathBuf>,
    entries: BTreeMap<String, (String, u64)>,
    dirty: bool,
}

impl RunState {
    /// Loads the state of resource `rsc` (empty if there is none yet).
    pub fn load(rsc: &str) -> RunState {
        match agent_file(rsc, "state") {
            Some(path) => Self::load_from(path),
            None => RunState {
                path: None,
                entries: BTreeMap::new(),
                dirty: false,
            },
        }
    }

    pub fn load_from(path: PathBuf) -> RunState {
        let entries = fs::read_to_string(&path)
            .unwrap_or_default()
            .lines()
            .filter_map(|line| {
                let (key, rest) = line.split_once('\t')?;
                let (value, at) = rest.rsplit_once('\t')?;
                Some((key.to_string(), (value.to_string(), at.parse().ok()?)))
            })
            .collect();
        RunState {
            path: Some(path),
            entries,
            dirty: false,
        }
    }

    pub fn get(&self, key: &str) -> Option<&str> {
        self.entries.get(key).map(|(v, _)| v.as_str())
    }

    /// Seconds since `key` was last set.
    pub fn age(&self, key: &str) -> Option<u64> {
        self.entries.get(key).map(|(_, at)| now().saturating_sub(*at))
    }

    /// True when `key` holds `value` and was set less than `max_age_s` ago.
    pub fn is_fresh(&self, key: &str, value: &str, max_age_s: u64) -> bool {
        self.get(key) == Some(value) && self.age(key).is_some_and(|a| a < max_age_s)
    }

    /// Sets `key` only when its value differs (keeps the file untouched).
    pub fn set_if_changed(&mut self, key: &str, value: &str) {
        if self.get(key) != Some(value) {
            self.set(key, value);
        }
    }

    /// Removes `key` (nothing happens when it is absent).
    pub fn remove(&mut self, key: &str) {
        self.dirty |= self.entries.remove(key).is_some();
    }

    pub fn set(&mut self, key: &str, value: &str) {
        self.entries.insert(key.to_string(), (value.to_string(), now()));
        self.dirty = true;
    }

    /// Keys starting with `prefix`, without it.
    pub fn keys_with_prefix<'a>(&'a self, prefix: &'a str) -> impl Iterator<Item = &'a str> + 'a {
        self.entries.keys().filter_map(move |k| k.strip_prefix(prefix))
    }

    /// Forgets everything but the keys starting with one of `keep`: what a
    /// change of role makes stale is the role's bookkeeping, not what the
    /// node learnt of the cluster (its members).
    pub fn clear_except(&mut self, keep: &[&str]) {
        let before = self.entries.len();
        self.entries
            .retain(|key, _| keep.iter().any(|prefix| key.starts_with(prefix)));
        self.dirty |= self.entries.len() != before;
    }

    /// Writes the state back if anything changed (atomically: temp + rename).
    pub fn save(&mut self) {
        let Some(path) = self.path.as_deref().filter(|_| self.dirty) else {
            return;
        };
        let mut text = String::new();
        for (k, (v, at)) in &self.entries {
            text.push_str(&format!("{k}\t{}\t{at}\n", v.replace(['\t', '\n'], " ")));
        }
        match write_private(path, &text) {
            Ok(()) => self.dirty = false,
            Err(e) => crate::log_warn!("cannot write {}: {e}", path.display()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_and_tracks_freshness() {
        let dir = std::env::temp_dir().join(format!("pgha-runstate-{}", std::process::id()));
        fs::create_dir_all(&dir).unwrap();
        fs::set_permissions(&dir, fs::Permissions::from_mode(0o700)).unwrap();
        let path = dir.join("r.state");
        let mut s = RunState::load_from(path.clone());
        assert_eq!(s.get("a"), None);
        s.set("a", "1");
        s.set("score.node-2", "1000");
        s.save();
        let s = RunState::load_from(path);
        assert!(s.is_fresh("a", "1", 60));
        assert!(!s.is_fresh("a", "2", 60));
        assert_eq!(s.keys_with_prefix("score.").collect::<Vec<_>>(), vec!["node-2"]);
        let _ = fs::remove_dir_all(dir);
    }

    #[test]
    fn a_role_change_keeps_what_the_node_knows_of_the_cluster() {
        let mut s = RunState::load("../not-saved");
        s.set("members.crm_node", "n1 n2");
        s.set("score.n2", "1000");
        s.clear_except(&["members."]);
        assert_eq!(s.get("members.crm_node"), Some("n1 n2"));
        assert_eq!(s.get("score.n2"), None);
    }

    #[test]
    fn no_file_is_named_after_an_invalid_resource() {
        assert_eq!(agent_file("../../tmp/x", "state"), None);
        assert_eq!(agent_file("/etc/x", "state"), None);
        assert_eq!(
            agent_file("pgsqld", "state"),
            Some(PathBuf::from("/run/pgha/pgsqld.state"))
        );
        let mut s = RunState::load("../../tmp/pgha-escape");
        s.set("a", "1");
        s.save();
        assert!(!Path::new("/tmp/pgha-escape.state").exists());
    }
}
