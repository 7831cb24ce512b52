"""Benchmark the local engine on the real Gemma 3 270M against two anchors.

    .venv/bin/python benchmarks/llm.py --model-dir var/models/gemma3-270m-base
    .venv/bin/python benchmarks/llm.py --smoke    # the tiny model, short prompts (seconds)

Measures, for prompts of about 100, 500 and 1,500 tokens: time to first token (TTFT),
prefill speed (prompt tokens / TTFT) and decode speed (tokens/s after the first), then the
p95 TTFT of 4 concurrent requests. Anchors in the same run: plain ``model.generate`` in
float32, and llama.cpp (llama-cpp-python) on the same GGUF with 2 threads. The platform's
CPU engine (:class:`modelops.llm.llamacpp.GgufEngine`) runs the model's ``cpu-int4`` export
(exported here when missing), with raw llama.cpp on that very file as the anchor that the
ratio columns divide by: the engine's own overhead. Also reports
where a decode step's time goes, and how often the bfloat16 output layer changes the top
token (teacher-forced over Tajik and English text).

The model directory is created with :func:`modelops.llm.gemma.import_gguf` when missing.
Numbers depend on what else runs on the machine: the load average is printed before and
after so a noisy run can be recognised.
"""

from __future__ import annotations

import argparse
import datetime
import os
import statistics
import sys
import threading
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
os.environ.setdefault("HF_HUB_OFFLINE", "1")

import torch
from transformers import AutoModelForCausalLM, DynamicCache

from benchmarks import _smoke
from benchmarks.machine import cpu_name, load_average
from modelops import cpu_export
from modelops.llm import gemma
from modelops.llm.local import LocalEngine, loaded_model
from modelops.llm.types import ChatMessage, GenerationParams

TAJIK = (
    "Тоҷикистон кишвари кӯҳистонӣ дар Осиёи Миёна аст. Пойтахти он шаҳри Душанбе мебошад. "
    "Забони давлатӣ забони тоҷикӣ аст. Дар мактабҳо фанҳои математика, физика, химия, "
    "биология, таърих ва адабиёт омӯхта мешаванд. Хонандагон барои имтиҳони марказонидаи "
    "дохилшавӣ ба донишгоҳҳо омода мешаванд. Дарёҳои калонтарини кишвар Ому ва Сир мебошанд. "
)
ENGLISH = (
    "The quick brown fox jumps over the lazy dog. Students prepare for the national "
    "university entrance exam by practising mathematics, physics and literature. "
)
NEW_TOKENS = 64


