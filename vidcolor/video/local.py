"""A film's frames coloured in this process: the executor of a one-process film job, and the
run of the stages over a span of frames that a cluster's chunk shares with it.

:func:`colorize_span` is the one place a run of the stages is set up (the colour copy's
step, the keyframes' guide with its backward pass, the state a resumed job continues from, then
:func:`vidcolor.video.stages.run_stages`), so that the whole film in one process and a chunk
of it on a worker colour their frames alike.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

from vidcolor.log import logger
from vidcolor.models.protocol import ColorModel
from vidcolor.models.runtimes import resolve_model
from vidcolor.options import VideoOptions
from vidcolor.progress import Progress
from vidcolor.video.colour_copy import ColourCopyStep
from vidcolor.video.encode import EncoderSettings
from vidcolor.video.frames import FrameColorizer, batch_size_for
from vidcolor.video.interlaced import film_run
from vidcolor.video.job import CheckedFilm, FilmPlan, FilmRun
from vidcolor.video.keyframes import KeyframeGuide, PlacedKeyframe, backward_pass
from vidcolor.video.probe import VideoInfo
from vidcolor.video.sequence_sink import SequenceSettings, SequenceSink
from vidcolor.video.references import reference_guide
from vidcolor.video.sink import SegmentSink
from vidcolor.video.source import FrameSource, FrameSpan, open_source
from vidcolor.video.stages import run_stages
from vidcolor.video.workdir import WorkFolder

__all__ = ["LocalExecutor", "colorize_span", "colour_copy_step", "keyframe_guide"]


class LocalExecutor:
    """Colours films in this process, three threads (:mod:`vidcolor.video.stages`).

    Parameters
    ----------
    model : ColorModel or callable, optional
        A model, or a function returning one, called only once the film has been checked
        (:func:`vidcolor.models.runtimes.resolve_model`); default: the shipped model.
    """

    def __init__(self, model: ColorModel | None = None):
        self.model = model

    def plan(self, film: CheckedFilm, options: VideoOptions) -> FilmPlan:
        """The frame colorizer and batch size; the options resolved with the model's render
        size (their bounds checked with it)."""
        self.model = model = resolve_model(self.model)
        core = FrameColorizer.from_options(model, options)
        options = dataclasses.replace(options, render_size=core.render_size)
        info = film.info
        batch_size = batch_size_for(options.batch_size, core.render_size, info.height,
                                    info.width)
        return FilmPlan(options, model.name, model.identity, detail=(core, batch_size))

    def run(self, film: CheckedFilm, plan: FilmPlan, work: WorkFolder,
            progress: Progress | None) -> FilmRun:
        core, batch_size = plan.detail
        lost = colorize_span(film.info, core, plan.options, film.settings, work, film.placed,
                             batch_size, progress)
        return FilmRun(cuts=core.cuts, lost_frames=len(lost))


def colorize_span(info: VideoInfo, core: FrameColorizer, options: VideoOptions,
                  settings: EncoderSettings | SequenceSettings, work: WorkFolder,
                  placed: list[PlacedKeyframe],
                  batch_size: int, progress: Progress | None = None,
                  span: FrameSpan | None = None, open_input=None) -> list[float]:
    """Colour frames into ``work``'s segments: the rest of the film (continuing ``work``'s
    state), or a chunk's ``span``; guided by the keyframes and the reference photos
    (``options.references``).

    Parameters
    ----------
    info : VideoInfo
    core : FrameColorizer
    options : VideoOptions
        As resolved for the model.
    settings : EncoderSettings or SequenceSettings
        A video's encoder, or the image files the frames are written as.
    work : WorkFolder
        Opened; receives each finished segment (its folder also holds the keyframes' files).
    placed : list of PlacedKeyframe
        The keyframes the run reaches, in time order.
    batch_size : int
    progress : Progress, optional
        Told ``(frames done, expected total or None)`` as frames are encoded.
    span : FrameSpan, optional
        A chunk's frames; default: the rest of the film.
    open_input : callable, optional
        Returns a new binary file object over the input's bytes, read instead of
        ``info.path`` (a cluster worker's input is in memory).

    Returns
    -------
    list of float
        Seconds (from the stream's start) of the frames the decoder refused.
    """
    from_pts = work.next_pts if span is None else span.from_pts
    run = film_run(info, options)
    source = run.source(open_source(info, options.window, span, open_input, from_pts))
    core.display_shape, core.pairing = run.display_shape, run.pairing
    if options.colour_from is not None:
        core.copy = colour_copy_step(options, run.info, core)
    try:
        if placed:
            placed = [dataclasses.replace(p, pts=run.pts(p.pts)) for p in placed]
            core.guide = keyframe_guide(source, placed, core, work.path / "keyframes",
                                        run.pts(from_pts))
        if options.references:
            core.references = reference_guide(run.info, options.references, core.model,
                                              core.render_size)
    except BaseException:
        if not work.segments:  # nothing worth resuming
            work.remove()
        raise
    if core.has_state and span is None:
        core.set_state(work.state)
    kind = SequenceSink if isinstance(settings, SequenceSettings) else SegmentSink
    sink = kind(work, run.info, settings, options.segment_frames, progress,
                run.pictures(info.estimate_frames(options.window)) or None)
    try:
        lost = run_stages(source, core, run.sink(sink), batch_size)
        if core.copy is not None:
            logger.log(*core.copy.report())
        return lost
    finally:
        if core.copy is not None:
            core.copy.close()


def colour_copy_step(options: VideoOptions, info: VideoInfo,
                     core: FrameColorizer) -> ColourCopyStep:
    """The colour copy's step of a run of the stages (it opens the copy itself, so a chunk
    of a distributed job does as the whole film does)."""
    from vidcolor.propagate import FILM_SPREAD

    shape = core.render_shape(info.height, info.width)
    return ColourCopyStep(options.colour_from, info, shape, FILM_SPREAD.for_film())


def keyframe_guide(source: FrameSource, placed: list[PlacedKeyframe], core: FrameColorizer,
                   folder: Path, from_pts: int | None = None) -> KeyframeGuide:
    """The keyframes' guide of a run of the stages, its backward pass done first.

    Parameters
    ----------
    source : FrameSource
        The frames the run colours (the backward pass reads them ahead, up to the last
        keyframe).
    placed : list of PlacedKeyframe
        Those the run reaches (a chunk's own), in time order.
    core : FrameColorizer
        Gives the render shape and the lightness the streaming pass will see.
    folder : Path
        For the backward pass's files (inside the job's work folder or the chunk's own).
    from_pts : int, optional
        Where the source starts: the guide forgets the keyframes before it.

    Returns
    -------
    KeyframeGuide
    """
    from vidcolor.propagate import FILM_SPREAD

    shape = core.render_shape(source.info.height, source.info.width)
    guide = KeyframeGuide(placed, None, shape, FILM_SPREAD.for_film(), from_pts=from_pts,
                          features=getattr(core.model, "match_features", None))
    guide.backward = backward_pass(source, guide.pending,
                                   lambda rgb: core.prepare(rgb).L_small, shape, folder)
    return guide
