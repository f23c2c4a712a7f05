//! What the agent remembers between two calls on this node.
//!
//! The monitor runs every few seconds for years, and a Pacemaker tool costs
//! a process and a round trip to pacemaker-attrd. So the agent writes an
//! attribute or a score only when its value changes, and remembers what it
//! last wrote in `/run/pgha/<resource>.state`. /run is a tmpfs: the memory is
//! lost at reboot exactly when Pacemaker's transient attributes (lifetime
//! `reboot`) are, so the two cannot disagree for long; entries also expire
//! so that anything lost elsewhere is written again.

use std::collections::BTreeMap;
use std::fs;
use std::io::Write;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::PathBuf;
use std::time::{SystemTime, UNIX_EPOCH};

const DIR: &str = "/run/pgha";

/// Seconds since the epoch.
pub fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

/// `key value written-at` lines.
pub struct RunState {
    path: PathBuf,
    entries: BTreeMap<String, (String, u64)>,
    dirty: bool,
}

impl RunState {
    /// Loads the state of resource `rsc` (empty if there is none yet).
    pub fn load(rsc: &str) -> RunState {
        Self::load_from(PathBuf::from(DIR).join(format!("{rsc}.state")))
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
            path,
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

    pub fn set(&mut self, key: &str, value: &str) {
        self.entries.insert(key.to_string(), (value.to_string(), now()));
        self.dirty = true;
    }

    /// Keys starting with `prefix`, without it.
    pub fn keys_with_prefix<'a>(&'a self, prefix: &'a str) -> impl Iterator<Item = &'a str> + 'a {
        self.entries.keys().filter_map(move |k| k.strip_prefix(prefix))
    }

    pub fn clear(&mut self) {
        self.dirty |= !self.entries.is_empty();
        self.entries.clear();
    }

    /// Writes the state back if anything changed (atomically: temp + rename).
    pub fn save(&mut self) {
        if !self.dirty {
            return;
        }
        if let Some(dir) = self.path.parent() {
            let _ = fs::DirBuilder::new().recursive(true).mode(0o700).create(dir);
        }
        let mut text = String::new();
        for (k, (v, at)) in &self.entries {
            text.push_str(&format!("{k}\t{}\t{at}\n", v.replace(['\t', '\n'], " ")));
        }
        let tmp = self.path.with_extension(format!("tmp{}", std::process::id()));
        let written = fs::OpenOptions::new()
            .create(true)
            .write(true)
            .truncate(true)
            .mode(0o600)
            .open(&tmp)
            .and_then(|mut f| f.write_all(text.as_bytes()));
        if written.is_ok() && fs::rename(&tmp, &self.path).is_ok() {
            self.dirty = false;
        } else {
            let _ = fs::remove_file(&tmp);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_and_tracks_freshness() {
        let dir = std::env::temp_dir().join(format!("pgha-runstate-{}", std::process::id()));
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
}
