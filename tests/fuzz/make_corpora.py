#!/usr/bin/env python3
"""Seed corpora for the fuzz targets, made from the fixtures and assets (nothing binary is committed).

    tests/fuzz/make_corpora.py CORPUS_DIR WEBSD

writes CORPUS_DIR/<target>/seed-*; WEBSD (the fuzz build's CLI) converts the tiny fixture model to
artifacts for the manifest seeds. Seeds are kept small (at most a few tens of KiB): libFuzzer sizes
its inputs after the largest seed, and small inputs run faster.
"""
import json
import struct
import subprocess
import sys
import zlib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
FIXTURES = ROOT / "tests" / "fixtures"
ASSETS = ROOT / "assets"


def write(corpus, target, name, data):
    folder = corpus / target
    folder.mkdir(parents=True, exist_ok=True)
    (folder / f"seed-{name}").write_bytes(data if isinstance(data, bytes) else data.encode())


def safetensors_header(path):
    with open(path, "rb") as f:
        (length,) = struct.unpack("<Q", f.read(8))
        return json.loads(f.read(length)), 8 + length


def safetensors(entries, metadata=None):
    """A .safetensors file from (name, dtype, shape, data bytes)."""
    header, blob = {}, b""
    if metadata:
        header["__metadata__"] = metadata
    for name, dtype, shape, data in entries:
        header[name] = {"dtype": dtype, "shape": shape, "data_offsets": [len(blob), len(blob) + len(data)]}
        blob += data
    text = json.dumps(header).encode()
    return struct.pack("<Q", len(text)) + text + blob


def safetensors_seeds(corpus):
    # The small tensors of real files (dtypes, shapes and names as diffusers writes them), data included.
    for path in sorted(FIXTURES.rglob("*.safetensors")):
        header, start = safetensors_header(path)
        small = [(n, e) for n, e in header.items() if n != "__metadata__" and e["data_offsets"][1] - e["data_offsets"][0] <= 256]
        entries = []
        with open(path, "rb") as f:
            for name, e in small[:4]:
                f.seek(start + e["data_offsets"][0])
                entries.append((name, e["dtype"], e["shape"], f.read(e["data_offsets"][1] - e["data_offsets"][0])))
        if entries:
            write(corpus, "safetensors", path.stem + "-" + path.parent.name, safetensors(entries, header.get("__metadata__")))
    sizes = {"F16": 2, "BF16": 2, "F32": 4, "F64": 8, "I32": 4, "I64": 8, "U8": 1, "I8": 1, "I16": 2, "BOOL": 1}
    every_dtype = [(f"t_{d.lower()}", d, [2, 3], bytes(range(6 * n))) for d, n in sizes.items()]
    write(corpus, "safetensors", "every-dtype", safetensors(every_dtype, {"format": "pt"}))
    write(corpus, "safetensors", "empty-tensor", safetensors([("empty", "F32", [0, 4], b"")]))
    write(corpus, "safetensors", "no-tensors", safetensors([]))


def artifacts_seeds(corpus, websd):
    out = corpus.parent / "seed-artifacts" / "tiny-sd15"
    if not (out / "model.json").exists():
        subprocess.run([websd, "convert", "--model", str(FIXTURES / "tiny-sd15" / "model"), "-o", str(out)], check=True,
                       stdout=subprocess.DEVNULL)
    write(corpus, "model_json", "tiny-sd15", (out / "model.json").read_bytes())
    cache = json.loads((out / "ndarray-cache.json").read_text())
    write(corpus, "tensor_cache", "tiny-sd15", json.dumps(cache))
    for shard in cache["records"]:  # the same with two tensors a shard: a seed a tenth the size
        shard["records"] = shard["records"][:2]
    write(corpus, "tensor_cache", "tiny-sd15-short", json.dumps(cache))


# config_fuzzer.cpp's readers, by byte 0, and the presets after them (websd::scheduler_presets()).
UNET, VAE, CLIP, SCHEDULER, MODEL_INDEX, FIRST_PRESET, PRESETS = 0, 1, 2, 3, 4, 5, 7


