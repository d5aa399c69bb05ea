// SPDX-License-Identifier: MIT
// api_start.test.js - contract tests of starting a process: input methods, validation
// errors, wait/download, aliases, boolean and null forms, /convert (C, E, J4).
'use strict';
const { expect } = require('chai');
const fs = require('fs');
const { startServer } = require('../lib/server');
const { startFileServer } = require('../lib/fileserver');
const images = require('../lib/images');
const H = require('../lib/http');

describe('start: POST /process/ID (C, E, J4)', function () {
    this.timeout(20000);
    let server;
    let api;
    let dir;
    let files;
    let routes;
    let pngBytes;
    let corruptBytes;

    before(async function () {
        this.timeout(30000);
        dir = images.tmpDir();
        pngBytes = fs.readFileSync(images.png(dir, 'remote.png', 64, 40, 100));
        corruptBytes = fs.readFileSync(images.corruptPng(dir, 'corrupt.png'));
        routes = {};
        files = await startFileServer(dir, routes);
        server = await startServer({ args: ['--allow-private-urls'] });
        api = H.api(server);
    });

    after(async function () {
        if (files) {
            files.server.closeAllConnections();
            await files.close();
        }
        fs.rmSync(dir, { recursive: true, force: true });
        await H.stopServer(server);
    });

    // A URL on the file server whose answer is held until release() is called.
    let gateCount = 0;
    function gated(bytes) {
        const p = '/gate' + (++gateCount) + '.png';
        let release;
        const gate = new Promise((r) => { release = r; });
        routes[p] = async (req, res) => {
            await gate;
            res.writeHead(200, { 'Content-Length': bytes.length, 'Content-Type': 'image/png' });
            res.end(bytes);
        };
        return { url: files.url(p), release, requested: () => files.requests.some((r) => r.url === p) };
    }

    async function newProc(params) {
        return api.process(Object.assign({ inputformat: 'png', outputformat: 'jpg' }, params || {}));
    }

    function expectJpeg(buf, w, h) {
        const img = images.decodeBuffer(buf, 'out.jpg');
        expect(img.loader).to.equal('jpegload');
        expect([img.width, img.height]).to.deep.equal([w, h]);
        return img;
    }

    async function downloadJpeg(st, w, h) {
        const dl = await api.download(st);
        expect(dl.status).to.equal(200);
        return expectJpeg(dl.body, w, h);
    }

    describe('input=upload (E1-E4, E8)', function () {
        let proc;
        let st;

        before(async function () {
            proc = await newProc();
            st = H.expectJson(await api.start(proc, { input: 'upload' }), 200);
        });

        it('answers 200 with step input', function () {
            expect(st.step).to.equal('input');
            expect(st.id).to.equal(proc.id);
            expect(st.url).to.equal(proc.url);
        });

        it('upload is {"url": "//HOST/upload/TOKEN"} with string values only', function () {
            expect(st.upload).to.be.an('object');
            expect(st.upload.url).to.match(new RegExp('^//' + server.host.replace(/\./g, '\\.') +
                '/upload/[A-Za-z0-9_-]{22,}$'));
            for (const [k, v] of Object.entries(st.upload))
                expect(v, 'upload.' + k).to.be.a('string');
        });

        it('the upload URL does not reveal the process id', function () {
            expect(st.upload.url).to.not.contain(proc.id);
        });

        it('output.url is already set in the start response (E8)', function () {
            expect(st.output).to.be.an('object');
            expect(st.output.url).to.match(new RegExp('^//' + server.host.replace(/\./g, '\\.') +
                '/download/[^/]+$'));
        });

        it('the uploaded file is converted', async function () {
            H.expectJson(await api.put(st, 'up.png', pngBytes));
            const fin = H.expectJson(await api.status(proc, { wait: 'true' }));
            expect(fin.step).to.equal('finished');
            expect(fin.output.url).to.equal(st.output.url);
            await downloadJpeg(fin, 64, 40);
        });

        it('input left out means upload (E1)', async function () {
            const p = await newProc();
            const s = H.expectJson(await api.start(p, {}), 200);
            expect(s.step).to.equal('input');
            expect(s.upload.url).to.be.a('string');
            H.expectJson(await api.put(s, 'e1.png', pngBytes));
            const fin = H.expectJson(await api.status(p, { wait: 'true' }));
            expect(fin.step).to.equal('finished');
            expect(fin.input.filename).to.equal('e1.png');
            await downloadJpeg(fin, 64, 40);
        });

        it('a file string is ignored with input=upload (E4)', async function () {
            const p = await newProc();
            const s = H.expectJson(await api.start(p, { input: 'upload',
                file: 'file:///home/user/local/path/x.png' }), 200);
            expect(s.step).to.equal('input');
            expect(s.upload.url).to.be.a('string');
            H.expectJson(await api.put(s, 'real.png', pngBytes));
            const fin = H.expectJson(await api.status(p, { wait: 'true' }));
            expect(fin.step).to.equal('finished');
            expect(fin.input.filename).to.equal('real.png');
        });

        it('a multipart file part on the start request is the input (E3)', async function () {
            const p = await newProc();
            const mp = H.multipart([{ name: 'input', value: 'upload' },
                { name: 'outputformat', value: 'jpg' }, { name: 'wait', value: 'true' },
                { name: 'file', filename: 'part.png', contentType: 'image/png', data: pngBytes }]);
            const fin = H.expectJson(await api.start(p, undefined, { json: undefined, multipart: mp }));
            expect(fin.step).to.equal('finished');
            expect(fin.input.filename).to.equal('part.png');
            expect(fin.input.size).to.equal(pngBytes.length);
            expect(fin.output.filename).to.equal('part.jpg');
            await downloadJpeg(fin, 64, 40);
        });

        it('py style: params in the query, only the file in the multipart body (E3, C1)', async function () {
            const p = await newProc();
            const mp = H.multipart([{ name: 'file', filename: 'py.png', data: pngBytes }]);
            const fin = H.expectJson(await H.request({ method: 'POST', url: H.abs(p.url),
                query: 'input=upload&outputformat=jpg&converteroptions[quality]=10&wait=True',
                multipart: mp }));
            expect(fin.step).to.equal('finished');
            expect(fin.input.filename).to.equal('py.png');
            expect(fin.converter.options.quality).to.equal('10');
            await downloadJpeg(fin, 64, 40);
        });
    });

    describe('input=raw and input=base64', function () {
        it('raw SVG text → PNG of the SVG size', async function () {
            const proc = await api.process({ inputformat: 'svg', outputformat: 'png' });
            const fin = H.expectJson(await api.start(proc, { input: 'raw',
                file: images.svgText(120, 50, 'raw'), filename: 'text.svg', wait: true }));
            expect(fin.step).to.equal('finished');
            expect(fin.input.filename).to.equal('text.svg');
            expect(fin.output.filename).to.equal('text.png');
            const dl = await api.download(fin);
            expect(dl.status).to.equal(200);
            const img = images.decodeBuffer(dl.body, 'text.png');
            expect(img.loader).to.equal('pngload');
            expect([img.width, img.height]).to.deep.equal([120, 50]);
            const px = images.pixelOfBuffer(dl.body, 'text.png', 1, 1);
            expect(px.slice(0, 3)).to.deep.equal([0x33, 0x66, 0xcc]);
        });

        it('base64 PNG → JPEG', async function () {
            const { status } = await api.convertOk('png', 'jpg', pngBytes, 'b64.png');
            expect(status.input.filename).to.equal('b64.png');
            expect(status.input.size).to.equal(pngBytes.length);
            expect(status.output.filename).to.equal('b64.jpg');
            await downloadJpeg(status, 64, 40);
        });

        it('raw without filename → 400 naming filename', async function () {
            const proc = await api.process({ inputformat: 'svg', outputformat: 'png' });
            H.expectFailedStatus(await api.start(proc, { input: 'raw',
                file: images.svgText(20, 20) }), 400, proc, 'filename');
        });

        it('base64 without filename → 400 naming filename', async function () {
            const proc = await newProc();
            H.expectFailedStatus(await api.start(proc, { input: 'base64',
                file: pngBytes.toString('base64') }), 400, proc, 'filename');
        });
    });

    describe('input=download', function () {
        it('fetches the URL; filename from the URL', async function () {
            const proc = await newProc();
            const fin = H.expectJson(await api.start(proc, { input: 'download',
                file: files.url('/remote.png'), wait: true }));
            expect(fin.step).to.equal('finished');
            expect(fin.input.type).to.equal('download');
            expect(fin.input.filename).to.equal('remote.png');
            expect(fin.input.name).to.equal('remote');
            expect(fin.input.ext).to.equal('png');
            expect(fin.input.size).to.equal(pngBytes.length);
            expect(fin.output.filename).to.equal('remote.jpg');
            await downloadJpeg(fin, 64, 40);
        });

        it('without wait, the downloaded input is converted on its own', async function () {
            const proc = await newProc();
            const st = H.expectJson(await api.start(proc, { input: 'download',
                file: files.url('/remote.png') }));
            expect(st.step).to.not.equal('error');
            let last;
            const deadline = Date.now() + 10000;
            while (Date.now() < deadline) {
                last = H.expectJson(await api.status(proc));
                if (last.step === 'finished' || last.step === 'error')
                    break;
                await H.sleep(100);
            }
            expect(last.step, 'still ' + last.step + ' (' + last.message + ') after 10 s')
                .to.equal('finished');
            await downloadJpeg(last, 64, 40);
        });

        it('link is an alias of file (C6)', async function () {
            const proc = await newProc();
            const fin = H.expectJson(await api.start(proc, { input: 'download',
                link: files.url('/remote.png'), wait: true }));
            expect(fin.step).to.equal('finished');
            await downloadJpeg(fin, 64, 40);
        });

        it('a 404 from the input URL → 422 "input download failed: HTTP 404"', async function () {
            const proc = await newProc();
            H.expectFailedStatus(await api.start(proc, { input: 'download',
                file: files.url('/missing.png'), wait: true }), 422, proc,
            'input download failed: HTTP 404');
        });
    });

    describe('start validation error (E5)', function () {
        let proc;
        let res;

        before(async function () {
            proc = await newProc();
            res = await api.start(proc, { input: 'download' });
        });

        it('input=download without file → 400 with the status in step error', function () {
            H.expectFailedStatus(res, 400, proc, 'file');
        });

        it('a later GET answers the same 400 status', async function () {
            const body = H.expectFailedStatus(await api.status(proc), 400, proc);
            expect(body.message).to.equal(res.json().message);
        });

        it('a later GET ?wait answers 400 at once', async function () {
            const t0 = Date.now();
            H.expectFailedStatus(await api.status(proc, { wait: 'true' }), 400, proc);
            expect(Date.now() - t0).to.be.below(3000);
        });

        it('file: null counts as missing (C4)', async function () {
            const p = await newProc();
            H.expectFailedStatus(await api.start(p, { input: 'download', file: null }), 400, p, 'file');
        });

        it('no outputformat at create nor start → 400 naming outputformat', async function () {
            const p = await api.process({ inputformat: 'png' });
            H.expectFailedStatus(await api.start(p, { input: 'base64',
                file: pngBytes.toString('base64'), filename: 'x.png' }), 400, p, 'outputformat');
        });
    });

    describe('already started', function () {
        it('a second start → 400 "Process already started", process unchanged', async function () {
            const proc = await newProc();
            const first = H.expectJson(await api.start(proc, { input: 'upload' }));
            const again = await api.start(proc, { input: 'base64', file: pngBytes.toString('base64'),
                filename: 'again.png', outputformat: 'tiff' });
            H.expectError(again, 400, 'Process already started');
            const st = H.expectJson(await api.status(proc));
            expect(st.step).to.equal('input');
            expect(st.url).to.equal(first.url);
            expect(st.output.url).to.equal(first.output.url);
            // the first upload URL still takes the file, and the first outputformat wins
            H.expectJson(await api.put(first, 'first.png', pngBytes));
            const fin = H.expectJson(await api.status(proc, { wait: 'true' }));
            expect(fin.step).to.equal('finished');
            expect(fin.output.ext).to.equal('jpg');
        });
    });

    describe('wait (E6)', function () {
        it('wait=true → 200 with the finished status', async function () {
            const { status } = await api.convertOk('png', 'jpg', pngBytes, 'w.png');
            expect(status.percent).to.equal(100);
            expect(status.output.size).to.be.a('number');
        });

        it('wait=true on a failing conversion → 422 with the whole status', async function () {
            const { proc, res } = await api.convertBase64('png', 'jpg', corruptBytes, 'bad.png');
            const body = H.expectFailedStatus(res, 422, proc);
            expect(body.input.filename).to.equal('bad.png');
        });
    });

    describe('download=true|inline (E7)', function () {
        let res;

        before(async function () {
            const proc = await newProc();
            res = await api.start(proc, { input: 'base64', file: pngBytes.toString('base64'),
                filename: 'redir.png', download: true });
        });

        it('answers 303 See Other', function () {
            expect(res.status).to.equal(303);
        });

        it('Location is an absolute http URL of the output', function () {
            expect(res.headers.location).to.match(new RegExp('^http://' +
                server.host.replace(/\./g, '\\.') + '/download/[^/?]+$'));
        });

        it('Content-Type is text/plain', function () {
            expect(res.headers['content-type']).to.match(/^text\/plain(;|$)/);
        });

        it('body is exactly "See Other. Redirecting to URL"', function () {
            expect(res.text()).to.equal('See Other. Redirecting to ' + res.headers.location);
        });

        it('Location serves the converted file as attachment', async function () {
            const dl = await H.request({ url: res.headers.location });
            expect(dl.status).to.equal(200);
            expect(dl.headers['content-disposition']).to.match(/^attachment;/);
            expectJpeg(dl.body, 64, 40);
        });

        it('download=inline → Location with ?inline, served inline', async function () {
            const proc = await newProc();
            const r = await api.start(proc, { input: 'base64', file: pngBytes.toString('base64'),
                filename: 'inl.png', download: 'inline' });
            expect(r.status).to.equal(303);
            expect(r.headers.location).to.match(/^http:\/\/[^/]+\/download\/[^/?]+\?inline$/);
            expect(r.text()).to.equal('See Other. Redirecting to ' + r.headers.location);
            const dl = await H.request({ url: r.headers.location });
            expect(dl.status).to.equal(200);
            expect(dl.headers['content-disposition']).to.match(/^inline;/);
            expectJpeg(dl.body, 64, 40);
        });

        it('download=true on failure → 422 JSON status, no redirect', async function () {
            const proc = await newProc();
            const r = await api.start(proc, { input: 'base64', file: corruptBytes.toString('base64'),
                filename: 'bad.png', download: true });
            H.expectFailedStatus(r, 422, proc);
            expect(r.headers.location).to.equal(undefined);
        });

        it('download="false" → no redirect', async function () {
            const proc = await newProc();
            const r = await api.start(proc, { input: 'base64', file: pngBytes.toString('base64'),
                filename: 'nf.png', download: 'false', wait: true });
            const st = H.expectJson(r, 200);
            expect(st.step).to.equal('finished');
            expect(r.headers.location).to.equal(undefined);
        });
    });

    describe('storage inputs (nothing listens on port 9)', function () {
        async function failure(proc) {
            const st = await api.status(proc, { wait: 'true' }, { timeout: 30000 });
            return st.json();
        }

        it('input {"s3": {...}} is taken; an endpoint nobody serves then fails: 422 "S3: ..."', async function () {
            const proc = await newProc();
            const r = await api.start(proc, { input: { s3: { accesskeyid: 'AK', secretaccesskey: 'SK',
                bucket: 'bucket-b', endpoint: 'http://127.0.0.1:9' } }, file: 'in.png' });
            expect(r.status, r.text()).to.equal(200);
            const st = await failure(proc);
            expect(st.step).to.equal('error');
            expect(st.message).to.match(/^S3: /);
            expect(JSON.stringify(st)).to.not.contain('"SK"');
        });

        it('input {"ftp": {...}} is taken; a server nobody runs then fails: 422 "FTP: ..."', async function () {
            const proc = await newProc();
            const r = await api.start(proc, { input: { ftp: { host: '127.0.0.1', port: 9, user: 'u',
                password: 'p' } }, file: 'in.png' });
            expect(r.status, r.text()).to.equal(200);
            const st = await failure(proc);
            expect(st.step).to.equal('error');
            expect(st.message).to.match(/^FTP: /);
        });

        it('input=s3&input[s3][bucket]=b in one query: the object wins (C2)', async function () {
            const proc = await newProc();
            const r = await H.request({ method: 'POST', url: H.abs(proc.url),
                query: 'input=s3&input[s3][accesskeyid]=AK&input[s3][secretaccesskey]=SK' +
                    '&input[s3][bucket]=bucket-b&input[s3][endpoint]=http://127.0.0.1:9&file=in.png' });
            expect(r.status, r.text()).to.equal(200);
            const st = await failure(proc);
            expect(st.message).to.match(/^S3: /);
        });

        it('input=s3 alone (no parameters) → 400 naming input[s3]', async function () {
            const proc = await newProc();
            const r = await api.start(proc, { input: 's3', file: 'in.png' });
            expect(r.status).to.equal(400);
            expect(H.errorText(r.json())).to.contain('input[s3]');
        });
    });

    describe('parameters (C3-C6, D2)', function () {
        it('the start outputformat overrides the create one', async function () {
            const proc = await newProc(); // png → jpg
            const fin = H.expectJson(await api.start(proc, { input: 'base64', outputformat: 'tiff',
                file: pngBytes.toString('base64'), filename: 'ov.png', wait: true }));
            expect(fin.step).to.equal('finished');
            expect(fin.output.ext).to.equal('tiff');
            expect(fin.output.filename).to.equal('ov.tiff');
            const dl = await api.download(fin);
            const img = images.decodeBuffer(dl.body, 'ov.tiff');
            expect(img.loader).to.equal('tiffload');
            expect([img.width, img.height]).to.deep.equal([64, 40]);
        });

        it('format is an alias of outputformat (C6)', async function () {
            const proc = await api.process({ inputformat: 'png' });
            const fin = H.expectJson(await api.start(proc, { input: 'base64', format: 'jpg',
                file: pngBytes.toString('base64'), filename: 'fmt.png', wait: true }));
            expect(fin.step).to.equal('finished');
            expect(fin.output.ext).to.equal('jpg');
            await downloadJpeg(fin, 64, 40);
        });

        it('options is an alias of converteroptions (C6)', async function () {
            const { status } = await api.convertOk('png', 'jpg', pngBytes, 'opt.png',
                { options: { quality: 10, resize: '32x20' } });
            expect(status.converter.options.quality).to.equal(10);
            expect(status.converter.options.resize).to.equal('32x20');
            await downloadJpeg(status, 32, 20);
        });

        it('options[...] in the query is an alias of converteroptions (C6)', async function () {
            const proc = await newProc();
            const fin = H.expectJson(await H.request({ method: 'POST', url: H.abs(proc.url),
                query: 'input=base64&filename=q.png&wait=true&options[resize]=16x10',
                form: { file: pngBytes.toString('base64') } }));
            expect(fin.step).to.equal('finished');
            expect(fin.converter.options.resize).to.equal('16x10');
            await downloadJpeg(fin, 16, 10);
        });

        describe('booleans (C3): wait', function () {
            // With a held input download, a true wait cannot answer before release.
            async function blocksUntilRelease(params, extra) {
                const proc = await newProc();
                const g = gated(pngBytes);
                const pending = api.start(proc, Object.assign({ input: 'download', file: g.url },
                    params), extra);
                const early = await H.settlesWithin(pending, 500);
                g.release();
                const res = await pending;
                expect(early, 'wait answered before the input arrived').to.equal(false);
                const st = H.expectJson(res);
                expect(st.step).to.equal('finished');
            }

            for (const v of [true, 'true', 'True', 1, '1']) {
                it('wait: ' + JSON.stringify(v) + ' in JSON blocks until finished', async function () {
                    await blocksUntilRelease({ wait: v });
                });
            }

            it('bare ?wait flag blocks until finished', async function () {
                await blocksUntilRelease({}, { query: 'wait' });
            });

            it('wait=1 in an urlencoded body blocks until finished', async function () {
                const proc = await newProc();
                const g = gated(pngBytes);
                const pending = H.request({ method: 'POST', url: H.abs(proc.url),
                    form: { input: 'download', file: g.url, wait: '1' } });
                const early = await H.settlesWithin(pending, 500);
                g.release();
                const st = H.expectJson(await pending);
                expect(early).to.equal(false);
                expect(st.step).to.equal('finished');
            });

            for (const v of [false, 'false', 0, '0']) {
                it('wait: ' + JSON.stringify(v) + ' answers at once', async function () {
                    const proc = await newProc();
                    const g = gated(pngBytes);
                    const pending = api.start(proc, { input: 'download', file: g.url, wait: v });
                    const early = await H.settlesWithin(pending, 3000);
                    g.release();
                    expect(early, 'start did not answer while the input was held').to.equal(true);
                    const st = H.expectJson(await pending);
                    expect(st.step).to.not.equal('finished');
                    expect(st.step).to.not.equal('error');
                    const fin = H.expectJson(await api.status(proc, { wait: 'true' }));
                    expect(fin.step).to.equal('finished');
                });
            }
        });

        it('null and "" mean not given (C4)', async function () {
            const proc = await newProc();
            const st = H.expectJson(await api.start(proc, { input: null, file: null, outputformat: '',
                preset: null, output: null, converteroptions: null, callback: '', timeout: null,
                email: '', save: '', filename: null, mode: '' }));
            expect(st.step).to.equal('input');
            expect(st.upload.url).to.be.a('string');
            H.expectJson(await api.put(st, 'nul.png', pngBytes));
            const fin = H.expectJson(await api.status(proc, { wait: 'true' }));
            expect(fin.step).to.equal('finished');
            expect(fin.output.ext).to.equal('jpg');
            await downloadJpeg(fin, 64, 40);
        });

        it('empty multipart fields mean not given (C4, lar)', async function () {
            const proc = await newProc();
            const mp = H.multipart([{ name: 'input', value: 'upload' }, { name: 'preset', value: '' },
                { name: 'output', value: '' }, { name: 'converteroptions', value: '' },
                { name: 'outputformat', value: '' }, { name: 'wait', value: 'true' },
                { name: 'file', filename: 'lar.png', data: pngBytes }]);
            const fin = H.expectJson(await api.start(proc, undefined, { json: undefined, multipart: mp }));
            expect(fin.step).to.equal('finished');
            expect(fin.output.filename).to.equal('lar.jpg');
        });

        it('create accepts start parameters and a wait there does not block (C5)', async function () {
            const g = gated(pngBytes);
            const params = { inputformat: 'png', outputformat: 'jpg', input: 'download', file: g.url,
                wait: true, download: true, converteroptions: { quality: 50 }, filename: 'c5.png' };
            const t0 = Date.now();
            const res = await api.create(params);
            const proc = H.expectJson(res, 200);
            expect(Date.now() - t0).to.be.below(5000);
            expect(proc.url).to.equal('//' + server.host + '/process/' + proc.id);
            expect(proc.expires).to.match(/^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d$/);
            await H.sleep(300);
            expect(g.requested(), 'create started the process').to.equal(false);
            // the node flow: create with everything, then start with the same parameters
            const st = H.expectJson(await api.start(proc, { input: 'download', file: g.url,
                converteroptions: { quality: 50 }, filename: 'c5.png' }));
            expect(st.step).to.not.equal('error');
            g.release();
            const fin = H.expectJson(await api.status(proc, { wait: 'true' }));
            expect(fin.step).to.equal('finished');
            expect(fin.converter.options.quality).to.equal(50);
        });
    });

    describe('/convert (J4)', function () {
        it('POST /convert with JSON → the finished status', async function () {
            const res = await H.request({ method: 'POST', url: server.base + '/convert',
                json: { apikey: server.apikey, inputformat: 'png', outputformat: 'jpg',
                    input: 'base64', file: pngBytes.toString('base64'), filename: 'cv.png',
                    wait: true } });
            const st = H.expectJson(res);
            expect(st.step).to.equal('finished');
            expect(st.id).to.match(/^[A-Za-z0-9_-]{22,}$/);
            expect(st.url).to.equal('//' + server.host + '/process/' + st.id);
            expect(st.output.filename).to.equal('cv.jpg');
            await downloadJpeg(st, 64, 40);
        });

        it('GET /convert?...input=download&wait=true → the finished status', async function () {
            const res = await H.request({ url: server.base + '/convert', query: {
                apikey: server.apikey, inputformat: 'png', outputformat: 'jpg', input: 'download',
                file: files.url('/remote.png'), wait: 'true' } });
            const st = H.expectJson(res);
            expect(st.step).to.equal('finished');
            await downloadJpeg(st, 64, 40);
        });

        it('GET /convert with download=true → 303 to the file (r)', async function () {
            const res = await H.request({ url: server.base + '/convert', query: {
                apikey: server.apikey, inputformat: 'png', outputformat: 'jpg', input: 'download',
                file: files.url('/remote.png'), download: 'true' } });
            expect(res.status).to.equal(303);
            expect(res.headers.location).to.match(/^http:\/\/[^/]+\/download\/[^/?]+$/);
            expect(res.text()).to.equal('See Other. Redirecting to ' + res.headers.location);
            expect(res.text().slice(26)).to.equal(res.headers.location);
            const dl = await H.request({ url: res.headers.location });
            expect(dl.status).to.equal(200);
            expectJpeg(dl.body, 64, 40);
        });

        it('POST /convert?...&converteroptions[quality]=10&wait=True with a multipart file (py)',
            async function () {
                const mp = H.multipart([{ name: 'file', filename: 'py conv.png', data: pngBytes }]);
                const res = await H.request({ method: 'POST', url: server.base + '/convert',
                    query: 'apikey=' + encodeURIComponent(server.apikey) +
                        '&inputformat=png&outputformat=jpg&input=upload&converteroptions[quality]=10&wait=True',
                    multipart: mp });
                const st = H.expectJson(res);
                expect(st.step).to.equal('finished');
                expect(st.input.filename).to.equal('py conv.png');
                expect(st.converter.options.quality).to.equal('10');
                expect(st.output.filename).to.equal('py conv.jpg');
                await downloadJpeg(st, 64, 40);
            });

        it('POST /convert with input=upload and no file → the started status with upload.url',
            async function () {
                const res = await H.request({ method: 'POST', url: server.base + '/convert',
                    json: { apikey: server.apikey, inputformat: 'png', outputformat: 'jpg',
                        input: 'upload' } });
                const st = H.expectJson(res);
                expect(st.step).to.equal('input');
                expect(st.upload.url).to.match(/^\/\/[^/]+\/upload\/[A-Za-z0-9_-]+$/);
                expect(st.output.url).to.be.a('string');
                H.expectJson(await api.put(st, 'cu.png', pngBytes));
                const fin = H.expectJson(await H.request({ url: H.abs(st.url), query: { wait: 'true' } }));
                expect(fin.step).to.equal('finished');
            });

        it('/convert with an unsupported pair → 400 "This conversiontype is not supported!"',
            async function () {
                const res = await H.request({ method: 'POST', url: server.base + '/convert',
                    json: { apikey: server.apikey, inputformat: 'png', outputformat: 'xyzbar',
                        input: 'base64', file: pngBytes.toString('base64'), filename: 'u.png' } });
                expect(res.status).to.equal(400);
                expect(H.errorText(res.json())).to.contain('This conversiontype is not supported!');
            });
    });
});
