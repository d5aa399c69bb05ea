/* SPDX-License-Identifier: MIT */
/* media.h - the parts of the FFmpeg converter (private to converters/): opening a hostile
 * input safely, the info object, transcoding, and still frames. ffmpeg.c holds the converter
 * table and turns converteroptions into the structs below; each part is one file.
 *
 * Everything here runs in the sandboxed worker process (SEC-07) and calls only the FFmpeg
 * libraries: no ffmpeg program, no network, no file but the job's own. */
#ifndef CONVERTD_CONVERTERS_MEDIA_H
#define CONVERTD_CONVERTERS_MEDIA_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/err.h"
#include "converters/converter.h"

typedef struct AVFormatContext AVFormatContext;

/* Longest input accepted, from the header (SEC-09 for media). */
#define MEDIA_MAX_DURATION_S (24.0 * 3600)

/* ------------------------------------------------------------------ media_open.c */

struct media_input {
    AVFormatContext *fmt;
    int video;       /* index of the main video stream (not a cover picture), or -1 */
    int audio;       /* index of the main audio stream, or -1 */
    double duration; /* seconds, 0 when unknown */
};

/* Open the job's input file for demuxing (security.md SEC-05/06):
 * - only `path`, through an AVIOContext the caller opened (protocol whitelist "file");
 *   AVFormatContext.io_open refuses every nested open, so playlists, concat, HLS, DASH and
 *   references to other files fail;
 * - the demuxer is forced (av_find_input_format) or limited by format_whitelist from
 *   `in_format` (mp4 → "mov,mp4,m4a,3gp,3g2,mj2"); hls, dash, concat, ffconcat, tty,
 *   image2 and other pattern/text demuxers are never accepted;
 * - probesize/analyzeduration bounded, then avformat_find_stream_info;
 * - limits from the header: at least one audio or video stream; video width and height
 *   ≤ limits->max_side, width * height ≤ limits->max_pixels, duration ≤ MEDIA_MAX_DURATION_S,
 *   estimated frame count ≤ limits->max_pages * 1000 (a frame is not a page: videos have
 *   many) — 0 in a limit means "no limit".
 * On failure -1 with ERR_CONVERT and a message that names the problem with libav's reason:
 * "cannot read the input: Invalid data found when processing input". media_close() is
 * safe on a zeroed or failed struct. */
int media_open(const char *path, const char *in_format, const struct conv_limits *limits,
               struct media_input *in, struct err *err);
void media_close(struct media_input *in);

/* libav's text for an AVERROR code (thread-local buffer). */
const char *media_strerror(int averr);

/* ------------------------------------------------------------------ media_info.c */

/* The contract's info object for an open input: format (the demuxer's short name, e.g.
 * "mov,mp4,m4a,3gp,3g2,mj2" → "mp4"), size (file_size), duration (seconds, number),
 * bitrate (bit/s), width, height and fps of the main video stream, frames when known,
 * streams: [{index, type ("video"|"audio"|"subtitle"|"data"|"attachment"), codec, profile,
 * width, height, fps, pix_fmt, bitrate, sample_rate, channels, channel_layout, language,
 * duration}] with only the keys that apply. New reference. */
json_t *media_info(const struct media_input *in, int64_t file_size);

/* ------------------------------------------------------------------ media_frames.c */

enum media_frame_names {
    MEDIA_NAME_OUT,      /* exactly one frame: "out.EXT" */
    MEDIA_NAME_POSITION, /* "1.EXT", "2.EXT", ... in order (thumbnails) */
    MEDIA_NAME_FRAME,    /* "N.EXT", N = 1-based frame number in the input (extract) */
};

struct media_frames {
    const double *times; /* seconds from the start, ascending; count ≥ 1 */
    size_t count;
    int width, height;  /* output size; one 0 → keep the aspect ratio; both 0 → source size */
    const char *format; /* "jpg" or "png" */
    enum media_frame_names names;
};

/* Decode the main video stream at each time (the first frame at or after it; the last
 * frame when it is past the end) and write it as a JPEG or PNG into output_dir. Seeks when
 * times are far apart, decodes through when they are close. Progress through job->progress.
 * -1 with ERR_CONVERT when the input has no video or a frame cannot be decoded. */
int media_frames(const struct media_input *in, const struct media_frames *spec,
                 const char *output_dir, const struct conv_job *job, struct err *err);

/* ------------------------------------------------------------------ media_transcode.c */

struct media_output {
    const char *format; /* output container, canonical extension: "mp4", "mp3", "gif", ... */

    /* video; a NULL codec means the container's default (see media_transcode.c) */
    const char *video_codec;  /* "h264","h265","vp8","vp9","av1","copy","none" or NULL */
    int video_bitrate;        /* kbit/s; 0 = use crf / the encoder's default */
    int video_crf;            /* 0..51; -1 = encoder default */
    int width, height;        /* 0 = keep; one side 0 → keep the aspect ratio (even sizes) */
    int ratio_num, ratio_den; /* display aspect ratio to set; 0 = keep */
    double fps;               /* 0 = keep the source rate */
    const char *preset;       /* x264/x265 preset name; NULL = default */

    /* audio */
    const char *audio_codec; /* "mp3","aac","opus","vorbis","flac","pcm","copy","none", NULL */
    int audio_bitrate;       /* kbit/s; 0 = encoder default */
    int audio_channels;      /* 0 = keep (clamped to what the encoder takes) */
    int audio_frequency;     /* Hz; 0 = keep (or the nearest rate the encoder takes) */
    double gain_db;          /* audio_normalize "+20db"; 0 = none */
    bool loudnorm;           /* audio_normalize "loudnorm" (EBU R128) */

    double trim_from; /* seconds; 0 = from the start */
    double trim_to;   /* seconds; 0 = to the end */
    bool faststart;   /* mp4/mov/m4a: moov atom first */
    bool strip_metadata;
    int threads; /* codec threads; ≥ 1 */
};

/* Transcode (or remux with "copy") the input into out_path. Audio from a video input when
 * the container is audio-only; an animated GIF (palette generated from the clip) for "gif".
 * Progress through job->progress: percent = encoded position against the (trimmed)
 * duration, message "Converting to MP4 (h264, aac)". -1 with ERR_CONVERT and libav's
 * reason on a decode/encode failure, ERR_BADPARAM-worthy combinations are refused earlier
 * by ffmpeg.c's check. */
int media_transcode(const struct media_input *in, const struct media_output *o,
                    const char *out_path, const struct conv_job *job, struct err *err);

#endif