def config_seeds(corpus):
    readers = {"unet": UNET, "vae": VAE, "text_encoder": CLIP, "text_encoder_2": CLIP, "scheduler": SCHEDULER}
    folders = [p.parent for p in [*FIXTURES.glob("*/model/model_index.json"), *ASSETS.glob("**/model_index.json")]]
    for folder in folders:
        tag = str(folder.relative_to(ROOT)).replace("/", "_")
        write(corpus, "config", tag + "-model_index", bytes([MODEL_INDEX, 0]) + (folder / "model_index.json").read_bytes())
        for component, reader in readers.items():
            for config in folder.glob(component + "/*config.json"):
                write(corpus, "config", f"{tag}-{component}", bytes([reader, 9]) + config.read_bytes())
    # Every scheduler class and option the fixtures hold (each once), read directly (20 steps) and
    # under one of the presets.
    configs = set()
    for fixture in ("schedulers", "schedulers-v"):
        for case in json.loads((FIXTURES / fixture / "configs.json").read_text()).values():
            configs.add(json.dumps({"_class_name": case["class"], **case["config"]}, sort_keys=True))
    for i, text in enumerate(sorted(configs)):
        write(corpus, "config", f"scheduler-{i}", bytes([SCHEDULER, 19]) + text.encode())
        write(corpus, "config", f"preset-{i}", bytes([FIRST_PRESET + i % PRESETS, 3]) + text.encode())


def parameters_seeds(corpus):
    write(corpus, "parameters", "full", "a red circle, on a white background\nNegative prompt: blurry\nSteps: 20, Sampler: "
          "DPM++ 2M, Schedule type: Karras, CFG scale: 7.5, Seed: 1234567890123, Size: 512x768, Model: sd15")
    write(corpus, "parameters", "quoted", "two\nlines\nSteps: 1, Sampler: \"a, \\\"b\\\"\", CFG scale: 1, Seed: 0, Size: 8x8, "
          "Model: \"my, model\", Clip skip: 2")
    write(corpus, "parameters", "short", "Steps: 50, Sampler: PLMS, CFG scale: 7, Seed: 3, Size: 512x512")


def tokenizer_seeds(corpus):
    for fixture in ("clip_ids.json", "clip_ids_pad_bang.json"):
        for i, case in enumerate(json.loads((FIXTURES / "tokenizer" / fixture).read_text())["cases"]):
            write(corpus, "tokenizer", f"{Path(fixture).stem}-{i}", case["prompt"])
    write(corpus, "tokenizer", "invalid-utf8", b"a \xff\xfe cat \xc3( \xe2\x82 <|endoftext|>!")


def tokenizer_files_seeds(corpus):
    """A vocabulary cut to its first merges (the byte tokens, the merged ones, the special tokens)."""
    names = ["vocab.json", "merges.txt", "tokenizer_config.json", "special_tokens_map.json", "added_tokens.json",
             "tokenizer.json"]

    def folder(files):
        return b"\0".join(files.get(n, b"") for n in names)

    sd15 = FIXTURES / "tiny-sd15" / "model" / "tokenizer"
    merges = (sd15 / "merges.txt").read_text(encoding="utf-8").splitlines()[:201]
    vocab = {t: i for t, i in json.loads((sd15 / "vocab.json").read_text(encoding="utf-8")).items() if i < 712 or i >= 49406}
    files = {"vocab.json": json.dumps(vocab).encode(), "merges.txt": "\n".join(merges).encode()}
    write(corpus, "tokenizer_files", "vocab-merges", folder(files))
    for n in ("tokenizer_config.json", "special_tokens_map.json"):
        files[n] = (sd15 / n).read_bytes()
    write(corpus, "tokenizer_files", "vocab-merges-configs", folder(files))

    xl = FIXTURES / "tiny-sdxl" / "model" / "tokenizer_2"
    tokenizer = json.loads((xl / "tokenizer.json").read_text(encoding="utf-8"))
    model = tokenizer["model"]
    model["vocab"] = {t: i for t, i in model["vocab"].items() if i < 712 or i >= 49406}
    model["merges"] = model["merges"][:200]
    files = {"tokenizer.json": json.dumps(tokenizer).encode(), "tokenizer_config.json": (xl / "tokenizer_config.json").read_bytes()}
    write(corpus, "tokenizer_files", "tokenizer-json", folder(files))


