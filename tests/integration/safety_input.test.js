// SPDX-License-Identifier: MIT
// safety_input.test.js - hostile inputs (SEC-09, SEC-14, SEC-16, SEC-17): type sniffing,
// truncated files, pixel bombs, hostile upload names, Content-Disposition, ZIP entry names.
'use strict';
const { expect } = require('chai');
const crypto = require('crypto');
const fs = require('fs');
const os = require('os');
const path = require('path');
const { startServer } = require('../lib/server');
const U = require('../lib/safety_util');

// Names of every file and folder under `dir` (depth-limited; vanishing entries ignored).
function walk(dir, depth, skip, out) {
    out = out || [];
    let ents;
    try {
        ents = fs.readdirSync(dir, { withFileTypes: true });
    } catch (e) {
        return out;
    }
    for (const e of ents) {
        const p = path.join(dir, e.name);
        if (skip && skip(p))
            continue;
        out.push(p);
        if (depth > 0 && e.isDirectory() && !e.isSymbolicLink())
            walk(p, depth - 1, skip, out);
    }
    return out;
}

describe('hostile inputs: types, bombs, names (SEC-09, SEC-14, SEC-16, SEC-17)', function () {
    this.timeout(20000);
    let server;
    let api;
    let dir;
    let png;

    before(async function () {
        this.timeout(30000);
        dir = U.tmpDir();
        png = U.pngSmall(48, 32);
        server = await startServer({});
        api = new U.Api(server);
    });

    after(async function () {
        if (server) {
            await server.stop();
            server.cleanup();
        }
        if (dir)
            fs.rmSync(dir, { recursive: true, force: true });
    });

    // create + start input=upload, PUT `bytes` as `name`, GET ?wait. Returns {proc, st, put, fin}.
    async function convertUpload(inputformat, outputformat, name, bytes, startExtra) {
        const proc = await api.create({ inputformat, outputformat });
        const st = U.expectStatus(await api.start(proc, Object.assign({ input: 'upload' },
            startExtra || {})), 200).json;
        const put = await api.upload(st, name, bytes);
        const fin = await api.status(proc, true);
        return { proc, st, put, fin };
    }

    function expectFailed(r, re) {
        expect(r.put.status, 'upload: ' + U.describeRes(r.put)).to.equal(200);
        expect(r.fin.status, U.describeRes(r.fin)).to.equal(422);
        expect(r.fin.json.step).to.equal('error');
        expect(r.fin.json.code).to.equal(422);
        expect(r.fin.json.message).to.match(re);
    }

    describe('the real type decides, not the name (SEC-14)', function () {
        it('a PNG uploaded as inputformat=jpg → 422, the message says it is not a JPEG', async function () {
            const r = await convertUpload('jpg', 'png', 'photo.jpg', png);
            expectFailed(r, /not a jpe?g/i);
        });

        it('a text file as inputformat=png → 422, the message says it is not a PNG', async function () {
            const r = await convertUpload('png', 'jpg', 'image.png',
                Buffer.from('%!PS-Adobe-3.0\nthis is not an image at all\n'));
            expectFailed(r, /not a png/i);
        });
    });

    describe('a truncated PNG', function () {
        let r;

        it('→ 422 with a message', async function () {
            const big = fs.readFileSync(path.join(__dirname, '..', 'compat', 'node_modules',
                'cloudconvert', 'tests', 'integration', 'input.png'));
            const cut = big.slice(0, Math.floor(big.length / 2));
            r = await convertUpload('png', 'jpg', 'cut.png', cut);
            expectFailed(r, /\S/);
        });

        it('the server keeps serving: a following good conversion finishes', async function () {
            const ok = await convertUpload('png', 'jpg', 'good.png', png);
            expect(ok.fin.status, U.describeRes(ok.fin)).to.equal(200);
            expect(ok.fin.json.step).to.equal('finished');
            const dl = await U.request({ url: U.abs(ok.fin.json.output.url) });
            expect(dl.status).to.equal(200);
            expect(dl.body.slice(0, 3).equals(Buffer.from([0xff, 0xd8, 0xff]))).to.equal(true);
        });
    });

    describe('decompression bombs are refused before decoding (SEC-09)', function () {
        it('a PNG whose header claims 50000×50000 → 422 "image too large" within 5 s', async function () {
            const bomb = U.pngBomb(50000, 50000);
            expect(bomb.length).to.be.below(2000);
            const t0 = Date.now();
            const r = await convertUpload('png', 'jpg', 'bomb.png', bomb);
            const took = Date.now() - t0;
            expectFailed(r, /image too large/i);
            expect(took, 'ms until the error').to.be.below(5000);
        });

        it('an SVG of 100000×100000 → 422 "too large" within 5 s', async function () {
            const svg = '<?xml version="1.0"?>\n<svg xmlns="http://www.w3.org/2000/svg" ' +
                'width="100000" height="100000"><rect width="100%" height="100%" fill="red"/></svg>\n';
            const t0 = Date.now();
            const r = await convertUpload('svg', 'png', 'huge.svg', Buffer.from(svg));
            const took = Date.now() - t0;
            expectFailed(r, /too large/i);
            expect(took, 'ms until the error').to.be.below(5000);
        });
    });

    describe('image size caps (SEC-09)', function () {
        it('a PNG header claiming 40000×1 (a side over --max-side) → 422 "image too large"', async function () {
            const r = await convertUpload('png', 'jpg', 'wide.png', U.pngBomb(40000, 1));
            expectFailed(r, /image too large/i);
        });

        it('a PNG of 30000×1 (under every cap) still converts', async function () {
            const r = await convertUpload('png', 'jpg', 'wide-ok.png', U.pngSmall(30000, 1));
            expect(r.fin.status, U.describeRes(r.fin)).to.equal(200);
            expect(r.fin.json.step).to.equal('finished');
        });
    });

    describe('SVG external references (SEC-08, SEC-07)', function () {
        let rec;
        let r;
        let redPath;

        before(async function () {
            this.timeout(20000);
            rec = await U.startLoopbackRecorder({});
            redPath = path.join(dir, 'red.png');
            U.vips(['black', path.join(dir, 'k.png'), '40', '40', '--bands', '3']);
            U.vips(['linear', path.join(dir, 'k.png'), redPath, '1 1 1', '255 0 0', '--uchar']);
            const svg = '<?xml version="1.0"?>\n<svg xmlns="http://www.w3.org/2000/svg" ' +
                'xmlns:xlink="http://www.w3.org/1999/xlink" width="40" height="40">' +
                '<rect width="40" height="40" fill="#00ff00"/>' +
                '<image x="0" y="0" width="40" height="40" xlink:href="file://' + redPath + '"/>' +
                '<image x="0" y="0" width="40" height="40" href="' + rec.url('/pixel.png') + '"/>' +
                '<image x="0" y="0" width="40" height="40" xlink:href="http://[::1]:' + rec.port + '/p6.png"/>' +
                '</svg>\n';
            r = await convertUpload('svg', 'png', 'refs.svg', Buffer.from(svg));
            await U.sleep(500);
        });

        after(async function () {
            if (rec)
                await rec.close();
        });

        it('no request reaches a local server through an SVG <image> href', function () {
            expect(rec.requests.map((q) => q.url)).to.deep.equal([]);
        });

        it('a file:// image is not embedded: the output (if any) is not red', async function () {
            if (r.fin.status === 422)
                return;
            expect(r.fin.status, U.describeRes(r.fin)).to.equal(200);
            const dl = await U.request({ url: U.abs(r.fin.json.output.url) });
            const out = path.join(dir, 'refs-out.png');
            fs.writeFileSync(out, dl.body);
            const px = U.vips(['getpoint', out, '20', '20']).trim().split(/\s+/).map(Number);
            expect(px.slice(0, 3), 'pixel (20,20)').to.not.deep.equal([255, 0, 0]);
        });
    });

    describe('hostile upload names (SEC-16, SEC-17)', function () {
        const tag = 'zq' + crypto.randomBytes(4).toString('hex');
        const names = [
            '../../' + tag + '-up.png',
            '../../../../../../tmp/' + tag + '-tmp.png',
            '/abs/' + tag + '-abs.png',
            'a\\..\\..\\' + tag + '-bs.png',
            tag + '-cr\r\nSet-Cookie: x=1.png',
            tag + '-"quoted" \'single\'.png',
            '-' + tag + '-dash.png',
            '.' + tag + '-dot.png',
            '..' + tag + '-dotdot.png',
            tag + '-rtl\u202Egnp.exe.png',
            tag + '-' + 'a'.repeat(255 - tag.length - 5) + '.png',
            '$(touch ' + tag + '-pwned).png',
            '`touch ' + tag + '-pwned2`;|&<>.png',
            tag + '-tab\there\x01\x7f.png',
            tag + '-ünï😀.png',
        ];
        const results = [];

        before(async function () {
            this.timeout(60000);
            expect(Buffer.byteLength(names[10])).to.equal(255);
            for (let i = 0; i < names.length; i += 4) {
                const batch = names.slice(i, i + 4);
                const rs = await Promise.all(batch.map((n) => convertUpload('png', 'jpg', n, png)));
                rs.forEach((r, j) => results.push(Object.assign(r, { name: batch[j] })));
            }
            for (const r of results) {
                if (r.fin.status === 200)
                    r.dl = await U.request({ url: U.abs(r.fin.json.output.url) });
            }
        });

        it('every upload is accepted and converted', function () {
            for (const r of results) {
                expect(r.put.status, JSON.stringify(r.name) + ' upload: ' + U.describeRes(r.put))
                    .to.equal(200);
                expect(r.fin.status, JSON.stringify(r.name) + ': ' + U.describeRes(r.fin)).to.equal(200);
                expect(r.fin.json.step).to.equal('finished');
            }
        });

        it('output.filename: no "/", "\\", control character, leading dot, at most 255 bytes', function () {
            for (const r of results) {
                const f = r.fin.json.output.filename;
                const what = JSON.stringify(r.name) + ' → ' + JSON.stringify(f);
                expect(f, what).to.be.a('string');
                expect(f.length, what).to.be.above(0);
                expect(f, what).to.not.contain('/');
                expect(f, what).to.not.contain('\\');
                expect(f, what).to.not.match(/[\x00-\x1f\x7f]/);
                expect(f, what).to.not.match(/^\./);
                expect(f, what).to.not.match(/^\.\./);
                expect(Buffer.byteLength(f), what).to.be.at.most(255);
                expect(f, what).to.match(/\.jpg$/);
            }
        });

        it('the download is served with a well-formed Content-Disposition', function () {
            const attr = /^[A-Za-z0-9!#$&+\-.^_`|~%]*$/;
            for (const r of results) {
                const what = JSON.stringify(r.name);
                expect(r.dl.status, what + ': ' + U.describeRes(r.dl)).to.equal(200);
                const cd = r.dl.headers['content-disposition'];
                expect(cd, what).to.be.a('string');
                const m = /^attachment; filename="([^"]*)"; filename\*=UTF-8''(\S+)$/.exec(cd);
                expect(m, what + ' → ' + JSON.stringify(cd)).to.not.equal(null);
                expect(m[1], what + ' ASCII fallback').to.match(/^[A-Za-z0-9._ -]+$/);
                expect(m[2], what + ' filename*').to.match(attr);
                expect(m[2], what + ' filename* escapes').to.not.match(/%(?![0-9A-Fa-f]{2})/);
                expect(decodeURIComponent(m[2]), what).to.equal(r.fin.json.output.filename);
            }
        });

        it('the downloads are the converted images (JPEG bytes)', function () {
            for (const r of results) {
                expect(r.dl.body.slice(0, 3).equals(Buffer.from([0xff, 0xd8, 0xff])),
                    JSON.stringify(r.name)).to.equal(true);
            }
        });

        it('no file named after an upload appeared outside the data folder', function () {
            const dataDir = path.resolve(server.dataDir);
            const skip = (p) => p === dataDir || p.startsWith(dataDir + path.sep);
            const found = [];
            const roots = [os.tmpdir(), path.dirname(dataDir), '/', process.cwd(), '/abs',
                path.dirname(path.dirname(dataDir))];
            for (const root of roots)
                for (const p of walk(root, root === '/' ? 0 : 2, skip))
                    if (path.basename(p).includes(tag))
                        found.push(p);
            expect(found).to.deep.equal([]);
            expect(fs.existsSync('/abs'), '/abs').to.equal(false);
        });

        it('no shell ran the metacharacters (no "-pwned" file anywhere under the data folder)', function () {
            const pwned = walk(server.dataDir, 6).filter((p) => /-pwned2?$/.test(path.basename(p)));
            expect(pwned).to.deep.equal([]);
        });
    });

    describe('a NUL in an upload name (SEC-16, SEC-18)', function () {
        it('is refused (400 JSON) or replaced — never cuts the name short', async function () {
            const proc = await api.create({ inputformat: 'png', outputformat: 'jpg' });
            const st = U.expectStatus(await api.start(proc, { input: 'upload' }), 200).json;
            const put = await api.upload(st, 'evil.sh\0tail.png', png);
            if (put.status === 400) {
                expect(put.json.code).to.equal(400);
                return;
            }
            expect(put.status, U.describeRes(put)).to.equal(200);
            expect(put.json.file, 'the saved name').to.not.contain('\0');
            expect(put.json.file, 'the saved name').to.match(/tail\.png$/);
            const fin = await api.status(proc, true);
            expect(fin.json.input.filename).to.match(/tail\.png$/);
            expect(fin.json.output.filename).to.not.contain('\0');
        });
    });

    describe('multi-frame output under a hostile name: ZIP entries (SEC-16)', function () {
        let fin;
        let zip;
        let entries;

        before(async function () {
            this.timeout(30000);
            const h = 30;
            for (const [n, v] of [['a', 0], ['b', 100], ['c', 200]]) {
                U.vips(['black', path.join(dir, 'black.png'), '40', String(h), '--bands', '3']);
                U.vips(['linear', path.join(dir, 'black.png'), path.join(dir, n + '.png'), '1',
                    String(v), '--uchar']);
            }
            U.vips(['arrayjoin', ['a', 'b', 'c'].map((n) => path.join(dir, n + '.png')).join(' '),
                path.join(dir, 'strip.png'), '--across', '1']);
            U.vips(['copy', path.join(dir, 'strip.png'), path.join(dir, 'anim.gif') + '[page-height=' + h + ']']);
            expect(U.vipsheader('n-pages', path.join(dir, 'anim.gif'))).to.equal('3');
            const gif = fs.readFileSync(path.join(dir, 'anim.gif'));
            const r = await convertUpload('gif', 'png', '../../..\\..\\/etc/.evil\r\n.gif', gif);
            expect(r.put.status, U.describeRes(r.put)).to.equal(200);
            fin = r.fin;
            expect(fin.status, U.describeRes(fin)).to.equal(200);
            zip = await U.request({ url: U.abs(fin.json.output.url) });
            entries = U.zipNames(zip.body);
        });

        it('output.files lists 3 safe names and output.ext is zip', function () {
            expect(fin.json.output.ext).to.equal('zip');
            expect(fin.json.output.files).to.be.an('array');
            expect(fin.json.output.files.length).to.equal(3);
            for (const f of fin.json.output.files) {
                expect(f).to.not.contain('/');
                expect(f).to.not.contain('\\');
                expect(f).to.not.match(/^\./);
                expect(f).to.not.match(/[\x00-\x1f\x7f]/);
            }
        });

        it('the ZIP has 3 entries with no "..", no leading "/", no "\\", no control character', function () {
            expect(zip.status).to.equal(200);
            expect(entries.length, JSON.stringify(entries)).to.equal(3);
            for (const e of entries) {
                expect(e, JSON.stringify(e)).to.not.contain('..');
                expect(e, JSON.stringify(e)).to.not.match(/^\//);
                expect(e, JSON.stringify(e)).to.not.contain('\\');
                expect(e, JSON.stringify(e)).to.not.contain('/');
                expect(e, JSON.stringify(e)).to.not.match(/[\x00-\x1f\x7f]/);
            }
        });

        it('the ZIP entries are exactly output.files', function () {
            expect(entries.slice().sort()).to.deep.equal(fin.json.output.files.slice().sort());
        });
    });
});
