// SPDX-License-Identifier: MIT
// api_archive.test.js - modes archive (several inputs → zip, tar, tar.gz, 7z) and extract
// (members of an archive → files) through the real server (issue: documents, item 3;
// security.md SEC-15/16).
'use strict';
const { expect } = require('chai');
const { execFileSync } = require('child_process');
const fs = require('fs');
const os = require('os');
const path = require('path');
const { startServer } = require('../lib/server');
const { startFileServer } = require('../lib/fileserver');
const H = require('../lib/http');

// A ZIP of [name, text] members, written by python3's zipfile (names kept as given).
function makeZip(file, members) {
    execFileSync('python3', ['-c', 'import sys, json, zipfile\n' +
        'with zipfile.ZipFile(sys.argv[1], "w", zipfile.ZIP_DEFLATED) as z:\n' +
        '    for n, t in json.loads(sys.argv[2]): z.writestr(n, t)\n',
    file, JSON.stringify(members)]);
}

describe('modes archive and extract', function () {
    this.timeout(30000);
    let server;
    let api;
    let files;
    let dir;

    before(async function () {
        dir = fs.mkdtempSync(path.join(os.tmpdir(), 'convertd-archive-'));
        fs.writeFileSync(path.join(dir, 'notes.txt'), 'some notes\n');
        fs.writeFileSync(path.join(dir, 'data.csv'), 'a,b\n1,2\n');
        files = await startFileServer(dir);
        server = await startServer({ args: ['--allow-private-urls'] });
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
        const st = H.expectJson(await api.status(proc, { wait: 'true' }, { timeout: 20000 }), 200);
        expect(st.step, st.message).to.equal('finished');
        return st;
    }

    it('/conversiontypes answers pdf → zip with the archive converter', async function () {
        const rows = H.expectJson(await H.request({ url: server.base +
            '/conversiontypes?inputformat=pdf&outputformat=zip' }), 200);
        expect(rows.map((r) => [r.inputformat, r.outputformat, r.converter, r.group]))
            .to.deep.equal([['pdf', 'zip', 'archive', 'archive']]);
    });

    it('archive: two uploads (any content) → one ZIP holding both, named and byte-exact', async function () {
        const proc = await api.process({ inputformat: 'txt', outputformat: 'zip', mode: 'archive' });
        const started = H.expectJson(await api.start(proc, { input: 'upload',
            files: ['first.txt', 'second.bin'] }), 200);
        H.expectJson(await api.put(started, 'second.bin', Buffer.from([0, 1, 2, 255])), 200);
        H.expectJson(await api.put(started, 'first.txt', 'hello\n'), 200);
        const st = await finished(proc);
        expect(st.output.ext).to.equal('zip');
        const dl = await api.download(st);
        expect(dl.status).to.equal(200);
        const members = H.unzipBuffer(dl.body);
        expect(members.map((m) => m.name)).to.deep.equal(['first.txt', 'second.bin']);
        expect(members[0].data.toString()).to.equal('hello\n');
        expect([...members[1].data]).to.deep.equal([0, 1, 2, 255]);
    });

    it('archive: downloads → tar.gz that tar lists and unpacks to the same bytes', async function () {
        const proc = await api.process({ inputformat: 'txt', outputformat: 'tar.gz', mode: 'archive' });
        H.expectJson(await api.start(proc, { input: 'download',
            files: [files.url('/notes.txt'), files.url('/data.csv')] }), 200);
        const st = await finished(proc);
        const dl = await api.download(st);
        const out = fs.mkdtempSync(path.join(dir, 'untar-'));
        fs.writeFileSync(path.join(out, 'a.tar.gz'), dl.body);
        const list = execFileSync('tar', ['tzf', path.join(out, 'a.tar.gz')], { encoding: 'utf8' })
            .split('\n').filter(Boolean);
        expect(list).to.deep.equal(['notes.txt', 'data.csv']);
        execFileSync('tar', ['xzf', path.join(out, 'a.tar.gz'), '-C', out]);
        expect(fs.readFileSync(path.join(out, 'data.csv'), 'utf8')).to.equal('a,b\n1,2\n');
    });

    it('archive with an outputformat that is no archive → 400 naming outputformat', async function () {
        const proc = await api.process({ inputformat: 'zip', outputformat: 'png', mode: 'archive' });
        H.expectError(await api.start(proc, { input: 'download', files: [files.url('/notes.txt')] }),
            400, /outputformat|not supported/);
    });

    it('extract: a ZIP of three members → NAME-1.txt, NAME-2.csv, NAME-3.md in archive order', async function () {
        const zip = path.join(dir, 'three.zip');
        makeZip(zip, [['a.txt', 'AAA'], ['sub/b.csv', 'x,y'], ['c.md', '# C']]);
        const proc = await api.process({ inputformat: 'zip', outputformat: 'txt', mode: 'extract' });
        const started = H.expectJson(await api.start(proc, { input: 'upload' }), 200);
        H.expectJson(await api.put(started, 'three.zip', fs.readFileSync(zip)), 200);
        const st = await finished(proc);
        expect(st.output.files).to.deep.equal(['three-1.txt', 'three-2.csv', 'three-3.md']);
        const one = await api.download(st, 'three-2.csv');
        expect(one.status).to.equal(200);
        expect(one.body.toString()).to.equal('x,y');
    });

    it('extract: member names with ../, absolute paths and backslashes stay inside (SEC-15)', async function () {
        const zip = path.join(dir, 'slip.zip');
        makeZip(zip, [['../../../../tmp/convertd-slip-test.txt', 'evil'], ['/abs-slip.txt', 'abs'],
            ['..\\..\\win.txt', 'win']]);
        const proc = await api.process({ inputformat: 'zip', outputformat: 'txt', mode: 'extract' });
        const started = H.expectJson(await api.start(proc, { input: 'upload' }), 200);
        H.expectJson(await api.put(started, 'slip.zip', fs.readFileSync(zip)), 200);
        const st = await finished(proc);
        expect(st.output.files).to.deep.equal(['slip-1.txt', 'slip-2.txt', 'slip-3.txt']);
        expect(fs.existsSync('/tmp/convertd-slip-test.txt')).to.equal(false);
        expect(fs.existsSync('/abs-slip.txt')).to.equal(false);
        const zipOut = H.unzipBuffer((await api.download(st)).body);
        for (const m of zipOut)
            expect(m.name).to.match(/^slip-[0-9]\.txt$/);
    });

    it('extract of a PDF: its pages as PNGs, named by page number', async function () {
        const pdf = path.join(dir, 'two.pdf');
        execFileSync('gs', ['-q', '-dSAFER', '-dBATCH', '-dNOPAUSE', '-sDEVICE=pdfwrite',
            '-sOutputFile=' + pdf, '-c', '<< /PageSize [200 100] >> setpagedevice showpage showpage']);
        const proc = await api.process({ inputformat: 'pdf', outputformat: 'png', mode: 'extract' });
        const started = H.expectJson(await api.start(proc, { input: 'upload',
            converteroptions: { density: 72 } }), 200);
        H.expectJson(await api.put(started, 'two.pdf', fs.readFileSync(pdf)), 200);
        const st = await finished(proc);
        expect(st.converter.type).to.equal('ghostscript');
        expect(st.output.files).to.deep.equal(['two-1.png', 'two-2.png']);
        const page = (await api.download(st, 'two-2.png')).body;
        expect(page.readUInt32BE(16), 'width').to.equal(200);
        expect(page.readUInt32BE(20), 'height').to.equal(100);
    });

    it('extract of a PDF to pdf → 400 naming outputformat', async function () {
        const proc = await api.process({ inputformat: 'pdf', outputformat: 'pdf', mode: 'extract' });
        H.expectError(await api.start(proc, { input: 'upload' }), 400, /outputformat/);
    });

    it('extract: garbage named .zip → 422 "cannot read the archive"', async function () {
        const proc = await api.process({ inputformat: 'zip', outputformat: 'txt', mode: 'extract' });
        const started = H.expectJson(await api.start(proc, { input: 'upload' }), 200);
        await api.put(started, 'junk.zip', Buffer.alloc(5000, 7));
        const res = await api.status(proc, { wait: 'true' }, { timeout: 20000 });
        H.expectFailedStatus(res, 422, proc, /archive|ZIP/i);
    });
});
