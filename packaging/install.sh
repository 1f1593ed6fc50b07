#!/bin/sh
# Jacobian Scopes Desktop: add this unpacked folder to your applications menu (no root needed).
#   ./install.sh              menu entry + icon for the current user, and `jscope-desktop` in ~/.local/bin
#   ./install.sh --uninstall  remove them again (this folder itself is left alone)
# It also checks the system libraries the window needs and says how to install missing ones.
set -eu
HERE=$(cd "$(dirname "$0")" && pwd)
DATA=${XDG_DATA_HOME:-$HOME/.local/share}
APPS="$DATA/applications"
MIME="$DATA/mime"
ICONS="$DATA/icons/hicolor"
BIN="$HOME/.local/bin"
# Filled in by packaging/build.sh from jscope_desktop/app/start/syslibs.py (library:package pairs).
LIBS="@LIBS@"

refresh() {
    command -v update-mime-database >/dev/null 2>&1 && update-mime-database "$MIME" >/dev/null 2>&1 || true
    command -v update-desktop-database >/dev/null 2>&1 && update-desktop-database -q "$APPS" || true
    command -v gtk-update-icon-cache >/dev/null 2>&1 && gtk-update-icon-cache -q -t "$ICONS" || true
}

if [ "${1:-}" = "--uninstall" ]; then
    rm -f "$APPS/jscope-desktop.desktop" "$BIN/jscope-desktop" "$MIME/packages/jscope-desktop.xml"
    rm -f "$ICONS"/*/apps/jscope-desktop.png
    refresh
    echo "Removed the menu entry. To remove the app itself, delete the folder $HERE"
    exit 0
fi

mkdir -p "$APPS" "$BIN" "$MIME/packages"
# The session file type (*.jscope.json): a double-click opens it with the app.
cp "$HERE/share/jscope-desktop-mime.xml" "$MIME/packages/jscope-desktop.xml"
for png in "$HERE"/share/icons/*.png; do
    size=$(basename "$png" .png)
    mkdir -p "$ICONS/$size/apps"
    cp "$png" "$ICONS/$size/apps/jscope-desktop.png"
done
# A small launcher script rather than a link, so the folder can have any name.
printf '#!/bin/sh\nexec "%s/jscope-desktop" "$@"\n' "$HERE" > "$BIN/jscope-desktop"
chmod +x "$BIN/jscope-desktop"
# Exec gets the full path, quoted, so a folder with spaces works.
sed "s|^Exec=.*|Exec=\"$HERE/jscope-desktop\" %f|" "$HERE/share/jscope-desktop.desktop" \
    > "$APPS/jscope-desktop.desktop"
if command -v desktop-file-validate >/dev/null 2>&1; then
    desktop-file-validate "$APPS/jscope-desktop.desktop"
fi
refresh
echo "Added Jacobian Scopes Desktop to your applications menu (and jscope-desktop to $BIN)."

missing=""
for pair in $LIBS; do
    lib=${pair%%:*}
    pkg=${pair#*:}
    if [ ! -e "$HERE/_internal/$lib" ] && ! /sbin/ldconfig -p 2>/dev/null | grep -q "$lib"; then
        missing="$missing $pkg"
    fi
done
if [ -n "$missing" ]; then
    echo
    echo "The window needs system libraries that are missing. Install them first; on Debian or Ubuntu:"
    echo "    sudo apt install$missing"
    exit 1
fi
