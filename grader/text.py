"""Text that came from student code, made safe for every writer.

Anything a submission controls (exception messages, printed output, reprs, file and
folder names) may hold lone surrogates (from invalid UTF-8, or written as "\\ud800"),
which no UTF-8 writer accepts, and control characters, which a terminal obeys.
clean_text is applied where such text enters the grader; terminal_text where it
leaves for a terminal.
"""
import re

_SURROGATES = re.compile("[\ud800-\udfff]")
# C0 controls but tab and newline, DEL, C1 controls, and the marks that reorder text.
_CONTROLS = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u200e\u200f\u202a-\u202e\u2066-\u2069]")


def clean_text(text):
    """text with each lone surrogate written out as \\udXXX: encodable as UTF-8 everywhere."""
    if not _SURROGATES.search(text):
        return text
    return _SURROGATES.sub(lambda match: f"\\u{ord(match.group()):04x}", text)


def terminal_text(text):
    """clean_text, with every control character but tab and newline written out (\\x1b):
    nothing a submission printed can move the cursor or repaint a terminal."""
    text = clean_text(str(text))
    if not _CONTROLS.search(text):
        return text
    return _CONTROLS.sub(lambda match: f"\\x{ord(match.group()):02x}" if ord(match.group()) < 0x100
                         else f"\\u{ord(match.group()):04x}", text)


def clean_data(value):
    """A JSON-like value with every string in it cleaned (for results.json)."""
    if isinstance(value, str):
        return clean_text(value)
    if isinstance(value, dict):
        return {clean_data(key): clean_data(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [clean_data(item) for item in value]
    return value
