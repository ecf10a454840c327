"""Process set-up done by ``bot.wiring`` for the long-running bot."""

from __future__ import annotations

import platform
import subprocess
import sys
import textwrap

import pytest


@pytest.mark.skipif(
    platform.system() != "Linux" or platform.libc_ver()[0] != "glibc", reason="glibc only"
)
def test_malloc_arenas_are_capped_in_a_fresh_process() -> None:
    # A fresh interpreter: the cap must come before any thread makes its own arena.
    code = textwrap.dedent(
        """
        import ctypes, threading
        from bot.wiring import limit_malloc_arenas
        assert limit_malloc_arenas(1) is True
        def churn():
            blocks = [bytearray(4096) for _ in range(2000)]
            del blocks
        threads = [threading.Thread(target=churn) for _ in range(4)]
        for t in threads: t.start()
        for t in threads: t.join()
        libc = ctypes.CDLL("libc.so.6")
        libc.malloc_info.argtypes = [ctypes.c_int, ctypes.c_void_p]
        fopen = libc.fopen; fopen.restype = ctypes.c_void_p
        import tempfile, os
        path = os.path.join(tempfile.mkdtemp(), "m.xml")
        fh = fopen(path.encode(), b"w")
        libc.malloc_info(0, fh)
        libc.fclose.argtypes = [ctypes.c_void_p]; libc.fclose(fh)
        print(open(path).read().count("<heap nr="))
        """
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60
    )
    assert out.stdout.strip() == "1"
