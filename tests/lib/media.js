// SPDX-License-Identifier: MIT
// media.js - video and audio for the media tests: inputs made with the ffmpeg CLI in temp
// folders, facts of returned files from ffprobe / volumedetect / box and chunk headers, and a
// convert helper (create, start with upload by PUT or multipart, wait) for one server.
'use strict';
const { execFileSync, spawnSync } = require('child_process');
const fs = require('fs');
const os = require('os');
const path = require('path');
const H = require('./http');

function tmpDir(prefix) {
    return fs.mkdtempSync(path.join(os.tmpdir(), prefix || 'convertd-media-'));
}

// Run the ffmpeg CLI quietly; throws with its stderr on failure.
function ffmpeg(args) {
    try {
        return execFileSync('ffmpeg', ['-hide_banner', '-nostdin', '-loglevel', 'error', '-y', ...args],
            { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], maxBuffer: 1 << 26 });
    } catch (e) {
        throw new Error('ffmpeg ' + args.join(' ') + ' failed: ' + (e.stderr || e.message));
    }
}

// A test clip: testsrc video (yuv420p) and a 440 Hz stereo sine, `seconds` long.
// opts: size ('320x240'), rate (25), seconds (3), audio (true), vcodec ('libx264'),
// acodec ('aac'), vfilter (e.g. 'noise=alls=60:allf=t'), extra (args before the output name,
// e.g. ['-metadata', 'title=Hello']), crf.
function clip(dir, name, opts) {
    opts = opts || {};
    const seconds = String(opts.seconds || 3);
    const args = ['-f', 'lavfi', '-i', 'testsrc=size=' + (opts.size || '320x240') + ':rate=' +
        (opts.rate || 25)];
    const audio = opts.audio !== false;
    if (audio)
        args.push('-f', 'lavfi', '-i', 'sine=frequency=440:sample_rate=44100');
    args.push('-t', seconds);
    if (opts.vfilter)
        args.push('-vf', opts.vfilter);
    args.push('-pix_fmt', 'yuv420p', '-c:v', opts.vcodec || 'libx264');
    if (opts.crf !== undefined)
        args.push('-crf', String(opts.crf));
    if (audio)
        args.push('-c:a', opts.acodec || 'aac', '-ac', '2', '-shortest');
    const out = path.join(dir, name);
    ffmpeg([...args, ...(opts.extra || []), out]);
    return out;
}

// An audio file (format from the extension) with a 440 Hz sine; opts: seconds (3),
// rate (44100), channels (2), codec (ffmpeg's default for the extension), volume (dB gain).
function tone(dir, name, opts) {
    opts = opts || {};
    const args = ['-f', 'lavfi', '-i', 'sine=frequency=440:sample_rate=' + (opts.rate || 44100),
        '-t', String(opts.seconds || 3), '-ac', String(opts.channels || 2)];
    if (opts.volume !== undefined)
        args.push('-af', 'volume=' + opts.volume + 'dB');
    if (opts.codec)
        args.push('-c:a', opts.codec);
    const out = path.join(dir, name);
    ffmpeg([...args, out]);
    return out;
}

// An h264 mp4 (no audio) that is pure red for `each` seconds, then pure blue for `each`.
function redThenBlue(dir, name, each, size) {
    const s = size || '320x240';
    const d = String(each || 2);
    const out = path.join(dir, name);
    ffmpeg(['-f', 'lavfi', '-i', 'color=c=red:s=' + s + ':r=25:d=' + d,
        '-f', 'lavfi', '-i', 'color=c=blue:s=' + s + ':r=25:d=' + d,
        '-filter_complex', '[0:v][1:v]concat=n=2:v=1:a=0[v]', '-map', '[v]',
        '-pix_fmt', 'yuv420p', '-c:v', 'libx264', out]);
    return out;
}

// Encoder arguments for a small sample of each input format the converter lists.
const VIDEO_SAMPLE_ARGS = {
    mp4: ['-c:v', 'libx264', '-c:a', 'aac'],
    mov: ['-c:v', 'libx264', '-c:a', 'aac'],
    mkv: ['-c:v', 'libx264', '-c:a', 'aac'],
    webm: ['-c:v', 'libvpx-vp9', '-deadline', 'realtime', '-cpu-used', '8', '-c:a', 'libopus'],
    avi: ['-c:v', 'mpeg4', '-c:a', 'libmp3lame'],
    flv: ['-c:v', 'flv', '-c:a', 'libmp3lame'],
    wmv: ['-c:v', 'wmv2', '-c:a', 'wmav2'],
    mpeg: ['-c:v', 'mpeg1video', '-c:a', 'mp2'],
    ts: ['-c:v', 'libx264', '-c:a', 'aac'],
    '3gp': ['-c:v', 'libx264', '-c:a', 'aac'],
    ogv: ['-c:v', 'libtheora', '-c:a', 'libvorbis'],
};
const AUDIO_SAMPLE_ARGS = {
    mp3: ['-c:a', 'libmp3lame'],
    aac: ['-c:a', 'aac'],
    m4a: ['-c:a', 'aac'],
    ogg: ['-c:a', 'libvorbis'],
    opus: ['-c:a', 'libopus'],
    wav: [],
    flac: [],
    wma: ['-c:a', 'wmav2'],
    aiff: [],
};

