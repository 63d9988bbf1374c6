"""Rollout clips for the reports: episodes of the one evaluation (`dtlib.evaluate`) as H.264 mp4 in the HTML.

    html = render.gym_clips(model, spec, targets, labels, render.video_config(profile))   # MuJoCo, side by side
    html = render.keydoor_clips(model, spec, env_params, cfg)     # one success and one failure on the grid
    html = render.graph_clip(model, spec, data, prior, cfg)       # the DT's path beside the shortest path
    html = render.atari_clip(model, spec, targets, labels, cfg)   # Pong/Breakout screens, side by side
    html = render.target_slider(clips, figure_png)                 # ~8 targets, a range slider, inline JS

Every episode comes from `dtlib.evaluate.evaluate` (seeded: episode i resets with `VideoConfig.seed + i`);
MuJoCo frames are captured through its `observe` hook with the env's own offscreen renderer (`MUJOCO_GL=egl`,
Mesa's software renderer on a CPU: ~40-65 ms per 320x240 frame, so only every `every`-th step is drawn and
at most `max_frames`). Key-to-Door and graph frames are drawn from the recorded observations and actions.
Clips are written with imageio-ffmpeg's bundled ffmpeg (libx264, yuv420p, one thread) and embedded as
`<video controls src="data:video/mp4;base64,...">`, so a report stays one file that reads offline. Where no
GL context can be made, MuJoCo clips are replaced by a note saying why (`gl_problem`). Atari (`atari_clip`):
ALE renders its own 210x160 screen (no GL), every `atari_every`-th agent step, upscaled `atari_scale` times.
"""
from __future__ import annotations

import base64
import hashlib
import html
import os
import sys
import tempfile
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any, Callable, Sequence

# Headless offscreen MuJoCo: EGL on Mesa (llvmpipe); set before gymnasium creates a render context. One
# llvmpipe thread: faster than several on a loaded 2-core machine (measured).
if sys.platform.startswith("linux"):  # macOS and Windows pick their own backend (cgl, wgl via glfw)
    os.environ.setdefault("MUJOCO_GL", "egl")
if os.environ.get("MUJOCO_GL") in ("egl", "osmesa"):
    os.environ.setdefault("PYOPENGL_PLATFORM", os.environ["MUJOCO_GL"])
os.environ.setdefault("LP_NUM_THREADS", "1")

import numpy as np  # noqa: E402

from dtlib.validate import ParameterError, check_choice, check_positive  # noqa: E402

MAX_REPORT_BYTES = 2_000_000  # clips added to one report, base64 included (issue 19: <= 2 MB per report)
BACKGROUND = (255, 255, 255)
INK = (20, 20, 20)


@dataclass(frozen=True)
class VideoConfig:
    """How the report clips are drawn: sizes, how many frames, encoding."""

    width: int = 320  # MuJoCo frame width in pixels (a panel of a side-by-side clip)
    height: int = 240  # MuJoCo frame height in pixels
    every: int = 4  # draw every n-th env step (MuJoCo frames cost ~50 ms each on a CPU)
    max_frames: int = 75  # frames per clip at most (the episode itself always runs to its end)
    fps: int = 15  # playback frames per second
    crf: int = 28  # H.264 quality (lower is better and larger); 28: ~25 KB per 6 s at 320x240
    seed: int = 20_000  # episode i resets with seed + i (disjoint from the evaluation's 10,000 + i)
    slider_targets: int = 8  # clips in the target slider
    slider_scale: float = 0.75  # slider clips are this fraction of width x height
    # Atari: an agent step is 4 emulator frames (1/15 s of play) and a screen costs ~0.03 ms, so frames are
    # kept far more often than MuJoCo's; a clip plays at fps * atari_every / 15 times real time
    atari_every: int = 2  # Atari: draw every n-th agent step
    atari_max_frames: int = 225  # Atari frames per clip at most (the episode itself runs to its end or cap)
    atari_scale: int = 2  # Atari: nearest-neighbour upscale of the 210x160 screen, so the ball is easy to see

    def __post_init__(self) -> None:
        for name in ("width", "height", "every", "max_frames", "fps", "slider_targets", "atari_every",
                     "atari_max_frames", "atari_scale"):
            check_positive(name, getattr(self, name), integer=True)
        if not (isinstance(self.crf, int) and 0 <= self.crf <= 51):
            raise ParameterError(f"crf={self.crf!r} must be an integer in [0, 51]")
        if not 0.1 <= self.slider_scale <= 1.0:
            raise ParameterError(f"slider_scale={self.slider_scale!r} must be in [0.1, 1]")


# Per-profile sizes: smoke renders a tiny clip so that CI exercises the whole path in seconds.
VIDEO_PRESETS: dict[str, VideoConfig] = {
    "smoke": VideoConfig(width=160, height=128, every=10, max_frames=6, fps=5, slider_targets=3,
                         atari_every=4, atari_max_frames=6, atari_scale=1),
    # small: the first 300 steps of each episode in 4 s; a few hundred frames per report at ~50-200 ms of CPU each.
    # Atari: the first 450 agent steps (30 s of play) at twice real time
    "small": VideoConfig(width=320, height=240, every=5, max_frames=60, fps=15, slider_targets=8, slider_scale=0.75,
                         atari_every=2, atari_max_frames=225, atari_scale=2),
    "paper": VideoConfig(width=320, height=240, every=4, max_frames=250, fps=15, slider_targets=8,
                         atari_every=2, atari_max_frames=225, atari_scale=2),
}


