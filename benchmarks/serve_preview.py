"""How quickly ``POST /api/v1/preview`` answers: the page's preview after each hint change.

    python -m benchmarks.serve_preview [--pictures 6] [--moves 5] [--photos DIR]

A real ``vidcolor serve`` (the shipped model, its own process, on loopback). For each of
``--pictures`` grey photos (CBSD68 and Imagenette from the project's data, else the bundled
example): one preview with a hint (the first of that picture: the network runs, and a new
picture shape may compile a function), then ``--moves`` previews with the hint moved (the
network's colours kept: only the spread and the finishing). The very first request of the
server is reported apart (the model's first call). Besides each request's wall time, the
server process's CPU time during it (user + system, from /proc): on a machine shared with
other work the wall time grows with the load, the CPU time much less (the spread's sparse
solve runs on one core). Prints a summary, then one JSON line.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import statistics
import tempfile
import time
from pathlib import Path

from benchmarks.quality import data_root
from benchmarks.serve import start_server

_EXAMPLE = Path(__file__).resolve().parents[1] / "vidcolor" / "examples" / "chelsea_grey.jpg"


def pictures(folder: Path | None, count: int) -> list[Path]:
    """Grey-able photos: CBSD68 and Imagenette alternately, else the example."""
    roots = [folder] if folder else [data_root() / "val" / "cbsd68",
                                     data_root() / "train" / "imagenette"]
    lists = [sorted(p for p in r.glob("*") if p.suffix.lower() in (".png", ".jpg", ".jpeg"))
             for r in roots if r.is_dir()]
    found = [p for group in zip(*lists) for p in group] if len(lists) > 1 else \
        (lists[0] if lists else [])
    return found[:count] or [_EXAMPLE]


def grey_png(path: Path) -> tuple[bytes, tuple[int, int]]:
    from PIL import Image

    with Image.open(path) as im:
        grey = im.convert("L").convert("RGB")
    buf = io.BytesIO()
    grey.save(buf, "PNG")
    return buf.getvalue(), grey.size


def cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of a process so far."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def preview(client, url: str, pid: int, picture: bytes, x: int, y: int) -> tuple[float, float]:
    """One preview with a hint at (x, y): (wall seconds, the server's CPU seconds)."""
    hints = json.dumps({"points": [{"x": x, "y": y, "radius": 3, "color": "#c03020"}]})
    cpu, t0 = cpu_seconds(pid), time.perf_counter()
    r = client.post(url + "/api/v1/preview", data={"hints": hints},
                    files={"file": ("p.png", picture, "image/png")})
    seconds = time.perf_counter() - t0
    if r.status_code != 200:
        raise SystemExit(f"preview failed: {r.status_code} {r.text}")
    return seconds, cpu_seconds(pid) - cpu


def measure(url: str, pid: int, photos: list[Path], moves: int) -> dict:
    import httpx

    first, moved, sizes = [], [], []
    with httpx.Client(timeout=120) as client:
        warm = grey_png(_EXAMPLE)[0]
        server_first = preview(client, url, pid, warm, 10, 10)
        for path in photos:
            picture, (w, h) = grey_png(path)
            sizes.append(f"{w}x{h}")
            first.append(preview(client, url, pid, picture, w // 3, h // 3))
            for i in range(moves):
                moved.append(preview(client, url, pid, picture, w // 3 + 5 * (i + 1), h // 2))
    walls, cpus = [m[0] for m in moved], [m[1] for m in moved]
    return {"server_first_s": round(server_first[0], 2), "sizes": sizes,
            "picture_first_s": [round(s, 2) for s, _ in first],
            "picture_first_cpu_s": [round(c, 2) for _, c in first],
            "moved_median_s": round(statistics.median(walls), 3),
            "moved_max_s": round(max(walls), 3),
            "moved_cpu_median_s": round(statistics.median(cpus), 3),
            "moved_cpu_max_s": round(max(cpus), 3), "moves": len(moved),
            "load_average": os.getloadavg()[0]}


def main(argv=None) -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--pictures", type=int, default=6)
    p.add_argument("--moves", type=int, default=5)
    p.add_argument("--photos", type=Path)
    args = p.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="vidcolor-preview-bench-") as tmp:
        proc, url = start_server(Path(tmp), 1, "200MB")
        try:
            result = measure(url, proc.pid, pictures(args.photos, args.pictures), args.moves)
        finally:
            proc.terminate()
            proc.wait(30)
    print(f"server's first preview: {result['server_first_s']} s")
    print(f"each picture's first preview: {result['picture_first_s']} s ({result['sizes']})")
    print(f"  its server CPU time: {result['picture_first_cpu_s']} s")
    print(f"hint moved: median {result['moved_median_s']} s, max {result['moved_max_s']} s "
          f"over {result['moves']} previews; server CPU median {result['moved_cpu_median_s']} s,"
          f" max {result['moved_cpu_max_s']} s (load average {result['load_average']:.1f})")
    print(json.dumps(result))


if __name__ == "__main__":
    main()
