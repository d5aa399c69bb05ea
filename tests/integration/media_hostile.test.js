// SPDX-License-Identifier: MIT
// media_hostile.test.js - hostile media inputs (security.md SEC-05..07, SEC-14): garbage,
// empty, truncated, playlists and concat lists pointing at /etc/passwd, huge declared sizes.
// Each ends in step error (422 with a message), reads nothing outside the job, and the server
// keeps serving and converting.
'use strict';
const { expect } = require('chai');
const crypto = require('crypto');
const fs = require('fs');
const path = require('path');
const { startServer } = require('../lib/server');
const H = require('../lib/http');
const M = require('../lib/media');

const PASSWD_RE = /root:[^:\n]*:0:0:/;

// A copy of a Matroska/MJPEG file whose container and JPEG headers all declare w x h.
// The source must be 320x256 (both sides two bytes wide in the EBML header).
function hugeMkv(src, dst, w, h) {
    const buf = Buffer.from(fs.readFileSync(src));
    const hex = (n) => n.toString(16).padStart(4, '0');
    const patches = [
        ['b0820140', 'b082' + hex(w)], // PixelWidth 320
        ['ba820100', 'ba82' + hex(h)], // PixelHeight 256
        ['ffc000110801000140', 'ffc0001108' + hex(h) + hex(w)], // SOF0 of each frame
    ];
    for (const [from, to] of patches) {
        const a = Buffer.from(from, 'hex');
        const b = Buffer.from(to, 'hex');
        let n = 0;
        for (let i = buf.indexOf(a); i >= 0; i = buf.indexOf(a, i + 1)) {
            b.copy(buf, i);
            n++;
        }
        if (n === 0)
            throw new Error('hugeMkv: pattern ' + from + ' not found in ' + src);
    }
    fs.writeFileSync(dst, buf);
    return dst;
}

