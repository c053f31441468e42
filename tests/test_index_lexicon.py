"""What the searcher knows of languages is data (index/lexicon/), each file documented; it searches without it."""

from __future__ import annotations

import json
import subprocess
import sys

from index import lexicon
from index.settings import PROJECT_ROOT
from tests.conftest import FIXTURES


def test_every_lexicon_file_says_what_it_is_and_where_it_comes_from():
    files = [p for p in lexicon.FOLDER.iterdir() if p.suffix in (".txt", ".tsv")]
    assert {p.name for p in files} >= {"capitals.tsv", "document_kinds.tsv", "stopwords.txt", "answer_slots.tsv"}
    for path in files:
        header = [line for line in path.read_text(encoding="utf-8").splitlines() if line.startswith("#")]
        assert header and any("Source" in line or "source" in line for line in header), path.name
    questions = (lexicon.FOLDER / "background_questions.jsonl").read_text(encoding="utf-8").splitlines()
    languages = {json.loads(line)["lang"] for line in questions}
    assert len(questions) >= 200 and languages == {"zh", "en"}


CHILD = r"""
import json, sys, tempfile
from pathlib import Path
import index.lexicon
with index.lexicon.read_from(Path(tempfile.mkdtemp())):  # every lexicon file missing, while it runs
    from index.build import BuildSettings, build_index
    from index.encoder import Encoder
    from index.passage_index import PassageIndex
    from index.search import Searcher
    from index.translate import CAPITALS, ENGLISH_STOP_WORDS
    work = Path(tempfile.mkdtemp())
    encoder = Encoder()
    build_index(Path(sys.argv[1]), work, encoder, BuildSettings(max_tokens=64, overlap_tokens=8), progress=False)
    searcher = Searcher(PassageIndex.load(work), encoder)
    zh = searcher.answer("中国累计建成开通多少个5G基站？", k=3)
    en = searcher.answer("How many 5G base stations did China build?", k=3)
    print(json.dumps({"capitals": len(CAPITALS), "stop": len(ENGLISH_STOP_WORDS), "background": searcher.background,
                  "zh": zh.hits[0].doc, "en": en.hits[0].doc, "zh_relevance": zh.relevance}))
"""


def test_the_searcher_works_without_any_lexicon_file():
    completed = subprocess.run(
        [sys.executable, "-c", CHILD, str(FIXTURES / "corpus_small")],
        capture_output=True,
        text=True,
        cwd=PROJECT_ROOT,
        timeout=600,
    )
    assert completed.returncode == 0, completed.stderr[-2000:]
    result = json.loads(completed.stdout.strip().splitlines()[-1])
    assert result["capitals"] == 0 and result["stop"] == 0  # the lists really were missing
    assert result["background"] is None  # no background questions: none measured
    assert result["zh"] == "5g.txt" and result["en"] == "5g.txt"  # and the right passage is still found
    assert result["zh_relevance"] is not None  # judged with the shipped calibration's fixed thresholds