def video_config(profile: str) -> VideoConfig:
    """The clip sizes of a profile (VIDEO_PRESETS)."""
    check_choice("profile", profile, VIDEO_PRESETS)
    return VIDEO_PRESETS[profile]


# ------------------------------------------------------------------------------------------ GL and encoding
@lru_cache(maxsize=1)
def gl_problem() -> str | None:
    """None when MuJoCo can render offscreen here; else one line saying why not (no GL: clips skipped)."""
    try:  # the very path the clips take: gymnasium's offscreen renderer, which reads MUJOCO_GL when it starts
        import gymnasium as gym

        env = gym.make("Hopper-v5", render_mode="rgb_array", width=16, height=16)
        try:
            env.reset(seed=0)
            if np.asarray(env.render()).shape != (16, 16, 3):
                return "MuJoCo's offscreen renderer returned a frame of the wrong shape"
        finally:
            env.close()
        return None
    except Exception as error:  # no libEGL, no display for glfw, a broken driver: all mean "no clips here"
        first = (str(error).strip().splitlines() or [type(error).__name__])[0]
        return (f"no OpenGL context for MuJoCo (MUJOCO_GL={os.environ.get('MUJOCO_GL')}): {first[:160]}. "
                "Install libegl1 libegl-mesa0 libgl1-mesa-dri libgbm1 (Debian) to get the clips.")


def _even_pad(frame: np.ndarray, block: int = 16) -> np.ndarray:
    """Pad an [H, W, 3] frame with white to multiples of `block` (H.264 in yuv420p needs even sizes)."""
    h, w = frame.shape[:2]
    ph, pw = -h % block, -w % block
    if ph == 0 and pw == 0:
        return frame
    return np.pad(frame, ((0, ph), (0, pw), (0, 0)), constant_values=255)


def encode_mp4(frames: Sequence[np.ndarray], fps: int = 15, crf: int = 28) -> bytes:
    """H.264 mp4 bytes of [H, W, 3] uint8 frames (all the same size), one encoder thread: same frames, same bytes."""
    import imageio_ffmpeg

    if len(frames) == 0:
        raise ParameterError("frames is empty: a clip needs at least one frame")
    first = _even_pad(np.asarray(frames[0], dtype=np.uint8))
    h, w = first.shape[:2]
    with tempfile.TemporaryDirectory(prefix="dtlib-clip-") as tmp:
        path = Path(tmp) / "clip.mp4"
        writer = imageio_ffmpeg.write_frames(
            str(path), (w, h), fps=fps, codec="libx264", quality=None, pix_fmt_in="rgb24", pix_fmt_out="yuv420p",
            macro_block_size=1, ffmpeg_log_level="error",
            output_params=["-crf", str(crf), "-preset", "medium", "-threads", "1", "-movflags", "+faststart",
                           "-map_metadata", "-1", "-fflags", "+bitexact", "-flags:v", "+bitexact"])
        writer.send(None)  # start the generator
        for frame in frames:
            f = _even_pad(np.asarray(frame, dtype=np.uint8))
            if f.shape != first.shape:
                raise ParameterError(f"frame of shape {f.shape} in a clip of {first.shape}: every frame the same size")
            writer.send(np.ascontiguousarray(f))
        writer.close()
        return path.read_bytes()


def video_tag(mp4: bytes, caption: str = "", width: int | None = None) -> str:
    """A `<figure>` with a `<video controls>` holding the clip as a base64 data URI, and a caption."""
    src = "data:video/mp4;base64," + base64.b64encode(mp4).decode("ascii")
    size = f' width="{int(width)}"' if width else ""
    cap = f"<figcaption>{html.escape(caption)}</figcaption>" if caption else ""
    return (f'<figure class="dtlib-clip" style="display:inline-block;margin:.3em">'
            f'<video controls muted loop playsinline preload="auto"{size} src="{src}"></video>{cap}</figure>')


def note(text: str) -> str:
    """A visible one-paragraph note in place of a clip (no GL, no success to show, ...)."""
    return f'<p class="dtlib-clip-note" style="color:#a60"><b>Clip skipped:</b> {html.escape(text)}</p>'


def clip_bytes(fragment: str) -> int:
    """Bytes an HTML fragment adds to a report (what the per-report budget counts)."""
    return len(fragment.encode("utf-8"))


def check_budget(fragments: Sequence[str], limit: int = MAX_REPORT_BYTES) -> None:
    """Fail when one report's clips would add more than `limit` bytes (issue 19: <= 2 MB per report)."""
    total = sum(clip_bytes(f) for f in fragments)
    if total > limit:
        raise ParameterError(f"the report's clips add {total:,} bytes > {limit:,}: lower max_frames or crf")


# ------------------------------------------------------------------------------------------ drawing
def _font(size: int):
    from PIL import ImageFont

    return ImageFont.load_default(size=size)