describe('media: hostile inputs (SEC-05..07, SEC-14)', function () {
    this.timeout(60000);
    let server;
    let m;
    let dir;
    let small; // 96x72, 2 s: under --max-side 100
    let big; // 320x240, 2 s: over --max-side 100
    let realTs; // a real MPEG-TS that a playlist could point at
    let huge; // Matroska/MJPEG declaring 40000x40000

    before(async function () {
        this.timeout(60000);
        dir = M.tmpDir();
        small = M.clip(dir, 'small.mp4', { size: '96x72', seconds: 2 });
        big = M.clip(dir, 'big.mp4', { size: '320x240', seconds: 2 });
        realTs = M.clip(dir, 'real.ts', { size: '96x72', seconds: 2, extra: ['-f', 'mpegts'] });
        M.ffmpeg(['-f', 'lavfi', '-i', 'testsrc=size=320x256:rate=5', '-t', '1', '-c:v', 'mjpeg',
            '-pix_fmt', 'yuvj420p', path.join(dir, 'mj.mkv')]);
        huge = hugeMkv(path.join(dir, 'mj.mkv'), path.join(dir, 'huge.mkv'), 40000, 40000);
        server = await startServer({ args: ['--max-side', '100'] });
        m = M.mediaApi(server);
    });

    after(async function () {
        if (dir)
            fs.rmSync(dir, { recursive: true, force: true });
        await H.stopServer(server);
    });

    afterEach(function () {
        const died = H.serverDied(server);
        if (died)
            throw new Error(died);
    });

    // Create, start with upload, PUT data (whatever the PUT answers), GET ?wait.
    async function run(inputformat, outputformat, data, filename) {
        const proc = await m.api.process({ inputformat, outputformat });
        const started = H.expectJson(await m.api.start(proc, { input: 'upload' }));
        const put = await m.api.put(started, filename, data);
        const res = await m.api.status(proc, { wait: 'true' }, { timeout: 45000 });
        return { proc, started, put, res };
    }

    // The process failed with 422 and a message, nothing of /etc/passwd came back, the
    // process URL still answers the same, and no output can be downloaded.
    async function expectRejected(r, pattern) {
        const body = H.expectFailedStatus(r.res, 422, r.proc, pattern);
        expect(body.message).to.not.match(PASSWD_RE);
        expect(r.res.text()).to.not.match(PASSWD_RE);
        const again = await m.api.status(r.proc, { wait: 'true' }, { timeout: 10000 });
        expect(again.status, 'second GET').to.equal(422);
        expect(again.json().step).to.equal('error');
        if (r.started.output && r.started.output.url) {
            const dl = await H.request({ url: H.abs(r.started.output.url), timeout: 10000 });
            expect(dl.status, 'download of a failed process').to.not.equal(200);
            expect(dl.body.toString('latin1')).to.not.match(PASSWD_RE);
        }
        return body;
    }

    it('random bytes named .mp4 → 422', async function () {
        const junk = crypto.randomBytes(64 * 1024);
        await expectRejected(await run('mp4', 'webm', junk, 'junk.mp4'));
    });

    it('an empty file → 422', async function () {
        await expectRejected(await run('mp4', 'webm', Buffer.alloc(0), 'empty.mp4'));
    });

    it('a truncated mp4 (its first 2000 bytes, no moov) → 422', async function () {
        const whole = fs.readFileSync(big);
        const types = M.mp4Boxes(whole).map((b) => b.type);
        expect(types.indexOf('moov'), 'fixture has moov after mdat').to.be.above(types.indexOf('mdat'));
        await expectRejected(await run('mp4', 'mp4', whole.subarray(0, 2000), 'cut.mp4'));
    });

    it('an mp4 with its index first, cut in half → 422 "truncated"', async function () {
        const fast = path.join(dir, 'fast.mp4');
        M.ffmpeg(['-i', small, '-c', 'copy', '-movflags', '+faststart', fast]);
        const whole = fs.readFileSync(fast);
        const types = M.mp4Boxes(whole).map((b) => b.type);
        expect(types.indexOf('moov'), 'fixture has moov before mdat').to.be.below(types.indexOf('mdat'));
        const body = await expectRejected(await run('mp4', 'webm', whole.subarray(0, whole.length >> 1),
            'half.mp4'));
        expect(body.message).to.match(/truncated/);
    });

    it('a text file named .mp4 → 422', async function () {
        const text = Buffer.from('This is not a video.\n'.repeat(200));
        await expectRejected(await run('mp4', 'mp3', text, 'notes.mp4'));
    });

    function playlist() {
        return Buffer.from('#EXTM3U\n#EXT-X-VERSION:3\n#EXT-X-TARGETDURATION:2\n' +
            '#EXT-X-MEDIA-SEQUENCE:0\n#EXTINF:2.0,\nfile:///etc/passwd\n#EXTINF:2.0,\n/etc/passwd\n' +
            '#EXTINF:2.0,\n' + realTs + '\n#EXTINF:2.0,\nfile://' + realTs + '\n#EXT-X-ENDLIST\n');
    }

    it('an HLS playlist (segments /etc/passwd and a real file) as inputformat mp4 → 422', async function () {
        await expectRejected(await run('mp4', 'mp4', playlist(), 'list.mp4'));
    });

    it('the same HLS playlist as inputformat ts → 422', async function () {
        await expectRejected(await run('ts', 'mp4', playlist(), 'list.ts'));
    });

    it('an HLS playlist → mp3 (audio output) as inputformat mp4 → 422', async function () {
        await expectRejected(await run('mp4', 'mp3', playlist(), 'list.mp4'));
    });

    it('an ffconcat list (/etc/passwd, a real file) as inputformat mp4 → 422', async function () {
        const list = Buffer.from('ffconcat version 1.0\nfile \'/etc/passwd\'\nfile \'' + realTs + '\'\n' +
            'file \'' + small + '\'\n');
        await expectRejected(await run('mp4', 'mp4', list, 'concat.mp4'));
    });

    for (const fmt of ['mkv', 'ts', 'mpeg']) {
        it('an ffconcat list of a real file as inputformat ' + fmt + ' → 422', async function () {
            const list = Buffer.from('ffconcat version 1.0\nfile \'' + small + '\'\n');
            await expectRejected(await run(fmt, 'mp4', list, 'concat.' + fmt));
        });
    }

    it('a Matroska/MJPEG file declaring 40000x40000 → 422', async function () {
        await expectRejected(await run('mkv', 'mp4', fs.readFileSync(huge), 'huge.mkv'));
    });

    it('a 320x240 video with --max-side 100 → 422 naming the size', async function () {
        const body = await expectRejected(await run('mp4', 'webm', fs.readFileSync(big), 'big.mp4'));
        expect(body.message).to.match(/too large|too big|size|resolution|dimension|pixels|320/i);
    });

    it('a 320x240 video → png thumbnail with --max-side 100 → 422', async function () {
        await expectRejected(await run('mp4', 'png', fs.readFileSync(big), 'big.mp4'));
    });

    for (const fmt of ['m3u8', 'hls', 'concat', 'ffconcat']) {
        it('inputformat "' + fmt + '" → 400 not supported, and not listed', async function () {
            H.expectError(await m.api.create({ inputformat: fmt, outputformat: 'mp4' }), 400,
                'This conversiontype is not supported!');
            const list = H.expectJson(await H.request({ url: server.base + '/conversiontypes',
                query: { inputformat: fmt } }));
            expect(list).to.deep.equal([]);
        });
    }

    it('after all that, a normal 96x72 mp4 → webm still converts', async function () {
        const r = await m.convertProbe({ inputformat: 'mp4', outputformat: 'webm', file: small });
        const v = M.streamOf(r.probe, 'video');
        expect([v.codec_name, v.width, v.height]).to.deep.equal(['vp9', 96, 72]);
    });

    it('the server log holds no line of /etc/passwd', function () {
        expect(server.log()).to.not.match(PASSWD_RE);
    });
});
