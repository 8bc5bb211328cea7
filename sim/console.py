"""The two consoles every command prints to: ``out`` for results, ``err`` for messages
and progress."""

from __future__ import annotations

from rich.console import Console

# soft_wrap: a message is never broken inside a path (tables still fit the width)
err = Console(stderr=True, highlight=False, soft_wrap=True)
out = Console(highlight=False, soft_wrap=True)
