#!/usr/bin/env bash
# Builds the Debian package of the fingerspelling box, dactyl_VERSION_ARCH.deb, with dpkg-deb.
#
# Usage: packaging/build-deb.sh amd64|arm64 [--skip-build] [--out DIR]
#   amd64         the Embedded Swift build for this machine (EMBEDDED=1 swift build -c release)
#   arm64         the Raspberry Pi build (cross/build.sh: Embedded Swift for aarch64)
#   --skip-build  package the binary built before (.build-embedded/release/dactyl, cross/out/dactyl-aarch64)
#   --out DIR     where the .deb goes (default packaging/out)
#
# The binary is Embedded Swift in both packages: the little runtime it needs is compiled into it,
# so it links only glibc, OpenBLAS, libv4l and libgpiod, all from Debian, and needs no Swift on
# the target. Why not --static-swift-stdlib: there is no full Swift runtime for aarch64 on this
# machine (DESIGN.md, "Cross"), so the Pi package could not have one; that build would carry the
# whole runtime (several MB more) and the swift-backtrace crash handler; and the Embedded build is
# the one `selftest`, cross/test.sh and the virtual Pi test.
# Depends: dpkg-shlibdeps for amd64 (the libraries are installed here); for arm64 the same rule by
# hand: each NEEDED soname is looked up in the shlibs files of the arm64 .debs the sysroot was
# made from, and libc6's version is the newest GLIBC_ symbol version the binary uses.
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$HERE/.." && pwd)"
usage() { awk 'NR > 1 && /^#/ { sub(/^# ?/, ""); print; next } NR > 1 { exit }' "${BASH_SOURCE[0]}"; }
ARCH="${1:-}"
shift || true
[[ "$ARCH" == -h || "$ARCH" == --help ]] && { usage; exit 0; }
BUILD=1
OUT="$HERE/out"
while (($#)); do
    case "$1" in
        --skip-build) BUILD=0; shift ;;
        --out) OUT="${2:?--out needs a folder}"; shift 2 ;;
        -h|--help) usage; exit 0 ;;
        *) echo "build-deb.sh: unknown argument '$1'" >&2; exit 2 ;;
    esac
done
case "$ARCH" in
    amd64) MULTIARCH=x86_64-linux-gnu ;;
    arm64) MULTIARCH=aarch64-linux-gnu ;;
    *) echo "build-deb.sh: first argument: amd64 or arm64, got '$ARCH'" >&2; exit 2 ;;
esac
fail() { echo "build-deb.sh: $*" >&2; exit 1; }

VERSION="$(sed -n 's/^let version = "\(.*\)"$/\1/p' "$ROOT/Sources/dactyl/main.swift")"
[[ -n "$VERSION" ]] || fail "no 'let version = \"...\"' in Sources/dactyl/main.swift"
DEB_VERSION="$VERSION-1"
# Reproducible: file times and the changelog's date come from the last commit.
export SOURCE_DATE_EPOCH="${SOURCE_DATE_EPOCH:-$(git -C "$ROOT" log -1 --format=%ct 2>/dev/null || date +%s)}"

# --- the binary ---------------------------------------------------------------------------
if [[ "$ARCH" == amd64 ]]; then
    BINARY="$ROOT/.build-embedded/release/dactyl"
    if ((BUILD)); then
        # No $ORIGIN run path (lintian: custom-library-search-path), full RELRO (-z now), and the
        # C shim with fortified libc calls (-O2 comes with -c release).
        (cd "$ROOT" && EMBEDDED=1 swift build -c release --scratch-path .build-embedded --product dactyl \
            --disable-local-rpath -Xlinker -z -Xlinker now -Xcc -D_FORTIFY_SOURCE=2) >&2 || fail "the Embedded Swift build failed"
    fi
    STRIP=strip
