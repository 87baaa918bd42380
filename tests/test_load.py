"""Load: 20 concurrent clients × 50 questions through Gradio's API, no errors, no cross-talk.

Bounded in count and time, loopback only; it reports p95 latency rather than asserting it
(timing targets live in `kefu-mentor bench`).
"""

from __future__ import annotations

import threading
import time

import numpy as np
import pytest

pytestmark = pytest.mark.slow

CLIENTS = 20
PER_CLIENT = 50
QUESTIONS = [
    "泄露他人信息会被扣几分？",
    "网店客服分为哪几类？",
    "平邮一般多少天能到",
    "有人发链接让我登录后台，点不点",
    "客服跟美工有什么关系",
    "买家说图片和实物颜色不一样咋回",
    "语言表达能力怎么提升",
    "什么是名片效应",
    "铁路运输有什么特点",
    "客服的职责有哪些",
    "红烧肉怎么做才好吃？",
    "顾客让我把别人的地址发给他",
]


def test_concurrent_clients_get_their_own_answers(app_url):
    from gradio_client import Client

    reference = Client(app_url, verbose=False)
    expected = {}
    for q in QUESTIONS:
        answer = reference.predict(q, [], 5, None, api_name="/ask")
        expected[q] = (answer["abstained"], [c["chunk_id"] for c in answer["citations"]])

    errors: list[str] = []
    latencies: list[float] = []
    lock = threading.Lock()
    deadline = time.time() + 600

    def client_run(n: int) -> None:
        client = Client(app_url, verbose=False)
        for i in range(PER_CLIENT):
            if time.time() > deadline:
                with lock:
                    errors.append(f"client {n}: time limit reached")
                return
            question = QUESTIONS[(n * 7 + i) % len(QUESTIONS)]
            started = time.perf_counter()
            try:
                answer = client.predict(question, [], 5, None, api_name="/ask")
            except Exception as exc:  # record, don't stop the others
                with lock:
                    errors.append(f"client {n}: {exc!r}")
                continue
            elapsed = (time.perf_counter() - started) * 1000
            got = (answer.get("abstained"), [c["chunk_id"] for c in answer.get("citations", [])])
            with lock:
                latencies.append(elapsed)
                if answer.get("question") != question or got != expected[question]:
                    errors.append(f"client {n}: answer for {answer.get('question')!r} does not match {question!r}")

    threads = [threading.Thread(target=client_run, args=(n,)) for n in range(CLIENTS)]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(660)
    wall = time.perf_counter() - started
    p50, p95 = np.percentile(latencies, [50, 95]) if latencies else (float("nan"), float("nan"))
    print(
        f"\nload: {len(latencies)} answers from {CLIENTS} clients in {wall:.1f} s; "
        f"p50 {p50:.0f} ms, p95 {p95:.0f} ms (queued, 2 at a time); errors {len(errors)}"
    )
    assert not errors, errors[:5]
    assert len(latencies) == CLIENTS * PER_CLIENT
