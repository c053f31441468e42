"""Pure functions that turn hits and documents into safe HTML fragments for the app.

The one rule: every character that comes from a document (or a question) goes through
``html.escape`` before any markup of ours is added, so a passage containing ``<script>``
or ``[link](javascript:…)`` is shown literally. The fragments are shown with ``st.html``,
which does not interpret markdown, so nothing here needs markdown escaping.
"""

from __future__ import annotations

import hashlib
import html
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from urllib.parse import urlparse

from index import script
from index.hits import SECTION_SEPARATOR, Hit, location_label
from ingest.documents import Document, Paragraph

Span = tuple[int, int]

CJK = re.compile(r"[\u3400-\u9fff]")
LATIN_OR_DIGIT = re.compile(r"^[0-9A-Za-z]")
WHITESPACE = re.compile(r"\s+")

SUMMARY_SENTENCES = 3
SUMMARY_MIN_RELEVANCE = 0.25  # a hit whose calibrated relevance is known and lower adds no summary sentence
SUMMARY_MIN_CHARS = 8  # shorter "sentences" are headings or fragments, not answers

CSS = """
<style>
[data-testid="stMainBlockContainer"] { padding-top: 2.5rem; }
.cl-card-head { display: flex; align-items: baseline; gap: .55rem; flex-wrap: wrap; scroll-margin-top: 4.5rem; }
.cl-rank { display: inline-block; min-width: 1.7rem; text-align: center; font-weight: 700; font-size: .9rem;
  color: #1e3a8a; background: #dbeafe; border-radius: .4rem; padding: .05rem .35rem; }
.cl-title { font-weight: 650; font-size: 1.08rem; }
.cl-relevance { font-size: .78rem; color: #166534; background: #dcfce7; border-radius: .4rem; padding: .05rem .4rem; }
.cl-relevance.cl-low { color: #92400e; background: #fef3c7; }
.cl-meta { opacity: .72; font-size: .86rem; margin-top: .15rem; }
.cl-meta .cl-where { font-weight: 600; }
.cl-passage { line-height: 1.8; font-size: 1rem; }
.cl-para { white-space: pre-wrap; margin: 0 0 .55rem 0; }
.cl-para:last-child { margin-bottom: 0; }
.cl-para.cl-heading { font-weight: 650; }
.cl-pnum { display: inline-block; min-width: 2.6rem; margin-right: .35rem; opacity: .45; font-size: .78rem;
  font-weight: 400; font-variant-numeric: tabular-nums; user-select: none; }
.cl-dim { opacity: .5; }
mark.cl-sentence { background: #fde68a; color: #1f2937; padding: .08rem 0; border-radius: .15rem; }
mark.cl-sentence.cl-weak { background: #fef3c7; }
.cl-term { text-decoration: underline; text-decoration-color: #f97316; text-decoration-thickness: 2px;
  text-underline-offset: 4px; }
.cl-also { opacity: .75; font-size: .86rem; }
.cl-answer { border-left: 4px solid #2563eb; background: #eff6ff; color: #1e293b; border-radius: .5rem;
  padding: .75rem 1rem; line-height: 1.8; }
.cl-answer-label { font-size: .78rem; font-weight: 700; letter-spacing: .04em; text-transform: uppercase;
  color: #1d4ed8; margin-bottom: .2rem; }
.cl-answer.cl-none { border-left-color: #d97706; background: #fffbeb; }
.cl-answer.cl-none .cl-answer-label { color: #b45309; }
a.cl-ref { font-weight: 700; font-size: .8em; text-decoration: none; color: #1d4ed8; margin: 0 .1rem; }
a.cl-ref:hover { text-decoration: underline; }
.cl-outline { font-size: .9rem; line-height: 1.6; }
.cl-outline a { text-decoration: none; }
.cl-doc-text { max-height: 70vh; overflow-y: auto; padding-right: .5rem; }
.cl-doc-text .cl-para { scroll-margin-top: 1rem; }
</style>
"""


def escape(text: object) -> str:
    """Document text → HTML text: ``<``, ``>``, ``&`` and quotes become entities."""
    return html.escape(str(text), quote=True)


MARKDOWN_SPECIALS = set("\\`*_{}[]()<>#+-.!|~$:")


