// SPDX-License-Identifier: MIT
// client-video.test.js - video and audio through the official CloudConvert v1 Node.js client
// cloudconvert@1.1.2: upload from a file stream, wait, download to a file, mode info (L1).
'use strict';
const fs = require('fs');
const path = require('path');
const { expect } = require('chai');
const { startServer } = require('../../lib/server');
const { ClientGuard, clientCall: ok } = require('../../lib/compat-client');
const M = require('../../lib/media');

let srv;
let tmp;
let inMp4;
const guard = new ClientGuard();

function keyedApi() {
    return guard.api(srv, srv.apikey);
}

describe('official client cloudconvert@1.1.2 with video and audio', function () {
    this.timeout(60000);

    before(async function () {
        this.timeout(60000);
        guard.install();
        tmp = M.tmpDir('convertd-client-video-');
        inMp4 = M.clip(tmp, 'clip.mp4'); // 3 s, 320x240, h264 + aac
        srv = await startServer();
    });

    after(async function () {
        await guard.release(5000);
        if (srv) {
            await srv.stop();
            srv.cleanup();
        }
        if (tmp)
            fs.rmSync(tmp, { recursive: true, force: true });
    });

    describe('createProcess + start (upload from fs.createReadStream) + wait + download: mp4 → webm', function () {
        let proc;
        let dest;

        before(async function () {
            proc = await ok((cb) => keyedApi().createProcess({ inputformat: 'mp4', outputformat: 'webm' }, cb));
            await ok((cb) => proc.start({ outputformat: 'webm', input: 'upload',
                file: fs.createReadStream(inMp4) }, cb));
            await ok((cb) => proc.wait(cb));
            if (proc.data.step === 'finished') {
                dest = path.join(tmp, 'clip.webm');
                await ok((cb) => proc.download(fs.createWriteStream(dest), null, cb));
            }
        });

        it("ends in step 'finished' with percent 100, by converter ffmpeg", function () {
            expect(proc.data.step, proc.data.message).to.equal('finished');
            expect(proc.data.percent).to.equal(100);
            expect(proc.data.converter.type).to.equal('ffmpeg');
            expect(proc.data.output.filename).to.equal('clip.webm');
        });

        it('download() writes a WebM with VP9 320x240 and Opus audio', function () {
            const p = M.probe(dest);
            expect(p.format.format_name).to.match(/webm/);
            const v = M.streamOf(p, 'video');
            expect([v.codec_name, v.width, v.height]).to.deep.equal(['vp9', 320, 240]);
            expect(M.streamOf(p, 'audio').codec_name).to.equal('opus');
        });
    });

    describe('convert() shortcut with a file stream: mp4 → mp3 with converteroptions', function () {
        let proc;
        let dest;

        before(async function () {
            proc = await ok((cb) => keyedApi().convert({ inputformat: 'mp4', outputformat: 'mp3',
                input: 'upload', file: fs.createReadStream(inMp4),
                converteroptions: { audio_bitrate: 96 } }, cb));
            if (proc.data.step === 'finished') {
                dest = path.join(tmp, 'clip.mp3');
                await ok((cb) => proc.download(fs.createWriteStream(dest), null, cb));
            }
        });

        it("finishes and echoes audio_bitrate 96 in converter.options", function () {
            expect(proc.data.step, proc.data.message).to.equal('finished');
            expect(proc.data.converter.options.audio_bitrate).to.equal(96);
        });

        it('download() writes an MP3 with one audio stream of about 3 s', function () {
            const p = M.probe(dest);
            expect(p.streams.map((s) => [s.codec_type, s.codec_name])).to.deep.equal([['audio', 'mp3']]);
            expect(Number(p.format.duration)).to.be.within(2.8, 3.2);
        });
    });

    describe("convert() with mode 'info' and no outputformat", function () {
        let proc;

        before(async function () {
            proc = await ok((cb) => keyedApi().convert({ inputformat: 'mp4', mode: 'info',
                input: 'upload', file: fs.createReadStream(inMp4) }, cb));
        });

        it("finishes with process.data.info: format mp4, 320x240, duration ≈ 3", function () {
            expect(proc.data.step, proc.data.message).to.equal('finished');
            const info = proc.data.info;
            expect(info).to.be.an('object');
            expect(info.format).to.equal('mp4');
            expect([info.width, info.height]).to.deep.equal([320, 240]);
            expect(info.duration).to.be.a('number').within(2.9, 3.1);
        });

        it('info.streams has an h264 video and an aac audio stream', function () {
            const types = proc.data.info.streams.map((s) => s.type + ':' + s.codec).sort();
            expect(types).to.deep.equal(['audio:aac', 'video:h264']);
        });
    });
});
