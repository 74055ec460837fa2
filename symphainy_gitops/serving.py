"""The snapshot the app serves, the loop that reloads it, and older revisions.

The loop polls the ref; when it moves, the next snapshot is built off the
request path and swapped in with one assignment. A commit that fails
validation is never served: the last good snapshot stays and the failure is
logged once and kept for ``/readyz``.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .auth import AuthSettings, KeySet, Verifier
from .errors import GitopsError
from .snapshot import Snapshot, SnapshotRejected, build_snapshot
from .source import GitSource, open_repository, resolve_commit

# The app's one logger: the reload loop is part of the app.
logger = logging.getLogger("symphainy_gitops.app")

HISTORY_SIZE = 8


class RefUnknown(GitopsError):
    """No commit, tag or branch by that name."""


@dataclass(frozen=True, slots=True)
class Served:
    """A snapshot with the verifier built for its platform's auth settings."""

    snapshot: Snapshot
    verifier: Verifier


class ConfigState:
    """The snapshot being served and the reload loop that replaces it."""

    def __init__(self, root: Path, ref: str, keys: KeySet, poll: float) -> None:
        self.root = root
        self.ref = ref
        self.keys = keys
        self.poll = poll
        self.served: Served | None = None
        self.last_error: dict[str, Any] | None = None
        self._failed: str | None = None
        self._history: OrderedDict[str, Snapshot | SnapshotRejected] = OrderedDict()
        self._build_lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def reload(self) -> None:
        """Serve the ref's commit if it moved and validates; else keep the last."""
        try:
            repo = open_repository(self.root)
            commit = resolve_commit(repo, self.ref)
        except GitopsError as exc:
            self._fail(None, str(exc), [])
            return

        commit_id = str(commit.id)
        current = self.served
        if current is not None and current.snapshot.commit == commit_id:
            return
        if commit_id == self._failed:
            return

        try:
            snapshot = build_snapshot(GitSource(repo, commit))
            served = self._served(snapshot, current)
        except SnapshotRejected as exc:
            self._fail(commit_id, f"{exc.result.errors} errors", findings_summary(exc))
            return
        except GitopsError as exc:
            self._fail(commit_id, str(exc), [])
            return

        self.served = served
        self.last_error = None
        self._failed = None
        logger.info(
            "reloaded %s at %s: %d tenants",
            self.ref,
            commit_id[:12],
            len(snapshot.tenants),
        )

    def _served(self, snapshot: Snapshot, current: Served | None) -> Served:
        settings = AuthSettings.from_platform(snapshot.platform)
        # Cached identities stay good while the rules that made them do.
        if current is not None and current.verifier.settings == settings:
            return Served(snapshot, current.verifier)
        return Served(snapshot, Verifier(self.keys, settings))

    def _fail(self, commit: str | None, message: str, findings: list[Any]) -> None:
        last = self.last_error
        if last is not None and (last["commit"], last["message"]) == (commit, message):
            return  # Logged once already; the poll keeps finding the same thing.
        self._failed = commit
        self.last_error = {
            "commit": commit,
            "message": message,
            "findings": findings,
            "at": time.time(),
        }
        first = "; ".join(f"{f['location']} {f['code']}" for f in findings[:3])
        logger.error(
            "reload failed at %s: %s%s",
            (commit or self.ref)[:12],
            message,
            f": {first}" if first else "",
        )

    def start(self) -> None:
        self._thread = threading.Thread(
            target=self._loop, name="symphainy-reload", daemon=True
        )
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=10)

    def _loop(self) -> None:
        while not self._stop.wait(self.poll):
            try:
                self.reload()
            except Exception:
                # The loop must outlive any one bad revision or git hiccup.
                logger.exception("reload raised; the last good snapshot stays")

    def at(self, ref: str) -> Snapshot:
        """The snapshot of any commit, tag or branch, built once and kept a while."""
        served = self.served
        try:
            repo = open_repository(self.root)
            commit = resolve_commit(repo, ref)
        except GitopsError:
            raise RefUnknown(ref) from None

        commit_id = str(commit.id)
        if served is not None and served.snapshot.commit == commit_id:
            return served.snapshot

        # One build at a time: a flood of refs costs one core, not all of them.
        with self._build_lock:
            found = self._history.get(commit_id)
            if found is None:
                try:
                    found = build_snapshot(GitSource(repo, commit))
                except SnapshotRejected as exc:
                    found = exc
                self._history[commit_id] = found
                if len(self._history) > HISTORY_SIZE:
                    self._history.popitem(last=False)
            self._history.move_to_end(commit_id)

        if isinstance(found, SnapshotRejected):
            raise found
        return found


def findings_summary(exc: SnapshotRejected) -> list[dict[str, Any]]:
    errors = [f for f in exc.findings if f.severity == "error"]
    return [
        {"location": f.location, "code": f.code, "tenant": f.tenant} for f in errors
    ][:10]
