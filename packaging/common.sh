# Shared by build-deb, build-rpm and stage: where things are, the version,
# who signs the packages, the staged file tree both packages install.
# Sourced, not run.
#
# The tree is the one packaging/install lays out (so the packages, the lab
# and a hand install agree), plus what is generated at build time: the two
# man pages, by the very binary being packaged (`pgha doc man`, `pgha doc
# man8`), the copyright file (packaging/licenses), the upstream changelog,
# and the manual (README.md and docs/).

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BIN=$REPO/target/release/pgha
# The version is Cargo's, written nowhere else: the binary reports it
# (pgha --version, the metadata, the man pages), both packages carry it,
# and CHANGELOG.md must have a section for it (packaging/changelog).
VERSION=$(sed -n 's/^version = "\(.*\)"$/\1/p' "$REPO/Cargo.toml" | head -n 1)
[ -n "$VERSION" ] || { echo "cannot read the version from Cargo.toml" >&2; exit 1; }
# The packaging revision of $VERSION: the .deb's -1, the RPM's Release 1.
RELEASE=1

# PGHA_MAINTAINER="Name <address>": who publishes the packages. It is the
# .deb's Maintainer, the RPM's Packager and the signature of both
# changelogs. The default is the identity every commit of the project
# carries, the only one it publishes; whoever distributes the packages sets
# their own, where bug reports reach them.
MAINTAINER=${PGHA_MAINTAINER:-pgha maintainers <maintainers@users.noreply.h-seed-85c251ab.example>}
# lintian's bogus-mail-host wants a dotted domain (not localhost), and both
# formats want exactly one "Name <address>".
MAINTAINER_FORM='^[^<>@]+ <[^<>@ ]+@[^<>@ ]+\.[^<>@ .]+>$'
[[ $MAINTAINER =~ $MAINTAINER_FORM ]] || {
    echo "PGHA_MAINTAINER must be \"Name <user@host.domain>\", not \"$MAINTAINER\"" >&2
    exit 1
}

require_binary() {
    [ -x "$BIN" ] || { echo "$BIN is not built: run cargo build --release" >&2; exit 1; }
}

# require_tool COMMAND PACKAGE: installs Debian's PACKAGE when COMMAND is
# missing, without a question (CI runs as root with no stdin); elsewhere
# says what to install.
require_tool() {
    command -v "$1" >/dev/null && return
    if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
        echo "installing $2 (for $1)" >&2
        local apt=(env DEBIAN_FRONTEND=noninteractive apt-get -qq)
        "${apt[@]}" install -y --no-install-recommends "$2" </dev/null >/dev/null 2>&1 \
            || { "${apt[@]}" update </dev/null >/dev/null && "${apt[@]}" install -y --no-install-recommends "$2" </dev/null >/dev/null; } \
            || { echo "apt-get could not install $2" >&2; exit 1; }
    else
        echo "$1 is missing: install $2" >&2
        exit 1
    fi
}

# stage_tree DIR: the installed files under DIR (DIR/usr/...).
stage_tree() {
    local root=$1 doc=$1/usr/share/doc/pgha
    bash "$REPO/packaging/install" "$root" >/dev/null
    # What dh_strip does beyond strip(1): the compilers' version strings in
    # .comment are of no use in a package (lintian: binary-has-unneeded-section).
    objcopy --remove-section=.comment --remove-section=.note "$root/usr/sbin/pgha"
    install -d -m 0755 "$root/usr/share/man/man7" "$root/usr/share/man/man8" "$doc"
    "$BIN" doc man > "$root/usr/share/man/man7/ocf_pgha_postgresql.7"
    "$BIN" doc man8 > "$root/usr/share/man/man8/pgha.8"
    # -n: no name or time stamp in the gzip header, so builds are reproducible.
    gzip -9nf "$root/usr/share/man/man7/ocf_pgha_postgresql.7" "$root/usr/share/man/man8/pgha.8"
    # The README is an index into docs/: the manual ships beside it, in the
    # same layout, so that its relative links lead somewhere.
    install -m 0644 "$REPO/README.md" "$doc/README.md"
    install -d -m 0755 "$doc/docs"
    install -m 0644 "$REPO"/docs/*.md "$doc/docs/"
    # Debian policy 12.7: the upstream changelog is installed as changelog.gz.
    gzip -9nc "$REPO/CHANGELOG.md" > "$doc/changelog.gz"
    python3 "$REPO/packaging/licenses" copyright > "$doc/copyright"
    chmod 0644 "$root"/usr/share/man/man*/*.gz
    find "$doc" -type f -exec chmod 0644 {} +
    chmod 0755 "$root/usr/sbin/pgha"
    find "$root/usr" -type d -exec chmod 0755 {} +
}
