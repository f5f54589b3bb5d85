#!/usr/bin/env bash
# tst_appinstall: `cmake --install` into a fresh prefix puts the app, its .desktop file and icon
# where desktops look for them, and the installed confab starts (offscreen) and quits cleanly
# with no QML warning, using only the installed Confab.Client module (not the build tree's).
set -euo pipefail
build="$1"
prefix="$(mktemp -d)"
trap 'rm -rf "$prefix"' EXIT

cmake --install "$build" --prefix "$prefix" > "$prefix/install.log"
for f in bin/confab share/applications/confab.desktop share/icons/hicolor/scalable/apps/confab.svg; do
    [ -f "$prefix/$f" ] || { echo "not installed: $f" >&2; exit 1; }
done
grep -q '^Exec=confab' "$prefix/share/applications/confab.desktop"
grep -q '^Icon=confab' "$prefix/share/applications/confab.desktop"
[ -n "$(find "$prefix" -path '*/qml/Confab/Client/qmldir')" ] \
    || { echo "Confab.Client QML module not installed" >&2; exit 1; }

# Run from a copy of the prefix somewhere else, so nothing can come from the build tree.
moved="$(mktemp -d)"
trap 'rm -rf "$prefix" "$moved"' EXIT
cp -a "$prefix/." "$moved/"
out="$(XDG_CONFIG_HOME="$moved/config" XDG_DATA_HOME="$moved/data" "$moved/bin/confab" --quit-after 1500 2>&1)" \
    || { echo "$out" >&2; echo "the installed confab failed" >&2; exit 1; }
if echo "$out" | grep -E '\.qml:|qrc:/|QQmlApplicationEngine|[Ww]arning'; then
    echo "the installed confab printed QML warnings" >&2
    exit 1
fi
echo "installed app OK: $prefix"
