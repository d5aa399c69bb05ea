// SPDX-License-Identifier: MIT
// api_combine.test.js - several inputs for modes combine and archive (spec "Modes",
// "Uploads", compat L2): files as URLs or {file, filename}, file as an array, one PUT per
// listed name, several parts in one multipart request; input order is the listed order.
// The test converter concatenates its inputs, so the output shows the order.
'use strict';
const { expect } = require('chai');
const fs = require('fs');
const os = require('os');
const path = require('path');
const { startServer } = require('../lib/server');
const { startFileServer } = require('../lib/fileserver');
const H = require('../lib/http');

describe('several inputs (modes combine and archive)', function () {
    this.timeout(30000);
    let server;
    let files;
    let api;
    let dir;

    before(async function () {
        dir = fs.mkdtempSync(path.join(os.tmpdir(), 'convertd-combine-'));
        fs.writeFileSync(path.join(dir, 'a.fake'), 'AAA\n');
        fs.writeFileSync(path.join(dir, 'b.fake'), 'BBB\n');
        fs.writeFileSync(path.join(dir, 'c.fake'), 'CCC\n');
        files = await startFileServer(dir);
        server = await startServer({ args: ['--test-converters', '--allow-private-urls'] });
        api = H.api(server);
    });

    after(async function () {
        await H.stopServer(server);
        if (files)
            await files.close();
        if (dir)
            fs.rmSync(dir, { recursive: true, force: true });
    });

    afterEach(function () {
        const died = H.serverDied(server);
        if (died)
            throw new Error(died);
    });

    async function finished(proc) {
        const res = await api.status(proc, { wait: 'true' }, { timeout: 20000 });
        const st = H.expectJson(res, 200);
        expect(st.step, st.message).to.equal('finished');
        return st;
    }

    async function outputText(st) {
        const dl = await api.download(st);
        expect(dl.status).to.equal(200);
        return dl.body.toString();
    }

    it('combine with files as URLs and {file, filename} objects: inputs in the listed order', async function () {
        const proc = await api.process({ inputformat: 'fake', outputformat: 'fake', mode: 'combine' });
        const res = await api.start(proc, { input: 'download', files: [
            files.url('/c.fake'), { file: files.url('/a.fake'), filename: 'first.fake' },
            files.url('/b.fake')] });
        H.expectJson(res, 200);
        const st = await finished(proc);
        expect(await outputText(st)).to.equal('CCC\nAAA\nBBB\n');
        expect(st.input.files).to.equal(3);
        expect(st.input.filename).to.equal('c.fake');
    });

    it('combine with file given as an array', async function () {
        const proc = await api.process({ inputformat: 'fake', outputformat: 'fake', mode: 'combine' });
        H.expectJson(await api.start(proc, { input: 'url',
            file: [files.url('/b.fake'), files.url('/a.fake')] }), 200);
        expect(await outputText(await finished(proc))).to.equal('BBB\nAAA\n');
    });

    it('the same URL twice gets two inputs with different names', async function () {
        const proc = await api.process({ inputformat: 'fake', outputformat: 'fake', mode: 'archive' });
        H.expectJson(await api.start(proc, { input: 'download',
            files: [files.url('/a.fake'), files.url('/a.fake')] }), 200);
        expect(await outputText(await finished(proc))).to.equal('AAA\nAAA\n');
    });

    it('a failing download names the file: 422 "(file 2 of 2)"', async function () {
        const proc = await api.process({ inputformat: 'fake', outputformat: 'fake', mode: 'combine' });
        H.expectJson(await api.start(proc, { input: 'download',
            files: [files.url('/a.fake'), files.url('/missing.fake')] }), 200);
        const res = await api.status(proc, { wait: 'true' }, { timeout: 20000 });
        H.expectFailedStatus(res, 422, proc, /HTTP 404 \(file 2 of 2\)/);
    });

    it('uploads: one PUT per listed name, in any order; the conversion uses the listed order', async function () {
        const proc = await api.process({ inputformat: 'fake', outputformat: 'fake', mode: 'combine' });
        const started = H.expectJson(await api.start(proc, { input: 'upload',
            files: ['one.fake', 'two.fake'] }), 200);
        expect(started.upload.url).to.be.a('string');
        H.expectJson(await api.put(started, 'two.fake', 'TWO\n'), 200);
        let st = H.expectJson(await api.status(proc), 200);
        expect(st.step, 'still waiting for one.fake').to.equal('input');
        H.expectJson(await api.put(started, 'one.fake', 'ONE\n'), 200);
        st = await finished(proc);
        expect(await outputText(st)).to.equal('ONE\nTWO\n');
    });

    it('uploads: an unlisted name → 400, a name uploaded twice → 400', async function () {
        const proc = await api.process({ inputformat: 'fake', outputformat: 'fake', mode: 'combine' });
        const started = H.expectJson(await api.start(proc, { input: 'upload',
            files: ['one.fake', 'two.fake'] }), 200);
        H.expectError(await api.put(started, 'three.fake', 'X'), 400, /three\.fake/);
        H.expectJson(await api.put(started, 'one.fake', 'ONE\n'), 200);
        H.expectError(await api.put(started, 'one.fake', 'AGAIN\n'), 400, /already uploaded/);
        H.expectJson(await api.put(started, 'two.fake', 'TWO\n'), 200);
        expect(await outputText(await finished(proc))).to.equal('ONE\nTWO\n');
    });

    it('uploads survive a restart: the first file stays, the second completes the job', async function () {
        const proc = await api.process({ inputformat: 'fake', outputformat: 'fake', mode: 'combine' });
        const started = H.expectJson(await api.start(proc, { input: 'upload',
            files: ['r1.fake', 'r2.fake'] }), 200);
        H.expectJson(await api.put(started, 'r1.fake', 'R1\n'), 200);
        await server.kill9();
        await server.restart();
        api = H.api(server);
        H.expectError(await api.put(started, 'r1.fake', 'AGAIN\n'), 400, /already uploaded/);
        H.expectJson(await api.put(started, 'r2.fake', 'R2\n'), 200);
        expect(await outputText(await finished(proc))).to.equal('R1\nR2\n');
    });

    it('a name listed twice → 400 naming files', async function () {
        const proc = await api.process({ inputformat: 'fake', outputformat: 'fake', mode: 'combine' });
        H.expectError(await api.start(proc, { input: 'upload', files: ['a.fake', 'a.fake'] }), 400,
            /files\[1\].*listed twice/);
    });

    it('files that is not a list → 400 naming files', async function () {
        const proc = await api.process({ inputformat: 'fake', outputformat: 'fake', mode: 'combine' });
        H.expectError(await api.start(proc, { input: 'download', files: 'nope' }), 400, /files/);
    });

    it('a URL that is not http(s) in files → 400 naming its position', async function () {
        const proc = await api.process({ inputformat: 'fake', outputformat: 'fake', mode: 'combine' });
        H.expectError(await api.start(proc, { input: 'download',
            files: [files.url('/a.fake'), 'file:///etc/passwd'] }), 400, /files\[1\]/);
    });

    it('a multipart start with several file parts: all of them, in their order', async function () {
        const proc = await api.process({ inputformat: 'fake', outputformat: 'fake', mode: 'combine' });
        const mp = H.multipart([
            { name: 'input', value: 'upload' },
            { name: 'wait', value: 'true' },
            { name: 'file', filename: 'x.fake', data: 'PART1\n' },
            { name: 'file', filename: 'y.fake', data: 'PART2\n' },
        ]);
        const res = await H.request({ method: 'POST', url: H.abs(proc.url), multipart: mp,
            timeout: 20000 });
        const st = H.expectJson(res, 200);
        expect(st.step, st.message).to.equal('finished');
        expect(await outputText(st)).to.equal('PART1\nPART2\n');
    });

    it('a multipart POST to the upload URL with several listed parts', async function () {
        const proc = await api.process({ inputformat: 'fake', outputformat: 'fake', mode: 'combine' });
        const started = H.expectJson(await api.start(proc, { input: 'upload',
            files: ['p.fake', 'q.fake'] }), 200);
        const mp = H.multipart([
            { name: 'file', filename: 'q.fake', data: 'QQQ\n' },
            { name: 'file', filename: 'p.fake', data: 'PPP\n' },
        ]);
        H.expectJson(await H.request({ method: 'POST', url: H.abs(started.upload.url),
            multipart: mp }), 200);
        expect(await outputText(await finished(proc))).to.equal('PPP\nQQQ\n');
    });

    it('mode convert ignores files and keeps one input', async function () {
        const proc = await api.process({ inputformat: 'fake', outputformat: 'fake' });
        H.expectJson(await api.start(proc, { input: 'download', file: files.url('/a.fake'),
            files: [files.url('/b.fake')] }), 200);
        expect(await outputText(await finished(proc))).to.equal('AAA\n');
    });
});
