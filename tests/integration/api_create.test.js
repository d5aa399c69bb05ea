// SPDX-License-Identifier: MIT
// api_create.test.js - contract tests of process creation: POST/GET /process, /v1, API key
// sources and 401 bodies, parameter validation, response fields, URL styles (A, B, D).
'use strict';
const { expect } = require('chai');
const fs = require('fs');
const { startServer } = require('../lib/server');
const images = require('../lib/images');
const H = require('../lib/http');

const CREATE_KEYS = ['url', 'id', 'host', 'expires', 'maxsize', 'maxtime', 'concurrent', 'minutes'];

function parseUtc(text) {
    const m = /^(\d{4})-(\d\d)-(\d\d) (\d\d):(\d\d):(\d\d)$/.exec(text);
    if (!m)
        throw new Error('not YYYY-MM-DD HH:MM:SS: ' + JSON.stringify(text));
    return Date.UTC(+m[1], +m[2] - 1, +m[3], +m[4], +m[5], +m[6]) / 1000;
}

describe('create: POST /process and GET /process (A, B, D)', function () {
    this.timeout(20000);
    let server;
    let api;
    let dir;
    let pngBytes;

    before(async function () {
        this.timeout(30000);
        server = await startServer();
        api = H.api(server);
        dir = images.tmpDir();
        pngBytes = fs.readFileSync(images.png(dir, 'in.png', 48, 32));
    });

    after(async function () {
        fs.rmSync(dir, { recursive: true, force: true });
        await H.stopServer(server);
    });

    describe('response (D3)', function () {
        let res;
        let body;

        before(async function () {
            res = await api.create({ inputformat: 'png', outputformat: 'jpg' });
            body = H.expectJson(res, 200);
        });

        it('answers exactly 200 with JSON content type', function () {
            expect(res.status).to.equal(200);
            expect(res.headers['content-type']).to.equal(H.JSON_TYPE);
        });

        it('has every create field', function () {
            expect(body).to.contain.all.keys(CREATE_KEYS);
        });

        it('id is an unguessable URL-safe string (≥ 22 chars)', function () {
            expect(body.id).to.be.a('string');
            expect(body.id).to.match(/^[A-Za-z0-9_-]{22,}$/);
        });

        it('url is //HOST/process/ID with HOST from the Host header (A2, A3 default)', function () {
            expect(body.url).to.equal('//' + server.host + '/process/' + body.id);
            expect(body.host).to.equal(server.host);
        });

        it('expires is a UTC "YYYY-MM-DD HH:MM:SS" about 24 h ahead', function () {
            expect(body.expires).to.match(/^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d$/);
            const delta = parseUtc(body.expires) - (Date.now() / 1000 + 86400);
            expect(Math.abs(delta)).to.be.below(120);
        });

        it('maxsize, maxtime, concurrent, minutes are JSON integers', function () {
            for (const k of ['maxsize', 'maxtime', 'concurrent', 'minutes']) {
                expect(Number.isInteger(body[k]), k + ' = ' + JSON.stringify(body[k])).to.equal(true);
                expect(body[k], k).to.be.at.least(k === 'minutes' ? 0 : 1);
            }
        });

        it('two creates give two different ids', async function () {
            const other = await api.process({ inputformat: 'png', outputformat: 'jpg' });
            expect(other.id).to.not.equal(body.id);
        });

        it('the url answers a status of that process without a key', async function () {
            const st = H.expectJson(await H.request({ url: H.abs(body.url) }), 200);
            expect(st.id).to.equal(body.id);
            expect(st.url).to.equal(body.url);
            expect(H.STEPS).to.include(st.step);
        });
    });

    describe('GET /process?... also creates (D1)', function () {
        it('creates a process from query parameters', async function () {
            const res = await H.request({ url: server.base + '/process',
                query: { inputformat: 'png', outputformat: 'jpg', apikey: server.apikey } });
            const body = H.expectJson(res, 200);
            expect(body).to.contain.all.keys(CREATE_KEYS);
            expect(body.url).to.equal('//' + server.host + '/process/' + body.id);
        });

        it('the GET-created process converts', async function () {
            const res = await H.request({ url: server.base + '/process',
                query: { inputformat: 'png', outputformat: 'jpg', apikey: server.apikey } });
            const proc = H.expectJson(res, 200);
            const st = H.expectJson(await api.start(proc, { input: 'base64',
                file: pngBytes.toString('base64'), filename: 'get.png', wait: true }), 200);
            expect(st.step).to.equal('finished');
            const dl = await api.download(st);
            expect(dl.status).to.equal(200);
            const img = images.decodeBuffer(dl.body, 'get.jpg');
            expect(img.loader).to.equal('jpegload');
            expect([img.width, img.height]).to.deep.equal([48, 32]);
        });
    });

    describe('/v1 prefix (A1)', function () {
        it('POST /v1/process creates a process with the usual url', async function () {
            const res = await H.request({ method: 'POST', url: server.base + '/v1/process',
                json: { apikey: server.apikey, inputformat: 'png', outputformat: 'jpg' } });
            const body = H.expectJson(res, 200);
            expect(body.url).to.equal('//' + server.host + '/process/' + body.id);
        });

        it('GET /v1/process/ID answers the status of that process', async function () {
            const proc = await api.process({ inputformat: 'png', outputformat: 'jpg' });
            const st = H.expectJson(await H.request({ url: server.base + '/v1/process/' + proc.id }));
            expect(st.id).to.equal(proc.id);
            expect(st.url).to.equal(proc.url);
        });

        it('start, upload and download work under /v1', async function () {
            const proc = await api.process({ inputformat: 'png', outputformat: 'jpg' });
            const started = H.expectJson(await H.request({ method: 'POST',
                url: server.base + '/v1/process/' + proc.id, json: { input: 'upload' } }));
            const token = new URL(H.abs(started.upload.url)).pathname;
            const put = await H.request({ method: 'PUT',
                url: server.base + '/v1' + token + '/v1.png', body: pngBytes });
            H.expectJson(put, 200);
            const st = H.expectJson(await H.request({
                url: server.base + '/v1/process/' + proc.id, query: { wait: 'true' } }));
            expect(st.step).to.equal('finished');
            const dl = await H.request({
                url: server.base + '/v1' + new URL(H.abs(st.output.url)).pathname });
            expect(dl.status).to.equal(200);
            expect(images.decodeBuffer(dl.body, 'v1.jpg').loader).to.equal('jpegload');
        });

        it('GET /v1/conversiontypes, /v1/user and /v1/processes answer', async function () {
            const ct = H.expectJson(await H.request({ url: server.base + '/v1/conversiontypes',
                query: { inputformat: 'png' } }));
            expect(ct).to.be.an('array');
            expect(ct.length).to.be.above(0);
            const user = H.expectJson(await H.request({ url: server.base + '/v1/user',
                query: { apikey: server.apikey } }));
            expect(Number.isInteger(user.minutes)).to.equal(true);
            const list = H.expectJson(await H.request({ url: server.base + '/v1/processes',
                query: { apikey: server.apikey } }));
            expect(list).to.be.an('array');
        });
    });

    describe('API key sources (B1)', function () {
        const params = { inputformat: 'png', outputformat: 'jpg' };

        async function created(res) {
            const body = H.expectJson(res, 200);
            expect(body.id).to.match(/^[A-Za-z0-9_-]{22,}$/);
        }

        it('Authorization: Bearer KEY', async function () {
            await created(await H.request({ method: 'POST', url: server.base + '/process',
                json: params, headers: { Authorization: 'Bearer ' + server.apikey } }));
        });

        it('X-CloudConvert-ApiKey: KEY', async function () {
            await created(await H.request({ method: 'POST', url: server.base + '/process',
                json: params, headers: { 'X-CloudConvert-ApiKey': server.apikey } }));
        });

        it('apikey in the query with a JSON body', async function () {
            await created(await H.request({ method: 'POST', url: server.base + '/process',
                query: { apikey: server.apikey }, json: params }));
        });

        it('apikey in a JSON body', async function () {
            await created(await H.request({ method: 'POST', url: server.base + '/process',
                json: Object.assign({ apikey: server.apikey }, params) }));
        });

        it('apikey in an urlencoded body', async function () {
            await created(await H.request({ method: 'POST', url: server.base + '/process',
                form: Object.assign({ apikey: server.apikey }, params) }));
        });

        it('apikey as a multipart field', async function () {
            const mp = H.multipart([{ name: 'apikey', value: server.apikey },
                { name: 'inputformat', value: 'png' }, { name: 'outputformat', value: 'jpg' }]);
            await created(await H.request({ method: 'POST', url: server.base + '/process',
                multipart: mp }));
        });
    });

    describe('401 (B4) - the key is checked first', function () {
        const NO_KEY = { error: 'No API Key provided!', code: 401 };
        const BAD_KEY = { error: 'Invalid API Key provided!', code: 401 };

        it('no key → 401 {"error":"No API Key provided!","code":401}', async function () {
            const res = await H.request({ method: 'POST', url: server.base + '/process',
                json: { inputformat: 'png', outputformat: 'jpg' } });
            expect(res.status).to.equal(401);
            expect(res.headers['content-type']).to.equal(H.JSON_TYPE);
            expect(res.json()).to.deep.equal(NO_KEY);
        });

        it('no key on GET /process → the same 401', async function () {
            const res = await H.request({ url: server.base + '/process',
                query: { inputformat: 'png', outputformat: 'jpg' } });
            expect(res.status).to.equal(401);
            expect(res.json()).to.deep.equal(NO_KEY);
        });

        it('wrong Bearer key → 401 {"error":"Invalid API Key provided!","code":401}', async function () {
            const res = await H.request({ method: 'POST', url: server.base + '/process',
                json: { inputformat: 'png', outputformat: 'jpg' },
                headers: { Authorization: 'Bearer ' + server.apikey + 'x' } });
            expect(res.status).to.equal(401);
            expect(res.headers['content-type']).to.equal(H.JSON_TYPE);
            expect(res.json()).to.deep.equal(BAD_KEY);
        });

        it('wrong key in the query → 401 Invalid API Key', async function () {
            const res = await H.request({ method: 'POST', url: server.base + '/process',
                query: { apikey: 'test-0000000000000000000000000000000' },
                json: { inputformat: 'png', outputformat: 'jpg' } });
            expect(res.status).to.equal(401);
            expect(res.json()).to.deep.equal(BAD_KEY);
        });

        it('malformed keys (short, spaces, non-ASCII) → 401 Invalid API Key', async function () {
            for (const k of ['x', 'a key with spaces 1234567890', 'ключключключключ']) {
                const res = await H.request({ method: 'POST', url: server.base + '/process',
                    json: { apikey: k, inputformat: 'png', outputformat: 'jpg' } });
                expect(res.status, k).to.equal(401);
                expect(res.json(), k).to.deep.equal(BAD_KEY);
            }
        });

        it('a key-less create of an unsupported pair is 401, not 400', async function () {
            const res = await H.request({ method: 'POST', url: server.base + '/process',
                json: { inputformat: 'xyzfoo', outputformat: 'pdf' } });
            expect(res.status).to.equal(401);
            expect(res.json()).to.deep.equal(NO_KEY);
        });

        it('a wrong key with inputformat missing is 401, not 400', async function () {
            const res = await H.request({ method: 'POST', url: server.base + '/process',
                json: { apikey: 'wrong-key-0123456789abcdef' } });
            expect(res.status).to.equal(401);
            expect(res.json()).to.deep.equal(BAD_KEY);
        });

        it('/convert without a key → 401 No API Key provided!', async function () {
            const res = await H.request({ method: 'POST', url: server.base + '/convert',
                json: { inputformat: 'png', outputformat: 'jpg', input: 'base64',
                    file: pngBytes.toString('base64'), filename: 'a.png' } });
            expect(res.status).to.equal(401);
            expect(res.json()).to.deep.equal(NO_KEY);
        });
    });

    describe('validation (D2, D4)', function () {
        it('outputformat left out → 200', async function () {
            const body = H.expectJson(await api.create({ inputformat: 'png' }), 200);
            expect(body.id).to.be.a('string');
        });

        it('outputformat "" in JSON → 200', async function () {
            const body = H.expectJson(await api.create({ inputformat: 'png', outputformat: '' }), 200);
            expect(body.id).to.be.a('string');
        });

        it('outputformat= empty in an urlencoded body (rb-e) → 200', async function () {
            const res = await H.request({ method: 'POST', url: server.base + '/process',
                form: 'apikey=' + encodeURIComponent(server.apikey) + '&inputformat=png&outputformat=' });
            H.expectJson(res, 200);
        });

        it('inputformat missing → 400 naming inputformat', async function () {
            H.expectError(await api.create({ outputformat: 'jpg' }), 400, 'inputformat');
        });

        it('unknown input format → 400 "This conversiontype is not supported!" naming the pair',
            async function () {
                const body = H.expectError(await api.create({ inputformat: 'xyzfoo', outputformat: 'pdf' }),
                    400, 'This conversiontype is not supported!');
                expect(body.error).to.contain('xyzfoo');
                expect(body.error).to.contain('pdf');
            });

        it('known input, unsupported output → 400 naming the pair', async function () {
            const body = H.expectError(await api.create({ inputformat: 'png', outputformat: 'xyzbar' }),
                400, 'This conversiontype is not supported!');
            expect(body.error).to.contain('png');
            expect(body.error).to.contain('xyzbar');
        });

        it('the alias jpeg is accepted as jpg', async function () {
            const proc = await api.process({ inputformat: 'png', outputformat: 'jpeg' });
            const st = H.expectJson(await api.start(proc, { input: 'base64',
                file: pngBytes.toString('base64'), filename: 'alias.png', wait: true }));
            expect(st.step).to.equal('finished');
            expect(st.output.ext).to.equal('jpg');
            expect(st.output.filename).to.equal('alias.jpg');
        });

        it('unknown parameters are ignored', async function () {
            H.expectJson(await api.create({ inputformat: 'png', outputformat: 'jpg',
                frobnicate: { a: [1, 2] }, zzz: 'x' }), 200);
        });
    });

    describe('URL host (A4, A5)', function () {
        it('HOST comes from the Host header and is fixed at create', async function () {
            const res = await H.request({ method: 'POST', url: server.base + '/process',
                headers: { Host: 'files.example.com:8443' },
                json: { apikey: server.apikey, inputformat: 'png', outputformat: 'jpg' } });
            const proc = H.expectJson(res, 200);
            expect(proc.host).to.equal('files.example.com:8443');
            expect(proc.url).to.equal('//files.example.com:8443/process/' + proc.id);
            // later requests arrive with the real Host: the stored HOST stays
            const st = H.expectJson(await H.request({ method: 'POST',
                url: server.base + '/process/' + proc.id, json: { input: 'upload' } }));
            expect(st.url).to.equal(proc.url);
            expect(st.upload.url).to.match(/^\/\/files\.example\.com:8443\/upload\/[A-Za-z0-9_-]+$/);
            expect(st.output.url).to.match(/^\/\/files\.example\.com:8443\/download\/[A-Za-z0-9_~-]+$/);
        });

        it('Location of a download redirect is absolute http://HOST/...', async function () {
            const res = await H.request({ method: 'POST', url: server.base + '/convert',
                json: { apikey: server.apikey, inputformat: 'png', outputformat: 'jpg',
                    input: 'base64', file: pngBytes.toString('base64'), filename: 'loc.png',
                    download: true } });
            expect(res.status).to.equal(303);
            expect(res.headers.location).to.match(
                new RegExp('^http://' + server.host.replace(/\./g, '\\.') + '/download/[^/?]+$'));
        });
    });

    describe('--public-url http://127.0.0.1:PORT (A3 absolute)', function () {
        let pub;
        let papi;
        let port;

        before(async function () {
            this.timeout(30000);
            port = await H.freePort();
            pub = await startServer({ port, args: ['--public-url', 'http://127.0.0.1:' + port] });
            papi = H.api(pub);
        });

        after(async function () {
            await H.stopServer(pub);
        });

        it('create url is absolute http://127.0.0.1:PORT/process/ID', async function () {
            const proc = await papi.process({ inputformat: 'png', outputformat: 'jpg' });
            expect(proc.url).to.equal('http://127.0.0.1:' + port + '/process/' + proc.id);
            expect(proc.host).to.equal('127.0.0.1:' + port);
        });

        it('a different Host header does not change the configured URL', async function () {
            const res = await H.request({ method: 'POST', url: pub.base + '/process',
                headers: { Host: 'evil.example:1' },
                json: { apikey: pub.apikey, inputformat: 'png', outputformat: 'jpg' } });
            const proc = H.expectJson(res, 200);
            expect(proc.url).to.equal('http://127.0.0.1:' + port + '/process/' + proc.id);
            expect(proc.host).to.equal('127.0.0.1:' + port);
        });

        it('status, upload and download URLs are absolute and work', async function () {
            const proc = await papi.process({ inputformat: 'png', outputformat: 'jpg' });
            const started = H.expectJson(await H.request({ method: 'POST', url: proc.url,
                json: { input: 'upload' } }));
            const prefix = 'http://127.0.0.1:' + port + '/';
            expect(started.url).to.equal(proc.url);
            expect(started.upload.url.startsWith(prefix + 'upload/')).to.equal(true);
            expect(started.output.url.startsWith(prefix + 'download/')).to.equal(true);
            H.expectJson(await H.request({ method: 'PUT', url: started.upload.url + '/pub.png',
                body: pngBytes }));
            const st = H.expectJson(await H.request({ url: proc.url, query: { wait: 'true' } }));
            expect(st.step).to.equal('finished');
            expect(st.url).to.equal(proc.url);
            expect(st.output.url).to.equal(started.output.url);
            const dl = await H.request({ url: st.output.url });
            expect(dl.status).to.equal(200);
            expect(images.decodeBuffer(dl.body, 'pub.jpg').width).to.equal(48);
        });

        it('Location of a download redirect uses the configured URL', async function () {
            const res = await H.request({ method: 'POST', url: pub.base + '/convert',
                json: { apikey: pub.apikey, inputformat: 'png', outputformat: 'jpg',
                    input: 'base64', file: pngBytes.toString('base64'), filename: 'loc.png',
                    download: true } });
            expect(res.status).to.equal(303);
            expect(res.headers.location.startsWith('http://127.0.0.1:' + port + '/download/'))
                .to.equal(true);
            expect(res.text()).to.equal('See Other. Redirecting to ' + res.headers.location);
        });
    });
});
