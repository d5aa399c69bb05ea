// SPDX-License-Identifier: MIT
// engine_expiry.test.js - lifetimes (SEC-28; contract: Lifetimes and restarts, Uploads): with
// --expire-seconds 2 finished and unstarted processes vanish with their files; --upload-timeout.
'use strict';
const { expect } = require('chai');
const fs = require('fs');
const path = require('path');
const { startServer } = require('../lib/server');
const U = require('../lib/safety_util');

describe('expiry (SEC-28, --expire-seconds 2, --upload-timeout 2)', function () {
    this.timeout(20000);
    let server;
    let api;

    before(async function () {
        this.timeout(30000);
        server = await startServer({ args: ['--test-converters', '--expire-seconds', '2',
            '--upload-timeout', '2'] });
        api = new U.Api(server);
    });

    after(async function () {
        if (server) {
            await server.stop();
            server.cleanup();
        }
    });

    describe('a finished process (save=true)', function () {
        let proc;
        let fin;
        let finishedAt;
        let jobDir;
        let earlyStatus;
        let earlyDir;
        const gone = {};

        before(async function () {
            this.timeout(20000);
            proc = await api.create({ inputformat: 'fake', outputformat: 'txt' });
            const start = await api.start(proc, { input: 'raw', file: 'keep me', filename: 'k.fake',
                save: true, converteroptions: { action: 'ok', percent_steps: 1 } });
            expect(start.status, U.describeRes(start)).to.equal(200);
            fin = await api.status(proc, true);
            finishedAt = Date.now();
            expect(fin.json.step).to.equal('finished');
            jobDir = path.join(server.dataDir, 'jobs', proc.id);
            earlyStatus = await api.status(proc);
            earlyDir = fs.existsSync(jobDir);
            const url = U.abs(fin.json.output.url);
            const deadline = finishedAt + 8000;
            while (Date.now() < deadline && !(gone.status && gone.download && gone.dir)) {
                if (!gone.status && (await api.status(proc)).status === 404)
                    gone.status = Date.now() - finishedAt;
                if (!gone.download && (await U.request({ url })).status === 404)
                    gone.download = Date.now() - finishedAt;
                if (!gone.dir && !fs.existsSync(jobDir))
                    gone.dir = Date.now() - finishedAt;
                await U.sleep(100);
            }
        });

        it('right after finishing it is still there (status 200, job folder exists)', function () {
            expect(earlyStatus.status).to.equal(200);
            expect(earlyDir, jobDir).to.equal(true);
        });

        it('the status answers 404 "Process not found" after ~2 s (within 6 s, not before 1.5 s)', async function () {
            expect(gone.status, 'ms after finish').to.be.a('number');
            expect(gone.status).to.be.within(1500, 6000);
            const res = await api.status(proc);
            expect(res.json).to.deep.equal({ error: 'Process not found', code: 404 });
        });

        it('the download answers 404 (within 6 s)', async function () {
            expect(gone.download, 'ms after finish').to.be.a('number');
            expect(gone.download).to.be.within(1500, 6000);
            const res = await U.request({ url: U.abs(fin.json.output.url) });
            expect(res.status).to.equal(404);
        });

        it('its job folder dataDir/jobs/ID is deleted (within 6 s)', function () {
            expect(gone.dir, 'ms after finish: ' + jobDir).to.be.a('number');
            expect(gone.dir).to.be.at.most(6000);
        });
    });

    describe('--upload-timeout 2', function () {
        let r;
        let ms;

        before(async function () {
            this.timeout(20000);
            const t0 = Date.now();
            const proc = await api.create({ inputformat: 'fake', outputformat: 'txt' });
            const start = await api.start(proc, { input: 'upload' });
            expect(start.status, U.describeRes(start)).to.equal(200);
            expect(start.json.step).to.equal('input');
            r = await api.status(proc, true, 15000);
            ms = Date.now() - t0;
        });

        it('a process still waiting for its upload fails with 422', function () {
            expect(r.status, U.describeRes(r)).to.equal(422);
            expect(r.json.step).to.equal('error');
            expect(r.json.code).to.equal(422);
        });

        it('the message is about the upload', function () {
            expect(r.json.message).to.match(/upload/i);
        });

        it('after about 2 s (within 1.5..8 s)', function () {
            expect(ms).to.be.within(1500, 8000);
        });
    });

    describe('an unstarted process', function () {
        let proc;
        let early;
        let goneAfter;

        before(async function () {
            this.timeout(20000);
            const t0 = Date.now();
            proc = await api.create({ inputformat: 'fake', outputformat: 'txt' });
            early = await api.status(proc);
            while (Date.now() - t0 < 8000) {
                if ((await api.status(proc)).status === 404) {
                    goneAfter = Date.now() - t0;
                    break;
                }
                await U.sleep(100);
            }
        });

        it('exists right after create', function () {
            expect(early.status, U.describeRes(early)).to.equal(200);
        });

        it('expires too: 404 after ~2 s (within 6 s)', function () {
            expect(goneAfter, 'ms after create').to.be.a('number');
            expect(goneAfter).to.be.within(1500, 6000);
        });
    });
});