def escape_markdown(text: str) -> str:
    """For the few Streamlit texts that interpret markdown (captions, button labels): every markdown
    character backslash-escaped, so a question is shown as typed."""
    return "".join("\\" + ch if ch in MARKDOWN_SPECIALS else ch for ch in str(text))


# ---------------------------------------------------------------- highlighting


def term_spans(text: str, terms: Iterable[str]) -> list[Span]:
    """Every occurrence of every term (case-insensitive), as (start, end) spans of ``text``; one-character
    terms are skipped. Text and terms are compared folded (index/script.py), so the Simplified terms of a
    question mark the original characters of a Traditional passage (数据 marks 資料)."""
    return script.term_spans(text, terms, min_chars=2)


def _mask(length: int, spans: Iterable[Span]) -> list[bool]:
    mask = [False] * length
    for start, end in spans:
        for i in range(max(0, start), min(length, end)):
            mask[i] = True
    return mask


WEAK_SENTENCE = "cl-sentence cl-weak"  # the best sentence of a passage known not to answer


def highlight_html(
    text: str,
    sentence_span: Span | None = None,
    terms: Iterable[str] = (),
    focus_span: Span | None = None,
    sentence_class: str = "cl-sentence",
) -> str:
    """Escaped ``text`` with the sentence in ``<mark class="cl-sentence">`` and query terms in
    ``<span class="cl-term">``; with ``focus_span``, text outside it is dimmed (surrounding paragraphs).

    Spans are character offsets into ``text`` (clipped to it). Every character of ``text`` is escaped;
    the only tags in the result are the ones added here.
    """
    # (tag, class) of each layer, outermost first: a sentence mark never splits a term, terms nest inside.
    layers = (("span", "cl-dim"), ("mark", sentence_class), ("span", "cl-term"))
    n = len(text)
    masks = [
        _mask(n, [(0, focus_span[0]), (focus_span[1], n)]) if focus_span else [False] * n,
        _mask(n, [sentence_span] if sentence_span else []),
        _mask(n, term_spans(text, terms)),
    ]
    out: list[str] = []
    open_layers: list[int] = []
    i = 0
    while i < n:
        state = tuple(mask[i] for mask in masks)
        j = i + 1
        while j < n and tuple(mask[j] for mask in masks) == state:
            j += 1
        wanted = [layer for layer, on in enumerate(state) if on]
        keep = 0
        while keep < min(len(open_layers), len(wanted)) and open_layers[keep] == wanted[keep]:
            keep += 1
        for layer in reversed(open_layers[keep:]):
            out.append(f"</{layers[layer][0]}>")
        for layer in wanted[keep:]:
            tag, css = layers[layer]
            out.append(f'<{tag} class="{css}">')
        open_layers = wanted
        out.append(escape(text[i:j]))
        i = j
    for layer in reversed(open_layers):
        out.append(f"</{layers[layer][0]}>")
    return "".join(out)


# ---------------------------------------------------------------- passages and their paragraphs


@dataclass(frozen=True)
class Block:
    """One paragraph (or the part of it inside a window) of a document, with document offsets."""

    number: int
    start: int
    end: int
    heading: bool = False


def paragraph_blocks(
    paragraphs: Sequence[Paragraph], start: int, end: int, around: int = 0, clip: bool = True
) -> list[Block]:
    """The paragraphs overlapping [start, end) plus ``around`` paragraphs each side. With ``clip``, the
    overlapping ones are cut to [start, end) (a passage may begin or end inside a long paragraph)."""
    inside = [i for i, p in enumerate(paragraphs) if p.start < end and p.end > start]
    if not inside:
        return []
    first, last = max(0, inside[0] - around), min(len(paragraphs) - 1, inside[-1] + around)
    blocks = []
    for i in range(first, last + 1):
        p = paragraphs[i]
        if clip and i in inside:
            blocks.append(Block(p.number, max(p.start, start), min(p.end, end), p.is_heading))
        else:
            blocks.append(Block(p.number, p.start, p.end, p.is_heading))
    return blocks


