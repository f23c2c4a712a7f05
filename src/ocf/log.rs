//! Logging the way the cluster expects it (resource-agents `ocf-shellfuncs`).
//!
//! Messages are tagged `pgha(<resource>)[<pid>]`. They go to stderr when it is
//! a terminal (an operator running the agent by hand), to syslog at
//! `HA_LOGFACILITY` unless that is empty or `none`, and are appended to
//! `HA_LOGFILE` and `HA_DEBUGLOG` when set. Debug messages appear only when
//! `HA_debug` is set and not `0`. Nothing is written on the quiet path of a
//! successful monitor, which runs every few seconds for years.

use std::ffi::CString;
use std::fmt;
use std::fs::OpenOptions;
use std::io::{IsTerminal, Write};
use std::os::fd::FromRawFd;
use std::os::unix::fs::OpenOptionsExt;
use std::sync::OnceLock;

use nix::libc;

use super::env::OcfEnv;

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Level {
    Debug,
    Info,
    Warn,
    Error,
}

impl Level {
    fn label(self) -> &'static str {
        match self {
            Level::Debug => "DEBUG",
            Level::Info => "INFO",
            Level::Warn => "WARNING",
            Level::Error => "ERROR",
        }
    }

    fn syslog_priority(self) -> libc::c_int {
        match self {
            Level::Debug => libc::LOG_DEBUG,
            Level::Info => libc::LOG_INFO,
            Level::Warn => libc::LOG_WARNING,
            Level::Error => libc::LOG_ERR,
        }
    }
}

struct Logger {
    tag: String,
    /// Kept alive for the whole process: openlog() keeps the pointer.
    syslog_ident: Option<CString>,
    to_stderr: bool,
    log_file: Option<String>,
    debug_log: Option<String>,
    debug: bool,
}

static LOGGER: OnceLock<Logger> = OnceLock::new();

/// Sets the logger up from the environment; later calls are ignored.
pub fn init(env: &OcfEnv) {
    let tag = format!(
        "pgha({})[{}]",
        env.resource_name().unwrap_or("-"),
        std::process::id()
    );
    let facility = env
        .log_facility
        .as_deref()
        .map(str::trim)
        .filter(|f| !f.is_empty() && *f != "none")
        .and_then(facility_code);
    let syslog_ident = facility.and_then(|fac| {
        let ident = CString::new(tag.clone()).ok()?;
        // SAFETY: ident lives in the static logger for the rest of the process.
        unsafe { libc::openlog(ident.as_ptr(), libc::LOG_NDELAY, fac) };
        Some(ident)
    });
    let non_empty = |v: &Option<String>| v.clone().filter(|s| !s.trim().is_empty());
    let logger = Logger {
        tag,
        syslog_ident,
        to_stderr: std::io::stderr().is_terminal(),
        log_file: non_empty(&env.log_file),
        debug_log: non_empty(&env.debug_log),
        debug: env
            .debug
            .as_deref()
            .is_some_and(|d| d.trim() != "0" && !d.trim().is_empty()),
    };
    let _ = LOGGER.set(logger);
}

/// Whether debug messages would be written (lets callers skip formatting).
pub fn debug_enabled() -> bool {
    LOGGER.get().is_some_and(|l| l.debug)
}

/// Writes one message at `level` to every configured destination.
pub fn write(level: Level, args: fmt::Arguments<'_>) {
    let Some(logger) = LOGGER.get() else { return };
    if level == Level::Debug && !logger.debug {
        return;
    }
    let message = args.to_string();
    if logger.to_stderr {
        let _ = writeln!(std::io::stderr(), "{} {}: {}", logger.tag, level.label(), message);
    }
    if logger.syslog_ident.is_some() {
        if let Ok(text) = CString::new(format!("{}: {}", level.label(), message)) {
            // SAFETY: "%s" with one valid C string argument.
            unsafe { libc::syslog(level.syslog_priority(), c"%s".as_ptr(), text.as_ptr()) };
        }
    }
    let line = format!(
        "{}:\t{} {}: {}\n",
        logger.tag,
        timestamp(),
        level.label(),
        message
    );
    if let Some(file) = logger.log_file.as_ref().filter(|_| level > Level::Debug) {
        append(file, &line);
    }
    if let Some(file) = logger
        .debug_log
        .as_ref()
        .filter(|f| Some(*f) != logger.log_file.as_ref())
    {
        append(file, &line);
    }
}

/// Appends `line` to the log file at `path`, or to nothing: logging never
/// fails an action.
///
/// Root opens it, at a path from the environment that may lie in a
/// directory others can write to: a symlink there is not followed
/// (`O_NOFOLLOW`), a FIFO cannot hang the action (`O_NONBLOCK`: open fails
/// with no reader), and only a regular file is written to, checked on the
/// open descriptor (issue 23). `/dev/stderr` and `/dev/stdout`, which
/// resource-agents' tools and the tests use, name the agent's own
/// descriptors: those are written to as they are, without opening a path.
fn append(path: &str, line: &str) {
    let own = match path {
        "/dev/stderr" => Some(libc::STDERR_FILENO),
        "/dev/stdout" => Some(libc::STDOUT_FILENO),
        _ => None,
    };
    if let Some(fd) = own {
        // SAFETY: fd 1 or 2, borrowed for this write only (not closed).
        let mut file = std::mem::ManuallyDrop::new(unsafe { std::fs::File::from_raw_fd(fd) });
        let _ = file.write_all(line.as_bytes());
        return;
    }
    let opened = OpenOptions::new()
        .create(true)
        .append(true)
        .custom_flags(libc::O_NOFOLLOW | libc::O_NONBLOCK | libc::O_CLOEXEC)
        .open(path);
    let Ok(mut file) = opened else { return };
    if file.metadata().is_ok_and(|m| m.file_type().is_file()) {
        let _ = file.write_all(line.as_bytes());
    }
}

