"""The final remux: the colorized segments and every other stream of the input, in one file.

The video stream is the only one vidcolor changes. At the end of a job :func:`remux` writes the
real output in one pass: the video packets of all segment files
(:class:`~vidcolor.video.encode.SegmentWriter`) in order, interleaved with every other stream
of the input copied packet for packet (audio, subtitles, attachments; chapters and metadata
too), re-encoding only the audio a container cannot hold. Memory stays bounded because packets
only ever pass through.

Each input stream gets a *route* (:class:`StreamRoute`): a copy (:class:`CopyRoute`), an audio
re-encode (:class:`AudioReencodeRoute`), or none (dropped, with the reason in the
:class:`RemuxReport`). A trimmed job (a :class:`~vidcolor.options.Window` other than the whole
film) keeps only the packets and chapters inside the window, and moves every timestamp back
so the output starts where the input does.
"""

from __future__ import annotations

import heapq
import os
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path
from typing import Iterable, Iterator

import av
import av.error

from vidcolor.errors import VidcolorError
from vidcolor.log import logger
from vidcolor.options import Window
from vidcolor.video.encode import colour_muxer_options
from vidcolor.video.probe import VideoInfo, ffmpeg_message, open_input

__all__ = ["RemuxReport", "remux"]

#: Audio encoder used when the output container cannot take the input's audio codec.
_FALLBACK_AUDIO = {"mp4": "aac", "mov": "aac", "matroska": "aac", "webm": "libopus",
                   "avi": "libmp3lame"}
#: Matroska statistics tags describe the old stream; the muxer writes fresh ones.
_STALE_TAG_PREFIXES = ("_STATISTICS", "BPS", "DURATION", "NUMBER_OF_FRAMES", "NUMBER_OF_BYTES")


@dataclass
class RemuxReport:
    """What :func:`remux` did with each input stream."""

    video_packets: int = 0
    copied: dict[int, int] = field(default_factory=dict)  # input index -> packets copied
    reencoded: dict[int, str] = field(default_factory=dict)  # input index -> new codec
    dropped: dict[int, str] = field(default_factory=dict)  # input index -> reason
    bad_packets: dict[int, int] = field(default_factory=dict)  # input index -> dropped packets
    attachments: int = 0


def _clean_metadata(meta: dict[str, str]) -> dict[str, str]:
    return {k: v for k, v in meta.items() if not k.upper().startswith(_STALE_TAG_PREFIXES)}


# --- stream routes ---------------------------------------------------------------------------

class StreamRoute:
    """Where the packets of one input stream (not the colorized video) go in the output.

    Parameters
    ----------
    in_stream : av.stream.Stream
        The input stream.
    report : RemuxReport
        Undecodable packets left out are counted in its ``bad_packets``.
    """

    def __init__(self, in_stream, report: RemuxReport):
        self.in_stream = in_stream
        self.report = report

    def packets(self, packet: av.Packet) -> Iterable[av.Packet]:
        """The packets to mux for one input packet of the stream (none for one left out)."""
        raise NotImplementedError

    def flush(self) -> Iterable[av.Packet]:
        """The packets still to mux once the input has ended."""
        return ()

    def _count_bad(self) -> None:
        idx = self.in_stream.index
        self.report.bad_packets[idx] = self.report.bad_packets.get(idx, 0) + 1


class CopyRoute(StreamRoute):
    """Copies the stream's packets to ``out_stream`` as they are (counted in ``copied``).

    Parameters
    ----------
    in_stream, report
        As for :class:`StreamRoute`.
    out_stream : av.stream.Stream
        The output stream made from the input stream as a template.
    checker : av.CodecContext, optional
        A decoder (audio) that every packet goes through first; one that does not decode is
        left out rather than copied.
    """

    def __init__(self, in_stream, report: RemuxReport, out_stream, checker=None):
        super().__init__(in_stream, report)
        self.out_stream = out_stream
        self.checker = checker
        report.copied[in_stream.index] = 0

    def packets(self, packet: av.Packet) -> Iterable[av.Packet]:
        if self.checker is not None:
            try:
                self.checker.decode(packet)
            except av.error.FFmpegError:
                self._count_bad()
                return ()
        packet.stream = self.out_stream
        idx = self.in_stream.index
        self.report.copied[idx] = self.report.copied.get(idx, 0) + 1
        return (packet,)


