"The rendered book, checked in a real headless Chromium (Debian's package) driven by playwright."
import functools
import http.server
import shutil
import threading
from urllib.parse import urlparse

import pytest

from conftest import ROOT

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
        "--disable-component-update", "--disable-sync"]


@pytest.fixture(scope="module")
def server(built_book):
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(built_book))
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    httpd.RequestHandlerClass.log_message = lambda *a: None
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()


def pages(html):
    skip = {"genindex.html", "search.html"}
    return sorted(p.relative_to(html).as_posix() for p in html.glob("**/*.html")
                  if p.name not in skip and "_static" not in p.parts and "_sources" not in p.parts)


def toc_files():
    "Every page that _toc.yml lists."
    import yaml
    toc = yaml.safe_load((ROOT / "_toc.yml").read_text())
    return [toc["root"]] + [c["file"] for part in toc["parts"] for c in part["chapters"]]


def test_book_has_every_chapter_of_the_toc(built_book):
    names = set(pages(built_book))
    files = toc_files()
    assert len(files) >= 10
    for f in files:
        assert f"{f}.html" in names, f"{f} of _toc.yml was not rendered"


def test_every_page_renders_offline_in_chromium(built_book, server):
    if not shutil.which("chromium") and not shutil.os.path.exists(CHROMIUM):
        pytest.fail("Debian's chromium is needed for the browser check: apt-get install chromium")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        page = browser.new_page()
        external = []

        def route(r):
            host = urlparse(r.request.url).hostname
            if r.request.url.startswith(("data:", "blob:")) or host == "127.0.0.1":
                r.continue_()
            else:
                external.append(r.request.url)
                r.abort()

        page.route("**/*", route)
        failed = []
        page.on("requestfailed", lambda req: failed.append(req.url) if "127.0.0.1" in req.url else None)
        checked_math = 0
        for name in pages(built_book):
            page.goto(f"{server}/{name}", wait_until="load")
            main = page.locator("main, article, div[role=main]").first
            text = main.inner_text()
            assert len(text.strip()) > 200, f"{name}: page is (almost) empty"
            assert "#|" not in text, f"{name}: an nbdev directive shows"
            for hidden in ("fastcore.test import", "default_exp"):
                assert hidden not in text, f"{name}: a hidden cell shows ({hidden})"
            if page.locator(".math").count():
                page.wait_for_selector("mjx-container", timeout=30_000)
                page.wait_for_function("() => !document.querySelector('.math:not(:has(mjx-container))')",
                                       timeout=30_000)
                checked_math += 1
                body = page.locator("main").inner_text()
                assert "\\frac" not in body and "$$" not in body, f"{name}: raw LaTeX left"
            broken = page.evaluate("() => [...document.images].filter(i => !i.complete || i.naturalWidth === 0)"
                                   ".map(i => i.src)")
            assert not broken, f"{name}: figures did not load: {broken}"
        browser.close()
    assert checked_math >= 3, "maths was expected on the chapters"
    assert not external, f"the book asked the network for: {sorted(set(external))[:10]}"
    assert not failed, f"local requests failed: {sorted(set(failed))[:10]}"
