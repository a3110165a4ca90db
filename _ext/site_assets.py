"""Send a reader only the CSS and icons the book uses, compressed: the built site's assets, made lean.

Out of the box every page links eleven stylesheets (the theme's alone is
400 KB, most of it Font Awesome's 2,000 icons and Bootstrap components the
book never shows), one of which imports another, and the theme's icon fonts
weigh 300 KB for the dozen icons in the book's header.  Once the whole book
is written (``build-finished``), this extension

- **bundles** each page's stylesheets, in their order, into one file,
  ``_static/styles-<hash>.css`` (``@import`` inlined, ``url()`` rewritten), and
  links it in their place: one request instead of a chain of twelve (pages
  an earlier build wrote are bundled again from their stylesheets as they are
  now, so that after a rebuild every page links the same, current bundle);
- **purges** the bundle with PurgeCSS (``purgecss`` from the npm registry, in
  ``_vendor/node-build/``, see ``_ext/node/purge-css.js``): a rule stays when
  every class, id and element in its selector appears in a page of the book or
  in a script a page loads (scripts add classes as they run), or matches
  ``site_assets_keep`` (classes scripts build from pieces, such as Bootstrap's
  tooltips); fonts and animations no kept rule uses go too;
- **subsets the fonts**, with fontTools and brotli, into WOFF2 files next to
  the originals: the icon fonts (``site_assets_icon_fonts``, Font Awesome's)
  to the icons the kept rules draw, the text fonts (``site_assets_text_fonts``,
  KaTeX's: families named ``KaTeX_...``) to the characters the pages hold;
- **prunes** the bundles and cut fonts of earlier builds that no page uses;
- **compresses** every text file of the site (HTML, CSS, JavaScript, SVG,
  JSON, notebooks) into a ``.gz`` copy beside it, for static hosts that serve
  such copies to browsers that accept gzip (nginx's ``gzip_static``, Caddy's
  ``precompressed``, ``scripts/static_host.py``); hosts that compress by
  themselves, such as GitHub Pages, ignore them.

Which stylesheets each bundle holds is written to ``site-assets.json`` beside
the site's folder (``_build/site-assets.json``), not into the site: the
browser test serves a page with the same stylesheets unpurged and checks
that every element looks the same.  ``site_assets_purge: false`` builds
bundles without purging.
"""

from __future__ import annotations

import functools
import gzip
import hashlib
import html
import json
import posixpath
import re
import subprocess
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from sphinx.util import logging

logger = logging.getLogger(__name__)

PURGE = Path(__file__).parent / "node" / "purge-css.js"
STYLESHEET = re.compile(r'<link\b[^>]*\brel="stylesheet"[^>]*>\s*')
HREF = re.compile(r'\bhref="([^"]+)"')
SCRIPT_SRC = re.compile(r'<script\b[^>]*\bsrc="([^"]+)"')
IMPORT = re.compile(r"""@import\s+(?:url\()?\s*["']?([^"')\s]+)["']?\s*\)?\s*;""")
URL = re.compile(r"""url\(\s*(["']?)([^)"']+)\1\s*\)""")
FONT_FACE = re.compile(r"@font-face\s*\{[^}]*\}")
FONT_FAMILY = re.compile(r"""font-family:\s*["']?([^;"'}]+?)["']?\s*[;}]""")
#: An icon is one character, named in a ``content`` declaration or a custom property (``--fa:"\f09b"``).
ICON = re.compile(r"""(?:content|--[\w-]+)\s*:\s*["']((?:\\[0-9a-fA-F]{1,6}\s?|[^"'\\])+)["']""")
BUNDLE = re.compile(r"styles-[0-9a-f]{12}\.css$")
TAG = re.compile(r"<[^>]+>")
FONT_FILES = (".woff2", ".woff", ".ttf")
#: Text files a static host should send compressed.
COMPRESS = {".html", ".css", ".js", ".json", ".svg", ".txt", ".xml", ".ipynb", ".md"}
MIN_COMPRESS_BYTES = 1024
SKIP_FOLDERS = ("_static/", "_sources/", "_images/")


def site_path(page: str, href: str) -> str | None:
    """The site-relative path of a local ``href`` on ``page`` (query and fragment dropped), else None."""
    if "://" in href or href.startswith(("data:", "//", "#")):
        return None
    return posixpath.normpath(posixpath.join(posixpath.dirname(page), href.split("?")[0].split("#")[0]))


def css_with_imports(site: Path, sheet: str, seen: set[str] | None = None) -> str:
    """The stylesheet at ``sheet`` (site-relative) with its ``@import`` s inlined and every ``url()``
    rewritten to be relative to ``_static/``, where the bundle is written."""
    seen = set() if seen is None else seen
    if sheet in seen:
        return ""
    seen.add(sheet)
    text = (site / sheet).read_text(encoding="utf-8")

    def inline(match: re.Match[str]) -> str:
        target = site_path(sheet, match[1])
        return css_with_imports(site, target, seen) if target else match[0]

    def rebase(match: re.Match[str]) -> str:
        ref = match[2].strip()
        if ref.startswith(("data:", "#", "/")) or "://" in ref:
            return match[0]
        path, _, rest = ref.partition("?")
        path, hash_sign, fragment = path.partition("#")
        target = posixpath.normpath(posixpath.join(posixpath.dirname(sheet), path))
        suffix = (f"?{rest}" if rest else "") + (f"#{fragment}" if hash_sign else "")
        return f'url("{posixpath.relpath(target, "_static")}{suffix}")'

    return URL.sub(rebase, IMPORT.sub(inline, text))