class AudioReencodeRoute(StreamRoute):
    """Decodes one input audio stream and encodes it with a codec the output can hold.

    Parameters
    ----------
    in_stream, report
        As for :class:`StreamRoute`.
    out : av.container.OutputContainer
        Gets the new audio stream (``self.stream``).
    codec : str
        FFmpeg audio encoder.

    Raises
    ------
    ValueError, av.error.FFmpegError
        The encoder cannot be set up for this audio.
    """

    def __init__(self, in_stream, report: RemuxReport, out, codec: str):
        super().__init__(in_stream, report)
        cc = in_stream.codec_context
        rate = 48000 if codec == "libopus" else (cc.sample_rate or 48000)
        self.stream = out.add_stream(codec, rate=rate)
        self.stream.layout = cc.layout.name if cc.layout else "stereo"
        if codec == "libopus" and cc.layout and cc.layout.nb_channels > 2:
            self.stream.layout = "stereo"  # libopus' surround mapping is not universally played
        self.resampler = av.AudioResampler(
            format=self.stream.codec_context.codec.audio_formats[0].name,
            layout=self.stream.layout, rate=rate)

    def packets(self, packet: av.Packet) -> Iterable[av.Packet]:
        try:
            frames = self.in_stream.codec_context.decode(packet)
        except av.error.FFmpegError:
            self._count_bad()
            return ()
        packets = []
        for frame in frames:
            for rs in self.resampler.resample(frame):
                packets += self.stream.encode(rs)
        return packets

    def flush(self) -> Iterable[av.Packet]:
        packets = []
        for rs in self.resampler.resample(None):
            packets += self.stream.encode(rs)
        return packets + list(self.stream.encode(None))


def _route_streams(inp, out, info: VideoInfo, format_name: str, report: RemuxReport,
                   skip: set[str] = frozenset(), new_timecode: bool = False
                   ) -> dict[int, StreamRoute]:
    """Decide per input stream: copy (-> output stream), re-encode (audio), or drop (a
    timecode track too, with ``new_timecode``: the muxer writes the output's own).

    Returns the routes by input stream index; each dropped stream's reason is in
    ``report.dropped``, and a note is logged for it and for each re-encoded stream.
    """
    routes: dict[int, StreamRoute] = {}
    for s in inp.streams:
        if s.index == info.stream_index:
            continue
        if new_timecode and s.type == "data" and \
                any(k.lower() == "timecode" for k in s.metadata):
            report.dropped[s.index] = "timecode track (written anew from the first frame)"
            continue
        route = _route_stream(s, out, format_name, report, skip)
        if route is not None:
            routes[s.index] = route
    for idx, why in report.dropped.items():
        logger.info(f"note: stream {idx} left out: {why}")
    for idx, codec in report.reencoded.items():
        src = inp.streams[idx].codec_context.name
        logger.info(f"note: audio stream {idx} ({src}) re-encoded to {codec}: "
                    f"{format_name} cannot hold {src}")
    return routes


def _route_stream(s, out, format_name: str, report: RemuxReport,
                  skip: set[str]) -> StreamRoute | None:
    """The route of one input stream, or None (the reason put in ``report.dropped``).
    Attachments are copied here, whole, and get no route: they have no packets."""
    if s.type in skip:
        report.dropped[s.index] = f"{s.type} stream refused by the {format_name} muxer"
        return None
    if s.type == "attachment":
        if format_name != "matroska":
            report.dropped[s.index] = "attachments need .mkv"
            return None
        try:
            ost = out.add_stream_from_template(s)
            ost.metadata.update(dict(s.metadata))
            report.attachments += 1
        except (ValueError, av.error.FFmpegError) as e:
            report.dropped[s.index] = f"attachment not copied ({ffmpeg_message(e)})"
        return None
    if s.type == "video":
        if s.disposition & av.stream.Disposition.attached_pic:
            report.dropped[s.index] = "cover art"
        else:
            report.dropped[s.index] = "only the first video stream is colorized"
        return None
    if s.codec_context is None and s.type != "data":
        report.dropped[s.index] = f"{s.type} stream without codec"
        return None
    decodable_audio = s.type == "audio" and s.codec_context is not None \
        and s.codec_context.codec.is_decoder
    if decodable_audio and _REENCODE_AUDIO in skip:
        return _reencode_route(s, out, format_name, report)
    try:
        ost = out.add_stream_from_template(s, opaque=True) if s.codec_context is not None \
            else out.add_stream_from_template(s)
    except (ValueError, av.error.FFmpegError):
        if decodable_audio:
            return _reencode_route(s, out, format_name, report)
        name = s.codec_context.name if s.codec_context is not None else s.type
        report.dropped[s.index] = f"{format_name} cannot hold {s.type} codec {name}"
        return None
    ost.metadata.update(_clean_metadata(dict(s.metadata)))
    try:
        ost.disposition = s.disposition
    except (AttributeError, ValueError):
        pass
    checker = None
    if s.type == "audio" and s.codec_context is not None:
        # A decoder checks audio packets on the way; copies of undecodable ones are dropped.
        try:
            checker = av.CodecContext.create(s.codec_context.name, "r")
            _copy_decoder_params(s, checker)
        except (ValueError, av.error.FFmpegError):
            checker = None  # no decoder in this build: copy unchecked
    return CopyRoute(s, report, ost, checker)


