"""Domain events (blinker). Lower layers announce; higher layers (notifications, reports) subscribe."""

from __future__ import annotations

from blinker import Namespace

sinergi_signals = Namespace()

# sender: the case; kwargs: action, actor, before, after, session
case_transitioned = sinergi_signals.signal("case-transitioned")
# sender: the intervention; kwargs: action, actor, session
intervention_changed = sinergi_signals.signal("intervention-changed")
