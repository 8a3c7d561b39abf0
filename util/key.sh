#!/bin/sh
# Makes a new random API key: prints the key on stderr, for the client it
# is for (it is stored nowhere), and its line for a woportal_api_keys file
# on stdout, so the line can be appended to the file:
#
#   util/key.sh <name> [<namespaces>] >> keys.txt
#
# namespaces: comma-separated, or * (the default) for every namespace.
set -eu

name=${1:-}
namespaces=${2:-*}

case $name in
    ""|*[!A-Za-z0-9._@:+-]*)
        echo "usage: $0 <name> [<namespaces>|*]" >&2
        echo "  name: letters, digits and . _ @ : + -" >&2
        exit 2 ;;
esac

case $namespaces in
    *[[:space:]#]*|,*|*,|*,,*|*,\*|\*,*)
        echo "$0: namespaces are comma-separated, without blanks or #," \
             "or a lone *" >&2
        exit 2 ;;
esac

# 32 random bytes, base64url without padding: 43 characters
key=$(head -c 32 /dev/urandom | base64 | tr '+/' '-_' | tr -d '=\n')
digest=$(printf '%s' "$key" | sha256sum | cut -d ' ' -f 1)

echo "API key for \"$name\" (give it to the client; it is stored nowhere):" >&2
echo "  $key" >&2
echo "$name $digest $namespaces"
