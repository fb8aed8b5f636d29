#!/usr/bin/env python3
"""Dump what Hugging Face transformers' own Qwen2.5-VL code computes, in the `qwen25vl-tiny/1` golden format.

Two ways to give the network's inputs:
  --image x.png --instruction "..."   build them as Step1X-Edit's conditioner does (size_level resize, fetch_image,
                                      the processor, chat template, quote splitting); needs a processor directory
                                      (tokenizer.json, preprocessor_config.json, chat template): --processor, else
                                      --model.
  --from-mllm-set DIR --cases a,b     take input_ids / attention_mask / pixel_values from a step1x-mllm-inputs/1 set
                                      (reproduces ../../../shared/golden/qwen25vl-tiny with its tiny weights).

Run it once per case into the same --out directory; manifest.json is merged. Then: npm run golden -- <out>.
Needs torch >= 2.5, transformers (4.49+ or 5.x), safetensors, numpy and Pillow. See README.md.
"""

import argparse
import hashlib
import inspect
import json
import os
import re
import sys

import numpy as np
import step1x_conditioner as cond
import torchvision_transforms_only

FORMAT = "qwen25vl-tiny/1"
MASKED_POSITION = 1  # transformers 4.49/4.51 (the releases Step1X pins) leave masked tokens at 1 on every axis


def parse_args(argv):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument(
        "--model", required=True, help="checkpoint: a dir, a .safetensors file or an index (config.json beside it)"
    )
    p.add_argument("--out", required=True, help="output golden directory (created; cases are added)")
    p.add_argument("--image", help="input image (Step1X conditioner mode)")
    p.add_argument("--instruction", help="edit instruction (Step1X conditioner mode)")
    p.add_argument("--size-level", type=int, default=512, help="Step1X size_level (512, 768, 1024)")
    p.add_argument("--processor", help="dir with tokenizer/preprocessor files (default: --model)")
    p.add_argument("--case", help="case name (default: derived from the instruction)")
    p.add_argument("--from-mllm-set", help="a step1x-mllm-inputs/1 directory to take inputs from")
    p.add_argument("--cases", help="comma-separated case names of --from-mllm-set (default: all)")
    p.add_argument("--device", default="cpu", help="torch device, e.g. cpu or cuda")
    p.add_argument("--threads", type=int, default=1, help="torch CPU threads (1 gives reproducible bytes)")
    p.add_argument("--copy-weights", action="store_true", help="copy the weights into --out instead of linking")
    p.add_argument("--compare", help="a qwen25vl-tiny/1 set to compare the written cases with (same case names)")
    args = p.parse_args(argv)
    if bool(args.from_mllm_set) == bool(args.image):
        p.error("give either --image/--instruction or --from-mllm-set")
    if args.image and args.instruction is None:
        p.error("--image needs --instruction (use --instruction '' for the negative branch)")
    return args


# ----- checkpoint ---------------------------------------------------------------------------------------------


def checkpoint_files(model):
    """The safetensors files of --model: one file, a sharded index, or a directory (its index, else every file)."""
    if os.path.isdir(model) and os.path.exists(os.path.join(model, "model.safetensors.index.json")):
        model = os.path.join(model, "model.safetensors.index.json")
    if model.endswith(".index.json"):
        with open(model) as f:
            return sorted({os.path.join(os.path.dirname(model), v) for v in json.load(f)["weight_map"].values()})
    if os.path.isfile(model):
        return [model]
    files = sorted(os.path.join(model, n) for n in os.listdir(model) if n.endswith(".safetensors"))
    if not files:
        raise SystemExit(f"{model}: no .safetensors files")
    return files


def config_path(model):
    return os.path.join(model if os.path.isdir(model) else os.path.dirname(os.path.abspath(model)), "config.json")


