// SPDX-License-Identifier: MIT
// docs_web.test.js - web pages through the real server and headless Chromium: a page served
// on 127.0.0.1 (inputformat=website, input=url) rendered to png/jpg/pdf through convertd's
// address-guarded proxy, uploaded .html pages, the address guard without --allow-private-urls,
// local files a page points at, and no Chromium process outliving its job.
'use strict';
const { expect } = require('chai');
const fs = require('fs');
const path = require('path');
const { execFileSync } = require('child_process');
const { startServer } = require('../lib/server');
const { startFileServer } = require('../lib/fileserver');
const H = require('../lib/http');
const M = require('../lib/media');
const D = require('../lib/docs');

const CHROMIUM = '/usr/lib/chromium/chromium';

// A page with a 300x200 block of a given colour at the top left on white.
function blockPage(rgb, extra) {
    const c = 'rgb(' + rgb.join(',') + ')';
    return '<!doctype html><html><head><meta charset="utf-8"><title>Block</title><style>' +
        'html,body{margin:0;background:#fff} #b{position:absolute;left:0;top:0;width:300px;' +
        'height:200px;background:' + c + '}</style></head><body><div id="b"></div>' +
        '<p style="margin-top:220px;font:20px sans-serif">Convertd web page text</p>' +
        (extra || '') + '</body></html>';
}

function show(res) {
    return res.status + ' ' + res.text().slice(0, 500);
}

function near(actual, expected, what) {
    for (let i = 0; i < 3; i++)
        expect(Math.abs(actual[i] - expected[i]), what + ' ' + JSON.stringify(actual) + ' vs ' +
            JSON.stringify(expected)).to.be.at.most(12);
}

// Chromium processes whose command line names this server's data folder (their profile lives
// in the job folder).
function chromiumsOf(server) {
    const found = [];
    for (const pid of fs.readdirSync('/proc').filter((p) => /^\d+$/.test(p))) {
        try {
            const exe = fs.readlinkSync('/proc/' + pid + '/exe');
            const cmd = fs.readFileSync('/proc/' + pid + '/cmdline', 'latin1');
            if (exe.startsWith('/usr/lib/chromium/') && cmd.includes(server.dataDir))
                found.push(Number(pid));
        } catch (e) {
            // gone meanwhile, or not ours to read
        }
    }
    return found;
}

async function noChromiumWithin(server, ms) {
    const until = Date.now() + ms;
    let left = chromiumsOf(server);
    while (left.length > 0 && Date.now() < until) {
        await H.sleep(100);
        left = chromiumsOf(server);
    }
    return left;
}