def annotate(frame: np.ndarray, lines: Sequence[str], size: int = 13) -> np.ndarray:
    """The frame with `lines` written in its top-left corner on a white band (returns a new array)."""
    from PIL import Image, ImageDraw

    img = Image.fromarray(np.asarray(frame, dtype=np.uint8))
    draw = ImageDraw.Draw(img)
    font = _font(size)
    y = 2
    for line in lines:
        box = draw.textbbox((4, y), line, font=font)
        draw.rectangle((box[0] - 2, box[1] - 1, box[2] + 2, box[3] + 1), fill=BACKGROUND)
        draw.text((4, y), line, fill=INK, font=font)
        y = box[3] + 3
    return np.asarray(img)


def side_by_side(clips: Sequence[Sequence[np.ndarray]], gap: int = 4) -> list[np.ndarray]:
    """Frames of several clips placed left to right; a clip that ended holds its last frame, greyed."""
    n = max(len(c) for c in clips)
    out = []
    for t in range(n):
        panels = []
        for c in clips:
            f = np.asarray(c[min(t, len(c) - 1)], dtype=np.uint8)
            panels.append(f if t < len(c) else (0.55 * f + 0.45 * 255).astype(np.uint8))
        h = max(p.shape[0] for p in panels)
        panels = [np.pad(p, ((0, h - p.shape[0]), (0, gap), (0, 0)), constant_values=255) for p in panels]
        out.append(np.concatenate(panels, axis=1)[:, :-gap])
    return out


class FrameRecorder:
    """The `observe` hook of `dtlib.evaluate`: keeps env.render() of every `every`-th step, at most `max_frames`."""

    def __init__(self, every: int, max_frames: int):
        self.every, self.max_frames = every, max_frames
        self.frames: dict[int, list[np.ndarray]] = {}
        self._steps: dict[int, int] = {}

    def __call__(self, row: int, env: Any) -> None:
        t = self._steps.get(row, -1) + 1  # 0 at reset, then one per step
        self._steps[row] = t
        kept = self.frames.setdefault(row, [])
        if t % self.every == 0 and len(kept) < self.max_frames:
            kept.append(np.asarray(env.render(), dtype=np.uint8).copy())


# ------------------------------------------------------------------------------------------ MuJoCo
def mujoco_episodes(model: Any, spec: Any, targets: Sequence[float], cfg: VideoConfig, scale: float = 1.0,
                    delayed: bool = False, rewards: bool = False, frames: bool = True
                    ) -> tuple[Any, list[list[np.ndarray]]]:
    """One seeded episode per target through `dtlib.evaluate` with frames captured: (rows, frames per row).

    With `rewards`, the rows also hold each episode's per-step rewards (column `rewards`); without `frames`
    nothing is rendered (no GL needed) and every frame list is empty."""
    from dtlib.evaluate import EvalConfig, evaluate, make_env

    w, h = int(round(cfg.width * scale / 2)) * 2, int(round(cfg.height * scale / 2)) * 2
    recorder = FrameRecorder(cfg.every, cfg.max_frames)
    eval_cfg = EvalConfig(episodes=1, targets=tuple(float(t) for t in targets), seed=cfg.seed, delayed=delayed,
                          parallel=len(targets))
    env_fn = (lambda: make_env(spec, render_mode="rgb_array", width=w, height=h)) if frames else None
    out = evaluate(model, spec, eval_cfg, env_fn=env_fn, observe=recorder if frames else None, record=rewards)
    rows = out[0].assign(rewards=[tr["rewards"] for tr in out[1]]) if rewards else out
    return rows, [recorder.frames.get(i, []) for i in range(len(rows))]


def _episode_lines(target: float, ret: float, length: int, label: str = "") -> list[str]:
    head = f"{label}: " if label else ""
    return [f"{head}target {target:,.0f}", f"achieved {ret:,.0f} in {length} steps"]


def gym_clips(model: Any, spec: Any, targets: Sequence[float], labels: Sequence[str], cfg: VideoConfig,
              title: str = "") -> str:
    """MuJoCo: one episode per target side by side, each panel labelled with its target and achieved return."""
    problem = gl_problem()
    if problem:
        return note(problem)
    rows, frames = mujoco_episodes(model, spec, targets, cfg)
    panels = []
    for (_, r), fr, label in zip(rows.iterrows(), frames, labels):
        lines = _episode_lines(r["target"], r["return"], int(r["length"]), label)
        panels.append([annotate(f, lines) for f in fr])
    mp4 = encode_mp4(side_by_side(panels), cfg.fps, cfg.crf)
    shown = min(cfg.max_frames * cfg.every, int(rows["length"].max()))
    caption = (f"{title}{': ' if title else ''}" + "; ".join(
        f"{label} target {r['target']:,.0f} → return {r['return']:,.0f} ({int(r['length'])} steps)"
        for label, (_, r) in zip(labels, rows.iterrows()))
        + f". The clip shows up to the first {shown} steps (one frame per {cfg.every} steps), seed {cfg.seed}; "
          "the returns are of the whole episodes.")
    return video_tag(mp4, caption)


