//! libpq keyword/value connection strings (`primary_conninfo`), read the
//! way libpq's `conninfo_parse` reads them, so that the agent can check and
//! extend one without guessing by substring.
//!
//! Rules (libpq `fe-connect.c`, `conninfo_parse`): pairs `keyword = value`
//! separated by whitespace, spaces allowed around `=`; a value is either a
//! run of non-white characters or a single-quoted string; in both a
//! backslash takes the next character literally (`\'`, `\\`). A keyword
//! without `=` or an unterminated quote is an error. A URI
//! (`postgresql://`, `postgres://`) is refused: the agent appends
//! `application_name=<node>` and `connect_timeout=`, which only the
//! keyword/value form allows.
//!
//! Keywords are not checked against a list: libpq adds keywords in new
//! releases and reports an unknown one itself.

use std::fmt;

/// Why a string is not a keyword/value connection string.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ConninfoError {
    /// `postgresql://...` or `postgres://...`.
    Uri,
    /// A keyword with no `=` after it.
    MissingEquals(String),
    /// `=` with no keyword before it.
    MissingKeyword,
    /// A single quote that is never closed.
    UnterminatedQuote,
}

impl fmt::Display for ConninfoError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ConninfoError::Uri => write!(f, "a URI; use keyword=value pairs (host=... user=...)"),
            ConninfoError::MissingEquals(k) => write!(f, "missing \"=\" after \"{k}\""),
            ConninfoError::MissingKeyword => write!(f, "\"=\" without a keyword"),
            ConninfoError::UnterminatedQuote => write!(f, "unterminated quoted string"),
        }
    }
}

impl std::error::Error for ConninfoError {}

/// A parsed connection string: its pairs in order (libpq keeps the last
/// value of a repeated keyword).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Conninfo {
    pub pairs: Vec<(String, String)>,
}

impl Conninfo {
    /// The value libpq uses for `keyword` (the last one given).
    pub fn get(&self, keyword: &str) -> Option<&str> {
        self.pairs
            .iter()
            .rev()
            .find(|(k, _)| k == keyword)
            .map(|(_, v)| v.as_str())
    }

    pub fn has(&self, keyword: &str) -> bool {
        self.get(keyword).is_some()
    }
}

/// True for the prefixes libpq takes as a URI.
pub fn is_uri(s: &str) -> bool {
    let s = s.trim_start();
    s.starts_with("postgresql://") || s.starts_with("postgres://")
}

/// C's `isspace` in the C locale, which libpq uses.
fn is_space(c: char) -> bool {
    matches!(c, ' ' | '\t' | '\n' | '\x0b' | '\x0c' | '\r')
}

/// Parses a keyword/value connection string.
pub fn parse(s: &str) -> Result<Conninfo, ConninfoError> {
    if is_uri(s) {
        return Err(ConninfoError::Uri);
    }
    let mut pairs = Vec::new();
    let mut chars = s.chars().peekable();
    let skip_white = |chars: &mut std::iter::Peekable<std::str::Chars>| {
        while chars.peek().is_some_and(|c| is_space(*c)) {
            chars.next();
        }
    };
    loop {
        skip_white(&mut chars);
        if chars.peek().is_none() {
            break;
        }
        // The keyword: up to '=' or whitespace.
        let mut keyword = String::new();
        while let Some(&c) = chars.peek() {
            if c == '=' || is_space(c) {
                break;
            }
            keyword.push(c);
            chars.next();
        }
        skip_white(&mut chars);
        if chars.next() != Some('=') {
            return Err(ConninfoError::MissingEquals(keyword));
        }
        if keyword.is_empty() {
            return Err(ConninfoError::MissingKeyword);
        }
        skip_white(&mut chars);
        let mut value = String::new();
        if chars.peek() == Some(&'\'') {
            chars.next();
            loop {
                match chars.next() {
                    None => return Err(ConninfoError::UnterminatedQuote),
                    Some('\'') => break,
                    Some('\\') => match chars.next() {
                        Some(c) => value.push(c),
                        None => return Err(ConninfoError::UnterminatedQuote),
                    },
                    Some(c) => value.push(c),
                }
            }
        } else {
            while let Some(&c) = chars.peek() {
                if is_space(c) {
                    break;
                }
                chars.next();
                if c == '\\' {
                    // libpq: a backslash takes the next character as is
                    // (a trailing one is dropped).
                    if let Some(n) = chars.next() {
                        value.push(n);
                    }
                } else {
                    value.push(c);
                }
            }
        }
        pairs.push((keyword, value));
    }
    Ok(Conninfo { pairs })
}