def blocks_html(
    document_text: str,
    blocks: Sequence[Block],
    sentence: Span | None,
    terms: Iterable[str],
    focus: Span | None = None,
    anchor_prefix: str = "",
    sentence_class: str = "cl-sentence",
) -> str:
    """Paragraph blocks as ``<div class="cl-para">`` with their ¶ numbers; spans are document offsets."""
    terms = list(terms)
    parts = []
    for block in blocks:
        text = document_text[block.start : block.end]

        def local(span: Span | None, base: int = block.start) -> Span | None:
            return None if span is None else (span[0] - base, span[1] - base)

        body = highlight_html(text, local(sentence), terms, local(focus), sentence_class)
        css = "cl-para cl-heading" if block.heading else "cl-para"
        anchor = f' id="{anchor_prefix}{block.number}"' if anchor_prefix else ""
        parts.append(f'<div class="{css}"{anchor}><span class="cl-pnum">¶{block.number}</span>{body}</div>')
    return "".join(parts)


def passage_html(hit: Hit, document: Document | None, terms: Iterable[str], around: int = 0) -> str:
    """A hit's passage by paragraph, best sentence marked; ``around`` > 0 adds that many paragraphs each side
    (dimmed) so the passage can be read in place. Without the document, the passage text alone."""
    sentence = (hit.sentence_start, hit.sentence_end) if hit.sentence_end > hit.sentence_start else None
    weak = hit.relevance is not None and hit.relevance < SUMMARY_MIN_RELEVANCE
    css = WEAK_SENTENCE if weak else "cl-sentence"
    if document is None or document.text[hit.start : hit.end] != hit.text:
        local = None if sentence is None else (sentence[0] - hit.start, sentence[1] - hit.start)
        body = f'<div class="cl-para">{highlight_html(hit.text, local, terms, None, css)}</div>'
    else:
        blocks = paragraph_blocks(document.paragraphs, hit.start, hit.end, around, clip=not around)
        focus = (hit.start, hit.end) if around else None  # whole paragraphs around: dim what is not the passage
        body = blocks_html(document.text, blocks, sentence, terms, focus, sentence_class=css)
        if not blocks:
            body = f'<div class="cl-para">{highlight_html(hit.text, None, terms)}</div>'
    return f'<div class="cl-passage">{body}</div>'


# ---------------------------------------------------------------- cards


def card_anchor(rank: int) -> str:
    return f"card-{rank}"


def where_label(
    section: Sequence[str], first: int, last: int, page: int | None = None, page_end: int | None = None
) -> str:
    """``section › subsection › p. N ¶n`` (the section path of the passage, its page in a paged source such
    as a PDF, and its paragraph numbers)."""
    return SECTION_SEPARATOR.join([*(s for s in section if s), location_label(page, page_end, first, last)])


def safe_url(url: str) -> str | None:
    """The url if it is a plain http(s) link (anything else is never made clickable)."""
    url = (url or "").strip()
    parsed = urlparse(url)
    return url if parsed.scheme in ("http", "https") and parsed.netloc else None


def relevance_label(relevance: float | None) -> str:
    if relevance is None:
        return ""
    css = "cl-relevance" if relevance >= 0.5 else "cl-relevance cl-low"
    tip = "Estimated probability that this passage answers the question"
    return f'<span class="{css}" title="{tip}">{relevance:.0%} relevant</span>'


def card_head_html(hit: Hit) -> str:
    """Rank, title, and the meta line (section › ¶, date, source); the block carries the card's anchor id."""
    where = where_label(hit.section, hit.paragraph, hit.paragraph_end, hit.page, hit.page_end)
    meta = [f'<span class="cl-where">{escape(where)}</span>']
    meta += [escape(value) for value in (hit.date, hit.source) if value]
    return (
        f'<div class="cl-card-head" id="{card_anchor(hit.rank)}">'
        f'<span class="cl-rank">{hit.rank}</span><span class="cl-title">{escape(hit.title or hit.doc)}</span>'
        f"{relevance_label(hit.relevance)}</div>"
        f'<div class="cl-meta">{" · ".join(meta)} · <span title="file">{escape(hit.doc)}</span></div>'
    )