def purge(css: str, content: Iterable[Path], keep: list[str], purgecss: Path) -> str:
    """``css`` without the rules nothing in ``content`` uses (PurgeCSS, run in Node)."""
    request = json.dumps({"css": css, "content": [str(p) for p in content], "keep": keep})
    result = subprocess.run(["node", str(PURGE), str(purgecss)], input=request, capture_output=True,
                            text=True, encoding="utf-8")  # fmt: skip
    if result.returncode != 0:
        raise RuntimeError(f"PurgeCSS failed ({PURGE}):\n{result.stderr[-3000:]}")
    return result.stdout


def icons_drawn(css: str) -> set[int]:
    """The code points of the one-character strings the CSS draws (``content: "\\f105"``, ``--fa: "\\f09b"``)."""
    found = set()
    for match in ICON.finditer(css):
        text = re.sub(r"\\([0-9a-fA-F]{1,6})\s?", lambda m: chr(int(m[1], 16)), match[1])
        if len(text) == 1:
            found.add(ord(text))
    return found


def subset_font(source: Path, codepoints: set[int]) -> bytes:
    """The font at ``source`` cut to ``codepoints`` (those it has), as WOFF2 (fontTools, with brotli)."""
    import io

    from fontTools import subset
    from fontTools.ttLib import TTFont

    font = TTFont(source, recalcTimestamp=False)  # the same glyphs give the same bytes
    options = subset.Options()
    options.flavor = "woff2"
    options.layout_features = ["*"]  # and the kerning, hinting and substitutions of the glyphs kept
    options.legacy_kern = True
    options.notdef_outline = True
    subsetter = subset.Subsetter(options)
    subsetter.populate(unicodes=sorted(codepoints & set(font.getBestCmap())))
    subsetter.subset(font)
    out = io.BytesIO()
    font.flavor = "woff2"
    font.save(out)
    return out.getvalue()


def text_codepoints(pages: Iterable[Path]) -> set[int]:
    """Every character of the pages' text (tags, scripts and styles left out; entities decoded)."""
    found: set[int] = set()
    for page in pages:
        text = re.sub(r"<(script|style)\b.*?</\1>", " ", page.read_text(encoding="utf-8"), flags=re.S)
        found |= {ord(c) for c in html.unescape(TAG.sub(" ", text))}
    return found


def subset_fonts(css: str, site: Path, wanted: Callable[[str], set[int] | None]) -> str:
    """Each ``@font-face`` whose family ``wanted`` gives code points for, pointed at a WOFF2 file next to the
    original holding only those glyphs (the others are left as they are)."""

    def cut(match: re.Match[str]) -> str:
        rule = match[0]
        family = FONT_FAMILY.search(rule)
        codepoints = wanted(family[1].replace("\\", "").strip()) if family else None
        sources = [ref.split("?")[0] for _, ref in URL.findall(rule) if ref.split("?")[0].endswith(FONT_FILES)]
        if codepoints is None or not sources:
            return rule
        source = site / "_static" / sources[0]
        data = subset_font(source, codepoints)
        target = source.with_name(f"{source.stem.split('.')[0]}-{hashlib.sha256(data).hexdigest()[:12]}.woff2")
        if not target.exists():
            target.write_bytes(data)
        src = f'src:url("{posixpath.relpath(target.relative_to(site).as_posix(), "_static")}") format("woff2")'
        return re.sub(r"src:[^;}]*", src, rule, count=1)

    return FONT_FACE.sub(cut, css)


def pages_of(site: Path) -> list[Path]:
    return sorted(p for p in site.rglob("*.html") if not p.relative_to(site).as_posix().startswith(SKIP_FOLDERS))


def scripts_loaded(site: Path, pages: list[Path]) -> set[Path]:
    """Every local script file a page loads (``<script src>``)."""
    found = set()
    for page in pages:
        rel = page.relative_to(site).as_posix()
        for src in SCRIPT_SRC.findall(page.read_text(encoding="utf-8")):
            target = site_path(rel, src)
            if target and (site / target).is_file():
                found.add(site / target)
    return found


def manifest_path(site: Path) -> Path:
    """Where the stylesheets of each bundle are listed: ``{"_static/styles-<hash>.css": [sheet, ...]}``."""
    return site.parent / "site-assets.json"


