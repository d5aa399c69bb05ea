// SPDX-License-Identifier: MIT
// storage_email.test.js - email=true through the real server and a real SMTP sink on
// 127.0.0.1 (aiosmtpd, with AUTH): the key's address gets one short message when the process
// ends, with the download link when it finished and the reason when it failed.
'use strict';
const { expect } = require('chai');
const fs = require('fs');
const os = require('os');
const path = require('path');
const { startServer } = require('../lib/server');
const H = require('../lib/http');
const S = require('../lib/storage');

describe('email notification (email=true)', function () {
    this.timeout(60000);
    let dir;
    let smtp;
    let server;
    let api;

    before(async function () {
        if (!S.havePython('aiosmtpd')) {
            console.log('    skipped: python3-aiosmtpd is not installed (scripts/install-deps.sh ' +
                'installs it)');
            this.skip();
        }
        dir = fs.mkdtempSync(path.join(os.tmpdir(), 'convertd-email-'));
        smtp = await S.startSmtp(dir, ['relayuser', 'relay-pw-42']);
        server = await startServer({ workers: 1, args: ['--test-converters',
            '--smtp-url', 'smtp://127.0.0.1:' + smtp.port, '--smtp-user', 'relayuser',
            '--smtp-from', 'convertd@example.org'], env: { CONVERTD_SMTP_PASSWORD: 'relay-pw-42' } });
        api = H.api(server);
    });

    after(async function () {
        if (server)
            await H.stopServer(server);
        await S.stopFixture(smtp);
        if (dir)
            fs.rmSync(dir, { recursive: true, force: true });
    });

    async function waitForMessages(n) {
        const until = Date.now() + 15000;
        while (smtp.messages().length < n && Date.now() < until)
            await H.sleep(100);
        return smtp.messages();
    }

    async function run(options) {
        const proc = await api.process({ inputformat: 'fake', outputformat: 'txt' });
        const res = await api.start(proc, { input: 'raw', file: 'mail me', filename: 'm.fake',
            email: true, wait: true, converteroptions: options || {} }, { timeout: 30000 });
        return { proc, st: res.json() };
    }

    it('a finished process sends one message to the key\'s address with the download link', async function () {
        const before = smtp.messages().length;
        const { st } = await run();
        expect(st.step).to.equal('finished');
        const all = await waitForMessages(before + 1);
        expect(all.length).to.equal(before + 1);
        const m = all[all.length - 1];
        expect(m.envelope.from).to.equal('convertd@example.org');
        expect(m.envelope.to).to.deep.equal(['test@example.com']);
        expect(m.envelope.login).to.equal('relayuser');
        expect(m.raw).to.match(/^To: test@example\.com\r?$/m);
        expect(m.raw).to.match(new RegExp('^Subject: .*' + st.id + '.*finished', 'm'));
        expect(m.raw).to.include('Download: http:' + st.output.url);
        expect(m.raw).to.not.include('relay-pw-42');
    });

    it('a failed process says so, with the reason', async function () {
        const before = smtp.messages().length;
        const { st } = await run({ action: 'fail' });
        expect(st.step).to.equal('error');
        const all = await waitForMessages(before + 1);
        const m = all[all.length - 1];
        expect(m.raw).to.match(new RegExp('^Subject: .*' + st.id + '.*failed', 'm'));
        expect(m.raw).to.include(st.message);
        expect(m.raw).to.not.include('Download:');
    });

    it('without email=true nothing is sent', async function () {
        const before = smtp.messages().length;
        const proc = await api.process({ inputformat: 'fake', outputformat: 'txt' });
        const res = await api.start(proc, { input: 'raw', file: 'quiet', filename: 'q.fake',
            wait: true }, { timeout: 30000 });
        expect(res.json().step).to.equal('finished');
        await H.sleep(1500);
        expect(smtp.messages().length).to.equal(before);
    });

    it('the relay password does not appear in the server log', function () {
        expect(server.log()).to.not.include('relay-pw-42');
    });
});
