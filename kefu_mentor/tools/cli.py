"""`kefu-mentor` command line: build, ask, eval, check-corpus, info."""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
import time
from dataclasses import asdict
from pathlib import Path

from ..config import DEFAULT_EMBEDDER, Settings
from ..errors import IndexUnavailable, MentorError, QuestionError
from ..schema import SOURCE_LABELS, SOURCE_TYPES, Answer


def _settings(args: argparse.Namespace) -> Settings:
    return Settings().with_(corpus_dir=args.corpus, index_dir=args.index, cache_dir=args.cache, embedder=args.embedder)


def _notify(message: str) -> None:
    print(message, file=sys.stderr)


def cmd_build(args: argparse.Namespace) -> int:
    from ..pipeline.index import build_index, console_progress, load_index

    settings = _settings(args)
    if args.check:
        # The index ships with the code (index/ is committed): CI fails when it no longer
        # matches the corpus, the chunker or the embedder, or a file of it is damaged.
        try:
            store = load_index(settings)
        except IndexUnavailable as exc:
            print(
                f"{exc}\n提交的索引与语料不一致：请运行 `kefu-mentor build`，再把 {settings.index_dir}/ 一起提交。",
                file=sys.stderr,
            )
            return 1
        print(
            f"索引与语料一致：{settings.index_dir}（{len(store.chunks)} 个文本块，语料摘要 "
            f"{store.manifest['corpus']['digest'][:12]}）"
        )
        return 0
    started = time.perf_counter()
    manifest = build_index(settings, progress=None if args.quiet else console_progress())
    sources = "，".join(f"{SOURCE_LABELS[s]} {n}" for s, n in manifest["sources"].items() if n)
    cache = manifest["embedding_cache"]
    print(
        f"索引已建立：{settings.index_dir}（{manifest['chunk_count']} 个文本块：{sources}；"
        f"向量 {manifest['vector_count']} 条，其中 {cache['hits']} 条来自缓存；"
        f"用时 {time.perf_counter() - started:.1f} 秒）"
    )
    return 0


def format_answer(answer: Answer) -> str:
    """Readable terminal output: the answer, then every source with its place and page."""
    lines = [*answer.notices, answer.answer]
    if answer.citations:
        lines.append("\n来源：")
        for c in answer.citations:
            page = f" · 第 {c.page} 页" if c.page else ""
            lines.append(f"[{c.rank}] {c.label} · {c.title}{page}")
            lines.append("    " + c.text.replace("\n", "\n    "))
    return "\n".join(lines)


MAX_LINE_BYTES = 1_000_000  # one request line; a question is answered on its first 2,000 characters anyway


def _has_lone_surrogate(value) -> bool:
    """True when a decoded JSON value holds half of a UTF-16 pair ("\\ud800"), which is no text."""
    if isinstance(value, str):
        return any(0xD800 <= ord(c) <= 0xDFFF for c in value)
    if isinstance(value, list):
        return any(_has_lone_surrogate(v) for v in value)
    return False


