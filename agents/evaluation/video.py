"""Videos of a rollout: a tracking camera, an optional footfall strip under the picture, MP4 and GIF files."""

from __future__ import annotations

import contextlib
import math
from pathlib import Path

import imageio.v2 as imageio
import mujoco
import numpy as np
from tqdm.auto import tqdm

from agents.runs import atomic_path

#: Rendered frame size; both multiples of 16, as H.264 encoders want.
FRAME_WIDTH, FRAME_HEIGHT = 640, 480
#: Pixel rows per foot in the footfall strip.
STRIP_ROW = 8
#: Frame rate of GIFs, which are for the README and get every n-th frame.
GIF_FPS = 25
#: Frame rate a video aims for: screens show 30-60 frames a second, and every frame rendered costs more than the
#: physics step it shows (software rendering, about 13 ms a Walker2d frame), so 125 Hz bodies are filmed at 41.7 fps.
VIDEO_FPS = 40.0
#: Containers the H.264 videos can be written in (imageio-ffmpeg picks the container by the extension).
VIDEO_SUFFIXES = (".mp4", ".mkv", ".mov")

_CONTACT = np.array([40, 40, 40], dtype=np.uint8)
_AIR = np.array([235, 235, 235], dtype=np.uint8)
_FLIGHT = np.array([220, 80, 60], dtype=np.uint8)


def use_tracking_camera(env, elevation: float = -15.0, shadows: bool = False) -> None:
    """Make rgb renders of a neuromotor env follow its torso, from a distance scaled to the body, without shadows
    and reflections unless ``shadows``: software rendering (EGL on a CPU) spends most of a frame on them (Walker2d
    at 640x480: 52 ms a frame with them, 13 ms without).

    Other envs keep their own camera.
    """
    base = env.unwrapped
    body = getattr(base, "body", None)
    if body is None:
        return
    distance = max(3.0, 6.0 * body.standing_com_height)
    renderer = base.base.mujoco_renderer
    # camera_id -1 would reset the camera to a free one at every frame; None leaves our tracking camera alone.
    renderer.camera_id = None
    renderer.default_cam_config = {
        "type": int(mujoco.mjtCamera.mjCAMERA_TRACKING),
        "trackbodyid": int(body.torso_id),
        "distance": distance,
        "elevation": elevation,
        "lookat": np.array([0.0, 0.0, body.standing_com_height]),
    }
    if not shadows and base.render_mode in ("rgb_array", "depth_array", "rgbd_tuple"):
        # The viewer is made now, with the camera above; gymnasium's renderer offers no public hook for its scene.
        scene = renderer._get_viewer(base.render_mode).scn
        scene.flags[mujoco.mjtRndFlag.mjRND_SHADOW] = 0
        scene.flags[mujoco.mjtRndFlag.mjRND_REFLECTION] = 0


def frame_stride(rate: float, fps: float = VIDEO_FPS) -> int:
    """Film every this many steps of an env stepping ``rate`` times a simulated second, for about ``fps`` frames a
    second (``round(rate / fps)``, at least 1: a slower env is filmed every step)."""
    if not fps > 0 or not math.isfinite(rate / fps):
        raise ValueError(f"a video's frame rate must be above 0 and not vanishingly small, got {fps!r}")
    return max(1, round(rate / fps))


