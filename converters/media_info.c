/* SPDX-License-Identifier: MIT */
/* media_info.c - the info object (api-v1.md "info keys") of an opened audio/video input. */
#include "convertd-config.h"

#include "converters/media.h"

#include <fcntl.h>
#include <math.h>
#include <string.h>
#include <unistd.h>
#include <jansson.h>
#include <libavcodec/avcodec.h>
#include <libavformat/avformat.h>
#include <libavutil/avstring.h>
#include <libavutil/channel_layout.h>
#include <libavutil/dict.h>
#include <libavutil/pixdesc.h>

#include "converters/formats.h"

/* Seconds and frame rates to the millisecond: 25 rather than 25.000000000000004. */
static double round3(double v)
{
    return round(v * 1000.0) / 1000.0;
}

/* Matroska and WebM share one demuxer, which keeps the EBML DocType to itself: read it. */
static const char *matroska_name(const AVFormatContext *fmt)
{
    unsigned char head[64];
    const char *name = "mkv";
    int fd = fmt->url ? open(fmt->url, O_RDONLY | O_CLOEXEC) : -1;
    if (fd < 0)
        return name;
    ssize_t n = read(fd, head, sizeof head);
    close(fd);
    const char *sniffed = n > 0 ? format_sniff(head, (size_t)n) : NULL;
    if (sniffed && strcmp(sniffed, "webm") == 0)
        name = "webm";
    return name;
}

/* "mov,mp4,m4a,3gp,3g2,mj2" → "mp4"; "matroska,webm" → "mkv" or "webm"; else the first name. */
static json_t *format_name(const AVFormatContext *fmt)
{
    const char *name = fmt->iformat->name;
    if (av_match_list("mp4", name, ',') > 0)
        return json_string("mp4");
    if (av_match_list("matroska", name, ',') > 0)
        return json_string(matroska_name(fmt));
    return json_stringn(name, strcspn(name, ","));
}

/* avg_frame_rate (measured), else r_frame_rate (the container's base rate); 0 = unknown. */
static double stream_fps(const AVStream *st)
{
    if (st->disposition & AV_DISPOSITION_ATTACHED_PIC)
        return 0;
    AVRational r = st->avg_frame_rate;
    if (r.num <= 0 || r.den <= 0)
        r = st->r_frame_rate;
    if (r.num <= 0 || r.den <= 0)
        return 0;
    double fps = av_q2d(r);
    return isfinite(fps) && fps > 0 ? round3(fps) : 0;
}

static double stream_duration(const AVStream *st)
{
    if (st->duration == AV_NOPTS_VALUE || st->duration <= 0)
        return 0;
    double d = st->duration * av_q2d(st->time_base);
    return isfinite(d) && d > 0 ? d : 0;
}

static void set_int(json_t *o, const char *key, int64_t v)
{
    json_object_set_new(o, key, json_integer(v));
}

static json_t *stream_info(const AVStream *st)
{
    const AVCodecParameters *par = st->codecpar;
    json_t *s = json_object();
    set_int(s, "index", st->index);
    const char *type = av_get_media_type_string(par->codec_type);
    json_object_set_new(s, "type", json_string(type ? type : "data"));
    json_object_set_new(s, "codec", json_string(avcodec_get_name(par->codec_id)));
    const char *profile = avcodec_profile_name(par->codec_id, par->profile);
    if (profile)
        json_object_set_new(s, "profile", json_string(profile));

    if (par->codec_type == AVMEDIA_TYPE_VIDEO) {
        if (par->width > 0 && par->height > 0) {
            set_int(s, "width", par->width);
            set_int(s, "height", par->height);
        }
        double fps = stream_fps(st);
        if (fps > 0)
            json_object_set_new(s, "fps", json_real(fps));
        const char *pix = par->format >= 0 ? av_get_pix_fmt_name(par->format) : NULL;
        if (pix)
            json_object_set_new(s, "pix_fmt", json_string(pix));
    }
    if (par->bit_rate > 0)
        set_int(s, "bitrate", par->bit_rate);
    if (par->codec_type == AVMEDIA_TYPE_AUDIO) {
        if (par->sample_rate > 0)
            set_int(s, "sample_rate", par->sample_rate);
        if (par->ch_layout.nb_channels > 0) {
            char layout[128];
            set_int(s, "channels", par->ch_layout.nb_channels);
            if (av_channel_layout_describe(&par->ch_layout, layout, sizeof layout) > 0)
                json_object_set_new(s, "channel_layout", json_string(layout));
        }
    }
    const AVDictionaryEntry *lang = av_dict_get(st->metadata, "language", NULL, 0);
    /* "und" is ISO 639-2 for "not known": no information to report. */
    if (lang && lang->value[0] && strcmp(lang->value, "und") != 0)
        json_object_set_new(s, "language", json_string(lang->value));
    double d = stream_duration(st);
    if (d > 0)
        json_object_set_new(s, "duration", json_real(round3(d)));
    return s;
}

json_t *media_info(const struct media_input *in, int64_t file_size)
{
    const AVFormatContext *fmt = in->fmt;
    json_t *info = json_object();

    json_object_set_new(info, "format", format_name(fmt));
    set_int(info, "size", file_size);
    if (in->duration > 0)
        json_object_set_new(info, "duration", json_real(round3(in->duration)));
    if (fmt->bit_rate > 0)
        set_int(info, "bitrate", fmt->bit_rate);
    else if (in->duration > 0 && file_size > 0)
        set_int(info, "bitrate", llround((double)file_size * 8 / in->duration));

    if (in->video >= 0) {
        const AVStream *st = fmt->streams[in->video];
        if (st->codecpar->width > 0 && st->codecpar->height > 0) {
            set_int(info, "width", st->codecpar->width);
            set_int(info, "height", st->codecpar->height);
        }
        double fps = stream_fps(st);
        if (fps > 0)
            json_object_set_new(info, "fps", json_real(fps));
        /* The container's count when it has one, else duration × rate, rounded down: the
         * input's duration includes audio that runs past the last picture (AAC padding),
         * and a tenth of a frame absorbs millisecond timestamps. */
        double d = stream_duration(st) > 0 ? stream_duration(st) : in->duration;
        if (st->nb_frames > 0)
            set_int(info, "frames", st->nb_frames);
        else if (fps > 0 && d > 0)
            set_int(info, "frames", (int64_t)floor(d * fps + 0.1));
    }

    json_t *streams = json_array();
    for (unsigned i = 0; i < fmt->nb_streams; i++)
        json_array_append_new(streams, stream_info(fmt->streams[i]));
    json_object_set_new(info, "streams", streams);
    return info;
}
