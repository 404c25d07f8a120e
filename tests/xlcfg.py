"""Xen's own domain-config parser (libxlutil, the grammar `xl create` uses), through ctypes.

No hypervisor is needed to parse; this is the real judge of whether a cfg file is valid.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import tempfile
from pathlib import Path

_lib = ctypes.CDLL("libxlutil.so.4.17")
_libc = ctypes.CDLL(ctypes.util.find_library("c"))
_libc.fopen.restype = ctypes.c_void_p
_libc.fopen.argtypes = [ctypes.c_char_p, ctypes.c_char_p]
_libc.fclose.argtypes = [ctypes.c_void_p]
_lib.xlu_cfg_init.restype = ctypes.c_void_p
_lib.xlu_cfg_init.argtypes = [ctypes.c_void_p, ctypes.c_char_p]
_lib.xlu_cfg_readfile.argtypes = [ctypes.c_void_p, ctypes.c_char_p]
_lib.xlu_cfg_destroy.argtypes = [ctypes.c_void_p]
_lib.xlu_cfg_get_string.argtypes = [ctypes.c_void_p, ctypes.c_char_p, ctypes.POINTER(ctypes.c_char_p),
                                    ctypes.c_int]
_lib.xlu_cfg_get_list.argtypes = [ctypes.c_void_p, ctypes.c_char_p, ctypes.POINTER(ctypes.c_void_p),
                                  ctypes.POINTER(ctypes.c_int), ctypes.c_int]
_lib.xlu_cfg_get_listitem.restype = ctypes.c_char_p
_lib.xlu_cfg_get_listitem.argtypes = [ctypes.c_void_p, ctypes.c_int]


class XenCfgError(Exception):
    pass


def parse(path: Path | str, strings: tuple[str, ...] = ("name", "memory", "vcpus", "bootloader", "root"),
          lists: tuple[str, ...] = ("disk", "vif")) -> dict:
    """Parse PATH with libxlutil; return the named string settings and lists (absent ones left out)."""
    with tempfile.NamedTemporaryFile("r") as report:
        fp = _libc.fopen(report.name.encode(), b"w")
        cfg = _lib.xlu_cfg_init(fp, str(path).encode())
        try:
            rc = _lib.xlu_cfg_readfile(cfg, str(path).encode())
            _libc.fclose(fp)
            if rc != 0:
                raise XenCfgError(f"{path}: libxlutil cannot parse it: {report.read().strip()}")
            out: dict = {}
            for key in strings:
                value = ctypes.c_char_p()
                if _lib.xlu_cfg_get_string(cfg, key.encode(), ctypes.byref(value), 1) == 0:
                    out[key] = value.value.decode()
            for key in lists:
                lst, n = ctypes.c_void_p(), ctypes.c_int()
                if _lib.xlu_cfg_get_list(cfg, key.encode(), ctypes.byref(lst), ctypes.byref(n), 1) == 0:
                    out[key] = [_lib.xlu_cfg_get_listitem(lst, i).decode() for i in range(n.value)]
            return out
        finally:
            _lib.xlu_cfg_destroy(cfg)