/// Local time as `YYYY/MM/DD_HH:MM:SS`, the format of `ocf-shellfuncs`.
fn timestamp() -> String {
    // SAFETY: localtime_r fills the zeroed tm we own; strftime writes at most
    // buf.len() bytes and returns how many it wrote.
    unsafe {
        let now = libc::time(std::ptr::null_mut());
        let mut tm: libc::tm = std::mem::zeroed();
        if libc::localtime_r(&now, &mut tm).is_null() {
            return String::new();
        }
        let mut buf = [0u8; 32];
        let n = libc::strftime(
            buf.as_mut_ptr().cast(),
            buf.len(),
            c"%Y/%m/%d_%H:%M:%S".as_ptr(),
            &tm,
        );
        String::from_utf8_lossy(&buf[..n]).into_owned()
    }
}

/// Maps a syslog facility name (`daemon`, `local0`, ...) to its code.
fn facility_code(name: &str) -> Option<libc::c_int> {
    Some(match name.to_ascii_lowercase().trim_start_matches("log_") {
        "daemon" => libc::LOG_DAEMON,
        "user" => libc::LOG_USER,
        "auth" => libc::LOG_AUTH,
        "authpriv" => libc::LOG_AUTHPRIV,
        "local0" => libc::LOG_LOCAL0,
        "local1" => libc::LOG_LOCAL1,
        "local2" => libc::LOG_LOCAL2,
        "local3" => libc::LOG_LOCAL3,
        "local4" => libc::LOG_LOCAL4,
        "local5" => libc::LOG_LOCAL5,
        "local6" => libc::LOG_LOCAL6,
        "local7" => libc::LOG_LOCAL7,
        _ => return None,
    })
}

#[macro_export]
macro_rules! log_debug {
    ($($arg:tt)*) => {
        if $crate::ocf::log::debug_enabled() {
            $crate::ocf::log::write($crate::ocf::log::Level::Debug, format_args!($($arg)*))
        }
    };
}

#[macro_export]
macro_rules! log_info {
    ($($arg:tt)*) => { $crate::ocf::log::write($crate::ocf::log::Level::Info, format_args!($($arg)*)) };
}

#[macro_export]
macro_rules! log_warn {
    ($($arg:tt)*) => { $crate::ocf::log::write($crate::ocf::log::Level::Warn, format_args!($($arg)*)) };
}

#[macro_export]
macro_rules! log_error {
    ($($arg:tt)*) => { $crate::ocf::log::write($crate::ocf::log::Level::Error, format_args!($($arg)*)) };
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn facility_names_are_case_insensitive() {
        assert_eq!(facility_code("DAEMON"), Some(libc::LOG_DAEMON));
        assert_eq!(facility_code("local7"), Some(libc::LOG_LOCAL7));
        assert_eq!(facility_code("bogus"), None);
    }

    /// Appends on a thread: a sink that blocks fails the test instead of
    /// hanging it.
    fn append_within_a_second(path: &std::path::Path) -> bool {
        let path = path.to_str().unwrap().to_string();
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            append(&path, "line\n");
            let _ = tx.send(());
        });
        rx.recv_timeout(std::time::Duration::from_secs(1)).is_ok()
    }

    #[test]
    fn a_log_file_is_appended_to_only_if_it_is_a_regular_file() {
        let dir = std::env::temp_dir().join(format!("pgha-log-sinks-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir(&dir).unwrap();
        let file = dir.join("agent.log");
        assert!(append_within_a_second(&file));
        assert!(append_within_a_second(&file));
        assert_eq!(std::fs::read_to_string(&file).unwrap(), "line\nline\n");
        // Root must not write through a link someone planted (issue 23).
        let target = dir.join("target");
        std::fs::write(&target, "").unwrap();
        let link = dir.join("link.log");
        std::os::unix::fs::symlink(&target, &link).unwrap();
        assert!(append_within_a_second(&link));
        assert_eq!(
            std::fs::read_to_string(&target).unwrap(),
            "",
            "the symlink was followed"
        );
        // Nor hang on a FIFO nobody reads (open for writing blocks).
        let fifo = dir.join("fifo.log");
        nix::unistd::mkfifo(&fifo, nix::sys::stat::Mode::from_bits_truncate(0o600)).unwrap();
        assert!(append_within_a_second(&fifo), "logging blocked on a FIFO");
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn timestamp_has_the_ocf_shape() {
        let t = timestamp();
        assert_eq!(t.len(), 19, "{t}");
        assert_eq!(&t[10..11], "_");
    }
}
