// SPDX-License-Identifier: MIT
// storage_cloud.test.js - outputs to Dropbox and Google Drive through the real server, against
// a stand-in of their upload APIs on 127.0.0.1 (tests/lib/cloudstub.py, reached through
// --dropbox-content-url and --gdrive-api-url).
'use strict';
const { expect } = require('chai');
const fs = require('fs');
const os = require('os');
const path = require('path');
const { startServer } = require('../lib/server');
const H = require('../lib/http');
const S = require('../lib/storage');
const { startCloud } = require('../lib/cloud');

const TOKEN = 'cloud-token-5e3f';

function show(res) {
    return res.status + ' ' + res.text().slice(0, 500);
}

describe('remote storage: Dropbox and Google Drive outputs', function () {
    this.timeout(60000);
    let dir;
    let cloud;
    let server;
    let api;

    before(async function () {
        dir = fs.mkdtempSync(path.join(os.tmpdir(), 'convertd-cloud-'));
        cloud = await startCloud(dir, TOKEN);
        server = await startServer({ workers: 1, args: ['--test-converters', '--allow-private-urls',
            '--dropbox-content-url', cloud.url, '--gdrive-api-url', cloud.url] });
        api = H.api(server);
    });

    after(async function () {
        if (server)
            await H.stopServer(server);
        await S.stopFixture(cloud);
        if (dir)
            fs.rmSync(dir, { recursive: true, force: true });
    });

    async function run(start, options) {
        const proc = await api.process({ inputformat: 'fake', outputformat: 'txt' });
        const res = await api.start(proc, Object.assign({ input: 'raw', wait: true,
            converteroptions: options || {} }, start), { timeout: 30000 });
        return { res, st: res.json() };
    }

    it('Dropbox, a folder path: the file lands under it; output.dropbox.path says where', async function () {
        const r = await run({ file: 'to dropbox', filename: 'note.fake',
            output: { dropbox: { access_token: TOKEN, path: '/reports/' } } });
        expect(r.res.status, show(r.res)).to.equal(200);
        expect(r.st.output.dropbox).to.deep.equal({ path: '/reports/note.txt' });
        expect(fs.readFileSync(path.join(dir, 'dropbox', 'reports', 'note.txt'), 'utf8'))
            .to.equal('to dropbox');
        expect(r.res.text()).to.not.include(TOKEN);
    });

    it('Dropbox, several files: each goes into the path as a folder', async function () {
        const r = await run({ file: 'many', filename: 'multi.fake',
            output: { dropbox: { access_token: TOKEN, path: '/batch' } } }, { files: 3 });
        expect(r.res.status, show(r.res)).to.equal(200);
        expect(r.st.output.dropbox.path).to.equal('/batch/');
        expect(fs.readdirSync(path.join(dir, 'dropbox', 'batch')).sort())
            .to.deep.equal(['multi-1.txt', 'multi-2.txt', 'multi-3.txt']);
    });

    it('Dropbox with a wrong token → 422 with the service\'s answer, without the token', async function () {
        const r = await run({ file: 'x', filename: 'x.fake',
            output: { dropbox: { access_token: 'wrong-token-77' } } });
        expect(r.res.status, show(r.res)).to.equal(422);
        expect(r.st.message).to.match(/^Dropbox: HTTP 401/);
        expect(r.res.text()).to.not.include('wrong-token-77');
    });

    it('Google Drive into a folder: output.googledrive.file_id names the new file', async function () {
        const r = await run({ file: 'to drive', filename: 'sheet.fake',
            output: { googledrive: { access_token: TOKEN, folder_id: 'folder-9' } } });
        expect(r.res.status, show(r.res)).to.equal(200);
        const id = r.st.output.googledrive.file_id;
        expect(id).to.be.a('string').and.not.equal('');
        expect(fs.readFileSync(path.join(dir, 'gdrive', id), 'utf8')).to.equal('to drive');
        const meta = JSON.parse(fs.readFileSync(path.join(dir, 'gdrive', id + '.json'), 'utf8'));
        expect(meta.name).to.equal('sheet.txt');
        expect(meta.parents).to.deep.equal(['folder-9']);
        expect(meta.mimeType).to.match(/^text\/plain/);
        expect(r.res.text()).to.not.include(TOKEN);
    });

    it('Google Drive with a wrong token → 422 "Google Drive: Invalid Credentials"', async function () {
        const r = await run({ file: 'x', filename: 'x.fake',
            output: { googledrive: { access_token: 'nope-token-3' } } });
        expect(r.res.status, show(r.res)).to.equal(422);
        expect(r.st.message).to.equal('Google Drive: Invalid Credentials');
        expect(r.res.text()).to.not.include('nope-token-3');
    });
});