def _finite(value):
    """The value with every non-finite float replaced by None: the output is strict JSON."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_finite(v) for v in value]
    return value


def json_line(obj: dict) -> str:
    """One output line of the JSON Lines contract: strict JSON (no NaN or Infinity)."""
    return json.dumps(_finite(obj), ensure_ascii=False, allow_nan=False)


def _answer_line(mentor, raw: bytes, top_k: int, sources: tuple[str, ...] | None = None) -> dict:
    """One JSON Lines request → one response object (never raises)."""
    if not raw.strip():
        return {"question": None, "error": '这一行是空的。每行应是一个 JSON 对象，例如 {"question": "客服分为哪几类？"}。'}
    if len(raw) > MAX_LINE_BYTES:
        return {"question": None, "error": f"这一行太长（{len(raw)} 字节，上限 {MAX_LINE_BYTES}）。每行只放一个问题。"}
    try:
        line = raw.decode("utf-8")
    except UnicodeDecodeError:
        return {"question": None, "error": "这一行不是 UTF-8 编码的文字，无法读取。请用 UTF-8 编码重新提交。"}
    try:
        request = json.loads(line)
    except json.JSONDecodeError as exc:
        return {"question": None, "error": f'这一行不是合法的 JSON（第 {exc.colno} 个字符附近）。每行应是 {{"question": "……"}}。'}
    except RecursionError:
        return {"question": None, "error": '这一行的 JSON 嵌套太深，无法读取。每行应是 {"question": "……"} 这样的简单对象。'}
    if not isinstance(request, dict):
        return {"question": None, "error": '每行应是一个 JSON 对象，例如 {"question": "客服分为哪几类？"}。'}
    question = request.get("question")
    history = request.get("history") or []
    if _has_lone_surrogate(question) or _has_lone_surrogate(history):
        return {
            "question": None,
            "error": "这一行含有无效的字符编码（孤立的 \\ud800 一类代理字符），不是文字。请检查原文后重新提交。",
        }
    if not isinstance(history, list) or not all(isinstance(h, str) for h in history):
        return {
            "question": question if isinstance(question, str) else None,
            "error": "history 应是字符串列表（用户之前的问题，按时间先后）。",
        }
    try:
        return mentor.ask(question, history=history, top_k=top_k, sources=sources).to_json()
    except QuestionError as exc:
        return {"question": question if isinstance(question, str) else None, "error": str(exc)}


def cmd_ask(args: argparse.Namespace) -> int:
    _, mentor = _mentor(args)
    sources = tuple(args.sources.split(",")) if args.sources else None
    if args.question == "-":
        out = sys.stdout
        for raw in sys.stdin.buffer:
            # One output line per input line, blank ones included, so the two pair up by position.
            out.write(json_line(_answer_line(mentor, raw.rstrip(b"\r\n"), args.top_k, sources)) + "\n")
            out.flush()
        return 0
    try:
        answer = mentor.ask(args.question, history=args.history or [], top_k=args.top_k, sources=sources)
    except QuestionError as exc:
        if args.json:
            print(json_line({"question": args.question, "error": str(exc)}))
        else:
            print(exc, file=sys.stderr)
        return 2
    print(json_line(answer.to_json()) if args.json else format_answer(answer))
    return 0


def cmd_eval_data(args: argparse.Namespace) -> int:
    from .eval_data import cmd_eval_data as run

    return run(args)


def cmd_eval(args: argparse.Namespace) -> int:
    from .evaluation import run_eval

    return run_eval(_settings(args), args)


def cmd_check_corpus(args: argparse.Namespace) -> int:
    from ..modes.coverage import check_corpus_report

    report, ok = check_corpus_report(_settings(args), as_json=args.json)
    print(report)
    return 0 if ok else 1


def cmd_coverage(args: argparse.Namespace) -> int:
    from ..modes.instructor import coverage_json, coverage_table, coverage_text, group_gaps
    from ..modes.qlog import QuestionLog

    settings = _settings(args)
    database_url = args.database_url or os.environ.get("KEFU_MENTOR_DATABASE_URL")
    log_path = args.log or settings.data_dir / "questions.sqlite"
    use_database = bool(database_url) and not args.log  # --log names a file and wins
    target = database_url if use_database else log_path
    entries = []
    if use_database or Path(log_path).exists():
        with QuestionLog(target) as log:
            entries = log.entries(args.class_code or None)
    table = coverage_table(settings, entries)
    gaps = group_gaps(entries)
    print(coverage_json(table, gaps) if args.json else coverage_text(table))
    if args.export:
        from ..modes.instructor import coverage_chart, export_csv

        paths = [*export_csv(table, gaps, args.export), coverage_chart(table, args.export / "coverage.png")]
        print("已导出：" + "、".join(str(p) for p in paths), file=sys.stderr)
    return 0


def cmd_add(args: argparse.Namespace) -> int:
    from ..modes.uploads import add, preview

    settings = _settings(args)
    path = Path(args.file)
    if not path.is_file():
        print(f"找不到文件：{path}。请给出要添加的 .md、.txt、.docx 或 .pdf 文件的路径。", file=sys.stderr)
        return 2
    prepared = preview(settings, path, args.under)
    print(f"“{prepared.name}”将成为 corpus/teacher/{prepared.stored}，共 {len(prepared.sections)} 节：", file=sys.stderr)
    for title, chars in prepared.sections:
        print(f"  {title}（{chars} 字）", file=sys.stderr)
    if args.dry_run:
        return 0
    manifest = add(settings, prepared, replace=args.replace, progress=_console_progress())
    print(f"已添加并更新索引：新向量化 {manifest['embedding_cache']['misses']} 段，共 {manifest['chunk_count']} 个文本块。")
    return 0


def cmd_remove(args: argparse.Namespace) -> int:
    from ..modes.uploads import remove

    manifest = remove(_settings(args), args.name, progress=_console_progress())
    print(f"已删除 {args.name} 并更新索引：共 {manifest['chunk_count']} 个文本块。")
    return 0


def _mentor(args: argparse.Namespace):
    """(settings, the loaded mentor). A rebuild draws its progress bar on stderr (ensure_index's
    default), so stdout stays the answers."""
    from ..pipeline.mentor import Mentor

    settings = _settings(args)
    return settings, Mentor.load(settings.index_dir, settings, rebuild=True, notify=_notify)


def cmd_drill(args: argparse.Namespace) -> int:
    """Grade replies: JSON Lines in ({"scenario", "reply"}), one JSON line out per input."""
    from ..modes.drills import coach_for

    if not args.json:
        print(
            '用法：kefu-mentor drill --json - < replies.jsonl（每行一个 {"scenario": 模板 id, "reply": 回复}）', file=sys.stderr
        )
        return 2
    try:
        stream = sys.stdin.buffer if args.json == "-" else open(args.json, "rb")  # noqa: SIM115 - closed below
    except OSError as exc:
        why = "找不到这个文件" if isinstance(exc, FileNotFoundError) else (exc.strerror or str(exc))
        print(f"读不到输入文件 {args.json}：{why}。请检查路径，或用 - 从标准输入读取。", file=sys.stderr)
        return 2
    settings, mentor = _mentor(args)
    coach = coach_for(mentor, settings.corpus_dir)
    by_id = {}
    for s in coach.scenarios:
        by_id.setdefault(s.template_id, s)
    try:
        for number, raw in enumerate(stream, 1):
            print(json_line(_drill_line(coach, by_id, raw.rstrip(b"\r\n"), number)), flush=True)
    finally:
        if stream is not sys.stdin.buffer:
            stream.close()
    return 0


def _drill_line(coach, by_id: dict, raw: bytes, number: int) -> dict:
    """One JSON Lines request → one grade or one error (never raises), checked like `ask --json -`'s."""
    if len(raw) > MAX_LINE_BYTES:
        return {"scenario": None, "error": f"第 {number} 行太长（{len(raw)} 字节，上限 {MAX_LINE_BYTES}）。每行只放一条回复。"}
    try:
        line = raw.decode("utf-8")
    except UnicodeDecodeError:
        return {"scenario": None, "error": f"第 {number} 行不是 UTF-8 文本。请用 UTF-8 保存输入。"}
    if not line.strip():
        return {
            "scenario": None,
            "error": f'第 {number} 行是空行。每行应是一个 JSON 对象：{{"scenario": "模板 id", "reply": "你的回复"}}',
        }
    try:
        data = json.loads(line)
    except (json.JSONDecodeError, RecursionError) as exc:
        where = f"第 {getattr(exc, 'colno', '?')} 列" if isinstance(exc, json.JSONDecodeError) else "嵌套太深"
        return {"scenario": None, "error": f"第 {number} 行不是合法的 JSON（{where}）。"}
    if not isinstance(data, dict):
        return {"scenario": None, "error": f"第 {number} 行应是一个 JSON 对象，含 scenario 和 reply。"}
    scenario_id = data.get("scenario")
    reply = data.get("reply")
    if any(_has_lone_surrogate(data.get(k)) for k in ("scenario", "reply", "buyer_says")):
        return {"scenario": None, "error": f"第 {number} 行含有无效的字符编码（孤立的 \\ud800 一类代理字符），不是文字。"}
    if not isinstance(scenario_id, str) or scenario_id not in by_id:
        known = "、".join(sorted(by_id)[:5])
        return {
            "scenario": scenario_id if isinstance(scenario_id, str) else None,
            "error": f"没有这个场景：{scenario_id!r}。场景是话术模板的 id，例如 {known}……",
        }
    if not isinstance(reply, str) or not reply.strip():
        return {"scenario": scenario_id, "error": "回复是空的。请写下你要发给买家的话。"}
    if len(reply) > 2000:
        return {"scenario": scenario_id, "error": f"回复太长（{len(reply)} 个字符，上限 2000）。"}
    scenario = by_id[scenario_id]
    turn = data.get("turn", 1)
    if turn not in (1, 2) or isinstance(turn, bool):
        return {"scenario": scenario_id, "error": f"turn 只能是 1 或 2（第二轮是买家接着说的那句），不是 {turn!r}。"}
    if turn == 2:
        scenario = scenario.second_turn()
        if scenario is None:
            return {"scenario": scenario_id, "error": "这个场景没有第二轮（模板里没有 follow_up）。"}
    if isinstance(data.get("buyer_says"), str) and data["buyer_says"].strip():
        from dataclasses import replace

        scenario = replace(scenario, buyer_line=data["buyer_says"].strip())
    grade = coach.grade(scenario, reply)
    return {
        "scenario": scenario_id,
        "turn": scenario.turn,
        "score": grade.score,
        "items": [
            {
                "key": i.key,
                "label": i.label,
                "passed": i.passed,
                "points": round(i.points, 1),
                "why": i.evidence,
                "basis": None if i.basis is None else asdict(i.basis),
            }
            for i in grade.items
        ],
        "advice": grade.advice,
    }


