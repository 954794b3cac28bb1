"""The one service the GUI, the daemon and the CLI share. No Qt here.

An Engine knows the user's settings and owns a connection to one library, opened (and, where no
library exists, created) the first time a command needs it: `doctor`, `models` and `caption` never
open it. The CLI and the daemon call its methods and show what comes back. The desktop app shares
the settings, the caption loop and the librarian, but keeps its own threads and connections (lanes)
and calls library functions on them (photocap.gui.library_reads / library_writes). Nobody outside
photocap.library writes SQL.
"""

from __future__ import annotations

import os
import threading
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable

from photocap import config
from photocap.library import db, jobs, paths, photos, roots, scan
from photocap.library.search import fusion, vectors
from photocap.library.search.keyword import Hit

if TYPE_CHECKING:
    from photocap.vision.host import ModelHost


class Engine:
    def __init__(self, settings: config.Settings | None = None, *,
                 on_new_library: Callable[[Path], None] | None = None):
        self.settings = settings or config.load()
        self._on_new_library = on_new_library     # told where, the moment a library is created
        self.db_path: Path = self.settings.db_path()
        self._conn: db.Library | None = None
        self._host: ModelHost | None = None

    @property
    def conn(self) -> db.Library:
        """The library, opened when first needed (and created there if no library exists)."""
        if self._conn is None:
            self._conn = db.connect(self.db_path)
            if self._conn.created and self._on_new_library is not None:
                self._on_new_library(self.db_path)
        return self._conn

    @property
    def models(self) -> ModelHost:
        """The ModelHost; torch is imported only when a model is first needed."""
        if self._host is None:
            from photocap.vision.host import ModelHost
            self._host = ModelHost(self.settings)
        return self._host

    # ---- library --------------------------------------------------------------------------------

    def index(self, folders: list[str], progress: scan.Progress | None = None) -> list[scan.ScanReport]:
        """Add folders to the library (if new) and bring it in line with what is on disk."""
        return scan.scan(self.conn, folders, progress, follow_links=self.settings.follow_links)

    def rescan(self, progress: scan.Progress | None = None) -> list[scan.ScanReport]:
        return scan.scan(self.conn, [r.path for r in roots.all_roots(self.conn)], progress,
                         follow_links=self.settings.follow_links)

    def add_folder(self, path: str) -> roots.Added:
        """Add a folder without scanning it (a folder inside a library folder is part of that one)."""
        return roots.register(self.conn, path)

    def remove_folder(self, path: str, *, forget: bool = False) -> int:
        """Stop watching a folder; its photos keep their captions unless `forget`. Returns their count."""
        return roots.remove(self.conn, path, forget=forget)

    def folders(self) -> list[dict]:
        """The library folders with their photo counts."""
        counts = roots.photo_counts(self.conn)
        return [{"path": r.path, "online": r.online, "last_scan": r.last_scan,
                 "photos": counts.get(r.id, (0, 0))[0], "missing": counts.get(r.id, (0, 0))[1]}
                for r in roots.all_roots(self.conn)]

    def search(self, query: str, *, limit: int = 50, offset: int = 0, mode: str = "hybrid",
               sort: str = "relevance", on_note: Callable[[str], None] | None = None) -> list[Hit]:
        """Keyword, semantic or hybrid search (fusion.search). Without an embedding model or vectors, a
        hybrid search is a keyword search and `on_note` is told why; a semantic one is an error."""
        text_vector, model = None, None
        if mode != "keyword":
            try:
                text_vector, model = self.query_vector(query)
            except db.LibraryError as exc:
                if mode == "semantic":
                    raise
                if on_note is not None:
                    on_note(f"keyword search only: {exc}")
                mode = "keyword"
            if text_vector is None and mode == "hybrid":
                mode = "keyword"                  # only filters: nothing to compare by meaning
        return fusion.search(self.conn, query, limit=limit, offset=offset, mode=mode, sort=sort,
                             text_vector=text_vector, model=model)

    def query_vector(self, query: str) -> tuple[Any, str]:
        """The text embedding of a query's free text, and the model's id; (None, id) for a query of
        filters only. LibraryError (one line) when no photo has a vector yet or the model is missing."""
        from photocap.vision.registry import ModelUnavailable
        model = self.embed_model_id()
        if not vectors.count(self.conn, model):
            raise db.LibraryError(f"no photo has an embedding of {model} yet "
                                  "(`photocap index` makes them as it captions)")
        text = fusion.semantic_text(query)
        if not text.strip():
            return None, model
        try:
            embedder = self.models.embedder()
        except ModelUnavailable as exc:
            raise db.LibraryError(str(exc)) from None
        return embedder.embed_texts([text])[0], model

    def embed_model_id(self) -> str:
        """The id vectors of the embedding model are stored under; no model is loaded."""
        from photocap.vision import registry
        return registry.model_id(self.settings.embed_model)

    def photo_for(self, target: str | int) -> photos.Photo:
        """A library photo by id or by path (a path that is a number is taken as a path first)."""
        photo = None
        if isinstance(target, str) and os.path.exists(target):
            photo = photos.by_path(self.conn, os.path.abspath(target))
        elif isinstance(target, int) or str(target).isdigit():
            photo = photos.get(self.conn, int(target))
        if photo is None:
            raise db.LibraryError(f"{target} is not a photo of the library: add its folder with "
                                  "`photocap index DIR`")
        return photo

    def similar(self, target: str | int, *, limit: int = 20) -> list[Hit]:
        """The photos most like a library photo (by its stored vector), the photo itself left out."""
        photo = self.photo_for(target)
        model = self.embed_model_id()
        if vectors.get(self.conn, photo.id, model) is None:
            raise db.LibraryError(f"{paths.display(photo.path)} has no embedding of {model} yet: "
                                  "`photocap index` makes it after captioning")
        return fusion.similar(self.conn, photo.id, model, limit=limit)

    def duplicates(self, query: str = "", *, threshold: float = 0.95) -> list[list[Hit]]:
        """Groups of near-duplicate photos among those `query` finds (all photos when empty)."""
        model = self.embed_model_id()
        if not vectors.count(self.conn, model):
            raise db.LibraryError(f"no photo has an embedding of {model} yet "
                                  "(`photocap index` makes them as it captions)")
        return fusion.duplicates(self.conn, query, model, threshold=threshold)

    def status(self) -> dict:
        model = self.embed_model_id()
        return {
            "db": str(self.db_path),
            "roots": [{"path": r.path, "online": r.online, "last_scan": r.last_scan}
                      for r in roots.all_roots(self.conn)],
            **photos.counts(self.conn),
            "embedded": vectors.count(self.conn, model),
            "embed_model": model,
            "review": photos.review_counts(self.conn),
        }

    # ---- captions and questions ------------------------------------------------------------------

    def caption_pending(self, stop: threading.Event | None = None, *, forever: bool = False,
                        wake: threading.Event | None = None, on_result: Callable | None = None,
                        on_progress: Callable | None = None):
        """Caption queued photos; returns the run's Progress. Raises ModelUnavailable (photos stay queued)."""
        from photocap.captioning import CaptionLoop
        loop = CaptionLoop(self.conn, self.models, on_result=on_result, on_progress=on_progress)
        return loop.run(stop, forever=forever, wake=wake)

    def more_captions(self, photo_id: int) -> list[str]:
        """More machine candidates for a library photo ("more options": nucleus samples added after its
        captions; approvals and the user's caption stay). Returns its machine captions now. LibraryError
        or ImageError (one line) when the photo is unknown or cannot be decoded; nothing changes then."""
        from photocap.captioning import more_captions
        return more_captions(self.conn, self.models, photo_id)

    def caption_files(self, files: list[str]):
        """Caption files without touching the library: yields (path, captions or ImageError)."""
        captioner = self.models.captioner()
        yield from captioner.caption_paths(files, decode_workers=self.settings.decode_workers)

    def ask(self, target: str | int, question: str) -> str:
        """Answer a question about a photo (a library photo id, or any image file).

        For a library photo the earlier questions and answers are context, and the pair is stored.
        """
        from photocap.library.images import open_image
        question = " ".join(question.split())
        if not question:
            raise db.LibraryError("the question is empty")
        photo = photos.get(self.conn, target) if isinstance(target, int) else \
            photos.by_path(self.conn, os.path.abspath(target))
        if isinstance(target, int) and photo is None:
            raise db.LibraryError(f"no photo with id {target} in the library")
        path = photo.path if photo else str(target)
        history = photos.questions(self.conn, photo.id) if photo else []
        asker = self.models.asker()
        image = open_image(path, max_side=asker.loaded.image_size * 2)
        answer = asker.ask(image, question, history)
        if photo is not None:
            photos.add_question(self.conn, photo.id, question, answer, self.models.vqa_model_name())
        return answer

    def pause(self, value: bool = True) -> None:
        jobs.set_paused(self.conn, value)

    def close(self) -> None:
        if self._host is not None:
            self._host.unload()
        if self._conn is not None:
            self._conn.close()
            self._conn = None

    def __enter__(self) -> "Engine":
        return self

    def __exit__(self, *exc) -> None:
        self.close()