else
    BINARY="$ROOT/cross/out/dactyl-aarch64"
    if ((BUILD)); then
        "$ROOT/cross/build.sh" >&2 || fail "cross/build.sh failed"
    fi
    STRIP=aarch64-linux-gnu-strip
fi
[[ -x "$BINARY" ]] || fail "no binary at $BINARY (run without --skip-build)"
MODEL="$ROOT/models/default.dmdl"
[[ -f "$MODEL" ]] || fail "no default model at $MODEL"

# --- the tree -----------------------------------------------------------------------------
WORK="$OUT/$ARCH"
TREE="$WORK/root"
rm -rf "$WORK"
mkdir -p "$TREE/DEBIAN" "$OUT"
put() {  # put MODE SOURCE DEST (DEST under the tree)
    install -D -m "$1" "$2" "$TREE/$3"
}
"$STRIP" --remove-section=.comment --remove-section=.note --strip-unneeded -o "$WORK/dactyl" "$BINARY"
put 0755 "$WORK/dactyl" usr/bin/dactyl
put 0644 "$MODEL" usr/share/dactyl/default.dmdl
for profile in "$ROOT"/board/*.conf; do
    put 0644 "$profile" "usr/share/dactyl/board/$(basename "$profile")"
done
put 0755 "$ROOT/board/usb-keyboard-gadget.sh" usr/lib/dactyl/usb-keyboard-gadget.sh
put 0644 "$HERE/box.conf" etc/dactyl/box.conf
put 0644 "$HERE/dactyl.service" lib/systemd/system/dactyl.service
put 0644 "$HERE/dactyl-usb-keyboard.service" lib/systemd/system/dactyl-usb-keyboard.service
put 0644 "$HERE/60-dactyl.rules" lib/udev/rules.d/60-dactyl.rules
DOC=usr/share/doc/dactyl
put 0644 "$HERE/debian/copyright" "$DOC/copyright"
for doc in raspberry-pi.md raspberry-pi-wiring.svg sinks.md serial-protocol.md; do
    [[ -f "$ROOT/docs/$doc" ]] && put 0644 "$ROOT/docs/$doc" "$DOC/$doc"
done
put 0644 "$ROOT/board/README.md" "$DOC/board-profiles.md"
put 0644 "$HERE/debian/lintian-overrides" usr/share/lintian/overrides/dactyl
mkdir -p "$TREE/usr/share/man/man1"
gzip -9n < "$HERE/dactyl.1" > "$TREE/usr/share/man/man1/dactyl.1.gz"
{
    echo "dactyl ($DEB_VERSION) unstable; urgency=medium"
    echo
    echo "  * Package of dactyl $VERSION: the binary, the default model, the board profiles,"
    echo "    /etc/dactyl/box.conf and the dactyl service."
    echo
    echo " -- Dactyl maintainers <dactyl@example.org>  $(date -u -R -d "@$SOURCE_DATE_EPOCH")"
} | gzip -9n > "$TREE/$DOC/changelog.Debian.gz"
chmod 0644 "$TREE/$DOC/changelog.Debian.gz" "$TREE/usr/share/man/man1/dactyl.1.gz"
find "$TREE" -type d -exec chmod 0755 {} +

# --- Depends ------------------------------------------------------------------------------
needed() { readelf -dW "$TREE/usr/bin/dactyl" | sed -n 's/.*(NEEDED).*\[\(.*\)\]/\1/p'; }
if [[ "$ARCH" == amd64 ]]; then
    mkdir -p "$WORK/shlibdeps/debian"
    printf 'Source: dactyl\n\nPackage: dactyl\nArchitecture: any\n' > "$WORK/shlibdeps/debian/control"
    SHLIBS="$(cd "$WORK/shlibdeps" && dpkg-shlibdeps -O -e "$TREE/usr/bin/dactyl" 2>"$WORK/shlibdeps.log")" \
        || { cat "$WORK/shlibdeps.log" >&2; fail "dpkg-shlibdeps failed"; }
    DEPENDS="${SHLIBS#shlibs:Depends=}"
else
    ARCHIVES="$ROOT/cross/.cache/apt-arm64/cache/archives"
    [[ -d "$ARCHIVES" ]] || fail "no arm64 .debs in $ARCHIVES (cross/sysroot.sh makes them)"
    shlibs="$WORK/arm64.shlibs"
    for deb in "$ARCHIVES"/*.deb; do
        dpkg-deb --ctrl-tarfile "$deb" | tar -xO ./shlibs 2>/dev/null || true
    done | grep -v '^#' > "$shlibs"
    deps=()
    while read -r soname; do
        case "$soname" in
            libc.so.6|libm.so.6|ld-linux-aarch64.so.1)
                glibc="$(readelf -VW "$TREE/usr/bin/dactyl" | grep -oE 'GLIBC_[0-9]+\.[0-9]+' | sed 's/GLIBC_//' | sort -uV | tail -n 1)"
                deps+=("libc6 (>= $glibc)") ;;
            *)
                # libfoo.so.N -> the shlibs line "libfoo N package (>= version)"
                name="${soname%.so.*}"; major="${soname##*.so.}"
                dep="$(awk -v n="$name" -v m="$major" '$1 == n && $2 == m { $1 = ""; $2 = ""; sub(/^ +/, ""); print; exit }' "$shlibs")"
                [[ -n "$dep" ]] || fail "no arm64 package in $ARCHIVES provides $soname"
                deps+=("$dep") ;;
        esac
    done < <(needed)
    DEPENDS="$(printf '%s\n' "${deps[@]}" | sort -u | paste -sd, | sed 's/,/, /g')"
fi
DEPENDS="adduser, $DEPENDS"

# --- control ------------------------------------------------------------------------------
INSTALLED_SIZE="$(du -sk --exclude=DEBIAN "$TREE" | cut -f1)"
cat > "$TREE/DEBIAN/control" <<EOF
Package: dactyl
Version: $DEB_VERSION
Architecture: $ARCH
Maintainer: Dactyl maintainers <dactyl@example.org>
Installed-Size: $INSTALLED_SIZE
Depends: $DEPENDS
Section: misc
Priority: optional
Description: live fingerspelling recognition for a camera box
 Dactyl watches a signer's hand through a camera, recognises the letters being
 fingerspelled (an int8 ResNet encoder per frame, a 1D-CNN and BiGRU head, CTC
 decoding) and sends each finished word to a serial device, GPIO LEDs, a USB
 keyboard or standard output.
 .
 This package runs it as the dactyl service at boot, as the system user dactyl,
 with the board profile in /etc/dactyl/box.conf; it brings the default model,
 board profiles for the Raspberry Pi 5, Pi 4, Zero 2 W and a PC, and the USB
 keyboard gadget set-up (dactyl-usb-keyboard.service).
EOF
echo /etc/dactyl/box.conf > "$TREE/DEBIAN/conffiles"
for script in postinst prerm postrm; do
    install -m 0755 "$HERE/debian/$script" "$TREE/DEBIAN/$script"
done
(cd "$TREE" && find . -path ./DEBIAN -prune -o -path ./etc -prune -o -type f -printf '%P\n' | LC_ALL=C sort \
    | xargs md5sum) > "$TREE/DEBIAN/md5sums"
chmod 0644 "$TREE/DEBIAN/control" "$TREE/DEBIAN/conffiles" "$TREE/DEBIAN/md5sums"

DEB="$OUT/dactyl_${DEB_VERSION}_$ARCH.deb"
dpkg-deb --root-owner-group -Zxz --build "$TREE" "$DEB.tmp" >/dev/null
mv -f "$DEB.tmp" "$DEB"
echo "build-deb.sh: $DEB ($(stat -c %s "$DEB") bytes; Depends: $DEPENDS)" >&2
echo "$DEB"