def target_slider(clips: Sequence[tuple[str, bytes]], figure_png: bytes | None = None, title: str = "") -> str:
    """Pre-rendered clips with a plain range slider (a few lines of inline JS, no CDN) beside a figure."""
    if not clips:
        raise ParameterError("clips is empty: the slider needs at least one (label, mp4) pair")
    uid = "dtlib-slider-" + hashlib.sha256(b"".join(mp4 for _, mp4 in clips)).hexdigest()[:10]
    videos = "".join(
        f'<video data-label="{html.escape(label)}" controls muted loop playsinline preload="auto" '
        f'style="display:{"block" if i == 0 else "none"}" src="data:video/mp4;base64,'
        f'{base64.b64encode(mp4).decode("ascii")}"></video>' for i, (label, mp4) in enumerate(clips))
    fig = (f'<img alt="achieved vs target return" style="max-width:48%;vertical-align:top" '
           f'src="data:image/png;base64,{base64.b64encode(figure_png).decode("ascii")}">' if figure_png else "")
    script = (f"<script>(function(){{var r=document.getElementById('{uid}');"
              "var vs=r.querySelectorAll('video'),lab=r.querySelector('.dtlib-slider-label'),s=r.querySelector('input');"
              "function show(k){vs.forEach(function(v,j){v.style.display=j==k?'block':'none';"
              "if(j!=k){v.pause();}});lab.textContent=vs[k].dataset.label;}"
              "s.addEventListener('input',function(){show(+s.value);});show(+s.value);})();</script>")
    return (f'<div id="{uid}" class="dtlib-slider" style="display:flex;gap:1em;align-items:flex-start">{fig}'
            f'<div><p><b>{html.escape(title)}</b></p>'
            f'<input type="range" min="0" max="{len(clips) - 1}" step="1" value="0" style="width:100%" '
            f'aria-label="target return"><p class="dtlib-slider-label"></p>{videos}</div></div>{script}')


# ------------------------------------------------------------------------------------------ Key-to-Door
KEY_COLOR, DOOR_COLOR, AGENT_COLOR = (230, 170, 0), (120, 70, 20), (30, 100, 220)