def cmd_eval_drills(args: argparse.Namespace) -> int:
    from ..modes.drills import coach_for
    from . import drill_eval

    settings, mentor = _mentor(args)
    coach = coach_for(mentor, settings.corpus_dir)
    splits = [args.split] if args.split != "all" else ["dev", "test"]
    results = {}
    for split in splits:
        try:
            results[split] = drill_eval.summarise(drill_eval.grade_all(coach, drill_eval.load(split, args.data)))
        except FileNotFoundError:
            print(f"找不到评分测试集 {args.data / ('graded_' + split + '.yaml')}。", file=sys.stderr)
            return 2
    report = drill_eval.format_report(results)
    return _show_section(args, results, report, "drills", drill_eval.report_section(report), "情景演练评分")


def _show_section(args: argparse.Namespace, results: dict, table: str, section: str, body: str, title: str) -> int:
    """Print an eval command's table (or its JSON) and, with --report, write it as its section of the page."""
    print(json.dumps(results, ensure_ascii=False, indent=2) if args.json else table)
    if args.report:
        from .evaluation import put_section

        put_section(args.report, section, body)
        print(f"已写入 {args.report}（{title}一节）。", file=sys.stderr)
    return 0


def cmd_eval_quiz(args: argparse.Namespace) -> int:
    from . import quiz_eval

    settings, mentor = _mentor(args)
    try:
        results = quiz_eval.measure(settings.corpus_dir, mentor.chunks, args.data)
    except FileNotFoundError:
        print(f"找不到简答题评测集 {args.data}。", file=sys.stderr)
        return 2
    table = quiz_eval.format_report(results)
    return _show_section(args, results, table, "quiz", quiz_eval.report_section(table), "简答题评分")


