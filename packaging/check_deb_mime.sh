#!/bin/sh
# After `make bundle`: unpack the .deb (no root, nothing installed) and check, as a file manager
# would ask xdg-mime, that it registers the session type and makes the app its default.
#   packaging/check_deb_mime.sh dist/jscope-desktop_<version>_amd64.deb
set -eu
DEB=${1:?the .deb to check}
for tool in dpkg-deb xdg-mime update-mime-database update-desktop-database; do
    if ! command -v "$tool" >/dev/null; then
        echo "check_deb_mime: $tool missing; skipped"
        exit 0
    fi
done
ROOT=$(mktemp -d)
trap 'rm -rf "$ROOT"' EXIT
dpkg-deb -x "$DEB" "$ROOT"
SHARE="$ROOT/usr/share"
mkdir -p "$SHARE/mime/packages" "$SHARE/applications"
update-mime-database "$SHARE/mime" >/dev/null 2>&1
update-desktop-database -q "$SHARE/applications"
touch "$ROOT/run.jscope.json"
export HOME="$ROOT" XDG_DATA_HOME="$ROOT/none" XDG_DATA_DIRS="$SHARE:/usr/share"
TYPE=$(xdg-mime query filetype "$ROOT/run.jscope.json")
APP=$(xdg-mime query default application/x-jscope-session)
if [ "$TYPE" != "application/x-jscope-session" ] || [ "$APP" != "jscope-desktop.desktop" ]; then
    echo "check_deb_mime: the .deb does not register the session type (type: $TYPE, app: $APP)"
    exit 1
fi
for script in postinst postrm; do
    dpkg-deb -I "$DEB" "$script" | grep -q update-mime-database \
        || { echo "check_deb_mime: its $script does not refresh the MIME database"; exit 1; }
done
echo "check_deb_mime: a double-click on a .jscope.json opens jscope-desktop.desktop"
