"""Neo4j Browser driven by headless Chromium (Selenium, Debian's chromium and chromium-driver): log in, play the
Cartograph guide, run its queries, read the rendered result, take screenshots.

Used by tests/test_browser.py and scripts/browser_screenshots.py. Needs ``/usr/bin/chromium`` and
``/usr/bin/chromedriver`` (``apt-get install chromium chromium-driver``) and the ``selenium`` package (dev extra).
"""

from __future__ import annotations

import shutil
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TypeVar

T = TypeVar("T")

CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"


def missing() -> str | None:
    """What is missing to drive Browser here, or None."""
    for path, package in ((CHROMIUM, "chromium"), (CHROMEDRIVER, "chromium-driver")):
        if not Path(path).exists() and shutil.which(Path(path).name) is None:
            return f"{path} is missing (apt-get install {package})"
    try:
        import selenium  # noqa: F401
    except ImportError:
        return "the selenium package is missing (pip install selenium; it is in the dev extra)"
    return None


def wait_for(what: str, probe: Callable[[], T | None], timeout: float = 30.0) -> T:
    """Poll ``probe`` until it returns something truthy; raise with ``what`` after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    last: Exception | None = None
    while time.monotonic() < deadline:
        try:
            value = probe()
            if value:
                return value
        except Exception as e:  # stale elements while React re-renders
            last = e
        time.sleep(0.25)
    raise TimeoutError(f"Neo4j Browser: no {what} after {timeout:.0f} s" + (f" (last error: {last})" if last else ""))


class BrowserSession:
    """One Neo4j Browser tab. ``http_url`` is the server's HTTP address (``http://127.0.0.1:7474``)."""

    def __init__(self, driver: Any, http_url: str, bolt_uri: str) -> None:
        self.driver = driver
        self.http_url = http_url.rstrip("/")
        self.bolt_uri = bolt_uri

    # -- elements -------------------------------------------------------------------------------------------------
    def css(self, selector: str) -> list[Any]:
        from selenium.webdriver.common.by import By

        return list(self.driver.find_elements(By.CSS_SELECTOR, selector))

    def frames(self) -> list[Any]:
        """The result frames, newest first (Browser's stream)."""
        return self.css("[data-testid=frame]") or self.css("article")

    # -- actions --------------------------------------------------------------------------------------------------
    def login(self, user: str, password: str, attempts: int = 3, timeout: float = 45.0) -> None:
        """Open Browser, connect as ``user`` and wait for "You are connected". A fresh page is tried up to
        ``attempts`` times: CI once saw Browser stay unconnected for 60 s against a server up for seconds, so
        one slow first connection does not fail a session; the last failure carries what the page said."""
        failures = []
        for _ in range(attempts):
            try:
                self._connect_once(user, password, timeout)
                break
            except TimeoutError as e:
                failures.append(f"{e}; the newest frame said: {self._newest_frame_text()[:400]!r}")
        else:
            raise TimeoutError(f"Neo4j Browser did not connect in {attempts} attempts: " + " | ".join(failures))
        for close in self.css("[data-testid=dismissUDCBanner], button[aria-label='Close banner']"):
            close.click()

    def _connect_once(self, user: str, password: str, timeout: float) -> None:
        self.driver.get(f"{self.http_url}/browser/?dbms={self.bolt_uri.replace('://', f'://{user}@')}")
        field = wait_for("login form", lambda: self.css("input[data-testid=password]"), timeout)[0]
        field.send_keys(password)
        self.click(self.css("button[data-testid=connect]")[0])
        wait_for("connection (\"You are connected\")", lambda: "You are connected as user" in self._page_text(),
                 timeout)

    def _newest_frame_text(self) -> str:
        try:
            frames = self.frames()
            return str(frames[0].text) if frames else "(no frame)"
        except Exception:  # the page is being replaced
            return ""

    def _page_text(self) -> str:
        bodies = self.css("body")
        try:
            return str(bodies[0].text) if bodies else ""
        except Exception:  # the page is being replaced
            return ""

    def click(self, element: Any) -> None:
        """Click ``element``; if a banner or toast Browser shows on start lies over it, close those and click it
        by script (CI once failed on "element click intercepted" over the connect button)."""
        from selenium.common.exceptions import ElementClickInterceptedException

        try:
            element.click()
        except ElementClickInterceptedException:
            for close in self.css("[data-testid=dismissUDCBanner], button[aria-label='Close banner']"):
                close.click()
            self.driver.execute_script("arguments[0].click();", element)

    def run(self, command: str) -> Any:
        """Type ``command`` in the editor, run it, and return its frame once rendered."""
        before = len(self.frames())
        editor = wait_for("editor", lambda: self.css("[data-testid=activeEditor] textarea"))[0]
        editor.send_keys(command)
        self.css("button[data-testid=editor-Run]")[0].click()
        wait_for(f"frame for {command[:40]!r}", lambda: len(self.frames()) > before)
        return self.frames()[0]

    def run_runnable(self, block: Any) -> Any:
        """Click a guide's runnable block (it lands in the editor), then run it; return the new frame."""
        before = len(self.frames())
        block.click()
        wait_for("guide code in the editor", lambda: self.editor_text().strip())
        self.css("button[data-testid=editor-Run]")[0].click()
        wait_for("frame of the guide's code", lambda: len(self.frames()) > before)
        return self.frames()[0]

    def editor_text(self) -> str:
        lines = self.css("[data-testid=activeEditor] .view-lines")
        return str(lines[0].text) if lines else ""

    def guide_slide(self, title: str, guide_frame: Any) -> Any:
        """Go to the slide whose heading is ``title`` in the guide's carousel; return the slide element."""
        from selenium.webdriver.common.by import By

        for _ in range(40):
            carousel = guide_frame.find_element(By.CSS_SELECTOR, "[data-testid=carousel]")
            heading = carousel.find_elements(By.CSS_SELECTOR, "h3")
            if heading and heading[0].text.strip() == title:
                return carousel
            nxt = guide_frame.find_elements(By.CSS_SELECTOR, "button[data-testid=nextSlide]")
            if not nxt or not nxt[0].is_enabled():
                break
            nxt[0].click()
            time.sleep(0.3)
        raise LookupError(f"no slide {title!r} in the guide")

    def screenshot(self, path: Path, element: Any | None = None) -> Path:
        path.parent.mkdir(parents=True, exist_ok=True)
        if element is not None:
            element.screenshot(str(path))
        else:
            self.driver.save_screenshot(str(path))
        return path


@contextmanager
def chromium(width: int = 1400, height: int = 1000) -> Iterator[Any]:
    """A headless Chromium under chromedriver (no network fetches: both come from Debian's packages)."""
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM if Path(CHROMIUM).exists() else str(shutil.which("chromium"))
    for arg in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu",
                f"--window-size={width},{height}", "--no-first-run", "--disable-extensions"):
        options.add_argument(arg)
    driver_path = CHROMEDRIVER if Path(CHROMEDRIVER).exists() else str(shutil.which("chromedriver"))
    driver = webdriver.Chrome(service=Service(driver_path), options=options)
    try:
        yield driver
    finally:
        driver.quit()


@contextmanager
def guide_server() -> Iterator[str]:
    """scripts/serve_browser_guide.py on a free port, in a thread: yields the guide's URL."""
    import sys

    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from serve_browser_guide import make_server

    server = make_server(0, quiet=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://localhost:{server.server_address[1]}/cartograph.html"
    finally:
        server.shutdown()
        server.server_close()
