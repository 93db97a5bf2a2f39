"""``--dist loadgroup`` that keeps each ``xdist_group`` on one worker, and starts the longest work
first.

pytest-xdist's own loadgroup scheduler learns a test's group from a suffix its worker appends to
the test's node id (``item._nodeid``). pytest 9.2 keeps node ids elsewhere, so the suffix never
appears and every grouped test is scheduled alone (pytest-xdist#1386): each worker set up its own
copy of a group's module fixture (two browsers, two private PostgreSQL servers, each 60 s soak
run twice). Here each worker writes down what it collected instead: every grouped test's group
(the sorted names of its ``xdist_group`` marks joined with ``_``, as xdist names them) and which
tests are ``slow``, in a directory the controller shares with the workers. The controller's
scheduler is xdist's ``LoadScopeScheduling`` with those groups as its work units (any other test
is a unit of its own, as under ``--dist load``), queued longest first: the groups (an expensive
module fixture each, largest first), then the ``slow`` tests, then the rest, so the quick tests
at the end even out the workers instead of a long one starting last.

Without ``--dist loadgroup`` (``-n 0``, ``-p no:xdist``, another ``--dist``) none of this runs.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest

_WORKERINPUT_KEY = "imprint_xdist_groups"
# An xdist_group, then a test marked slow, then any other test (sorted: the lowest first).
GROUP, SLOW, OTHER = 0, 1, 2


def enabled(config: pytest.Config) -> bool:
    """On the controller, ``--dist loadgroup``; on a worker, the same (xdist sets ``loadgroup``)."""
    if hasattr(config, "workerinput"):
        return bool(config.getoption("loadgroup", False))
    return bool(config.getoption("dist", "no") == "loadgroup")


def _controller_dir(config: pytest.Config) -> Path:
    root: Path = config._tmp_path_factory.getbasetemp()  # type: ignore[attr-defined]
    path = root / "xdist-groups"
    path.mkdir(exist_ok=True)
    return path


def pass_dir_to_worker(node: Any) -> None:
    """``pytest_configure_node``: where the worker writes what it collected."""
    if enabled(node.config):
        node.workerinput[_WORKERINPUT_KEY] = str(_controller_dir(node.config))


def group_of(item: pytest.Item) -> str | None:
    names = {
        str(mark.args[0] if mark.args else mark.kwargs.get("name", "default"))
        for mark in item.iter_markers("xdist_group")
    }
    return "_".join(sorted(names)) if names else None


def record_collection(config: pytest.Config, items: Sequence[pytest.Item]) -> None:
    """On a worker, once its collection is final: each grouped test's group, the slow tests."""
    directory = getattr(config, "workerinput", {}).get(_WORKERINPUT_KEY)
    if directory is None:
        return
    groups = {item.nodeid: group for item in items if (group := group_of(item))}
    slow = [item.nodeid for item in items if item.get_closest_marker("slow")]
    workerid = config.workerinput["workerid"]  # type: ignore[attr-defined]
    path = Path(directory) / f"{workerid}.json"
    partial = path.with_suffix(".partial")
    partial.write_text(json.dumps({"groups": groups, "slow": slow}))
    partial.replace(path)


def make_scheduler(config: pytest.Config, log: Any) -> Any:
    """``pytest_xdist_make_scheduler``: ours under ``--dist loadgroup``, else xdist's."""
    if not enabled(config):
        return None
    from xdist.scheduler import LoadScopeScheduling

    class GroupScheduling(LoadScopeScheduling):  # type: ignore[misc]
        def __init__(self, config: pytest.Config, log: Any = None) -> None:
            super().__init__(config, log)
            self._groups: dict[str, str] | None = None
            self._slow: set[str] = set()

        def _load(self) -> dict[str, str]:
            if self._groups is None:
                self._groups = {}
                for path in sorted(_controller_dir(self.config).glob("gw*.json")):
                    data = json.loads(path.read_text())
                    self._groups.update(data["groups"])
                    self._slow.update(data["slow"])
            return self._groups

        def _split_scope(self, nodeid: str) -> str:
            group = self._load().get(nodeid)
            if group is not None:
                return "@" + group
            # A pytest whose node ids do carry xdist's suffix (``nodeid@group``).
            if nodeid.rfind("@") > nodeid.rfind("]"):
                return "@" + nodeid.rsplit("@", 1)[1]
            return nodeid

        def _rank(self, scope: str, unit: dict[str, bool]) -> tuple[int, int]:
            if scope.startswith("@"):
                return (GROUP, -len(unit))
            return (SLOW if scope in self._slow else OTHER, 0)

        def schedule(self) -> None:
            """LoadScopeScheduling.schedule, with the work units queued by ``_rank``."""
            assert self.collection_is_completed
            if self.collection is not None:  # a node added later
                for node in self.nodes:
                    self._reschedule(node)
                return
            if not self._check_nodes_have_same_collection():
                self.log("**Different tests collected, aborting run**")
                return
            self.collection = list(next(iter(self.registered_collections.values())))
            if not self.collection:
                return
            units: dict[str, dict[str, bool]] = {}
            for nodeid in self.collection:
                units.setdefault(self._split_scope(nodeid), {})[nodeid] = False
            # sorted() is stable: within a rank, collection order.
            for scope, unit in sorted(units.items(), key=lambda kv: self._rank(*kv)):
                self.workqueue[scope] = unit
            for _ in range(len(self.nodes) - len(self.workqueue)):  # more workers than work
                unused, _assigned = self.assigned_work.popitem()
                unused.shutdown()
            for node in self.nodes:
                self._assign_work_unit(node)
            for node in self.nodes:
                self._reschedule(node)
            if not self.workqueue:
                for node in self.nodes:
                    node.shutdown()

    return GroupScheduling(config, log)