def keydoor_frames(trace: dict, params: dict, cell: int = 28, title: str = "") -> list[np.ndarray]:
    """One frame per step of a recorded Key-to-Door episode: the three rooms, the current one framed.

    Drawn from the trace alone (observations [phase, row, col, object, d_row, d_col] and actions): the
    agent, the key (phase 1, until picked up), the door (phase 3), the phase and whether the key is held.
    """
    from PIL import Image, ImageDraw

    from dtlib.envs import keydoor

    p = keydoor.check_params(**params)
    h, w = p["height"], p["width"]
    obs = np.asarray(trace["observations"], dtype=np.int64).reshape(-1, 6)
    actions = np.asarray(trace["actions"], dtype=np.int64).reshape(-1)
    key_step, door_step = keydoor.episode_events(obs, actions, **p)
    key_step, door_step = int(key_step[0]), int(door_step[0])
    ret = float(np.sum(trace.get("rewards", [0.0])))
    # positions before each action, then the one after the last action
    last = obs[-1]
    end_r = int(np.clip(last[1] + keydoor.D_ROW[actions[-1]], 0, h - 1))
    end_c = int(np.clip(last[2] + keydoor.D_COL[actions[-1]], 0, w - 1))
    states = [(int(o[0]), int(o[1]), int(o[2]), o) for o in obs] + [(int(last[0]), end_r, end_c, last)]
    names = ("1 key room", "2 distractor room", "3 door room")
    top, margin = 44, 10
    room_w = w * cell
    width, height = 3 * room_w + 4 * margin, top + h * cell + margin + 18
    font, small = _font(13), _font(11)
    frames = []
    for t, (phase, r, c, o) in enumerate(states):
        img = Image.new("RGB", (width + (-width % 16), height + (-height % 16)), BACKGROUND)
        d = ImageDraw.Draw(img)
        held = 0 <= key_step < t
        status = "success" if t == len(states) - 1 and ret > 0 else ("ended" if t == len(states) - 1 else "")
        d.text((margin, 4), f"{title}  t={min(t, len(obs))}  phase {phase + 1}/3  key held: {'yes' if held else 'no'}"
               + (f"  — {status}, return {ret:g}" if status else ""), fill=INK, font=font)
        for room in range(3):
            x0 = margin + room * (room_w + margin)
            d.text((x0, top - 16), names[room], fill=INK if room == phase else (150, 150, 150), font=small)
            for i in range(h):
                for j in range(w):
                    d.rectangle((x0 + j * cell, top + i * cell, x0 + (j + 1) * cell, top + (i + 1) * cell),
                                outline=(200, 200, 200), fill=(245, 245, 245) if room == phase else BACKGROUND)
            if room == phase:
                d.rectangle((x0 - 2, top - 2, x0 + room_w + 2, top + h * cell + 2), outline=INK, width=2)
        x0 = margin + phase * (room_w + margin)
        kind = int(o[3])
        if kind in (keydoor.KEY, keydoor.DOOR) and not (kind == keydoor.KEY and held):
            orow, ocol = int(o[1]) + int(o[4]) - (h - 1), int(o[2]) + int(o[5]) - (w - 1)
            color = KEY_COLOR if kind == keydoor.KEY else DOOR_COLOR
            d.rectangle((x0 + ocol * cell + 4, top + orow * cell + 4, x0 + (ocol + 1) * cell - 4,
                         top + (orow + 1) * cell - 4), fill=color)
            d.text((x0 + ocol * cell + cell // 2 - 4, top + orow * cell + cell // 2 - 7),
                   "K" if kind == keydoor.KEY else "D", fill=BACKGROUND, font=font)
        d.ellipse((x0 + c * cell + 5, top + r * cell + 5, x0 + (c + 1) * cell - 5, top + (r + 1) * cell - 5),
                  fill=AGENT_COLOR)
        if held:  # the held key, drawn small beside the room's name
            d.rectangle((x0 + room_w - 12, top - 14, x0 + room_w - 2, top - 4), fill=KEY_COLOR)
        d.text((margin, top + h * cell + margin - 2), "blue: agent   K: key   D: door", fill=(90, 90, 90), font=small)
        frames.append(np.asarray(img))
    return frames


def keydoor_clips(model: Any, spec: Any, params: dict, episodes: int = 20, fps: int = 4,
                  seed: int = 20_000) -> tuple[str, dict]:
    """One success and one failure of a Key-to-Door DT (first of each among `episodes` seeded episodes).

    Returns the HTML and what was found ({'episodes', 'successes'}); a missing outcome gets a note.
    """
    from dtlib.envs import keydoor
    from dtlib.evaluate import EvalConfig, evaluate

    rows, traces = evaluate(model, spec, EvalConfig(episodes=episodes, seed=seed, env_kwargs=tuple(params.items())),
                            record=True)
    _, _, labels = keydoor.trace_events(traces, **params)
    parts, found = [], {"episodes": len(traces), "successes": int((labels == keydoor.OUTCOMES[2]).sum())}
    for want, name in ((True, "success"), (False, "failure")):
        idx = next((i for i, lab in enumerate(labels) if (lab == keydoor.OUTCOMES[2]) == want), None)
        if idx is None:
            parts.append(note(f"no {name} among the DT's {len(traces)} seeded episodes (seeds {seed}…"
                              f"{seed + len(traces) - 1}) to show"))
            continue
        frames = keydoor_frames(traces[idx], params, title=f"DT, {name}" + ("" if want else f" ({labels[idx]})"))
        frames += [frames[-1]] * fps  # hold the last frame a second
        parts.append(video_tag(encode_mp4(frames, fps=fps), f"{name}: episode seed {seed + idx}, outcome "
                                                           f"'{labels[idx]}', return {rows['return'].iloc[idx]:g}"))
    return "".join(parts), found


# ------------------------------------------------------------------------------------------ graph
def shortest_path(adjacency: np.ndarray, start: int, goal: int) -> list[int]:
    """Nodes of one shortest path from `start` to `goal` (lowest-index next node on ties); [start] if none."""
    from dtlib.envs import graph

    adj = np.asarray(adjacency, dtype=bool)
    dist = graph.shortest_path_lengths(adj, goal)
    if dist[start] < 0:
        return [start]
    path = [start]
    while path[-1] != goal:
        nxt = [j for j in np.flatnonzero(adj[path[-1]]) if dist[j] == dist[path[-1]] - 1]
        path.append(int(nxt[0]))
    return path


def dt_path(trace: dict, adjacency: np.ndarray, goal: int) -> list[int]:
    """Nodes the DT visited in a recorded graph episode (a move along a missing edge stays put)."""
    adj = np.asarray(adjacency, dtype=bool)
    pos = int(np.asarray(trace["observations"][0]).reshape(-1)[0])
    path = [pos]
    for a in trace["actions"]:
        pos = int(a) if adj[pos, int(a)] else pos
        path.append(pos)
        if pos == goal:
            break
    return path


def graph_frames(adjacency: np.ndarray, goal: int, paths: Sequence[tuple[str, list[int]]], size: int = 300
                 ) -> list[np.ndarray]:
    """Frames of several paths on the same graph drawn side by side, one more step of each per frame."""
    from PIL import Image, ImageDraw

    adj = np.asarray(adjacency, dtype=bool)
    n = len(adj)
    angle = 2 * np.pi * np.arange(n) / n - np.pi / 2
    rad = size * 0.38
    xy = np.stack([size / 2 + rad * np.cos(angle), 30 + size / 2 + rad * np.sin(angle)], axis=1)  # [n, 2]
    font = _font(12)
    colors = [(30, 140, 60), (30, 100, 220)]
    frames = []
    for t in range(max(len(p) for _, p in paths)):
        panels = []
        for k, (label, path) in enumerate(paths):
            img = Image.new("RGB", (size, size + 40), BACKGROUND)
            d = ImageDraw.Draw(img)
            for i, j in zip(*np.nonzero(adj)):
                d.line((*xy[i], *xy[j]), fill=(225, 225, 225), width=1)
            shown = path[:t + 1]
            for a, b in zip(shown[:-1], shown[1:]):
                d.line((*xy[a], *xy[b]), fill=colors[k % 2], width=4)
            for v in range(n):
                fill = (230, 170, 0) if v == goal else (255, 255, 255)
                d.ellipse((xy[v, 0] - 7, xy[v, 1] - 7, xy[v, 0] + 7, xy[v, 1] + 7), fill=fill, outline=(120, 120, 120))
            here = shown[-1]
            d.ellipse((xy[here, 0] - 9, xy[here, 1] - 9, xy[here, 0] + 9, xy[here, 1] + 9), outline=colors[k % 2],
                      width=3)
            steps = len(shown) - 1
            done = " — at the goal" if here == goal else ""
            d.text((6, 4), f"{label}: {steps} step{'s' if steps != 1 else ''}{done}", fill=INK, font=font)
            d.text((6, 20), f"start {path[0]}, goal {goal} (orange)", fill=(90, 90, 90), font=font)
            panels.append(np.asarray(img))
        frames.append(side_by_side([[p] for p in panels])[0])
    return frames


def graph_clip(model: Any, spec: Any, data: Any, prior: Callable[[np.ndarray], np.ndarray], episodes: int = 20,
               fps: int = 2, seed: int = 20_000) -> str:
    """The DT's path beside a BFS shortest path from the same start: the seeded episode with the longest shortest path."""
    from dtlib.envs import graph
    from dtlib.evaluate import EvalConfig, evaluate

    params = data.meta["env_params"]
    adj = graph.adjacency_of(**params)
    goal = int(params["goal"])
    _, traces = evaluate(model, spec, EvalConfig(episodes=episodes, seed=seed), record=True, return_prior=prior)
    dist = graph.shortest_path_lengths(adj, goal)
    starts = [int(np.asarray(tr["observations"][0]).reshape(-1)[0]) for tr in traces]
    idx = int(np.argmax([dist[s] for s in starts]))  # the longest shortest path among the episodes: most to see
    path = dt_path(traces[idx], adj, goal)
    best = shortest_path(adj, starts[idx], goal)
    frames = graph_frames(adj, goal, [("DT", path), ("shortest path (BFS)", best)])
    frames += [frames[-1]] * fps
    reached = path[-1] == goal
    caption = (f"Episode seed {seed + idx}: from node {starts[idx]} the DT {'reaches' if reached else 'does not reach'}"
               f" goal {goal} in {len(path) - 1} steps; the shortest path takes {len(best) - 1}.")
    return video_tag(encode_mp4(frames, fps=fps), caption)


# ------------------------------------------------------------------------------------------ Atari
ATARI_STEPS_PER_SECOND = 15  # an agent step is 4 emulator frames at 60 Hz (dtlib.envs.atari)


def atari_panel(frame: np.ndarray, lines: Sequence[str], scale: int = 2, size: int = 13) -> np.ndarray:
    """An ALE screen upscaled `scale` times (nearest neighbour) under a white band holding `lines`."""
    big = np.asarray(frame, dtype=np.uint8).repeat(scale, axis=0).repeat(scale, axis=1)  # [scale*210, scale*160, 3]
    band = np.full(((size + 4) * len(lines) + 4, big.shape[1], 3), 255, dtype=np.uint8)  # above the game's score
    return annotate(np.concatenate([band, big], axis=0), lines, size=size)


def atari_clip(model: Any, spec: Any, targets: Sequence[float], labels: Sequence[str], cfg: VideoConfig,
               title: str = "", max_steps: int = 0, sample_actions: bool = True) -> str:
    """Atari: one seeded episode per target side by side, each panel labelled with its target and achieved return.

    `max_steps` caps each episode (0: the spec's 27,000 agent steps) and `sample_actions` samples from the DT's
    softmax: pass the study's evaluation settings (`AtariStudy.eval_config`) so the clip plays as it is scored."""
    from dtlib.evaluate import EvalConfig, evaluate, make_env

    if len(targets) != len(labels) or not len(targets):
        raise ParameterError(f"targets={list(targets)!r} and labels={list(labels)!r}: one label per target, >= 1")
    recorder = FrameRecorder(cfg.atari_every, cfg.atari_max_frames)
    eval_cfg = EvalConfig(episodes=1, targets=tuple(float(t) for t in targets), seed=cfg.seed,
                          sample_actions=sample_actions, max_steps=max_steps, parallel=len(targets))
    rows = evaluate(model, spec, eval_cfg, env_fn=lambda: make_env(spec, render_mode="rgb_array"), observe=recorder)
    panels = []
    for j, ((_, r), label) in enumerate(zip(rows.iterrows(), labels)):
        lines = _episode_lines(r["target"], r["return"], int(r["length"]), label)
        panels.append([atari_panel(f, lines, cfg.atari_scale) for f in recorder.frames.get(j, [])])
    mp4 = encode_mp4(side_by_side(panels), cfg.fps, cfg.crf)
    cap = max_steps or spec.max_ep_len
    shown = min(cfg.atari_max_frames * cfg.atari_every, int(rows["length"].max()))
    speed = cfg.fps * cfg.atari_every / ATARI_STEPS_PER_SECOND
    caption = (f"{title}{': ' if title else ''}" + "; ".join(
        f"{label} target {r['target']:,.0f} → return {r['return']:,.0f} ({int(r['length'])} steps"
        f"{', capped' if int(r['length']) >= cap else ''})" for label, (_, r) in zip(labels, rows.iterrows()))
        + f". Actions {'sampled from the softmax' if sample_actions else 'the argmax'}, as evaluated; an episode "
          f"stops at {cap:,} agent steps (4 frames each). The clip shows up to the first {shown} steps (one frame per "
          f"{cfg.atari_every} steps, {speed:.2g}x real time), seed {cfg.seed}; the returns are of the whole episodes.")
    return video_tag(mp4, caption)


# ------------------------------------------------------------------------------------------ the reports' clips
def low_best_paper_targets(spec: Any, data: Any) -> tuple[list[float], list[str]]:
    """Gym clip targets: low (a quarter of the data's best return), the data's best, the paper's target."""
    best = float(data.episode_returns.max())
    paper = getattr(spec, "paper_target", None) or spec.targets[0]
    return [round(best / 4, -1), round(best, -1), float(paper)], ["low", "data's best", "paper"]


def _figure_png(fig: Any) -> bytes:
    import io as _io

    import matplotlib.pyplot as plt

    buf = _io.BytesIO()
    fig.savefig(buf, format="png", dpi=90, bbox_inches="tight")
    plt.close(fig)
    return buf.getvalue()


def slider_figure(rows: Any, sweep: Any = None, title: str = "") -> bytes:
    """PNG: the clips' achieved return per target (numbered as the slider), the diagonal, the sweep's mean beside."""
    import matplotlib.pyplot as plt

    from dtlib import plots

    plots.set_theme()
    fig, ax = plt.subplots(figsize=(4.6, 3.6))
    if sweep is not None and len(sweep):
        mean = sweep.groupby("target")["return"].mean()
        ax.plot(mean.index, mean.to_numpy(), "s--", color="tab:gray", alpha=0.7, label="Figure 4 sweep (mean)")
    ax.plot(rows["target"], rows["return"], "o-", color="tab:blue", label="the clips' episodes")
    for k, (t, r) in enumerate(zip(rows["target"], rows["return"])):
        ax.annotate(str(k + 1), (t, r), textcoords="offset points", xytext=(4, 4), fontsize=8)
    lim = [min(rows["target"].min(), rows["return"].min()), max(rows["target"].max(), rows["return"].max())]
    ax.plot(lim, lim, ":", color="black", lw=1, label="achieved = target")
    ax.set_xlabel("target return")
    ax.set_ylabel("achieved return")
    ax.set_title(title, fontsize=10)
    ax.legend(fontsize=7)
    fig.tight_layout()
    return _figure_png(fig)


def gym_slider(model: Any, spec: Any, targets: Sequence[float], cfg: VideoConfig, sweep: Any = None,
               title: str = "") -> str:
    """Clips at `targets` (one seeded episode each) behind a range slider, beside achieved vs target."""
    problem = gl_problem()
    if problem:
        return note(problem)
    rows, frames = mujoco_episodes(model, spec, targets, cfg, scale=cfg.slider_scale)
    clips = []
    for k, ((_, r), fr) in enumerate(zip(rows.iterrows(), frames)):
        label = f"{k + 1}: target {r['target']:,.0f} → achieved {r['return']:,.0f} ({int(r['length'])} steps)"
        lines = [f"target {r['target']:,.0f}", f"achieved {r['return']:,.0f}"]
        clips.append((label, encode_mp4([annotate(f, lines, size=11) for f in fr], cfg.fps, cfg.crf)))
    return target_slider(clips, slider_figure(rows, sweep, f"{spec.name}: one episode per target"), title)


def find_run(runs_root: str | Path, name: str) -> Path | None:
    """The finished run folder `<runs_root>/<name>-<hash>`, or None: among several (other configs, or the same
    config made by other code), one made by today's code first (dtlib.results.code_differences), then the newest."""
    from dtlib.results import RunDir, code_differences

    done = [p for p in Path(runs_root).glob(f"{name}-*") if (p / "summary.json").exists()
            and (p / "checkpoint.pt").exists() and p.name[len(name) + 1:].isalnum()]
    return max(done, key=lambda p: (not code_differences(RunDir.open(p)), (p / "summary.json").stat().st_mtime),
               default=None)


def load_run_model(path: str | Path) -> Any:
    """The trained DT (or transformer BC) of a run folder, rebuilt from its config.json; never trains."""
    import torch

    from dtlib import io
    from dtlib.model import DecisionTransformer, MLPBC, ModelConfig

    config = io.read_json(Path(path) / "config.json")
    fields = {k: tuple(v) if isinstance(v, list) else v for k, v in config["ModelConfig"].items()}
    cls = {"DecisionTransformer": DecisionTransformer, "MLPBC": MLPBC}.get(config.get("model_class"))
    if cls is None:
        raise ParameterError(f"{path}: model_class={config.get('model_class')!r} is not a DT or BC model "
                             "(clips show DecisionTransformer or MLPBC runs)")
    model = cls(ModelConfig(**fields))
    ckpt = torch.load(Path(path) / "checkpoint.pt", weights_only=True, map_location="cpu")
    model.load_state_dict(ckpt["learner"]["model"])
    return model.eval()


def gym_report(study: Any, runs_root: str | Path, data: dict, sweep: Any = None, profile: str = "small") -> str:
    """The Gym report's clips: per env the first seed's DT at three targets; the target slider on medium-replay.

    The DT is the study's own run (dense rewards, default K) on its last dataset (medium-expert at `small`);
    the slider's run is the Figure 4 run (medium-replay), its targets Figure 4's, `slider_targets` of them.
    """
    from dtlib import gym_study
    from dtlib.specs import get_env_spec

    cfg = video_config(profile)
    problem = gl_problem()
    if problem:
        return note(problem)
    dts = [c for c in study.run_configs()
           if (c.method, c.reward_mode, c.context_len, c.seed) == ("dt", "dense", 0, study.seeds[0])]
    parts = []
    for env in study.envs:
        mine = [c for c in dts if c.env == env]
        path = find_run(runs_root, mine[-1].name) if mine else None  # the last dataset of the grid
        if path is None:
            parts.append(note(f"no finished DT run for {env} under {runs_root}"))
            continue
        rc, spec = mine[-1], get_env_spec(env)
        targets, labels = low_best_paper_targets(spec, data[(env, rc.dataset)])
        parts.append(gym_clips(load_run_model(path), spec, targets, labels, cfg,
                               title=f"{env} {rc.dataset}, DT seed {rc.seed}"))
    replay = [c for c in dts if c.dataset == "medium-replay"] or dts[:1]
    path = find_run(runs_root, replay[0].name) if replay else None
    if path is not None:
        rc, spec = replay[0], get_env_spec(replay[0].env)
        targets = gym_study.figure4_targets(data[(rc.env, rc.dataset)], cfg.slider_targets)
        env_sweep = sweep[sweep["env"] == rc.env] if sweep is not None and len(sweep) else None
        parts.append(gym_slider(load_run_model(path), spec, targets, cfg, env_sweep,
                                f"{rc.env} {rc.dataset}, DT seed {rc.seed}: move the slider to change the target"))
    check_budget(parts)
    return "".join(parts)


def keydoor_report(runs: Any, runs_root: str | Path, episodes: int = 20) -> str:
    """The Key-to-Door report's clips: the DT of the largest dataset, first seed (rows of `run_sweep`'s runs table)."""
    from dtlib import io
    from dtlib.specs import get_env_spec

    dts = runs[runs["method"] == "dt"]
    if not len(dts):
        return note("no DT run in this profile's Key-to-Door sweep")
    order = dts.assign(n=dts["dataset"].map(lambda d: float(str(d).lower().replace("k", "e3")))).sort_values(
        ["n", "seed"], ascending=[False, True])
    row = order.iloc[0]
    path = Path(runs_root) / row["run"]
    params = io.read_json(path / "config.json").get("dataset_meta", {}).get("env_params", {})
    html_, found = keydoor_clips(load_run_model(path), get_env_spec("keydoor"), params, episodes=episodes)
    head = (f"<p>DT trained on {html.escape(str(row['dataset']))} random trajectories (seed {int(row['seed'])}), "
            f"conditioned on a return of 1: {found['successes']} successes in {found['episodes']} seeded episodes.</p>")
    check_budget([html_])
    return head + html_


def atari_targets(spec: Any, data: Any) -> tuple[list[float], list[str]]:
    """Atari clip targets: a low one inside the data (its median episode return), the data's best, the paper's;
    a target equal to an earlier one joins its label instead of playing the same episode twice."""
    ret = np.asarray(data.episode_returns, dtype=float)
    paper = spec.targets[0] if getattr(spec, "paper_target", None) is None else spec.paper_target
    out: dict[float, list[str]] = {}
    for t, label in ((float(np.round(np.median(ret))), "data's median"), (float(ret.max()), "data's best"),
                     (float(paper), "paper")):
        out.setdefault(t, []).append(label)
    return list(out), [" = ".join(v) for v in out.values()]


def atari_report(study: Any, runs_root: str | Path, data: dict, profile: str = "small") -> str:
    """The Atari report's clips: per game the first seed's default-K DT at three targets, played as it is scored
    (the study's evaluation: sampled actions, its episode cap)."""
    from dtlib.specs import get_env_spec

    cfg = video_config(profile)
    parts = []
    for game in study.games:
        mine = [c for c in study.run_configs() if (c.env, c.method, c.context_len, c.seed)
                == (game, "dt", study.k(game), study.seeds[0])]
        path = find_run(runs_root, mine[0].name) if mine else None
        if path is None:
            parts.append(note(f"no finished DT run for {game} under {runs_root}"))
            continue
        rc, spec = mine[0], get_env_spec(game)
        targets, labels = atari_targets(spec, data[game])
        ev = study.eval_config(rc)
        parts.append(atari_clip(load_run_model(path), spec, targets, labels, cfg,
                                title=f"{game} {rc.dataset}, DT K={rc.context_len} seed {rc.seed}",
                                max_steps=ev.max_steps, sample_actions=ev.sample_actions))
    check_budget(parts)
    return "".join(parts)


def graph_report(study: Any, data: Any, runs_root: str | Path, episodes: int = 20) -> str:
    """The graph report's clip: the first seed's DT path beside a shortest path from the same start."""
    from dtlib import graph_study
    from dtlib.specs import get_env_spec

    rc = study.run_config(study.seeds[0])
    path = find_run(runs_root, rc.name)
    if path is None:
        return note(f"no finished graph DT run {rc.name} under {runs_root}")
    fragment = graph_clip(load_run_model(path), get_env_spec("graph"), data, graph_study.return_prior(data),
                          episodes=episodes)
    check_budget([fragment])
    return fragment