describe('documents: web pages (chromium)', function () {
    this.timeout(60000);
    let dir;
    let origin; // serves the test pages on 127.0.0.1
    let server; // --allow-private-urls
    let m;

    before(async function () {
        if (!fs.existsSync(CHROMIUM)) {
            console.log('    skipped: ' + CHROMIUM + ' is not installed (scripts/install-deps.sh ' +
                'installs it)');
            this.skip();
        }
        dir = D.tmpDir('web-');
        fs.writeFileSync(path.join(dir, 'red.html'), blockPage([220, 30, 30]));
        fs.writeFileSync(path.join(dir, 'tall.html'), blockPage([30, 160, 40],
            '<div style="height:3000px"></div><p>bottom</p>'));
        origin = await startFileServer(dir, {
            '/page': (req, res) => {
                res.writeHead(200, { 'Content-Type': 'text/html; charset=utf-8' });
                res.end(blockPage([40, 60, 200], '<img src="/pixel.png" width="10" height="10">'));
            },
            '/pixel.png': (req, res) => {
                const png = execFileSync('vips', ['black', '.png', '1', '1']);
                res.writeHead(200, { 'Content-Type': 'image/png' });
                res.end(png);
            },
        });
        server = await startServer({ args: ['--allow-private-urls'] });
        m = M.mediaApi(server);
    });

    after(async function () {
        if (origin)
            await origin.close();
        if (server)
            await H.stopServer(server);
        if (dir)
            fs.rmSync(dir, { recursive: true, force: true });
    });

    afterEach(function () {
        const died = server && H.serverDied(server);
        if (died)
            throw new Error(died);
    });

    async function website(srv, url, outputformat, options, extra) {
        const api = H.api(srv);
        const proc = await api.process({ inputformat: 'website', outputformat });
        const res = await api.start(proc, Object.assign({ input: 'url', file: url, wait: true,
            converteroptions: options || {} }, extra || {}), { timeout: 60000 });
        return { api, proc, res };
    }

    describe('/conversiontypes', function () {
        let rows;

        before(async function () {
            rows = H.expectJson(await H.request({ url: server.base + '/conversiontypes' }), 200);
        });

        it('chromium lists website and html → png, jpg, pdf', function () {
            const missing = [];
            for (const i of ['website', 'html']) {
                for (const o of ['png', 'jpg', 'pdf']) {
                    if (!rows.some((r) => r.inputformat === i && r.outputformat === o &&
                        r.converter === 'chromium'))
                        missing.push(i + ' → ' + o);
                }
            }
            expect(missing).to.deep.equal([]);
        });

        it('its rows offer screen_width and screen_height (compat L3) and the pdf page options', function () {
            const r = rows.find((x) => x.inputformat === 'website' && x.outputformat === 'pdf');
            expect(Object.keys(r.converteroptions)).to.include.members(['screen_width',
                'screen_height', 'full_page', 'wait_time', 'print_background', 'page_size',
                'page_orientation', 'margin_top', 'margin_bottom', 'margin_left', 'margin_right']);
        });
    });

    describe('website → png at 800x600 through the proxy', function () {
        let r;

        before(async function () {
            r = await website(server, origin.url('/page'), 'png',
                { screen_width: 800, screen_height: 600 });
        });

        it('finishes with a png named after the page', function () {
            const st = H.expectJson(r.res, 200);
            expect(st.step, show(r.res)).to.equal('finished');
            expect(st.output.ext).to.equal('png');
            expect(st.input.filename).to.equal('127.0.0.1.website');
            expect(st.output.filename).to.equal('127.0.0.1.png');
        });

        it('is 800x600 and shows the page: the blue block at (100,100), white at (600,400)', async function () {
            const buf = await m.download(r.res.json());
            expect(M.pngSize(buf)).to.deep.equal({ width: 800, height: 600 });
            near(D.pixelOf(buf, 'shot.png', 100, 100), [40, 60, 200], 'block pixel');
            near(D.pixelOf(buf, 'shot.png', 600, 400), [255, 255, 255], 'background pixel');
        });

        it('the page and its image were fetched by the proxy', function () {
            const paths = origin.requests.map((q) => q.url);
            expect(paths).to.include('/page');
            expect(paths).to.include('/pixel.png');
        });

        it('no Chromium process outlives the job', async function () {
            expect(await noChromiumWithin(server, 3000)).to.deep.equal([]);
        });
    });

    it('website → jpg honours screen_width/screen_height', async function () {
        const r = await website(server, origin.url('/red.html'), 'jpg',
            { screen_width: 640, screen_height: 480, quality: 90 });
        const st = H.expectJson(r.res, 200);
        expect(st.step, show(r.res)).to.equal('finished');
        const buf = await m.download(st);
        expect(D.isJpeg(buf)).to.equal(true);
        const h = D.imageHeader(buf, 'shot.jpg');
        expect([h.width, h.height]).to.deep.equal([640, 480]);
        near(D.pixelOf(buf, 'shot.jpg', 150, 100), [220, 30, 30], 'red block');
    });

    it('full_page captures the whole page height', async function () {
        const r = await website(server, origin.url('/tall.html'), 'png',
            { screen_width: 500, screen_height: 400, full_page: true });
        const st = H.expectJson(r.res, 200);
        expect(st.step, show(r.res)).to.equal('finished');
        const size = M.pngSize(await m.download(st));
        expect(size.width).to.equal(500);
        expect(size.height).to.be.above(3000);
    });

    it('website → pdf: A4 by default, letter landscape when asked, with the page text', async function () {
        const a4 = await website(server, origin.url('/red.html'), 'pdf', {});
        const st = H.expectJson(a4.res, 200);
        expect(st.step, show(a4.res)).to.equal('finished');
        const f = path.join(dir, 'page.pdf');
        fs.writeFileSync(f, await m.download(st));
        const info = D.run('pdfinfo', [f]);
        expect(info).to.match(/Page size:\s+595\.\d* x 841\.\d* pts/);
        expect(D.run('pdftotext', [f, '-'])).to.include('Convertd web page text');

        const letter = await website(server, origin.url('/red.html'), 'pdf',
            { page_size: 'letter', page_orientation: 'landscape' });
        const st2 = H.expectJson(letter.res, 200);
        expect(st2.step, show(letter.res)).to.equal('finished');
        fs.writeFileSync(f, await m.download(st2));
        expect(D.run('pdfinfo', [f])).to.match(/Page size:\s+792 x 612 pts/);
    });

    it('an uploaded .html page → png shows the page', async function () {
        const html = path.join(dir, 'upload.html');
        fs.writeFileSync(html, blockPage([250, 200, 0]));
        const r = await m.convertOk({ inputformat: 'html', outputformat: 'png', file: html,
            options: { screen_width: 400, screen_height: 300 } });
        const buf = await m.download(r.fin);
        expect(M.pngSize(buf)).to.deep.equal({ width: 400, height: 300 });
        near(D.pixelOf(buf, 'upload.png', 50, 50), [250, 200, 0], 'yellow block');
    });

    it('an uploaded page cannot pull in local files (file:// iframe, object, image)', async function () {
        const secret = path.join(dir, 'secret.txt');
        fs.writeFileSync(secret, 'TOPSECRETLOCALFILE\n');
        fs.chmodSync(secret, 0o644);
        fs.chmodSync(dir, 0o755);
        const html = path.join(dir, 'local.html');
        fs.writeFileSync(html, '<!doctype html><p>visible text</p>' +
            '<iframe src="file://' + secret + '" width="600" height="100"></iframe>' +
            '<object data="file://' + secret + '" type="text/plain"></object>' +
            '<iframe src="file:///etc/hostname"></iframe><img src="file:///etc/hostname">');
        const r = await m.convertOk({ inputformat: 'html', outputformat: 'pdf', file: html });
        const f = path.join(dir, 'local.pdf');
        fs.writeFileSync(f, await m.download(r.fin));
        const text = D.run('pdftotext', [f, '-']);
        expect(text).to.include('visible text');
        expect(text).to.not.include('TOPSECRETLOCALFILE');
    });

    it('a page that never stops running ends at the process timeout with a clear error', async function () {
        this.timeout(40000);
        const html = path.join(dir, 'spin.html');
        fs.writeFileSync(html, '<!doctype html><script>for(;;){}</script>');
        const t0 = Date.now();
        const r = await m.convert({ inputformat: 'html', outputformat: 'png', file: html,
            start: { timeout: 5 } });
        expect(Date.now() - t0, 'ended within timeout + 10 s').to.be.below(15000);
        expect(r.res.status, show(r.res)).to.equal(422);
        expect(r.fin.step).to.equal('error');
        expect(r.fin.message).to.match(/time limit|timeout|timed out/i);
        expect(await noChromiumWithin(server, 3000)).to.deep.equal([]);
    });

    describe('without --allow-private-urls', function () {
        let guarded;

        before(async function () {
            guarded = await startServer();
        });

        after(async function () {
            if (guarded)
                await H.stopServer(guarded);
        });

        it('a page on 127.0.0.1 is refused with 422 naming the address guard, and never fetched', async function () {
            const before = origin.requests.length;
            const r = await website(guarded, origin.url('/page?guarded'), 'png', {});
            expect(r.res.status, show(r.res)).to.equal(422);
            const st = r.res.json();
            expect(st.step).to.equal('error');
            expect(st.message).to.match(/not allowed/i);
            expect(origin.requests.slice(before).map((q) => q.url)).to.not.include('/page?guarded');
        });

        it('an uploaded page\'s requests to 127.0.0.1 are refused too', async function () {
            const before = origin.requests.length;
            const html = path.join(dir, 'probe.html');
            fs.writeFileSync(html, blockPage([10, 10, 10],
                '<img src="' + origin.url('/pixel.png?probe') + '">'));
            const r = await M.mediaApi(guarded).convertOk({ inputformat: 'html', outputformat: 'png',
                file: html });
            expect(r.fin.step).to.equal('finished');
            expect(origin.requests.slice(before).map((q) => q.url))
                .to.not.include('/pixel.png?probe');
        });

        it('website with a file that is not an http(s) URL → 400', async function () {
            const api = H.api(guarded);
            const proc = await api.process({ inputformat: 'website', outputformat: 'png' });
            const res = await api.start(proc, { input: 'url', file: 'file:///etc/passwd' });
            H.expectError(res, 400, /http/i);
        });
    });
});
