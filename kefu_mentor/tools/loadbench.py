"""Load through nginx with 1 and 2 replicas and one PostgreSQL log (`kefu-mentor bench --cluster`).

Real parts on this machine (see `cluster.py`); the figure for N machines is worked out on paper
from what one replica serves and how many log writes a second the database takes, both measured
in the same run.
"""

from __future__ import annotations

import json
import threading
import time
from pathlib import Path

from ..config import Settings
from ..modes.qlog import QuestionLog
from ..schema import Answer
from .bench import machine, percentiles
from .cluster import LocalCluster, LocalPostgres

QUESTIONS = [
    "泄露他人信息会被扣几分？",
    "网店客服分为哪几类？",
    "平邮一般多少天能到",
    "有人发链接让我登录后台，点不点",
    "买家说图片和实物颜色不一样咋回",
    "语言表达能力怎么提升",
    "什么是名片效应",
    "客服的职责有哪些",
    "红烧肉怎么做才好吃？",
    "顾客让我把别人的地址发给他",
]


def _drive(url: str, clients: int, per_client: int) -> dict:
    from gradio_client import Client

    latencies: list[float] = []
    errors = 0
    lock = threading.Lock()

    def run(n: int) -> None:
        nonlocal errors
        client = Client(url, verbose=False)
        for i in range(per_client):
            started = time.perf_counter()
            try:
                client.predict(QUESTIONS[(n + i) % len(QUESTIONS)], [], 5, None, f"bench-{n}", api_name="/ask")
            except Exception:
                with lock:
                    errors += 1
                continue
            with lock:
                latencies.append((time.perf_counter() - started) * 1000)

    started = time.perf_counter()
    threads = [threading.Thread(target=run, args=(n,)) for n in range(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    seconds = time.perf_counter() - started
    return {
        "answers": len(latencies),
        "errors": errors,
        "seconds": round(seconds, 1),
        "per_second": round(len(latencies) / seconds, 1),
        "latency_ms": percentiles(latencies),
    }


def _database_write_rate(url: str, threads: int = 4, per_thread: int = 500) -> float:
    """Question-log writes a second into PostgreSQL (each one its own transaction, as in the app)."""
    qlog = QuestionLog(url, replica="bench")
    answer = Answer("买家问能不能便宜点，怎么回复比较好？", "", (), False, 0.5)

    def run() -> None:
        for _ in range(per_thread):
            qlog.record(answer, "bench-db")

    started = time.perf_counter()
    workers = [threading.Thread(target=run) for _ in range(threads)]
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    seconds = time.perf_counter() - started
    qlog.close()
    return round(threads * per_thread / seconds, 1)


def run_cluster_bench(settings: Settings, root: Path, clients: int = 20, per_client: int = 25) -> dict:
    pg = LocalPostgres().start()
    results: dict = {"machine": machine(), "clients": clients, "per_client": per_client, "runs": {}}
    try:
        for replicas in (1, 2):
            cluster = LocalCluster(settings, replicas=replicas, root=root, database_url=pg.url)
            try:
                cluster.start()
                _drive(cluster.url, replicas * 2, 3)  # every replica loads its index before timing
                if replicas == 1:  # the baseline in the same run: the replica itself, no nginx
                    results["direct"] = _drive(f"http://{cluster.members[0].address}/", clients, per_client)
                results["runs"][replicas] = _drive(cluster.url, clients, per_client)
            finally:
                cluster.close()
        results["db_writes_per_second"] = _database_write_rate(pg.url)
    finally:
        pg.close()
    one = results["runs"][1]["per_second"]
    db = results["db_writes_per_second"]
    # One log write per answer: N machines serve N × one replica's rate until the database's
    # write rate is reached.
    results["projection"] = {n: round(min(n * one, db), 1) for n in (1, 2, 4, 8, 16)}
    return results


def format_cluster(r: dict) -> str:
    lines = [
        "| 副本数（同一台 2 核机器） | 回答数 | 错误 | 用时 (s) | 每秒回答 | p50 (ms) | p95 (ms) |",
        "|---|---|---|---|---|---|---|",
    ]
    rows = [("1（直连，不经 nginx）", r["direct"])] if "direct" in r else []
    rows += [(str(n), run) for n, run in r["runs"].items()]
    for n, run in rows:
        lat = run["latency_ms"]
        lines.append(
            f"| {n} | {run['answers']} | {run['errors']} | {run['seconds']} | {run['per_second']} | {lat['p50']:.0f} | {lat['p95']:.0f} |"
        )
    lines += [
        "",
        f"PostgreSQL 提问日志写入：每秒 {r['db_writes_per_second']} 条（4 个线程，每条一个事务，与应用相同）。",
        "",
        "| 机器数（每台一个副本，推算） | 每秒回答（上限） |",
        "|---|---|",
    ]
    lines += [f"| {n} | {v} |" for n, v in r["projection"].items()]
    return "\n".join(lines)


def write_cluster_report(results: dict, docs: Path = Path("docs")) -> None:
    m = results["machine"]
    one = results["runs"][1]["per_second"]
    text = (
        "# 多副本基准测试（nginx + PostgreSQL）\n\n"
        "由 `kefu-mentor bench --cluster` 生成（每次运行覆盖本文件）。真实部件：Debian 的 PostgreSQL 与 nginx，"
        f"应用副本按 `deploy/nginx.conf` 的同一份配置接在 nginx 后面；{results['clients']} 个客户端各问 "
        f"{results['per_client']} 个问题（gradio_client，经 nginx）。\n\n"
        f"机器：{m['cpu']}，{m['cores']} 核，{m['memory']}。\n\n"
        + format_cluster(results)
        + "\n\n**怎么读**：这台机器只有 2 个核，两个副本在同一台机器上争用同样的 CPU，所以第二个副本在这里几乎不增加吞吐；"
        "它带来的是一个副本挂掉时另一个接着回答（见 tests/test_cluster.py）。分到多台机器时，每台机器一个副本，"
        f"吞吐按单副本的每秒 {one} 个回答线性增长，直到数据库的写入速度成为上限（每个回答写一条日志）；"
        "上表的推算就是 min(N × 单副本, 数据库每秒写入)。这里的 PostgreSQL 是测试用的临时库（关闭了 fsync），"
        "正式库打开 fsync 后每秒写入会更少，上线前请在自己的库上用同样的方法（或 pgbench）测一次。\n\n"
        "```json\n" + json.dumps(results, ensure_ascii=False, indent=2) + "\n```\n"
    )
    (docs / "benchmarks-cluster.md").write_text(text, encoding="utf-8")
