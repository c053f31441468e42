"""The app's pure rendering helpers: everything from a document is escaped; highlights, cards, summary, outline."""

from __future__ import annotations

from html.parser import HTMLParser

from index.hits import Hit
from ingest.documents import Document, Paragraph
from ui import core, render


class Parsed(HTMLParser):
    """Tags (with attributes) and the text they contain, as a browser would see them."""

    def __init__(self, markup: str):
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[str, dict]] = []
        self.text: list[str] = []
        self.feed(markup)
        self.close()

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))

    def handle_data(self, data):
        self.text.append(data)

    @property
    def plain(self) -> str:
        return "".join(self.text)


def make_document() -> Document:
    text = "一、法律框架\n\n第一段。第二句有数据安全。\n\n第二段在这里。\n\n第三段收尾。"
    spans, start = [], 0
    for part in text.split("\n\n"):
        spans.append((start, start + len(part)))
        start += len(part) + 2
    paragraphs = [Paragraph(number, s, e, ("一、法律框架",), number == 1) for number, (s, e) in enumerate(spans, 1)]
    return Document("law.md", "法律 <b>标题</b>", text, paragraphs, "来源", "https://example.org/law", "2022-11-07")


def make_hit(document: Document, rank: int = 1, **changes) -> Hit:
    start, end = document.paragraphs[1].start, document.paragraphs[2].end
    sentence_start = document.text.index("第二句")
    values = dict(
        rank=rank,
        score=1.0,
        chunk_id=f"{document.doc_id}#0",
        doc=document.doc_id,
        title=document.title,
        section=("一、法律框架",),
        paragraph=2,
        paragraph_end=3,
        text=document.text[start:end],
        start=start,
        end=end,
        date=document.date,
        url=document.url,
        source=document.source,
        sentence_start=sentence_start,
        sentence_end=sentence_start + len("第二句有数据安全。"),
        relevance=0.8,
    )
    return Hit(**(values | changes))


def test_highlight_escapes_script_and_keeps_markdown_literal():
    text = '看 <script>alert(1)</script> 和 [link](http://x) 以及 **粗体** & "引号"'
    markup = render.highlight_html(text, (0, 30), ["粗体"])
    assert "<script" not in markup and "&lt;script&gt;alert(1)&lt;/script&gt;" in markup
    assert "<a" not in markup and "[link](http://x)" in markup and "**<span" in markup
    markup = render.highlight_html(text, (0, 5), ["script", "link"])  # marks inside the literal tag text
    assert "<script" not in markup and "<a " not in markup
    parsed = Parsed(markup)
    assert parsed.plain == text  # what the reader sees is exactly the document text
    assert {tag for tag, _ in parsed.tags} <= {"mark", "span"}
    assert all(attrs.get("class") in ("cl-sentence", "cl-term") for _, attrs in parsed.tags)


def test_highlight_marks_sentence_and_terms_with_valid_nesting():
    text = "前文。中国的数据安全法很重要。后文数据。"
    sentence = (3, 15)
    markup = render.highlight_html(text, sentence, ["数据安全", "数据", "DATA"])
    assert markup.startswith('前文。<mark class="cl-sentence">')
    assert markup.count('<mark class="cl-sentence">') == 1  # terms nest inside, never split the sentence
    assert '<span class="cl-term">数据安全</span>' in markup
    assert markup.endswith('后文<span class="cl-term">数据</span>。')
    assert Parsed(markup).plain == text


def test_terms_match_case_insensitively_and_skip_single_characters():
    assert render.term_spans("5G基站 and 5g", ["5G", "法", ""]) == [(0, 2), (9, 11)]
    assert render.highlight_html("abc", None, []) == "abc"
    assert render.highlight_html("", (0, 3), ["a"]) == ""


def test_focus_dims_the_surrounding_text():
    markup = render.highlight_html("before|passage|after", (7, 14), [], focus_span=(7, 14))
    assert markup == (
        '<span class="cl-dim">before|</span><mark class="cl-sentence">passage</mark><span class="cl-dim">|after</span>'
    )


def test_passage_is_shown_by_paragraph_with_numbers_and_can_be_expanded_in_place():
    document = make_document()
    hit = make_hit(document)
    markup = render.passage_html(hit, document, ["数据安全"])
    parsed = Parsed(markup)
    assert "¶2" in parsed.plain and "¶3" in parsed.plain and "¶1" not in parsed.plain
    assert '<mark class="cl-sentence">第二句有<span class="cl-term">数据安全</span>。</mark>' in markup
    wider = render.passage_html(hit, document, [], around=2)
    assert "¶1" in Parsed(wider).plain and "¶4" in Parsed(wider).plain
    assert '<span class="cl-dim">第三段收尾。</span>' in wider
    assert "cl-heading" in wider  # the section heading is shown as one
    # without the document (or when it no longer matches) the passage alone, still escaped and marked
    alone = render.passage_html(hit, None, [])
    assert "cl-sentence" in alone and "¶" not in Parsed(alone).plain


