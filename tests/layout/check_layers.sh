#!/usr/bin/env bash
# The server's folders are layers (docs/architecture.md "Layout"): a folder may include its own
# headers and those of the layers below it, never above, and the doors never include each other.
# This keeps the engine free of wire formats and sockets, so a new door (Pusher, Supabase) or a
# backplane plugs in without the others knowing. Fails with the offending include lines.
set -euo pipefail
src="${1:?usage: check_layers.sh <server/src>}"

# folder → the folders it may include besides itself
declare -A allowed=(
    [ops]=""
    [auth]="ops"
    [storage]="ops auth"
    [engine]="ops auth storage"
    [native]="ops auth storage engine"
    [http]="ops auth storage engine"
    [net]="ops auth storage engine http"
)

status=0
for folder in "${!allowed[@]}"; do
    [ -d "$src/$folder" ] || { echo "missing folder $src/$folder" >&2; status=1; continue; }
    ok=" $folder ${allowed[$folder]} "
    while IFS= read -r line; do
        file="${line%%:*}"
        target="$(sed -E 's/.*#include "([^"]+)".*/\1/' <<<"$line")"
        case "$target" in
            ConfabProtocol/*) continue ;; # the wire codec (protocol/) is below every layer
            */*) layer="${target%%/*}" ;;
            *) layer="(top)" ;; # a root header (server.h): only the composition root includes it
        esac
        if [[ "$ok" != *" $layer "* ]]; then
            echo "layer violation: $file includes \"$target\" ($folder may use:${ok})" >&2
            status=1
        fi
    done < <(grep -Hn '#include "' "$src/$folder"/*.h "$src/$folder"/*.cpp 2>/dev/null || true)
done
[ "$status" -eq 0 ] && echo "layers ok: ${!allowed[*]}"
exit "$status"