# single_file_fuzzer.cpp's components, by byte 0: (family, prefix in the checkpoint).
SINGLE_FILE_COMPONENTS = [("sd15", "model.diffusion_model."), ("sdxl", "model.diffusion_model."),
                          ("sd15", "first_stage_model."), ("sd15", "cond_stage_model.transformer."),
                          ("sdxl", "conditioner.embedders.0.transformer."), ("sdxl", "conditioner.embedders.1.model.")]


def single_file_seeds(corpus):
    for family in ("sd15", "sdxl"):
        header, _ = safetensors_header(FIXTURES / f"tiny-{family}" / f"tiny-{family}-single.safetensors")
        for selector, (component_family, prefix) in enumerate(SINGLE_FILE_COMPONENTS):
            if component_family != family and prefix != "first_stage_model.":
                continue
            lines = [f"{n[len(prefix):]} {' '.join(map(str, e['shape']))}" for n, e in header.items() if n.startswith(prefix)]
            write(corpus, "single_file", f"{family}-{prefix.rstrip('.')}", bytes([selector]) + "\n".join(lines).encode())


# Adam7's passes: first column and row, then the steps between them.
ADAM7 = [(0, 0, 8, 8), (4, 0, 8, 8), (0, 4, 4, 8), (2, 0, 4, 4), (0, 2, 2, 4), (1, 0, 2, 2), (0, 1, 1, 2)]


def png(width, height, color_type, bit_depth, text_chunks=(), interlace=0):
    """A small PNG of a gradient, of any color type and bit depth, with tEXt/iTXt chunks after IHDR."""
    channels = {0: 1, 2: 3, 3: 1, 4: 2, 6: 4}[color_type]

    def rows(w, h):  # filter byte 0, then the row's bytes
        row_bytes = (w * channels * bit_depth + 7) // 8
        return b"".join(b"\0" + bytes((x * 37 + y * 11) % 256 for x in range(row_bytes)) for y in range(h))

    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    if interlace:
        passes = [(-(-(width - x) // dx), -(-(height - y) // dy)) for x, y, dx, dy in ADAM7]
        raw = b"".join(rows(w, h) for w, h in passes if w > 0 and h > 0)
    else:
        raw = rows(width, height)
    body = chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, bit_depth, color_type, 0, 0, interlace))
    for kind, data in text_chunks:
        body += chunk(kind, data)
    if color_type == 3:
        body += chunk(b"PLTE", bytes(range(48)))
    return b"\x89PNG\r\n\x1a\n" + body + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b"")


def png_seeds(corpus):
    for path in sorted(FIXTURES.rglob("*.png")):
        write(corpus, "png", path.stem, path.read_bytes())
    parameters = b"parameters\0a cat\nSteps: 20, Sampler: Euler, CFG scale: 7, Seed: 1, Size: 8x8"
    write(corpus, "png", "rgb-text", png(4, 3, 2, 8, [(b"tEXt", parameters)]))
    write(corpus, "png", "rgba-itxt", png(3, 2, 6, 8, [(b"iTXt", b"parameters\0\0\0en\0\0une photo \xc3\xa9t\xc3\xa9")]))
    write(corpus, "png", "gray16", png(2, 2, 0, 16))
    write(corpus, "png", "gray1", png(9, 2, 0, 1))
    write(corpus, "png", "gray-alpha", png(2, 2, 4, 8))
    write(corpus, "png", "palette4", png(5, 3, 3, 4))
    write(corpus, "png", "interlaced", png(7, 5, 2, 8, interlace=1))


def main():
    corpus, websd = Path(sys.argv[1]), sys.argv[2]
    safetensors_seeds(corpus)
    artifacts_seeds(corpus, websd)
    config_seeds(corpus)
    parameters_seeds(corpus)
    tokenizer_seeds(corpus)
    tokenizer_files_seeds(corpus)
    single_file_seeds(corpus)
    png_seeds(corpus)


if __name__ == "__main__":
    main()
