"""Training data: folder streaming, crops, flips, scale, and film-like degradation of the grey input.

Batches are a pure function of (seed, step), so a resumed run sees exactly the batches an
uninterrupted one would have seen.
"""

from __future__ import annotations

import queue
import threading
import zlib
from collections import Counter
from pathlib import Path

import cv2
import numpy as np

from vidcolor import color, hints as hints_module
from vidcolor.picture_files import find_pictures

# Simulated hints in training (Zhang et al. 2017): per image no hint with this probability,
# else a geometric number (mean 1/_FEW_P) of points, or with _MANY_SHARE of the images a
# log-uniform number in _MANY; so many images have none, most a few, some hundreds.
_NO_HINTS, _FEW_P, _MANY_SHARE, _MANY = 0.3, 1 / 8, 0.15, (30, 500)


def find_images(paths) -> list[Path]:
    """Image files named in ``paths``, or found in its folders, sorted and each once.

    Folders are searched as ``vidcolor image`` searches them
    (:func:`vidcolor.picture_files.find_pictures`: by name, recursively, hidden files and folders
    skipped); a file named outright is taken whatever its name.

    Raises
    ------
    FileNotFoundError
        A path that is neither a file nor a folder.
    """
    found = []
    for p in map(Path, paths):
        if p.is_dir():
            found += find_pictures(p)
        elif p.is_file():
            found.append(p)
        else:
            raise FileNotFoundError(f"{p}: no such file or folder")
    return sorted(set(found))


def folder_weights(files, power: float) -> np.ndarray:
    """Sampling probabilities that give each folder a share of the batches ∝ (its images)**power.

    ``power`` = 1 samples every image equally often (big folders dominate), 0 every folder
    equally often; in between, e.g. 0.5, lets small folders (a rare kind of picture) be seen
    more often without repeating them as often as folders of their own would.

    Returns
    -------
    ndarray of float64, shape (len(files),), summing to 1
    """
    folders = [Path(f).parent for f in files]
    counts = Counter(folders)
    w = np.array([counts[folder] ** (power - 1.0) for folder in folders])
    return w / w.sum()


def is_holdout(path: Path, every: int) -> bool:
    """A stable ~1/every subset of files, kept out of training for calibration."""
    return every > 0 and zlib.crc32(path.name.encode()) % every == 0


def read_rgb(path: Path) -> np.ndarray | None:
    """uint8 RGB (H, W, 3), or None when the file is unreadable."""
    bgr = cv2.imread(str(path), cv2.IMREAD_COLOR)
    return None if bgr is None else cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)


def random_crop(rgb: np.ndarray, size: int, rng: np.random.Generator, max_zoom: float = 1.6) -> np.ndarray:
    """Rescale so the short side is in [size, size * max_zoom], crop size x size, maybe flip."""
    h, w = rgb.shape[:2]
    scale = size * rng.uniform(1.0, max_zoom) / min(h, w)
    nh, nw = max(size, round(h * scale)), max(size, round(w * scale))
    interp = cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR
    rgb = cv2.resize(rgb, (nw, nh), interpolation=interp)
    y = rng.integers(0, nh - size + 1)
    x = rng.integers(0, nw - size + 1)
    rgb = rgb[y:y + size, x:x + size]
    if rng.random() < 0.5:
        rgb = rgb[:, ::-1]
    return np.ascontiguousarray(rgb)


