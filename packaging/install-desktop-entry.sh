#!/bin/sh
# Adds SynthSpot to this user's application menu (no root needed): run it from the unpacked folder.
# Run it again after moving the folder (the entry names the folder). --uninstall removes the entry and icon.
set -eu
here=$(CDPATH= cd -- "$(dirname -- "$0")" && pwd)  # CDPATH would make cd print the folder a second time
data=${XDG_DATA_HOME:-$HOME/.local/share}
entry="$data/applications/synthspot.desktop"
icon="$data/icons/hicolor/256x256/apps/synthspot.png"
refresh() {
    if command -v update-desktop-database >/dev/null 2>&1; then
        update-desktop-database -q "$data/applications" || true
    else
        echo "note: update-desktop-database was not found (package desktop-file-utils): the menu entry works, but" \
             "file managers may not offer SynthSpot under Open with until it runs" >&2
    fi
}
if [ "${1:-}" = "--uninstall" ]; then
    rm -f "$entry" "$icon"
    [ -d "$data/applications" ] && refresh
    echo "SynthSpot removed from the application menu"
    exit 0
fi
case "$here" in
    *'
'*) echo "error: the folder's path holds a line break, which a menu entry cannot name: move it elsewhere" >&2
        exit 1 ;;
esac
# The Desktop Entry spec: inside a quoted Exec argument, \ " ` $ take a backslash; the value's own string
# escaping then doubles every backslash; % is a field code unless doubled. TryExec is a plain string.
quoted=$(printf '%s' "$here/synthspot" | sed -e 's/[\\"`$]/\\&/g' -e 's/\\/\\\\/g' -e 's/%/%%/g')
plain=$(printf '%s' "$here/synthspot" | sed -e 's/\\/\\\\/g')
mkdir -p "$data/applications" "$(dirname "$icon")"
cp "$here/synthspot.png" "$icon"
# Written aside, then moved into place: an interrupted run never leaves half an entry.
temporary="$entry.tmp.$$"
trap 'rm -f "$temporary"' EXIT
while IFS= read -r line || [ -n "$line" ]; do
    case "$line" in
        Exec=synthspot*) printf 'Exec="%s"%s\n' "$quoted" "${line#Exec=synthspot}" ;;
        TryExec=synthspot) printf 'TryExec=%s\n' "$plain" ;;
        *) printf '%s\n' "$line" ;;
    esac
done < "$here/synthspot.desktop" > "$temporary"
mv "$temporary" "$entry"
refresh
echo "SynthSpot added to the application menu ($entry)"