def _reencode_route(s, out, format_name: str, report: RemuxReport) -> StreamRoute | None:
    """An audio stream the output cannot hold as it is: re-encoded with the container's
    fallback codec, or dropped if even that fails."""
    codec = _FALLBACK_AUDIO.get(format_name, "aac")
    try:
        route = AudioReencodeRoute(s, report, out, codec)
    except (ValueError, av.error.FFmpegError) as e:
        report.dropped[s.index] = f"audio could not be re-encoded ({ffmpeg_message(e)})"
        return None
    route.stream.metadata.update(_clean_metadata(dict(s.metadata)))
    route.stream.disposition = s.disposition
    report.reencoded[s.index] = codec
    return route


def _copy_decoder_params(stream, ctx) -> None:
    src = stream.codec_context
    try:
        ctx.extradata = src.extradata
        ctx.sample_rate = src.sample_rate
        ctx.layout = src.layout
    except (AttributeError, ValueError):
        pass


# --- the remux -------------------------------------------------------------------------------

def remux(info: VideoInfo, segments: list[tuple[Path, int]], output: Path, format_name: str,
          window: Window, metadata: dict[str, str] | None = None,
          timecode: str | None = None, colour: dict[str, int] | None = None) -> RemuxReport:
    """Write the final file: segment video plus the input's other streams (an image
    sequence has none: the segments' video alone).

    Notes (streams re-encoded or dropped) and warnings (bad packets, an input that ends
    early) are logged.

    Parameters
    ----------
    info : VideoInfo
    segments : list of (Path, int)
        Video-only files from :class:`~vidcolor.video.encode.SegmentWriter`, in order, each
        with the pts of the first frame written into it.
    output : Path
        Written directly (the caller renames it into place).
    format_name : str
        Output muxer.
    window : Window
        The window that was colorized; other streams' packets outside it are left out.
    metadata : dict, optional
        Merged into the input's container metadata (provenance).
    timecode : str, optional
        The first frame's SMPTE timecode, given to the video stream (MOV/MP4 write it as a
        ``tmcd`` track, Matroska as a tag); the input's timecode tracks are left out.
    colour : dict, optional
        The video stream's colour tags (codec-context attribute -> AVCOL value,
        :func:`vidcolor.video.encode.output_tags`), set on the output stream: a segment
        file does not always keep them.

    Returns
    -------
    RemuxReport
    """
    # A container can still refuse a stream when the header is written (a data track it
    # does not know, say). Rather than fail the whole job, retry with less.
    # Some muxers take a stream when it is added and refuse its codec only then (Opus in
    # .mov): the later tries also re-encode every audio stream with the container's own codec.
    tries = [set(), {"data"}, {"data", _REENCODE_AUDIO},
             {"data", "subtitle", "attachment", _REENCODE_AUDIO}]
    for i, skip in enumerate(tries):
        try:
            return _remux_once(info, segments, output, format_name, window, metadata, skip,
                               timecode, colour or {})
        except _HeaderError as e:
            if i == len(tries) - 1:
                raise VidcolorError(f"the {format_name} muxer refused the streams ({e})") \
                    from None
            logger.info(f"note: the {format_name} muxer refused the header ({e}); "
                        f"retrying {_describe_try(tries[i + 1])}")
    raise AssertionError("not reached")


