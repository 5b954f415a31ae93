"""The ledger's answers kept in the state directory, so the bench works offline with what it
fetched last and can say how old that is. One JSON file per request path, written to a temporary
name and renamed (a kill never leaves half a file); a 404 is kept too (the ledger said "none")."""

from __future__ import annotations

import json
import os
import urllib.parse
from dataclasses import dataclass
from pathlib import Path
from typing import Any

__all__ = ["CachedAnswer", "LedgerCache"]


@dataclass(frozen=True)
class CachedAnswer:
    fetched: float  # wall-clock time of the fetch
    found: bool  # False: the ledger answered 404
    body: Any


class LedgerCache:
    def __init__(self, directory: Path) -> None:
        self.directory = directory

    def _file(self, path: str) -> Path:
        return self.directory / "answers" / (urllib.parse.quote(path.strip("/"), safe="") + ".json")

    def load(self, path: str) -> CachedAnswer | None:
        """The answer kept for ``path``; None if there is none or it cannot be read (it is fetched again)."""
        try:
            record = json.loads(self._file(path).read_text(encoding="utf-8"))
            return CachedAnswer(float(record["fetched"]), bool(record["found"]), record.get("body"))
        except (OSError, ValueError, KeyError, TypeError):
            return None

    def store(self, path: str, answer: CachedAnswer) -> None:
        target = self._file(path)
        target.parent.mkdir(parents=True, exist_ok=True)
        temporary = target.with_name(target.name + ".tmp")
        with temporary.open("w", encoding="utf-8") as file:
            json.dump({"fetched": answer.fetched, "found": answer.found, "body": answer.body}, file)
            file.flush()
            os.fsync(file.fileno())
        os.replace(temporary, target)

    def oldest(self) -> float | None:
        """When the oldest kept answer was fetched (None: nothing kept)."""
        times = [a.fetched for f in self._files() if (a := self._load_file(f)) is not None]
        return min(times) if times else None

    def count(self) -> int:
        return len(self._files())

    def _files(self) -> list[Path]:
        try:
            return sorted((self.directory / "answers").glob("*.json"))
        except OSError:
            return []

    def _load_file(self, file: Path) -> CachedAnswer | None:
        return self.load(urllib.parse.unquote(file.name.removesuffix(".json")))