def prompt_of(engine: LocalEngine, target: int) -> list[ChatMessage]:
    """A user message whose templated prompt is ``target`` tokens long (within a few)."""
    tokenizer = loaded_model(engine.model_dir, engine.head).tokenizer
    ids = tokenizer((TAJIK * (target // 40 + 2)), add_special_tokens=False).input_ids
    overhead = engine.count_tokens([ChatMessage("user", "x")]) - 1
    text = tokenizer.decode(ids[: target - overhead]) + "\nИнро давом деҳ:"
    return [ChatMessage("user", text)]


def run_engine(engine: LocalEngine, messages: list[ChatMessage]) -> dict[str, float]:
    started = time.perf_counter()
    stream: Any = engine.stream_chat(
        messages, GenerationParams(max_new_tokens=NEW_TOKENS, timeout_s=600)
    )
    first = None
    for _piece in stream:
        if first is None:
            first = time.perf_counter() - started
    stats = stream.stats
    decode_tokens = max(stats.generated_tokens - 1, 1)
    return {
        "prompt": stats.prompt_tokens,
        "ttft": first or float("nan"),
        "prefill": stats.prompt_tokens / stats.prefill_s,
        "decode": decode_tokens / stats.decode_s if stats.decode_s else float("nan"),
        "generated": stats.generated_tokens,
    }


def run_plain_generate(model: Any, ids: list[int]) -> dict[str, float]:
    batch = torch.tensor([ids])
    with torch.inference_mode():
        started = time.perf_counter()
        model.generate(batch, max_new_tokens=1, do_sample=False)
        ttft = time.perf_counter() - started
        started = time.perf_counter()
        model.generate(batch, max_new_tokens=NEW_TOKENS, min_new_tokens=NEW_TOKENS, do_sample=False)
        total = time.perf_counter() - started
    return {
        "prompt": len(ids),
        "ttft": ttft,
        "prefill": len(ids) / ttft,
        "decode": (NEW_TOKENS - 1) / max(total - ttft, 1e-9),
        "generated": NEW_TOKENS,
    }


def run_llama_cpp(llm: Any, ids: list[int]) -> dict[str, float]:
    llm.reset()
    started = time.perf_counter()
    llm.eval(ids)
    token = llm.sample(temp=0.0)
    ttft = time.perf_counter() - started
    started = time.perf_counter()
    for _ in range(NEW_TOKENS - 1):
        llm.eval([token])
        token = llm.sample(temp=0.0)
    decode = time.perf_counter() - started
    return {
        "prompt": len(ids),
        "ttft": ttft,
        "prefill": len(ids) / ttft,
        "decode": (NEW_TOKENS - 1) / decode,
        "generated": NEW_TOKENS,
    }


def concurrent_ttft(engine: LocalEngine, messages: list[ChatMessage], users: int) -> list[float]:
    """TTFT of ``users`` requests started together, each reading a 32-token reply.

    Requests take turns on the CPU, so the last one waits for the others' whole replies.
    """
    results: list[float] = []
    lock = threading.Lock()
    barrier = threading.Barrier(users)

    def one() -> None:
        barrier.wait()
        started = time.perf_counter()
        stream = engine.stream_chat(messages, GenerationParams(max_new_tokens=32, timeout_s=600))
        first = None
        for _piece in stream:  # read the whole reply, as a user would: the next waits
            if first is None:
                first = time.perf_counter() - started
        with lock:
            results.append(first if first is not None else float("nan"))

    threads = [threading.Thread(target=one) for _ in range(users)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return results


def decode_breakdown(engine: LocalEngine, steps: int = 30) -> dict[str, float]:
    """Milliseconds per decode step in the 18 transformer layers and in the output layer."""
    loaded = loaded_model(engine.model_dir, engine.head)
    model = loaded.model
    ids = engine.prompt_ids([ChatMessage("user", TAJIK)])
    with torch.inference_mode():
        cache = DynamicCache(config=model.config)
        hidden = model.model(input_ids=torch.tensor([ids]), past_key_values=cache).last_hidden_state
        token = torch.tensor([[int(torch.argmax(loaded.head(hidden[:, -1])))]])
        body = head = 0.0
        for _ in range(steps):
            started = time.perf_counter()
            hidden = model.model(input_ids=token, past_key_values=cache).last_hidden_state[:, -1]
            middle = time.perf_counter()
            logits = loaded.head(hidden)
            token = torch.tensor([[int(torch.argmax(logits))]])
            body += middle - started
            head += time.perf_counter() - middle
    return {"layers_ms": body / steps * 1000, "head_ms": head / steps * 1000}


def matvec_floor(engine: LocalEngine) -> float:
    """Milliseconds to multiply one vector by every weight matrix of the 18 layers: the
    memory-bandwidth floor of a float32 decode step, before any other work."""
    model = loaded_model(engine.model_dir, engine.head).model
    linears = [m for m in model.model.layers.modules() if isinstance(m, torch.nn.Linear)]
    vectors = {m.in_features: torch.randn(1, m.in_features) for m in linears}
    with torch.inference_mode():
        for linear in linears:
            linear(vectors[linear.in_features])
        started = time.perf_counter()
        for _ in range(10):
            for linear in linears:
                linear(vectors[linear.in_features])
    return (time.perf_counter() - started) / 10 * 1000


def top1_agreement(model_dir: Path) -> tuple[int, int]:
    """Positions where the bfloat16 output layer picks the same next token as float32."""
    exact = loaded_model(model_dir, "float32")
    fast = loaded_model(model_dir, "bfloat16")
    tokenizer = exact.tokenizer
    same = total = 0
    for text in (TAJIK * 4, ENGLISH * 6):
        ids = tokenizer(text).input_ids
        with torch.inference_mode():
            hidden = exact.model.model(input_ids=torch.tensor([ids])).last_hidden_state[0]
            for row in hidden:
                same += int(
                    torch.argmax(exact.head(row[None])) == torch.argmax(fast.head(row[None]))
                )
                total += 1
    return same, total


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model-dir", type=Path, default=Path("var/models/gemma3-270m-base"))
    parser.add_argument("--sizes", default="100,500,1500")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--skip-llama-cpp", action="store_true")
    parser.add_argument(
        "--cpu-dir",
        type=Path,
        help="the platform's cpu-int4 export (default MODEL-DIR-cpu-int4, exported when missing)",
    )
    parser.add_argument(
        "--smoke",
        action="store_true",
        help="the tiny random model and prompts of 20 and 60 tokens: checks that it runs",
    )
    args = parser.parse_args()
    torch.set_num_threads(args.threads)

    gguf_dir, gguf_file = gemma.locate_packaged_gguf()
    if args.smoke:
        args.model_dir = _smoke.tiny_model_dir()
        args.sizes = "20,60"
    if not (args.model_dir / "config.json").is_file():
        print(f"importing {gguf_file} into {args.model_dir} ...", flush=True)
        report = gemma.import_gguf(gguf_dir, gguf_file, args.model_dir)
        print(f"imported in {report.seconds:.0f} s", flush=True)

    print(f"date: {datetime.datetime.now(datetime.UTC):%Y-%m-%d %H:%M} UTC")
    print(
        f"cpu: {cpu_name()}, {os.cpu_count()} cores; torch {torch.__version__}, "
        f"{torch.get_num_threads()} threads"
    )
    print(f"load average at start: {load_average()}")
    sizes = [int(size) for size in args.sizes.split(",")]

    engines = {
        "engine fp32": LocalEngine(args.model_dir, max_waiting=8, max_context_tokens=4096),
        "engine bf16-head": LocalEngine(
            args.model_dir, max_waiting=8, max_context_tokens=4096, head="bfloat16"
        ),
    }
    reference = engines["engine fp32"]
    for engine in engines.values():
        engine.load()
        run_engine(engine, prompt_of(engine, 20))  # warm-up
    cpu_engines: dict[str, LocalEngine] = {}
    cpu_dir = args.cpu_dir or args.model_dir.with_name(f"{args.model_dir.name}-cpu-int4")
    if not args.skip_llama_cpp and cpu_export.llama_cpp_problem() is None:
        from modelops.llm.llamacpp import GgufEngine

        if not (cpu_dir / cpu_export.GGUF_FILE).is_file():
            print(f"exporting {args.model_dir} to {cpu_dir} (cpu-int4) ...", flush=True)
            cpu_export.export_gguf(
                source=args.model_dir,
                output=cpu_dir,
                scheme="cpu-int4",
                vocabulary_gguf=gguf_dir / gguf_file,
                converter=cpu_export.converter_dir(gemma.default_cache_dir()),
            )
        cpu_engines["platform llama.cpp int4"] = GgufEngine(
            cpu_dir, max_waiting=8, max_context_tokens=4096, threads=args.threads
        )
        cpu_engines["platform llama.cpp int4"].load()
        run_engine(cpu_engines["platform llama.cpp int4"], prompt_of(reference, 20))
    prompts = {size: prompt_of(reference, size) for size in sizes}
    prompt_ids = {size: reference.prompt_ids(prompts[size]) for size in sizes}

    results: dict[str, dict[int, dict[str, float]]] = {}
    for name, engine in {**engines, **cpu_engines}.items():
        results[name] = {size: run_engine(engine, prompts[size]) for size in sizes}

    plain = AutoModelForCausalLM.from_pretrained(args.model_dir, dtype=torch.float32).eval()
    run_plain_generate(plain, prompt_ids[sizes[0]][:20])
    results["plain generate fp32"] = {
        size: run_plain_generate(plain, prompt_ids[size]) for size in sizes
    }
    del plain

    llama_note = ""
    if not args.skip_llama_cpp:
        try:
            import llama_cpp

            llm = llama_cpp.Llama(
                str(gguf_dir / gguf_file),
                n_threads=2,
                n_threads_batch=2,
                n_ctx=4096,
                n_batch=512,
                verbose=False,
            )
            run_llama_cpp(llm, prompt_ids[sizes[0]][:20])
            results["llama.cpp Q4_K_M 2 thr"] = {
                size: run_llama_cpp(llm, prompt_ids[size]) for size in sizes
            }
            llm.close()
            if cpu_engines:  # raw llama.cpp on the very file the platform's engine serves
                raw = llama_cpp.Llama(
                    str(cpu_dir / cpu_export.GGUF_FILE),
                    n_threads=args.threads,
                    n_threads_batch=args.threads,
                    n_ctx=4096,
                    n_batch=512,
                    verbose=False,
                )
                run_llama_cpp(raw, prompt_ids[sizes[0]][:20])
                results["raw llama.cpp, export"] = {
                    size: run_llama_cpp(raw, prompt_ids[size]) for size in sizes
                }
                raw.close()
            llama_note = f"llama-cpp-python {llama_cpp.__version__}"
        except ImportError:
            llama_note = "llama-cpp-python is not installed: no llama.cpp anchor"
            if args.smoke:
                _smoke.skipped("the llama.cpp anchor", "llama-cpp-python is not installed")

    anchor = results.get("raw llama.cpp, export") or results.get("llama.cpp Q4_K_M 2 thr")
    print()
    header = (
        f"{'runner':<24}{'prompt':>7}{'TTFT s':>9}{'prefill t/s':>13}"
        f"{'decode t/s':>12}{'vs llama prefill':>18}{'vs llama decode':>17}"
    )
    print(header)
    print("-" * len(header))
    for name, by_size in results.items():
        for size in sizes:
            row = by_size[size]
            ratios = ("", "")
            if anchor:
                ratios = (
                    f"{row['prefill'] / anchor[size]['prefill']:.2f}x",
                    f"{row['decode'] / anchor[size]['decode']:.2f}x",
                )
            print(
                f"{name:<24}{int(row['prompt']):>7}{row['ttft']:>9.3f}{row['prefill']:>13.0f}"
                f"{row['decode']:>12.1f}{ratios[0]:>18}{ratios[1]:>17}"
            )
    if llama_note:
        print(
            f"({llama_note}; the ratio columns divide by "
            f"{'raw llama.cpp on the export' if cpu_engines else 'the packaged Q4_K_M'})"
        )
    if cpu_engines and "engine fp32" in results:
        ours = results["platform llama.cpp int4"]
        for size in sizes:
            print(
                f"platform llama.cpp int4 vs engine fp32 at {size} tokens: decode "
                f"{ours[size]['decode'] / results['engine fp32'][size]['decode']:.2f}x, "
                f"prefill {ours[size]['prefill'] / results['engine fp32'][size]['prefill']:.2f}x"
            )

    print()
    for name, engine in {**engines, **cpu_engines}.items():
        samples: list[float] = []
        for _ in range(2):
            samples += concurrent_ttft(engine, prompts[sizes[0]], users=4)
        samples.sort()
        p95 = samples[min(len(samples) - 1, round(0.95 * (len(samples) - 1)))]
        print(
            f"{name}: 4 concurrent requests ({sizes[0]}-token prompts, 32-token replies, "
            f"{len(samples)} samples): TTFT median {statistics.median(samples):.2f} s, "
            f"p95 {p95:.2f} s"
        )

    print()
    layers = loaded_model(reference.model_dir).model.model.layers
    for name, engine in engines.items():
        parts = decode_breakdown(engine)
        print(
            f"{name}: one decode step = {parts['layers_ms']:.1f} ms in the {len(layers)} layers"
            f" + {parts['head_ms']:.1f} ms in the 262k-row output layer"
        )
    megabytes = sum(p.numel() for p in layers.parameters()) * 4 / 1e6
    print(
        f"floor: the {len(layers)} layers' matrix-vector products alone take "
        f"{matvec_floor(reference):.1f} ms ({megabytes:.0f} MB of float32 weights per token)"
    )
    same, total = top1_agreement(args.model_dir)
    print(
        f"bf16 output layer: top-1 token equal to float32 at {same}/{total} teacher-forced "
        f"positions ({same / total:.1%})"
    )
    print(f"load average at end: {load_average()}")


if __name__ == "__main__":
    main()