def _describe_try(skip: set[str]) -> str:
    dropped = sorted(skip - {_REENCODE_AUDIO})
    words = [f"without {' and '.join(dropped)} streams"] if dropped else []
    if _REENCODE_AUDIO in skip:
        words.append("with the audio re-encoded")
    return ", ".join(words)


#: In a fallback's skip set: audio is re-encoded rather than copied.
_REENCODE_AUDIO = "reencode-audio"


class _HeaderError(Exception):
    """The muxer could not write the output's header."""


def _remux_once(info: VideoInfo, segments, output: Path, format_name: str, window: Window,
                metadata, skip: set[str], timecode: str | None = None,
                colour: dict[str, int] | None = None) -> RemuxReport:
    report = RemuxReport()
    inp = open_input(info.path) if info.sequence is None else None
    seg_containers = [av.open(os.fspath(p), "r") for p, _ in segments]
    first_pts = [pts for _, pts in segments]
    options = colour_muxer_options(format_name) if colour else {}
    out = av.open(os.fspath(output), "w", format=format_name, options=options)
    try:
        template = seg_containers[0].streams.video[0]
        vout = out.add_stream_from_template(template, opaque=True)
        for name, value in (colour or {}).items():
            setattr(vout.codec_context, name, value)
        if inp is not None:
            _copy_tags(inp, out, vout, info)
        out.metadata.update(metadata or {})
        _set_timecode(out, vout, timecode, info.rate)
        if info.display_matrix is not None:
            vout.set_display_matrix(info.display_matrix)
        routes = {} if inp is None else \
            _route_streams(inp, out, info, format_name, report, skip, timecode is not None)
        try:
            if inp is not None:
                out.set_chapters(_chapters_in_window(inp, info, window))
        except Exception as e:  # noqa: BLE001 - chapters are a nicety, never fatal
            logger.info(f"note: chapters not kept ({ffmpeg_message(e)})")
        try:
            out.start_encoding()
        except (ValueError, av.error.FFmpegError) as e:
            raise _HeaderError(ffmpeg_message(e)) from None
        # Seconds subtracted from every timestamp so a trimmed output starts where the input
        # does (0 for a full conversion: timestamps are kept exactly).
        shift = window.start

        last_count = [0]
        video = _segment_packets(seg_containers, first_pts, info.time_base, vout, last_count,
                                 annexb=format_name == "avi")
        others = _input_packets(inp, routes, info, window, report) if inp is not None \
            else iter(())
        last_dts: dict[int, int] = {}
        for packet in heapq.merge(video, others, key=_packet_time):
            _mux(out, packet, shift, last_dts)
        for route in routes.values():
            for packet in route.flush():
                _mux(out, packet, shift, last_dts)
        report.video_packets = last_count[0]
    finally:
        out.close()
        for c in seg_containers:
            c.close()
        if inp is not None:
            inp.close()
    return report


def _copy_tags(inp, out, vout, info: VideoInfo) -> None:
    """The input's container tags and its video stream's tags and disposition, kept."""
    out.metadata.update(_clean_metadata(dict(inp.metadata)))
    in_v = inp.streams[info.stream_index]
    vout.metadata.update(_clean_metadata(dict(in_v.metadata)))
    vout.disposition = in_v.disposition


def _set_timecode(out, vout, timecode: str | None, rate: Fraction) -> None:
    """The output's start timecode on its video stream (the copied ones replaced); the MOV
    muxer counts its timecode track at the stream's frame rate, which a stream made from a
    template lacks."""
    for meta in (out.metadata, vout.metadata):
        for key in [k for k in meta if k.lower() == "timecode"]:
            del meta[key]
    if timecode is None:
        return
    vout.metadata["timecode"] = timecode
    vout.codec_context.framerate = rate


def _chapters_in_window(inp, info: VideoInfo, window: Window) -> list:
    """The input's chapters cut to the window, on the output's (shifted) clock."""
    chapters = inp.chapters()
    if window.is_whole:
        return chapters
    kept = []
    t0, t1 = window.bounds(info.start_time)
    for ch in chapters:
        tb = ch["time_base"]
        s, e = float(ch["start"] * tb), float(ch["end"] * tb)
        if e <= t0 or (t1 is not None and s >= t1):
            continue
        s, e = max(s, t0) - window.start, (e if t1 is None else min(e, t1)) - window.start
        kept.append({**ch, "start": int(round(s / tb)), "end": int(round(e / tb))})
    return kept


