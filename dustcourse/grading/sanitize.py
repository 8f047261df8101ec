"""Student content made safe to show in a web page: sanitised HTML, rendered Markdown,
images as ``data:`` URIs, plain text.

Everything a student can influence (their outputs, the Markdown they write, a cell's
metadata) is hostile. Pages built from it (``feedback.py``) pass HTML only through
:func:`clean_html`, which keeps a list of harmless tags and attributes (nh3, the Python
binding of the Ammonia sanitiser): no script, event handler, style, frame, form, meta,
object or embed survives, links keep only ``http``, ``https``, ``mailto`` and in-page
targets, and images only ``data:`` URIs of raster formats, so nothing on the page loads
anything. The page's Content-Security-Policy (``pages.py``) forbids the same things a
second time.
"""

from __future__ import annotations

import base64
import binascii
import re

import nh3
from markupsafe import Markup

# Ammonia's defaults, less image maps (their links escape the checks below)
TAGS = set(nh3.ALLOWED_TAGS) - {"area", "map"}
ATTRIBUTES = {tag: set(attrs) for tag, attrs in nh3.ALLOWED_ATTRIBUTES.items()
              if tag not in ("area", "map")}
LINK = re.compile(r"^(https?:|mailto:|#)", re.IGNORECASE)
RASTER = ("image/png", "image/jpeg", "image/gif", "image/webp")
DATA_IMAGE = re.compile(r"^data:(image/(?:png|jpeg|gif|webp));base64,([A-Za-z0-9+/=\s]+)$")
ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]|\x1b\][^\x07]*\x07")


def _attribute(tag: str, attribute: str, value: str) -> str | None:
    """Keep a link only to the web, mail or this page, an image only as inline data."""
    value = value.strip()
    if tag == "a" and attribute == "href":
        return value if LINK.match(value) else None
    if tag == "img" and attribute == "src":
        return value if DATA_IMAGE.match(value) else None
    return value


def clean_html(fragment: str) -> Markup:
    """``fragment`` with everything that could run, load or submit anything removed."""
    return Markup(nh3.clean(
        str(fragment),
        tags=TAGS,
        clean_content_tags={"script", "style"},
        attributes=ATTRIBUTES,
        attribute_filter=_attribute,
        url_schemes={"http", "https", "mailto", "data"},  # data: only for images, above
        strip_comments=True,
        link_rel="noopener noreferrer nofollow",
    ))


def markdown_html(text: str, attachments: dict | None = None) -> Markup:
    """Markdown (a cell's source) rendered and sanitised. Math stays as written (no
    script renders it); ``attachment:`` images become ``data:`` URIs when the cell
    carries them."""
    from markdown_it import MarkdownIt

    md = MarkdownIt("commonmark", {"html": True}).enable("table").enable("strikethrough")
    rendered = md.render(str(text))
    for name, bundle in (attachments or {}).items():
        uri = image_uri(bundle)
        if uri:
            rendered = rendered.replace(f'"attachment:{name}"', f'"{uri}"')
    return clean_html(rendered)


def image_uri(bundle: dict) -> str | None:
    """A ``data:`` URI for the first raster image of a mime bundle, if its data is
    valid base64; else None. SVG goes through :func:`svg_uri`."""
    for mime in RASTER:
        data = bundle.get(mime)
        if isinstance(data, list):
            data = "".join(data)
        if isinstance(data, str):
            compact = re.sub(r"\s+", "", data)
            try:
                base64.b64decode(compact, validate=True)
            except (binascii.Error, ValueError):
                continue
            return f"data:{mime};base64,{compact}"
    return None


def svg_uri(svg: str) -> str:
    """An SVG as a ``data:`` URI for an ``<img>``: a browser runs no script and loads
    nothing from an SVG shown as an image."""
    return "data:image/svg+xml;base64," + base64.b64encode(str(svg).encode()).decode()


def plain(text) -> str:
    """Text of an output (string or list of lines) without terminal colour codes."""
    if isinstance(text, list):
        text = "".join(text)
    return ANSI.sub("", str(text))
