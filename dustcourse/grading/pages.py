"""The HTML pages grading writes (instructor report, student feedback): Jinja2
templates with autoescaping, and the Content-Security-Policy every page carries.

Templates live in ``dustcourse/grading/templates/`` (package data). Autoescaping is on
for every template, so a value is escaped unless it was made safe on purpose: only
:mod:`.sanitize` and the pages' own constant CSS produce ``Markup``.

The policy (a ``<meta http-equiv>`` first in ``<head>``) allows no script at all, no
request of any kind except images (``data:`` URIs, and for the report its own plot
files beside it), and only the page's own style sheet, by its hash.
"""

from __future__ import annotations

import base64
import hashlib
from functools import cache

from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape


@cache
def environment() -> Environment:
    return Environment(
        loader=PackageLoader("dustcourse.grading", "templates"),
        autoescape=select_autoescape(default=True, default_for_string=True),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )


def style_hash(css: str) -> str:
    return "'sha256-" + base64.b64encode(hashlib.sha256(css.encode()).digest()).decode() + "'"


def content_security_policy(css: str, images: str = "data:") -> str:
    """No script, no frame, no form, no connection; images from ``images`` only; the
    one inline style sheet ``css`` (by hash)."""
    return "; ".join([
        "default-src 'none'",
        "script-src 'none'",
        "object-src 'none'",
        "base-uri 'none'",
        "form-action 'none'",
        f"img-src {images}",
        f"style-src {style_hash(css)}",
    ])


def render(template: str, **context) -> str:
    return environment().get_template(template).render(**context)