def also_in_html(also_in: Sequence[dict]) -> str:
    """ "Also in": the same passage in other documents, each with its section › ¶ and date."""
    if not also_in:
        return ""
    items = []
    for other in also_in:
        section = [s for s in str(other.get("section") or "").split(SECTION_SEPARATOR) if s]
        paragraph = int(other.get("paragraph") or 0)
        page = int(other.get("page") or 0) or None
        where = where_label(section, paragraph, paragraph, page) if paragraph else SECTION_SEPARATOR.join(section)
        date = f" ({escape(other['date'])})" if other.get("date") else ""
        items.append(
            f'<span class="cl-doc">{escape(other.get("title") or other.get("doc", ""))}</span> › {escape(where)}{date}'
        )
    return f'<div class="cl-also">Also in: {"; ".join(items)}</div>'


# ---------------------------------------------------------------- answer summary


def squeeze(text: str) -> str:
    return WHITESPACE.sub("", text)


def summary_sentences(hits: Sequence[Hit], limit: int = SUMMARY_SENTENCES) -> list[tuple[str, int]]:
    """The best-answering sentence of each top hit, in rank order, as (sentence, rank): duplicates, fragments
    and hits known to be irrelevant are left out."""
    chosen: list[tuple[str, int]] = []
    seen: set[str] = set()
    for hit in hits:
        if len(chosen) >= limit:
            break
        if hit.relevance is not None and hit.relevance < SUMMARY_MIN_RELEVANCE and chosen:
            continue
        sentence = hit.sentence.strip() or hit.text.strip()
        key = squeeze(sentence)
        if len(key) < SUMMARY_MIN_CHARS or key in seen or any(key in other or other in key for other in seen):
            continue
        seen.add(key)
        chosen.append((sentence, hit.rank))
    return chosen


def question_key(question: str) -> str:
    """A short stable key of a question (marks the answer it belongs to, for widgets and tests)."""
    return hashlib.sha1(" ".join(question.split()).encode("utf-8")).hexdigest()[:10]


def summary_html(hits: Sequence[Hit], answerable: bool, terms: Iterable[str] = (), question: str = "") -> str:
    """The extractive answer above the cards, each sentence followed by its [n] link to the card;
    or a plain statement that the documents do not answer the question."""
    key = f' data-question="{question_key(question)}"'
    if not hits:
        return (
            f'<div class="cl-answer cl-none"{key}><div class="cl-answer-label">No answer</div>'
            "No passage in the chosen documents matches this question.</div>"
        )
    if not answerable:
        return (
            f'<div class="cl-answer cl-none"{key}><div class="cl-answer-label">Not answered by these documents'
            "</div>The documents do not seem to answer this question. The closest passages are listed below, "
            "but none of them says it: check them before relying on them.</div>"
        )
    terms = list(terms)
    sentences = summary_sentences(hits)
    if not sentences:
        sentences = [(hits[0].text.strip(), hits[0].rank)]
    body = "".join(
        f'{highlight_html(sentence, None, terms)}<a class="cl-ref" href="#{card_anchor(rank)}" '
        f'title="Go to passage {rank}">[{rank}]</a> '
        for sentence, rank in sentences
    )
    return (
        f'<div class="cl-answer"{key}><div class="cl-answer-label">Answer from the documents</div>{body.strip()}</div>'
    )


# ---------------------------------------------------------------- documents (library viewer)


def outline(document: Document) -> list[tuple[int, int, str]]:
    """The section outline: (depth, paragraph number, heading text) of every heading paragraph."""
    items = []
    for paragraph in document.paragraphs:
        if paragraph.is_heading:
            depth = max(1, len(paragraph.section))
            items.append((depth, paragraph.number, document.paragraph_text(paragraph).strip()))
    return items


def outline_html(document: Document, anchor_prefix: str) -> str:
    items = outline(document)
    if not items:
        return '<div class="cl-outline cl-dim">This document has no section headings.</div>'
    rows = [
        f'<div style="padding-left:{(depth - 1) * 1.1:.1f}rem">'
        f'<a href="#{anchor_prefix}{number}">{escape(text)}</a> <span class="cl-pnum">¶{number}</span></div>'
        for depth, number, text in items
    ]
    return f'<div class="cl-outline">{"".join(rows)}</div>'


def document_html(document: Document, anchor_prefix: str) -> str:
    """The whole document, paragraph by paragraph with ¶ numbers and anchors for the outline."""
    blocks = [Block(p.number, p.start, p.end, p.is_heading) for p in document.paragraphs]
    return (
        f'<div class="cl-passage cl-doc-text">{blocks_html(document.text, blocks, None, (), None, anchor_prefix)}</div>'
    )
