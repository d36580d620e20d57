#!/usr/bin/env bash
# Tests the Debian packages: builds both (packaging/build-deb.sh), runs lintian on them, installs
# the amd64 one into a fresh Debian bookworm root and checks it there, and checks the arm64 one's
# contents and runs its binary under qemu.
#
# Usage: packaging/test.sh [--skip-build | --skip-arm64-build]
#   --skip-build        package the binaries built before (.build-embedded/release/dactyl and
#                       cross/out/dactyl-aarch64)
#   --skip-arm64-build  package cross/out/dactyl-aarch64 as it is (scripts/test.sh: cross/test.sh
#                       has just built it), build the amd64 one
#
# The Debian root is `mmdebstrap --variant=minbase bookworm` plus the package's Depends, made once
# from the mirror this machine's apt uses and cached as packaging/.cache/bookworm-minbase-HASH.tar
# (HASH of the Depends: a new dependency makes a new root). Commands run in it through
# `unshare --mount --pid --fork --mount-proc` + chroot, so nothing stays mounted.
# Prints "PASS  package NAME: ..." or "FAIL  package NAME: ..." per check and exits non-zero on
# any failure.
set -uo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$HERE/.." && pwd)"
CACHE="$HERE/.cache"
BUILD_AMD64=1
BUILD_ARM64=1
while (($#)); do
    case "$1" in
        --skip-build) BUILD_AMD64=0; BUILD_ARM64=0; shift ;;
        --skip-arm64-build) BUILD_ARM64=0; shift ;;
        -h|--help) awk 'NR > 1 && /^#/ { sub(/^# ?/, ""); print; next } NR > 1 { exit }' "${BASH_SOURCE[0]}"; exit 0 ;;
        *) echo "packaging/test.sh: unknown argument '$1'" >&2; exit 2 ;;
    esac
done

failures=0
pass() { echo "PASS  package $1: $2"; }
fail() { echo "FAIL  package $1: $2"; failures=$((failures + 1)); }
check() {  # check NAME DESCRIPTION COMMAND...: PASS when COMMAND succeeds
    local name="$1" what="$2"; shift 2
    if "$@" > "$WORK/check.out" 2>&1; then
        local last; last="$(tail -n 1 "$WORK/check.out")"
        pass "$name" "$what${last:+ ($last)}"
    else
        fail "$name" "$what: $(tail -n 3 "$WORK/check.out" | tr '\n' ' ')"
    fi
}
started=$SECONDS
WORK="$(mktemp -d)"
DEBROOT="$WORK/root"
cleanup() { rm -rf "$WORK"; }
trap cleanup EXIT

# --- build ----------------------------------------------------------------------------------
skip() { (($1)) || echo --skip-build; }
AMD64_DEB="$("$HERE/build-deb.sh" amd64 $(skip $BUILD_AMD64) 2> "$WORK/build-amd64.log")" \
    || { tail -n 20 "$WORK/build-amd64.log"; fail build "amd64 package"; exit 1; }
ARM64_DEB="$("$HERE/build-deb.sh" arm64 $(skip $BUILD_ARM64) 2> "$WORK/build-arm64.log")" \
    || { tail -n 20 "$WORK/build-arm64.log"; fail build "arm64 package"; exit 1; }
for deb in "$AMD64_DEB" "$ARM64_DEB"; do
    pass build "$(basename "$deb"): $(stat -c %s "$deb") bytes, installed $(dpkg-deb -f "$deb" Installed-Size) KiB"
done
echo "packaging/test.sh: built in $((SECONDS - started)) s" >&2

# --- lintian: no error or warning (pedantic and info tags are reported, not failed) -----------
if command -v lintian >/dev/null; then
    for deb in "$AMD64_DEB" "$ARM64_DEB"; do
        arch="$(dpkg-deb -f "$deb" Architecture)"
        lintian --pedantic --display-info "$deb" > "$WORK/lintian.$arch" 2>/dev/null
        tags="$(grep -E '^[EWIP]: ' "$WORK/lintian.$arch" | awk '{print $1 $3}' | sort -u | paste -sd' ')"
        if grep -qE '^[EW]: ' "$WORK/lintian.$arch"; then
            fail lintian "$arch: $(grep -E '^[EW]: ' "$WORK/lintian.$arch" | head -n 5 | tr '\n' ' ')"
        else
            pass lintian "$arch: no errors or warnings${tags:+ (left: $tags)}"
        fi
    done
else
    fail lintian "lintian is not installed (apt-get install lintian)"
fi

