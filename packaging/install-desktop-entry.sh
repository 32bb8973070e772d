#!/bin/sh
# Adds SynthSpot to this user's application menu (no root needed): run it from the unpacked folder.
# Undo: rm ~/.local/share/applications/synthspot.desktop ~/.local/share/icons/hicolor/256x256/apps/synthspot.png
set -eu
here=$(cd "$(dirname "$0")" && pwd)
data=${XDG_DATA_HOME:-$HOME/.local/share}
mkdir -p "$data/applications" "$data/icons/hicolor/256x256/apps"
cp "$here/synthspot.png" "$data/icons/hicolor/256x256/apps/synthspot.png"
# The menu entry must name the executable by its absolute path: the folder is not on PATH.
sed -e "s|^Exec=synthspot|Exec=\"$here/synthspot\"|" -e "s|^TryExec=synthspot|TryExec=$here/synthspot|" \
    "$here/synthspot.desktop" > "$data/applications/synthspot.desktop"
command -v update-desktop-database >/dev/null 2>&1 && update-desktop-database -q "$data/applications" || true
echo "SynthSpot added to the application menu ($data/applications/synthspot.desktop)"
