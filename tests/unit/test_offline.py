"""The data and both bundled models load with the network blocked."""
from __future__ import annotations

import os
import subprocess
import sys
import textwrap

import pytest

pytestmark = pytest.mark.slow

SCRIPT = textwrap.dedent(
    """
    import socket
    def blocked(*a, **k):
        raise OSError("network blocked by test_offline")
    socket.socket.connect = blocked
    socket.socket.connect_ex = blocked
    socket.create_connection = blocked
    socket.getaddrinfo = blocked

    import recnb
    ds = recnb.load_dataset("movielens-small")
    assert len(ds.items) > 9000 and len(ds.ratings) > 100000
    enc = recnb.load_encoder("minilm")
    assert enc.encode(["a film"]).shape == (1, 384)
    llm = recnb.load_llm("smollm2-135m")
    assert llm.score("I like", [" movies"]).shape == (1,)
    assert isinstance(llm.generate(llm.chat_prompt("Hi"), max_new_tokens=2), str)
    print("OFFLINE-OK")
    """
)


def test_data_and_models_load_with_network_blocked():
    env = {k: v for k, v in os.environ.items() if k not in ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE")}
    proc = subprocess.run([sys.executable, "-c", SCRIPT], env=env, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0 and "OFFLINE-OK" in proc.stdout, proc.stderr[-3000:]
