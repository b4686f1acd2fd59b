"""``dbt-ol`` (openlineage-dbt), guarded: dbt's exit code, whatever happens to lineage.

``python -m govlake.lineage.dbt_ol <dbt arguments>`` runs dbt through openlineage-dbt's
wrapper, which runs ``dbt`` and then sends one event per model, snapshot and test from
dbt's artifacts (``run_results.json``, ``manifest.json``), wrapped in a run of
``dbt-run-<project>``. Column lineage comes from the compiled SQL, read through PostgreSQL
first (:mod:`govlake.lineage.dbt_columns`): the models' ``select *`` hides it from
openlineage_sql alone.

dbt-ol returns dbt's exit code — unless the wrapper itself fails, before or after dbt
ran (a profile it cannot read, an artifact it cannot parse): then a lineage problem would
change what ``govlake dbt`` and the DAGs see. Here such a failure is reported as a warning
on stderr and dbt's own exit code is returned; if dbt had not run yet, it is run plainly.
The transport, namespace and parent come from the environment ``run_dbt`` prepares
(``OPENLINEAGE__TRANSPORT``, ``OPENLINEAGE_NAMESPACE``, ``OPENLINEAGE_CONTEXT``).
"""

from __future__ import annotations

import os
import subprocess
import sys
import traceback
from pathlib import Path


class _RecordingSubprocess:
    """Stands in for the ``subprocess`` module inside openlineage.dbt only: the same
    Popen, which remembers the exit code of the dbt it ran."""

    def __init__(self) -> None:
        self.codes: list[int] = []
        recorded = self.codes

        class Popen(subprocess.Popen):
            def wait(self, timeout: float | None = None) -> int:
                code = super().wait(timeout)
                recorded.append(code)
                return code

        self.Popen = Popen


def main(argv: list[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    bin_dir = str(Path(sys.executable).parent)  # dbt-ol runs `dbt` from PATH: this venv's
    os.environ["PATH"] = bin_dir + os.pathsep + os.environ.get("PATH", "")
    recording = _RecordingSubprocess()
    try:
        import openlineage.dbt as dbt_ol

        from govlake.lineage.dbt_columns import install

        install()  # column lineage through PostgreSQL's expansion of `select *`

        dbt_ol.subprocess = recording  # type: ignore[assignment]
        sys.argv = ["dbt-ol", *args]
        return int(dbt_ol.main())
    except Exception as error:
        print(
            f"warning: 血缘 openlineage-dbt failed ({type(error).__name__}: {error}); dbt's "
            f"lineage events of this run may be missing, dbt's result is unaffected\n"
            + traceback.format_exc(),
            file=sys.stderr,
        )
        if recording.codes:
            return recording.codes[-1]
        return subprocess.call(["dbt", *args])


if __name__ == "__main__":
    sys.exit(main())
