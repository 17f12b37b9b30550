"""The receiver's verification snippet in docs/api.md accepts what the shop signs, and only that."""

from __future__ import annotations

import re
import time
from pathlib import Path
from typing import Any

from utils import signing

API_DOC = Path(__file__).resolve().parents[3] / "docs" / "api.md"


def _snippet_verify() -> Any:
    text = API_DOC.read_text()
    block = re.search(r"```python\n(import hashlib, hmac, time\n.*?)```", text, re.S)
    assert block, "the verification snippet is missing from docs/api.md"
    namespace: dict[str, Any] = {}
    exec(compile(block.group(1), "docs/api.md", "exec"), namespace)
    return namespace["verify"]


def test_the_documented_verification_agrees_with_the_signer() -> None:
    verify = _snippet_verify()
    body = b'{"id":"0b7c","type":"order.paid"}'
    header = signing.signature_header(body=body, secret="whsec_doc")
    assert verify(body, header, "whsec_doc")
    assert not verify(body + b" ", header, "whsec_doc")
    assert not verify(body, header, "whsec_other")
    stale = signing.signature_header(
        body=body, secret="whsec_doc", timestamp=int(time.time()) - 400
    )
    assert not verify(body, stale, "whsec_doc")
    assert not verify(body, "garbage", "whsec_doc")
