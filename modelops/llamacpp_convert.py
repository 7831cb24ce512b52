"""Run llama.cpp's ``convert_hf_to_gguf.py`` on a Soro checkpoint, in a child process.

Usage: ``python -m modelops.llamacpp_convert CONVERTER_DIR SOURCE_DIR OUT_FILE VOCAB_GGUF``

The converter comes from the same llama-cpp-python release that serves the file (its sdist
vendors llama.cpp, see :func:`modelops.cpu_export.converter_dir`) and must import its own
``gguf-py``, which is newer than the ``gguf`` package Soro depends on; hence a separate
process. One thing is changed: the vocabulary. Soro's tokenizer is a BPE ``tokenizer.json``
rebuilt from the packaged GGUF's SentencePiece vocabulary (transformers reads a Gemma GGUF
vocabulary wrongly, see :func:`modelops.llm.gemma.tokenizer_from_gguf`), so the converter's
own path for it (``_set_vocab_gpt2``, a byte-level BPE with a pre-tokenizer hash) does not
apply. The ``tokenizer.ggml.*`` fields are copied verbatim from ``VOCAB_GGUF``, the file the
platform's tokenizer came from; :func:`modelops.cpu_export.token_id_mismatches` then checks
that llama.cpp and the platform's tokenizer give the same ids on Tajik text.

Nothing here imports Django or the rest of Soro.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any


def main(argv: list[str]) -> int:
    if len(argv) != 4:
        print(__doc__, file=sys.stderr)
        return 2
    converter, source, out_file, vocab_gguf = (Path(arg) for arg in argv)
    sys.path.insert(0, str(converter / "gguf-py"))
    sys.path.insert(0, str(converter))

    import gguf  # the converter's own gguf-py, first on the path
    from conversion.gemma import Gemma3Model  # type: ignore[import-not-found]

    reader = gguf.GGUFReader(str(vocab_gguf))

    def copy_vocabulary(self: Any) -> None:
        for field in reader.fields.values():
            if not field.name.startswith("tokenizer.ggml."):
                continue
            kind = field.types[0]
            sub_type = field.types[-1] if kind == gguf.GGUFValueType.ARRAY else None
            self.gguf_writer.add_key_value(field.name, field.contents(), kind, sub_type=sub_type)

    Gemma3Model.set_vocab = copy_vocabulary
    import convert_hf_to_gguf  # type: ignore[import-not-found]

    sys.argv = [
        "convert_hf_to_gguf.py",
        str(source),
        "--outfile",
        str(out_file),
        "--outtype",
        "f32",
    ]
    convert_hf_to_gguf.main()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
