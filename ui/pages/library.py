"""Library page: the current library's documents, a reader with the section outline, uploads and removals, and
the libraries themselves (create, open, delete). Library logic is index.libraries' and ui.library's."""

from __future__ import annotations

import streamlit as st

from index import libraries, settings
from index.libraries import SAMPLE
from ui import core, library, render

MESSAGES = "library-messages"
GIVEN = (
    "This index was given when the app started (--index or CITELENS_INDEX) and is shown as it is: documents "
    "cannot be {} here. To keep documents of your own, start the app without --index and use a library."
)
READ_ONLY = (
    "The sample library is read-only: its documents belong to CiteLens. Create a library (the Libraries tab) "
    "to add your own files."
)


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


def next_round(key: str) -> None:
    """A fresh, empty widget (an uploader or a form field keyed by its round) after it has been used."""
    st.session_state[key] = st.session_state.get(key, 0) + 1


def add_uploads(lib, uploads, encoder) -> None:
    files = [(upload.name, upload.getvalue()) for upload in uploads]
    with core.library_lock(), st.spinner(f"Checking the files and indexing them into the {lib.name} library…"):
        manifest = lib.manifest()  # the live one: another session may have changed it
        change = library.add_files(files, lib.index, manifest, encoder, progress_bar("Indexing:"), corpus=lib.corpus)
    for rejected in change.rejected:
        say("error", f"{rejected.name} was not added: {rejected.reason}.")
    for added in change.added:
        renamed = f" (stored as {added.name})" if added.name != added.original else ""
        paragraphs = len(added.document.paragraphs)
        say("success", f"Added “{added.document.title}”{renamed}: {paragraphs} paragraphs.")
    for problem in change.report.problems if change.report else ():  # other files of the folder, refused
        say("error", f"Not indexed: {problem}.")
    if change.added:
        core.forget_searchers()
    next_round("upload-round")
    st.rerun()


def remove(lib, doc_id: str, encoder) -> None:
    try:
        with core.library_lock(), st.spinner(f"Removing {doc_id} and updating the index…"):
            library.remove_document(
                doc_id, lib.index, lib.manifest(), encoder, progress_bar("Updating:"), corpus=lib.corpus
            )
    except library.Rejected as rejected:
        say("error", f"{rejected.name} was not removed: {rejected.reason}.")
    else:
        say("success", f"Removed {doc_id} from the {lib.name} library.")
        core.forget_searchers()
    st.rerun()


def create(data, name: str, description: str, copy_sample: bool) -> None:
    try:
        with core.library_lock():
            source = settings.BUNDLED_CORPUS if copy_sample else None
            created = libraries.create_library(data, name, description, source)
            if copy_sample:
                try:
                    with st.status(f"Indexing the {created.name} library (a copy of the sample)…") as status:
                        report = libraries.build_library(
                            created, core.encoder(), progress=progress_bar("Indexing:"), log=st.text
                        )
                        status.update(label=f"Indexed: {report.documents} documents.", state="complete")
                except Exception:
                    libraries.delete_library(data, created.name)
                    raise
    except libraries.LibraryError as error:
        st.error(str(error))
        return
    say("success", f"Created the library {created.name} in {created.root}; it is now the current library.")
    core.switch_library(created.name)
    next_round("create-round")
    st.rerun()


def delete(data, name: str) -> None:
    try:
        with core.library_lock():
            gone = libraries.delete_library(data, name)
    except libraries.LibraryError as error:
        st.error(str(error))
        return
    core.forget_searchers()
    say("success", f"Deleted the library {gone.name} (its files and its index).")
    if st.session_state.get(core.LIBRARY) == gone.name:
        core.switch_library(SAMPLE)
    st.rerun()


