"""docs/ask-page.png: the Ask page answering 「中国制定了哪些数据安全方面的法律？」 over the bundled corpus.

Makes a library holding a copy of data/corpus in a temporary user data folder (never data/index, never the
user's own data folder), starts the real app on it on a free local port, asks the question in Debian's
headless Chromium, and saves the screenshot.

Run from the project folder: ``.venv/bin/python scripts/screenshot.py [OUT.png]``
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

PROJECT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(PROJECT))

from index import libraries, settings  # noqa: E402
from index.encoder import Encoder  # noqa: E402
from tests.e2e.support import ask_in_browser, chromium_page, running_app  # noqa: E402

QUESTION = "中国制定了哪些数据安全方面的法律？"
LIBRARY = "白皮书"
VIEWPORT = {"width": 1280, "height": 1500}


def main(out: Path = PROJECT / "docs" / "ask-page.png") -> int:
    with tempfile.TemporaryDirectory(prefix="citelens-screenshot-") as scratch:
        work = Path(scratch)
        library = libraries.create_library(work / "data", LIBRARY, source=settings.BUNDLED_CORPUS)
        libraries.build_library(library, Encoder())
        with (
            running_app(None, work / "streamlit.log", data=work / "data", library=LIBRARY) as url,
            chromium_page(VIEWPORT) as page,
        ):
            page.goto(url)
            ask_in_browser(page, QUESTION, timeout=180_000)
            page.evaluate("document.activeElement && document.activeElement.blur()")
            page.wait_for_timeout(500)
            out.parent.mkdir(parents=True, exist_ok=True)
            page.screenshot(path=str(out))
    print(f"saved {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main(Path(sys.argv[1]) if len(sys.argv) > 1 else PROJECT / "docs" / "ask-page.png"))
