// SPDX-License-Identifier: MIT
// engine_diskfull.test.js - a full data folder (security.md section 9 fault tests): the
// conversion ends in a 422 error step, never 500 or a hang; earlier outputs stay downloadable;
// after DELETE frees space new jobs succeed without a restart. Data folder: an 8 MB tmpfs.
'use strict';
const { expect } = require('chai');
const fs = require('fs');
const path = require('path');
const U = require('../lib/safety_util');

const MB = 1024 * 1024;

describe('data folder full (security.md section 9)', function () {
    this.timeout(20000);
    let server;
    let api;
    let early;   // small finished process (save) from before the disk filled
    let filler;  // finished process whose files take ~6 MB
    let full;    // a conversion that runs out of space
    let fullMs;

    before(async function () {
        this.timeout(40000);
        server = await U.startTmpfsServer({ size: '8m', args: ['--test-converters'] });
        if (!server)
            this.skip(); // no user+mount namespaces on this machine
        api = new U.Api(server);

        early = await api.create({ inputformat: 'fake', outputformat: 'txt' });
        U.expectStatus(await api.start(early, { input: 'raw', file: 'early output', filename: 'e.fake',
            save: true, converteroptions: { percent_steps: 1 } }), 200);
        const e = await api.status(early, true);
        expect(e.json.step, U.describeRes(e)).to.equal('finished');

        // 1.5 MB input + 3 × 1.5 MB outputs, kept (save)
        filler = await api.create({ inputformat: 'fake', outputformat: 'txt' });
        U.expectStatus(await api.start(filler, { input: 'raw', file: 'f'.repeat(1.5 * MB), filename: 'f.fake',
            save: true, converteroptions: { files: 3, percent_steps: 1 } }), 200);
        const f = await api.status(filler, true);
        expect(f.json.step, U.describeRes(f)).to.equal('finished');

        // 20 × 200 KB = 4 MB of output into the ~2 MB left
        const t0 = Date.now();
        full = await runBig();
        fullMs = Date.now() - t0;
    });

    after(async function () {
        if (server) {
            await server.stop();
            server.cleanup();
        }
    });

    async function runBig() {
        const proc = await api.create({ inputformat: 'fake', outputformat: 'txt' });
        const start = await api.start(proc, { input: 'raw', file: 'b'.repeat(200 * 1024), filename: 'b.fake',
            converteroptions: { files: 20, percent_steps: 1 } });
        const fin = await api.status(proc, true, 15000).catch((e) => ({ status: 0, text: e.message }));
        return { proc, start, fin };
    }

    it('a conversion that runs out of space ends in error 422 (not 500, no hang: within 10 s)', function () {
        expect([200, 422], 'start: ' + U.describeRes(full.start)).to.include(full.start.status);
        expect(full.fin.status, U.describeRes(full.fin)).to.equal(422);
        expect(full.fin.json.step).to.equal('error');
        expect(full.fin.json.code).to.equal(422);
        expect(fullMs).to.be.below(10000);
    });

    it('its message says the space ran out', function () {
        expect(full.fin.json.message).to.match(/no space|space left|disk full|ENOSPC/i);
    });

    it('its partial outputs are deleted (SEC-22): no file left in its job folder\'s out/', function () {
        // the tmpfs is visible only inside the server's mount namespace: /proc/PID/root
        const jobDir = '/proc/' + server.proc.pid + '/root' + path.join(server.dataDir, 'jobs', full.proc.id);
        expect(fs.existsSync(path.dirname(jobDir)), 'jobs/ is visible through /proc/PID/root').to.equal(true);
        let left = [];
        try {
            left = fs.readdirSync(path.join(jobDir, 'out'));
        } catch (e) {
            expect(e.code).to.equal('ENOENT');
        }
        expect(left).to.deep.equal([]);
    });

    it('the server still answers status requests', async function () {
        const res = await api.status(early);
        expect(res.status).to.equal(200);
        expect(res.json.step).to.equal('finished');
    });

    it('earlier outputs stay downloadable and whole', async function () {
        const a = await U.request({ url: U.abs((await api.status(early)).json.output.url) });
        expect(a.status).to.equal(200);
        expect(a.text).to.equal('early output');
        const st = (await api.status(filler)).json;
        expect(st.output.files.length).to.equal(3);
        const one = await U.request({ url: U.abs(st.output.url) + '/' + encodeURIComponent(st.output.files[1]) });
        expect(one.status).to.equal(200);
        expect(one.body.length).to.equal(1.5 * MB);
    });

    it('after DELETE of the big process frees space, the same conversion succeeds without a restart', async function () {
        const pid = server.proc.pid;
        U.expectStatus(await api.del(filler), 200);
        const again = await runBig();
        expect(again.fin.status, U.describeRes(again.fin)).to.equal(200);
        expect(again.fin.json.step).to.equal('finished');
        expect(again.fin.json.output.files.length).to.equal(20);
        expect(server.proc.pid).to.equal(pid);
        expect(server.proc.exitCode).to.equal(null);
    });
});
