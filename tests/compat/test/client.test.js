// SPDX-License-Identifier: MIT
// client.test.js - convertd driven by the official CloudConvert v1 Node.js client cloudconvert@1.1.2.
'use strict';
const { execFileSync } = require('child_process');
const { once } = require('events');
const crypto = require('crypto');
const fs = require('fs');
const os = require('os');
const path = require('path');
const { expect } = require('chai');
const CloudConvert = require('cloudconvert');
const Process = require('cloudconvert/lib/process');
const { startServer } = require('../../lib/server');
const { startFileServer } = require('../../lib/fileserver');
const { ClientGuard } = require('../../lib/compat-client');

// The client's own fixture: a 500x500 RGBA PNG (checked with vipsheader).
const CLIENT_PNG = path.join(path.dirname(require.resolve('cloudconvert/package.json')),
    'tests', 'integration', 'input.png');

let srv;
let files;
let tmp;
const guard = new ClientGuard();

// An Api instance of the official client aimed at the test server. key: undefined → no key.
function newApi(key) {
    return guard.api(srv, key);
}

function keyedApi() {
    return newApi(srv.apikey);
}

// Run a client call taking a node-style callback; resolve with { err, res }.
function settle(fn) {
    return new Promise((resolve) => fn((err, res) => resolve({ err, res })));
}

// Same, but reject when the client reports an error (with its HTTP code in the message).
async function ok(fn) {
    const { err, res } = await settle(fn);
    if (err)
        throw new Error('client error ' + err.code + ': ' + err.message);
    return res;
}

function createProcess(api, params) {
    return ok((cb) => api.createProcess(params, cb));
}

function start(proc, params) {
    return ok((cb) => proc.start(params, cb));
}

function wait(proc) {
    return ok((cb) => proc.wait(cb));
}

// First of the events 'finished' / 'error' of a Process (or of a convert() shortcut). The
// listeners stay: a second 'error' (e.g. upload and wait both failing) must not go unhandled.
function outcome(proc) {
    return new Promise((resolve) => {
        proc.on('finished', (data) => resolve({ event: 'finished', data }));
        proc.on('error', (err) => resolve({ event: 'error', err }));
    });
}

function clone(obj) {
    return JSON.parse(JSON.stringify(obj));
}

function vips(args) {
    execFileSync('vips', args, { stdio: 'pipe' });
}

// Decoded facts of an image file: loader, width, height (vipsheader fails on a non-image).
function imageInfo(file) {
    const field = (f) => execFileSync('vipsheader', ['-f', f, file], { encoding: 'utf8' }).trim();
    return { loader: field('vips-loader'), width: Number(field('width')),
        height: Number(field('height')) };
}

// First three band values of pixel (x, y).
function pixel(file, x, y) {
    const out = execFileSync('vips', ['getpoint', file, String(x), String(y)], { encoding: 'utf8' });
    return out.trim().split(/\s+/).slice(0, 3).map(Number);
}

// A solid-colour RGB PNG.
function solidPng(file, width, height, rgb) {
    const black = file + '.black.png';
    vips(['black', black, String(width), String(height), '--bands', '3']);
    vips(['linear', black, file, '1', rgb.join(' '), '--uchar']);
    fs.unlinkSync(black);
}

