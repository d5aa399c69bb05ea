// SPDX-License-Identifier: MIT
// media_convert.test.js - video and audio through the real server (converter "ffmpeg"): the
// conversion types, transcodes checked with ffprobe, converter options, status and bad options.
'use strict';
const { expect } = require('chai');
const fs = require('fs');
const path = require('path');
const { startServer } = require('../lib/server');
const H = require('../lib/http');
const M = require('../lib/media');

const VIDEO_IN = ['mp4', 'mov', 'mkv', 'webm', 'avi', 'flv', 'wmv', 'mpeg', 'ts', '3gp', 'ogv', 'gif'];
const VIDEO_OUT = ['mp4', 'webm', 'mkv', 'mov', 'avi', 'flv', 'ogv', 'ts', 'mpeg', '3gp', 'gif'];
const AUDIO = ['mp3', 'aac', 'm4a', 'ogg', 'opus', 'wav', 'flac', 'wma', 'aiff'];
const MEDIA_OPTIONS = ['video_codec', 'video_bitrate', 'video_crf', 'video_resolution', 'video_ratio',
    'video_fps', 'video_preset', 'audio_codec', 'audio_bitrate', 'audio_channels', 'audio_frequency',
    'audio_normalize', 'trim_from', 'trim_to', 'faststart', 'strip_metatags', 'thumbnail_count',
    'thumbnail_size', 'thumbnail_format', 'thumbnail_time'];

function near(actual, expected, tol, what) {
    expect(Number(actual), what + ' = ' + actual + ', expected ' + expected + ' ± ' + tol)
        .to.be.within(expected - tol, expected + tol);
}