def _packet_time(packet) -> float:
    ts = packet.dts if packet.dts is not None else packet.pts
    if ts is None or packet.time_base is None:
        return -1e18
    return float(ts * packet.time_base)


#: AVI wants H.264/HEVC as Annex B (start codes); the MP4 segments hold length-prefixed NALs.
_ANNEXB_FILTERS = {"h264": "h264_mp4toannexb", "hevc": "hevc_mp4toannexb"}


def _annexb(packets: Iterator, stream, vout) -> Iterator:
    bsf = av.BitStreamFilterContext(_ANNEXB_FILTERS[stream.codec_context.name], in_stream=stream)
    tb = stream.time_base
    for packet in packets:
        for out in bsf.filter(packet):  # the filter takes the packet's data
            out.time_base = tb
            yield out
    for out in bsf.filter(None):
        out.time_base = tb
        yield out


def _segment_packets(containers, first_pts: list[int], time_base: Fraction, vout,
                     count: list[int], annexb: bool = False) -> Iterator:
    """Video packets of all segments, re-targeted at the output stream, with the timestamps
    the frames were encoded with."""
    for c, first in zip(containers, first_pts):
        vs = c.streams.video[0]
        offset = None
        packets = c.demux(vs)
        if annexb and vs.codec_context.name in _ANNEXB_FILTERS:
            packets = _annexb((p for p in packets if p.size), vs, vout)
        for packet in packets:
            if packet.size == 0:
                continue
            if offset is None:
                # Some muxers shift timestamps to keep dts non-negative (the encoder's B-frame
                # delay). The first packet is the segment's first frame (a keyframe), so its
                # pts tells any shift; undo it so pts are the input's again.
                want = int(round(first * time_base / packet.time_base))
                offset = (packet.pts - want) if packet.pts is not None else 0
            if offset:
                if packet.pts is not None:
                    packet.pts -= offset
                if packet.dts is not None:
                    packet.dts -= offset
            packet.stream = vout
            count[0] += 1
            yield packet


def _input_packets(inp, routes: dict[int, StreamRoute], info: VideoInfo, window: Window,
                   report: RemuxReport) -> Iterator:
    """Packets of the routed input streams inside the window, in file order, as their routes
    turn them into output packets."""
    if not routes:
        return
    streams = [inp.streams[i] for i in routes]
    t0, t1 = window.bounds(info.start_time)
    windowed = not window.is_whole  # a full conversion copies every packet
    if window.start > 0:
        try:
            inp.seek(int(max(t0 - 1.0, 0) * av.time_base), backward=True)
        except av.error.FFmpegError:
            pass
    demux = inp.demux(*streams)
    while True:
        try:
            packet = next(demux)
        except StopIteration:
            break
        except av.error.FFmpegError as e:
            logger.warning(f"warning: input ends early while copying streams "
                           f"({ffmpeg_message(e)})")
            break
        if packet.size == 0:
            continue
        if windowed and packet.pts is not None:
            # Packets starting inside the window. One straddling its start is left out: its
            # shifted timestamp would be negative, and some muxers (Matroska) would then
            # shift every stream, video included.
            t = float(packet.pts * packet.time_base)
            if t < t0 - 1e-6 or (t1 is not None and t >= t1):
                continue
        yield from routes[packet.stream.index].packets(packet)
    for idx, n in report.bad_packets.items():
        logger.warning(f"warning: stream {idx}: {n} undecodable packet(s) left out; "
                       "the rest of the stream is kept")


def _mux(out, packet, shift: float, last_dts: dict[int, int]) -> None:
    idx = packet.stream.index
    tb = packet.time_base
    if shift and tb is not None:
        off = int(round(shift / tb))
        if packet.pts is not None:
            packet.pts -= off
        if packet.dts is not None:
            packet.dts -= off
    # Segments are encoded independently: at a boundary the new encoder's first dts can fall
    # on or before the previous segment's last one. Nudge it forward (never past its pts).
    if packet.dts is not None:
        prev = last_dts.get(idx)
        if prev is not None and packet.dts <= prev:
            packet.dts = prev + 1
            if packet.pts is not None and packet.pts < packet.dts:
                packet.pts = packet.dts
        last_dts[idx] = packet.dts
    out.mux(packet)