describe('official client cloudconvert@1.1.2', function () {
    this.timeout(20000);

    before(async function () {
        guard.install();
        tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'convertd-client-'));
        const src = path.join(tmp, 'src');
        fs.mkdirSync(src);
        // 96x60 like the hosted suite's logo_96x60.png.
        solidPng(path.join(src, 'small.png'), 96, 60, [30, 120, 200]);
        // Three 40x30 pages: red, green, blue.
        const pages = ['red', 'green', 'blue'].map((name, i) => {
            const rgb = [0, 0, 0];
            rgb[i] = 200;
            const f = path.join(tmp, name + '.png');
            solidPng(f, 40, 30, rgb);
            return f;
        });
        const strip = path.join(tmp, 'strip.png');
        vips(['arrayjoin', pages.join(' '), strip, '--across', '1']);
        vips(['tiffsave', strip, path.join(src, 'pages.tif'), '--page-height', '30']);
        const npages = execFileSync('vipsheader', ['-f', 'n-pages', path.join(src, 'pages.tif')],
            { encoding: 'utf8' }).trim();
        if (npages !== '3')
            throw new Error('fixture pages.tif has ' + npages + ' pages, expected 3');
        // Random bytes under a .png name, and a real PNG cut short after its header.
        const garbage = crypto.randomBytes(4096);
        garbage[0] = 0; // never a PNG signature
        fs.writeFileSync(path.join(src, 'corrupt.png'), garbage);
        fs.writeFileSync(path.join(src, 'truncated.png'), fs.readFileSync(CLIENT_PNG).subarray(0, 2000));

        files = await startFileServer(src);
        srv = await startServer({ args: ['--allow-private-urls'] });
    });

    after(async function () {
        await guard.release(5000);
        if (srv) {
            await srv.stop();
            srv.cleanup();
        }
        if (files)
            await files.close();
        if (tmp)
            fs.rmSync(tmp, { recursive: true, force: true });
    });

    function src(name) {
        return path.join(tmp, 'src', name);
    }

    function out(name) {
        return path.join(tmp, name);
    }

    describe("api.get('/conversiontypes')", function () {
        let list;

        before(async function () {
            // no key: /conversiontypes is public
            list = await ok((cb) => newApi().get('/conversiontypes',
                { inputformat: 'png', outputformat: 'jpg' }, cb));
        });

        it('lists png → jpg without a key, by converter vips in group image', function () {
            expect(list).to.be.an('array');
            expect(list).to.not.be.empty;
            for (const item of list) {
                expect(item.inputformat).to.equal('png');
                expect(item.outputformat).to.equal('jpg');
                expect(item.converter).to.equal('vips');
                expect(item.group).to.equal('image');
            }
        });

        it('gives converteroptions (with quality) whose defaults are all strings or null', function () {
            expect(list).to.not.be.empty;
            for (const item of list) {
                const opts = item.converteroptions;
                expect(opts).to.be.an('object');
                expect(Array.isArray(opts)).to.equal(false);
                expect(opts).to.have.property('quality');
                for (const [name, value] of Object.entries(opts)) {
                    expect(value === null || typeof value === 'string',
                        'default of ' + name + ' is ' + JSON.stringify(value)).to.equal(true);
                }
            }
        });
    });

    describe("createProcess + start with input 'upload' (fs stream) + wait", function () {
        let proc;
        let started;

        before(async function () {
            proc = await createProcess(keyedApi(), { inputformat: 'png', outputformat: 'jpg' });
            // registered before start(), so it runs before the client's upload mutates data
            proc.once('started', (data) => { started = clone(data); });
            await start(proc, {
                outputformat: 'jpg',
                input: 'upload',
                converteroptions: { quality: 51 },
                file: fs.createReadStream(CLIENT_PNG),
            });
            await wait(proc);
        });

        it('createProcess gives a Process with the protocol-relative process URL', function () {
            expect(proc).to.be.an.instanceof(Process);
            expect(proc.url).to.match(new RegExp('^//' + srv.host.replace(/\./g, '\\.') +
                '/process/[^/?]+$'));
        });

        it("answers start in step 'input' with an upload object of strings only", function () {
            expect(started.step).to.equal('input');
            expect(started.upload.url).to.match(new RegExp('^//' + srv.host.replace(/\./g, '\\.') +
                '/upload/[^/]+$'));
            for (const [k, v] of Object.entries(started.upload))
                expect(typeof v, 'upload.' + k).to.equal('string');
        });

        it('answers start with output.url already set', function () {
            expect(started.output.url).to.match(new RegExp('^//' + srv.host.replace(/\./g, '\\.') +
                '/download/'));
        });

        it("ends in step 'finished' with percent 100", function () {
            expect(proc.data.step).to.equal('finished');
            expect(proc.data.percent).to.equal(100);
        });

        it('echoes converteroptions.quality 51 as a number in converter.options', function () {
            expect(proc.data.converter.options.quality).to.equal(51);
        });

        it('names input and output after the uploaded file input.png', function () {
            expect(proc.data.input.filename).to.equal('input.png');
            expect(proc.data.output.filename).to.equal('input.jpg');
            expect(proc.data.output.ext).to.equal('jpg');
        });
    });

    describe("start with input 'download' from a local URL + wait + download()", function () {
        let proc;

        before(async function () {
            proc = await createProcess(keyedApi(), { inputformat: 'png', outputformat: 'jpg' });
            await start(proc, { outputformat: 'jpg', input: 'download', file: files.url('/small.png') });
            await wait(proc);
        });

        it("ends in step 'finished'", function () {
            expect(proc.data.step).to.equal('finished');
        });

        it('names the output after the URL file name (small.jpg)', function () {
            expect(proc.data.input.filename).to.equal('small.png');
            expect(proc.data.output.filename).to.equal('small.jpg');
        });

        it('download() writes a JPEG of 96x60', async function () {
            const dest = out('small.jpg');
            await ok((cb) => proc.download(fs.createWriteStream(dest), null, cb));
            expect(imageInfo(dest)).to.deep.equal({ loader: 'jpegload', width: 96, height: 60 });
        });
    });

    describe('multi-page TIFF → png (several output files)', function () {
        let proc;

        before(async function () {
            proc = await createProcess(keyedApi(), { inputformat: 'tiff', outputformat: 'png' });
            await start(proc, { outputformat: 'png', input: 'upload',
                file: fs.createReadStream(src('pages.tif')) });
            await wait(proc);
        });

        it('lists pages-1.png, pages-2.png, pages-3.png in output.files', function () {
            expect(proc.data.step).to.equal('finished');
            expect(proc.data.output.files).to.deep.equal(['pages-1.png', 'pages-2.png', 'pages-3.png']);
        });

        it('names the whole output pages.zip with ext zip', function () {
            expect(proc.data.output.filename).to.equal('pages.zip');
            expect(proc.data.output.ext).to.equal('zip');
        });

        describe('downloadAll()', function () {
            let dir;

            before(async function () {
                dir = out('all');
                fs.mkdirSync(dir);
                await ok((cb) => proc.downloadAll(dir, cb));
            });

            it('writes every listed file as a 40x30 PNG', function () {
                for (const name of ['pages-1.png', 'pages-2.png', 'pages-3.png'])
                    expect(imageInfo(path.join(dir, name)), name)
                        .to.deep.equal({ loader: 'pngload', width: 40, height: 30 });
            });

            it('puts page N into pages-N.png (red, green, blue)', function () {
                expect(pixel(path.join(dir, 'pages-1.png'), 5, 5)).to.deep.equal([200, 0, 0]);
                expect(pixel(path.join(dir, 'pages-2.png'), 5, 5)).to.deep.equal([0, 200, 0]);
                expect(pixel(path.join(dir, 'pages-3.png'), 5, 5)).to.deep.equal([0, 0, 200]);
            });
        });
    });

    describe('delete()', function () {
        let api;
        let proc;
        let outputUrl;
        let deleted;

        before(async function () {
            api = keyedApi();
            proc = await createProcess(api, { inputformat: 'png', outputformat: 'jpg' });
            await start(proc, { outputformat: 'jpg', input: 'upload',
                file: fs.createReadStream(src('small.png')) });
            await wait(proc);
            outputUrl = proc.data.output.url;
            deleted = await settle((cb) => proc.delete({}, cb));
        });

        it("succeeds with the message 'Process was deleted'", function () {
            expect(deleted.err).to.equal(null);
            expect(proc.data).to.deep.equal({ message: 'Process was deleted' });
        });

        it("makes a GET of the process URL answer 404 'Process not found'", async function () {
            const { err } = await settle((cb) => api.get(proc.url, {}, cb));
            expect(err).to.be.an('error');
            expect(err.code).to.equal(404);
            expect(err.message).to.equal('Process not found');
        });

        it('makes a GET of the download URL answer 404', async function () {
            const { err } = await settle((cb) => api.get(outputUrl, {}, cb));
            expect(err).to.be.an('error');
            expect(err.code).to.equal(404);
        });
    });

    describe('convert() shortcut fed by stream.pipe()', function () {
        let finished;
        let dest;

        before(async function () {
            const proc = fs.createReadStream(CLIENT_PNG).pipe(keyedApi().convert({
                inputformat: 'png',
                outputformat: 'jpg',
                converteroptions: { quality: 40 },
            }));
            const end = await outcome(proc);
            if (end.event === 'error')
                throw new Error('convert() emitted error ' + end.err.code + ': ' + end.err.message);
            finished = clone(end.data);
            dest = out('piped.jpg');
            const ws = fs.createWriteStream(dest);
            const downloaded = once(ws, 'finish');
            proc.pipe(ws);
            await downloaded;
        });

        it("emits 'finished' with step finished", function () {
            expect(finished.step).to.equal('finished');
        });

        it('passes converteroptions through create and start', function () {
            expect(finished.converter.options.quality).to.equal(40);
        });

        it('pipe() after finished writes a JPEG of the input size (500x500)', function () {
            expect(imageInfo(dest)).to.deep.equal({ loader: 'jpegload', width: 500, height: 500 });
        });
    });

    it('convert() can be piped to a file before it has finished', async function () {
        const dest = out('early.jpg');
        const proc = fs.createReadStream(CLIENT_PNG).pipe(keyedApi().convert({
            inputformat: 'png',
            outputformat: 'jpg',
        }));
        const ws = fs.createWriteStream(dest);
        const downloaded = new Promise((resolve, reject) => {
            const fail = (err) => reject(new Error('error ' + err.code + ': ' + err.message));
            proc.once('downloaded', resolve);
            proc.on('error', fail);
            ws.on('error', fail); // pipe() forwards the process's error to the destination
        });
        proc.pipe(ws);
        await downloaded;
        expect(imageInfo(dest)).to.deep.equal({ loader: 'jpegload', width: 500, height: 500 });
    });

    describe('errors', function () {
        it("createProcess without a key fails with code 401 'No API Key provided!'", async function () {
            const { err } = await settle((cb) =>
                newApi().createProcess({ inputformat: 'png', outputformat: 'jpg' }, cb));
            expect(err).to.be.an('error');
            expect(err.code).to.equal(401);
            expect(err.message).to.equal('No API Key provided!');
        });

        it("createProcess with an unknown key fails with code 401 'Invalid API Key provided!'",
            async function () {
                const { err } = await settle((cb) => newApi('wrong-' + crypto.randomBytes(8).toString('hex'))
                    .createProcess({ inputformat: 'png', outputformat: 'jpg' }, cb));
                expect(err).to.be.an('error');
                expect(err.code).to.equal(401);
                expect(err.message).to.equal('Invalid API Key provided!');
            });

        describe("start with input 'download' and file null", function () {
            let startErr;
            let end;

            before(async function () {
                const proc = await createProcess(keyedApi(), { inputformat: 'png', outputformat: 'jpg' });
                startErr = (await settle((cb) => proc.start({ outputformat: 'jpg', input: 'download',
                    file: null }, cb))).err;
                const ended = outcome(proc);
                proc.wait();
                end = await ended;
            });

            it('start() fails with code 400', function () {
                expect(startErr).to.be.an('error');
                expect(startErr.code).to.equal(400);
            });

            it("wait() then emits 'error' with code 400 and a message", function () {
                expect(end.event).to.equal('error');
                expect(end.err.code).to.equal(400);
                expect(end.err.message).to.be.a('string').and.not.equal('');
            });
        });

        // Random bytes named .png; a real PNG cut short after 2000 bytes.
        for (const name of ['corrupt.png', 'truncated.png']) {
            it("an uploaded " + name + " makes wait() emit 'error' with code 422 and a message",
                async function () {
                    const proc = await createProcess(keyedApi(), { inputformat: 'png', outputformat: 'jpg' });
                    const ended = outcome(proc);
                    await start(proc, { outputformat: 'jpg', input: 'upload',
                        file: fs.createReadStream(src(name)) });
                    proc.wait();
                    const end = await ended;
                    expect(end.event).to.equal('error');
                    expect(end.err.code).to.equal(422);
                    expect(end.err.message).to.be.a('string').and.not.equal('');
                    expect(end.err.message).to.not.equal('undefined');
                });
        }

        it('createProcess of an unsupported pair (png → mp3) fails with code 400', async function () {
            const { err } = await settle((cb) =>
                keyedApi().createProcess({ inputformat: 'png', outputformat: 'mp3' }, cb));
            expect(err).to.be.an('error');
            expect(err.code).to.equal(400);
        });

        it("convert() of an unsupported pair emits an error saying 'This conversiontype is not " +
            "supported!' and naming the pair", async function () {
            const proc = keyedApi().convert({ inputformat: 'png', outputformat: 'mp3',
                input: 'download', file: files.url('/small.png') });
            const end = await outcome(proc);
            expect(end.event).to.equal('error');
            expect(end.err.message).to.contain('This conversiontype is not supported!');
            expect(end.err.message).to.contain('png');
            expect(end.err.message).to.contain('mp3');
        });
    });
});