describe('media: conversions with the ffmpeg converter', function () {
    this.timeout(60000);
    let server;
    let m;
    let dir;
    let inMp4; // 3 s, 320x240, 25 fps, h264 + aac stereo
    let inWav; // 3 s, 44.1 kHz stereo
    let noisyMp4; // 3 s of noise at crf 18: several Mbit/s
    let titledMp4; // with the global tag title=Hello
    let redBlue; // 2 s red then 2 s blue, no sound
    let quietWav; // the tone 20 dB quieter

    before(async function () {
        this.timeout(60000);
        dir = M.tmpDir();
        inMp4 = M.clip(dir, 'in.mp4');
        inWav = M.tone(dir, 'tone.wav');
        noisyMp4 = M.clip(dir, 'noisy.mp4', { vfilter: 'noise=alls=60:allf=t', crf: 18, audio: false });
        titledMp4 = M.clip(dir, 'titled.mp4', { extra: ['-metadata', 'title=Hello'] });
        redBlue = M.redThenBlue(dir, 'rb.mp4', 2);
        quietWav = M.tone(dir, 'quiet.wav', { volume: -20 });
        server = await startServer();
        m = M.mediaApi(server);
    });

    after(async function () {
        if (dir)
            fs.rmSync(dir, { recursive: true, force: true });
        await H.stopServer(server);
    });

    function mp4(options, file) {
        return m.convertProbe({ inputformat: 'mp4', outputformat: 'mp4', file: file || inMp4, options });
    }

    describe('/conversiontypes', function () {
        let all;

        before(async function () {
            all = H.expectJson(await H.request({ url: server.base + '/conversiontypes' }));
        });

        function entry(i, o) {
            return all.find((e) => e.inputformat === i && e.outputformat === o);
        }

        // gif → gif stays with the image converter (an animated GIF is an image there too).
        function expectPairs(ins, outs, group) {
            const missing = [];
            const wrong = [];
            for (const i of ins) {
                for (const o of outs) {
                    if (i === 'gif' && o === 'gif')
                        continue;
                    const e = entry(i, o);
                    if (!e)
                        missing.push(i + '→' + o);
                    else if (e.converter !== 'ffmpeg' || e.group !== group)
                        wrong.push(i + '→' + o + ' (' + e.converter + ', ' + e.group + ')');
                }
            }
            expect(missing, 'pairs not listed').to.deep.equal([]);
            expect(wrong, 'pairs not ffmpeg/' + group).to.deep.equal([]);
        }

        it('lists every video input → video output with converter ffmpeg, group video', function () {
            expectPairs(VIDEO_IN, VIDEO_OUT, 'video');
        });

        it('lists video and audio inputs → audio outputs with converter ffmpeg, group audio', function () {
            expectPairs(VIDEO_IN.filter((f) => f !== 'gif').concat(AUDIO), AUDIO, 'audio');
        });

        it('lists video inputs → png and jpg with converter ffmpeg, group image', function () {
            expectPairs(VIDEO_IN.filter((f) => f !== 'gif'), ['png', 'jpg'], 'image');
        });

        it('mp4 → png is one entry, by ffmpeg (not the vips image converter)', async function () {
            const list = H.expectJson(await H.request({ url: server.base + '/conversiontypes',
                query: { inputformat: 'mp4', outputformat: 'png' } }));
            expect(list.map((e) => [e.inputformat, e.outputformat, e.converter]))
                .to.deep.equal([['mp4', 'png', 'ffmpeg']]);
        });

        it('mp4 → mp4 converteroptions have every media option, defaults strings or null', function () {
            const e = entry('mp4', 'mp4');
            expect(e, 'mp4 → mp4 listed').to.be.an('object');
            expect(Object.keys(e.converteroptions)).to.include.members(MEDIA_OPTIONS);
            for (const [k, v] of Object.entries(e.converteroptions))
                expect(v === null || typeof v === 'string', k + ' default ' + JSON.stringify(v)).to.equal(true);
        });

        it('wav → mp3 converteroptions have the audio options', function () {
            const e = entry('wav', 'mp3');
            expect(e, 'wav → mp3 listed').to.be.an('object');
            expect(Object.keys(e.converteroptions)).to.include.members(['audio_codec', 'audio_bitrate',
                'audio_channels', 'audio_frequency', 'audio_normalize', 'trim_from', 'trim_to']);
        });

        it('m4v is an alias of mp4: an .m4v input converts to mp3', async function () {
            const r = await m.convertProbe({ inputformat: 'm4v', outputformat: 'mp3', file: inMp4,
                filename: 'clip.m4v' });
            expect(r.fin.input.filename).to.equal('clip.m4v');
            expect(r.fin.output.filename).to.equal('clip.mp3');
            expect(r.probe.streams.map((st) => st.codec_name)).to.deep.equal(['mp3']);
        });
    });

    describe('containers and codecs (checked with ffprobe)', function () {
        it('mp4 → webm (multipart upload): VP9 + Opus, 320x240, 3 s, named in.webm', async function () {
            const r = await m.convertProbe({ inputformat: 'mp4', outputformat: 'webm', file: inMp4,
                via: 'multipart' });
            expect(r.fin.output.filename).to.equal('in.webm');
            expect(r.fin.output.ext).to.equal('webm');
            expect(r.fin.output.size).to.equal(r.buf.length);
            expect(r.probe.format.format_name).to.match(/webm/);
            const v = M.streamOf(r.probe, 'video');
            expect([v.codec_name, v.width, v.height]).to.deep.equal(['vp9', 320, 240]);
            expect(M.streamOf(r.probe, 'audio').codec_name).to.equal('opus');
            near(r.probe.format.duration, 3, 0.2, 'duration');
        });

        it('mp4 → mkv with video_codec h265: HEVC in Matroska', async function () {
            const r = await m.convertProbe({ inputformat: 'mp4', outputformat: 'mkv', file: inMp4,
                options: { video_codec: 'h265' } });
            expect(r.probe.format.format_name).to.match(/matroska/);
            const v = M.streamOf(r.probe, 'video');
            expect([v.codec_name, v.width, v.height]).to.deep.equal(['hevc', 320, 240]);
            expect(M.streamsOf(r.probe, 'audio')).to.have.lengthOf(1);
        });

        it('mp4 → avi: AVI with a 320x240 video and an audio stream', async function () {
            const r = await m.convertProbe({ inputformat: 'mp4', outputformat: 'avi', file: inMp4 });
            expect(r.probe.format.format_name).to.equal('avi');
            const v = M.streamOf(r.probe, 'video');
            expect([v.width, v.height]).to.deep.equal([320, 240]);
            expect(M.streamsOf(r.probe, 'audio')).to.have.lengthOf(1);
            near(r.probe.format.duration, 3, 0.25, 'duration');
        });

        it('mp4 → mov: QuickTime (brand "qt  ") with video and audio', async function () {
            const r = await m.convertProbe({ inputformat: 'mp4', outputformat: 'mov', file: inMp4 });
            expect(r.probe.format.format_name).to.match(/mov/);
            expect(r.probe.format.tags.major_brand).to.equal('qt  ');
            const v = M.streamOf(r.probe, 'video');
            expect([v.width, v.height]).to.deep.equal([320, 240]);
            expect(M.streamsOf(r.probe, 'audio')).to.have.lengthOf(1);
        });

        it('mp4 → mp3: one MP3 audio stream, 3 s', async function () {
            const r = await m.convertProbe({ inputformat: 'mp4', outputformat: 'mp3', file: inMp4 });
            expect(r.fin.output.filename).to.equal('in.mp3');
            expect(r.probe.format.format_name).to.equal('mp3');
            expect(r.probe.streams.map((s) => [s.codec_type, s.codec_name]))
                .to.deep.equal([['audio', 'mp3']]);
            near(r.probe.format.duration, 3, 0.2, 'duration');
        });

        it('wav → flac: one FLAC stream at 44100 Hz', async function () {
            const r = await m.convertProbe({ inputformat: 'wav', outputformat: 'flac', file: inWav });
            expect(r.probe.format.format_name).to.equal('flac');
            expect(r.probe.streams.map((s) => [s.codec_type, s.codec_name, s.sample_rate]))
                .to.deep.equal([['audio', 'flac', '44100']]);
            near(r.probe.format.duration, 3, 0.1, 'duration');
        });

        it('mp4 → wav with audio_frequency 22050 and audio_channels 1: PCM 22050 Hz mono', async function () {
            const r = await m.convertProbe({ inputformat: 'mp4', outputformat: 'wav', file: inMp4,
                options: { audio_frequency: 22050, audio_channels: 1 } });
            expect(r.probe.format.format_name).to.equal('wav');
            expect(r.probe.streams).to.have.lengthOf(1);
            const a = r.probe.streams[0];
            expect(a.codec_name).to.match(/^pcm_/);
            expect([a.sample_rate, a.channels]).to.deep.equal(['22050', 1]);
        });

        it('mp4 → gif: an animated GIF (more than one frame)', async function () {
            const r = await m.convertProbe({ inputformat: 'mp4', outputformat: 'gif', file: inMp4 });
            expect(r.probe.format.format_name).to.equal('gif');
            expect(M.streamOf(r.probe, 'video').codec_name).to.equal('gif');
            const frames = M.withSaved(r.buf, 'out.gif', M.countFrames);
            expect(frames, 'GIF frames').to.be.above(1);
        });
    });

    describe('every listed output format (from the 3 s mp4)', function () {
        // [output, format_name pattern, expected stream types, extra check]
        const cases = [
            ['flv', /^flv$/, ['audio', 'video']],
            ['ogv', /^ogg$/, ['audio', 'video']],
            ['ts', /^mpegts$/, ['audio', 'video']],
            ['mpeg', /^mpeg$/, ['audio', 'video']],
            ['3gp', /mp4/, ['audio', 'video'], (p) => expect(p.format.tags.major_brand).to.match(/^3g/)],
            ['mkv', /matroska/, ['audio', 'video']],
            ['aac', /^aac$/, ['audio']],
            ['m4a', /mp4/, ['audio'], (p) => expect(p.format.tags.major_brand).to.match(/^M4A/)],
            ['ogg', /^ogg$/, ['audio']],
            ['opus', /^ogg$/, ['audio'], (p) => expect(p.streams[0].codec_name).to.equal('opus')],
            ['wma', /^asf$/, ['audio'], (p) => expect(p.streams[0].codec_name).to.match(/^wma/)],
            ['aiff', /^aiff$/, ['audio'], (p) => expect(p.streams[0].codec_name).to.match(/^pcm_/)],
        ];
        for (const [out, re, types, extra] of cases) {
            it('mp4 → ' + out + ': ' + re + ' with ' + types.join(' + ') + ', about 3 s', async function () {
                const r = await m.convertProbe({ inputformat: 'mp4', outputformat: out, file: inMp4 });
                expect(r.fin.output.filename).to.equal('in.' + out);
                expect(r.probe.format.format_name).to.match(re);
                expect(r.probe.streams.map((st) => st.codec_type).sort()).to.deep.equal(types);
                if (types.includes('video')) {
                    const v = M.streamOf(r.probe, 'video');
                    expect([v.width, v.height]).to.deep.equal([320, 240]);
                }
                near(r.probe.format.duration, 3, 0.25, 'duration');
                if (extra)
                    extra(r.probe);
            });
        }
    });

    describe('every listed input format (1 s samples)', function () {
        const videoIn = VIDEO_IN;
        const audioIn = AUDIO;
        const samples = {};

        before(function () {
            this.timeout(60000);
            const sdir = path.join(dir, 'samples');
            for (const f of videoIn.concat(audioIn)) {
                fs.mkdirSync(path.join(sdir, f), { recursive: true });
                samples[f] = M.sample(path.join(sdir, f), f);
            }
        });

        for (const f of videoIn) {
            it(f + ' → mp4: h264 160x120' + (f === 'gif' ? ' (no sound)' : ' with sound'), async function () {
                const r = await m.convertProbe({ inputformat: f, outputformat: 'mp4', file: samples[f] });
                expect(r.fin.output.filename).to.equal('sample.mp4');
                const v = M.streamOf(r.probe, 'video');
                expect([v.codec_name, v.width, v.height]).to.deep.equal(['h264', 160, 120]);
                expect(M.streamsOf(r.probe, 'audio')).to.have.lengthOf(f === 'gif' ? 0 : 1);
                near(r.probe.format.duration, 1, 0.2, 'duration');
            });
        }

        for (const f of audioIn) {
            it(f + ' → wav: one PCM stream of about 1 s', async function () {
                const r = await m.convertProbe({ inputformat: f, outputformat: 'wav', file: samples[f] });
                expect(r.probe.streams.map((st) => st.codec_type)).to.deep.equal(['audio']);
                expect(r.probe.streams[0].codec_name).to.match(/^pcm_/);
                near(r.probe.format.duration, 1, 0.15, 'duration');
            });
        }
    });

    describe('video options', function () {
        it('video_resolution "160x" → 160x120 (aspect kept)', async function () {
            const v = M.streamOf((await mp4({ video_resolution: '160x' })).probe, 'video');
            expect([v.width, v.height]).to.deep.equal([160, 120]);
        });

        it('video_resolution "x120" → 160x120 (aspect kept)', async function () {
            const v = M.streamOf((await mp4({ video_resolution: 'x120' })).probe, 'video');
            expect([v.width, v.height]).to.deep.equal([160, 120]);
        });

        it('video_resolution "160x90" → exactly 160x90', async function () {
            const v = M.streamOf((await mp4({ video_resolution: '160x90' })).probe, 'video');
            expect([v.width, v.height]).to.deep.equal([160, 90]);
        });

        it('video_fps 10 → about 10 frames per second (about 30 frames in 3 s)', async function () {
            const r = await mp4({ video_fps: 10 });
            const v = M.streamOf(r.probe, 'video');
            near(M.rate(v.avg_frame_rate), 10, 0.5, 'avg_frame_rate');
            near(M.withSaved(r.buf, 'out.mp4', M.countFrames), 30, 2, 'frames');
        });

        it('video_codec copy: the h264 stream is copied (same codec, frames and packet sizes)', async function () {
            const r = await mp4({ video_codec: 'copy' });
            const v = M.streamOf(r.probe, 'video');
            expect(v.codec_name).to.equal('h264');
            M.withSaved(r.buf, 'out.mp4', (f) => {
                expect(M.countFrames(f), 'frames').to.equal(M.countFrames(inMp4));
                expect(M.videoPacketSizes(f), 'packet sizes').to.deep.equal(M.videoPacketSizes(inMp4));
            });
        });

        it('audio_codec none: video only, no audio stream', async function () {
            const r = await mp4({ audio_codec: 'none' });
            expect(M.streamsOf(r.probe, 'audio')).to.have.lengthOf(0);
            expect(M.streamOf(r.probe, 'video').codec_name).to.equal('h264');
        });

        it('video_bitrate 200 on a noisy clip → video at most about 400 kbit/s', async function () {
            const inRate = Number(M.streamOf(M.probe(noisyMp4), 'video').bit_rate);
            expect(inRate, 'fixture bitrate').to.be.above(2000000);
            const r = await mp4({ video_bitrate: 200 }, noisyMp4);
            const v = M.streamOf(r.probe, 'video');
            const rate = Number(v.bit_rate) ||
                r.buf.length * 8 / Number(r.probe.format.duration);
            expect(rate, 'video bit_rate').to.be.at.most(400000);
        });

        it('video_ratio "16:9" → display aspect ratio 16:9', async function () {
            const v = M.streamOf((await mp4({ video_ratio: '16:9' })).probe, 'video');
            expect(v.display_aspect_ratio).to.equal('16:9');
        });

        it('video_crf 45 gives a much smaller video than video_crf 5', async function () {
            const hi = M.streamOf((await mp4({ video_crf: 45 })).probe, 'video');
            const lo = M.streamOf((await mp4({ video_crf: 5 })).probe, 'video');
            expect(Number(hi.bit_rate), 'crf 45 ' + hi.bit_rate + ' vs crf 5 ' + lo.bit_rate)
                .to.be.below(Number(lo.bit_rate) / 3);
        });

        it('video_codec vp8 for webm → VP8', async function () {
            const r = await m.convertProbe({ inputformat: 'mp4', outputformat: 'webm', file: inMp4,
                options: { video_codec: 'vp8' } });
            expect(M.streamOf(r.probe, 'video').codec_name).to.equal('vp8');
        });

        it('video_codec av1 for mkv → AV1', async function () {
            const r = await m.convertProbe({ inputformat: 'mp4', outputformat: 'mkv', file: inMp4,
                options: { video_codec: 'av1' } });
            const v = M.streamOf(r.probe, 'video');
            expect([v.codec_name, v.width, v.height]).to.deep.equal(['av1', 320, 240]);
        });

        it('faststart true: the "moov" box comes before "mdat"', async function () {
            const r = await mp4({ faststart: true });
            const types = M.mp4Boxes(r.buf).map((b) => b.type);
            expect(types).to.include('moov');
            expect(types).to.include('mdat');
            expect(types.indexOf('moov'), 'box order ' + types.join(',')).to.be.below(types.indexOf('mdat'));
        });

        it('strip_metatags true drops the input\'s title tag', async function () {
            expect(M.probe(titledMp4).format.tags.title, 'fixture title').to.equal('Hello');
            const r = await mp4({ strip_metatags: true }, titledMp4);
            expect((r.probe.format.tags || {}).title).to.equal(undefined);
        });

        it('without strip_metatags the title tag is kept', async function () {
            const r = await mp4({}, titledMp4);
            expect((r.probe.format.tags || {}).title).to.equal('Hello');
        });
    });

    describe('trim and audio options', function () {
        it('trim_from 1 + trim_to 2 → 1 s long', async function () {
            const r = await mp4({ trim_from: 1, trim_to: 2 });
            near(r.probe.format.duration, 1, 0.15, 'duration');
        });

        it('trim_to "00:00:02" → 2 s long', async function () {
            const r = await mp4({ trim_to: '00:00:02' });
            near(r.probe.format.duration, 2, 0.15, 'duration');
        });

        it('trim_from 2.5 on a clip red 2 s then blue 2 s → 1.5 s starting blue', async function () {
            const r = await mp4({ trim_from: 2.5 }, redBlue);
            near(r.probe.format.duration, 1.5, 0.15, 'duration');
            const [red, green, blue] = M.withSaved(r.buf, 'out.mp4', (f) => M.rgbAt(f, 160, 120));
            expect(red < 50 && green < 50 && blue > 200, 'first frame ' + [red, green, blue]).to.equal(true);
        });

        it('audio_bitrate 32 → an MP3 of 32 kbit/s', async function () {
            const r = await m.convertProbe({ inputformat: 'mp4', outputformat: 'mp3', file: inMp4,
                options: { audio_bitrate: 32 } });
            near(Number(r.probe.streams[0].bit_rate), 32000, 2000, 'bit_rate');
        });

        it('audio_normalize "loudnorm" raises a quiet tone by at least 10 dB', async function () {
            const before = M.volume(quietWav);
            const r = await m.convertProbe({ inputformat: 'wav', outputformat: 'mp3', file: quietWav,
                options: { audio_normalize: 'loudnorm' } });
            const after = M.withSaved(r.buf, 'out.mp3', M.volume);
            expect(after.mean, 'mean_volume ' + before.mean + ' → ' + after.mean)
                .to.be.at.least(before.mean + 10);
        });

        it('audio_normalize "+10db" raises the mean volume by at least 5 dB', async function () {
            const before = M.volume(inMp4);
            const r = await m.convertProbe({ inputformat: 'mp4', outputformat: 'mp3', file: inMp4,
                options: { audio_normalize: '+10db' } });
            const after = M.withSaved(r.buf, 'out.mp3', M.volume);
            expect(after.mean, 'mean_volume ' + before.mean + ' → ' + after.mean)
                .to.be.at.least(before.mean + 5);
        });
    });

    describe('status of a media conversion', function () {
        let r;
        const sent = { video_codec: 'vp9', audio_bitrate: 64, my_own_option: 'x' };

        before(async function () {
            r = await m.convertOk({ inputformat: 'mp4', outputformat: 'webm', file: inMp4,
                options: sent });
        });

        it('converter.type is "ffmpeg" and converter.format "webm"', function () {
            expect(r.fin.converter.type).to.equal('ffmpeg');
            expect(r.fin.converter.format).to.equal('webm');
        });

        it('converter.options echo the sent options with their JSON types', function () {
            const o = r.fin.converter.options;
            expect(o.video_codec).to.equal('vp9');
            expect(o.audio_bitrate).to.equal(64);
            expect(o.my_own_option).to.equal('x');
        });

        it('converter.options has null for every known media option not sent', function () {
            const o = r.fin.converter.options;
            const notNull = MEDIA_OPTIONS.filter((k) => !(k in sent) && o[k] !== null);
            expect(notNull, 'known options not null: ' + JSON.stringify(o)).to.deep.equal([]);
        });

        it('converter.duration is the input duration (a number, ≈ 3 s)', function () {
            expect(r.fin.converter.duration).to.be.a('number');
            near(r.fin.converter.duration, 3, 0.2, 'converter.duration');
        });

        it('finished: percent 100, a message, input and output described', function () {
            expect(r.fin.step).to.equal('finished');
            expect(r.fin.percent).to.equal(100);
            expect(r.fin.message).to.be.a('string').and.not.equal('');
            expect(r.fin.input.filename).to.equal('in.mp4');
            expect(r.fin.input.size).to.equal(fs.statSync(inMp4).size);
            expect(r.fin.output.filename).to.equal('in.webm');
            expect(r.fin.output.files).to.equal(undefined);
        });
    });

    describe('progress of a longer conversion', function () {
        let long;

        before(function () {
            long = M.clip(dir, 'long.mp4', { seconds: 10, size: '640x480' });
        });

        it('a 10 s 640x480 clip → webm polled without wait: percent a number, never going down', async function () {
            this.timeout(120000);
            const proc = await m.api.process({ inputformat: 'mp4', outputformat: 'webm' });
            const st = H.expectJson(await m.api.start(proc, { input: 'upload' }));
            H.expectJson(await m.api.put(st, 'long.mp4', fs.readFileSync(long)));
            const seen = [];
            let last;
            const deadline = Date.now() + 110000;
            while (Date.now() < deadline) {
                last = H.expectJson(await m.api.status(proc));
                expect(last.percent, 'percent at step ' + last.step).to.be.a('number');
                seen.push(last.percent);
                if (last.step === 'convert')
                    expect(last.converter.type, 'converter.type while converting').to.equal('ffmpeg');
                if (last.step === 'finished' || last.step === 'error')
                    break;
                await H.sleep(100);
            }
            expect(last.step, 'ended ' + last.step + ': ' + last.message).to.equal('finished');
            expect(last.percent).to.equal(100);
            const known = seen.filter((p) => p !== -1);
            for (let i = 1; i < known.length; i++)
                expect(known[i], 'percent went down: ' + known.join(', ')).to.be.at.least(known[i - 1]);
            const between = known.filter((p) => p > 0 && p < 100);
            expect(between.length, 'no progress between 0 and 100 in ' + known.join(', ')).to.be.above(0);
            expect(last.converter.duration).to.be.a('number');
            near(last.converter.duration, 10, 0.3, 'converter.duration');
        });
    });

    describe('bad options → 400 naming the option', function () {
        let data;

        before(function () {
            data = fs.readFileSync(inMp4);
        });

        async function rejects(outputformat, options, name) {
            const proc = await m.api.process({ inputformat: 'mp4', outputformat });
            const res = await m.api.start(proc, { input: 'base64', file: data.toString('base64'),
                filename: 'in.mp4', outputformat, converteroptions: options, wait: true },
            { timeout: 60000 });
            H.expectFailedStatus(res, 400, proc, name);
        }

        it('video_codec "xyz"', () => rejects('mp4', { video_codec: 'xyz' }, 'video_codec'));
        it('video_crf 99', () => rejects('mp4', { video_crf: 99 }, 'video_crf'));
        it('video_resolution "abc"', () => rejects('mp4', { video_resolution: 'abc' }, 'video_resolution'));
        it('audio_channels 0', () => rejects('mp4', { audio_channels: 0 }, 'audio_channels'));
        it('audio_normalize "loud"', () => rejects('mp4', { audio_normalize: 'loud' }, 'audio_normalize'));
        it('trim_from "x"', () => rejects('mp4', { trim_from: 'x' }, 'trim_from'));
        it('thumbnail_format "bmp"', () => rejects('mp4', { thumbnail_count: 1, thumbnail_format: 'bmp' },
            'thumbnail_format'));
        it('thumbnail_size "0x0"', () => rejects('mp4', { thumbnail_count: 1, thumbnail_size: '0x0' },
            'thumbnail_size'));
        it('video_codec h265 for webm (the container cannot hold it)',
            () => rejects('webm', { video_codec: 'h265' }, 'video_codec'));
    });
});
