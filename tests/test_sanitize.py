"""The sanitiser of student content (dustcourse.grading.sanitize) on an XSS cheat
sheet: nothing that can run a script, load a resource, submit a form or navigate the
page by itself survives; ordinary formatting does."""

from __future__ import annotations

from html.parser import HTMLParser

import pytest

from dustcourse.grading.sanitize import clean_html, image_uri, markdown_html, svg_uri

PNG = ("iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQ"
       "AAAABJRU5ErkJggg==")

ATTACKS = {
    "script": '<script>alert(1)</script>',
    "script, uppercase and split": '<SCRIPT SRC=https://evil.example/x.js></SCRIPT>',
    "img onerror": '<img src=x onerror=alert(1)>',
    "img onerror, no quotes": '<img src=x onerror=alert`1`>',
    "img remote": '<img src="https://evil.example/track.png">',
    "img srcset": '<img srcset="https://evil.example/a.png 1x">',
    "javascript: link": '<a href="javascript:alert(1)">x</a>',
    "javascript: link, entity": '<a href="jav&#x09;ascript:alert(1)">x</a>',
    "javascript: link, case": '<a href="JaVaScRiPt:alert(1)">x</a>',
    "vbscript: link": '<a href="vbscript:msgbox(1)">x</a>',
    "data: html link": '<a href="data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==">x</a>',
    "svg onload": '<svg onload=alert(1)><circle r=1 /></svg>',
    "svg script": '<svg><script>alert(1)</script></svg>',
    "svg animate": '<svg><animate onbegin=alert(1) attributeName=x dur=1s>',
    "iframe": '<iframe src="https://evil.example/"></iframe>',
    "iframe srcdoc": '<iframe srcdoc="<script>alert(1)</script>"></iframe>',
    "iframe data": '<iframe src="data:text/html,<script>alert(1)</script>"></iframe>',
    "object": '<object data="data:text/html,<script>alert(1)</script>"></object>',
    "embed": '<embed src="https://evil.example/x.swf">',
    "style url": '<div style="background:url(https://evil.example/bg.png)">x</div>',
    "style element": '<style>@import url(https://evil.example/x.css); body{}</style>',
    "link stylesheet": '<link rel=stylesheet href="https://evil.example/x.css">',
    "meta refresh": '<meta http-equiv="refresh" content="0;url=https://evil.example/">',
    "base": '<base href="https://evil.example/">',
    "form action": '<form action="https://evil.example/"><input name=q><button>go</button></form>',
    "button formaction": '<button formaction="https://evil.example/">go</button>',
    "body onload": '<body onload=alert(1)>',
    "details ontoggle": '<details open ontoggle=alert(1)>x</details>',
    "video": '<video src=x onerror=alert(1)></video><audio src="https://evil.example/a.mp3">',
    "math confusion": '<math><mtext><table><mglyph><style><img src=x onerror=alert(1)>',
    "comment breakout": '<!--<img src="--><img src=x onerror=alert(1)//">',
    "noscript": '<noscript><p title="</noscript><img src=x onerror=alert(1)>">',
    "template": '<template><script>alert(1)</script></template>',
    "image map": '<map name=m><area href="javascript:alert(1)"></map>',
    "table background": '<table background="https://evil.example/bg.png"><tr><td>x</td></tr></table>',
}

ACTIVE_TAGS = {"script", "iframe", "object", "embed", "style", "link", "meta", "base",
               "form", "input", "button", "svg", "math", "video", "audio", "template",
               "frame", "frameset", "noscript", "area", "map", "animate", "body"}


class Audit(HTMLParser):
    """Every tag and attribute of a fragment, as a browser's parser sees them."""

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.found: list[str] = []

    def handle_starttag(self, tag, attrs):
        if tag in ACTIVE_TAGS:
            self.found.append(f"<{tag}>")
        for name, value in attrs:
            value = (value or "").strip().lower()
            if name.startswith("on") or name in ("style", "srcset", "background",
                                                 "formaction", "action", "srcdoc", "data"):
                self.found.append(f"{tag} {name}")
            if name == "src" and not value.startswith("data:image/"):
                self.found.append(f"{tag} src={value}")
            if name == "href" and not value.startswith(("https:", "http:", "mailto:", "#")):
                self.found.append(f"{tag} href={value}")


def audit(fragment: str) -> list[str]:
    parser = Audit()
    parser.feed(fragment)
    parser.close()
    return parser.found


@pytest.mark.parametrize("attack", sorted(ATTACKS))
def test_attack_is_neutralised(attack):
    cleaned = str(clean_html(ATTACKS[attack]))
    assert audit(cleaned) == [], (attack, cleaned)


@pytest.mark.parametrize("attack", sorted(ATTACKS))
def test_attack_in_markdown_is_neutralised(attack):
    cleaned = str(markdown_html(f"Some *text*\n\n{ATTACKS[attack]}\n\nmore"))
    assert audit(cleaned) == [], (attack, cleaned)


def test_the_audit_would_see_each_attack():
    """The audit itself finds something in every raw attack (else it tests nothing)."""
    assert all(audit(html) for html in ATTACKS.values())


def test_ordinary_formatting_survives():
    html = ('<p>A <b>bold</b> <i>word</i>, <code>code</code>, '
            '<a href="https://example.org/x">a link</a>, <a href="#q1">in page</a></p>'
            '<table class="dataframe"><thead><tr><th>a</th></tr></thead>'
            '<tbody><tr><td>1</td></tr></tbody></table>'
            f'<img src="data:image/png;base64,{PNG}" alt="dot">')
    cleaned = str(clean_html(html))
    for kept in ("<b>bold</b>", "<i>word</i>", "<code>code</code>", 'href="https://example.org/x"',
                 'href="#q1"', "<th>a</th>", "<td>1</td>", f"data:image/png;base64,{PNG}"):
        assert kept in cleaned, kept
    assert 'rel="noopener noreferrer nofollow"' in cleaned


def test_markdown_renders_and_keeps_math_as_text():
    html = str(markdown_html("# Title\n\n*em* and $x^2 < y$\n\n| a | b |\n|---|---|\n| 1 | 2 |"))
    assert "<h1>Title</h1>" in html and "<em>em</em>" in html
    assert "$x^2 &lt; y$" in html
    assert "<td>1</td>" in html


def test_markdown_attachment_becomes_data_uri():
    html = str(markdown_html("![dot](attachment:dot.png)", {"dot.png": {"image/png": PNG}}))
    assert f'src="data:image/png;base64,{PNG}"' in html


def test_images():
    assert image_uri({"image/png": PNG}) == f"data:image/png;base64,{PNG}"
    assert image_uri({"image/png": '" onerror="alert(1)'}) is None  # not base64
    assert image_uri({"text/plain": "x"}) is None
    assert svg_uri("<svg/>").startswith("data:image/svg+xml;base64,")
