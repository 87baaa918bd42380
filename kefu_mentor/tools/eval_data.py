"""`kefu-mentor eval-data`: rebuild the real buyer lines from a local copy of their corpora.

The public customer-service corpora the lines come from carry no licence, so the repository
keeps only pointers (repository, commit, path, line, character span, SHA-1) and labels. This
reads each pointed-at file from a local git copy, cuts the span out, checks the SHA-1 and
writes `.data/eval/buyer_lines.jsonl` (id → text), which `kefu-mentor eval` then reads.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import subprocess
import sys
from pathlib import Path

import yaml

from .evaluation import EVAL_DIR, REAL_TEXT

POINTERS = EVAL_DIR / "real" / "buyer_lines.yaml"


def git_dirs(mirror: Path, repo: str) -> list[Path]:
    """Places a copy of `owner/name` may sit under `mirror` (bare mirrors or clones)."""
    owner, name = repo.split("/", 1)
    flat = f"{owner}+{name}"
    return [mirror / flat / "repo", mirror / flat, mirror / owner / name, mirror / name, mirror]


def read_blob(mirror: Path, repo: str, commit: str, path: str) -> str | None:
    for place in git_dirs(mirror, repo):
        git_dir = place if (place / "HEAD").exists() else place / ".git"
        if not (git_dir / "HEAD").exists():
            continue
        done = subprocess.run(["git", f"--git-dir={git_dir}", "show", f"{commit}:{path}"], capture_output=True)
        if done.returncode == 0:
            return done.stdout.decode("utf-8", errors="replace")
    return None


def rebuild(mirror: Path, pointers: Path = POINTERS, out: Path = REAL_TEXT) -> tuple[int, list[str]]:
    """Write id → text for every pointer found; returns (count written, problems)."""
    rows = yaml.safe_load(pointers.read_text(encoding="utf-8")) or []
    files: dict[tuple[str, str, str], list[str] | None] = {}
    written, problems = [], []
    for row in rows:
        where = (row["repo"], row["commit"], row["path"])
        if where not in files:
            blob = read_blob(mirror, *where)
            files[where] = blob.split("\n") if blob is not None else None
        lines = files[where]
        if lines is None:
            problems.append(f"{row['id']}：在 {mirror} 下找不到 {row['repo']} 的提交 {row['commit'][:10]}")
            continue
        text = lines[row["line"] - 1][row["start"] : row["end"]] if row["line"] <= len(lines) else ""
        if hashlib.sha1(text.encode("utf-8")).hexdigest() != row["sha1"]:
            problems.append(f"{row['id']}：{row['path']} 第 {row['line']} 行的内容与校验和不符")
            continue
        written.append({"id": row["id"], "text": text})
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in written), encoding="utf-8")
    return len(written), problems


def cmd_eval_data(args: argparse.Namespace) -> int:
    count, problems = rebuild(Path(args.mirror))
    for problem in problems[:20]:
        print(problem, file=sys.stderr)
    if len(problems) > 20:
        print(f"……另有 {len(problems) - 20} 条问题", file=sys.stderr)
    print(f"已还原 {count} 条真实买家消息到 {REAL_TEXT}（{len(problems)} 条未能还原）")
    return 0 if count else 1
