"""Step1X-Edit's MLLM input side, as docs/MODEL.md describes it (sections 2 and 11-14).

Pure Python (no torch): the size_level resize target, qwen_vl_utils' smart_resize, the fixed prompt PREFIX, the
quote-splitting rule and the 217-drop / 640-pad constants. dump_qwen25vl.py uses these to build the network's
inputs from an image and an instruction the way the official conditioner does.
"""

import hashlib
import math

DROPPED_TOKENS = 217
MAX_TOKENS = 640

# The processor limits the official conditioner passes to AutoProcessor.from_pretrained (docs/MODEL.md section 14).
PROCESSOR_MIN_PIXELS = 256 * 28 * 28
PROCESSOR_MAX_PIXELS = 324 * 28 * 28
# qwen_vl_utils.fetch_image defaults.
FETCH_MIN_PIXELS = 4 * 28 * 28
FETCH_MAX_PIXELS = 16384 * 28 * 28
FACTOR = 28

# Quotes at code-point index <= 155 of the rendered prompt (the two inside PREFIX) are ordinary text.
QUOTE_RULE_MIN_INDEX = 155
CJK_OPEN_QUOTE_ID = 2073
CJK_CLOSE_QUOTE_ID = 854
VISION_END_ID = 151653
IMAGE_PAD_ID = 151655

PREFIX = "\n".join(
    [
        'Given a user prompt, generate an "Enhanced prompt" that provides detailed visual descriptions suitable for'
        " image generation. Evaluate the level of detail in the user prompt:",
        "- If the prompt is simple, focus on adding specifics about colors, shapes, sizes, textures, and spatial"
        " relationships to create vivid and concrete scenes.",
        "- If the prompt is already detailed, refine and enhance the existing details slightly without"
        " overcomplicating.",
        "",
        "Here are examples of how to transform or refine prompts:",
        "- User Prompt: A cat sleeping -> Enhanced: A small, fluffy white cat curled up in a round shape, sleeping"
        " peacefully on a warm sunny windowsill, surrounded by pots of blooming red flowers.",
        "- User Prompt: A busy city street -> Enhanced: A bustling city street scene at dusk, featuring glowing street"
        " lamps, a diverse crowd of people in colorful clothing, and a double-decker bus passing by towering glass"
        " skyscrapers.",
        "",
        "Please generate only the enhanced description for the prompt below and avoid including any additional"
        " commentary or evaluations:",
        "User Prompt:",
    ]
)
PREFIX_SHA256 = "40882ddca94ca6971c8d5713d42464afa31dad09236dfacafe3ee26b4b44aa82"

if hashlib.sha256(PREFIX.encode("utf-8")).hexdigest() != PREFIX_SHA256:
    raise RuntimeError("PREFIX was altered: its sha256 no longer matches the official PREFIX (docs/MODEL.md section 11)")


def size_level_target(width, height, size_level):
    """input_process_image (docs/MODEL.md section 2): area about size_level^2, aspect kept, both sides floored to 16."""
    ratio = width / height
    if width > height:
        w_new = math.ceil(math.sqrt(size_level * size_level * ratio))
        h_new = math.ceil(w_new / ratio)
    else:
        h_new = math.ceil(math.sqrt(size_level * size_level / ratio))
        w_new = math.ceil(h_new * ratio)
    return w_new // 16 * 16, h_new // 16 * 16


def smart_resize(height, width, factor=FACTOR, min_pixels=FETCH_MIN_PIXELS, max_pixels=FETCH_MAX_PIXELS, clamp=False):
    """smart_resize (docs/MODEL.md section 14); Python's round() is banker's rounding, as in the original.

    clamp: transformers' copy keeps the shrink branch at >= one factor; qwen_vl_utils' (fetch_image) does not.
    """
    if max(height, width) / min(height, width) > 200:
        raise ValueError(f"aspect ratio of {width}x{height} is over 200")
    h_bar = max(factor, round(height / factor) * factor)
    w_bar = max(factor, round(width / factor) * factor)
    if h_bar * w_bar > max_pixels:
        beta = math.sqrt(height * width / max_pixels)
        h_bar = math.floor(height / beta / factor) * factor
        w_bar = math.floor(width / beta / factor) * factor
        if clamp:
            h_bar, w_bar = max(factor, h_bar), max(factor, w_bar)
    elif h_bar * w_bar < min_pixels:
        beta = math.sqrt(min_pixels / (height * width))
        h_bar = math.ceil(height * beta / factor) * factor
        w_bar = math.ceil(width * beta / factor) * factor
    return h_bar, w_bar


def split_string(text):
    """The conditioner's split_string (docs/MODEL.md section 12): quoted characters become single 'curly-quoted' pieces."""
    text = text.replace("'", '"').replace("\u201c", '"').replace("\u201d", '"')
    pieces = []
    in_quotes = False
    buffer = ""
    for index, ch in enumerate(text):
        if ch == '"' and index > QUOTE_RULE_MIN_INDEX:
            buffer += ch
            if not in_quotes:
                pieces.append(buffer)
                buffer = ""
            in_quotes = not in_quotes
            continue
        if in_quotes:
            pieces.append("\u201c" + ch + "\u201d")
        else:
            buffer += ch
    if buffer:
        pieces.append(buffer)
    return pieces


def split_token_ids(pieces, encode):
    """Concatenated per-piece ids; a piece wrapped in 2073 ... 854 loses the wrapper."""
    ids = []
    for piece in pieces:
        piece_ids = list(encode(piece))
        if piece_ids and piece_ids[0] == CJK_OPEN_QUOTE_ID and piece_ids[-1] == CJK_CLOSE_QUOTE_ID:
            piece_ids = piece_ids[1:-1]
        ids.extend(piece_ids)
    return ids


def splice_ids(old_ids, split_ids):
    """old_ids up to the first <|vision_end|>, then split_ids from its first <|vision_end|> on."""
    return old_ids[: old_ids.index(VISION_END_ID)] + split_ids[split_ids.index(VISION_END_ID) :]


def valid_length(sequence_length, max_tokens=MAX_TOKENS):
    if sequence_length <= DROPPED_TOKENS:
        raise ValueError(f"a sequence of {sequence_length} tokens is shorter than the {DROPPED_TOKENS} dropped")
    return min(max_tokens, sequence_length - DROPPED_TOKENS)