def read_state_dict(model_dir, expected_shapes):
    """Every tensor as float32, the goldens' sparse `*.nonzero_rows/values` pairs rebuilt densely."""
    import torch
    from safetensors import safe_open

    tensors, metadata = {}, {}
    for path in checkpoint_files(model_dir):
        with safe_open(path, framework="pt") as f:
            metadata.update(f.metadata() or {})
            for name in f.keys():
                tensors[name] = f.get_tensor(name)
    out = {}
    for name, t in tensors.items():
        if name.endswith(".nonzero_values"):
            continue
        if name.endswith(".nonzero_rows"):
            base = name[: -len(".nonzero_rows")]
            values = tensors[base + ".nonzero_values"].float()
            shape = json.loads(metadata[base + ".shape"]) if base + ".shape" in metadata else None
            shape = shape or expected_shapes.get(base) or expected_shapes.get(rename_to(base, expected_shapes))
            dense = torch.zeros(shape, dtype=torch.float32)
            dense[t.long()] = values
            out[base] = dense
        else:
            out[name] = t.float()
    return out


def rename_to(name, model_keys):
    """Maps a stored name onto the model's layout (published `model.*`/`visual.*` <-> 5.x `model.language_model.*`)."""
    if name in model_keys:
        return name
    candidates = []
    if name.startswith("visual."):
        candidates.append("model." + name)
    if name.startswith("model.") and not name.startswith(("model.language_model.", "model.visual.")):
        candidates.append("model.language_model." + name[len("model.") :])
    if name.startswith("model.language_model."):
        candidates.append("model." + name[len("model.language_model.") :])
    if name.startswith("model.visual."):
        candidates.append(name[len("model.") :])
    for c in candidates:
        if c in model_keys:
            return c
    return name


def load_model(model_dir, device):
    import torch
    from transformers import Qwen2_5_VLConfig, Qwen2_5_VLForConditionalGeneration

    with open(config_path(model_dir)) as f:
        config = Qwen2_5_VLConfig.from_dict(json.load(f))
    for c in (config, getattr(config, "text_config", None), getattr(config, "vision_config", None)):
        if c is not None:
            c._attn_implementation = "eager"  # explicit matmul + softmax, finfo.min masks: what the goldens use
    torch.set_default_dtype(torch.float32)
    model = Qwen2_5_VLForConditionalGeneration(config).float().eval()
    own = model.state_dict()
    shapes = {k: list(v.shape) for k, v in own.items()}
    state = {rename_to(k, own): v for k, v in read_state_dict(model_dir, shapes).items()}
    unexpected = sorted(set(state) - set(own))
    missing = sorted(k for k in set(own) - set(state) if not k.startswith("lm_head."))
    if unexpected or missing:
        raise SystemExit(f"checkpoint does not match the model: missing {missing[:5]}, unexpected {unexpected[:5]}")
    model.load_state_dict(state, strict=False)
    return model.to(device), config


# ----- network inputs -----------------------------------------------------------------------------------------


def pixel_lut(mean, std, rescale):
    """float32 value of each (channel, byte): (f32(v*rescale in float64) - mean) / std in float32."""
    lut = np.zeros((3, 256), dtype=np.float32)
    for c in range(3):
        scaled = np.array([v * rescale for v in range(256)], dtype=np.float64).astype(np.float32)
        lut[c] = (scaled - np.float32(mean[c])) / np.float32(std[c])
    return lut


def to_u8(pixel_values, lut, temporal, patch):
    """Inverts the LUT on every element (exactly, bit for bit) so the set stores bytes, as the public one does."""
    per_channel = temporal * patch * patch
    values = pixel_values.astype(np.float32)
    out = np.zeros(values.shape, dtype=np.uint8)
    for c in range(3):
        cols = slice(c * per_channel, (c + 1) * per_channel)
        lookup = {v.tobytes(): i for i, v in enumerate(lut[c])}
        block = values[:, cols]
        codes = [lookup.get(x.tobytes()) for x in block.reshape(-1)]
        if any(code is None for code in codes):
            raise SystemExit("pixel_values are not LUT values: the processor normalised differently than expected")
        out[:, cols] = np.array(codes, dtype=np.uint8).reshape(block.shape)
    return out