// A 1 s sample named sample.EXT: video formats 160x120 at 25 fps with stereo sound (gif:
// 10 fps, no sound), audio formats a stereo 440 Hz tone.
function sample(dir, ext) {
    const out = path.join(dir, 'sample.' + ext);
    if (ext === 'gif') {
        ffmpeg(['-f', 'lavfi', '-i', 'testsrc=size=160x120:rate=10', '-t', '1', out]);
    } else if (VIDEO_SAMPLE_ARGS[ext]) {
        ffmpeg(['-f', 'lavfi', '-i', 'testsrc=size=160x120:rate=25', '-f', 'lavfi', '-i',
            'sine=frequency=440:sample_rate=44100', '-t', '1', '-pix_fmt', 'yuv420p',
            ...VIDEO_SAMPLE_ARGS[ext], '-ac', '2', '-shortest', out]);
    } else if (AUDIO_SAMPLE_ARGS[ext]) {
        ffmpeg(['-f', 'lavfi', '-i', 'sine=frequency=440:sample_rate=' + (ext === 'opus' ? 48000 : 44100),
            '-t', '1', '-ac', '2', ...AUDIO_SAMPLE_ARGS[ext], out]);
    } else {
        throw new Error('no sample recipe for ' + ext);
    }
    return out;
}

