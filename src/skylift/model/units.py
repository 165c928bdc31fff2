"""One byte-unit convention for everything skylift prints: binary units, IEC names.

The clouds set their limits in binary units (Exchange Online's 35 MB message limit is
36,700,160 bytes, 35 MiB), and ``--max-size 35M`` parses the same way, so printing sizes in
the same unit means a number on screen can be compared with a limit without arithmetic.
"""

from __future__ import annotations

UNITS = ("B", "KiB", "MiB", "GiB", "TiB", "PiB")


def human_bytes(size: float) -> str:
    """``36700160`` -> ``"35.0 MiB"``; whole bytes below 1 KiB."""
    value = float(size)
    for unit in UNITS:
        if abs(value) < 1024 or unit == UNITS[-1]:
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    raise AssertionError("unreachable")
