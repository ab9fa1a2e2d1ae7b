"""The pre-commit hook other repositories use: `pre-commit try-repo` on a clone of HEAD.

pre-commit builds the hook's own virtualenv with pip (`language: python`): it works offline
from the configured package index. Marked slow: the first run installs the environment.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
PRE_COMMIT = Path(sys.executable).with_name("pre-commit")


@pytest.mark.slow
def test_pre_commit_hook_passes_our_compose_file_and_fails_a_bad_one(tmp_path):
    if not PRE_COMMIT.exists():
        pytest.fail("pre-commit is a dev dependency: install requirements-dev.lock")
    clone = tmp_path / "clone"
    subprocess.run(["git", "clone", "-q", str(REPO), str(clone)], check=True)
    env = {"PATH": "/usr/bin:/bin", "PRE_COMMIT_HOME": str(tmp_path / "cache")}
    env["HOME"] = str(tmp_path)

    def try_repo(*files: str) -> subprocess.CompletedProcess:
        command = [str(PRE_COMMIT), "try-repo", str(clone), "watchkeeper-lint", "--files", *files]
        return subprocess.run(
            command, cwd=clone, env=env, capture_output=True, text=True, timeout=600
        )

    good = try_repo("docker-compose.yml")
    assert good.returncode == 0, good.stdout + good.stderr
    assert "Passed" in good.stdout
    bad = clone / "stack.yml"
    bad.write_text("services:\n  app:\n    image: nginx\n")
    failed = try_repo("stack.yml")
    assert failed.returncode == 1, failed.stdout + failed.stderr
    assert "images.tag-pinned" in failed.stdout
    shutil.rmtree(clone)
