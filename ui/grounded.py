"""The Ask page's grounded answer (issue 16), as pure functions: the endpoint settings from the sidebar's fields,
and the HTML of the answer while it streams, of its checked sentences, and of a question the model was not asked.

The page (ui/pages/ask.py) only calls ``index.generate.ask.ask`` and puts these fragments on the page. Everything
the model wrote is escaped: its text is shown, never interpreted (no HTML, no markdown links).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from index.generate.endpoint import ENV_KEY, LLMSettings
from ui.render import card_anchor, escape, question_key

CURSOR = "▌"
SUPPORTED, UNSUPPORTED = "✓", "✗"

CSS = """
<style>
.cl-grounded { border-left: 4px solid #7c3aed; background: #f5f3ff; color: #1e293b; border-radius: .5rem;
  padding: .75rem 1rem; line-height: 1.8; }
.cl-grounded .cl-answer-label { color: #6d28d9; }
.cl-grounded.cl-none { border-left-color: #d97706; background: #fffbeb; }
.cl-grounded.cl-none .cl-answer-label { color: #b45309; }
.cl-gen-text { white-space: pre-wrap; }
.cl-gsent { display: flex; gap: .5rem; align-items: baseline; padding: .1rem 0; }
.cl-gsent .cl-mark { font-weight: 800; min-width: 1.1rem; text-align: center; }
.cl-gsent.cl-ok .cl-mark { color: #15803d; }
.cl-gsent.cl-bad .cl-mark { color: #b91c1c; }
.cl-gsent.cl-bad .cl-gtext { text-decoration: underline dotted #b91c1c; }
.cl-problems { font-size: .82rem; color: #991b1b; }
.cl-support { font-size: .82rem; opacity: .75; }
.cl-gcount { font-size: .82rem; opacity: .75; margin-top: .35rem; }
span.cl-badref { font-weight: 700; font-size: .8em; color: #b91c1c; margin: 0 .1rem; }
</style>
"""


def settings_from_fields(
    url: str, model: str, typed_key: str, environ: Mapping[str, str], max_tokens: int | None = None
) -> LLMSettings | None:
    """The endpoint the sidebar's fields name (None: no URL, the extractive answer stays). A key typed in the
    password field wins; an empty field means the key of $CITELENS_LLM_KEY (never put into the field, so it
    never reaches the browser). Raises ``NoEndpoint`` (one line) for settings that cannot work."""
    url, model = (url or "").strip(), (model or "").strip()
    key = (typed_key or "").strip() or environ.get(ENV_KEY, "")
    options = {"max_tokens": max_tokens} if max_tokens else {}
    return LLMSettings.from_env({}, url=url or None, model=model or None, key=key, **options)


def _label(text: str) -> str:
    return f'<div class="cl-answer-label">{escape(text)}</div>'


def streaming_html(text: str, question: str, model: str, done: bool = False) -> str:
    """The answer as far as the server has written it (the cursor marks that more is coming)."""
    cursor = "" if done else CURSOR
    return (
        f'<div class="cl-grounded cl-streaming" data-question="{question_key(question)}">'
        f"{_label(f'Answer written by {model}, checking follows')}"
        f'<div class="cl-gen-text">{escape(text)}{cursor}</div></div>'
    )


def ref_html(number: int, hits: Sequence) -> str:
    """``[n]`` as a link to its card (passage [n] is ``hits[n-1]``); a number naming no passage is shown in red."""
    if 1 <= number <= len(hits):
        rank = hits[number - 1].rank
        return f'<a class="cl-ref" href="#{card_anchor(rank)}" title="Go to passage {rank}">[{number}]</a>'
    return f'<span class="cl-badref" title="There is no passage {number}">[{number}]</span>'


def support_title(sentence) -> str:
    """What the hover over a sentence says: the passage sentence that supports it best, and how well."""
    if getattr(sentence, "no_answer", False):
        return "Says the passages do not answer: no claim to check."
    support = sentence.support
    if support is None:
        return "No cited passage to check against."
    return f"Closest sentence of [{support.rank}] (similarity {support.score:.2f}): {support.sentence}"


def sentence_html(sentence, hits: Sequence) -> str:
    ok = bool(sentence.supported)
    mark, kind = (SUPPORTED, "cl-ok") if ok else (UNSUPPORTED, "cl-bad")
    state = "supported by the passages it cites" if ok else "not supported by the passages it cites"
    refs = "".join(ref_html(n, hits) for n in sentence.citations)
    problems = f'<div class="cl-problems">{escape("; ".join(sentence.problems))}</div>' if sentence.problems else ""
    support = ""
    if sentence.support is not None and not getattr(sentence, "no_answer", False):
        support = (
            f'<div class="cl-support">[{sentence.support.rank}] says: {escape(sentence.support.sentence.strip())}</div>'
            if not ok
            else ""
        )
    return (
        f'<div class="cl-gsent {kind}" title="{escape(support_title(sentence))}">'
        f'<span class="cl-mark" aria-label="{state}">{mark}</span>'
        f'<div><span class="cl-gtext">{escape(sentence.text)}</span>{refs}{problems}{support}</div></div>'
    )


def checked_html(result, hits: Sequence, question: str) -> str:
    """The answer again, one row per sentence: ✓ or ✗, the sentence, its [n] links to the cards, why a ✗ is
    one (and what its best cited sentence says instead); the supporting sentence on hover."""
    sentences = list(result.sentences)
    if not sentences:  # the model wrote nothing one could call a sentence
        body = f'<div class="cl-gen-text">{escape(result.text) or "(The model wrote no answer.)"}</div>'
        count = ""
    else:
        body = "".join(sentence_html(sentence, hits) for sentence in sentences)
        claims = [s for s in sentences if not getattr(s, "no_answer", False)]
        held = sum(bool(s.supported) for s in claims)
        count = (
            f'<div class="cl-gcount">{held} of {len(claims)} sentence{"s" * (len(claims) != 1)} supported by the '
            f"passages {'it cites' if len(claims) == 1 else 'they cite'}. Hover a sentence for its closest passage "
            "sentence.</div>"
            if claims
            else ""
        )
    model = f" by {result.model}" if result.model else ""
    return (
        f'<div class="cl-grounded cl-checked" data-question="{question_key(question)}">'
        f"{_label(f'Answer written{model}, each sentence checked')}{body}{count}</div>"
    )


def not_asked_html(result, question: str) -> str:
    """Retrieval found nothing that answers: said plainly, in the question's language; the model was not asked."""
    return (
        f'<div class="cl-grounded cl-none cl-not-asked" data-question="{question_key(question)}">'
        f"{_label('Not answered by these documents')}{escape(result.text)}</div>"
    )