def degrade_l(L: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Make clean lightness look like an old print or film frame.

    Random tone curve (gamma, contrast, faded blacks), blur, grain, vignetting and JPEG
    artefacts, each applied with some probability.

    Parameters
    ----------
    L : ndarray of float32, shape (H, W), in [0, 100]

    Returns
    -------
    ndarray of float32, shape (H, W), in [0, 100]
    """
    x = L / 100.0
    if rng.random() < 0.6:
        x = x ** rng.uniform(0.7, 1.4)
        lo, hi = rng.uniform(0.0, 0.12), rng.uniform(0.85, 1.0)
        x = lo + (hi - lo) * x
    if rng.random() < 0.3:
        x = cv2.GaussianBlur(x, (0, 0), rng.uniform(0.4, 1.3))
    if rng.random() < 0.4:
        h, w = x.shape
        yy, xx = np.mgrid[-1:1:complex(h), -1:1:complex(w)]
        x = x * (1.0 - rng.uniform(0.05, 0.3) * (xx * xx + yy * yy) / 2.0).astype(np.float32)
    if rng.random() < 0.5:
        grain = rng.normal(0.0, rng.uniform(0.005, 0.04), x.shape).astype(np.float32)
        x = x + cv2.GaussianBlur(grain, (0, 0), 0.7)
    x = np.clip(x, 0.0, 1.0)
    if rng.random() < 0.3:
        u8 = (x * 255).astype(np.uint8)
        ok, buf = cv2.imencode(".jpg", u8, [cv2.IMWRITE_JPEG_QUALITY, int(rng.integers(25, 85))])
        x = cv2.imdecode(buf, cv2.IMREAD_GRAYSCALE).astype(np.float32) / 255.0
    return (x * 100.0).astype(np.float32)


def hint_count(rng: np.random.Generator) -> int:
    """How many points the simulated user gives one training image (see ``_NO_HINTS``)."""
    u = rng.random()
    if u < _NO_HINTS:
        return 0
    if u < _NO_HINTS + _MANY_SHARE:
        return int(np.exp(rng.uniform(*np.log(_MANY))))
    return int(rng.geometric(_FEW_P))


def hint_planes(ab: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """The network's hint input for a training image: simulated points, squares of 1x1 to 9x9
    given their mean true colour (:func:`vidcolor.hints.sample_hints`).

    Parameters
    ----------
    ab : ndarray of float32, shape (H, W, 2), Lab units

    Returns
    -------
    ndarray of float32, shape (H, W, 3): a/b / 128 where hinted (else 0), and the mask
    """
    ab_hint, mask = hints_module.raster(hints_module.sample_hints(ab, hint_count(rng), rng))
    return np.concatenate([ab_hint / np.float32(128.0), mask], -1)


class BatchStream:
    """Batches of (L, ab) from image files, made in a background thread.

    Parameters
    ----------
    files : list of Path
    batch_size : int
    size : int
        Crop side in pixels; 0 means whole images (batch size 1, no augmentation), padded to
        a multiple of 32.
    seed : int
    start_step : int
        The first step to produce (for resuming).
    degrade : bool
        Apply :func:`degrade_l` to the input lightness (the target chroma stays clean).
    target_stride : int
        The target a/b is area-downsampled by this factor (the network's output stride).
    weights : ndarray, optional
        Sampling probabilities of the files (see :func:`folder_weights`), drawn with
        replacement; None goes through the files once per epoch in a shuffled order.
    hints : bool
        Also give each image simulated hints (:func:`hint_planes`).

    Yields
    ------
    inputs : L, float32 (N, s, s, 1) in [0, 100]; with hints ``[L, hints (N, s, s, 3)]``
    ab : float32 (N, s/stride, s/stride, 2) / 128
    """

    def __init__(self, files, batch_size, size, seed=0, start_step=0, degrade=True, target_stride=1,
                 prefetch=4, weights=None, hints=False):
        self.files = list(files)
        self.hints = hints
        self.weights = weights
        self.batch_size = 1 if size == 0 else batch_size
        self.size, self.seed, self.degrade, self.stride = size, seed, degrade, target_stride
        self.step = start_step
        self.unreadable: set[Path] = set()
        self.too_small: set[Path] = set()
        self._queue: queue.Queue = queue.Queue(maxsize=prefetch)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._fill, daemon=True)
        self._thread.start()

    def _indices(self, step: int) -> list[int]:
        if self.weights is not None:
            rng = np.random.default_rng([self.seed, step, len(self.files)])
            return [int(i) for i in rng.choice(len(self.files), self.batch_size, p=self.weights)]
        per_epoch = len(self.files)
        first = step * self.batch_size
        out = []
        for k in range(first, first + self.batch_size):
            epoch, pos = divmod(k, per_epoch)
            order = np.random.default_rng([self.seed, epoch]).permutation(per_epoch)
            out.append(int(order[pos]))
        return out

    def _sample(self, index: int, rng: np.random.Generator, tries: int = 0):
        path = self.files[index]
        rgb = read_rgb(path)
        if rgb is None:
            self.unreadable.add(path)
        elif min(rgb.shape[:2]) < max(32, self.size // 2):
            self.too_small.add(path)
            rgb = None
        if rgb is None:
            if tries > 20:
                raise RuntimeError("no readable images of usable size")
            return self._sample(int(rng.integers(len(self.files))), rng, tries + 1)
        if self.size:
            rgb = random_crop(rgb, self.size, rng)
        else:
            h, w = rgb.shape[:2]
            rgb = np.pad(rgb, ((0, (-h) % 32), (0, (-w) % 32), (0, 0)), mode="reflect")
        L, ab = color.rgb_to_lab(rgb)
        if self.degrade:
            L = degrade_l(L, rng)
        planes = [hint_planes(ab, rng)] if self.hints else []
        if self.stride > 1:
            h, w = ab.shape[:2]
            ab = cv2.resize(ab, (w // self.stride, h // self.stride), interpolation=cv2.INTER_AREA)
        return L[..., None], ab / np.float32(128.0), *planes

    def make_batch(self, step: int):
        samples = []
        for i, index in enumerate(self._indices(step)):
            rng = np.random.default_rng([self.seed, step, i])
            samples.append(self._sample(index, rng))
        L, ab = np.stack([s[0] for s in samples]), np.stack([s[1] for s in samples])
        return ([L, np.stack([s[2] for s in samples])] if self.hints else L), ab

    def _fill(self):
        step = self.step
        while not self._stop.is_set():
            try:
                item = self.make_batch(step)
            except Exception as e:  # surfaced in the consumer's thread
                item = e
            while not self._stop.is_set():
                try:
                    self._queue.put(item, timeout=0.2)
                    break
                except queue.Full:
                    continue
            step += 1

    def __iter__(self):
        return self

    def __next__(self):
        item = self._queue.get()
        if isinstance(item, Exception):
            raise item
        self.step += 1
        return item

    def close(self):
        self._stop.set()
        self._thread.join(timeout=10)
