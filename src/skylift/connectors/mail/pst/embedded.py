"""Reach an Outlook message attached to another one (attachment method 5) through libpff.

libpff itself opens such an embedded message (``libpff_attachment_get_item``), but the Python
binding does not offer that call. Both it and ``pypff_item_create`` (which wraps a libpff item
as a ``pypff.message``) are exported by the binding's shared library, so they are called here
with ctypes. The libpff item of an attachment object is the first field after the Python
object header (``pypff_item_t``); before using it, its node id is read back through libpff and
compared with the attachment's (and the object must have one of the two sizes that layout has
had), so a binding with another layout gives ``None`` (the caller then writes a placeholder
part) rather than a crash.
"""

from __future__ import annotations

import ctypes
import functools
import logging
from typing import Any

import pypff

log = logging.getLogger(__name__)

_VOID_P = ctypes.c_void_p


class _Library:
    """The libpff and binding functions used here, with their C signatures."""

    def __init__(self, library: ctypes.PyDLL) -> None:
        self.get_item = library.libpff_attachment_get_item
        self.get_item.argtypes = [_VOID_P, ctypes.POINTER(_VOID_P), ctypes.POINTER(_VOID_P)]
        self.get_item.restype = ctypes.c_int
        self.identifier = library.libpff_item_get_identifier
        self.identifier.argtypes = [
            _VOID_P,
            ctypes.POINTER(ctypes.c_uint32),
            ctypes.POINTER(_VOID_P),
        ]
        self.identifier.restype = ctypes.c_int
        self.free_error = library.libpff_error_free
        self.free_error.argtypes = [ctypes.POINTER(_VOID_P)]
        self.free_error.restype = None
        self.wrap = library.pypff_item_create
        self.wrap.argtypes = [_VOID_P, ctypes.py_object]
        self.wrap.restype = ctypes.py_object

    def clear(self, error: ctypes.c_void_p) -> None:
        if error.value:
            self.free_error(ctypes.byref(error))


@functools.cache
def _library() -> _Library | None:
    try:
        # PyDLL keeps the GIL held: pypff_item_create builds Python objects.
        return _Library(ctypes.PyDLL(pypff.__file__))
    except (OSError, AttributeError) as exc:
        log.info("embedded Outlook messages are not reachable in this libpff-python: %s", exc)
        return None


# pypff_item_t: the object header, then the libpff item, (since 2026) the record set, the
# parent object. Another size means another layout: then the pointer is not read at all.
_POINTER = ctypes.sizeof(_VOID_P)
_KNOWN_SIZES = (object.__basicsize__ + 2 * _POINTER, object.__basicsize__ + 3 * _POINTER)


def _libpff_item(library: _Library, attachment: Any) -> int | None:
    """The attachment's libpff_item_t pointer, checked against its node id."""
    if not isinstance(attachment, pypff.attachment):
        return None
    if type(attachment).__basicsize__ not in _KNOWN_SIZES:
        return None
    pointer = _VOID_P.from_address(id(attachment) + object.__basicsize__).value
    if not pointer:
        return None
    value, error = ctypes.c_uint32(), _VOID_P()
    ok = library.identifier(pointer, ctypes.byref(value), ctypes.byref(error))
    library.clear(error)
    if ok != 1 or value.value != attachment.identifier:
        return None
    return pointer


def embedded_message(attachment: Any) -> Any | None:
    """The ``pypff.message`` attached as an Outlook item, or None when it cannot be opened."""
    library = _library()
    if library is None:
        return None
    pointer = _libpff_item(library, attachment)
    if pointer is None:
        return None
    item, error = _VOID_P(), _VOID_P()
    ok = library.get_item(pointer, ctypes.byref(item), ctypes.byref(error))
    library.clear(error)
    if ok != 1 or not item.value:
        return None
    try:
        message = library.wrap(item.value, attachment)  # the wrapper owns and frees the item
    except (OSError, MemoryError, TypeError):
        return None  # a failed wrap may have freed the item already: never free it twice
    return message if isinstance(message, pypff.message) else None