def conditioner_inputs(args):
    """input_ids, attention_mask, pixel_values, grid and the image bytes, as Step1X's conditioner builds them."""
    from PIL import Image
    from transformers import AutoProcessor

    source = Image.open(args.image).convert("RGB")
    ref = source.resize(cond.size_level_target(*source.size, args.size_level), Image.LANCZOS)  # v1.1
    fh, fw = cond.smart_resize(ref.height, ref.width)
    fetched = ref.resize((fw, fh), Image.BICUBIC)
    proc_dir = args.processor or args.model
    try:
        processor = AutoProcessor.from_pretrained(
            proc_dir, min_pixels=cond.PROCESSOR_MIN_PIXELS, max_pixels=cond.PROCESSOR_MAX_PIXELS, use_fast=False
        )
    except (TypeError, ValueError):
        processor = AutoProcessor.from_pretrained(
            proc_dir, min_pixels=cond.PROCESSOR_MIN_PIXELS, max_pixels=cond.PROCESSOR_MAX_PIXELS
        )
    ip = processor.image_processor
    ip.min_pixels, ip.max_pixels = cond.PROCESSOR_MIN_PIXELS, cond.PROCESSOR_MAX_PIXELS
    if isinstance(getattr(ip, "size", None), dict):
        ip.size = {"shortest_edge": cond.PROCESSOR_MIN_PIXELS, "longest_edge": cond.PROCESSOR_MAX_PIXELS}
    messages = [
        {
            "role": "user",
            "content": [
                {"type": "text", "text": cond.PREFIX},
                {"type": "image", "image": fetched},
                {"type": "text", "text": args.instruction},
            ],
        }
    ]
    text = processor.apply_chat_template(messages, tokenize=False, add_generation_prompt=True, add_vision_id=True)
    batch = processor(text=[text], images=[fetched], padding=True, return_tensors="pt")
    old_ids = batch["input_ids"][0].tolist()
    encode = lambda piece: processor.tokenizer(piece, add_special_tokens=False)["input_ids"]  # noqa: E731
    ids = cond.splice_ids(old_ids, cond.split_token_ids(cond.split_string(text), encode))
    pixel_values = batch["pixel_values"].float().numpy()
    lut = pixel_lut(ip.image_mean, ip.image_std, ip.rescale_factor)
    grid = batch["image_grid_thw"].numpy().astype(np.int64)
    u8 = to_u8(pixel_values, lut, ip.temporal_patch_size, ip.patch_size)
    group = f"{re.sub(r'[^A-Za-z0-9]+', '_', os.path.splitext(os.path.basename(args.image))[0])}_s{args.size_level}"
    return {"input_ids": ids, "u8": u8, "lut": lut, "grid": grid, "group": group, "input_case": None}


def mllm_set_inputs(set_dir, case):
    from safetensors.numpy import load_file

    with open(os.path.join(set_dir, f"{case}.json")) as f:
        case_json = json.load(f)
    tensors = load_file(os.path.join(set_dir, f"{case}.safetensors"))
    group = case_json["image_group"]
    image = load_file(os.path.join(set_dir, case_json.get("image_file") or f"image_{group}.safetensors"))
    return {
        "input_ids": tensors["input_ids"][0].tolist(),
        "u8": image["pixel_values_u8"],
        "lut": image["pixel_lut"],
        "grid": image["image_grid_thw"].astype(np.int64),
        "group": group,
        "input_case": case,
    }


# ----- reference run ------------------------------------------------------------------------------------------


