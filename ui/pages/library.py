"""Library page: the indexed documents, a reader with the section outline, uploads and removals."""

from __future__ import annotations

import streamlit as st

from index.passage_index import read_manifest
from ui import core, library, render

MESSAGES = "library-messages"


def say(kind: str, text: str) -> None:
    """Messages shown after the rerun that refreshes the page (kind: success, error, info)."""
    st.session_state.setdefault(MESSAGES, []).append((kind, text))


def show_messages() -> None:
    for kind, text in st.session_state.pop(MESSAGES, []):
        {"success": st.success, "error": st.error}.get(kind, st.info)(text)


def progress_bar(label: str):
    bar = st.progress(0.0, text=label)

    def update(done: int, total: int) -> None:
        bar.progress(done / max(total, 1), text=f"{label} {done} of {total} passages and sentences embedded")

    return update


def add_uploads(uploads, encoder) -> None:
    files = [(upload.name, upload.getvalue()) for upload in uploads]
    with core.library_lock(), st.spinner("Checking and indexing…"):
        manifest = read_manifest(core.index_dir())  # the live one: another session may have changed it
        change = library.add_files(files, core.index_dir(), manifest, encoder, progress_bar("Indexing:"))
    for rejected in change.rejected:
        say("error", f"{rejected.name} was not added: {rejected.reason}.")
    for added in change.added:
        renamed = f" (stored as {added.name})" if added.name != added.original else ""
        paragraphs = len(added.document.paragraphs)
        say("success", f"Added “{added.document.title}”{renamed}: {paragraphs} paragraphs.")
    if change.added:
        core.forget_searchers()
    st.session_state["upload-round"] = st.session_state.get("upload-round", 0) + 1  # a fresh, empty uploader
    st.rerun()


def remove(doc_id: str, encoder) -> None:
    try:
        with core.library_lock(), st.spinner(f"Removing {doc_id} and updating the index…"):
            manifest = read_manifest(core.index_dir())
            library.remove_document(doc_id, core.index_dir(), manifest, encoder, progress_bar("Updating:"))
    except library.Rejected as rejected:
        say("error", f"{rejected.name} was not removed: {rejected.reason}.")
    else:
        say("success", f"Removed {doc_id} from the library.")
        core.forget_searchers()
    st.rerun()


st.html(render.CSS)
searcher = core.searcher()
index = searcher.index
manifest = index.manifest
corpus = library.corpus_dir(manifest)
titles = {doc_id: document.title or doc_id for doc_id, document in index.documents.items()}
ordered = sorted(titles, key=lambda doc_id: (titles[doc_id], doc_id))

st.title("Library")
st.caption(
    f"{len(index.documents)} documents · {len(index.chunks)} passages · index {core.index_dir()} · "
    f"corpus folder {corpus or '(not recorded)'}"
)
show_messages()

rows = [
    {
        "title": document.title,
        "source": document.source,
        "date": document.date,
        "paragraphs": len(document.paragraphs),
        "passages": manifest.get("documents", {}).get(doc_id, {}).get("chunks", 0),
        "file": doc_id,
    }
    for doc_id, document in sorted(index.documents.items(), key=lambda item: (item[1].title, item[0]))
]
st.dataframe(rows, hide_index=True, key="documents-table")

read, add, drop = st.tabs(["Read a document", "Add documents", "Remove a document"])

with read:
    doc_id = st.selectbox("Document", ordered, format_func=lambda d: f"{titles[d]} — {d}", key="read-doc")
    if doc_id:
        document = index.documents[doc_id]
        meta = [render.escape(x) for x in (document.source, document.date) if x]
        meta.append(f"{len(document.paragraphs)} paragraphs · {render.escape(doc_id)}")
        st.html(
            f'<div class="cl-card-head"><span class="cl-title">{render.escape(document.title)}</span></div>'
            f'<div class="cl-meta">{" · ".join(meta)}</div>'
        )
        url = render.safe_url(document.url)
        if url:
            st.link_button("Open source", url, icon=":material/open_in_new:", type="tertiary")
        outline_column, text_column = st.columns([1, 3], gap="large")
        with outline_column:
            st.markdown("**Outline**")
            st.html(render.outline_html(document, "para-"))
        with text_column:
            st.html(render.document_html(document, "para-"))

with add:
    kinds = [suffix.lstrip(".") for suffix in library.UPLOAD_SUFFIXES]
    if corpus is None:
        st.info("This index does not record the folder it was built from, so documents cannot be added here.")
    else:
        st.caption(
            f"{', '.join(kinds)} files up to {library.MAX_UPLOAD_BYTES // library.MB} MB each. They are checked, "
            f"copied into {corpus}, and indexed; a file that cannot be read is refused and changes nothing."
        )
        uploads = st.file_uploader(
            "Documents to add",
            type=kinds,
            accept_multiple_files=True,
            key=f"uploads-{st.session_state.get('upload-round', 0)}",
            max_upload_size=library.MAX_UPLOAD_BYTES // library.MB,
        )
        if st.button("Add to library", type="primary", disabled=not uploads, key="add"):
            add_uploads(uploads, searcher.encoder)

with drop:
    if corpus is None:
        st.info("This index does not record the folder it was built from, so documents cannot be removed here.")
    else:
        victim = st.selectbox("Document to remove", ordered, format_func=lambda d: f"{titles[d]} — {d}", key="drop-doc")
        sure = st.checkbox(f"Delete its file from {corpus}", key="drop-sure")
        if st.button("Remove from library", disabled=not (victim and sure), key="drop"):
            remove(victim, searcher.encoder)
