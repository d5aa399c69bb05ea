// SPDX-License-Identifier: MIT
// api_status.test.js - contract tests of GET /process/ID: fields and types, steps, percent,
// converter.options echo, ?wait, failures (422/400), mode=info (A6, G, L1).
'use strict';
const { expect } = require('chai');
const fs = require('fs');
const { startServer } = require('../lib/server');
const images = require('../lib/images');
const H = require('../lib/http');

function isInt(v) {
    return Number.isInteger(v);
}

describe('status: GET /process/ID (A6, G, L1)', function () {
    this.timeout(20000);
    let server;
    let api;
    let dir;
    let pngBytes;
    let jpgBytes;
    let bigBytes;
    let corruptBytes;

    before(async function () {
        this.timeout(60000);
        dir = images.tmpDir();
        pngBytes = fs.readFileSync(images.png(dir, 'in.png', 80, 50, 100));
        jpgBytes = fs.readFileSync(images.jpg(dir, 'in.jpg', 80, 50, 100));
        bigBytes = fs.readFileSync(images.noisy(dir, 'big.png', 2000, 1500));
        corruptBytes = fs.readFileSync(images.corruptPng(dir, 'corrupt.png'));
        server = await startServer();
        api = H.api(server);
    });

    after(async function () {
        fs.rmSync(dir, { recursive: true, force: true });
        await H.stopServer(server);
    });

    describe('a finished process (G1, G4, G7, A6)', function () {
        let proc;
        let res;
        let st;
        let t0;

        before(async function () {
            t0 = Math.floor(Date.now() / 1000);
            proc = await api.process({ inputformat: 'png', outputformat: 'jpg' });
            H.expectJson(await api.start(proc, { input: 'base64', file: pngBytes.toString('base64'),
                filename: 'fields.png', wait: true }));
            res = await api.status(proc);
            st = H.expectJson(res, 200);
        });

        it('answers 200 JSON with no error key', function () {
            expect(res.status).to.equal(200);
            expect(res.headers['content-type']).to.equal(H.JSON_TYPE);
            expect(st).to.not.have.property('error');
        });

        it('id and url equal the create response (A6)', function () {
            expect(st.id).to.equal(proc.id);
            expect(st.url).to.equal(proc.url);
        });

        it('step finished, percent exactly the number 100, message a string', function () {
            expect(st.step).to.equal('finished');
            expect(st.percent).to.equal(100);
            expect(st.message).to.be.a('string');
        });

        it('starttime, endtime, expire are integer Unix seconds in order', function () {
            for (const k of ['starttime', 'endtime', 'expire'])
                expect(isInt(st[k]), k + ' = ' + JSON.stringify(st[k])).to.equal(true);
            expect(st.starttime).to.be.within(t0 - 5, t0 + 60);
            expect(st.endtime).to.be.at.least(st.starttime);
            expect(st.expire).to.be.above(st.endtime);
        });

        it('input has type, filename, size (integer), name, ext', function () {
            expect(st.input.type).to.equal('base64');
            expect(st.input.filename).to.equal('fields.png');
            expect(st.input.size).to.equal(pngBytes.length);
            expect(st.input.name).to.equal('fields');
            expect(st.input.ext).to.equal('png');
        });

        it('converter has format, type and options', function () {
            expect(st.converter.format).to.equal('jpg');
            expect(st.converter.type).to.be.a('string');
            expect(st.converter.type.length).to.be.above(0);
            expect(st.converter.options).to.be.an('object');
        });

        it('output has filename, ext, integer size and downloads, url', async function () {
            expect(st.output.filename).to.equal('fields.jpg');
            expect(st.output.ext).to.equal('jpg');
            expect(isInt(st.output.size)).to.equal(true);
            expect(isInt(st.output.downloads)).to.equal(true);
            expect(st.output.downloads).to.equal(0);
            expect(st.output.url).to.match(/^\/\/[^/]+\/download\/[^/]+$/);
            expect(st.output).to.not.have.property('files');
        });

        it('output.size is the size of the served file, which decodes', async function () {
            const dl = await api.download(st);
            expect(dl.status).to.equal(200);
            expect(dl.body.length).to.equal(st.output.size);
            const img = images.decodeBuffer(dl.body, 'fields.jpg');
            expect([img.loader, img.width, img.height]).to.deep.equal(['jpegload', 80, 50]);
        });

        it('a Bearer header and Accept: application/json on the status are ignored (B2)', async function () {
            const r = await api.status(proc, undefined, { headers: {
                Authorization: 'Bearer wrong-key-0123456789', Accept: 'application/json' } });
            expect(H.expectJson(r).id).to.equal(proc.id);
        });

        it('an unknown id → 404 {"error":"Process not found","code":404}', async function () {
            const r = await H.request({ url: server.base + '/process/AAAAAAAAAAAAAAAAAAAAAAAAAA' });
            expect(r.status).to.equal(404);
            expect(r.headers['content-type']).to.equal(H.JSON_TYPE);
            expect(r.json()).to.deep.equal({ error: 'Process not found', code: 404 });
        });
    });

    describe('while running (G4, G5)', function () {
        let seen;
        let proc;

        before(async function () {
            this.timeout(60000);
            proc = await api.process({ inputformat: 'png', outputformat: 'jpg' });
            const started = H.expectJson(await api.start(proc, { input: 'upload' }));
            seen = [started];
            const put = api.put(started, 'big.png', bigBytes);
            const deadline = Date.now() + 50000;
            for (;;) {
                const r = await api.status(proc);
                seen.push(H.expectJson(r));
                const step = seen[seen.length - 1].step;
                if (step === 'finished' || step === 'error' || Date.now() > deadline)
                    break;
                await H.sleep(15);
            }
            H.expectJson(await put);
        });

        it('the upload-waiting start status has step input and percent 0', function () {
            expect(seen[0].step).to.equal('input');
            expect(seen[0].percent).to.equal(0);
        });

        it('ends finished', function () {
            expect(seen[seen.length - 1].step).to.equal('finished');
        });

        it('every step is one of the six names (G5)', function () {
            for (const s of seen)
                expect(H.STEPS).to.include(s.step);
        });

        it('percent is always a JSON number, -1 or 0..100', function () {
            for (const s of seen) {
                expect(s.percent).to.be.a('number');
                expect(s.percent === -1 || (s.percent >= 0 && s.percent <= 100),
                    'percent ' + s.percent).to.equal(true);
            }
        });

        it('percent never goes down (ignoring -1) and is 100 only at finished', function () {
            let last = 0;
            for (const s of seen) {
                if (s.percent === -1)
                    continue;
                expect(s.percent, 'percent went down').to.be.at.least(last);
                last = s.percent;
                if (s.step !== 'finished')
                    expect(s.percent, 'percent 100 before finished').to.be.below(100);
            }
        });

        it('url is the create url in every status (A6)', function () {
            for (const s of seen)
                expect(s.url).to.equal(proc.url);
        });

        it('no status has an error key (G7)', function () {
            for (const s of seen)
                expect(s).to.not.have.property('error');
        });

        it('starttime is an integer from the first status on', function () {
            for (const s of seen.slice(1)) {
                if (s.starttime !== undefined)
                    expect(isInt(s.starttime)).to.equal(true);
            }
        });
    });

    describe('converter.options echo (G6)', function () {
        let defaults;

        before(async function () {
            const r = H.expectJson(await H.request({ url: server.base + '/conversiontypes',
                query: { inputformat: 'png', outputformat: 'jpg' } }));
            expect(r.length).to.equal(1);
            defaults = r[0].converteroptions;
        });

        it('JSON values keep their types, unknown ones are echoed as sent', async function () {
            const given = { quality: 10, strip_metatags: true, foo: 'bar', nested: { a: [1, 'x'] } };
            const { status } = await api.convertOk('png', 'jpg', pngBytes, 'echo.png',
                { converteroptions: given });
            const opts = status.converter.options;
            expect(opts.quality).to.equal(10);
            expect(opts.strip_metatags).to.equal(true);
            expect(opts.foo).to.equal('bar');
            expect(opts.nested).to.deep.equal({ a: [1, 'x'] });
        });

        it('every known option not sent is null', async function () {
            expect(Object.keys(defaults)).to.include('quality');
            const { status } = await api.convertOk('png', 'jpg', pngBytes, 'echo2.png',
                { converteroptions: { quality: 10 } });
            const opts = status.converter.options;
            for (const name of Object.keys(defaults)) {
                if (name === 'quality')
                    continue;
                expect(opts, 'converter.options lacks ' + name).to.have.property(name);
                expect(opts[name], name).to.equal(null);
            }
        });

        it('no options at all → every known option null', async function () {
            const { status } = await api.convertOk('png', 'jpg', pngBytes, 'echo3.png');
            const opts = status.converter.options;
            for (const name of Object.keys(defaults))
                expect(opts[name], name).to.equal(null);
        });

        it('form values stay strings', async function () {
            const proc = await api.process({ inputformat: 'png', outputformat: 'jpg' });
            const fin = H.expectJson(await H.request({ method: 'POST', url: H.abs(proc.url),
                form: { input: 'base64', file: pngBytes.toString('base64'), filename: 'form.png',
                    wait: 'true', converteroptions: { quality: '10', strip_metatags: 'true' } } }));
            expect(fin.step).to.equal('finished');
            expect(fin.converter.options.quality).to.equal('10');
            expect(fin.converter.options.strip_metatags).to.equal('true');
        });

        it('the options take effect: quality 5 gives a smaller file than 95', async function () {
            const small = (await api.convertOk('png', 'jpg', bigBytes, 'q5.png',
                { converteroptions: { quality: 5 } })).status.output.size;
            const large = (await api.convertOk('png', 'jpg', bigBytes, 'q95.png',
                { converteroptions: { quality: 95 } })).status.output.size;
            expect(small * 2).to.be.below(large);
        });
    });

    describe('?wait (G2)', function () {
        it('a bare ?wait blocks until finished', async function () {
            const proc = await api.process({ inputformat: 'png', outputformat: 'jpg' });
            const st = H.expectJson(await api.start(proc, { input: 'upload' }));
            const wait = H.request({ url: H.abs(proc.url) + '?wait' });
            const early = await H.settlesWithin(wait, 600);
            expect(early, 'wait answered during step input').to.equal(false);
            H.expectJson(await api.put(st, 'bare.png', pngBytes));
            const fin = H.expectJson(await wait);
            expect(fin.step).to.equal('finished');
            expect(fin.percent).to.equal(100);
        });
    });

    describe('failures (G3)', function () {
        it('a corrupt PNG → 422 with the whole status and code', async function () {
            const proc = await api.process({ inputformat: 'png', outputformat: 'jpg' });
            H.expectJson(await api.start(proc, { input: 'base64', file: corruptBytes.toString('base64'),
                filename: 'corrupt.png' }));
            const body = H.expectFailedStatus(await api.status(proc, { wait: 'true' }), 422, proc);
            expect(body.input.filename).to.equal('corrupt.png');
            expect(isInt(body.starttime)).to.equal(true);
            expect(isInt(body.endtime)).to.equal(true);
        });

        it('the failed process answers 422 on every later GET, with and without wait', async function () {
            const { proc, res } = await api.convertBase64('png', 'jpg', corruptBytes, 'c2.png');
            const first = H.expectFailedStatus(res, 422, proc);
            const again = H.expectFailedStatus(await api.status(proc), 422, proc);
            expect(again.message).to.equal(first.message);
            const t0 = Date.now();
            H.expectFailedStatus(await api.status(proc, { wait: 'true' }), 422, proc);
            expect(Date.now() - t0).to.be.below(3000);
        });

        it('a PNG sent as inputformat jpg → 422 "... not a JPEG ..." (the extension is ignored)',
            async function () {
                const { proc, res } = await api.convertBase64('jpg', 'png', pngBytes, 'photo.jpg');
                const body = H.expectFailedStatus(res, 422, proc);
                expect(body.message).to.match(/not a JPEG/i);
            });

        it('a JPEG sent as inputformat png → 422 "... not a PNG ..."', async function () {
            const { proc, res } = await api.convertBase64('png', 'jpg', jpgBytes, 'photo.png');
            const body = H.expectFailedStatus(res, 422, proc);
            expect(body.message).to.match(/not a PNG/i);
        });

        it('a JPEG named .png with inputformat jpg converts (the name is ignored)', async function () {
            const { status } = await api.convertOk('jpg', 'png', jpgBytes, 'misnamed.png');
            const dl = await api.download(status);
            const img = images.decodeBuffer(dl.body, 'x.png');
            expect([img.loader, img.width, img.height]).to.deep.equal(['pngload', 80, 50]);
        });

        it('converteroptions quality=abc → 400 naming converteroptions[quality]', async function () {
            const { proc, res } = await api.convertBase64('png', 'jpg', pngBytes, 'q.png',
                { converteroptions: { quality: 'abc' } });
            H.expectFailedStatus(res, 400, proc, 'converteroptions[quality]');
            H.expectFailedStatus(await api.status(proc), 400, proc, 'converteroptions[quality]');
        });

        it('converteroptions quality=500 (out of range) → 400 naming it', async function () {
            const { proc, res } = await api.convertBase64('png', 'jpg', pngBytes, 'q.png',
                { converteroptions: { quality: 500 } });
            H.expectFailedStatus(res, 400, proc, 'converteroptions[quality]');
        });

        it('converteroptions rotate=45 → 400 naming converteroptions[rotate]', async function () {
            const { proc, res } = await api.convertBase64('png', 'jpg', pngBytes, 'r.png',
                { converteroptions: { rotate: 45 } });
            H.expectFailedStatus(res, 400, proc, 'converteroptions[rotate]');
        });
    });

    describe('mode=info (L1)', function () {
        function checkInfo(st) {
            expect(st.step).to.equal('finished');
            expect(st.info).to.be.an('object');
            expect(st.info.width).to.equal(80);
            expect(st.info.height).to.equal(50);
            expect(st.info.format).to.match(/^png$/i);
            const out = st.output || {};
            expect(out).to.not.have.property('filename');
            expect(out).to.not.have.property('size');
            expect(out).to.not.have.property('files');
        }

        it('mode=info at create, no outputformat → info object, no output file', async function () {
            const proc = await api.process({ inputformat: 'png', mode: 'info' });
            const st = H.expectJson(await api.start(proc, { input: 'base64',
                file: pngBytes.toString('base64'), filename: 'info.png', wait: true }));
            checkInfo(st);
            expect(st.url).to.equal(proc.url);
        });

        it('mode=info given at start', async function () {
            const proc = await api.process({ inputformat: 'png' });
            const st = H.expectJson(await api.start(proc, { input: 'base64', mode: 'info',
                file: pngBytes.toString('base64'), filename: 'info2.png', wait: true }));
            checkInfo(st);
        });

        it('mode=info keeps info in later statuses', async function () {
            const proc = await api.process({ inputformat: 'png', mode: 'info' });
            H.expectJson(await api.start(proc, { input: 'base64',
                file: pngBytes.toString('base64'), filename: 'info3.png', wait: true }));
            checkInfo(H.expectJson(await api.status(proc)));
        });
    });
});