def cmd_train_tone(args: argparse.Namespace) -> int:
    from . import drill_eval

    settings, mentor = _mentor(args)
    items = drill_eval.load("dev", args.data)
    if args.model == "conduct":
        _, info = drill_eval.train_conduct(mentor.embedder, settings.corpus_dir, items)
        print(f"违规模型已训练（{info['replies']} 条回复，其中违规 {info['rule_breaking']} 条，只用 dev），写入 {info['path']}。")
        return 0
    if args.model == "relevance":
        _, info = drill_eval.train_families(mentor.embedder, settings.corpus_dir, items)
        print(f"回复场景模型已训练（{info['replies']} 条回复，{info['families']} 个场景类别，只用 dev），写入 {info['path']}。")
        return 0
    _, info = drill_eval.train_tone(mentor.embedder, settings.corpus_dir, items)
    print(f"语气模型已训练（{info['replies']} 条回复，其中粗鲁 {info['rude']} 条，只用 dev），写入 {info['path']}。")
    return 0


def cmd_eval_privacy(args: argparse.Namespace) -> int:
    from . import privacy

    splits = [args.split] if args.split != "all" else ["dev", "test"]
    results = {}
    for split in splits:
        try:
            results[split] = privacy.evaluate(privacy.load(split, args.data))
        except FileNotFoundError:
            print(
                f"找不到隐私测试集 {args.data / (split + '.yaml')}。请用 --data 指向含 dev.yaml / test.yaml 的目录（默认 eval/privacy，在仓库根目录下运行）。",
                file=sys.stderr,
            )
            return 2
    ms = privacy.speed()
    report = privacy.format_report(results, ms)
    if args.json:
        print(
            json.dumps(
                {"results": {k: {**v, "misses": len(v["misses"])} for k, v in results.items()}, "ms_2000_chars": ms},
                ensure_ascii=False,
                indent=2,
            )
        )
    else:
        print(report)
        if args.show_misses:
            for split, r in results.items():
                for kind, span, text in r["misses"]:
                    print(f"[{split}] 漏掉 {kind}：{span}  ←  {text}")
                for text in r["changed_lines"]:
                    print(f"[{split}] 误改：{text}")
    return 0


