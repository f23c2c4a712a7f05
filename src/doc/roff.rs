//! The roff both manual pages are written in: escaping, bold words, tagged
//! entries and literal example blocks. Only syntax lives here; what the pages
//! say is in `agent_page`, `program_page` and `sections`.

/// Roff text: backslashes and hyphens escaped, and a line that would start
/// with a control character (`.` or `'`) protected with `\&`.
pub fn escape(text: &str) -> String {
    protect_lines(&escape_chars(text))
}

/// Backslashes and hyphens escaped, for text inside a line.
fn escape_chars(text: &str) -> String {
    text.replace('\\', "\\e").replace('-', "\\-")
}

/// `\&` before a line that would start with a control character.
fn protect_lines(text: &str) -> String {
    text.lines()
        .map(|line| {
            if line.starts_with('.') || line.starts_with('\'') {
                format!("\\&{line}")
            } else {
                line.to_string()
            }
        })
        .collect::<Vec<_>>()
        .join("\n")
}

pub fn bold(text: &str) -> String {
    format!("\\fB{}\\fR", escape(text))
}

pub fn italic(text: &str) -> String {
    format!("\\fI{}\\fR", escape(text))
}

/// A sentence of prose in roff: the words of `template` escaped, each `{}`
/// replaced by the next of `parts`, which are roff already ([`bold`],
/// [`italic`], [`escape`]). Prose is never escaped by hand: a `-` typed
/// without its backslash is a hyphen that may break a command line.
pub fn prose(template: &str, parts: &[String]) -> String {
    let mut pieces = template.split("{}");
    let mut out = escape_chars(pieces.next().unwrap_or(""));
    let mut parts = parts.iter();
    for piece in pieces {
        out.push_str(parts.next().map_or("", String::as_str));
        out.push_str(&escape_chars(piece));
    }
    debug_assert!(parts.next().is_none(), "more parts than {{}} in {template:?}");
    protect_lines(&out)
}

/// The NAME section: `name \- what it is`, as man(7) has it.
pub fn name_section(out: &mut String, name: &str, what: &str) {
    out.push_str(&format!(".SH \"NAME\"\n{} \\- {}\n", escape(name), escape(what)));
}

/// The `.TH` line and the settings both pages start with: no hyphenation,
/// left-aligned (option names and paths must not be split or stretched).
pub fn title(out: &mut String, name: &str, section: u8, version: &str, manual: &str) {
    out.push_str(&format!(
        ".TH \"{}\" \"{section}\" \"\" \"pgha {version}\" \"{manual}\"\n.nh\n.ad l\n",
        name.to_uppercase()
    ));
}

/// A tagged paragraph: `heading` (already roff) on its own line, `body`
/// (already roff) indented under it.
pub fn entry(out: &mut String, heading: &str, body: &str) {
    out.push_str(&format!(".PP\n{heading}\n.RS 4\n{body}\n.RE\n"));
}

/// Lines of a literal example block (`.nf`), with a trailing `\` continuing
/// each line but the last.
pub fn example_block(out: &mut String, lines: &[String]) {
    out.push_str(".sp\n.RS 4\n.nf\n");
    let n = lines.len();
    for (i, line) in lines.iter().enumerate() {
        out.push_str(&escape(line));
        out.push_str(if i + 1 < n { " \\e\n" } else { "\n" });
    }
    out.push_str(".fi\n.RE\n");
}

/// The text of one section of a page, from its `.SH` up to the next one.
#[cfg(test)]
pub fn section<'a>(page: &'a str, name: &str) -> &'a str {
    let start = page
        .find(&format!(".SH \"{name}\"\n"))
        .unwrap_or_else(|| panic!("section {name} missing"));
    let rest = &page[start + 1..];
    &rest[..rest.find("\n.SH ").map_or(rest.len(), |i| i + 1)]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escape_protects_control_characters() {
        assert_eq!(escape("a-b \\n"), "a\\-b \\en");
        assert_eq!(escape(".x\n'y\nz"), "\\&.x\n\\&'y\nz");
    }

    #[test]
    fn prose_escapes_its_words_and_keeps_its_parts() {
        assert_eq!(
            prose("run {} with -c, then {}.", &[bold("pcs --x"), italic("node")]),
            "run \\fBpcs \\-\\-x\\fR with \\-c, then \\fInode\\fR."
        );
        assert_eq!(prose("{}", &[bold("a")]), "\\fBa\\fR");
        // A word after a part is inside the line: no \& before its dot.
        assert_eq!(prose("{}. b", &[italic("a")]), "\\fIa\\fR. b");
        assert_eq!(prose(".a {}", &[bold("b")]), "\\&.a \\fBb\\fR");
    }

    #[test]
    fn example_lines_continue_with_a_backslash_but_the_last() {
        let mut out = String::new();
        example_block(&mut out, &["a".to_string(), "b".to_string()]);
        assert_eq!(out, ".sp\n.RS 4\n.nf\na \\e\nb\n.fi\n.RE\n");
    }
}