def vision_position_ids(grid, merge):
    """(h, w) of every pixel_values row in the processor's merge-block-major order (what rot_pos_emb indexes)."""
    rows = []
    for t, h, w in grid.tolist():
        hh, ww = np.meshgrid(np.arange(h), np.arange(w), indexing="ij")
        def blocks(a):
            return a.reshape(h // merge, merge, w // merge, merge).transpose(0, 2, 1, 3).reshape(-1)

        rows.append(np.tile(np.stack([blocks(hh), blocks(ww)], axis=-1), (t, 1)))
    return np.concatenate(rows).astype(np.int64)


def accepts(fn, name, or_kwargs=False):
    params = inspect.signature(fn).parameters
    return name in params or (or_kwargs and any(p.kind == p.VAR_KEYWORD for p in params.values()))


def vision_window_index(visual, grid):
    """The vision tower's window order and boundaries: a method of the tower up to transformers 5.17, a function of
    `transformers.vision_utils` (the one the tower calls) from 5.18 on."""
    if hasattr(visual, "get_window_index"):
        return visual.get_window_index(grid)
    from transformers.vision_utils import get_vision_window_index

    return get_vision_window_index(
        grid, spatial_merge_size=visual.spatial_merge_size, window_size=visual.window_size, patch_size=visual.patch_size
    )


def run_reference(model, config, inputs, device):
    """Everything the format stores, from transformers' own modules (eager attention, float32)."""
    import torch

    core = model.model if hasattr(model.model, "visual") else model  # 4.52+/5.x vs 4.49-4.51 layout
    visual = core.visual
    vcfg = config.vision_config
    image_token_id = config.image_token_id
    ids = torch.tensor([inputs["input_ids"]], dtype=torch.long, device=device)
    mask = (ids > 0).long()  # the conditioner's rule: token 0 ('!') is masked
    grid = torch.tensor(inputs["grid"], dtype=torch.long, device=device)
    lut = torch.from_numpy(inputs["lut"])
    u8 = torch.from_numpy(inputs["u8"]).long()
    per_channel = vcfg.temporal_patch_size * vcfg.patch_size * vcfg.patch_size
    channel = (torch.arange(u8.shape[1]) // per_channel).expand_as(u8)
    pixel_values = lut[channel, u8].to(device)
    mm_types = (ids == image_token_id).int()

    window_index, cu_window = vision_window_index(visual, grid)
    cu_window = torch.unique_consecutive(torch.as_tensor(cu_window, dtype=torch.int32))
    frames = grid[:, 1] * grid[:, 2]
    per_frame = torch.repeat_interleave(frames, grid[:, 0]).cumsum(0, dtype=torch.int32)
    cu_seqlens = torch.nn.functional.pad(per_frame, (1, 0))

    blocks_out = {}
    hook = visual.blocks[-1].register_forward_hook(
        lambda module, args, out: blocks_out.update(x=out if torch.is_tensor(out) else out[0])
    )
    try:
        with torch.no_grad():
            embeds = visual(pixel_values, grid_thw=grid)
    finally:
        hook.remove()
    image_embeds = embeds if torch.is_tensor(embeds) else embeds.pooler_output

    rope_holder = core if hasattr(core, "get_rope_index") else model
    rope_kwargs = {"input_ids": ids, "image_grid_thw": grid, "attention_mask": mask}
    if accepts(rope_holder.get_rope_index, "mm_token_type_ids", or_kwargs=True):
        rope_kwargs["mm_token_type_ids"] = mm_types  # 5.x finds image tokens through it; without it: plain 1-D ids
    position_ids, _ = rope_holder.get_rope_index(**rope_kwargs)
    position_ids[:, mask == 0] = MASKED_POSITION
    image_rows = position_ids[:, 0, (ids[0] == image_token_id)]
    if image_rows.shape[1] > 1 and torch.equal(image_rows[1], image_rows[2]):
        # transformers 5.x silently falls back to 1-D positions when it cannot see the image tokens.
        raise SystemExit("get_rope_index returned 1-D positions for the image tokens")
    rope_deltas = int(position_ids.max()) + 1 - int(mask.sum())

    forward = {"input_ids": ids, "attention_mask": mask, "position_ids": position_ids, "pixel_values": pixel_values,
               "image_grid_thw": grid, "output_hidden_states": True, "return_dict": True, "use_cache": False}
    if accepts(core.forward, "mm_token_type_ids"):
        forward["mm_token_type_ids"] = mm_types
    with torch.no_grad():
        out = core(**forward)
    hidden = out.hidden_states
    length = ids.shape[1]
    valid = cond.valid_length(length)
    embs = torch.zeros(1, cond.MAX_TOKENS, hidden[-1].shape[-1])
    embs[0, :valid] = hidden[-1][0, cond.DROPPED_TOKENS : cond.DROPPED_TOKENS + valid].cpu()
    masks = torch.zeros(1, cond.MAX_TOKENS, dtype=torch.long)
    masks[0, :valid] = 1
    cpu = lambda t: t.detach().cpu().contiguous()  # noqa: E731
    image = {
        "pixel_values_u8": torch.from_numpy(np.ascontiguousarray(inputs["u8"])),
        "pixel_lut": torch.from_numpy(np.ascontiguousarray(inputs["lut"])),
        "image_grid_thw": cpu(grid),
        "window_index": cpu(window_index).long(),
        "cu_window_seqlens": cu_window,
        "cu_seqlens": cpu(cu_seqlens).int(),
        "vision_position_ids": torch.from_numpy(vision_position_ids(inputs["grid"], vcfg.spatial_merge_size)),
    }
    case = {
        "input_ids": cpu(ids),
        "attention_mask": cpu(mask),
        "image_grid_thw": cpu(grid),
        "mm_token_type_ids": cpu(mm_types),
        "position_ids": cpu(position_ids).long(),
        "rope_deltas": torch.tensor([[rope_deltas]], dtype=torch.long),
        "image_embeds": cpu(image_embeds).float(),
        "vision_blocks_out": cpu(blocks_out["x"]).float(),
        "inputs_embeds": cpu(hidden[0]).float(),
        "hidden_after_layer0": cpu(hidden[1]).float(),
        "last_hidden_state": cpu(hidden[-1]).float(),
        "embs": embs,
        "masks": masks,
    }
    for name, t in case.items():
        if t.is_floating_point() and not torch.isfinite(t).all():
            raise SystemExit(f"{name} holds NaN or Inf")
    return image, case, {"L": length, "valid_length": valid, "rope_deltas": rope_deltas,
                         "pixel_values_sha256_f32": hashlib.sha256(cpu(pixel_values).numpy().tobytes()).hexdigest(),
                         "attention_mask_zero_positions": (mask[0] == 0).nonzero().flatten().tolist(),
                         "n_image_tokens": int(mm_types.sum())}


# ----- writing ------------------------------------------------------------------------------------------------


def sha256_file(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 24), b""):
            h.update(chunk)
    return h.hexdigest()


def link_weights(model, out, copy):
    """The checker builds its graphs from the set's own weights: link (or copy) the checkpoint files in."""
    files = checkpoint_files(model)
    single = len(files) == 1 and os.path.isfile(model) and not model.endswith(".index.json")
    name = "weights.safetensors" if single else "weights"
    target = os.path.join(out, name)
    if os.path.lexists(target):
        return name
    if not copy:
        source = model if single or os.path.isdir(model) else os.path.dirname(os.path.abspath(model))
        os.symlink(os.path.abspath(source), target)
        return name
    import shutil

    if single:
        shutil.copy(files[0], target)
        return name
    os.makedirs(target)
    for path in files:
        shutil.copy(path, os.path.join(target, os.path.basename(path)))
    index = os.path.join(os.path.dirname(files[0]), "model.safetensors.index.json")
    if os.path.exists(index):
        shutil.copy(index, os.path.join(target, "model.safetensors.index.json"))
    return name


def write_case(args, config, name, image, case, info):
    import torch
    import transformers
    from safetensors.torch import save_file

    out = args.out
    os.makedirs(out, exist_ok=True)
    with open(os.path.join(out, "config.json"), "w") as f:
        f.write(config.to_json_string(use_diff=False))
    weights = link_weights(args.model, out, args.copy_weights)
    image_file = f"image_{image.pop('group')}.safetensors"
    save_file({k: v.contiguous() for k, v in image.items()}, os.path.join(out, image_file))
    case_file = f"{name}.safetensors"
    meta = {"case": name, "image": image_file, "weights": weights}
    save_file({k: v.contiguous() for k, v in case.items()}, os.path.join(out, case_file), metadata=meta)
    digest = sha256_file(os.path.join(out, case_file))
    record = {"case": name, "weights": weights, "image_file": image_file, **info, "sha256": digest,
              "shapes": {k: list(v.shape) for k, v in case.items()},
              "dtypes": {k: str(v.dtype).replace("torch.", "") for k, v in case.items()}}
    with open(os.path.join(out, f"{name}.json"), "w") as f:
        json.dump(record, f, indent=1)
    manifest_path = os.path.join(out, "manifest.json")
    manifest = {}
    if os.path.exists(manifest_path):
        with open(manifest_path) as f:
            manifest = json.load(f)
    manifest.update({"format": FORMAT, "weights": {"0": weights}, "torch_num_threads": torch.get_num_threads(),
                     "versions": {"python": sys.version.split()[0], "torch": torch.__version__,
                                  "transformers": transformers.__version__, "numpy": np.__version__}})
    manifest.setdefault("cases", {})[name] = {"file": case_file, "sha256": digest, "L": info["L"],
                                              "valid_length": info["valid_length"]}
    files = manifest.setdefault("files", {})
    for fname in ("config.json", image_file, case_file):
        files[fname] = sha256_file(os.path.join(out, fname))
    with open(manifest_path, "w") as f:
        json.dump(manifest, f, indent=1)


def compare_sets(ours, reference, names):
    """Per tensor: exact for integers, relative L2 for floats. Returns False when a case or tensor disagrees."""
    from safetensors.numpy import load_file

    ok = True
    for name in names:
        path = os.path.join(reference, f"{name}.safetensors")
        if not os.path.exists(path):
            print(f"{name}: not in {reference}")
            ok = False
            continue
        a, b = load_file(os.path.join(ours, f"{name}.safetensors")), load_file(path)
        for key in sorted(set(a) | set(b)):
            if key not in a or key not in b or a[key].shape != b[key].shape:
                print(f"  {name}/{key}: missing or shaped differently")
                ok = False
            elif a[key].dtype.kind == "f":
                x, y = a[key].astype(np.float64), b[key].astype(np.float64)
                norm = np.linalg.norm(y)
                err = np.linalg.norm(x - y) / norm if norm else np.abs(x - y).max()
                ok = ok and err <= 1e-5
                print(f"  {name}/{key}: rel L2 {err:.3e}")
            else:
                same = np.array_equal(a[key], b[key])
                ok = ok and same
                print(f"  {name}/{key}: {'exact' if same else 'DIFFERENT'}")
    return ok


def case_name(args):
    if args.case:
        return args.case
    slug = re.sub(r"[^A-Za-z0-9]+", "_", args.instruction).strip("_").lower()[:40]
    return slug or "empty_negative"


def main(argv):
    args = parse_args(argv)
    torchvision_transforms_only.use_transforms_only()
    import torch

    torch.set_num_threads(args.threads)
    # float32 means float32: no TF32 in matmuls or in the patch-embed Conv3d on GPUs.
    torch.backends.cuda.matmul.allow_tf32 = False
    torch.backends.cudnn.allow_tf32 = False
    model, config = load_model(args.model, args.device)
    if args.from_mllm_set:
        with open(os.path.join(args.from_mllm_set, "manifest.json")) as f:
            available = [c["case"] if isinstance(c, dict) else c for c in json.load(f)["cases"]]
        wanted = args.cases.split(",") if args.cases else available
        jobs = [(c, mllm_set_inputs(args.from_mllm_set, c)) for c in wanted]
    else:
        jobs = [(case_name(args), conditioner_inputs(args))]
    for name, inputs in jobs:
        image, case, info = run_reference(model, config, inputs, args.device)
        image["group"] = inputs["group"]
        info["input_case"] = inputs["input_case"]
        write_case(args, config, name, image, case, info)
        print(f"{name}: L={info['L']} valid={info['valid_length']} image tokens={info['n_image_tokens']}")
    if args.compare and not compare_sets(args.out, args.compare, [name for name, _ in jobs]):
        raise SystemExit(f"the written cases differ from {args.compare}")


if __name__ == "__main__":
    main(sys.argv[1:])