def test_best_sentence_of_a_passage_known_not_to_answer_is_marked_weakly():
    document = make_document()
    assert 'class="cl-sentence cl-weak"' in render.passage_html(make_hit(document, relevance=0.05), document, [])
    assert 'class="cl-sentence"' in render.passage_html(make_hit(document, relevance=None), document, [])


def test_card_head_escapes_the_title_and_shows_where_and_when():
    document = make_document()
    head = render.card_head_html(make_hit(document, rank=3))
    assert 'id="card-3"' in head
    assert "&lt;b&gt;标题&lt;/b&gt;" in head and "<b>" not in head
    plain = Parsed(head).plain
    assert "一、法律框架 › ¶2–3" in plain and "2022-11-07" in plain and "来源" in plain and "80% relevant" in plain
    assert "relevant" not in Parsed(render.card_head_html(make_hit(document, relevance=None))).plain


def test_card_head_shows_the_page_of_a_pdf_passage():
    document = make_document()
    plain = Parsed(render.card_head_html(make_hit(document, page=4, page_end=4))).plain
    assert "一、法律框架 › p. 4 ¶2–3" in plain
    plain = Parsed(render.card_head_html(make_hit(document, page=4, page_end=5))).plain
    assert "一、法律框架 › p. 4–5 ¶2–3" in plain
    assert "p." not in Parsed(render.card_head_html(make_hit(document))).plain  # unpaged: no page


def test_only_plain_web_links_are_made_clickable():
    assert render.safe_url("https://example.org/a?b=1") == "https://example.org/a?b=1"
    assert render.safe_url("http://example.org") == "http://example.org"
    for bad in ("javascript:alert(1)", "data:text/html,<script>", "ftp://x", "//example.org", "", "https://"):
        assert render.safe_url(bad) is None


def test_also_in_lists_other_documents_escaped():
    markup = render.also_in_html(
        [{"doc": "b.txt", "title": "转载<script>", "section": "一 › 二", "paragraph": 4, "date": "2022-11-10"}]
    )
    assert Parsed(markup).plain == "Also in: 转载<script> › 一 › 二 › ¶4 (2022-11-10)"
    assert "<script>" not in markup
    paged = render.also_in_html([{"doc": "b.pdf", "title": "报告", "section": "一", "paragraph": 4, "page": 2}])
    assert Parsed(paged).plain == "Also in: 报告 › 一 › p. 2 ¶4"
    assert render.also_in_html([]) == ""


def test_summary_cites_each_sentence_and_links_to_its_card():
    document = make_document()
    first = make_hit(document, rank=1)
    same = make_hit(document, rank=2)  # the same sentence again adds nothing
    other = make_hit(
        document, rank=3, sentence_start=document.paragraphs[3].start, sentence_end=document.paragraphs[3].end
    )
    other.text = document.text[other.start : other.end]
    markup = render.summary_html([first, same, other], True, ["数据安全"], "问题")
    parsed = Parsed(markup)
    links = [attrs["href"] for tag, attrs in parsed.tags if tag == "a"]
    assert links == ["#card-1"]  # "第三段收尾。" is too short to be an answer sentence
    assert "第二句有数据安全。[1]" in parsed.plain
    assert f'data-question="{render.question_key("问题")}"' in markup


def test_summary_says_plainly_when_the_documents_do_not_answer():
    document = make_document()
    markup = render.summary_html([make_hit(document)], False)
    assert "do not seem to answer" in markup and "cl-ref" not in markup
    assert "No passage" in render.summary_html([], True)


def test_summary_skips_hits_known_to_be_irrelevant():
    document = make_document()
    good = make_hit(document, rank=1)
    weak = make_hit(
        document,
        rank=2,
        relevance=0.01,
        sentence_start=document.paragraphs[2].start,
        sentence_end=document.paragraphs[2].end + 1,
    )
    assert [rank for _, rank in render.summary_sentences([good, weak])] == [1]


def test_outline_and_document_view():
    document = make_document()
    assert render.outline(document) == [(1, 1, "一、法律框架")]
    outline = render.outline_html(document, "para-")
    assert 'href="#para-1"' in outline
    view = render.document_html(document, "para-")
    assert view.count('class="cl-para') == 4 and 'id="para-3"' in view


def test_markdown_escaping_for_captions_and_labels():
    assert render.escape_markdown("[x](javascript:a) *b*") == r"\[x\]\(javascript\:a\) \*b\*"
    assert render.escape_markdown("中国制定了哪些法律？") == "中国制定了哪些法律？"


def test_index_dir_comes_from_the_command_line_after_the_double_dash():
    assert core.index_dir_from_argv(["--index", "/tmp/x"]) == "/tmp/x"
    assert core.index_dir_from_argv(["--server.port", "1"]) is None
    assert core.index_dir_from_argv(["--ind", "/tmp/x"]) is None