def bundle_stylesheets(app: Any, site: Path) -> None:
    pages = pages_of(site)
    content = pages + sorted(scripts_loaded(site, pages))
    purgecss = (Path(app.srcdir) / app.config.site_assets_purgecss).resolve()
    bundles: dict[tuple[str, ...], str] = {}
    icon_fonts, text_fonts = set(app.config.site_assets_icon_fonts), tuple(app.config.site_assets_text_fonts)
    manifest = manifest_path(site)
    listed = json.loads(manifest.read_text()) if manifest.exists() else {}

    @functools.cache
    def characters() -> frozenset[int]:  # of every page, read when a text font is first cut
        return frozenset(text_codepoints(pages))

    def glyphs(family: str, icons: set[int]) -> set[int] | None:
        if family in icon_fonts:
            return icons
        return icons | characters() if family.startswith(text_fonts) else None

    for page in pages:
        rel = page.relative_to(site).as_posix()
        text = page.read_text(encoding="utf-8")
        links = list(STYLESHEET.finditer(text))
        sheets = tuple(s for link in links if (h := HREF.search(link[0])) and (s := site_path(rel, h[1])))
        if len(sheets) == 1 and BUNDLE.search(sheets[0]):
            # A page an earlier build wrote and this one did not rewrite: bundled again from its stylesheets as
            # they are now (a stylesheet may have changed), so every page links this build's one bundle.
            sheets = tuple(listed.get(sheets[0], ()))
        if not sheets:
            continue
        if sheets not in bundles:
            css = "\n".join(css_with_imports(site, sheet) for sheet in sheets)
            if app.config.site_assets_purge:
                css = purge(css, content, list(app.config.site_assets_keep), purgecss)
                css = subset_fonts(css, site, functools.partial(glyphs, icons=icons_drawn(css)))
            name = f"_static/styles-{hashlib.sha256(css.encode()).hexdigest()[:12]}.css"
            (site / name).write_text(css, encoding="utf-8")
            bundles[sheets] = name
        link = f'<link rel="stylesheet" href="{posixpath.relpath(bundles[sheets], posixpath.dirname(rel) or ".")}" />\n'
        linked = text[: links[0].start()] + link + STYLESHEET.sub("", text[links[0].start() :])
        if linked != text:
            page.write_text(linked, encoding="utf-8")
    listed.update({name: list(sheets) for sheets, name in bundles.items()})
    manifest.write_text(json.dumps(listed, indent=1, sort_keys=True))


SUBSET_FONT = re.compile(r"-[0-9a-f]{12}\.woff2$")


def prune(site: Path) -> list[str]:
    """Remove the bundles and cut fonts of earlier builds that no page uses any more (and their .gz copies);
    returns what was removed, site-relative."""
    linked = {m for page in pages_of(site) for m in re.findall(r"_static/styles-[0-9a-f]{12}\.css", page.read_text())}
    bundles = {p.relative_to(site).as_posix() for p in (site / "_static").glob("styles-*.css")}
    used_fonts = {
        posixpath.normpath(f"_static/{ref}") for bundle in linked & bundles
        for _, ref in URL.findall((site / bundle).read_text(encoding="utf-8"))
    }  # fmt: skip
    fonts = {p.relative_to(site).as_posix() for p in (site / "_static").rglob("*.woff2") if SUBSET_FONT.search(p.name)}
    removed = sorted((bundles - linked) | (fonts - used_fonts))
    for name in removed:
        for path in (site / name, site / f"{name}.gz"):
            path.unlink(missing_ok=True)
    return removed


def compress_site(site: Path) -> int:
    """Write ``<file>.gz`` next to every text file of the site that lacks an up-to-date one; returns how many."""
    written = 0
    for path in site.rglob("*"):
        if path.suffix not in COMPRESS or not path.is_file() or path.stat().st_size < MIN_COMPRESS_BYTES:
            continue
        packed = path.with_name(path.name + ".gz")
        if packed.exists() and packed.stat().st_mtime >= path.stat().st_mtime:
            continue
        packed.write_bytes(gzip.compress(path.read_bytes(), compresslevel=9, mtime=0))
        written += 1
    return written


def finish_site(app: Any, exception: Exception | None) -> None:
    if exception is not None or app.builder.format != "html":
        return
    site = Path(app.outdir)
    bundle_stylesheets(app, site)
    prune(site)
    if app.config.site_assets_compress:
        compress_site(site)


def setup(app: Any) -> dict:
    app.add_config_value("site_assets_purge", True, "html")
    app.add_config_value("site_assets_compress", True, "html")
    app.add_config_value("site_assets_purgecss", "_vendor/node-build/node_modules/purgecss", "html")
    app.add_config_value("site_assets_icon_fonts", ["Font Awesome 6 Free", "Font Awesome 6 Brands"], "html")
    app.add_config_value("site_assets_text_fonts", ["KaTeX_"], "html")
    # Classes that scripts build from pieces, so that they appear in no file whole: Bootstrap's tooltips
    # and dropdowns ("bs-tooltip-" + placement, data-popper-placement) and its show/hide states.
    keep = [r"^bs-", r"tooltip", r"popper", r"^show$", r"^fade$", r"^collaps"]
    app.add_config_value("site_assets_keep", keep, "html")
    app.connect("build-finished", finish_site, priority=900)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