// ffprobe's JSON of a file: {format, streams}.
function probe(file) {
    const out = execFileSync('ffprobe', ['-v', 'error', '-of', 'json', '-show_format',
        '-show_streams', file], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
    return JSON.parse(out);
}

function streamsOf(p, type) {
    return p.streams.filter((s) => s.codec_type === type);
}

// The only stream of a type (fails the test when there are several or none).
function streamOf(p, type) {
    const list = streamsOf(p, type);
    if (list.length !== 1)
        throw new Error('expected one ' + type + ' stream, found ' + list.length + ': ' +
            JSON.stringify(p.streams.map((s) => s.codec_type + ':' + s.codec_name)));
    return list[0];
}

// Frames of the first video stream, counted by decoding.
function countFrames(file) {
    const out = execFileSync('ffprobe', ['-v', 'error', '-count_frames', '-select_streams', 'v:0',
        '-show_entries', 'stream=nb_read_frames', '-of', 'json', file],
    { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
    return Number(JSON.parse(out).streams[0].nb_read_frames);
}

// Sizes of the packets of the first video stream, in order (identical for a stream copy).
function videoPacketSizes(file) {
    const out = execFileSync('ffprobe', ['-v', 'error', '-select_streams', 'v:0', '-show_entries',
        'packet=size', '-of', 'csv=p=0', file], { encoding: 'utf8', maxBuffer: 1 << 26 });
    return out.split('\n').filter((l) => l.trim()).map(Number);
}

// volumedetect of the first audio stream: {mean, max} in dB (its report is on stderr).
function volume(file) {
    const r = spawnSync('ffmpeg', ['-hide_banner', '-nostdin', '-i', file, '-map', '0:a:0',
        '-af', 'volumedetect', '-f', 'null', '-'], { encoding: 'utf8' });
    const mean = /mean_volume:\s*(-?[\d.]+|-inf) dB/.exec(r.stderr || '');
    const max = /max_volume:\s*(-?[\d.]+|-inf) dB/.exec(r.stderr || '');
    if (r.status !== 0 || !mean || !max)
        throw new Error('volumedetect of ' + file + ' failed: ' + (r.stderr || '').slice(-400));
    const num = (s) => (s === '-inf' ? -Infinity : Number(s));
    return { mean: num(mean[1]), max: num(max[1]) };
}

// Top-level ISO BMFF boxes of an mp4/mov buffer: [{type, offset, size}].
function mp4Boxes(buf) {
    const boxes = [];
    let off = 0;
    while (off + 8 <= buf.length) {
        let size = buf.readUInt32BE(off);
        const type = buf.toString('latin1', off + 4, off + 8);
        if (size === 1) {
            if (off + 16 > buf.length)
                break;
            size = Number(buf.readBigUInt64BE(off + 8));
        } else if (size === 0) {
            size = buf.length - off;
        }
        if (size < 8)
            throw new Error('bad box size ' + size + ' at ' + off);
        boxes.push({ type, offset: off, size });
        off += size;
    }
    return boxes;
}

// Width, height of a PNG from its IHDR chunk (throws when buf is not a PNG).
function pngSize(buf) {
    const sig = Buffer.from('89504e470d0a1a0a', 'hex');
    if (buf.length < 24 || !buf.subarray(0, 8).equals(sig) || buf.toString('latin1', 12, 16) !== 'IHDR')
        throw new Error('not a PNG: ' + buf.subarray(0, 16).toString('hex'));
    return { width: buf.readUInt32BE(16), height: buf.readUInt32BE(20) };
}

function isJpeg(buf) {
    return buf.length > 3 && buf[0] === 0xff && buf[1] === 0xd8 && buf[2] === 0xff;
}

// Write a buffer to a temp file with the given name; returns its path (caller removes the dir
// with rmSaved, or leaves it in the OS temp dir).
function save(buf, name) {
    const dir = tmpDir('convertd-media-dl-');
    const file = path.join(dir, name || 'file.bin');
    fs.writeFileSync(file, buf);
    return file;
}

function rmSaved(file) {
    fs.rmSync(path.dirname(file), { recursive: true, force: true });
}

// Run fn(file) on a temp copy of buf.
function withSaved(buf, name, fn) {
    const file = save(buf, name);
    try {
        return fn(file);
    } finally {
        rmSaved(file);
    }
}

function probeBuffer(buf, name) {
    return withSaved(buf, name, probe);
}

// Parse "25/1" → 25.
function rate(s) {
    const [a, b] = String(s).split('/').map(Number);
    return b ? a / b : a;
}

// Pixel x, y of a decoded image or of the first video frame as [r, g, b] (ffmpeg → rgb24).
function rgbAt(file, x, y) {
    const p = probe(file);
    const v = streamOf(p, 'video');
    const raw = execFileSync('ffmpeg', ['-hide_banner', '-nostdin', '-loglevel', 'error', '-i', file,
        '-frames:v', '1', '-f', 'rawvideo', '-pix_fmt', 'rgb24', '-'], { maxBuffer: 1 << 28 });
    const i = (y * v.width + x) * 3;
    return [raw[i], raw[i + 1], raw[i + 2]];
}

// Client of one server for media conversions.
// convert({inputformat, outputformat, mode, file (path), filename, options, via: 'put' |
// 'multipart', create (extra create params), start (extra start params)}) → {proc, started,
// fin (status after wait, JSON parsed), res (the wait response)}. Nothing is asserted except
// that create answered 200.
function mediaApi(server) {
    const api = H.api(server);
    const m = {
        api,
        async convert(o) {
            const createParams = Object.assign({ inputformat: o.inputformat }, o.create || {});
            if (o.outputformat !== undefined)
                createParams.outputformat = o.outputformat;
            if (o.mode !== undefined)
                createParams.mode = o.mode;
            const proc = await api.process(createParams);
            const data = o.data || fs.readFileSync(o.file);
            const filename = o.filename || path.basename(o.file);
            const startParams = Object.assign({ input: 'upload' }, o.start || {});
            if (o.options !== undefined)
                startParams.converteroptions = o.options;
            if (o.outputformat !== undefined)
                startParams.outputformat = o.outputformat;
            let started;
            let res;
            if (o.via === 'multipart') {
                const parts = [];
                for (const [k, v] of H.flatten(Object.assign({}, startParams, { wait: 'true' })))
                    parts.push({ name: k, value: v });
                parts.push({ name: 'file', filename, data });
                res = await api.start(proc, undefined, { json: undefined,
                    multipart: H.multipart(parts), timeout: o.timeout || 120000 });
                started = null;
            } else {
                const sres = await api.start(proc, startParams);
                started = sres.status === 200 ? sres.json() : null;
                if (!started)
                    return { proc, started: null, startRes: sres, fin: sres.json(), res: sres };
                const put = await api.put(started, filename, data);
                if (put.status !== 200)
                    return { proc, started, put, fin: null, res: put };
                res = await api.status(proc, { wait: 'true' }, { timeout: o.timeout || 120000 });
            }
            let fin = null;
            try {
                fin = res.json();
            } catch (e) {
                fin = null;
            }
            return { proc, started, fin, res };
        },
        // convert and assert 200 finished; returns the same object.
        async convertOk(o) {
            const r = await m.convert(o);
            if (r.res.status !== 200 || !r.fin || r.fin.step !== 'finished')
                throw new Error('conversion ' + o.inputformat + ' → ' + (o.outputformat || o.mode) +
                    ' with ' + JSON.stringify(o.options || {}) + ' did not finish: ' + r.res.status + ' ' +
                    r.res.text().slice(0, 500));
            return r;
        },
        // GET output.url (+ '/' + name): asserts 200, returns the body.
        async download(fin, name) {
            const res = await api.download(fin, name);
            if (res.status !== 200)
                throw new Error('download ' + (name || fin.output.filename) + ': ' + res.status + ' ' +
                    res.text().slice(0, 300));
            return res.body;
        },
        // convertOk + download + ffprobe of the bytes → {fin, buf, probe}.
        async convertProbe(o) {
            const r = await m.convertOk(o);
            const buf = await m.download(r.fin);
            const ext = r.fin.output.ext || o.outputformat;
            return Object.assign(r, { buf, probe: probeBuffer(buf, 'out.' + ext) });
        },
    };
    return m;
}

module.exports = {
    tmpDir, ffmpeg, clip, tone, redThenBlue, sample, probe, probeBuffer, streamsOf, streamOf, countFrames,
    videoPacketSizes, volume, mp4Boxes, pngSize, isJpeg, save, rmSaved, withSaved, rate, rgbAt,
    mediaApi,
};