# --- the packages' contents (both) ------------------------------------------------------------
EXPECTED_FILES=(
    ./usr/bin/dactyl ./usr/share/dactyl/default.dmdl ./usr/share/dactyl/board/pi5.conf
    ./usr/share/dactyl/board/pi4.conf ./usr/share/dactyl/board/zero2w.conf ./usr/share/dactyl/board/pc.conf
    ./usr/lib/dactyl/usb-keyboard-gadget.sh ./etc/dactyl/box.conf ./lib/systemd/system/dactyl.service
    ./lib/systemd/system/dactyl-usb-keyboard.service ./lib/udev/rules.d/60-dactyl.rules
    ./usr/share/doc/dactyl/copyright ./usr/share/doc/dactyl/changelog.Debian.gz
    ./usr/share/doc/dactyl/raspberry-pi.md ./usr/share/man/man1/dactyl.1.gz
)
contents() {  # contents DEB ARCH MACHINE: files, control fields, the binary's architecture
    local deb="$1" arch="$2" machine="$3" missing=() file
    dpkg-deb -c "$deb" | awk '{print $6}' > "$WORK/contents.$arch"
    for file in "${EXPECTED_FILES[@]}"; do grep -qxF "$file" "$WORK/contents.$arch" || missing+=("$file"); done
    ((${#missing[@]} == 0)) || { echo "missing: ${missing[*]}"; return 1; }
    [[ "$(dpkg-deb -f "$deb" Architecture)" == "$arch" ]] || { echo "Architecture $(dpkg-deb -f "$deb" Architecture)"; return 1; }
    local depends; depends="$(dpkg-deb -f "$deb" Depends)"
    for package in adduser libc6 libopenblas0 libgpiod2 libv4l-0; do
        [[ "$depends" =~ (^|, )$package( |,|$) ]] || { echo "Depends lacks $package: $depends"; return 1; }
    done
    dpkg-deb --ctrl-tarfile "$deb" | tar -xO ./conffiles | grep -qx /etc/dactyl/box.conf || { echo "box.conf is not a conffile"; return 1; }
    mkdir -p "$WORK/x.$arch" && dpkg-deb -x "$deb" "$WORK/x.$arch"
    readelf -h "$WORK/x.$arch/usr/bin/dactyl" | grep -q "Machine: *$machine" || { echo "usr/bin/dactyl is not $machine"; return 1; }
    # Only Debian's libraries, no Swift runtime: the Embedded build.
    if readelf -dW "$WORK/x.$arch/usr/bin/dactyl" | grep NEEDED | grep -qi swift; then echo "links a Swift runtime library"; return 1; fi
    echo "Depends: $depends"
}
check contents-amd64 "amd64 files, control (Depends, conffiles), an x86-64 binary with no Swift library" \
    contents "$AMD64_DEB" amd64 "Advanced Micro Devices X86-64"
check contents-arm64 "arm64 files, control (Depends, conffiles), an AArch64 binary with no Swift library" \
    contents "$ARM64_DEB" arm64 AArch64

# --- arm64: its binary's selftest under qemu, as a Pi 4 -----------------------------------------
arm64_selftest() {
    "$ROOT/cross/qemu-run.sh" cortex-a72 "$WORK/x.arm64/usr/bin/dactyl" selftest \
        --model "$WORK/x.arm64/usr/share/dactyl/default.dmdl" > "$WORK/selftest.arm64" 2>&1
    local rc=$?
    tail -n 1 "$WORK/selftest.arm64"
    ((rc == 0)) && grep -qx "selftest: PASS" "$WORK/selftest.arm64"
}
if [[ -x "$WORK/x.arm64/usr/bin/dactyl" ]]; then
    check arm64-selftest "the arm64 package's dactyl selftest under qemu-aarch64 -cpu cortex-a72" arm64_selftest
fi

# --- the unit: systemd-analyze security before and after hardening ---------------------------
security_score() { systemd-analyze security --offline=true --no-pager "$1" 2>/dev/null | sed -n 's/.*Overall exposure level for [^:]*: //p'; }
mkdir -p "$WORK/unhardened"
awk '/^# --- hardening/ { skip = 1 } /^\[Install\]/ { skip = 0 } !skip' "$HERE/dactyl.service" > "$WORK/unhardened/dactyl.service"
before="$(security_score "$WORK/unhardened/dactyl.service")"
after="$(security_score "$HERE/dactyl.service")"
if [[ -n "$after" ]] && awk -v score="${after%% *}" 'BEGIN { exit !(score < 2.0) }'; then
    pass unit-security "systemd-analyze security: $before without the hardening block, $after with it"
else
    fail unit-security "systemd-analyze security: '$after' (expected an exposure under 2.0; $before without hardening)"
fi

# --- the Debian root ---------------------------------------------------------------------------
# Its Depends (first alternatives, without version) are in the cached root, with systemd (the
# init the unit is for; systemd-analyze verify needs its targets) and procps (/bin/kill, for ExecReload=).
DEPENDS_PACKAGES="$( (dpkg-deb -f "$AMD64_DEB" Depends | tr ',' '\n' | sed 's/|.*//; s/(.*//; s/ //g'; echo systemd; echo procps) \
    | grep -v '^$' | sort -u | paste -sd,)"
ROOT_TAR="$CACHE/bookworm-minbase-$(echo "$DEPENDS_PACKAGES" | md5sum | cut -c1-12).tar"
if [[ ! -f "$ROOT_TAR" ]]; then
    mkdir -p "$CACHE"
    mirror="$(sed -n 's/^URIs: *//p' /etc/apt/sources.list.d/debian.sources 2>/dev/null | head -n 1)"
    mirror="${mirror:-http://deb.debian.org/debian}"
    echo "packaging/test.sh: making the Debian root (minbase + $DEPENDS_PACKAGES) from $mirror, once" >&2
    nice -n 10 mmdebstrap --quiet --variant=minbase --include="$DEPENDS_PACKAGES" bookworm "$ROOT_TAR.tmp.tar" "$mirror" >&2 \
        && mv -f "$ROOT_TAR.tmp.tar" "$ROOT_TAR" || { rm -f "$ROOT_TAR.tmp.tar"; fail root "mmdebstrap failed"; exit 1; }
    # Roots made for other Depends are stale.
    find "$CACHE" -maxdepth 1 -name 'bookworm-minbase-*.tar' ! -name "$(basename "$ROOT_TAR")" -delete
fi
mkdir -p "$DEBROOT"
tar -C "$DEBROOT" --numeric-owner -xf "$ROOT_TAR" || { fail root "cannot unpack $ROOT_TAR"; exit 1; }
in_root() { unshare --mount --pid --fork --mount-proc="$DEBROOT/proc" chroot "$DEBROOT" "$@"; }
snapshot() {  # every path, and the checksum of every regular file, outside /proc and /dev
    (cd "$DEBROOT" && find . \( -path ./proc -o -path ./dev \) -prune -o -printf '%y %p\n' | LC_ALL=C sort > "$WORK/$1.paths"
     find . \( -path ./proc -o -path ./dev \) -prune -o -type f -print0 | LC_ALL=C sort -z | xargs -0 md5sum > "$WORK/$1.sums")
}
snapshot before
cp "$AMD64_DEB" "$DEBROOT/tmp/dactyl.deb"
check install "dpkg -i into a fresh bookworm minbase root (its Depends from the root's own packages)" \
    in_root dpkg -i /tmp/dactyl.deb

installed_files() {
    local file
    for file in "${EXPECTED_FILES[@]}"; do [[ -e "$DEBROOT/${file#./}" ]] || { echo "missing /${file#./}"; return 1; }; done
    [[ -x "$DEBROOT/usr/bin/dactyl" ]] || { echo "/usr/bin/dactyl is not executable"; return 1; }
    # Enabled at boot (deb-systemd-helper, as dh_installsystemd does); the keyboard unit is not.
    [[ -L "$DEBROOT/etc/systemd/system/multi-user.target.wants/dactyl.service" ]] || { echo "dactyl.service is not enabled"; return 1; }
    [[ ! -e "$DEBROOT/etc/systemd/system/multi-user.target.wants/dactyl-usb-keyboard.service" ]] || { echo "the keyboard unit is enabled"; return 1; }
    [[ "$(stat -c '%U:%G %a' "$DEBROOT/etc/dactyl/box.conf")" == "root:root 644" ]] || { echo "box.conf: $(stat -c '%U:%G %a' "$DEBROOT/etc/dactyl/box.conf")"; return 1; }
    in_root dpkg --verify dactyl || { echo "dpkg --verify: files differ from the package"; return 1; }
}
check files "the installed files, their owners and modes, dpkg --verify" installed_files

service_user() {
    local entry groups uid
    entry="$(in_root getent passwd dactyl)" || { echo "no user dactyl"; return 1; }
    IFS=: read -r _ _ uid _ _ home shell <<< "$entry"
    ((uid < 1000)) || { echo "uid $uid is not a system uid"; return 1; }
    [[ "$home" == /nonexistent && "$shell" == /usr/sbin/nologin ]] || { echo "home $home, shell $shell"; return 1; }
    groups="$(in_root id -nG dactyl)"
    for group in dactyl video gpio dialout; do
        [[ " $groups " == *" $group "* ]] || { echo "dactyl is not in $group (groups: $groups)"; return 1; }
    done
    echo "$entry; groups: $groups"
}
check user "the system user dactyl (system uid, no home, nologin) in dactyl, video, gpio, dialout" service_user

verify_unit() {
    # --root: the unit's ExecStart and User as installed in that root, not on this machine.
    systemd-analyze verify --man=no --root="$DEBROOT" /lib/systemd/system/dactyl.service /lib/systemd/system/dactyl-usb-keyboard.service 2>&1 \
        | grep -vE "^$" | tee "$WORK/verify.log"
    ! grep -q . "$WORK/verify.log"
}
check unit-verify "systemd-analyze verify of dactyl.service and dactyl-usb-keyboard.service in the root" verify_unit

selftest_as_user() {
    # As the service runs it: the dactyl user and its groups, the model found beside /usr/bin.
    in_root setpriv --reuid=dactyl --regid=dactyl --init-groups /usr/bin/dactyl selftest > "$WORK/selftest.amd64" 2>&1
    local rc=$?
    tail -n 1 "$WORK/selftest.amd64"
    ((rc == 0)) && grep -qx "selftest: PASS" "$WORK/selftest.amd64" && grep -q "/usr/share/dactyl/default.dmdl" "$WORK/selftest.amd64"
}
check selftest "the installed dactyl selftest as the user dactyl, with /usr/share/dactyl/default.dmdl" selftest_as_user

devices_in_root() {
    # The root has no cameras, GPIO chips or serial ports: each section must say so, exit 0.
    in_root setpriv --reuid=dactyl --regid=dactyl --init-groups /usr/bin/dactyl devices > "$WORK/devices.txt" 2>&1 || return 1
    local nones; nones="$(grep -cE '^  (none: |not possible here: )' "$WORK/devices.txt")"
    ((nones == 4)) || { cat "$WORK/devices.txt"; return 1; }
    echo "4 sections, each says none"
}
check devices "dactyl devices as the user dactyl in the root (nothing there)" devices_in_root

profile_loads() {
    # The conffile is a profile `dactyl run` accepts: run it on a clip for a few frames.
    cp "$ROOT/samples/sample.y4m" "$DEBROOT/tmp/sample.y4m"
    in_root setpriv --reuid=dactyl --regid=dactyl --init-groups /usr/bin/dactyl run /tmp/sample.y4m \
        --board /etc/dactyl/box.conf --fast --max-frames 10 --crop model
}
[[ -f "$ROOT/samples/sample.y4m" ]] && check conffile-profile "dactyl run --board /etc/dactyl/box.conf reads the conffile" profile_loads

conffile_kept() {
    # A changed conffile survives reinstalling (an upgrade) and removal; purge deletes it.
    echo "camera.fps = 15   # changed by the administrator" >> "$DEBROOT/etc/dactyl/box.conf"
    in_root dpkg -i /tmp/dactyl.deb > /dev/null || return 1
    grep -q "changed by the administrator" "$DEBROOT/etc/dactyl/box.conf" || { echo "reinstall replaced box.conf"; return 1; }
    in_root dpkg -r dactyl > /dev/null || return 1
    [[ ! -e "$DEBROOT/usr/bin/dactyl" ]] || { echo "remove left /usr/bin/dactyl"; return 1; }
    grep -q "changed by the administrator" "$DEBROOT/etc/dactyl/box.conf" || { echo "remove deleted the changed box.conf"; return 1; }
    in_root dpkg -P dactyl > /dev/null || return 1
    [[ ! -e "$DEBROOT/etc/dactyl" ]] || { echo "purge left /etc/dactyl"; return 1; }
}
check conffile "a changed /etc/dactyl/box.conf is kept on reinstall and remove, gone after purge" conffile_kept

after_purge() {
    rm -f "$DEBROOT/tmp/dactyl.deb" "$DEBROOT/tmp/sample.y4m"
    snapshot after
    # What policy keeps: the system user and group (and adduser's backups of the files it edited),
    # the gpio group, dpkg's own records and log; /run (adduser's lock) is emptied at every boot.
    local kept='^\./(etc/(passwd|group|shadow|gshadow)-?|var/lib/dpkg/.*|var/log/dpkg\.log|run/.*)$'
    diff "$WORK/before.paths" "$WORK/after.paths" | grep '^[<>]' | awk '{print $3}' | grep -vE "$kept" > "$WORK/left.paths"
    diff "$WORK/before.sums" "$WORK/after.sums" | grep '^[<>]' | awk '{print $3}' | sort -u | grep -vE "$kept" >> "$WORK/left.paths"
    if [[ -s "$WORK/left.paths" ]]; then echo "left after purge: $(sort -u "$WORK/left.paths" | head -n 10 | tr '\n' ' ')"; return 1; fi
    in_root getent passwd dactyl > /dev/null || { echo "the user dactyl was removed (policy keeps system users)"; return 1; }
}
check purge "after purge nothing is left but the user and groups dactyl and gpio and dpkg's records" after_purge

total=$((SECONDS - started))
if ((failures == 0)); then echo "packaging/test.sh: PASS ($total s)"; else echo "packaging/test.sh: FAIL, $failures checks ($total s)"; fi
exit $((failures > 0))
