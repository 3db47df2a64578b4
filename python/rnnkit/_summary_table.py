"""The text of ``summary()``, Keras's layout: one table for Sequential models and functional
graphs alike (their rows differ: the graph adds a "Connected to" column)."""

from __future__ import annotations

from collections.abc import Sequence

__all__ = ["format_summary"]


def format_summary(
    name: str, rows: Sequence[Sequence[str]], line_length: int | None, total: int, trainable: int
) -> str:
    """``rows`` (the header first) laid out in columns, the last column as wide as it needs;
    spare room up to ``line_length`` goes to the first (name) column; the parameter totals
    below."""
    last = len(rows[0]) - 1
    widths = [max(len(row[i]) for row in rows) + 3 for i in range(last)]
    width = sum(widths) + max(len(row[last]) for row in rows)
    if line_length is not None and line_length > width:
        widths[0] += line_length - width
        width = line_length

    def fmt(row: Sequence[str]) -> str:
        cells = "".join(f"{cell:<{w}}" for cell, w in zip(row, widths))
        return (cells + row[last]).rstrip()

    lines = [f'Model: "{name}"', "_" * width, fmt(rows[0]), "=" * width]
    for i, row in enumerate(rows[1:]):
        lines.append(fmt(row))
        if i < len(rows) - 2:
            lines.append("_" * width)
    lines += [
        "=" * width,
        f"Total params: {total:,}",
        f"Trainable params: {trainable:,}",
        f"Non-trainable params: {total - trainable:,}",
        "_" * width,
    ]
    return "\n".join(lines)
