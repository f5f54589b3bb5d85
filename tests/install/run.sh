#!/usr/bin/env bash
# tst_install: the install tree as a consumer sees it.
#
#   tests/install/run.sh <build-dir> <source-dir>
#
#  1. cmake --install <build-dir> into a fresh temporary prefix, and check the tree's layout;
#  2. configure and build tests/install/consumer and both libclient examples against that prefix
#     only (-DCMAKE_PREFIX_PATH=<prefix>): nothing may come from the build or source tree;
#  3. start <prefix>/bin/confab-server on 127.0.0.1, port 0 (the port is read from its
#     "server.started" log line), run consumer_cpp and consumer_qml against it, and consumer_fixture
#     and consumer_host on their own in-process servers;
#  4. stop the server with SIGTERM and require exit status 0.
# Stops at the first failing step and names it. CONFAB_KEEP_INSTALL_TMP=1 keeps the temp dir.
set -euo pipefail

if [ $# -ne 2 ]; then
    echo "usage: $0 <build-dir> <source-dir>" >&2
    exit 2
fi
build="$(cd "$1" && pwd)"
source="$(cd "$2" && pwd)"

tmp="$(mktemp -d "${TMPDIR:-/tmp}/confab-install.XXXXXX")"
prefix="$tmp/prefix"
step="setup"
server_pid=""

on_exit() {
    local status=$?
    if [ -n "$server_pid" ] && kill -0 "$server_pid" 2>/dev/null; then
        kill -KILL "$server_pid" 2>/dev/null || true
        wait "$server_pid" 2>/dev/null || true
    fi
    if [ "$status" -ne 0 ]; then
        echo "tst_install: FAILED at step: $step (exit status $status)" >&2
        if [ -s "$tmp/server.log" ]; then
            echo "--- confab-server log:" >&2
            cat "$tmp/server.log" >&2
        fi
    fi
    if [ "${CONFAB_KEEP_INSTALL_TMP:-0}" = 1 ]; then
        echo "tst_install: kept $tmp" >&2
    else
        rm -rf "$tmp"
    fi
    exit "$status"
}
trap on_exit EXIT

begin() {
    step="$*"
    echo "== tst_install: $step"
}
die() {
    echo "tst_install: $*" >&2
    exit 1
}

generator=()
if command -v ninja >/dev/null 2>&1; then
    generator=(-G Ninja)
fi
# The library directory the build was configured with (lib, or lib/<multiarch> for /usr).
libdir="$(sed -n 's/^CMAKE_INSTALL_LIBDIR:[A-Z]*=//p' "$build/CMakeCache.txt")"
libdir="${libdir:-lib}"
qmldir="$prefix/$libdir/qml"

begin "install $build into $prefix"
cmake --install "$build" --prefix "$prefix"

begin "check the install tree"
for f in \
    bin/confab-server \
    include/ConfabClient/client.h \
    include/ConfabClient/confabclient_export.h \
    include/ConfabTestServer/testserver.h \
    include/ConfabHost/localserver.h \
    include/ConfabHost/confabhost_export.h \
    include/ConfabClient/serverdiscovery.h \
    "$libdir/libConfabClient.so" \
    "$libdir/libConfabTestServer.so" \
    "$libdir/libConfabHost.so" \
    "$libdir/cmake/ConfabClient/ConfabClientConfig.cmake" \
    "$libdir/cmake/ConfabClient/ConfabClientConfigVersion.cmake" \
    "$libdir/cmake/ConfabClient/ConfabClientTargets.cmake" \
    "$libdir/qml/Confab/Client/qmldir" \
    "$libdir/qml/Confab/Client/ConfabClientQml.qmltypes" \
    "$libdir/qml/Confab/Client/libConfabClientQml.so"; do
    [ -e "$prefix/$f" ] || die "missing from the install: $f"
done
# C++-only users must not pull in QtQml.
needed="$(objdump -p "$prefix/$libdir/libConfabClient.so" | grep NEEDED)" || die "objdump failed"
if grep -q 'libQt6Qml' <<<"$needed"; then
    die "libConfabClient.so links QtQml:
$needed"
fi
# The QML plugin must find libConfabClient in <prefix>/<libdir> through its RPATH.
plugin_deps="$(ldd "$qmldir/Confab/Client/libConfabClientQml.so")"
resolved="$(sed -n 's/^[[:space:]]*libConfabClient\.so[.0-9]* => \(.*\) (0x.*/\1/p' <<<"$plugin_deps")"
[ -n "$resolved" ] && [ "$(realpath "$resolved")" = "$(realpath "$prefix/$libdir/libConfabClient.so")" ] \
    || die "the installed QML plugin does not find libConfabClient in $prefix/$libdir:
$plugin_deps"

configure_and_build() {
    local name="$1" src="$2"
    begin "configure $name against the install"
    cmake -S "$src" -B "$tmp/$name" "${generator[@]}" -DCMAKE_BUILD_TYPE=RelWithDebInfo \
        -DCMAKE_PREFIX_PATH="$prefix" -DCMAKE_FIND_PACKAGE_NO_PACKAGE_REGISTRY=ON
    begin "build $name"
    cmake --build "$tmp/$name"
}
configure_and_build consumer "$source/tests/install/consumer"
configure_and_build example-cpp "$source/libclient/examples/cpp"
configure_and_build example-qml "$source/libclient/examples/qml"

begin "start $prefix/bin/confab-server"
# From the temp dir, so that no .env file of the caller's working directory is read, and without
# the caller's logging rules, which could hide the server.started line.
(cd "$tmp" && exec env -u QT_LOGGING_RULES "$prefix/bin/confab-server" --port 0 --bind 127.0.0.1 --log-format json \
    --log-level info --auth-enabled false --discovery off) 2>"$tmp/server.log" &
server_pid=$!
port=""
for _ in $(seq 100); do
    port="$(grep '"event":"server.started"' "$tmp/server.log" | grep -o '"port":[0-9]*' | head -n1 | cut -d: -f2)" || true
    [ -n "$port" ] && break
    kill -0 "$server_pid" 2>/dev/null || die "confab-server exited before it started"
    sleep 0.1
done
[ -n "$port" ] || die "confab-server logged no server.started within 10 s"
url="ws://127.0.0.1:$port/"
echo "server at $url (pid $server_pid)"

begin "consumer_cpp $url"
"$tmp/consumer/consumer_cpp" "$url"

begin "consumer_qml $url (QML_IMPORT_PATH=$qmldir)"
QT_QPA_PLATFORM=offscreen QML_IMPORT_PATH="$qmldir" "$tmp/consumer/consumer_qml" "$url"

begin "example confab-chat-cli (built out of tree) sends one line $url"
chat_out="$(echo "hello from the install test" \
    | timeout 15 "$tmp/example-cpp/confab-chat-cli" --url "$url" --room room:install --name example-cli)"
grep -q "you are in room:install as example-cli" <<<"$chat_out" \
    || die "confab-chat-cli did not join; its output: $chat_out"

begin "consumer_fixture (Confab::TestServer in-process)"
"$tmp/consumer/consumer_fixture"

begin "consumer_host (Confab::LocalServer in-process)"
"$tmp/consumer/consumer_host"

begin "stop confab-server with SIGTERM"
kill -TERM "$server_pid"
server_status=0
wait "$server_pid" || server_status=$?
server_pid=""
[ "$server_status" -eq 0 ] || die "confab-server exited with status $server_status after SIGTERM"
grep -q '"event":"server.stopped"' "$tmp/server.log" || die "confab-server logged no server.stopped"

step="done"
echo "tst_install: OK"