def libraries_tab(current) -> None:
    data = core.data_dir()
    found = libraries.list_libraries(data)
    st.caption(
        f"Each library is a folder of documents and its index. Yours live in {libraries.libraries_dir(data)} "
        f"(set {settings.ENV_DATA} or --data-dir to move them); the sample is the bundled corpus, read-only."
    )
    st.dataframe(
        [
            {
                "library": lib.name + (" (current)" if lib.name == current.name else ""),
                "documents": len(lib.manifest()["documents"]) if lib.built else None,  # None: not indexed yet
                "files": len(lib.files()),
                "created": lib.created[:10] or "built in",
                "description": lib.description,
                "folder": str(lib.root or lib.corpus),
            }
            for lib in found
        ],
        hide_index=True,
        key="libraries-table",
    )
    names = [lib.name for lib in found]
    opened = st.selectbox("Open a library", names, index=names.index(current.name), key="open-library")
    st.button(
        "Open",
        key="open-library-button",
        disabled=opened == current.name,
        on_click=core.switch_library,
        args=(opened,),
    )

    st.subheader("Create a library")
    round_ = st.session_state.get("create-round", 0)
    name = st.text_input("Name", key=f"new-library-name-{round_}", max_chars=libraries.MAX_NAME_CHARS, help=(
        "Letters (any language, e.g. 法律法规), digits, spaces and - _ ."
    ))  # fmt: skip
    description = st.text_input("Description (optional)", key=f"new-library-description-{round_}")
    copy_sample = st.checkbox(
        "Start with a copy of the sample documents (indexed now; takes a while)", key=f"new-library-sample-{round_}"
    )
    if st.button("Create library", type="primary", disabled=not name.strip(), key="create-library"):
        create(data, name, description, copy_sample)

    st.subheader("Delete a library")
    mine = [lib for lib in found if not lib.read_only]
    if not mine:
        st.caption("You have no libraries of your own yet.")
        return
    doomed = st.selectbox("Library to delete", [lib.name for lib in mine], key="delete-library")
    chosen = next(lib for lib in mine if lib.name == doomed)
    sure = st.checkbox(
        f"Delete {chosen.name}: its {len(chosen.files())} files in {chosen.root} and its index",
        key="delete-library-sure",
    )
    if st.button("Delete library", disabled=not sure, key="delete-library-button"):
        delete(data, chosen.name)


st.html(render.CSS)
lib = core.current_library()  # None: an index given at start, shown as it is
searcher = core.searcher(required=False)  # None: a library with no documents yet
index = searcher.index if searcher else None
manifest = index.manifest if index else {}
documents = index.documents if index else {}
titles = {doc_id: document.title or doc_id for doc_id, document in documents.items()}
ordered = sorted(titles, key=lambda doc_id: (titles[doc_id], doc_id))

st.title("Library")
if lib is None:
    st.caption(
        f"{len(documents)} documents · {len(index.chunks)} passages · index {core.index_dir()} (given at start, "
        "read-only)"
    )
else:
    kind = "the bundled sample, read-only" if lib.read_only else f"created {lib.created[:10]}"
    counts = f"{len(documents)} documents · {len(index.chunks)} passages" if index else "no documents yet"
    st.caption(f"**{lib.name}** ({kind}) · {counts} · files in {lib.corpus} · index {lib.index}")
show_messages()

if documents:
    rows = [
        {
            "title": document.title,
            "source": document.source,
            "date": document.date,
            "paragraphs": len(document.paragraphs),
            "passages": manifest.get("documents", {}).get(doc_id, {}).get("chunks", 0),
            "file": doc_id,
        }
        for doc_id, document in sorted(documents.items(), key=lambda item: (item[1].title, item[0]))
    ]
    st.dataframe(rows, hide_index=True, key="documents-table")
elif lib is not None:
    st.info(f"The {lib.name} library has no documents yet: add some in the “Add documents” tab.")

names = ["Read a document", "Add documents", "Remove a document"] + (["Libraries"] if lib is not None else [])
tabs = st.tabs(names)

with tabs[0]:
    doc_id = st.selectbox("Document", ordered, format_func=lambda d: f"{titles[d]} — {d}", key="read-doc")
    if doc_id:
        document = documents[doc_id]
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

with tabs[1]:
    kinds = [suffix.lstrip(".") for suffix in library.UPLOAD_SUFFIXES]
    if lib is None:
        st.info(GIVEN.format("added"))
    elif lib.read_only:
        st.info(READ_ONLY)
    else:
        st.caption(
            f"{', '.join(kinds)} files up to {library.MAX_UPLOAD_BYTES // library.MB} MB each. They are checked, "
            f"copied into {lib.corpus}, and indexed; a file that cannot be read is refused and changes nothing."
        )
        uploads = st.file_uploader(
            "Documents to add",
            type=kinds,
            accept_multiple_files=True,
            key=f"uploads-{st.session_state.get('upload-round', 0)}",
            max_upload_size=library.MAX_UPLOAD_BYTES // library.MB,
        )
        if st.button("Add to library", type="primary", disabled=not uploads, key="add"):
            add_uploads(lib, uploads, searcher.encoder if searcher else core.encoder())

with tabs[2]:
    if lib is None:
        st.info(GIVEN.format("removed"))
    elif lib.read_only:
        st.info(READ_ONLY)
    elif not ordered:
        st.caption("Nothing to remove.")
    else:
        victim = st.selectbox("Document to remove", ordered, format_func=lambda d: f"{titles[d]} — {d}", key="drop-doc")
        sure = st.checkbox(f"Delete its file from {lib.corpus}", key="drop-sure")
        if st.button("Remove from library", disabled=not (victim and sure), key="drop"):
            remove(lib, victim, searcher.encoder)

if lib is not None:
    with tabs[3]:
        libraries_tab(lib)
