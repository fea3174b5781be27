#!/usr/bin/env bash
# pinger's man page, made from the binary's own help (the CLI's definitions, so it never drifts from them) by
# Debian's help2man, with dist/man/pinger.h2m for what --help does not say (exit status, environment, files) and
# the subcommands' help as their own section. Usage: scripts/manpage.sh BINARY OUTPUT.1.gz
set -euo pipefail
bin=$1 out=$2
command -v help2man >/dev/null || { echo "manpage: help2man is missing: apt-get install help2man" >&2; exit 1; }
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
include=$tmp/pinger.h2m
# help2man tells an option from its text by two spaces; argh leaves one after a long name (--resolve-timeout).
cat > "$tmp/pinger" <<WRAP
#!/bin/sh
"$(realpath "$bin")" "\$@" | sed -E 's/^(  (-[A-Za-z], )?--[a-z0-9-]+) ([^ ])/\\1  \\3/'
WRAP
chmod 755 "$tmp/pinger"
{
  cat "$(dirname "$0")/../dist/man/pinger.h2m"
  echo '[COMMANDS]'
  for c in report migrate serve; do
    echo ".SS pinger $c"
    echo '.nf'
    # roff: a backslash is \e; a line starting with . or ' is protected by \&.
    "$bin" "$c" --help | sed -e 's/\\/\\e/g' -e "s/^\([.']\)/\\\\\&\1/"
    echo '.fi'
  done
} > "$include"
help2man --no-info --section 1 --include "$include" "$tmp/pinger" | gzip -9n > "$out"