def cmd_train_names(args: argparse.Namespace) -> int:
    from . import privacy

    args.out = args.out or privacy.nm.MODEL_FILE
    try:
        lines = privacy.load("dev", args.data)
    except FileNotFoundError:
        print(
            f"找不到隐私测试集 {args.data / 'dev.yaml'}。请用 --data 指向含 dev.yaml 的目录（默认 eval/privacy，在仓库根目录下运行）。",
            file=sys.stderr,
        )
        return 2
    extra = privacy.corpus_lines(args.corpus) + privacy.name_lines()
    if args.cv:
        summary = privacy.cross_validate(lines, c=args.c, extra=extra)
        print("| 读法 | 姓名召回 | 干净句子被改动 |\n|---|---|---|")
        for key, row in summary.items():
            label = "只用规则" if key == "rules" else f"规则 + 模型（阈值 {key}）"
            print(f"| {label} | {row['names']:.3f} | {row['clean_changed']:.3f} |")
        print("\n（每批 dev 轮流留出：模型没见过它，规则是在全部 dev 上写的。）")
        return 0
    threshold = privacy.nm.THRESHOLD if args.threshold is None else args.threshold
    model = privacy.train_names(lines, threshold, c=args.c, extra=extra, path=args.out)
    print(
        f"姓名模型已训练（{len(lines)} 行 dev 隐私集，只用 dev；另有语料句子和为训练写的句子 {len(extra)} 句），"
        f"阈值 {model.threshold}，写入 {args.out}。"
    )
    return 0


def cmd_deploy_nginx(args: argparse.Namespace) -> int:
    from .cluster import nginx_config

    replicas = [r.strip() for r in args.replicas.split(",") if r.strip()]
    bad = [r for r in replicas if ":" not in r or not r.rsplit(":", 1)[1].isdigit()]
    if not replicas or bad:
        print(
            f"副本地址要写成 主机:端口，用逗号分开，例如 10.0.0.2:7860,10.0.0.3:7860（有问题的：{', '.join(bad) or '空'}）",
            file=sys.stderr,
        )
        return 2
    print(nginx_config(replicas, args.listen), end="")
    return 0


