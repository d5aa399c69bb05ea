// SPDX-License-Identifier: MIT
// storage_remote.test.js - input from and output to S3 and FTP through the real server,
// against real servers on 127.0.0.1: OpenStack Swift with s3api (it checks Signature V4) and
// pyftpdlib. Credentials must never show in a response.
'use strict';
const { expect } = require('chai');
const fs = require('fs');
const os = require('os');
const path = require('path');
const { startServer } = require('../lib/server');
const H = require('../lib/http');
const S = require('../lib/storage');

const FAKE = ['--test-converters'];

function show(res) {
    return res.status + ' ' + res.text().slice(0, 500);
}

describe('remote storage: S3 and FTP', function () {
    this.timeout(90000);
    let dir;
    let swift;
    let ftp;
    let ftpRoot;
    let server;
    let api;

    before(async function () {
        if (!fs.existsSync('/usr/bin/swift-proxy-server') || !S.havePython('pyftpdlib')) {
            console.log('    skipped: Swift or pyftpdlib is not installed (scripts/install-deps.sh ' +
                'installs them)');
            this.skip();
        }
        dir = fs.mkdtempSync(path.join(os.tmpdir(), 'convertd-storage-'));
        swift = await S.startSwift(path.join(dir, 'swift'));
        await swift.createBucket('inbox');
        await swift.createBucket('outbox');
        ftpRoot = path.join(dir, 'ftp');
        fs.mkdirSync(ftpRoot);
        ftp = await S.startFtp(ftpRoot, 'alice', 'ftp-secret-pw');
        server = await startServer({ workers: 1, args: ['--allow-private-urls', ...FAKE] });
        api = H.api(server);
    });

    after(async function () {
        if (server)
            await H.stopServer(server);
        await S.stopFixture(swift);
        await S.stopFixture(ftp);
        if (dir)
            fs.rmSync(dir, { recursive: true, force: true });
    });

    function s3(extra) {
        return Object.assign({ accesskeyid: swift.accessKey, secretaccesskey: swift.secretKey,
            region: 'us-east-1', endpoint: swift.endpoint }, extra || {});
    }

    function ftpParams(extra) {
        return Object.assign({ host: '127.0.0.1', port: ftp.port, user: 'alice',
            password: 'ftp-secret-pw' }, extra || {});
    }

    // create + start (fake → txt copies the input) with wait=true → {proc, res, st}
    async function run(start, create) {
        const proc = await api.process(Object.assign({ inputformat: 'fake', outputformat: 'txt' },
            create || {}));
        const res = await api.start(proc, Object.assign({ wait: true }, start), { timeout: 60000 });
        let st = null;
        try {
            st = res.json();
        } catch (e) {
            st = null;
        }
        return { proc, res, st };
    }

    function noSecrets(res) {
        const text = res.text();
        expect(text).to.not.include(swift.secretKey === 'testing' ? '"testing"' : swift.secretKey);
        expect(text).to.not.include('ftp-secret-pw');
    }

    describe('input from S3', function () {
        let r;

        before(async function () {
            await swift.putObject('inbox', 'docs/hello one.fake', Buffer.from('hello from s3\n'));
            r = await run({ input: { s3: s3({ bucket: 'inbox' }) }, file: 'docs/hello one.fake' });
        });

        it('finishes, the input named after the key', function () {
            expect(r.res.status, show(r.res)).to.equal(200);
            expect(r.st.step).to.equal('finished');
            expect(r.st.input.type).to.equal('s3');
            expect(r.st.input.filename).to.equal('hello one.fake');
        });

        it('the output holds the object\'s bytes', async function () {
            const res = await api.download(r.st);
            expect(res.status).to.equal(200);
            expect(res.body.toString()).to.equal('hello from s3\n');
        });

        it('no credential in the status', function () {
            noSecrets(r.res);
        });
    });

    it('input from S3 with a wrong secret → 422 naming the store\'s answer, without the secret', async function () {
        const r = await run({ input: { s3: s3({ bucket: 'inbox', secretaccesskey: 'wrong-secret-xyz' }) },
            file: 'docs/hello one.fake' });
        expect(r.res.status, show(r.res)).to.equal(422);
        expect(r.st.step).to.equal('error');
        expect(r.st.message).to.match(/S3: SignatureDoesNotMatch/);
        expect(r.res.text()).to.not.include('wrong-secret-xyz');
    });

    it('input from S3, missing key → 422 NoSuchKey', async function () {
        const r = await run({ input: { s3: s3({ bucket: 'inbox' }) }, file: 'nope.fake' });
        expect(r.res.status, show(r.res)).to.equal(422);
        expect(r.st.message).to.match(/NoSuchKey/);
    });

    it('output to S3 with a folder path: the object lands under it with the right bytes', async function () {
        const r = await run({ input: 'raw', file: 'to s3 bytes', filename: 'report.fake',
            output: { s3: s3({ bucket: 'outbox', path: 'results/', acl: 'public-read' }) } });
        expect(r.res.status, show(r.res)).to.equal(200);
        expect(r.st.step).to.equal('finished');
        expect(r.st.output.s3).to.deep.equal({ bucket: 'outbox', path: 'results/report.txt',
            region: 'us-east-1' });
        noSecrets(r.res);
        const got = await swift.getObject('outbox', 'results/report.txt');
        expect(got && got.toString()).to.equal('to s3 bytes');
    });

    it('output to S3 with a file path stores exactly that key', async function () {
        const r = await run({ input: 'raw', file: 'exact', filename: 'a.fake',
            output: { s3: s3({ bucket: 'outbox', path: 'exact/name.txt' }) } });
        expect(r.res.status, show(r.res)).to.equal(200);
        expect(r.st.output.s3.path).to.equal('exact/name.txt');
        expect((await swift.getObject('outbox', 'exact/name.txt')).toString()).to.equal('exact');
    });

    it('output to an unknown bucket → 422 NoSuchBucket, step error', async function () {
        const r = await run({ input: 'raw', file: 'x', filename: 'x.fake',
            output: { s3: s3({ bucket: 'no-such-bucket' }) } });
        expect(r.res.status, show(r.res)).to.equal(422);
        expect(r.st.message).to.match(/NoSuchBucket/);
        noSecrets(r.res);
    });

    it('input from FTP and output to FTP (folder path, folders created)', async function () {
        fs.mkdirSync(path.join(ftpRoot, 'in'), { recursive: true });
        fs.writeFileSync(path.join(ftpRoot, 'in', 'data.fake'), 'over ftp\n');
        const r = await run({ input: { ftp: ftpParams() }, file: 'in/data.fake',
            output: { ftp: ftpParams({ path: 'out/new/' }) } });
        expect(r.res.status, show(r.res)).to.equal(200);
        expect(r.st.input.type).to.equal('ftp');
        expect(r.st.output.ftp).to.deep.equal({ host: '127.0.0.1', path: 'out/new/data.txt' });
        noSecrets(r.res);
        expect(fs.readFileSync(path.join(ftpRoot, 'out', 'new', 'data.txt'), 'utf8'))
            .to.equal('over ftp\n');
    });

    it('FTP with a wrong password → 422 with the server\'s 530, without the password', async function () {
        const r = await run({ input: { ftp: ftpParams({ password: 'bad-pw-123' }) },
            file: 'in/data.fake' });
        expect(r.res.status, show(r.res)).to.equal(422);
        expect(r.st.message).to.match(/530/);
        expect(r.res.text()).to.not.include('bad-pw-123');
    });

    it('a 2 GiB output streams to S3 in parts: every byte arrives, the server stays small', async function () {
        this.timeout(300000);
        const size = 2 * 1024 * 1024 * 1024;
        const r = await run({ input: 'raw', file: 'big', filename: 'big.fake',
            converteroptions: { output_bytes: size },
            output: { s3: s3({ bucket: 'outbox', path: 'big/' }) } });
        expect(r.res.status, show(r.res)).to.equal(200);
        expect(r.st.output.s3.path).to.equal('big/big.txt');
        expect(await swift.objectSize('outbox', 'big/big.txt')).to.equal(size);
        // the server's peak resident memory (the upload runs in the server process)
        const status = fs.readFileSync('/proc/' + server.proc.pid + '/status', 'utf8');
        const hwm = Number(/^VmHWM:\s+(\d+) kB/m.exec(status)[1]) * 1024;
        expect(hwm, 'peak RSS ' + Math.round(hwm / 1048576) + ' MiB').to.be.below(256 * 1048576);
    });

    describe('a restart while the output waits to go up', function () {
        let proc;
        let st;

        before(async function () {
            // A conversion of 4 s with an S3 output; the server is killed during it, and the
            // credentials, kept in memory only, are gone after the restart.
            proc = await api.process({ inputformat: 'fake', outputformat: 'txt' });
            const res = await api.start(proc, { input: 'raw', file: 'slow', filename: 's.fake',
                converteroptions: { action: 'sleep', seconds: 4 },
                output: { s3: s3({ bucket: 'outbox', path: 'restart/' }) } });
            expect(res.status, show(res)).to.equal(200);
            const until = Date.now() + 10000;
            while (Date.now() < until && (await api.status(proc)).json().step !== 'convert')
                await H.sleep(50);
            await server.kill9();
            await server.start();
            api = H.api(server);
            const fin = await api.status(proc, { wait: 'true' }, { timeout: 60000 });
            st = fin.json();
        });

        it('ends in error "interrupted by restart"', function () {
            expect(st.step).to.equal('error');
            expect(st.message).to.equal('interrupted by restart');
        });

        it('nothing was stored', async function () {
            expect(await swift.getObject('outbox', 'restart/s.txt')).to.equal(null);
        });
    });

    describe('parameters', function () {
        it('input[s3] without a bucket → 400 naming it', async function () {
            const proc = await api.process({ inputformat: 'fake', outputformat: 'txt' });
            const res = await api.start(proc, { input: { s3: s3() }, file: 'k' });
            H.expectError(res, 400, /input\[s3\]\[bucket\] is missing/);
        });

        it('input=s3 without its parameters → 400', async function () {
            const proc = await api.process({ inputformat: 'fake', outputformat: 'txt' });
            const res = await api.start(proc, { input: 's3', file: 'k' });
            H.expectError(res, 400, /input\[s3\]/);
        });

        it('input[s3] without file → 400 asking for the key', async function () {
            const proc = await api.process({ inputformat: 'fake', outputformat: 'txt' });
            const res = await api.start(proc, { input: { s3: s3({ bucket: 'inbox' }) } });
            H.expectError(res, 400, /key/);
        });

        it('output[ftp] with a bad port → 400', async function () {
            const proc = await api.process({ inputformat: 'fake', outputformat: 'txt' });
            const res = await api.start(proc, { input: 'raw', file: 'x', filename: 'x.fake',
                output: { ftp: ftpParams({ port: 70000 }) } });
            H.expectError(res, 400, /output\[ftp\]\[port\]/);
        });

        it('input dropbox (outputs only) → 400 "not supported"', async function () {
            const proc = await api.process({ inputformat: 'fake', outputformat: 'txt' });
            const res = await api.start(proc, { input: { dropbox: { access_token: 't' } },
                file: 'x.fake' });
            H.expectError(res, 400, /input dropbox is not supported/);
        });

        it('output googledrive without access_token → 400 naming it', async function () {
            const proc = await api.process({ inputformat: 'fake', outputformat: 'txt' });
            const res = await api.start(proc, { input: 'raw', file: 'x', filename: 'x.fake',
                output: { googledrive: { folder_id: 'F' } } });
            H.expectError(res, 400, /output\[googledrive\]\[access_token\] is missing/);
        });
    });

    describe('the address guard (no --allow-private-urls)', function () {
        let guarded;

        before(async function () {
            guarded = await startServer({ workers: 1, args: FAKE });
        });

        after(async function () {
            if (guarded)
                await H.stopServer(guarded);
        });

        it('--allow-url HOST:PORT lets an operator\'s own store through', async function () {
            const port = new URL(swift.endpoint).port;
            const allowed = await startServer({ workers: 1, args: [...FAKE, '--allow-url',
                '127.0.0.1:' + port] });
            try {
                const g = H.api(allowed);
                const proc = await g.process({ inputformat: 'fake', outputformat: 'txt' });
                const res = await g.start(proc, { input: { s3: s3({ bucket: 'inbox' }) },
                    file: 'docs/hello one.fake', wait: true }, { timeout: 30000 });
                expect(res.status, show(res)).to.equal(200);
                expect(res.json().step).to.equal('finished');
            } finally {
                await H.stopServer(allowed);
            }
        });

        it('an S3 endpoint on 127.0.0.1 is refused: 422 "not allowed"', async function () {
            const g = H.api(guarded);
            const proc = await g.process({ inputformat: 'fake', outputformat: 'txt' });
            const res = await g.start(proc, { input: { s3: s3({ bucket: 'inbox' }) },
                file: 'docs/hello one.fake', wait: true }, { timeout: 30000 });
            expect(res.status, show(res)).to.equal(422);
            expect(res.json().message).to.match(/not allowed/);
        });
    });
});
