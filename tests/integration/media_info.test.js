// SPDX-License-Identifier: MIT
// media_info.test.js - mode info for video and audio (info object, thumbnails), thumbnails
// next to a converted video, video → image (frame choice by time) and mode extract (L1).
'use strict';
const { expect } = require('chai');
const fs = require('fs');
const { startServer } = require('../lib/server');
const H = require('../lib/http');
const M = require('../lib/media');
const images = require('../lib/images');

function near(actual, expected, tol, what) {
    expect(actual, what).to.be.a('number');
    expect(actual, what + ' = ' + actual + ', expected ' + expected + ' ± ' + tol)
        .to.be.within(expected - tol, expected + tol);
}

describe('media: mode info, thumbnails, frames (L1)', function () {
    this.timeout(60000);
    let server;
    let m;
    let dir;
    let inMp4; // 3 s, 320x240, 25 fps, h264 yuv420p + aac 44.1 kHz stereo
    let inWav; // 3 s, 44.1 kHz stereo PCM
    let redBlue; // 2 s red then 2 s blue, 320x240

    before(async function () {
        this.timeout(60000);
        dir = M.tmpDir();
        inMp4 = M.clip(dir, 'in.mp4');
        inWav = M.tone(dir, 'tone.wav');
        redBlue = M.redThenBlue(dir, 'rb.mp4', 2);
        server = await startServer();
        m = M.mediaApi(server);
    });

    after(async function () {
        if (dir)
            fs.rmSync(dir, { recursive: true, force: true });
        await H.stopServer(server);
    });

    function byType(streams, type) {
        const list = (streams || []).filter((s) => s.type === type);
        expect(list, type + ' streams in ' + JSON.stringify(streams)).to.have.lengthOf(1);
        return list[0];
    }

    describe('mode info of an mp4 (create with mode=info, no outputformat)', function () {
        let r;
        let info;

        before(async function () {
            r = await m.convert({ inputformat: 'mp4', mode: 'info', file: inMp4 });
            info = r.fin && r.fin.info;
        });

        it('finishes (200, step finished) with an info object', function () {
            expect(r.res.status, r.res.text().slice(0, 300)).to.equal(200);
            expect(r.fin.step).to.equal('finished');
            expect(info).to.be.an('object');
        });

        it('info.format is "mp4" and info.size the input size', function () {
            expect(info.format).to.equal('mp4');
            expect(info.size).to.equal(fs.statSync(inMp4).size);
        });

        it('info.duration ≈ 3 (a number) and info.bitrate a positive integer', function () {
            near(info.duration, 3, 0.1, 'duration');
            expect(Number.isInteger(info.bitrate), 'bitrate ' + info.bitrate).to.equal(true);
            expect(info.bitrate).to.be.above(0);
        });

        it('info.width 320 and info.height 240', function () {
            expect([info.width, info.height]).to.deep.equal([320, 240]);
        });

        it('the video stream: h264, 320x240, fps 25, pix_fmt yuv420p', function () {
            const v = byType(info.streams, 'video');
            expect(v.codec).to.equal('h264');
            expect([v.width, v.height]).to.deep.equal([320, 240]);
            expect(v.fps).to.equal(25);
            expect(v.pix_fmt).to.equal('yuv420p');
        });

        it('the audio stream: aac, sample_rate 44100, 2 channels', function () {
            const a = byType(info.streams, 'audio');
            expect(a.codec).to.equal('aac');
            expect(a.sample_rate).to.equal(44100);
            expect(a.channels).to.equal(2);
        });

        it('makes no converted file (no output.url, no output.filename)', function () {
            const out = r.fin.output || {};
            expect(out.url, 'output.url').to.equal(undefined);
            expect(out.filename, 'output.filename').to.equal(undefined);
        });
    });

    it('mode info given at start (create with inputformat only) gives the same info', async function () {
        const r = await m.convertOk({ inputformat: 'mp4', file: inMp4, start: { mode: 'info' } });
        expect(r.fin.info.format).to.equal('mp4');
        expect([r.fin.info.width, r.fin.info.height]).to.deep.equal([320, 240]);
    });

    describe('mode info of a wav', function () {
        let info;

        before(async function () {
            info = (await m.convertOk({ inputformat: 'wav', mode: 'info', file: inWav })).fin.info;
        });

        it('format "wav", duration ≈ 3, no width or height', function () {
            expect(info.format).to.equal('wav');
            near(info.duration, 3, 0.05, 'duration');
            expect(info).to.not.have.property('width');
            expect(info).to.not.have.property('height');
        });

        it('one audio stream: pcm_s16le, 44100 Hz, 2 channels; no video stream', function () {
            const a = byType(info.streams, 'audio');
            expect([a.codec, a.sample_rate, a.channels]).to.deep.equal(['pcm_s16le', 44100, 2]);
            expect(info.streams.filter((s) => s.type === 'video')).to.have.lengthOf(0);
        });
    });

    describe('mode info with thumbnail_count 3, thumbnail_size "160x90", thumbnail_format "png"', function () {
        let fin;
        const names = ['in-1.png', 'in-2.png', 'in-3.png'];

        before(async function () {
            fin = (await m.convertOk({ inputformat: 'mp4', mode: 'info', file: inMp4,
                options: { thumbnail_count: 3, thumbnail_size: '160x90', thumbnail_format: 'png' } })).fin;
        });

        it('still has the info object', function () {
            expect(fin.info.format).to.equal('mp4');
            expect(fin.info.width).to.equal(320);
        });

        it('output.files lists in-1.png, in-2.png, in-3.png; output is in.zip', function () {
            expect(fin.output.files).to.deep.equal(names);
            expect(fin.output.filename).to.equal('in.zip');
            expect(fin.output.ext).to.equal('zip');
        });

        it('output.url serves a ZIP of exactly those files', async function () {
            const zip = await m.download(fin);
            expect(H.zipEntries(zip).slice().sort()).to.deep.equal(names);
        });

        it('each output.url/NAME serves a 160x90 PNG', async function () {
            for (const name of names) {
                const buf = await m.download(fin, name);
                expect(M.pngSize(buf), name).to.deep.equal({ width: 160, height: 90 });
                expect(images.decodeBuffer(buf, name).loader, name).to.equal('pngload');
            }
        });
    });

    it('thumbnail_format "JPEG" (any case) gives .jpg JPEG thumbnails', async function () {
        const fin = (await m.convertOk({ inputformat: 'mp4', mode: 'info', file: inMp4,
            options: { thumbnail_count: 2, thumbnail_format: 'JPEG' } })).fin;
        expect(fin.output.files).to.deep.equal(['in-1.jpg', 'in-2.jpg']);
        const img = images.decodeBuffer(await m.download(fin, 'in-2.jpg'), 'in-2.jpg');
        expect([img.loader, img.width, img.height]).to.deep.equal(['jpegload', 320, 240]);
    });

    describe('thumbnails in convert mode', function () {
        let fin;

        before(async function () {
            fin = (await m.convertOk({ inputformat: 'mp4', outputformat: 'mp4', file: inMp4,
                options: { thumbnail_count: 2 } })).fin;
        });

        it('mp4 → mp4 with thumbnail_count 2: files in.mp4, in-1.jpg, in-2.jpg', function () {
            expect(fin.output.files).to.deep.equal(['in.mp4', 'in-1.jpg', 'in-2.jpg']);
            expect(fin.output.filename).to.equal('in.zip');
        });

        it('in.mp4 is the converted video and in-1.jpg a JPEG', async function () {
            const video = await m.download(fin, 'in.mp4');
            const v = M.streamOf(M.probeBuffer(video, 'in.mp4'), 'video');
            expect([v.codec_name, v.width, v.height]).to.deep.equal(['h264', 320, 240]);
            const jpg = await m.download(fin, 'in-1.jpg');
            expect(M.isJpeg(jpg), 'JPEG signature').to.equal(true);
            expect(images.decodeBuffer(jpg, 'in-1.jpg').loader).to.equal('jpegload');
        });
    });

    describe('video → image', function () {
        it('mp4 → jpg: one 320x240 JPEG named in.jpg, no files list', async function () {
            const r = await m.convertOk({ inputformat: 'mp4', outputformat: 'jpg', file: inMp4 });
            expect(r.fin.output.filename).to.equal('in.jpg');
            expect(r.fin.output.ext).to.equal('jpg');
            expect(r.fin.output.files).to.equal(undefined);
            expect(r.fin.converter.type).to.equal('ffmpeg');
            const img = images.decodeBuffer(await m.download(r.fin), 'in.jpg');
            expect([img.loader, img.width, img.height]).to.deep.equal(['jpegload', 320, 240]);
        });

        it('thumbnail_size "100x" → a JPEG 100 wide, aspect kept (75, or 76 rounded even)', async function () {
            const r = await m.convertOk({ inputformat: 'mp4', outputformat: 'jpg', file: inMp4,
                options: { thumbnail_size: '100x' } });
            const img = images.decodeBuffer(await m.download(r.fin), 'in.jpg');
            expect(img.width).to.equal(100);
            expect(img.height).to.be.within(75, 76);
        });

        it('thumbnail_time 0.5 → a JPEG that decodes', async function () {
            const r = await m.convertOk({ inputformat: 'mp4', outputformat: 'jpg', file: inMp4,
                options: { thumbnail_time: 0.5 } });
            const img = images.decodeBuffer(await m.download(r.fin), 'in.jpg');
            expect([img.loader, img.width, img.height]).to.deep.equal(['jpegload', 320, 240]);
        });

        async function pixelAt(time) {
            const r = await m.convertOk({ inputformat: 'mp4', outputformat: 'png', file: redBlue,
                options: { thumbnail_time: time } });
            expect(r.fin.converter.type).to.equal('ffmpeg');
            const buf = await m.download(r.fin);
            return images.pixelOfBuffer(buf, 'rb.png', 160, 120).slice(0, 3);
        }

        it('red 2 s then blue 2 s → png at thumbnail_time 0.5 is red', async function () {
            const [r, g, b] = await pixelAt(0.5);
            expect(r > 200 && g < 50 && b < 50, 'pixel ' + [r, g, b]).to.equal(true);
        });

        it('red 2 s then blue 2 s → png at thumbnail_time 3 is blue', async function () {
            const [r, g, b] = await pixelAt(3);
            expect(r < 50 && g < 50 && b > 200, 'pixel ' + [r, g, b]).to.equal(true);
        });
    });

    describe('mode extract: mp4 (3 s, 25 fps) → jpg with video_fps 1', function () {
        let fin;
        const names = ['in-1.jpg', 'in-26.jpg', 'in-51.jpg'];

        before(async function () {
            fin = (await m.convertOk({ inputformat: 'mp4', outputformat: 'jpg', mode: 'extract',
                file: inMp4, options: { video_fps: 1 } })).fin;
        });

        it('output.files are the frames 1, 26 and 51 of the input', function () {
            expect(fin.output.files).to.deep.equal(names);
            expect(fin.output.filename).to.equal('in.zip');
        });

        it('the ZIP holds exactly those files', async function () {
            const zip = await m.download(fin);
            expect(H.zipEntries(zip).slice().sort()).to.deep.equal(names.slice().sort());
        });

        it('each file is a 320x240 JPEG', async function () {
            for (const name of names) {
                const img = images.decodeBuffer(await m.download(fin, name), name);
                expect([img.loader, img.width, img.height], name).to.deep.equal(['jpegload', 320, 240]);
            }
        });
    });
});
