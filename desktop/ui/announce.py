"""Say a change out loud to a screen reader: a banner that appears or a scan that ends moves no focus,
so without an announcement a screen-reader user never hears of it."""

from __future__ import annotations

from PySide6.QtGui import QAccessible, QAccessibleAnnouncementEvent
from PySide6.QtWidgets import QWidget


def announce(widget: QWidget, text: str, assertive: bool = False) -> None:
    """Announce ``text`` on behalf of ``widget``; ``assertive`` interrupts what is being read (an alert),
    polite waits its turn (a scan finished). Nothing happens while no assistive technology listens."""
    if not text or not QAccessible.isActive():
        return
    event = QAccessibleAnnouncementEvent(widget, text)
    event.setPoliteness(QAccessible.AnnouncementPoliteness.Assertive if assertive
                        else QAccessible.AnnouncementPoliteness.Polite)
    QAccessible.updateAccessibility(event)
