"""What kind of site carried each row's source: original publisher, reprint, aggregator, mirror.

A row of the course's tables names its source (``source``: who published the figure
or the text) and where the course read it (``source_url``). The two are often not the
same organisation: most Chinese box-office figures and many official statistics
reached the course through reposts and copies. The *kind of carrier* says how close
the page read is to the publisher:

``original publisher``
    the page is on the site of the organisation whose text or data the row cites
    (NewsChina on newschinamag.com, Variety on variety.com, a festival on its own
    site, an official release on the government portal);
``reprint``
    a news site or portal that republished or reported another organisation's text or
    release, in full or as a news story (People's Daily carrying a Xinhua report of
    National Bureau of Statistics figures; a Chinese report reposted on bjstwz.com);
``aggregator``
    a site that compiles figures or news from many sources (Wikipedia, Statista as
    carried by Statistico, 199IT, a news-distribution platform);
``mirror``
    a copy of someone else's page or file on a host with no editorial role (the
    Economist on a copy site, a WeChat essay on freewechat.com, FRED's exchange rates
    in a GitHub repository).

The rule is stated per host: :data:`HOST_KINDS` lists every host the course's tables
use, with its kind, and :func:`carrier_kind` looks the host of a row's *first* URL up
there (a row with several URLs, separated by ``" ; "``, is read where its first URL
points). A row with no URL is a course computation and has no carrier
(:data:`COMPUTATION`). A URL on a host not in the list raises ``ValueError``: a new
source needs a decision, never a default. The tests check the list against the
tables' own wording (a source the row calls a repost, reprint, mirror or copy is never
classed as its original publisher).

>>> carrier_kind("https://variety.com/2022/film/news/return-to-dust-china-box-office-1235360344/")
'original publisher'
>>> carrier_kind("https://key-pax.com/chinese-fans-of-popular-film-return-to-dust-wonder-what-happened-to-it/")
'mirror'
>>> carrier_kind("")
'none (course computation)'
"""

from __future__ import annotations

from urllib.parse import urlparse

import pandas as pd

__all__ = ["COMPUTATION", "HOST_KINDS", "KINDS", "carrier_kind", "carrier_kinds", "kinds_by_table"]

ORIGINAL, REPRINT, AGGREGATOR, MIRROR = "original publisher", "reprint", "aggregator", "mirror"
COMPUTATION = "none (course computation)"
KINDS = [ORIGINAL, REPRINT, AGGREGATOR, MIRROR, COMPUTATION]

_ORIGINAL = {
    # the two articles
    "newschinamag.com", "www.vice.com",
    # trade press, newspapers and news sites read on their own sites
    "variety.com", "www.screendaily.com", "www.scmp.com", "stories.radii.co", "vct.news",
    "www.zaobao.com.sg", "app.bjtitle.com", "news.sxrb.com", "xinhuanet.com",
    "dianyingjie.com.cn", "karla-magazin.de", "thepeoplesmovies.com", "theartsshelf.com",
    "www.filmneweurope.com", "www.europapress.es", "elsoldemexico.com.mx",
    "kobinet-nachrichten.org", "goldenglobes.com", "kfs99.com", "www.kfs99.com",
    # festivals, cinemas, distributors, societies on their own pages
    "2014.tiff-jp.net", "asianfilmfestival.barcelona", "www.chicagofilmfestival.com",
    "bookings.chichestercinema.org", "www.gncr.fr", "www.grignoux.be", "chinainstitute.org",
    "www.romandie-chine.ch", "hitocinema.mainichi.jp",
    # the central government portal, which publishes ministries' releases and transcripts
    "big5.www.gov.cn",
}
_REPRINT = {
    # Chinese box-office and film reports reposted by other sites
    "bjstwz.com", "fzp.plus", "360doc.com", "7974176.marchyellow.com", "mmxinxiu.com",
    "shadafang.com", "www.cm3721.com", "www.kxwhcb.com", "ylptlb.cn", "artdiamondblog.com",
    "globaltimes.cn",
    # official statistics carried by news sites and portals
    "en.people.cn", "english.ectpa.org", "jp.xinhuanet.com", "news.sina.com.cn", "www.163.com",
    "www.hn.chinanews.com.cn", "news.xjnnet.com", "sumaotong.com", "kandian5.com",
    "guangzhou.baogaosu.com", "nanchang.baogaosu.com", "bwwdw.com", "spanish.china.org.cn",
    "ayczsq.com", "big5.cri.cn", "gd.huaxia.com", "finance.youth.cn", "m.huaon.com",
    "txcsxy.com", "vip.kingdee.com", "www.chinadaily.com.cn", "cs.com.cn", "duoerfu888.com",
    "kuai369.com", "mszz.cn", "n.yam.com", "news.cpd.com.cn", "nongminw.cn", "www.ecostnews.com",
    "xy.cnhubei.com", "news.qq.com", "daily.cnnb.com.cn", "hnr.cn", "so.sh.cn", "kentway360.com",
    "www.5kankan.com", "www.arttalkcrafts.com", "www.hcddp.com", "www.qzce.com",
}
_AGGREGATOR = {
    "en.wikipedia.org", "statistico.com", "www.statistico.com", "199it.com", "www.199it.com",
    "www.chinainternetwatch.com", "www.china-food-security.org", "nordot.app",
    "www.tellerreport.com", "xzqh.info",
}
_MIRROR = {
    "837468.sevenloophk.tech", "key-pax.com", "califatcat.com", "entertainmenteyes.com",
    "freewechat.com", "a.osmarks.net", "github.com",
}

HOST_KINDS: dict[str, str] = {
    **{h: ORIGINAL for h in _ORIGINAL},
    **{h: REPRINT for h in _REPRINT},
    **{h: AGGREGATOR for h in _AGGREGATOR},
    **{h: MIRROR for h in _MIRROR},
}


def first_url(source_url) -> str:
    """The first URL of a ``source_url`` cell ('' for an empty or missing cell)."""
    if source_url is None or (not isinstance(source_url, str) and pd.isna(source_url)):
        return ""
    return str(source_url).split(" ; ")[0].strip()


def carrier_kind(source_url) -> str:
    """The kind of carrier of a row, from its ``source_url`` (see the module docstring)."""
    url = first_url(source_url)
    if not url:
        return COMPUTATION
    host = urlparse(url).hostname
    if host is None:
        raise ValueError(f"cannot read a host from the source URL {url!r}")
    try:
        return HOST_KINDS[host]
    except KeyError:
        raise ValueError(
            f"the host {host!r} of {url!r} is not classified: add it to "
            "dustcourse.carriers with its kind (original publisher, reprint, aggregator, mirror)"
        ) from None


def carrier_kinds(table: pd.DataFrame) -> pd.Series:
    """The carrier kind of every row of a table with a ``source_url`` column."""
    if "source_url" not in table.columns:
        raise ValueError("the table has no source_url column")
    return table["source_url"].map(carrier_kind).rename("carrier")


def kinds_by_table(tables: dict[str, pd.DataFrame]) -> pd.DataFrame:
    """Rows by kind of carrier (columns, in :data:`KINDS` order) for each table (rows).

    Tables without a ``source_url`` column are left out.
    """
    counts = {
        name: carrier_kinds(table).value_counts().reindex(KINDS, fill_value=0)
        for name, table in tables.items()
        if "source_url" in table.columns
    }
    out = pd.DataFrame(counts).T.astype(int)
    out.index.name, out.columns.name = "table", "carrier"
    return out