def footfall_strip(history: np.ndarray, width: int) -> np.ndarray:
    """An image strip of the last ``width`` steps of ``history`` (``(T, n_feet)`` contacts): one row per foot,
    dark while on the floor, red while every foot is off (flight), the newest step at the right edge."""
    n_feet = history.shape[1]
    height = -(-(n_feet * STRIP_ROW) // 16) * 16
    strip = np.full((height, width, 3), 255, dtype=np.uint8)
    window = history[-width:]
    offset = width - len(window)
    airborne = ~window.any(axis=1)
    for foot in range(n_feet):
        colors = np.where(window[:, foot, None], _CONTACT, np.where(airborne[:, None], _FLIGHT, _AIR))
        strip[foot * STRIP_ROW + 1 : (foot + 1) * STRIP_ROW - 1, offset:] = colors[None, :, :]
    return strip


def compose(frames: list[np.ndarray], contacts: np.ndarray | None, every: int = 1) -> list[np.ndarray]:
    """Frames with the footfall strip under each; frame ``i``, filmed after ``t = i * every`` steps, shows the
    contacts of steps ``< t``."""
    if contacts is None or contacts.size == 0:
        return frames
    return [np.vstack([frame, footfall_strip(contacts[: i * every], frame.shape[1])]) for i, frame in enumerate(frames)]


class VideoStream:
    """An MP4 written frame by frame as an episode renders (a :data:`~agents.evaluation.rollout.FrameSink`), with
    the footfall strip under each frame unless ``timeline`` is off, and optionally a small GIF beside it.

    Holds at most the GIF's downscaled frames, never the episode's full frames. Used as a context manager; the MP4
    (and GIF) appear under their names only once complete, and nothing (not even a folder) before the first frame,
    so a rollout refused before it starts leaves no trace. ``expected`` frames, if given, size a progress bar.
    """

    def __init__(
        self, path: Path, fps: float, *, timeline: bool = True, gif: bool = False, expected: int | None = None
    ) -> None:
        self.path, self.fps, self.timeline, self.gif = Path(path), fps, timeline, gif
        self.frames = 0
        self.small: list[np.ndarray] = []
        self.stride = max(1, round(fps / GIF_FPS))
        self.expected = expected
        self._files = contextlib.ExitStack()
        self._writer = None

    def __enter__(self) -> VideoStream:
        return self

    def _open(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        partial = self._files.enter_context(atomic_path(self.path))
        self._writer = self._files.enter_context(
            imageio.get_writer(partial, fps=self.fps, codec="libx264", macro_block_size=16, quality=7)
        )
        self._bar = self._files.enter_context(tqdm(total=self.expected, desc="rendering", unit="frame", leave=False))

    def __call__(self, frame: np.ndarray, contacts: np.ndarray) -> None:
        if self._writer is None:
            self._open()
        if self.timeline and contacts.shape[1]:
            frame = np.vstack([frame, footfall_strip(contacts, frame.shape[1])])
        self._writer.append_data(frame)
        if self.gif and self.frames % self.stride == 0:
            self.small.append(frame[::2, ::2].copy())
        self.frames += 1
        self._bar.update()

    def __exit__(self, *exc: object) -> None:
        # The bar and the writer close, then the MP4 is renamed into place (or removed, after an error).
        self._files.__exit__(*exc)
        if self.gif and self.frames and exc[0] is None:
            with atomic_path(self.path.with_suffix(".gif")) as partial:
                durations = gif_durations(len(self.small), 1000.0 * self.stride / self.fps)
                imageio.mimsave(partial, self.small, duration=durations, loop=0)


def write_mp4(path: Path, frames: list[np.ndarray], fps: float) -> Path:
    """H.264 MP4 through imageio-ffmpeg, written atomically."""
    # The writer closes (flushing the file) before atomic_path renames it into place.
    with (
        atomic_path(path) as partial,
        imageio.get_writer(partial, fps=fps, codec="libx264", macro_block_size=16, quality=7) as writer,
    ):
        for frame in frames:
            writer.append_data(frame)
    return Path(path)


def write_gif(path: Path, frames: list[np.ndarray], fps: float, scale: int = 2) -> Path:
    """A GIF at about :data:`GIF_FPS`, every ``scale``-th pixel, small enough for a README."""
    stride = max(1, round(fps / GIF_FPS))
    small = [frame[::scale, ::scale] for frame in frames[::stride]]
    with atomic_path(path) as partial:
        imageio.mimsave(partial, small, duration=gif_durations(len(small), 1000.0 * stride / fps), loop=0)
    return Path(path)


def gif_durations(frames: int, ms: float) -> list[float]:
    """Display times (ms) of ``frames`` GIF frames meant to last ``ms`` each: GIFs count in hundredths of a
    second, so each is a multiple of 10 ms, chosen so that frame ``k`` ends at ``k * ms`` rounded (48 ms frames:
    50, 50, 40, 50, 50, 50, 40, ...) and the GIF keeps real time."""
    ends = np.round(np.arange(1, frames + 1) * ms / 10.0) * 10.0
    return np.diff(ends, prepend=0.0).tolist()
