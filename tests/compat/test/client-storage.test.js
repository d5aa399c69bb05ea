// SPDX-License-Identifier: MIT
// client-storage.test.js - one S3 round trip through the official CloudConvert v1 Node.js
// client cloudconvert@1.1.2: input pulled from S3, output pushed to S3 (Swift with s3api on
// 127.0.0.1, which checks Signature V4), then read back with an independent signer.
'use strict';
const fs = require('fs');
const os = require('os');
const path = require('path');
const { expect } = require('chai');
const { startServer } = require('../../lib/server');
const { ClientGuard, clientCall: ok } = require('../../lib/compat-client');
const S = require('../../lib/storage');
const D = require('../../lib/docs');

const INPUT_PNG = path.join(path.dirname(require.resolve('cloudconvert/package.json')),
    'tests', 'integration', 'input.png');

describe('official client cloudconvert@1.1.2 with S3 input and output', function () {
    this.timeout(90000);
    const guard = new ClientGuard();
    let srv;
    let swift;
    let dir;
    let proc;

    before(async function () {
        if (!fs.existsSync('/usr/bin/swift-proxy-server')) {
            console.log('    skipped: Swift is not installed (scripts/install-deps.sh installs it)');
            this.skip();
        }
        guard.install();
        dir = fs.mkdtempSync(path.join(os.tmpdir(), 'convertd-client-s3-'));
        swift = await S.startSwift(path.join(dir, 'swift'));
        await swift.createBucket('client-in');
        await swift.createBucket('client-out');
        await swift.putObject('client-in', 'pictures/input.png', fs.readFileSync(INPUT_PNG));
        srv = await startServer({ args: ['--allow-private-urls'] });
        const creds = { accesskeyid: swift.accessKey, secretaccesskey: swift.secretKey,
            region: 'us-east-1', endpoint: swift.endpoint };
        proc = await ok((cb) => guard.api(srv, srv.apikey).convert({ inputformat: 'png',
            outputformat: 'jpg', input: { s3: Object.assign({ bucket: 'client-in' }, creds) },
            file: 'pictures/input.png',
            output: { s3: Object.assign({ bucket: 'client-out', path: 'converted/' }, creds) },
            wait: true }, cb));
    });

    after(async function () {
        await guard.release(5000);
        if (srv) {
            await srv.stop();
            srv.cleanup();
        }
        await S.stopFixture(swift);
        if (dir)
            fs.rmSync(dir, { recursive: true, force: true });
    });

    it('finishes; input type s3; output.s3 says where, without credentials', function () {
        expect(proc.data.step, proc.data.message).to.equal('finished');
        expect(proc.data.input.type).to.equal('s3');
        expect(proc.data.output.s3).to.deep.equal({ bucket: 'client-out', path: 'converted/input.jpg',
            region: 'us-east-1' });
        expect(JSON.stringify(proc.data)).to.not.include(swift.accessKey);
    });

    it('the object in the bucket is the converted JPEG of the same size', async function () {
        const buf = await swift.getObject('client-out', 'converted/input.jpg');
        expect(buf, 'object converted/input.jpg').to.not.equal(null);
        expect(D.isJpeg(buf)).to.equal(true);
        const src = D.imageHeader(fs.readFileSync(INPUT_PNG), 'input.png');
        const out = D.imageHeader(buf, 'input.jpg');
        expect([out.width, out.height]).to.deep.equal([src.width, src.height]);
    });
});