def cmd_uploads(args: argparse.Namespace) -> int:
    from ..modes.uploads import list_uploads

    rows = list_uploads(_settings(args))
    if not rows:
        print("还没有教师资料。用 kefu-mentor add 文件 --under 目录id 添加。")
    for stored, name, toc_id in rows:
        print(f"{stored}\t{name}\t{toc_id}")
    return 0


def _console_progress():
    from ..pipeline.index import console_progress

    return console_progress()


def cmd_bench(args: argparse.Namespace) -> int:
    from .bench import format_results, run_bench

    if args.cluster:
        from .loadbench import format_cluster, run_cluster_bench, write_cluster_report

        results = run_cluster_bench(_settings(args), Path(__file__).resolve().parents[2])
        if not args.no_docs:
            write_cluster_report(results)
        print(json.dumps(results, ensure_ascii=False, indent=2) if args.json else format_cluster(results))
        return 0
    factors = tuple(int(f) for f in args.factors.split(","))
    results = run_bench(_settings(args), cold_build=not args.warm_cache, factors=factors, write_docs=not args.no_docs)
    print(json.dumps(results, ensure_ascii=False, indent=2) if args.json else format_results(results))
    return 0


def cmd_info(args: argparse.Namespace) -> int:
    from ..pipeline.index import check_manifest, read_manifest

    settings = _settings(args)
    manifest = read_manifest(settings.index_dir)
    print(json.dumps(manifest, ensure_ascii=False, indent=2))
    try:
        check_manifest(manifest, settings)
        print("状态：可用，与当前语料一致。")
    except MentorError as exc:
        print(f"状态：{exc}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="kefu-mentor", description="网店客服 AI 导师：离线、带出处的问答")
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--corpus", type=Path, help="语料目录（默认 corpus/）")
    common.add_argument("--index", type=Path, help="索引目录（默认 index/）")
    common.add_argument("--cache", type=Path, help="向量缓存目录（默认 .cache/kefu-mentor）")
    common.add_argument("--embedder", default=None, help=f"向量模型：{DEFAULT_EMBEDDER}（默认）或 st:<模型名或本地路径>")
    sub = parser.add_subparsers(dest="command", required=True)

    build = sub.add_parser("build", parents=[common], help="由语料建立索引")
    build.add_argument("--quiet", action="store_true", help="不显示进度条")
    build.add_argument("--check", action="store_true", help="不重建，只检查现有索引是否与语料一致（CI 用），不一致时退出码 1")
    build.set_defaults(func=cmd_build)

    ask = sub.add_parser("ask", parents=[common], help="提问；用 - 从标准输入读 JSON Lines")
    ask.add_argument("question", help="问题；写 - 则从标准输入逐行读取 JSON")
    ask.add_argument("--json", action="store_true", help="输出 JSON")
    ask.add_argument("--top-k", type=int, default=5, help="引用的段落数（默认 5）")
    ask.add_argument("--history", action="append", help="之前的问题（可重复，按时间先后）")
    ask.add_argument("--sources", help="只检索这些资料：textbook,supplement,template")
    ask.set_defaults(func=cmd_ask)

    ev = sub.add_parser("eval", parents=[common], help="在盲写黄金题上评测，与朴素方案和各部件消融对比")
    ev.add_argument("--golden", type=Path, nargs="*", help="黄金集 YAML（默认 eval/blind、eval/real、eval/legacy 下全部）")
    ev.add_argument("--split", choices=["dev", "test", "all"], default="test")
    ev.add_argument("--calibrate", action="store_true", help="先在 dev 集上重新校准拒答规则（写入 calibration.json）")
    ev.add_argument(
        "--train-ranker", action="store_true", help="先在 dev 集的答案要点上重新训练排序模型（写入 calibration.json）"
    )
    ev.add_argument("--no-baseline", action="store_true", help="不跑朴素方案对比")
    ev.add_argument("--no-ablations", action="store_true", help="不跑部件消融")
    ev.add_argument("--json", action="store_true", help="输出 JSON")
    ev.add_argument("--misses", action="store_true", help="列出答错的问题")
    ev.add_argument("--report", type=Path, help="把结果写成 Markdown 报告（同名 .png 为图表），例如 docs/evaluation.md")
    ev.set_defaults(func=cmd_eval)

    data = sub.add_parser("eval-data", help="从本地的公开语料副本还原真实买家消息（仓库里只存指针和校验和）")
    data.add_argument(
        "--mirror", type=Path, required=True, help="放着来源仓库 git 副本的目录（owner+name/ 或 owner/name/，见 eval/README.md）"
    )
    data.set_defaults(func=cmd_eval_data)

    check = sub.add_parser("check-corpus", parents=[common], help="校验语料并报告覆盖情况")
    check.add_argument("--json", action="store_true")
    check.set_defaults(func=cmd_check_corpus)

    bench = sub.add_parser("bench", parents=[common], help="基准测试：建索引时间、冷启动、延迟、内存、100 倍规模")
    bench.add_argument("--warm-cache", action="store_true", help="完整建索引时使用已有的向量缓存（默认用空缓存）")
    bench.add_argument("--factors", default="1,10,100", help="规模测试的语料倍数（默认 1,10,100）")
    bench.add_argument("--no-docs", action="store_true", help="不写 docs/benchmarks.md 和图")
    bench.add_argument("--json", action="store_true")
    bench.add_argument(
        "--cluster",
        action="store_true",
        help="改测多副本：PostgreSQL + nginx 后面 1 个和 2 个副本的吞吐（写 docs/benchmarks-cluster.md）",
    )
    bench.set_defaults(func=cmd_bench)

    cov = sub.add_parser("coverage", parents=[common], help="教师看板：每个目录小节的资料与提问覆盖")
    cov.add_argument("--json", action="store_true")
    cov.add_argument("--log", type=Path, help="提问日志（默认 .data/questions.sqlite）")
    cov.add_argument("--database-url", help="提问日志数据库（默认取 KEFU_MENTOR_DATABASE_URL；都没有时用 --log 的 SQLite 文件）")
    cov.add_argument("--class", dest="class_code", help="只统计这个班级的提问")
    cov.add_argument("--export", type=Path, help="把 coverage.csv、gaps.csv 和 coverage.png 导出到这个目录")
    cov.set_defaults(func=cmd_coverage)

    up = sub.add_parser("add", parents=[common], help="添加教师资料（.md/.txt/.docx/.pdf）并更新索引")
    up.add_argument("file", help="要添加的文件")
    up.add_argument("--under", default="teacher", help="放在哪个目录节点下（toc.yaml 的 id），默认 teacher（教师资料）")
    up.add_argument("--replace", action="store_true", help="替换同名的已有资料")
    up.add_argument("--dry-run", action="store_true", help="只预览分节，不写入")
    up.set_defaults(func=cmd_add)

    rm = sub.add_parser("remove", parents=[common], help="删除一份教师资料并更新索引")
    rm.add_argument("name", help="corpus/teacher/ 下的文件名（kefu-mentor uploads 可列出）")
    rm.set_defaults(func=cmd_remove)

    drill = sub.add_parser("drill", parents=[common], help="情景演练评分：JSON Lines 输入 {scenario, reply}，每行输出一个评分")
    drill.add_argument("--json", metavar="FILE", help="输入文件，- 为标准输入")
    drill.set_defaults(func=cmd_drill)

    edr = sub.add_parser("eval-drills", parents=[common], help="评分器评测：盲写的分级回复上各类回复的得分与排序")
    edr.add_argument("--split", choices=["dev", "test", "all"], default="all")
    edr.add_argument("--data", type=Path, default=Path("eval/drills"))
    edr.add_argument("--json", action="store_true")
    edr.add_argument("--report", type=Path, help="把结果写进这个 Markdown 页面的“情景演练评分”一节，例如 docs/evaluation.md")
    edr.set_defaults(func=cmd_eval_drills)

    equiz = sub.add_parser("eval-quiz", parents=[common], help="简答题评分评测：盲写的好答案、片面答案、关键词罗列和答非所问")
    equiz.add_argument("--data", type=Path, default=Path("eval/quiz/short_answers.yaml"))
    equiz.add_argument("--json", action="store_true")
    equiz.add_argument("--report", type=Path, help="把结果写进这个 Markdown 页面的“简答题评分”一节，例如 docs/evaluation.md")
    equiz.set_defaults(func=cmd_eval_quiz)

    tone = sub.add_parser(
        "train-tone",
        parents=[common],
        help="用分级回复的 dev 部分训练语气模型（corpus/drills/tone.npz）、违规模型（--model conduct，corpus/drills/conduct.npz）"
        "或回复场景模型（--model relevance，corpus/drills/relevance.npz）",
    )
    tone.add_argument("--data", type=Path, default=Path("eval/drills"))
    tone.add_argument(
        "--model",
        choices=["tone", "conduct", "relevance"],
        default="tone",
        help="tone：粗鲁；conduct：礼貌但违规；relevance：回复在回答哪一类场景",
    )
    tone.set_defaults(func=cmd_train_tone)

    priv = sub.add_parser("eval-privacy", help="脱敏评测：盲写的隐私测试集上各类个人信息的召回与误改比例")
    priv.add_argument("--split", choices=["dev", "test", "all"], default="all")
    priv.add_argument("--data", type=Path, default=Path("eval/privacy"))
    priv.add_argument("--show-misses", action="store_true", help="列出漏掉的片段和被误改的句子")
    priv.add_argument("--json", action="store_true")
    priv.set_defaults(func=cmd_eval_privacy)

    names = sub.add_parser("train-names", help="训练姓名识别模型（只用 dev 隐私集）；--cv 按批留出评估各阈值")
    names.add_argument("--data", type=Path, default=Path("eval/privacy"))
    names.add_argument("--corpus", type=Path, default=Path("corpus"), help="反例来源：自编买家说法、情境和教材句子")
    names.add_argument("--threshold", type=float, help="写入模型的阈值（默认：上次用 --cv 在 dev 上选定的那个）")
    names.add_argument("--c", type=float, default=10.0, help="L2 正则的倒数")
    names.add_argument("--cv", action="store_true", help="只做留出评估，不改动模型文件")
    names.add_argument("--out", type=Path, default=None, help="模型写到哪里（默认：随代码发布的那一份）")
    names.set_defaults(func=cmd_train_names)

    deploy = sub.add_parser("deploy", help="多副本部署：生成 nginx 配置（见 README“部署到多台机器”）")
    deploy_sub = deploy.add_subparsers(dest="what", required=True)
    ngx = deploy_sub.add_parser("nginx", help="打印负载均衡用的 nginx 配置（放到 /etc/nginx/conf.d/）")
    ngx.add_argument("--replicas", required=True, help="各副本的 主机:端口，逗号分开，例如 10.0.0.2:7860,10.0.0.3:7860")
    ngx.add_argument("--listen", default="80", help="nginx 监听的端口（默认 80）")
    ngx.set_defaults(func=cmd_deploy_nginx)

    ls = sub.add_parser("uploads", parents=[common], help="列出教师资料")
    ls.set_defaults(func=cmd_uploads)

    info = sub.add_parser("info", parents=[common], help="显示索引清单与状态")
    info.set_defaults(func=cmd_info)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if getattr(args, "sources", None):
        bad = [s for s in args.sources.split(",") if s not in SOURCE_TYPES]
        if bad:
            print(f"未知的资料类型：{','.join(bad)}。可选：{','.join(SOURCE_TYPES)}", file=sys.stderr)
            return 2
    try:
        return args.func(args)
    except MentorError as exc:
        print(exc, file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("已中断。", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
