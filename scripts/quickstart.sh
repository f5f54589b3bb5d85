#!/usr/bin/env bash
# Confab quick start for a fresh Debian 12 machine.
#
#   scripts/quickstart.sh run  [server options]   install what is missing, build, run Confab
#   scripts/quickstart.sh test [ctest options]    install what is missing, build, run every test
#   scripts/quickstart.sh sanitize [ctest opts]   the same with ASan+LSan+UBSan in build-asan/:
#                                                 server, client library, unit/integration/cli tests
#   scripts/quickstart.sh deps                    only install what is missing
#
# Idempotent: packages already present are not reinstalled, and the build is incremental.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
build="${CONFAB_BUILD_DIR:-$here/build}"
# The sanitizer build has its own tree: its objects cannot be mixed with the normal build's.
build_asan="${CONFAB_ASAN_BUILD_DIR:-$here/build-asan}"

# Every Debian package the build and the tests need. Keep in sync with README "Requirements".
apt_packages=(
    build-essential cmake ninja-build pkg-config
    qt6-base-dev qt6-websockets-dev libqt6sql6-sqlite libqt6sql6-psql
    libcpp-jwt-dev nlohmann-json3-dev libssl-dev
    qt6-declarative-dev qt6-declarative-dev-tools
    qml6-module-qtqml qml6-module-qtquick qml6-module-qtquick-controls qml6-module-qtquick-layouts
    qml6-module-qtquick-window qml6-module-qtquick-templates qml6-module-qtqml-workerscript
    qml6-module-qtqml-models qml6-module-qttest doxygen fonts-noto-color-emoji
    # GCC 12's AddressSanitizer (LeakSanitizer included) and UBSan runtimes, for `sanitize`.
    # build-essential brings them already (gcc-12 -> libgcc-12-dev); named so that it is explicit.
    libasan8 libubsan1
)

as_root() {
    if [ "$(id -u)" -eq 0 ]; then
        "$@"
    elif command -v sudo >/dev/null 2>&1; then
        sudo "$@"
    else
        echo "quickstart: need root to install packages (run as root or install sudo)" >&2
        exit 1
    fi
}

install_deps() {
    local missing=()
    for p in "${apt_packages[@]}"; do
        if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
            missing+=("$p")
        fi
    done
    if [ "${#missing[@]}" -gt 0 ]; then
        echo "quickstart: installing ${missing[*]}"
        as_root env DEBIAN_FRONTEND=noninteractive apt-get update -q
        as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${missing[@]}"
    fi
}

build() {
    cmake -S "$here" -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo
    cmake --build "$build" --parallel
}

# ASan, LSan and UBSan (cmake/Sanitizers.cmake, which also sets their runtime options and the
# longer test timeouts). Without the QML parts and the examples: no suite run under the
# sanitizers uses them, and they would only lengthen the build. -O2 like the normal build keeps
# the tests' run time down.
build_sanitized() {
    cmake -S "$here" -B "$build_asan" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
        -DCONFAB_SANITIZE=ON -DCONFAB_BUILD_QML=OFF -DCONFAB_BUILD_EXAMPLES=OFF
    cmake --build "$build_asan" --parallel
}

cmd="${1:-}"
[ $# -gt 0 ] && shift
case "$cmd" in
    deps)
        install_deps
        ;;
    run)
        install_deps
        build
        echo "quickstart: Confab server on ws://localhost:4000 and http://localhost:4000 (Ctrl+C stops it)"
        exec "$build/server/confab-server" --log-format text "$@"
        ;;
    test)
        install_deps
        build
        cd "$build"
        exec ctest --output-on-failure --parallel "$(nproc)" "$@"
        ;;
    sanitize)
        install_deps
        build_sanitized
        cd "$build_asan"
        # The suites that exercise the server and the client library; extra -L/-R options narrow
        # this further (ctest requires every -L to match).
        exec ctest --output-on-failure --parallel "$(nproc)" -L '^(unit|integration|cli)$' "$@"
        ;;
    *)
        sed -n '2,10p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'
        exit 2
        ;;
esac