/// ` keyword=value` for each of `defaults` that `conninfo` does not set, to
/// append to it. A string that does not parse (refused earlier by
/// `Config::parse`) gets them all: libpq keeps the last value of a keyword.
pub fn missing_defaults(conninfo: &str, defaults: &[(&str, &str)]) -> String {
    let parsed = parse(conninfo).ok();
    defaults
        .iter()
        .filter(|(keyword, _)| !parsed.as_ref().is_some_and(|c| c.has(keyword)))
        .map(|(keyword, value)| format!(" {keyword}={value}"))
        .collect()
}

/// A value as a conninfo token: as is when it needs no quoting, else
/// single-quoted with `\` and `'` escaped.
pub fn quote_value(v: &str) -> String {
    if !v.is_empty() && v.chars().all(|c| c.is_ascii_alphanumeric() || "._-/".contains(c)) {
        v.to_string()
    } else {
        format!("'{}'", v.replace('\\', "\\\\").replace('\'', "\\'"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pairs(s: &str) -> Vec<(String, String)> {
        parse(s).unwrap().pairs
    }

    #[test]
    fn parses_like_libpq() {
        let table: &[(&str, &[(&str, &str)])] = &[
            ("", &[]),
            ("   ", &[]),
            ("host=a", &[("host", "a")]),
            (
                "host = a  port= 5432\tuser =u",
                &[("host", "a"), ("port", "5432"), ("user", "u")],
            ),
            ("host='a b' user=''", &[("host", "a b"), ("user", "")]),
            (
                r"application_name='it\'s' x='a\\b'",
                &[("application_name", "it's"), ("x", r"a\b")],
            ),
            (r"x=a\ b", &[("x", "a b")]),
            ("host=", &[("host", "")]),
            // libpq skips white space after '=' and takes the next word.
            ("host= port=5", &[("host", "port=5")]),
            ("x='a'b=c", &[("x", "a"), ("b", "c")]),
            ("host=a host=b", &[("host", "a"), ("host", "b")]),
            ("password=s3cr=t", &[("password", "s3cr=t")]),
        ];
        for (input, expected) in table {
            let expected: Vec<(String, String)> = expected
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect();
            assert_eq!(pairs(input), expected, "{input:?}");
        }
        assert_eq!(parse("host=a host=b").unwrap().get("host"), Some("b"));
    }

    #[test]
    fn refuses_what_libpq_cannot_parse_and_uris() {
        let table: &[(&str, ConninfoError)] = &[
            ("host", ConninfoError::MissingEquals("host".into())),
            ("host=a port", ConninfoError::MissingEquals("port".into())),
            ("host a", ConninfoError::MissingEquals("host".into())),
            ("=a", ConninfoError::MissingKeyword),
            ("host='a", ConninfoError::UnterminatedQuote),
            (r"host='a\'", ConninfoError::UnterminatedQuote),
            ("postgresql://u@h/db", ConninfoError::Uri),
            ("  postgres://h", ConninfoError::Uri),
        ];
        for (input, expected) in table {
            assert_eq!(parse(input).unwrap_err(), *expected, "{input:?}");
        }
    }

    #[test]
    fn quoted_values_read_back() {
        for v in [
            "node-1",
            "odd name",
            "it's",
            r"back\slash",
            "",
            "node\"1",
            "/tmp/sock",
        ] {
            let text = format!("application_name={}", quote_value(v));
            assert_eq!(parse(&text).unwrap().get("application_name"), Some(v), "{text}");
        }
        assert_eq!(quote_value("node-1"), "node-1");
        assert_eq!(quote_value("odd name"), "'odd name'");
    }
}
